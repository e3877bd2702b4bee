import type * as dynamic from "@pulumi/pulumi/dynamic";
import { checkFailures, parseChecked, unreadHostFailures, withoutEngineKeys } from "../check";
import { transportFor } from "../transport";
import { hostIdentity } from "../transport/connection";
import { applyEntryPoints, diffResource, keepingName, persistenceDrifted, pickInputs, plainState } from "../lifecycle";
import { containsUnknown } from "../unknowns";
import { canonicalKey, procPath, shownValue } from "./keys";
import { claimInRun, inThisProgram, ledgerDrift, ledgerHoldsMore } from "../host/ledger";
import { LEDGER_KIND } from "./ledger";
import { ManagedFiles, withCreatedDirs } from "../host/restore";
import { missingModules, moduleNeeds, moduleProbeKeys } from "./modules";
import { netnsProbeKeys, restrictedCongestionControl } from "./netns";
import { portRangeProbeKeys, rangeBelowUnprivileged } from "./port-range";
import { memoryBeyondHost, pageCountedProbeKeys } from "./page-counted";
import { declaresCpuMask, masksBeyondHost } from "./cpu-masks";
import { SysctlSetRecord, describeDrift, detectDrift, filesToRead, keysToRead, ledgerBeyond, ledgerOnlyItems, liveSettings, ownLedgerPath, ownerOf, ownershipConflicts, persistFileProblem, planApply, planRestore, skipsMissing, sysctlRecordToRestore, unwritableKeys, writebackPartner } from "./plan";
import { HostReads, HostSnapshot, applyToHost, readHost } from "./remote";
import { SysctlSetInputs, persistFileOf, sysctlSetInputsSchema } from "./schema";
import { SettingValue, isBound, normalise, satisfies, sameValue } from "./values";

/**
 * SysctlSet's provider implementation. It runs in the dynamic-provider process, loaded by the
 * thin provider object in resource.ts from the installed package.
 */

const INPUT_FIELDS = ["connection", "settings", "persist", "persistFile", "onMissing", "requiredKeys", "restoreOnDelete", "takeOver", "resourceName", "owner", "modules"] as const;

type PersistedFileStatus = "in place" | "missing" | "edited" | "not persisted";

export interface SysctlSetState extends SysctlSetRecord {
    hostId: string;
    settings: Record<string, SettingValue>;
    persistedContent?: string;
    persistedFileStatus: PersistedFileStatus;
    warnings: string[];
}

const inputsOf = (props: Record<string, unknown>) => pickInputs(INPUT_FIELDS, props);

function parse(props: Record<string, unknown>): SysctlSetInputs {
    return parseChecked(sysctlSetInputsSchema, inputsOf(props));
}

export function recordOf(props: Record<string, unknown>): SysctlSetRecord {
    return {
        originals: (props.originals as Record<string, string>) ?? {},
        skipped: (props.skipped as string[]) ?? [],
        ledgerFile: props.ledgerFile as string | undefined,
        persistedFile: props.persistedFile as string | undefined,
        managedFiles: props.managedFiles as ManagedFiles | undefined,
    };
}

function target(inputs: SysctlSetInputs) {
    return transportFor(inputs.connection);
}

function fileStatus(inputs: SysctlSetInputs, snapshot: HostSnapshot, persistedContent: string | undefined): PersistedFileStatus {
    if (!inputs.persist) {
        return "not persisted";
    }
    if (snapshot.ownFile === null || snapshot.ownFile === undefined) {
        return "missing";
    }
    return snapshot.ownFile === persistedContent ? "in place" : "edited";
}

function outputs(
    raw: Record<string, unknown>,
    inputs: SysctlSetInputs,
    record: SysctlSetRecord,
    snapshot: HostSnapshot,
    persistedContent: string | undefined,
    warnings: string[],
): Record<string, unknown> & SysctlSetState {
    return {
        ...inputsOf(raw),
        ...record,
        hostId: hostIdentity(inputs.connection),
        settings: liveSettings(inputs, snapshot),
        persistedContent,
        persistedFileStatus: fileStatus(inputs, snapshot, persistedContent),
        warnings,
    };
}

