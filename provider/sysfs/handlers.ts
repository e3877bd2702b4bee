import type * as dynamic from "@pulumi/pulumi/dynamic";
import type { z } from "zod";
import { CheckFailure, checkFailures, hostFailures, parseChecked, propertyPath, withoutEngineKeys } from "../check";
import { applyTransaction, linkedOwnFile } from "../host/files";
import { HostLedger, LedgerScope, LedgeredPlanner, ledgerDrift, ledgerStatus, ownLedgerFiles, planWithLedger, plannedOwnershipFailures, recordToRestore, recoveredRecord, startingRecord } from "../host/ledger";
import { withCreatedDirs } from "../host/restore";
import { applyEntryPoints, diffResource, persistenceDrifted, pickInputs, plainState } from "../lifecycle";
import { transportFor } from "../transport";
import { hostIdentity } from "../transport/connection";
import type { Transport } from "../transport/transport";
import { containsUnknown } from "../unknowns";
import {
    PathValues,
    SysfsPlan,
    SysfsRecord,
    assessPaths,
    liveValues,
    normaliseValue,
    pathsNowPresent,
    persistedStatus,
    planSysfs,
    planSysfsRestore,
    problemProperty,
    readBackWarnings,
    renderTmpfiles,
    sysfsDrift,
    sysfsItems,
} from "./plan";
import { SysfsSnapshot, readSysfs } from "./remote";
import { SYSFS_TMPFILES_KIND, SysfsBaseInputs, SysfsSetInputs, sysfsSetInputsSchema, tmpfilesPath } from "./schema";

/** Something the host cannot do as declared: the input at fault and why. */
export interface HostProblem {
    property: string;
    why: string;
}

/**
 * A resource made of sysfs attributes: SysfsSet itself, or a typed one (TransparentHugepages,
 * CpuWakeupLatency) that computes its paths and values from its own inputs and runs through the
 * same handlers.
 */
export interface SysfsKind<I extends SysfsBaseInputs> {
    /** Names the tmpfiles.d file (90-pulumi-<name>-<resource>.conf), so parts of one HostTuning do not collide. */
    name: string;
    /** Its ledgers' directory under /var/lib/pulumi-linux-tuning: one per resource class. */
    ledgerKind: string;
    schema: z.ZodType<I>;
    inputFields: readonly string[];
    /** Inputs whose change means an update. */
    fields: (keyof I & string)[];
    /** Path → value to write. */
    settings(inputs: I): PathValues;
    /** The input a path's value comes from, for messages. */
    property(inputs: I, path: string): string;
    /** The input the path itself comes from, where another: what a missing or read-only path is reported on. */
    pathProperty?(inputs: I, path: string): string;
    /** The input a refusal of paths another resource owns is reported on. */
    mainProperty(inputs: I): string;
    onMissing(inputs: I): "fail" | "skip";
    /** More to read with the paths, for hostProblems (the online CPUs). */
    extraReads?: readonly string[];
    hostProblems?(inputs: I, snapshot: SysfsSnapshot): HostProblem[];
    /** The inputs a refresh records: the live values in the declared inputs' shape, so `preview --refresh` diffs per input. */
    refreshed?(inputs: Record<string, unknown>, live: PathValues): Record<string, unknown>;
}

/** One failure per property, naming the host. */
function failuresOf(problems: HostProblem[], target: string): CheckFailure[] {
    const byProperty = new Map<string, string[]>();
    for (const p of problems) {
        byProperty.set(p.property, [...(byProperty.get(p.property) ?? []), p.why]);
    }
    return [...byProperty].map(([property, whys]) => ({ property, reason: `${target}: ${whys.join("; ")}` }));
}

