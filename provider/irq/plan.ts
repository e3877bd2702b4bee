import { CheckFailure, propertyPath } from "../check";
import { CpuHost, CpuPolicyError, distributeCpus, formatCpuList, parseCpuList, sameCpuList } from "../cpus";
import { FileChanges, FileSnapshot, ValueWrite, fileIn } from "../host/files";
import { ALL_LEDGERS, itemsOf } from "../host/ledger";
import { Discovery, InterruptLine, discoverQueueIrqs, isTransmitOnlyIrqName, parseInterrupts } from "./discover";
import { nicNuma, nicNumaRequests } from "../nic-numa";
import { ABSENT, ManagedFiles, PathContent, enabledAt, fileContent, forget, linkTo, manage, pathContentOf, planRestore, samePathContent } from "../host/restore";
import { CONFIG_FILES, IrqbalanceState, banArgs, bannedIn, configBytes, configContent, setsArgs, withBannedIrqs, withoutBannedIrqs } from "./irqbalance";
import { IrqAffinityInputs, unitName } from "./schema";

export const UNIT_DIR = "/etc/systemd/system";

export function readRequests(inputs: IrqAffinityInputs): string[] {
    const dev = `/sys/class/net/${inputs.interface}/device`;
    return [
        `/sys/class/net/${inputs.interface}`,
        "/sys/devices/system/cpu/online",
        `${dev}/msi_irqs`,
        ...nicNumaRequests(`/sys/class/net/${inputs.interface}`),
        `readlink:${dev}`,
        "/proc/interrupts",
        "/proc/irq/[0-9]*/smp_affinity_list",
        "pidof:irqbalance",
        ...CONFIG_FILES,
        "which:systemctl",
        "/run/systemd/system",
        `${UNIT_DIR}/${unitName(inputs.resourceName)}`,
        `symlink:${UNIT_DIR}/multi-user.target.wants/${unitName(inputs.resourceName)}`,
        ALL_LEDGERS,
    ];
}

/** The ledger directory's name: /var/lib/pulumi-linux-tuning/irq. */
export const LEDGER_KIND = "irq";

export const unitPaths = (resourceName: string) => ({ unit: `${UNIT_DIR}/${unitName(resourceName)}`, link: `${UNIT_DIR}/multi-user.target.wants/${unitName(resourceName)}` });

export const affinityFile = (irq: number) => `/proc/irq/${irq}/smp_affinity_list`;

export interface HostIrqView extends CpuHost {
    exists: boolean;
    discovery: Discovery;
    interrupts: InterruptLine[];
    affinity: Map<number, string>;
    irqbalance: IrqbalanceState;
}

export function viewOf(inputs: IrqAffinityInputs, snapshot: FileSnapshot): HostIrqView {
    const dev = `/sys/class/net/${inputs.interface}/device`;
    const interrupts = parseInterrupts(snapshot.files.get("/proc/interrupts") ?? "");
    const msi = snapshot.dirs.get(`${dev}/msi_irqs`)?.map(Number).filter(Number.isInteger);
    const deviceLink = snapshot.links.get(dev);
    const device = deviceLink ? deviceLink.split("/").pop() : undefined;
    const affinity = new Map<number, string>();
    for (const [path, content] of snapshot.files) {
        const match = /^\/proc\/irq\/(\d+)\/smp_affinity_list$/.exec(path);
        if (match) {
            affinity.set(Number(match[1]), content.trim());
        }
    }
    // A zombie (exited, not yet reaped) has an empty command line: it is not running.
    const pids = (snapshot.pids.get("irqbalance") ?? []).filter((pid) => (snapshot.cmdlines.get(pid) ?? []).length > 0);
    const configFile = CONFIG_FILES.find((f) => snapshot.files.has(f)) ?? CONFIG_FILES[0];
    const config = fileIn(snapshot, configFile);
    const systemdHost = snapshot.dirs.has("/run/systemd/system") && (snapshot.commands.get("systemctl") ?? "") !== "";
    const cgroup = pids.length > 0 ? snapshot.cgroups?.get(pids[0]) : undefined;
    const unit = systemdHost ? otherUnit(cgroup) : undefined;
    return {
        exists: snapshot.dirs.has(`/sys/class/net/${inputs.interface}`),
        online: parseCpuList(snapshot.files.get("/sys/devices/system/cpu/online") ?? ""),
        discovery: discoverQueueIrqs(inputs.interface, msi, interrupts, device),
        interrupts,
        ...nicNuma(snapshot, `/sys/class/net/${inputs.interface}`),
        affinity,
        irqbalance: {
            running: pids.length > 0,
            pids,
            cmdline: pids.length > 0 ? (snapshot.cmdlines.get(pids[0]) ?? []) : [],
            systemd: systemdHost && (pids.length === 0 || runByItsUnit(cgroup)),
            ...(unit && { otherUnit: unit }),
            configFile,
            configContent: config ? configBytes(config) : null,
        },
    };
}

