import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime";
import { verifyParts } from "../../provider/host-tuning/handlers";
import { partResourceName } from "../../provider/host-tuning/plan";
import { APPLIED, PART_ORDER, PartName, PartRecords } from "../../provider/host-tuning/schema";
import { canonicalKey, keyFromConfLine, shownValue } from "../../provider/sysctl/keys";
import { ledgerDrift } from "../../provider/host/ledger";
import { samePathContent } from "../../provider/host/restore";
import { ledgerStatus, recordOf } from "../../provider/sysctl/handlers";
import { SysctlSetRecord, describeDesired, detectDrift, filesToRead, keysToRead, managedFilesOf, skipsMissing, writebackCompanions } from "../../provider/sysctl/plan";
import { HostSnapshot, readHost } from "../../provider/sysctl/remote";
import { SysctlSetInputs, persistFileOf, sysctlSetInputsSchema } from "../../provider/sysctl/schema";
import { normalise, satisfies } from "../../provider/sysctl/values";
import { connectionSchema, describeTarget } from "../../provider/transport/connection";
import { transportFor } from "../../provider/transport";
import { planHosts } from "./assign";
import { FleetConfig, FleetKey, InventoryHost, connectionFields, readPrivateKey } from "./inventory";

/** The default program's fleet resource name: it names the files each host part owns. */
export const FLEET_NAME = "fleet";

/** One host × key line of the drift report. */
export interface DriftRow {
    host: string;
    key: string;
    desired: string;
    live: string;
    /** The value in the host's sysctl.d file written by this fleet, or "absent". */
    persisted: string;
    status: "ok" | "drifted" | "skipped" | "unreachable";
}

export interface DriftReport {
    stacks: string[];
    rows: DriftRow[];
    drifted: number;
}

const NOT_PERSISTED = "";