/** The snapshot after an apply: read-back values replace what was read before. */
function afterApply(before: HostSnapshot, readBack: Map<string, string>, ownFile: string | null | undefined): HostSnapshot {
    const values = new Map(before.values);
    for (const [key, value] of readBack) {
        values.set(key, { state: "value", value });
    }
    return { ...before, values, ownFile };
}

async function apply(raw: Record<string, unknown>, previous?: SysctlSetRecord) {
    const inputs = parse(raw);
    const transport = target(inputs);
    const first = await readHost(transport, keysToRead(inputs, previous), filesToRead(inputs, previous));
    // Keys only its ledger knows (an update killed before the engine saved it) were not read yet.
    const ledgerOnly = Object.keys(first.ledgers.get(ownLedgerPath(inputs, previous))?.originals ?? {}).filter((key) => !first.values.has(key));
    const snapshot = ledgerOnly.length > 0 ? await readHost(transport, [...keysToRead(inputs, previous), ...ledgerOnly], filesToRead(inputs, previous)) : first;
    const plan = planApply(inputs, snapshot, transport.target, previous);
    for (const warning of plan.warnings) {
        console.log(warning);
    }
    const outcome = await applyToHost(transport, plan.writes, plan.file, plan.ledger);
    if (plan.record.managedFiles) {
        plan.record.managedFiles = withCreatedDirs(plan.record.managedFiles, outcome.createdDirs);
    }
    // The ledger was just written with these originals.
    snapshot.ledgers.set(plan.ledger.path, { owner: ownerOf(inputs), originals: plan.record.originals, files: plan.record.managedFiles?.originals, createdDirs: plan.record.managedFiles?.createdDirs });
    const ownFile = plan.persistedContent;
    const after = afterApply(snapshot, outcome.readBack, ownFile);
    for (const write of plan.writes) {
        const readBack = outcome.readBack.get(write.key);
        if (readBack !== undefined && !sameValue(readBack, write.value)) {
            const warning = `${transport.target}: the kernel stored ${write.key} = ${shownValue(write.key, readBack)} when asked for ${shownValue(write.key, write.value)}`;
            console.log(warning);
            plan.warnings.push(warning);
        }
    }
    const persistedContent = inputs.persist ? (ownFile ?? undefined) : undefined;
    return { ...outputs(raw, inputs, plan.record, after, persistedContent, plan.warnings), ledgerStatus: ledgerStatus(plan.record, after) };
}

/**
 * Besides the grammar: a key another SysctlSet declares for the same host in this run, or (for a
 * new resource, read-only on the host) one another SysctlSet's ledger holds, fails here naming
 * the owner. An existing resource's ownership is checked again under the host's ledger lock at
 * apply.
 */
export const check = (olds: Record<string, unknown>, news: Record<string, unknown>) => checkSysctls(olds, news, true);

/**
 * For an existing resource, the keys an update adds are read as a new resource's are. `withDrift`:
 * read every key here and put what drifted into the inputs
 * (`liveDrift`), so every preview mode names the drifted key — `pulumi preview --diff` shows input
 * changes but drops the provider's own output — and diff uses it instead of reading again.
 */
