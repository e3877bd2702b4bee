import type { CheckFailure } from "../check";
import { CpuHost, CpuPolicy, CpuPolicyError, distributeCpus, formatCpuList, formatMask, parseCpuList, parseMask, policyCpus } from "../cpus";
import { FileChanges, FileSnapshot, ValueWrite, linkedOwnFile } from "../host/files";
import { ALL_LEDGERS, itemsOf, originalsUnreadableError } from "../host/ledger";
import { ManagedFiles, fileContent, forget, manage, pathContentOf, planRestore } from "../host/restore";
import { PacketSteeringInputs, nextPowerOfTwo } from "./schema";
import { netAddLines } from "../nic/udev";
import { nicNuma, nicNumaRequests } from "../nic-numa";

/**
 * RPS, RFS and XPS as in docs.kernel.org/networking/scaling.html. Each thing set is an "item":
 * "rx-N/rps_cpus", "rx-N/rps_flow_cnt", "tx-N/xps_cpus" under /sys/class/net/IF/queues, or
 * "net.core.rps_sock_flow_entries".
 */

export const FLOW_ENTRIES = "net.core.rps_sock_flow_entries";
const FLOW_ENTRIES_PATH = "/proc/sys/net/core/rps_sock_flow_entries";
/** A queue's files in the order they are set: the flow table before the CPUs that use it. */
const QUEUE_FILES = ["rps_flow_cnt", "rps_cpus", "xps_cpus"];

const isMaskItem = (item: string) => /\/(rps|xps)_cpus$/.test(item);

/** Equal as the kernel means them: masks by CPU set, counts by number. */
export function sameValue(item: string, a: string, b: string): boolean {
    if (isMaskItem(item)) {
        try {
            return formatMask(parseMask(a)) === formatMask(parseMask(b));
        } catch {
            return a.trim() === b.trim();
        }
    }
    return a.trim() === b.trim();
}

// ------------------------------------------------------------------------------- the host view

export function itemPath(iface: string, item: string): string {
    return item === FLOW_ENTRIES ? FLOW_ENTRIES_PATH : `/sys/class/net/${iface}/queues/${item}`;
}

export function readRequests(inputs: PacketSteeringInputs, rulePath: string): string[] {
    const net = `/sys/class/net/${inputs.interface}`;
    return [
        net,
        `${net}/queues`,
        `${net}/queues/rx-[0-9]*/rps_cpus`,
        `${net}/queues/rx-[0-9]*/rps_flow_cnt`,
        `${net}/queues/tx-[0-9]*/xps_cpus`,
        FLOW_ENTRIES_PATH,
        "/sys/devices/system/cpu/online",
        ...ISOLATED_PATHS,
        ...nicNumaRequests(net),
        rulePath,
        `symlink:${rulePath}`,
        `readlink:${net}`,
        ALL_LEDGERS,
    ];
}

export interface SteeringView extends CpuHost {
    exists: boolean;
    /** The interface's real directory (/sys/devices/…/net/IF), when /sys/class/net/IF links elsewhere. */
    realDir?: string;
    /** Queue names, in number order: "rx-0", "rx-1", … */
    rx: string[];
    tx: string[];
    /** Item → what the kernel shows now (trimmed); an item missing here could not be read. */
    values: Record<string, string>;
    /** Items there that answered a read error (xps_cpus of a tx queue in no traffic class: EINVAL). */
    unreadable?: string[];
    /** CPUs the host booted to keep RPS off (isolcpus=, nohz_full=): the kernel drops them from rps_cpus. */
    isolated: number[];
}

const ISOLATED_PATHS = ["/sys/devices/system/cpu/isolated", "/sys/devices/system/cpu/nohz_full"];

/** A CPU list file, empty when absent or not a list (nohz_full reads "(null)" without nohz_full=). */
function cpuListFile(text: string | undefined): number[] {
    try {
        return text === undefined ? [] : parseCpuList(text.trim());
    } catch {
        return [];
    }
}

