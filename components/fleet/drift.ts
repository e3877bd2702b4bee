import { verifyParts } from "../../provider/host-tuning/handlers";
import { partResourceName } from "../../provider/host-tuning/plan";
import { PART_ORDER, PartName, PartRecords } from "../../provider/host-tuning/schema";
import { canonicalKey, keyFromConfLine } from "../../provider/sysctl/keys";
import { describeDesired } from "../../provider/sysctl/plan";
import { HostSnapshot, readHost } from "../../provider/sysctl/remote";
import { defaultPersistFile } from "../../provider/sysctl/schema";
import { SettingValue, normalise, satisfies } from "../../provider/sysctl/values";
import { connectionSchema, describeTarget } from "../../provider/transport/connection";
import { transportFor } from "../../provider/transport";
import { assignHost } from "./assign";
import { FleetConfig, InventoryHost, mergedConnection, readPrivateKey } from "./inventory";

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

/** Desired vs live vs persisted for each declared key of one host. */
export function sysctlRows(host: string, settings: Record<string, SettingValue>, snapshot: HostSnapshot, persist: boolean): DriftRow[] {
    const persisted = persistedValues(snapshot.ownFile);
    return Object.entries(settings).map(([key, desired]) => {
        const canonical = canonicalKey(key);
        const live = snapshot.values.get(canonical);
        const inFile = persisted.get(canonical);
        const row = { host, key: canonical, desired: describeDesired(desired), persisted: inFile ?? "absent" };
        if (!live || live.state === "missing" || live.state === "unreadable" || live.state === "readonly") {
            return { ...row, live: live?.state ?? "missing", status: "skipped" as const };
        }
        const fileOk = !persist || (inFile !== undefined && satisfies(desired, inFile));
        return { ...row, live: normalise(live.value), status: satisfies(desired, live.value) && fileOk ? ("ok" as const) : ("drifted" as const) };
    });
}

/** What an exported stack recorded for each host's parts: the default program's HostTunings, by host name. */
export function recordedParts(deployment: { resources?: { type: string; outputs?: Record<string, unknown> }[] }): Map<string, PartRecords> {
    const byHost = new Map<string, PartRecords>();
    const prefix = `${FLEET_NAME}-`;
    for (const resource of deployment.resources ?? []) {
        const name = resource.outputs?.resourceName;
        if (resource.type.endsWith(":HostTuning") && typeof name === "string" && name.startsWith(prefix)) {
            byHost.set(name.slice(prefix.length), (resource.outputs?.parts as PartRecords | undefined) ?? {});
        }
    }
    return byHost;
}

const NOT_PERSISTED = "";

/**
 * The host's parts besides sysctls, judged against what the last rollout applied (state): one row
 * per drifted item (`nic: eth1 rx`, live 512, desired 4096), one `ok` row per part as applied, and
 * a part declared but not applied (or applied, no longer declared) as drifted.
 * `drift` holds the lines of a fresh read (`verifyParts`), each `<part>: <what differs>`.
 */
export function partRows(host: string, declared: readonly PartName[], recorded: PartRecords, drift: readonly string[]): DriftRow[] {
    const rows: DriftRow[] = [];
    for (const part of PART_ORDER) {
        if (part === "sysctls" || (!declared.includes(part) && !recorded[part])) {
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
export function connectionFor(config: FleetConfig, host: InventoryHost, privateKey: string | undefined) {
    const { fields, keyFile } = mergedConnection(config.defaults, host.connection);
    const key = keyFile ? readPrivateKey(keyFile, host) : privateKey;
    return connectionSchema.parse({ ...fields, ...(key ? { privateKey: key } : {}) });
}

/**
 * Reads every host (one connection each, hosts in parallel): its declared sysctls against the
 * config, its other parts against what state recorded (`recorded`, from `recordedParts`).
 */
export async function readFleetDrift(config: FleetConfig, privateKey: string | undefined, recorded: Map<string, PartRecords>): Promise<DriftRow[]> {
    const perHost = await Promise.all(
        config.hosts.map(async (host): Promise<DriftRow[]> => {
            const { parts } = assignHost(config, host);
            const declared = PART_ORDER.filter((p) => parts[p]);
            const { sysctls: _sysctls, ...others } = recorded.get(host.name) ?? {};
            // A part applied and no longer declared is drift as it is: nothing to read for it.
            const stillDeclared: PartRecords = Object.fromEntries(Object.entries(others).filter(([part]) => declared.includes(part as PartName)));
            if (declared.length === 0 && Object.keys(others).length === 0) {
                return [];
            }
            const connection = connectionFor(config, host, privateKey);
            const file = defaultPersistFile(partResourceName(`${FLEET_NAME}-${host.name}`, "sysctls"));
            try {
                const sysctls = parts.sysctls;
                const [sysctlDrift, otherDrift] = await Promise.all([
                    sysctls ? readHost(transportFor(connection), Object.keys(sysctls.settings), sysctls.persist ? [file] : []).then((snapshot) => sysctlRows(host.name, sysctls.settings, snapshot, sysctls.persist)) : [],
                    verifyParts(connection, stillDeclared),
                ]);
                return [...sysctlDrift, ...partRows(host.name, declared, others, otherDrift)];
            } catch (e) {
                return [{ host: host.name, key: "(host)", desired: describeTarget(connection), live: (e as Error).message, persisted: "", status: "unreachable" }];
            }
        }),
    );
    return perHost.flat();
}

export function report(stacks: string[], rows: DriftRow[]): DriftReport {
    return { stacks, rows, drifted: rows.filter((r) => r.status === "drifted" || r.status === "unreachable").length };
}

/** Shards' reports as one: the fleet's drift across stacks. */
export function mergeReports(reports: readonly DriftReport[]): DriftReport {
    return report(
        reports.flatMap((r) => r.stacks),
        reports.flatMap((r) => r.rows),
    );
}