/**
 * Whether the daemon runs in irqbalance.service, so that systemctl reaches it: one started by hand
 * on a systemd host is stopped and started as on a host without systemd (another unit's is refused).
 * Unknown (no cgroup read): the unit, as on every systemd host before this was read.
 */
function runByItsUnit(cgroup: string | undefined): boolean {
    return !cgroup || cgroup.split("\n").some((line) => /\/irqbalance\.service(\/|$)/.test(line));
}

/**
 * Another irqbalance unit a daemon's cgroup names (a vendor's irqbalance-numa.service). A daemon
 * that merely sits in a unit that started it once (rc-local, cron, a user's manager, sshd without
 * pam_systemd, where one restarted from here lands too) is handled as one started by hand.
 */
function otherUnit(cgroup: string | undefined): string | undefined {
    const units = (cgroup ?? "").split("\n").map((line) => /\/([^/]*irqbalance[^/]*\.service)(?:\/|$)/.exec(line)?.[1]).filter((unit): unit is string => unit !== undefined);
    return units.length > 0 && !units.includes("irqbalance.service") ? units[0] : undefined;
}

/**
 * A daemon another unit runs can be neither stopped nor restarted with bans from here: that unit
 * would start it again (Restart=), or run a second copy beside ours without the bans.
 */
export function irqbalanceProblems(inputs: IrqAffinityInputs, view: HostIrqView, target: string): CheckFailure[] {
    const unit = view.irqbalance.otherUnit;
    if (!unit || inputs.irqbalance === "leave") {
        return [];
    }
    const doing = inputs.irqbalance === "stop" ? "stopped" : "restarted with the bans";
    return [
        {
            property: "irqbalance",
            reason: `${target}: irqbalance runs under ${unit}, not irqbalance.service, so it cannot be ${doing} from here without fighting that unit: ${inputs.irqbalance === "stop" ? "stop" : "add --banirq for these IRQs to"} it through ${unit}, then set irqbalance: "leave"`,
        },
    ];
}

/** A placement the host cannot take: `property` is the input at fault, `why` says how. */
export class PlacementError extends Error {
    constructor(
        readonly property: string,
        readonly why: string,
        target: string,
    ) {
        super(`${target}: ${why}. Nothing was changed.`);
    }
}