const byNumber = (a: string, b: string) => Number(a.split("-")[1]) - Number(b.split("-")[1]);

export function viewOf(inputs: PacketSteeringInputs, snapshot: FileSnapshot): SteeringView {
    const net = `/sys/class/net/${inputs.interface}`;
    const queues = snapshot.dirs.get(`${net}/queues`) ?? [];
    const values: Record<string, string> = {};
    for (const [path, content] of snapshot.files) {
        if (path.startsWith(`${net}/queues/`)) {
            values[path.slice(`${net}/queues/`.length)] = content.trim();
        } else if (path === FLOW_ENTRIES_PATH) {
            values[FLOW_ENTRIES] = content.trim();
        }
    }
    const realDir = snapshot.links.get(net);
    return {
        exists: snapshot.dirs.has(net),
        ...(realDir && realDir !== net ? { realDir } : {}),
        rx: queues.filter((q) => /^rx-\d+$/.test(q)).sort(byNumber),
        tx: queues.filter((q) => /^tx-\d+$/.test(q)).sort(byNumber),
        values,
        unreadable: [...(snapshot.unreadable ?? [])].filter((path) => path.startsWith(`${net}/queues/`)).map((path) => path.slice(`${net}/queues/`.length)),
        online: parseCpuList(snapshot.files.get("/sys/devices/system/cpu/online") ?? ""),
        isolated: [...new Set(ISOLATED_PATHS.flatMap((p) => cpuListFile(snapshot.files.get(p))))].sort((a, b) => a - b),
        ...nicNuma(snapshot, net),
    };
}

// ------------------------------------------------------------------------------------ desired

/** Something the host cannot take: `property` is the input at fault, `why` says how. */
export class SteeringError extends Error {
    constructor(
        readonly property: string,
        readonly why: string,
        target: string,
    ) {
        super(`${target}: ${why}. Nothing was changed.`);
    }
}

export interface Desired {
    /** Item → value to hold, in write order: the global table, flow counts, then masks. */
    values: Record<string, string>;
    /** Items left out under onMissing: "skip". */
    skipped: string[];
    warnings: string[];
}

/** rps_flow_cnt per rx queue: the global table shared out (scaling.html), as the kernel rounds it. */
export function flowCountPerQueue(flowEntries: number, rxQueues: number): number {
    return nextPowerOfTwo(Math.max(1, Math.floor(flowEntries / rxQueues)));
}