/** `key = value` lines of a sysctl.d file, by canonical key. */
export function persistedValues(content: string | null | undefined): Map<string, string> {
    const values = new Map<string, string>();
    for (const line of (content ?? "").split("\n")) {
        const match = /^\s*([^#;=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(line);
        if (match) {
            values.set(canonicalKey(keyFromConfLine(match[1])), match[2]);
        }
    }
    return values;
}

/**
 * One host's sysctls, judged as the provider judges them (`detectDrift`): desired vs live vs
 * persisted per declared key; a key the last rollout set that the config no longer declares (the
 * next `up` restores its original); the host's ledger no longer holding the originals state
 * recorded; the fleet's sysctl.d file not as `up` would write it. A key the host
 * lacks is `skipped` where the provider skips it: under `missingKeys: skip`, when it was already
 * missing at the rollout (`recorded`, the part as state holds it) or no rollout has been.
 */
export function sysctlRows(host: string, declared: SysctlSetInputs, snapshot: HostSnapshot, recorded?: SysctlSetRecord): DriftRow[] {
    // The engine hands a provider an object's keys sorted (it marshals properties in stable order), so the file was written in that order.
    const asDelivered = { ...declared, settings: Object.fromEntries(Object.entries(declared.settings).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
    const { values, file } = detectDrift(asDelivered, snapshot, recorded?.skipped ?? []);
    const drifted = new Set(values.map((d) => d.key));
    const persisted = persistedValues(snapshot.ownFile);
    const liveOf = (key: string) => {
        const live = snapshot.values.get(key);
        return live?.state === "value" ? shownValue(key, normalise(live.value)) : (live?.state ?? "missing");
    };
    const persistedOf = (key: string) => {
        const inFile = persisted.get(key);
        return inFile === undefined ? "absent" : shownValue(key, inFile);
    };
    const rows: DriftRow[] = Object.entries(declared.settings).map(([key, desired]) => {
        const canonical = canonicalKey(key);
        const live = snapshot.values.get(canonical);
        const inFile = persisted.get(canonical);
        const row = { host, key: canonical, desired: shownValue(canonical, describeDesired(desired)), live: liveOf(canonical), persisted: persistedOf(canonical) };
        if (live?.state !== "value") {
            // Skipped only where `up` skips it: a key the host has but will not let be read (stable_secret unset: EIO) fails `up`, skipped or not.
            const skippable = live?.state !== "unreadable" && skipsMissing(declared, canonical);
            return { ...row, status: drifted.has(canonical) && (recorded !== undefined || !skippable) ? "drifted" : "skipped" };
        }
        const fileOk = !declared.persist || (inFile !== undefined && satisfies(desired, inFile));
        return { ...row, status: !drifted.has(canonical) && fileOk ? "ok" : "drifted" };
    });
    // A writeback partner (vm.dirty_ratio beside a declared vm.dirty_bytes) has its original kept, not declared: the kernel zeroes it as the declared key is written.
    const keptBeside = new Set([...rows.map((r) => r.key), ...writebackCompanions(declared)]);
    for (const [key, original] of Object.entries(recorded?.originals ?? {})) {
        if (!keptBeside.has(key)) {
            rows.push({ host, key, desired: `not declared: restore ${shownValue(key, original)}`, live: liveOf(key), persisted: persistedOf(key), status: "drifted" });
        }
    }
    // As the provider's refresh: the host's ledger must still hold the originals the rollout recorded.
    for (const line of recorded ? ledgerDrift(ledgerStatus(recorded, snapshot)) : []) {
        rows.push({ host, key: "(ledger)", desired: "the originals the rollout recorded", live: line, persisted: NOT_PERSISTED, status: "drifted" });
    }
    if (file) {
        // Edited on the host or declared differently since: either way the next `up` rewrites it.
        rows.push({ host, key: persistFileOf(declared), desired: "as the declared settings write it", live: snapshot.ownFile === null ? "missing" : "different", persisted: NOT_PERSISTED, status: "drifted" });
    }
    // A file the rollout wrote that the config no longer keeps (persist turned off, another
    // persistFile): it still sets its values at every boot until the next `up` puts it back.
    const kept = declared.persist ? persistFileOf(declared) : undefined;
    for (const [path, original] of Object.entries(managedFilesOf(recorded)?.originals ?? {})) {
        const now = snapshot.ownPaths.get(path);
        if (path !== kept && now && !samePathContent(now, original)) {
            const desired = original.kind === "absent" ? "absent: the config no longer persists here" : "as it was before the rollout";
            rows.push({ host, key: path, desired, live: now.kind === "absent" ? "absent" : "written by the rollout", persisted: NOT_PERSISTED, status: "drifted" });
        }
    }
    return rows;
}

/** One host as the last rollout left it in state: its parts, and `applied` or `failed: why` or `not attempted`. */
export interface RecordedHost {
    parts: PartRecords;
    status?: string;
}

/**
 * An output as `pulumi stack export --show-secrets` holds it, with a secret's envelope opened: a
 * host declaring a secret sysctl key has its `parts` kept secret, as `{ <signature>, plaintext: "<JSON>" }`.
 */
export function revealed(value: unknown): unknown {
    const envelope = value as Record<string, unknown> | null;
    if (typeof envelope === "object" && envelope !== null && envelope[specialSigKey] === specialSecretSig) {
        if (typeof envelope.plaintext !== "string") {
            throw new Error("the exported stack holds a secret without its plaintext: export it with --show-secrets");
        }
        return JSON.parse(envelope.plaintext);
    }
    return value;
}

/** What an exported stack recorded for each host: the default program's HostTunings, by host name. */
export function recordedHosts(deployment: { resources?: { type: string; outputs?: Record<string, unknown> }[] }): Map<string, RecordedHost> {
    const byHost = new Map<string, RecordedHost>();
    const prefix = `${FLEET_NAME}-`;
    for (const resource of deployment.resources ?? []) {
        const name = revealed(resource.outputs?.resourceName);
        if (resource.type.endsWith(":HostTuning") && typeof name === "string" && name.startsWith(prefix)) {
            const status = revealed(resource.outputs?.status);
            byHost.set(name.slice(prefix.length), { parts: (revealed(resource.outputs?.parts) as PartRecords | undefined) ?? {}, ...(typeof status === "string" ? { status } : {}) });
        }
    }
    return byHost;
}

/**
 * The host's parts, judged against what the last rollout applied (state): one row per drifted item
 * (`nic: eth1 rx`, live 512, desired 4096), one `ok` row per part as applied, and a part declared
 * but not applied (or applied, no longer declared) as drifted. Declared sysctls are sysctlRows'.
 * `drift` holds the lines of a fresh read (`verifyParts`), each `<part>: <what differs>`;
 * `unreadable`, why a part's read failed.
 */
export function partRows(host: string, declared: readonly PartName[], recorded: PartRecords, drift: readonly string[], unreadable: Partial<Record<PartName, string>> = {}): DriftRow[] {
    const rows: DriftRow[] = [];
    for (const part of PART_ORDER) {
        // Declared sysctls are judged key by key (sysctlRows), applied or not.
        if ((part === "sysctls" && declared.includes(part)) || (!declared.includes(part) && !recorded[part])) {
            continue;
        }
        const row = { host, key: part, persisted: NOT_PERSISTED };
        if (!recorded[part]) {
            rows.push({ ...row, desired: "declared", live: "not applied", status: "drifted" });
            continue;
        }
        if (!declared.includes(part)) {
            rows.push({ ...row, desired: "not declared", live: "applied", status: "drifted" });
            continue;
        }
        if (unreadable[part] !== undefined) {
            rows.push({ ...row, desired: "as applied", live: `could not read: ${unreadable[part]}`, status: "drifted" });
            continue;
        }
        const lines = drift.filter((line) => line.startsWith(`${part}: `)).map((line) => line.slice(part.length + 2));
        if (lines.length === 0) {
            rows.push({ ...row, desired: "as applied", live: "as applied", status: "ok" });
        }
        for (const line of lines) {
            const item = /^(.+?) live (.+), desired (.+)$/.exec(line);
            rows.push(item ? { ...row, key: `${part}: ${item[1]}`, live: item[2], desired: item[3], status: "drifted" } : { ...row, live: line, desired: "as applied", status: "drifted" });
        }
    }
    return rows;
}

/** The connection a host gets from the config, with the key read (for commands outside the engine). */
export function connectionFor(config: FleetConfig, host: InventoryHost, fleetKey: FleetKey<string>) {
    return connectionSchema.parse(connectionFields(config.defaults, host.connection, fleetKey, (file, setting) => readPrivateKey(file, config, host, setting)));
}

/** A host whose last rollout did not end `applied`: its parts may match state and still not be what was declared. */
export function rolloutRow(host: string, status: string | undefined): DriftRow[] {
    return status === undefined || status === APPLIED ? [] : [{ host, key: "(rollout)", desired: APPLIED, live: status, persisted: NOT_PERSISTED, status: "drifted" }];
}

/**
 * Hosts state holds a rollout's parts for and the config no longer declares: still tuned until
 * the next `pulumi up` removes their parts, so drift without a read (nor a connection to read with).
 */
export function undeclaredHostRows(declared: readonly InventoryHost[], recorded: Map<string, RecordedHost>): DriftRow[] {
    const names = new Set(declared.map((h) => h.name));
    return [...recorded]
        .filter(([host, { parts }]) => !names.has(host) && Object.keys(parts).length > 0)
        .map(([host, { parts }]) => ({ host, key: "(host)", desired: "not declared", live: `applied: ${PART_ORDER.filter((p) => parts[p]).join(", ")}`, persisted: NOT_PERSISTED, status: "drifted" as const }));
}

/**
 * Reads every host (one connection each, hosts in parallel): its declared sysctls against the
 * config, its other parts against what state recorded (`recorded`, from `recordedHosts`). A part
 * that cannot be read is a row of its own; a host where nothing can be read is `unreachable`;
 * a host in state and no longer in the config is a row of its own.
 */
export async function readFleetDrift(config: FleetConfig, fleetKey: FleetKey<string>, recorded: Map<string, RecordedHost>): Promise<DriftRow[]> {
    const plans = planHosts(config);
    const perHost = await Promise.all(
        config.hosts.map(async (host): Promise<DriftRow[]> => {
            const { parts } = plans.get(host.name)!;
            const declared = PART_ORDER.filter((p) => parts[p]);
            const { parts: applied, status } = recorded.get(host.name) ?? { parts: {} };
            const { sysctls: appliedSysctls, ...others } = applied;
            if (declared.length === 0 && Object.keys(applied).length === 0) {
                return rolloutRow(host.name, status);
            }
            let connection: ReturnType<typeof connectionFor>;
            try {
                connection = connectionFor(config, host, fleetKey);
            } catch (e) {
                // One host's unreadable key file is that host's row, not the end of the whole report.
                return [{ host: host.name, key: "(host)", desired: "a connection", live: (e as Error).message.replace(/:?\s*\n\s*/g, ": "), persisted: NOT_PERSISTED, status: "unreachable" }];
            }
            const sysctls = parts.sysctls && sysctlSetInputsSchema.parse({ ...parts.sysctls, resourceName: partResourceName(`${FLEET_NAME}-${host.name}`, "sysctls") });
            const sysctlRecord = appliedSysctls && recordOf(appliedSysctls.state);
            // A part applied and no longer declared is drift as it is: nothing to read for it.
            const toRead = PART_ORDER.filter((part) => part !== "sysctls" && others[part] && declared.includes(part));
            const [sysctlRead, ...partReads] = await Promise.allSettled([
                sysctls ? readHost(transportFor(connection), keysToRead(sysctls, sysctlRecord), filesToRead(sysctls, sysctlRecord)).then((snapshot) => sysctlRows(host.name, sysctls, snapshot, sysctlRecord)) : Promise.resolve([]),
                ...toRead.map((part) => verifyParts(connection, { [part]: others[part as keyof typeof others] })),
            ]);
            const reads = [...(sysctls ? [sysctlRead] : []), ...partReads];
            const why = (r: PromiseSettledResult<unknown>) => (r.status === "rejected" ? (r.reason as Error).message : undefined);
            if (reads.length > 0 && reads.every((r) => r.status === "rejected")) {
                return [{ host: host.name, key: "(host)", desired: describeTarget(connection), live: why(reads[0])!, persisted: NOT_PERSISTED, status: "unreachable" }];
            }
            const unreadable = Object.fromEntries(toRead.flatMap((part, i) => (partReads[i].status === "rejected" ? [[part, why(partReads[i])!]] : [])));
            const drift = partReads.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
            const sysctlRowsRead =
                sysctlRead.status === "fulfilled" ? sysctlRead.value : [{ host: host.name, key: "sysctls", desired: "as declared", live: `could not read: ${why(sysctlRead)}`, persisted: NOT_PERSISTED, status: "drifted" as const }];
            return [...rolloutRow(host.name, status), ...sysctlRowsRead, ...partRows(host.name, declared, applied, drift, unreadable)];
        }),
    );
    return [...perHost.flat(), ...undeclaredHostRows(config.hosts, recorded)];
}

export function report(stacks: string[], rows: DriftRow[]): DriftReport {
    return { stacks, rows, drifted: rows.filter((r) => r.status === "drifted" || r.status === "unreachable").length };
}

/** Shards' reports as one: the fleet's drift across stacks, each stack once (a file given twice, or a merged one among its parts, would count its drift twice). */
export function mergeReports(reports: readonly DriftReport[]): DriftReport {
    const stacks = reports.flatMap((r) => r.stacks);
    const twice = [...new Set(stacks.filter((stack, i) => stacks.indexOf(stack) !== i))];
    if (twice.length > 0) {
        throw new Error(`${twice.join(", ")}: in more than one of the reports to merge; give each stack's report once`);
    }
    return report(
        reports.flatMap((r) => r.stacks),
        reports.flatMap((r) => r.rows),
    );
}