/** IRQ number → CPU list, by the chosen policy. */
export function placement(inputs: IrqAffinityInputs, view: HostIrqView, target: string): { assignment: Record<string, string>; warnings: string[] } {
    const warnings: string[] = [];
    const irqs = view.discovery.irqs;
    const fail = (property: string, why: string): never => {
        throw new PlacementError(property, why, target);
    };
    if (!view.exists) {
        fail("interface", `interface ${inputs.interface} does not exist`);
    }
    if (irqs.length === 0) {
        fail("interface", `found no queue IRQs for ${inputs.interface} (looked in /sys/class/net/${inputs.interface}/device/msi_irqs and /proc/interrupts)`);
    }
    const assignment: Record<string, string> = {};
    try {
        if (inputs.perIrq) {
            for (const [key, list] of Object.entries(inputs.perIrq)) {
                const property = propertyPath(["perIrq", key]);
                const irq = irqs.find((l) => String(l.irq) === key || l.name === key);
                if (!irq) {
                    fail(property, `perIrq names "${key}", which is not one of ${inputs.interface}'s queue IRQs (${irqs.map((l) => `${l.irq} ${l.name}`.trim()).join(", ")})`);
                }
                const absent = parseCpuList(list).filter((cpu) => !view.online.includes(cpu));
                if (absent.length > 0) {
                    fail(property, `CPU ${formatCpuList(absent)} in perIrq["${key}"] ${absent.length > 1 ? "are" : "is"} not online on this host (online: ${formatCpuList(view.online)}); the kernel refuses a CPU it does not have`);
                }
                assignment[String(irq!.irq)] = formatCpuList(parseCpuList(list));
            }
            return { assignment, warnings };
        }
        // Receive work first, one queue per CPU; a transmit-only IRQ (virtio's output.N) then goes
        // with its queue's receive IRQ, as virtio itself pairs them, or round-robin after them.
        const receiving = irqs.filter((l) => !isTransmitOnlyIrqName(l.name));
        const transmitting = irqs.filter((l) => isTransmitOnlyIrqName(l.name));
        const { sets, noNuma } = distributeCpus(inputs, view, irqs.length);
        if (noNuma) {
            warnings.push(`${target}: ${inputs.interface} reports no NUMA node; spreading over all online CPUs`);
        }
        receiving.forEach((l, i) => (assignment[String(l.irq)] = formatCpuList(sets[i])));
        transmitting.forEach((l, i) => {
            const partner = receiving.find((r) => r.name === receiveQueueName(l.name));
            assignment[String(l.irq)] = partner ? assignment[String(partner.irq)] : formatCpuList(sets[receiving.length + i]);
        });
    } catch (e) {
        throw e instanceof CpuPolicyError ? new PlacementError(e.property, e.why, target) : e;
    }
    return { assignment, warnings };
}

/** The receive IRQ's name of a transmit-only queue IRQ's queue: "virtio0-output.2" → "virtio0-input.2", "eth0-tx-2" → "eth0-rx-2". */
function receiveQueueName(name: string): string {
    return name.replace(/(tx|output)([-_.]?\d+)$/i, (_, kind: string, index: string) => (/^output$/i.test(kind) ? "input" : kind === "TX" ? "RX" : kind === "Tx" ? "Rx" : "rx") + index);
}

/**
 * What `placement` would refuse on this host, as check failures naming the property and the
 * host. With a NicRingConfig on the same interface (`nicState`), its channel change may add
 * queue IRQs before this resource runs, so IRQ names in perIrq are left to create/update.
 */
export function placementProblems(inputs: IrqAffinityInputs, view: HostIrqView, target: string): CheckFailure[] {
    try {
        placement(inputs, view, target);
        return [];
    } catch (e) {
        if (!(e instanceof PlacementError)) {
            throw e;
        }
        if (inputs.nicState !== undefined && /^perIrq\b/.test(e.property) && /is not one of/.test(e.why)) {
            return [];
        }
        return [{ property: e.property, reason: `${target}: ${e.why}` }];
    }
}

/** Steps on the irqbalance daemon, run in this order: config file, systemctl, kill, start. */
export interface ServiceAction {
    /** The environment file's new bytes, one character each (configBytes); null: remove it (it did not exist before). */
    config?: string | null;
    systemctl?: "stop" | "start" | "try-restart";
    /** "pids": the listed pids; "all": every irqbalance running at that moment. */
    kill?: "pids" | "all";
    pids?: number[];
    /** argv to start detached (a daemon not managed by systemd). */
    start?: string[];
}

export interface IrqbalanceRecord {
    policy: "ban" | "stop" | "leave";
    /** Set when we stopped a running irqbalance, so delete starts it again. */
    stopped?: { systemd: boolean; cmdline: string[] };
    /**
     * Set when we banned IRQs, so delete takes exactly those bans out again: `added`, the ones
     * this resource put in the file (a ban the host already had stays); absent in older records.
     */
    banned?: { irqs: number[]; added?: number[]; configFile: string; systemd: boolean; cmdline: string[] };
}