export async function checkSysctls(olds: Record<string, unknown>, rawNews: Record<string, unknown>, withDrift: boolean): Promise<dynamic.CheckResult> {
    // A resource renamed through aliases keeps, in the inputs the engine stores too, the name its
    // host files were written under: every later check reads those files, not the new name's.
    const news = Object.keys(olds).length > 0 ? keepingName(olds, rawNews) : rawNews;
    const raw = inputsOf(withoutEngineKeys(news));
    const failures = checkFailures(sysctlSetInputsSchema, raw);
    if (failures.length > 0 || containsUnknown(raw)) {
        return { inputs: news, failures };
    }
    const inputs = parse(raw);
    const host = hostIdentity(inputs.connection);
    const transport = target(inputs);
    const claimant = { kind: LEDGER_KIND, owner: ownerOf(inputs) };
    for (const key of Object.keys(inputs.settings)) {
        // Claimed by its /proc/sys file, as every other kind names it (PacketSteering's RFS table size).
        const holder = claimInRun(host, `/proc/sys/${procPath(canonicalKey(key))}`, claimant);
        // takeOver moves a key from a ledger on the host, not from a resource of this program, which would take it back at its next up.
        if (holder !== undefined) {
            failures.push({ property: `settings[${JSON.stringify(key)}]`, reason: `${transport.target}: ${canonicalKey(key)} is also declared by ${inThisProgram(holder)}; one owner per key` });
            continue;
        }
        // The kernel keeps dirty_ratio and dirty_bytes as one limit: two resources would zero each other's.
        const partner = writebackPartner(canonicalKey(key));
        const pairHolder = partner && claimInRun(host, `writeback:${[canonicalKey(key), partner].sort().join("+")}`, claimant);
        if (pairHolder) {
            failures.push({
                property: `settings[${JSON.stringify(key)}]`,
                reason: `${transport.target}: writing ${canonicalKey(key)} sets ${partner} to 0 (the kernel keeps one of the two), and ${inThisProgram(pairHolder)} declares the pair too; declare both in one SysctlSet`,
            });
        }
    }
    const persistFile = inputs.persist ? persistFileOf(inputs) : undefined;
    const fileHolder = persistFile && claimInRun(host, persistFile, claimant);
    if (fileHolder) {
        failures.push({ property: "persistFile", reason: `${transport.target}: ${persistFile} is also the persistence file of ${inThisProgram(fileHolder)}; one SysctlSet per file` });
    }
    const needsModules = (snapshot: HostSnapshot) => missingModules(moduleNeeds(inputs.settings, snapshot), inputs.modules ?? [], (key) => skipsMissing(inputs, key), transport.target);
    // What the host needs to judge: modules, and what its network namespace lets `judged` (the settings this operation writes) set.
    const probeKeys = (judged: Record<string, SettingValue>) => [...moduleProbeKeys(inputs.settings), ...netnsProbeKeys(judged), ...portRangeProbeKeys(judged), ...pageCountedProbeKeys(judged)];
    const refusedByHost = (snapshot: HostSnapshot, judged: Record<string, SettingValue>) => [
        ...needsModules(snapshot),
        ...restrictedCongestionControl(judged, snapshot, transport.target),
        ...rangeBelowUnprivileged(judged, snapshot, transport.target),
        ...masksBeyondHost(judged, snapshot, transport.target),
        ...memoryBeyondHost(judged, snapshot, transport.target),
    ];
    // Keys the host lacks or will not let be written, but for those whose absence the module check judges.
    const unwritable = (declared: SysctlSetInputs, snapshot: HostSnapshot) =>
        unwritableKeys(declared, snapshot, transport.target, new Set(moduleNeeds(inputs.settings, snapshot).filter((need) => need.what === "the key").map((need) => need.key)));
    if (failures.length === 0 && Object.keys(olds).length === 0) {
        try {
            // One read: the declared keys (one missing or read-only fails here as it would at apply),
            // and those that tell whether a needed kernel module is there.
            const snapshot = await readHost(transport, [...new Set([...keysToRead(inputs), ...probeKeys(inputs.settings)])], persistFile ? [persistFile] : []);
            for (const conflict of ownershipConflicts(inputs, snapshot)) {
                failures.push({ property: "settings", reason: `${transport.target}: ${conflict}` });
            }
            const fileProblem = persistFileProblem(inputs, snapshot);
            if (fileProblem) {
                failures.push({ property: "persistFile", reason: `${transport.target}: ${fileProblem}` });
            }
            failures.push(...refusedByHost(snapshot, inputs.settings), ...unwritable(inputs, snapshot));
        } catch (e) {
            // Unreachable now: create will connect, and the apply program checks ownership again.
            failures.push(...unreadHostFailures(e));
        }
    }
    if (failures.length === 0 && Object.keys(olds).length > 0) {
        // A key this update adds is judged as at create; one that was there and vanished is drift.
        const recorded = new Map(Object.entries((olds.settings as Record<string, SettingValue> | undefined) ?? {}).map(([key, value]) => [canonicalKey(key), value]));
        const added = { ...inputs, settings: Object.fromEntries(Object.entries(inputs.settings).filter(([key]) => !recorded.has(canonicalKey(key)))) };
        const changed = Object.fromEntries(Object.entries(inputs.settings).filter(([key, value]) => JSON.stringify(recorded.get(canonicalKey(key))) !== JSON.stringify(value)));
        try {
            if (!withDrift) {
                // A changed value can need a module (bbr into tcp_allowed_congestion_control) or a namespace's leave.
                if (Object.keys(added.settings).length === 0 && moduleProbeKeys(changed).length === 0 && netnsProbeKeys(changed).length === 0 && portRangeProbeKeys(changed).length === 0 && pageCountedProbeKeys(changed).length === 0 && !declaresCpuMask(changed)) {
                    return { inputs: news, failures };
                }
                const snapshot = await readHost(transport, [...new Set([...keysToRead(added), ...probeKeys(changed)])], [], "reuse");
                return { inputs: news, failures: [...refusedByHost(snapshot, changed), ...unwritable(added, snapshot)] };
            }
            const snapshot = await readHost(transport, [...new Set([...keysToRead(inputs), ...probeKeys(changed)])], filesToRead(inputs), "reuse");
            const absent = [...snapshot.values].filter(([, live]) => live.state !== "value").map(([key]) => key);
            const onlyInLedger = ledgerOnlyItems(snapshot.ledgers, inputsOf(withoutEngineKeys(olds)), inputs);
            const liveDrift = [
                ...describeDrift(detectDrift(inputs, snapshot, absent.filter((key) => skipsMissing(inputs, key)))),
                ...(onlyInLedger ? [ledgerHoldsMore(onlyInLedger.file, onlyInLedger.items)] : []),
            ];
            return { inputs: { ...news, liveDrift }, failures: [...refusedByHost(snapshot, changed), ...unwritable(added, snapshot)] };
        } catch (e) {
            // Unreachable now: diff reads again and says so.
            return { inputs: news, failures: unreadHostFailures(e) };
        }
    }
    return { inputs: news, failures };
}