export function sysfsHandlers<I extends SysfsBaseInputs>(kind: SysfsKind<I>) {
    const inputsOf = (props: Record<string, unknown>) => pickInputs(kind.inputFields, props);
    const parse = (props: Record<string, unknown>): I => parseChecked(kind.schema, inputsOf(props)) as I;
    const fileOf = (inputs: I) => tmpfilesPath(kind.name, inputs.resourceName);
    // The paths of the inputs and the record, and every file the record manages, so one it no longer keeps is put back.
    const reads = (inputs: I, record?: SysfsRecord) => [
        ...Object.keys(kind.settings(inputs)),
        ...Object.keys(record?.originals ?? {}),
        ...(kind.extraReads ?? []),
        fileOf(inputs),
        ...Object.keys(record?.managedFiles?.originals ?? {}),
    ];
    const desiredOf = (props: Record<string, unknown>) => (props.desired as PathValues) ?? {};
    const ownerOf = (inputs: I) => inputs.owner ?? inputs.resourceName;
    const ledgerScope = (inputs: I, ledgers: ReadonlyMap<string, HostLedger>, target: string): LedgerScope => ({ kind: kind.ledgerKind, owner: ownerOf(inputs), ledgers, target });

    /**
     * Reads the paths of the inputs and of state's record, and again with those of the resource's
     * own ledger when it names one not read yet: a run killed after the host changed but before the
     * engine saved state leaves paths only the ledger knows, whose originals must go back.
     */
    async function readWithLedgerPaths(transport: Transport, inputs: I, record: SysfsRecord | undefined, ownLedger: string | undefined) {
        const first = await readSysfs(transport, reads(inputs, record));
        const ledgered = ownLedger ? recoveredRecord<SysfsRecord>(first.ledgers, ownLedger) : undefined;
        const unread = [...Object.keys(ledgered?.originals ?? {}), ...Object.keys(ledgered?.managedFiles?.originals ?? {})].some((path) => !first.snapshot.has(path));
        return unread ? readSysfs(transport, reads(inputs, startingRecord(record, ledgered))) : first;
    }

    function recordOf(props: Record<string, unknown>): SysfsRecord {
        return {
            originals: (props.originals as PathValues) ?? {},
            skipped: (props.skipped as string[]) ?? [],
            persistedFile: props.persistedFile as string | undefined,
            managedFiles: props.managedFiles as SysfsRecord["managedFiles"],
            ledgerFile: props.ledgerFile as string | undefined,
        };
    }

    /** A symbolic link where the tmpfiles.d file goes: a write would go through it, or replace it, and delete would remove it. */
    const linkedFile = (inputs: I, links: ReadonlyMap<string, string>): HostProblem[] => {
        const why = linkedOwnFile(fileOf(inputs), links.get(fileOf(inputs)), inputs.persist);
        return why ? [{ property: "persist", why }] : [];
    };

    const namesFor = (inputs: I) => ({
        property: (path: string) => kind.property(inputs, path),
        pathProperty: kind.pathProperty ? (path: string) => kind.pathProperty!(inputs, path) : undefined,
    });

    /** The kind's own problems first and alone: CPUs the host lacks would otherwise fail again as each CPU's missing file. */
    const problemsOn = (inputs: I, snapshot: SysfsSnapshot, links: ReadonlyMap<string, string>): HostProblem[] => {
        const own = kind.hostProblems?.(inputs, snapshot) ?? [];
        if (own.length > 0) {
            return own;
        }
        const paths = assessPaths(kind.settings(inputs), snapshot, kind.onMissing(inputs)).problems.map((p) => ({ property: problemProperty(p, namesFor(inputs)), why: p.why }));
        return [...paths, ...linkedFile(inputs, links)];
    };

    function outputs(raw: Record<string, unknown>, inputs: I, record: SysfsRecord, desired: PathValues, snapshot: SysfsSnapshot, ledgerState: string, warnings: string[]) {
        return {
            ...inputsOf(raw),
            ...record,
            hostId: hostIdentity(inputs.connection),
            desired,
            live: liveValues(desired, snapshot),
            persistedFileStatus: persistedStatus(snapshot, record.persistedFile, renderTmpfiles(inputs.resourceName, desired)),
            ledgerStatus: ledgerState,
            warnings,
        };
    }

    const ledgerStatusOf = (record: SysfsRecord, ledgers: ReadonlyMap<string, HostLedger>, snapshot: SysfsSnapshot) =>
        ledgerStatus(ledgers, record.ledgerFile, record.originals, sysfsItems(record, snapshot));

    const planner = (inputs: I, snapshot: SysfsSnapshot, target: string): LedgeredPlanner<SysfsRecord, SysfsPlan> => ({
        plan: (start) => plan(inputs, snapshot, target, start),
        items: (record) => sysfsItems(record, snapshot),
    });

    /** Throws, naming the input and the host, when the host cannot take the values: nothing written. */
    function plan(inputs: I, snapshot: SysfsSnapshot, target: string, previous?: SysfsRecord) {
        return planSysfs(
            kind.settings(inputs),
            snapshot,
            {
                onMissing: kind.onMissing(inputs),
                persist: inputs.persist,
                restoreOnDelete: inputs.restoreOnDelete,
                resourceName: inputs.resourceName,
                tmpfilesFile: fileOf(inputs),
                target,
                ...namesFor(inputs),
            },
            previous,
        );
    }

    async function apply(raw: Record<string, unknown>, previous?: SysfsRecord) {
        const inputs = parse(raw);
        const transport = transportFor(inputs.connection);
        const { snapshot, links, ledgers } = await readWithLedgerPaths(transport, inputs, previous, ownLedgerFiles(kind.ledgerKind, ownerOf(inputs), previous)[0]);
        const problems = [...(kind.hostProblems?.(inputs, snapshot) ?? []), ...linkedFile(inputs, links)];
        if (problems.length > 0) {
            throw new Error(`${transport.target}: ${problems.map((p) => `${p.property}: ${p.why}`).join("; ")}. Nothing was changed.`);
        }
        const { plan: planned, ledger } = planWithLedger(ledgerScope(inputs, ledgers, transport.target), previous, planner(inputs, snapshot, transport.target));
        const warnings = [...planned.warnings];
        const describe = (path: string) => (path in planned.desired ? kind.property(inputs, path) : path);
        const outcome = await applyTransaction(transport, planned.writes, planned.files, { describe, ledger });
        if (planned.record.managedFiles) {
            planned.record.managedFiles = withCreatedDirs(planned.record.managedFiles, outcome.createdDirs);
        }
        for (const [path, content] of outcome.after) {
            snapshot.set(path, { kind: "file", writable: true, content });
        }
        for (const file of planned.files.write ?? []) {
            snapshot.set(file.path, { kind: "file", writable: true, content: file.content });
        }
        for (const path of planned.files.remove ?? []) {
            snapshot.set(path, { kind: "absent" });
        }
        warnings.push(...readBackWarnings(planned.desired, liveValues(Object.fromEntries(Object.entries(planned.desired).filter(([path]) => outcome.after.has(path))), snapshot), transport.target));
        warnings.forEach((w) => console.log(w));
        return outputs(raw, inputs, planned.record, planned.desired, snapshot, "in place", warnings);
    }

    /**
     * Validates the inputs, then reads the host (read-only) so a path it lacks or cannot write, a
     * word a selection file does not offer, or a path another resource owns fails in preview.
     */
    async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.CheckResult> {
        const raw = inputsOf(withoutEngineKeys(news));
        const failures = checkFailures(kind.schema, raw);
        if (failures.length > 0 || containsUnknown(raw)) {
            return { inputs: news, failures };
        }
        const inputs = parse(raw);
        const transport = transportFor(inputs.connection);
        const probed = await hostFailures(
            () => readSysfs(transport, reads(inputs)),
            ({ snapshot, links, ledgers }) => {
                const problems = failuresOf(problemsOn(inputs, snapshot, links), transport.target);
                if (problems.length > 0) {
                    return problems;
                }
                return plannedOwnershipFailures(ledgerScope(inputs, ledgers, transport.target), withoutEngineKeys(olds), planner(inputs, snapshot, transport.target), hostIdentity(inputs.connection), kind.mainProperty(inputs));
            },
        );
        return { inputs: news, failures: probed };
    }

    function fileDrift(record: SysfsRecord, status: string): string[] {
        return persistenceDrifted(status) ? [`${record.persistedFile} is ${status}`] : [];
    }

    async function probeDrift(olds: Record<string, unknown>, inputs: I): Promise<string[]> {
        const record = recordOf(olds);
        const desired = desiredOf(olds);
        const { snapshot, ledgers } = await readSysfs(transportFor(inputs.connection), reads(inputs, record));
        const status = persistedStatus(snapshot, record.persistedFile, renderTmpfiles(inputs.resourceName, desired));
        const present = pathsNowPresent(record, kind.settings(inputs), snapshot, kind.onMissing(inputs)).map((path) => `${path} skipped when applied, now on the host: not yet set`);
        return [...sysfsDrift(desired, liveValues(desired, snapshot)), ...present, ...fileDrift(record, status), ...ledgerDrift(ledgerStatusOf(record, ledgers, snapshot))];
    }

    async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.DiffResult> {
        return diffResource({
            olds,
            news: withoutEngineKeys(news),
            parse,
            fields: kind.fields,
            recordedDrift: () => sysfsDrift(desiredOf(olds), (olds.live as PathValues) ?? {}).length > 0 || fileDrift(recordOf(olds), olds.persistedFileStatus as string).length > 0,
            probe: (inputs) => probeDrift(olds, inputs),
        });
    }

    async function refresh(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> {
        const raw = withoutEngineKeys(props);
        const inputs = parse(raw);
        const record = recordOf(raw);
        const { snapshot, ledgers } = await readSysfs(transportFor(inputs.connection), reads(inputs, record));
        const state = outputs(raw, inputs, record, desiredOf(raw), snapshot, ledgerStatusOf(record, ledgers, snapshot), (raw.warnings as string[]) ?? []);
        const refreshed = kind.refreshed ? kind.refreshed(inputsOf(raw), state.live) : inputsOf(raw);
        return { id, props: plainState(state), inputs: plainState(refreshed) };
    }

    async function remove(_id: string, props: Record<string, unknown>): Promise<void> {
        const raw = withoutEngineKeys(props);
        const inputs = parse(raw);
        const transport = transportFor(inputs.connection);
        const inState = recordOf(raw);
        const { snapshot, ledgers } = await readWithLedgerPaths(transport, inputs, inState, inState.ledgerFile);
        const record = recordToRestore(inState, ledgers);
        const restore = planSysfsRestore(record, snapshot, inputs.restoreOnDelete, transport.target);
        restore.warnings.forEach((w) => console.log(w));
        if (restore.writes.length > 0 || Object.keys(restore.files).length > 0 || record.ledgerFile) {
            await applyTransaction(transport, restore.writes, restore.files, { ledger: record.ledgerFile ? { path: record.ledgerFile } : undefined });
        }
    }

    /** How the host differs from a recorded state, from a fresh read (empty: as declared). */
    const liveDrift = (props: Record<string, unknown>) => probeDrift(withoutEngineKeys(props), parse(withoutEngineKeys(props)));

    return { check, diff, remove, liveDrift, ...applyEntryPoints(apply, recordOf, ["resourceName"], refresh) };
}

const settingProperty = (path: string) => propertyPath(["settings", path]);

export const sysfsSetKind: SysfsKind<SysfsSetInputs> = {
    name: SYSFS_TMPFILES_KIND,
    ledgerKind: "sysfs",
    schema: sysfsSetInputsSchema,
    inputFields: ["connection", "settings", "onMissing", "persist", "restoreOnDelete", "resourceName", "owner"],
    fields: ["settings", "onMissing", "persist", "restoreOnDelete"],
    settings: (inputs) => Object.fromEntries(Object.entries(inputs.settings).map(([path, value]) => [path, normaliseValue(value)])),
    property: (_inputs, path) => settingProperty(path),
    mainProperty: () => "settings",
    onMissing: (inputs) => inputs.onMissing,
    // A declared value the host still holds keeps its declared form (16, not "16").
    refreshed: (inputs, live) => {
        const declared = (inputs.settings as Record<string, string | number>) ?? {};
        const settings = Object.fromEntries(
            Object.entries(declared).map(([path, value]) => [path, live[path] === undefined || live[path] === normaliseValue(value) ? value : live[path]]),
        );
        return { ...inputs, settings };
    },
};

export const { check, diff, create, update, read, remove, liveDrift } = sysfsHandlers(sysfsSetKind);