export interface IrqbalancePlan {
    action: ServiceAction;
    /** Puts the daemon back as it was if a later step fails. */
    undo: ServiceAction;
    record: IrqbalanceRecord;
    warnings: string[];
}

/**
 * irqbalance as the policy wants it: "ban" puts this resource's IRQs in its bans, "stop" stops
 * it, "leave" neither. What an earlier policy did and this one does not is undone as delete would
 * undo it: bans no longer wanted come out of the file and the daemon, a daemon no longer to be
 * stopped is started again. `managed` is the resource's record of the files it wrote.
 */
export function planIrqbalance(
    inputs: IrqAffinityInputs,
    view: HostIrqView,
    irqs: number[],
    previous: IrqbalanceRecord | undefined,
    target: string,
    managed?: ManagedFiles,
): IrqbalancePlan {
    const state = view.irqbalance;
    const policy = inputs.irqbalance;
    const warnings: string[] = [];
    const ours = previous?.banned ? (previous.banned.added ?? previous.banned.irqs) : [];
    const targeted = [...irqs].sort((a, b) => a - b);
    let config = state.configContent;
    let banned: IrqbalanceRecord["banned"];
    if (policy === "ban") {
        // An IRQ no longer targeted is balanced again, unless the host banned it itself.
        const hostBans = new Set(bannedIn(state.configContent));
        const added = [...new Set([...ours.filter((irq) => irqs.includes(irq)), ...irqs.filter((irq) => !hostBans.has(irq))])].sort((a, b) => a - b);
        const released = ours.filter((irq) => !irqs.includes(irq));
        config = withBannedIrqs(config !== null && released.length > 0 ? withoutBannedIrqs(config, released) : config, targeted);
        banned = { irqs: targeted, added, configFile: state.configFile, systemd: state.systemd, cmdline: previous?.banned?.cmdline ?? state.cmdline };
    } else if (previous?.banned) {
        const release = configRestore(previous.banned, state, managed, target);
        if (release.config !== undefined) {
            config = release.config;
        }
        if (release.warning) {
            warnings.push(release.warning);
        }
    }
    const configChanged = config !== state.configContent;
    // A daemon not run by systemd takes its bans as arguments: ours out, the wanted ones in.
    // Not a ban the daemon was started with before this resource: that one is the host's.
    const ourArgs = new Set(banArgs(ours).filter((a) => !(previous?.banned?.cmdline ?? state.cmdline).includes(a)));
    const withoutOurs = (argv: string[]) => argv.filter((a) => !ourArgs.has(a));
    const wantedArgs = policy === "ban" ? banArgs(targeted) : [];
    const withWanted = (argv: string[]) => {
        const kept = withoutOurs(argv);
        return [...kept, ...wantedArgs.filter((a) => !kept.includes(a))];
    };
    const action: ServiceAction = configChanged ? { config } : {};
    const undo: ServiceAction = configChanged ? { config: state.configContent } : {};
    let stopped: IrqbalanceRecord["stopped"];
    let runsAfter = state.running;
    if (policy === "stop") {
        // The daemon running now is the one to start again, as it runs (a record from before may
        // have taken a hand-started one for the unit's); our bans out of its command line.
        const before = state.running ? { systemd: state.systemd, cmdline: state.cmdline } : previous?.stopped;
        stopped = before && { ...before, cmdline: withoutOurs(before.cmdline) };
        if (state.running) {
            Object.assign(action, state.systemd ? { systemctl: "stop" } : { kill: "pids", pids: state.pids });
            Object.assign(undo, state.systemd ? { systemctl: "start" } : { start: state.cmdline });
            runsAfter = false;
            if (inputs.persist) {
                // Stopped, not disabled: the next boot starts it again, and it moves what the boot unit pins.
                warnings.push(`${target}: irqbalance is stopped until the next boot, where it starts again and moves the IRQs this boot unit pins until the next up; irqbalance: "ban" keeps it off them across boots, while their numbers hold`);
            }
        }
    } else if (previous?.stopped && !state.running) {
        Object.assign(action, previous.stopped.systemd ? { systemctl: "start" } : { start: withWanted(previous.stopped.cmdline) });
        Object.assign(undo, previous.stopped.systemd ? { systemctl: "stop" } : { kill: "all" });
        runsAfter = true;
    } else if (state.running) {
        const argsWrong = wantedArgs.some((a) => !state.cmdline.includes(a)) || state.cmdline.some((a) => ourArgs.has(a) && !wantedArgs.includes(a));
        if (state.systemd && (configChanged || argsWrong)) {
            action.systemctl = undo.systemctl = "try-restart";
        } else if (!state.systemd && argsWrong) {
            Object.assign(action, { kill: "pids", pids: state.pids, start: withWanted(state.cmdline) });
            Object.assign(undo, { kill: "all", start: state.cmdline });
        }
    }
    if (policy === "leave" && runsAfter) {
        warnings.push(`${target}: irqbalance is running and will move these IRQs (irqbalance: "leave")`);
    }
    const record: IrqbalanceRecord = { policy, ...(stopped ? { stopped } : {}), ...(banned ? { banned } : {}) };
    return { action, undo, record, warnings };
}