/** Whether a recorded value (live, in declared shape) still meets what is now declared. */
function settingMet(desired: SettingValue, recorded: SettingValue | undefined): boolean {
    if (recorded === undefined) {
        return false;
    }
    if (isBound(recorded)) {
        return JSON.stringify(recorded) === JSON.stringify(desired);
    }
    return satisfies(desired, normalise(recorded));
}

/** Declared settings the recorded (live, after refresh) values do not meet, and keys dropped or added. */
function settingsChanged(olds: Record<string, unknown>, inputs: SysctlSetInputs): boolean {
    const oldSettings = (olds.settings as Record<string, SettingValue>) ?? {};
    const recorded = new Map(Object.entries(oldSettings).map(([k, v]) => [canonicalKey(k), v]));
    const declared = Object.entries(inputs.settings);
    return declared.length !== recorded.size || declared.some(([key, desired]) => !settingMet(desired, recorded.get(canonicalKey(key))));
}

export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.DiffResult> {
    return diffResource({
        olds,
        news: withoutEngineKeys(news),
        parse,
        fields: ["persist", "persistFile", "onMissing", "requiredKeys", "restoreOnDelete", "takeOver"],
        recordedDrift: (inputs) => settingsChanged(olds, inputs) || persistenceDrifted(olds.persistedFileStatus),
        probe: Array.isArray(news.liveDrift) ? async () => news.liveDrift as string[] : (inputs) => probeDrift(olds, inputs),
    });
}