/** What every item should hold on this host now; throws SteeringError for what it cannot take. */
export function desiredFor(inputs: PacketSteeringInputs, view: SteeringView, target: string): Desired {
    const fail = (property: string, why: string): never => {
        throw new SteeringError(property, why, target);
    };
    if (!view.exists) {
        fail("interface", `interface ${inputs.interface} does not exist`);
    }
    const values: Record<string, string> = {};
    const skipped: string[] = [];
    const warnings: string[] = [];
    const masks: Record<string, string> = {};
    // rps_cpumask_housekeeping(): the kernel drops isolated CPUs from an RPS mask (EINVAL when
    // none is left), so a mask naming them would read back without them: drift on every preview.
    const rpsHost = (policy: CpuPolicy, property: string): CpuHost => {
        if (view.isolated.length === 0) {
            return view;
        }
        const { name: policyName, listed } = policyCpus(policy, view);
        const excluded = policy.exclude ? parseCpuList(policy.exclude) : [];
        const candidates = listed.filter((c) => view.online.includes(c) && !excluded.includes(c));
        const isolated = candidates.filter((c) => view.isolated.includes(c));
        const note = "isolated (isolcpus= or nohz_full=, as /sys/devices/system/cpu/isolated and nohz_full show): the kernel keeps RPS off them";
        if (isolated.length > 0 && isolated.length === candidates.length) {
            fail(`${property}.${policyName}`, `every online CPU of ${property}.${policyName} (${formatCpuList(candidates)}) is ${note}`);
        }
        if (isolated.length > 0) {
            warnings.push(`${target}: ${property} leaves out CPUs ${formatCpuList(isolated)}, which are ${note}`);
        }
        return { ...view, online: view.online.filter((c) => !view.isolated.includes(c)) };
    };
    const place = (policy: CpuPolicy, queues: string[], file: string, property: string) => {
        if (queues.length === 0) {
            fail(property, `${inputs.interface} has no ${file === "rps_cpus" ? "receive" : "transmit"} queues under /sys/class/net/${inputs.interface}/queues`);
        }
        const unreadable = queues.filter((q) => view.values[`${q}/${file}`] === undefined);
        if (unreadable.length > 0) {
            fail(property, `${inputs.interface} has no readable ${file} in ${unreadable.join(", ")} (a kernel without ${file === "rps_cpus" ? "CONFIG_RPS" : "CONFIG_XPS"}, or a single-queue device)`);
        }
        try {
            const { sets, noNuma } = distributeCpus(policy, file === "rps_cpus" ? rpsHost(policy, property) : view, queues.length, `${property}.`);
            if (noNuma) {
                warnings.push(`${target}: ${inputs.interface} reports no NUMA node; ${property} spreads over all online CPUs`);
            }
            queues.forEach((q, i) => (masks[`${q}/${file}`] = formatMask(sets[i])));
        } catch (e) {
            throw e instanceof CpuPolicyError ? new SteeringError(e.property, e.why, target) : e;
        }
    };
    if (inputs.rfs) {
        if (view.values[FLOW_ENTRIES] !== undefined) {
            values[FLOW_ENTRIES] = String(inputs.rfs.flowEntries);
        } else if (inputs.onMissing === "skip") {
            skipped.push(FLOW_ENTRIES);
            warnings.push(`${target}: skipped ${FLOW_ENTRIES}, which this host does not have (onMissing: "skip"); RFS steers only once the global table is set, by whoever owns the machine`);
        } else {
            fail(
                "rfs.flowEntries",
                `${FLOW_ENTRIES} does not exist on this host (a global key: the host is a network namespace or container, or the kernel lacks CONFIG_RPS); set onMissing: "skip" to set only the per-queue rps_flow_cnt`,
            );
        }
        if (view.rx.length === 0) {
            fail("rfs", `${inputs.interface} has no receive queues under /sys/class/net/${inputs.interface}/queues`);
        }
        const count = String(flowCountPerQueue(inputs.rfs.flowEntries, view.rx.length));
        for (const q of view.rx) {
            if (view.values[`${q}/rps_flow_cnt`] === undefined) {
                fail("rfs", `${inputs.interface} has no readable ${q}/rps_flow_cnt (a kernel without CONFIG_RPS)`);
            }
            values[`${q}/rps_flow_cnt`] = count;
        }
    }
    if (inputs.rps) {
        place(inputs.rps, view.rx, "rps_cpus", "rps");
    }
    if (inputs.xps) {
        place(inputs.xps, view.tx, "xps_cpus", "xps");
    }
    return { values: { ...values, ...masks }, skipped, warnings };
}

/** What desiredFor would refuse on this host, as check failures naming the property and the host. */
export function steeringProblems(inputs: PacketSteeringInputs, view: SteeringView, target: string): CheckFailure[] {
    try {
        desiredFor(inputs, view, target);
        return [];
    } catch (e) {
        if (!(e instanceof SteeringError)) {
            throw e;
        }
        return [{ property: e.property, reason: `${target}: ${e.why}` }];
    }
}

// --------------------------------------------------------------------------------------- plan

export interface SteeringRecord {
    /** Item → what it held before this resource first changed it (items of queues that still exist). */
    originals: Record<string, string>;
    ruleFile?: string;
    /** The udev rule as it was before this resource, and the directories created for it. */
    managedFiles?: ManagedFiles;
    /** The host-side ledger holding the originals and the owner. */
    ledgerFile?: string;
}