export interface IrqbalanceRestore extends ServiceAction {
    /** Set when the environment file was edited since we wrote it. */
    warning?: string;
}

/**
 * Delete: undo what we did to irqbalance. The environment file gets its original bytes back (or
 * is removed, when it did not exist) if it still holds exactly what we wrote; edited since, only
 * our `--banirq` flags come out (and the IRQBALANCE_ARGS line, when we added it and nothing else
 * is left on it), with a warning. `managed` is the resource's record of what the file held.
 */
export function irqbalanceRestore(record: IrqbalanceRecord | undefined, view: HostIrqView, managed?: ManagedFiles, target = ""): IrqbalanceRestore {
    const state = view.irqbalance;
    const action: IrqbalanceRestore = record?.banned ? configRestore(record.banned, state, managed, target) : {};
    if (record?.stopped && !state.running) {
        return { ...action, ...(record.stopped.systemd ? { systemctl: "start" as const } : { start: record.stopped.cmdline }) };
    }
    if (record?.banned) {
        if (state.running && state.systemd) {
            return { ...action, systemctl: "try-restart" };
        }
        if (state.running && state.cmdline.some((a) => record.banned!.irqs.some((irq) => a === `--banirq=${irq}`))) {
            const ours = new Set(banArgs(record.banned.irqs).filter((a) => !record.banned!.cmdline.includes(a)));
            return { ...action, kill: "all", start: state.cmdline.filter((a) => !ours.has(a)) };
        }
    }
    return action;
}

/**
 * irqbalance's file edited since this resource last wrote it, about to be written again: what a
 * delete should put back is the file as edited, without this resource's bans, not the bytes from
 * before its first write (which would undo the edit once the file holds what this write puts there).
 */
export function originalWithEdits(banned: IrqbalanceRecord["banned"], state: IrqbalanceState, managed: ManagedFiles): PathContent | undefined {
    const path = banned?.configFile;
    const original = path ? managed.originals[path] : undefined;
    const written = path ? managed.written[path] : undefined;
    if (!banned || !original || !written || state.configFile !== path || state.configContent === null || samePathContent(configContent(state.configContent), written)) {
        return undefined;
    }
    const without = withoutOurBans(state.configContent, banned.added ?? banned.irqs, original);
    const edited = without === "" && original.kind === "absent" ? ABSENT : configContent(without);
    return samePathContent(edited, original) ? undefined : edited;
}

/** irqbalance's file as edited since, without this resource's bans (nor the IRQBALANCE_ARGS line it added to a file that had none). */
function withoutOurBans(now: string, ours: number[], original: PathContent): string {
    return withoutBannedIrqs(now, ours, !setsArgs(original.kind === "file" ? configBytes(original) : null));
}

