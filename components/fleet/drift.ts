import { partResourceName } from "../../provider/host-tuning/plan";
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

/** The connection a host gets from the config, with the key read (for commands outside the engine). */
export function connectionFor(config: FleetConfig, host: InventoryHost, privateKey: string | undefined) {
    const { fields, keyFile } = mergedConnection(config.defaults, host.connection);
    const key = keyFile ? readPrivateKey(keyFile, host) : privateKey;
    return connectionSchema.parse({ ...fields, ...(key ? { privateKey: key } : {}) });
}

/** Reads every host's declared sysctls (one command per host, hosts in parallel). */
export async function readFleetDrift(config: FleetConfig, privateKey: string | undefined): Promise<DriftRow[]> {
    const perHost = await Promise.all(
        config.hosts.map(async (host): Promise<DriftRow[]> => {
            const sysctls = assignHost(config, host).parts.sysctls;
            if (!sysctls) {
                return [];
            }
            const connection = connectionFor(config, host, privateKey);
            const file = defaultPersistFile(partResourceName(`${FLEET_NAME}-${host.name}`, "sysctls"));
            try {
                const snapshot = await readHost(transportFor(connection), Object.keys(sysctls.settings), sysctls.persist ? [file] : []);
                return sysctlRows(host.name, sysctls.settings, snapshot, sysctls.persist);
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