/** The ledger directory's name: /var/lib/pulumi-linux-tuning/packet-steering. */
export const LEDGER_KIND = "packet-steering";

/**
 * What a record changes on the host, as its ledger lists it: each queue file by its
 * /sys/class/net path and its real one (a SysfsSet may spell either), the global flow table
 * (one owner: a second one's delete would put it back under the first), and the udev rule.
 */
export function steeringItems(record: SteeringRecord, iface: string, view: SteeringView): string[] {
    const paths = Object.keys(record.originals).flatMap((item) =>
        item !== FLOW_ENTRIES && view.realDir ? [itemPath(iface, item), `${view.realDir}/queues/${item}`] : [itemPath(iface, item)],
    );
    return itemsOf(paths, record.managedFiles);
}

export interface SteeringPlan {
    writes: ValueWrite[];
    files: FileChanges;
    desired: Desired;
    record: SteeringRecord;
    warnings: string[];
}

/**
 * udev applies the values when the interface appears, each queue's files as ATTR{queues/…} of
 * the interface (the queues' own add events at boot carry the kernel's name in their path, and
 * `udevadm trigger` never replays them), the global table by SYSCTL{}; and when a channel
 * change adds queues later, one line per queue matched by its path under the interface.
 */
export function renderRule(resourceName: string, iface: string, desired: Record<string, string>): string {
    const assignments = desired[FLOW_ENTRIES] === undefined ? [] : [`SYSCTL{net/core/rps_sock_flow_entries}="${desired[FLOW_ENTRIES]}"`];
    const queueLines: string[] = [];
    // State comes back with its keys sorted: the rule's order must not depend on the record's.
    const queues = [...new Set(Object.keys(desired).filter((i) => i !== FLOW_ENTRIES).map((i) => i.split("/")[0]))];
    for (const queue of queues.sort((a, b) => a.slice(0, 2).localeCompare(b.slice(0, 2)) || byNumber(a, b))) {
        const files = QUEUE_FILES.filter((f) => desired[`${queue}/${f}`] !== undefined);
        const attrs = (under: string) => files.map((f) => `ATTR{${under}${f}}="${desired[`${queue}/${f}`]}"`).join(", ");
        assignments.push(attrs(`queues/${queue}/`));
        queueLines.push(`ACTION=="add", SUBSYSTEM=="queues", DEVPATH=="*/net/${iface}/queues/${queue}", ${attrs("")}`);
    }
    const header = `# Managed by pulumi-linux-tuning (PacketSteering "${resourceName.replace(/[\r\n]/g, " ")}"): applied again when ${iface} or its queues appear.`;
    return [header, ...netAddLines(iface, assignments), ...queueLines].join("\n") + "\n";
}

/**
 * Writes for what differs, originals kept from the first change on. Items this resource set
 * before and no longer sets go back to their originals; originals of queues that no longer
 * exist are dropped (the kernel freed those queues with their settings).
 */
/** A symbolic link where the udev rule goes: a write would go through it, or replace it, and delete would remove it. */
export function ruleLinkProblems(inputs: PacketSteeringInputs, snapshot: FileSnapshot, rulePath: string, target: string): CheckFailure[] {
    const why = linkedOwnFile(rulePath, snapshot.symlinks?.get(rulePath), inputs.persist);
    return why ? [{ property: "persist", reason: `${target}: ${why}` }] : [];
}