function configRestore(banned: NonNullable<IrqbalanceRecord["banned"]>, state: IrqbalanceState, managed: ManagedFiles | undefined, target: string): IrqbalanceRestore {
    const path = banned.configFile;
    const now = state.configFile === path ? state.configContent : null;
    const original = managed?.originals[path];
    const written = managed?.written[path];
    if (now === null) {
        return {};
    }
    const ours = banned.added ?? banned.irqs;
    if (!original || !written) {
        // State from before these records, or a file we never had to change (the host banned these IRQs itself).
        const config = withoutBannedIrqs(now, ours);
        return config !== now ? { config } : {};
    }
    if (samePathContent(configContent(now), original)) {
        return {};
    }
    const originalBytes = original.kind === "file" ? configBytes(original) : null;
    if (samePathContent(configContent(now), written)) {
        return { config: originalBytes };
    }
    const ourLine = !setsArgs(originalBytes);
    const config = withoutOurBans(now, ours, original);
    if (config === now) {
        return {};
    }
    return {
        config: config === "" && original.kind === "absent" ? null : config,
        warning: `${target}: ${path} was edited since this resource wrote it; took out only its --banirq flags${ourLine && !setsArgs(config) ? " and the IRQBALANCE_ARGS line it had added" : ""}, and kept the rest`,
    };
}

/** A queue IRQ name the boot unit can look up as a plain shell word (no quote, glob or `%`, `$`). */
const PINNABLE_NAME = /^[\w.:@-]+$/;