async function probeDrift(olds: Record<string, unknown>, inputs: SysctlSetInputs, reads: HostReads = "reuse"): Promise<string[]> {
    const snapshot = await readHost(target(inputs), keysToRead(inputs), filesToRead(inputs), reads);
    return [...describeDrift(detectDrift(inputs, snapshot, recordOf(olds).skipped)), ...ledgerDrift(ledgerStatus(recordOf(olds), snapshot))];
}

/** How the host differs from a recorded state (empty: as declared), from a fresh read unless `reuse`. */
export const liveDrift = (props: Record<string, unknown>, reads: HostReads = "fresh") => probeDrift(withoutEngineKeys(props), parse(withoutEngineKeys(props)), reads);

export const { create, update, read } = applyEntryPoints(apply, recordOf, ["resourceName"], refresh);

/** Whether the host's ledger still holds what state says this resource changed. */
export function ledgerStatus(record: SysctlSetRecord, snapshot: HostSnapshot): string {
    if (!record.ledgerFile) {
        return "none (created before ledgers)";
    }
    const ledger = snapshot.ledgers.get(record.ledgerFile);
    if (!ledger) {
        return `missing: ${record.ledgerFile}`;
    }
    const differing = Object.entries(record.originals).filter(([key, value]) => key in ledger.originals && ledger.originals[key] !== value);
    const taken = Object.keys(record.originals).filter((key) => !(key in ledger.originals));
    const onlyInLedger = ledgerBeyond(ledger, Object.keys(record.originals), Object.keys(record.managedFiles?.originals ?? {}));
    if (onlyInLedger.length > 0) {
        return ledgerHoldsMore(record.ledgerFile, onlyInLedger);
    }
    if (differing.length === 0 && taken.length === 0) {
        return "in place";
    }
    return [differing.length > 0 && `originals differ for ${differing.map(([k]) => k).join(", ")}`, taken.length > 0 && `taken over by another SysctlSet: ${taken.join(", ")}`].filter(Boolean).join("; ");
}

async function refresh(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const record = recordOf(raw);
    const transport = target(inputs);
    const snapshot = await readHost(transport, [...keysToRead(inputs), ...moduleProbeKeys(inputs.settings)], record.persistedFile ? [record.persistedFile] : [], "remember");
    const persistedContent = raw.persistedContent as string | undefined;
    const live = { ...outputs(raw, inputs, record, snapshot, persistedContent, (raw.warnings as string[]) ?? []), ledgerStatus: ledgerStatus(record, snapshot) };
    return { id, props: plainState(live), inputs: plainState({ ...inputsOf(raw), settings: live.settings }) };
}

export async function remove(_id: string, props: Record<string, unknown>): Promise<void> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const transport = target(inputs);
    const stateRecord = recordOf(raw);
    const first = await readHost(transport, Object.keys(stateRecord.originals), filesToRead(undefined, stateRecord));
    const record = sysctlRecordToRestore(stateRecord, first.ledgers);
    // Keys or files only the ledger knows (an update killed before the engine saved it) were not read yet.
    const unread = Object.keys(record.originals).some((key) => !first.values.has(key)) || filesToRead(undefined, record).some((path) => !first.ownPaths.has(path));
    const snapshot = unread ? await readHost(transport, Object.keys(record.originals), filesToRead(undefined, record)) : first;
    const plan = planRestore(record, snapshot, inputs.restoreOnDelete, transport.target);
    plan.warnings.forEach((warning) => console.log(warning));
    await applyToHost(transport, plan.writes, plan.file, plan.ledger);
}