export function planSteering(inputs: PacketSteeringInputs, view: SteeringView, snapshot: FileSnapshot, rulePath: string, target: string, previous?: SteeringRecord): SteeringPlan {
    const linked = linkedOwnFile(rulePath, snapshot.symlinks?.get(rulePath), inputs.persist);
    if (linked) {
        throw new SteeringError("persist", linked, target);
    }
    const desired = desiredFor(inputs, view, target);
    const warnings = [...desired.warnings];
    const writes: ValueWrite[] = [];
    const originals: Record<string, string> = {};
    for (const [item, value] of Object.entries(desired.values)) {
        const live = view.values[item];
        originals[item] = previous?.originals[item] ?? live;
        if (!sameValue(item, live, value)) {
            writes.push({ path: itemPath(inputs.interface, item), value });
        }
    }
    const dropped = Object.fromEntries(Object.entries(previous?.originals ?? {}).filter(([item]) => !(item in desired.values)));
    if (inputs.restoreOnDelete) {
        refuseUnreadable(dropped, view, inputs.interface, target);
    }
    for (const [item, original] of Object.entries(dropped)) {
        const live = view.values[item];
        if (live === undefined) {
            continue;
        }
        if (inputs.restoreOnDelete && !sameValue(item, live, original)) {
            writes.push({ path: itemPath(inputs.interface, item), value: original });
        }
    }
    let files: FileChanges = {};
    let managedFiles = previous?.managedFiles;
    const current = (p: string) => pathContentOf(snapshot, p);
    if (inputs.persist) {
        const content = renderRule(inputs.resourceName, inputs.interface, desired.values);
        if (snapshot.files.get(rulePath) !== content) {
            files.write = [{ path: rulePath, content }];
        }
        managedFiles = manage(managedFiles, current, { [rulePath]: fileContent(content) });
    } else if (previous?.ruleFile && managedFiles) {
        const restore = planRestore(managedFiles, current, target, { paths: [rulePath] });
        files = restore.changes;
        warnings.push(...restore.warnings);
        managedFiles = forget(managedFiles, [rulePath]);
    }
    return { writes, files, desired, warnings, record: { originals, ruleFile: inputs.persist ? rulePath : undefined, managedFiles } };
}

/**
 * An original to put back on a queue file there that cannot be read now fails the operation before
 * anything is written: dropped with the ledger, it would be lost.
 */
function refuseUnreadable(originals: Record<string, string>, view: SteeringView, iface: string, target: string): void {
    const unreadable = (view.unreadable ?? []).filter((item) => item in originals);
    if (unreadable.length > 0) {
        throw originalsUnreadableError(target, unreadable.map((item) => `${iface}'s ${item}`));
    }
}

/** Delete: each item that still exists back to its original; the rule as it was, directories created for it removed when empty. */
export function planSteeringRestore(record: SteeringRecord, view: SteeringView, snapshot: FileSnapshot, iface: string, restore: boolean, target: string): { writes: ValueWrite[]; files: FileChanges; warnings: string[] } {
    const writes: ValueWrite[] = [];
    if (restore) {
        refuseUnreadable(record.originals, view, iface, target);
        for (const [item, original] of Object.entries(record.originals)) {
            const live = view.values[item];
            if (live !== undefined && !sameValue(item, live, original)) {
                writes.push({ path: itemPath(iface, item), value: original });
            }
        }
    }
    if (!record.managedFiles) {
        return { writes, files: {}, warnings: [] };
    }
    const plan = planRestore(record.managedFiles, (p) => pathContentOf(snapshot, p), target, { removeDirs: true });
    return { writes, files: plan.changes, warnings: plan.warnings };
}

// -------------------------------------------------------------------------------------- drift

/** Live values of `items` ("absent" for a queue that is gone). */
export function liveItems(items: readonly string[], view: SteeringView): Record<string, string> {
    return Object.fromEntries(items.map((item) => [item, view.values[item] ?? "absent"]));
}

export function steeringDrift(desired: Record<string, string>, live: Record<string, string>): string[] {
    return Object.entries(desired)
        .filter(([item, value]) => live[item] === undefined || !sameValue(item, live[item], value))
        .map(([item, value]) => `${item} live ${live[item] ?? "absent"}, desired ${value}`);
}