/** systemd's name for the device unit of a network interface (`systemd-escape --path`). */
export function deviceUnitName(iface: string): string {
    const escaped = [...`sys/subsystem/net/devices/${iface}`]
        .map((c, i) => (c === "/" ? "-" : /[A-Za-z0-9:_]/.test(c) || (c === "." && i > 0) ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`))
        .join("");
    return `${escaped}.device`;
}

/**
 * The boot unit: runs once the interface's device is there (after its udev rules, such as a
 * NicRingConfig's ring and channel change, which reallocates the queue IRQs) and the network is
 * up, and pins each IRQ
 * by its name in /proc/interrupts, since IRQ numbers can change from one boot to the next; an
 * IRQ without a usable name, or with one another IRQ shares (each port of an mlx5 card may print
 * a bare `mlx5_comp0`), by its number. Each pin may fail alone (`-`): a queue that is gone
 * leaves the others pinned. `$$` and `%%` are systemd's escapes for `$` and `%`.
 */
export function renderUnit(resourceName: string, iface: string, assignment: Record<string, string>, names: ReadonlyMap<number, string> = new Map()): string {
    const device = deviceUnitName(iface);
    const uses = new Map<string, number>();
    names.forEach((name) => uses.set(name, (uses.get(name) ?? 0) + 1));
    const pin = (irq: string, cpus: string) => {
        const name = names.get(Number(irq));
        return name && PINNABLE_NAME.test(name) && uses.get(name) === 1
            ? `ExecStart=-/bin/sh -c 'while read -r irq rest; do case "$$rest" in *" ${name}") echo ${cpus} > /proc/irq/$\${irq%%:}/smp_affinity_list; exit;; esac; done < /proc/interrupts; exit 1'`
            : `ExecStart=-/bin/sh -c 'echo ${cpus} > ${affinityFile(Number(irq))}'`;
    };
    const lines = [
        "[Unit]",
        `Description=IRQ affinity set by pulumi-linux-tuning (${resourceName.replace(/[\r\n]/g, " ")})`,
        // Most drivers (ixgbe, i40e, ice, bnxt, ena) name their queue IRQs only once the link is
        // opened: the pins wait for the network to be up, not only for the device.
        `Wants=${device} network-online.target`,
        `After=network-online.target irqbalance.service ${device}`,
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        ...Object.entries(assignment).map(([irq, cpus]) => pin(irq, cpus)),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ];
    return lines.join("\n");
}

/** The boot unit as this resource last wrote it (state from before managedFiles: as rendered by IRQ number). */
export function writtenUnit(record: Pick<IrqRecord, "managedFiles">, unitPath: string, resourceName: string, iface: string, assignment: Record<string, string>): string {
    const written = record.managedFiles?.written[unitPath];
    return written?.kind === "file" ? written.content : renderUnit(resourceName, iface, assignment);
}

export function affinityDrift(assignment: Record<string, string>, live: Map<number, string> | Record<string, string>): string[] {
    const get = (irq: string) => (live instanceof Map ? live.get(Number(irq)) : live[irq]);
    return Object.entries(assignment)
        .filter(([irq, cpus]) => {
            const have = get(irq);
            return have === undefined || !sameCpuList(have, cpus);
        })
        .map(([irq, cpus]) => `IRQ ${irq} live ${get(irq) ?? "absent"}, desired ${cpus}`);
}

/**
 * irqbalance no longer as the policy left it: under "ban", IRQs its file no longer bans (the
 * boot's irqbalance would move what the boot unit pins); under "stop", a daemon running again,
 * which moves them now or soon.
 */
export function irqbalanceDrift(record: IrqbalanceRecord | undefined, state: IrqbalanceState): string[] {
    if (record?.policy === "stop" && state.running) {
        return [`irqbalance is running again (irqbalance: "stop")`];
    }
    const banned = record?.policy === "ban" ? record.banned : undefined;
    if (!banned) {
        return [];
    }
    const now = state.configFile === banned.configFile ? bannedIn(state.configContent) : [];
    const missing = banned.irqs.filter((irq) => !now.includes(irq));
    return missing.length > 0 ? [`${banned.configFile} no longer bans IRQ ${missing.join(", ")}`] : [];
}

/** What IrqAffinity keeps in state besides its inputs (and in its host ledger). */
export interface IrqRecord {
    /** Affinity each IRQ had before this resource first changed it. */
    originals: Record<string, string>;
    irqbalanceState?: IrqbalanceRecord;
    unitFile?: string;
    /** The host-side ledger holding the originals and the owner. */
    ledgerFile?: string;
    /** The unit, its link and irqbalance's environment file as they were before, and directories created. */
    managedFiles?: ManagedFiles;
}

/**
 * The original affinity of each IRQ that is still one of the interface's queue IRQs and differs.
 * One that is no longer (the driver reloaded and renumbered its queues, the number now another
 * device's) is left alone, with a warning: its original is not that device's.
 */
export function restoreAffinity(originals: Record<string, string>, view: HostIrqView, iface: string, target: string): { writes: ValueWrite[]; warnings: string[] } {
    const queues = new Set(view.discovery.irqs.map((l) => String(l.irq)));
    const writes: ValueWrite[] = [];
    const gone: string[] = [];
    for (const [irq, original] of Object.entries(originals)) {
        if (!original || !view.affinity.has(Number(irq))) {
            continue;
        }
        if (!queues.has(irq)) {
            gone.push(irq);
        } else if (affinityDrift({ [irq]: original }, view.affinity).length > 0) {
            writes.push({ path: affinityFile(Number(irq)), value: original });
        }
    }
    const warnings = gone.length > 0 ? [`${target}: left IRQ ${gone.join(", ")} as ${gone.length > 1 ? "they are" : "it is"}: no longer ${iface}'s queue IRQ${gone.length > 1 ? "s" : ""} (renumbered by a driver reload?), so ${iface}'s original affinity is not ${gone.length > 1 ? "theirs" : "its"}`] : [];
    return { writes, warnings };
}

export interface IrqPlan {
    assignment: Record<string, string>;
    writes: ValueWrite[];
    files: FileChanges;
    irqbalance: IrqbalancePlan;
    record: IrqRecord;
    warnings: string[];
}

/**
 * Create and update: the placement, the affinity writes (IRQs no longer targeted go back to
 * what they had), irqbalance dealt with, the boot unit written or put back. Originals come from
 * `previous` (state, or the ledger an interrupted run left) before the live values.
 */
export function planIrqAffinity(inputs: IrqAffinityInputs, view: HostIrqView, snapshot: FileSnapshot, target: string, previous?: IrqRecord): IrqPlan {
    const { assignment, warnings } = placement(inputs, view, target);
    const irqs = Object.keys(assignment).map(Number);
    const irqbalance = planIrqbalance(inputs, view, irqs, previous?.irqbalanceState, target, previous?.managedFiles);
    warnings.push(...irqbalance.warnings);
    const writes: ValueWrite[] = [];
    const originals: Record<string, string> = {};
    for (const [irq, cpus] of Object.entries(assignment)) {
        originals[irq] = previous?.originals[irq] ?? view.affinity.get(Number(irq)) ?? "";
        if (affinityDrift({ [irq]: cpus }, view.affinity).length > 0) {
            writes.push({ path: affinityFile(Number(irq)), value: cpus });
        }
    }
    if (previous && inputs.restoreOnDelete) {
        const { writes: back, warnings: left } = restoreAffinity(Object.fromEntries(Object.entries(previous.originals).filter(([irq]) => !(irq in assignment))), view, inputs.interface, target);
        writes.push(...back);
        warnings.push(...left);
    }
    const unit = unitPaths(inputs.resourceName);
    const current = (path: string) => pathContentOf(snapshot, path);
    let files: FileChanges = {};
    // State from before these records: the unit and link were ours, absent before.
    let managedFiles = previous?.managedFiles ?? (previous?.unitFile ? { originals: { [unit.unit]: ABSENT, [unit.link]: ABSENT }, written: {}, createdDirs: [] } : undefined);
    const wanted: Record<string, PathContent> = {};
    if (inputs.persist) {
        const content = renderUnit(inputs.resourceName, inputs.interface, assignment, new Map(view.interrupts.map((l) => [l.irq, l.name])));
        if (snapshot.files.get(unit.unit) !== content || !enabledAt(snapshot, unit.link, unit.unit)) {
            files.write = [{ path: unit.unit, content }];
            files.link = [{ path: unit.link, target: unit.unit }];
        }
        wanted[unit.unit] = fileContent(content);
        wanted[unit.link] = linkTo(unit.unit);
    } else if (previous?.unitFile) {
        if (managedFiles) {
            const restore = planRestore(managedFiles, current, target, { paths: [unit.unit, unit.link] });
            files = restore.changes;
            warnings.push(...restore.warnings);
            managedFiles = forget(managedFiles, [unit.unit, unit.link]);
        } else {
            files.remove = [unit.unit, unit.link];
        }
    }
    const releasedConfig = irqbalance.record.banned ? undefined : previous?.irqbalanceState?.banned?.configFile;
    if (managedFiles && releasedConfig) {
        managedFiles = forget(managedFiles, [releasedConfig]);
    }
    if (irqbalance.record.banned && typeof irqbalance.action.config === "string") {
        const edited = managedFiles && originalWithEdits(previous?.irqbalanceState?.banned, view.irqbalance, managedFiles);
        if (managedFiles && edited) {
            managedFiles = { ...managedFiles, originals: { ...managedFiles.originals, [view.irqbalance.configFile]: edited } };
            warnings.push(`${target}: ${view.irqbalance.configFile} was edited since this resource wrote it; the edits stay, and a delete takes out only its --banirq flags`);
        }
        wanted[view.irqbalance.configFile] = configContent(irqbalance.action.config);
    }
    if (Object.keys(wanted).length > 0) {
        managedFiles = manage(managedFiles, current, wanted);
    }
    return {
        assignment,
        writes,
        files,
        irqbalance,
        record: { originals, irqbalanceState: irqbalance.record, unitFile: inputs.persist ? unit.unit : undefined, managedFiles },
        warnings,
    };
}

/** The ledger item of a resource that keeps irqbalance stopped. */
export const IRQBALANCE_SERVICE = "service:irqbalance";

/**
 * What a record changes on the host, as its ledger lists it: each IRQ's affinity file, the unit,
 * its link and irqbalance's environment file when edited, and irqbalance itself under "stop"
 * (another resource's delete starting it again would move these IRQs).
 */
export function irqItems(record: IrqRecord): string[] {
    const affinityFiles = Object.keys(record.originals).map((irq) => affinityFile(Number(irq)));
    return itemsOf([...affinityFiles, ...(record.irqbalanceState?.policy === "stop" ? [IRQBALANCE_SERVICE] : [])], record.managedFiles);
}
