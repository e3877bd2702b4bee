import type { CheckFailure } from "../check";
import { formatCpuList, parseCpuList } from "../cpus";
import { FileChanges, FileSnapshot, ValueWrite } from "../host/files";
import { ALL_LEDGERS, itemsOf } from "../host/ledger";
import { ABSENT, ManagedFiles, enabledAt, fileContent, forget, linkTo, manage, pathContentOf, planRestore } from "../host/restore";
import { CpuGovernorInputs, preferenceList, unitName } from "./schema";

export const CPU_ROOT = "/sys/devices/system/cpu";
export const UNIT_DIR = "/etc/systemd/system";
const WANTS_DIR = `${UNIT_DIR}/multi-user.target.wants`;

const governorFile = (cpu: number) => `${CPU_ROOT}/cpu${cpu}/cpufreq/scaling_governor`;
const availableGovernorsFile = (cpu: number) => `${CPU_ROOT}/cpu${cpu}/cpufreq/scaling_available_governors`;
const eppFile = (cpu: number) => `${CPU_ROOT}/cpu${cpu}/cpufreq/energy_performance_preference`;
const availableEppFile = (cpu: number) => `${CPU_ROOT}/cpu${cpu}/cpufreq/energy_performance_available_preferences`;
/** intel_pstate's floor for every CPU, in percent of the maximum performance (global, not per CPU). */
const MIN_PERF_FILE = `${CPU_ROOT}/intel_pstate/min_perf_pct`;
const MAX_PERF_FILE = `${CPU_ROOT}/intel_pstate/max_perf_pct`;

export function readRequests(inputs: CpuGovernorInputs): string[] {
    return [
        `${CPU_ROOT}/online`,
        `${CPU_ROOT}/cpu[0-9]*/cpufreq/scaling_governor`,
        `${CPU_ROOT}/cpu[0-9]*/cpufreq/scaling_available_governors`,
        `${CPU_ROOT}/cpu[0-9]*/cpufreq/energy_performance_preference`,
        `${CPU_ROOT}/cpu[0-9]*/cpufreq/energy_performance_available_preferences`,
        `${CPU_ROOT}/cpu[0-9]*/cpufreq/scaling_driver`,
        MIN_PERF_FILE,
        MAX_PERF_FILE,
        `${CPU_ROOT}/cpu0/cpufreq/cpuinfo_min_freq`,
        `${CPU_ROOT}/cpu0/cpufreq/cpuinfo_max_freq`,
        `${UNIT_DIR}/${unitName(inputs.resourceName)}`,
        `symlink:${unitPaths(inputs.resourceName).link}`,
        `readlink:${CPU_ROOT}/cpu[0-9]*/cpufreq`,
        ALL_LEDGERS,
    ];
}

/** The ledger directory's name: /var/lib/pulumi-linux-tuning/cpu-governor. */
export const LEDGER_KIND = "cpu-governor";

/**
 * What a record changes on the host, as its ledger lists it: each CPU's governor (and EPP) file,
 * also by its real path (`cpuN/cpufreq` links to a `cpufreq/policyM` that several CPUs may
 * share, so two resources on CPUs of one policy write one file), the unit and its link.
 */
export function governorItems(record: GovernorRecord, snapshot?: FileSnapshot): string[] {
    const cpuFiles = Object.entries(record.originals).flatMap(([id, original]) => {
        const cpu = Number(id.slice(3));
        const files = original.epp !== undefined ? [governorFile(cpu), eppFile(cpu)] : [governorFile(cpu)];
        const dir = `${CPU_ROOT}/cpu${cpu}/cpufreq`;
        const real = snapshot?.links.get(dir);
        return real && real !== dir ? [...files, ...files.map((f) => real + f.slice(dir.length))] : files;
    });
    return itemsOf([...cpuFiles, ...(record.minPerfPctOriginal !== undefined ? [MIN_PERF_FILE] : [])], record.managedFiles);
}

/** Per-CPU policy: "cpu0" → value. */
export type PerCpu = Record<string, string>;

export interface CpuState {
    governor: string;
    epp?: string;
}

export interface GovernorRecord {
    /** What each CPU had before this resource first changed it. */
    originals: Record<string, CpuState>;
    /** Why nothing was applied, under onUnsupported: "skip". */
    unsupported?: string;
    /** Whether it set the EPP: an update that stops declaring it puts each CPU's back (kept while the driver holds it at performance, until it can). */
    eppDeclared?: boolean;
    /** Why the declared EPP was left out on some CPUs, under onUnsupported: "skip". */
    eppUnsupported?: string;
    /** intel_pstate's min_perf_pct before this resource first set it. */
    minPerfPctOriginal?: string;
    unitFile?: string;
    /** The host-side ledger holding the originals and the owner. */
    ledgerFile?: string;
    /** The unit and its link as they were before this resource, and the directories it created. */
    managedFiles?: ManagedFiles;
}

export interface GovernorPlan {
    writes: ValueWrite[];
    files: FileChanges;
    record: GovernorRecord;
    /** Governor and EPP each CPU will have, and intel_pstate's min_perf_pct. */
    desired: Desired;
    warnings: string[];
}

export interface Desired {
    governors: PerCpu;
    epp: PerCpu;
    minPerfPct?: string;
}

/** Takes the unit and its link out: each path back as it was (legacy state without a record: removed). */
function unitRemoval(previous: GovernorRecord, snapshot: FileSnapshot, target: string, resourceName: string, removeDirs: boolean): { files: FileChanges; warnings: string[]; managed?: ManagedFiles } {
    const paths = unitPaths(resourceName);
    if (!previous.managedFiles) {
        return { files: previous.unitFile ? { remove: [previous.unitFile, paths.link] } : {}, warnings: [] };
    }
    const restore = planRestore(previous.managedFiles, (p) => pathContentOf(snapshot, p), target, { paths: [paths.unit, paths.link], removeDirs });
    return { files: restore.changes, warnings: restore.warnings, managed: forget(previous.managedFiles, [paths.unit, paths.link]) };
}

export class UnsupportedError extends Error {}

const read = (snapshot: FileSnapshot, path: string) => snapshot.files.get(path)?.trim();

export function liveState(snapshot: FileSnapshot): { governors: PerCpu; epp: PerCpu } {
    const governors: PerCpu = {};
    const epp: PerCpu = {};
    for (const [path, content] of snapshot.files) {
        const match = /\/cpu(\d+)\/cpufreq\/(scaling_governor|energy_performance_preference)$/.exec(path);
        if (match) {
            (match[2] === "scaling_governor" ? governors : epp)[`cpu${match[1]}`] = content.trim();
        }
    }
    return { governors, epp };
}

function firstAvailable(wanted: string[], available: string | undefined): string | undefined {
    const offered = (available ?? "").split(/\s+/).filter(Boolean);
    return wanted.find((w) => offered.includes(w));
}

export function renderUnit(resourceName: string, desired: Desired): string {
    const lines = [
        "[Unit]",
        `Description=CPU frequency governor set by pulumi-linux-tuning (${resourceName.replace(/[\r\n]/g, " ")})`,
        // Last among the services that set governors at boot (Ubuntu's ondemand.service writes
        // powersave), so the declared one is what the boot ends with; After= a unit not installed is no error.
        "After=sysinit.target ondemand.service cpufrequtils.service power-profiles-daemon.service tuned.service",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
    ];
    const cpus = Object.keys(desired.governors).map((c) => Number(c.slice(3)));
    // "-": a CPU the boot lacks (nosmt, maxcpus=, offline) fails alone; a oneshot stops at its first failing line.
    for (const cpu of cpus.sort((a, b) => a - b)) {
        lines.push(`ExecStart=-/bin/sh -c 'echo ${desired.governors[`cpu${cpu}`]} > ${governorFile(cpu)}'`);
        if (desired.epp[`cpu${cpu}`]) {
            lines.push(`ExecStart=-/bin/sh -c 'echo ${desired.epp[`cpu${cpu}`]} > ${eppFile(cpu)}'`);
        }
    }
    if (desired.minPerfPct !== undefined) {
        lines.push(`ExecStart=-/bin/sh -c 'echo ${desired.minPerfPct} > ${MIN_PERF_FILE}'`);
    }
    lines.push("", "[Install]", "WantedBy=multi-user.target", "");
    return lines.join("\n");
}

export function unitPaths(resourceName: string): { unit: string; link: string } {
    const name = unitName(resourceName);
    return { unit: `${UNIT_DIR}/${name}`, link: `${WANTS_DIR}/${name}` };
}

/** Something the host cannot do as declared: `property` is the input at fault, `why` says how. */
export interface GovernorProblem {
    property: string;
    why: string;
    /** No cpufreq or no EPP at all (the onUnsupported case). */
    unsupported?: boolean;
}

interface Assessment {
    requested: number[];
    /** Why nothing can be applied, when the CPUs lack cpufreq. */
    unsupported?: string;
    /** The requested CPUs that take a declared EPP (every one, or the task fails, unless skipped). */
    eppCpus: number[];
    /** Why the declared EPP is left out on some CPUs, under onUnsupported: "skip". */
    eppUnsupported?: string;
    /** Why the declared minPerfPct is left out (no intel_pstate), whatever onUnsupported says. */
    minPerfUnsupported?: string;
    /** What create/update would refuse, in the order they would find it; at most one per property. */
    problems: GovernorProblem[];
}

/**
 * Whether the driver holds the CPU's EPP at "performance" under `governor`: intel_pstate and
 * amd-pstate-epp, in their active modes, refuse any other EPP under the performance policy
 * (EBUSY); in passive mode (intel_cpufreq) the governor runs and the EPP is taken.
 */
function pinsEppUnder(cpu: number, governor: string | undefined, snapshot: FileSnapshot): boolean {
    return governor === "performance" && read(snapshot, `${CPU_ROOT}/cpu${cpu}/cpufreq/scaling_driver`) !== "intel_cpufreq";
}

/** Reads a snapshot against the inputs: offline CPUs, missing cpufreq/EPP, governors and EPP values the CPUs lack. */
function assess(inputs: CpuGovernorInputs, snapshot: FileSnapshot): Assessment {
    const online = parseCpuList(read(snapshot, `${CPU_ROOT}/online`) ?? "");
    const requested = inputs.cpus ? parseCpuList(inputs.cpus) : online;
    const offline = requested.filter((cpu) => !online.includes(cpu));
    if (offline.length > 0) {
        const why = `CPU ${formatCpuList(offline)} ${offline.length === 1 ? "is" : "are"} not online (online: ${formatCpuList(online)})`;
        return { requested, eppCpus: [], problems: [{ property: "cpus", why }] };
    }
    const split = inputs.cpus ? policySplit(requested, online, snapshot) : undefined;
    if (split) {
        return { requested, eppCpus: [], problems: [{ property: "cpus", why: split }] };
    }
    const unsupportedProblem = (property: string, why: string): GovernorProblem[] =>
        inputs.onUnsupported === "fail" ? [{ property, why: `${why}. Set onUnsupported: "skip" to accept that`, unsupported: true }] : [];
    const withoutCpufreq = requested.filter((cpu) => read(snapshot, governorFile(cpu)) === undefined);
    if (withoutCpufreq.length > 0) {
        const why = `CPU ${formatCpuList(withoutCpufreq)} ${withoutCpufreq.length === requested.length ? "have" : "has"} no cpufreq (${CPU_ROOT}/cpuN/cpufreq is absent, as in most VMs)`;
        return { requested, eppCpus: [], unsupported: why, problems: unsupportedProblem("governor", why) };
    }
    const wantsEpp = inputs.energyPerformancePreference !== undefined;
    const eppCpus = wantsEpp ? requested.filter((cpu) => read(snapshot, eppFile(cpu)) !== undefined) : [];
    const withoutEpp = wantsEpp ? requested.filter((cpu) => !eppCpus.includes(cpu)) : [];
    // A driver without EPP (acpi-cpufreq, cppc_cpufreq, intel_pstate in passive mode) still takes the governor.
    const eppUnsupported =
        withoutEpp.length > 0
            ? `CPU ${formatCpuList(withoutEpp)} ${withoutEpp.length === 1 ? "offers" : "offer"} no energy_performance_preference (driver ${read(snapshot, `${CPU_ROOT}/cpu${withoutEpp[0]}/cpufreq/scaling_driver`) || "unknown"}, not intel_pstate or amd-pstate-epp in active mode)`
            : undefined;
    if (eppUnsupported && inputs.onUnsupported === "fail") {
        return { requested, eppCpus, problems: unsupportedProblem("energyPerformancePreference", eppUnsupported) };
    }
    const problems: GovernorProblem[] = [];
    const lacking = (property: string, wanted: string | string[], cpus: number[], availableFile: (cpu: number) => string) => {
        const cpu = cpus.find((c) => !firstAvailable(preferenceList(wanted), read(snapshot, availableFile(c))));
        if (cpu !== undefined) {
            const why = `none of ${preferenceList(wanted).join(", ")} is available on cpu${cpu} (available: ${read(snapshot, availableFile(cpu)) || "none"})`;
            problems.push({ property, why });
        }
    };
    lacking("governor", inputs.governor, requested, availableGovernorsFile);
    if (eppCpus.length > 0) {
        lacking("energyPerformancePreference", inputs.energyPerformancePreference!, eppCpus, availableEppFile);
    }
    if (eppCpus.length > 0 && problems.length === 0) {
        const cpu = eppCpus.find(
            (c) =>
                pinsEppUnder(c, firstAvailable(preferenceList(inputs.governor), read(snapshot, availableGovernorsFile(c))), snapshot) &&
                firstAvailable(preferenceList(inputs.energyPerformancePreference!), read(snapshot, availableEppFile(c))) !== "performance",
        );
        if (cpu !== undefined) {
            problems.push({ property: "energyPerformancePreference", why: `cpu${cpu} would run the performance governor, under which the driver takes only the EPP "performance" (it refuses others with EBUSY)` });
        }
    }
    const minPerf = minPerfAssessment(inputs, snapshot);
    problems.push(...minPerf.problems);
    return { requested, eppCpus, ...(eppUnsupported && { eppUnsupported }), ...(minPerf.unsupported && { minPerfUnsupported: minPerf.unsupported }), problems };
}

/**
 * A declared minPerfPct against the host: intel_pstate's file absent (another driver, or
 * intel_pstate off: skipped, as tuned skips it, whatever onUnsupported says, since no other
 * driver has the knob), or a floor the kernel would clamp: above max_perf_pct, or below the
 * lowest performance the CPU has (its cpuinfo_min_freq in percent of cpuinfo_max_freq).
 */
function minPerfAssessment(inputs: CpuGovernorInputs, snapshot: FileSnapshot): { unsupported?: string; problems: GovernorProblem[] } {
    if (inputs.minPerfPct === undefined) {
        return { problems: [] };
    }
    if (read(snapshot, MIN_PERF_FILE) === undefined) {
        const driver = read(snapshot, `${CPU_ROOT}/cpu0/cpufreq/scaling_driver`);
        return { unsupported: `no ${MIN_PERF_FILE} (driver ${driver || "unknown"}): min_perf_pct is intel_pstate's own`, problems: [] };
    }
    const max = Number(read(snapshot, MAX_PERF_FILE) ?? 100);
    if (inputs.minPerfPct > max) {
        return { problems: [{ property: "minPerfPct", why: `${inputs.minPerfPct} is above intel_pstate's max_perf_pct ${max} here, and the kernel keeps min_perf_pct at or below it` }] };
    }
    const [lowest, highest] = ["cpuinfo_min_freq", "cpuinfo_max_freq"].map((f) => Number(read(snapshot, `${CPU_ROOT}/cpu0/cpufreq/${f}`)));
    const floor = lowest > 0 && highest > 0 ? Math.ceil((lowest * 100) / highest) : 0;
    if (inputs.minPerfPct < floor) {
        return { problems: [{ property: "minPerfPct", why: `${inputs.minPerfPct} is below the lowest performance these CPUs have (${floor}%: cpuinfo_min_freq ${lowest} of cpuinfo_max_freq ${highest} kHz), which the kernel raises min_perf_pct to` }] };
    }
    return { problems: [] };
}

/**
 * A declared CPU whose cpufreq policy (the directory `cpuN/cpufreq` resolves to: `cpufreq/policyM`,
 * or before Linux 4.3 the first CPU's own `cpuN/cpufreq`) also covers online CPUs the set leaves
 * out: one governor and EPP hold for the whole policy, so setting it for some sets it for all, and
 * giving the others theirs back would undo it.
 */
function policySplit(requested: number[], online: number[], snapshot: FileSnapshot): string | undefined {
    const policyOf = (cpu: number) => snapshot.links.get(`${CPU_ROOT}/cpu${cpu}/cpufreq`) || undefined;
    for (const cpu of requested) {
        const policy = policyOf(cpu);
        const left = policy ? online.filter((c) => !requested.includes(c) && policyOf(c) === policy) : [];
        if (left.length > 0) {
            const all = online.filter((c) => policyOf(c) === policy);
            return `cpu${cpu} shares its cpufreq policy (${policy}) with CPU ${formatCpuList(left)}, which cpus leaves out: one governor holds for the whole policy, so declare CPU ${formatCpuList(all)} together, or none of them`;
        }
    }
    return undefined;
}

/** What planGovernor would refuse on this host, as check failures naming the property and the host. */
export function governorProblems(inputs: CpuGovernorInputs, snapshot: FileSnapshot, target: string): CheckFailure[] {
    return assess(inputs, snapshot).problems.map((p) => ({ property: p.property, reason: `${target}: ${p.why}` }));
}

export function planGovernor(inputs: CpuGovernorInputs, snapshot: FileSnapshot, target: string, previous?: GovernorRecord): GovernorPlan {
    const { requested, unsupported, eppCpus, eppUnsupported, minPerfUnsupported, problems } = assess(inputs, snapshot);
    if (problems.length > 0) {
        const message = `${target}: ${problems[0].why}. Nothing was changed.`;
        throw problems[0].unsupported ? new UnsupportedError(message) : new Error(message);
    }
    const paths = unitPaths(inputs.resourceName);
    if (unsupported) {
        const removal = previous?.unitFile ? unitRemoval(previous, snapshot, target, inputs.resourceName, false) : { files: {}, warnings: [], managed: previous?.managedFiles };
        // Skipped now after an earlier apply: what it set and can still be reached goes back, as for a delete.
        const putBack = inputs.restoreOnDelete ? Object.entries(previous?.originals ?? {}).flatMap(([id, original]) => restoreWrites(id, original, snapshot)) : [];
        return {
            writes: putBack,
            files: removal.files,
            record: { originals: inputs.restoreOnDelete ? {} : (previous?.originals ?? {}), unsupported, managedFiles: removal.managed },
            desired: { governors: {}, epp: {} },
            warnings: [`${target}: skipped: ${unsupported} (onUnsupported: "skip")${putBack.length > 0 ? "; what an earlier apply set is put back" : ""}`, ...removal.warnings],
        };
    }

    const writes: ValueWrite[] = [];
    const desired: Desired = { governors: {}, epp: {} };
    const originals: Record<string, CpuState> = {};
    let eppOwed = false;
    for (const cpu of requested) {
        const id = `cpu${cpu}`;
        const governorNow = read(snapshot, governorFile(cpu))!;
        const eppNow = read(snapshot, eppFile(cpu));
        originals[id] = previous?.originals[id] ?? { governor: governorNow, ...(eppNow !== undefined ? { epp: eppNow } : {}) };

        // assess() found every CPU offering one of the preference list.
        const governor = firstAvailable(preferenceList(inputs.governor), read(snapshot, availableGovernorsFile(cpu)))!;
        desired.governors[id] = governor;
        if (governor !== governorNow) {
            writes.push({ path: governorFile(cpu), value: governor });
        }
        if (eppCpus.includes(cpu)) {
            const epp = firstAvailable(preferenceList(inputs.energyPerformancePreference!), read(snapshot, availableEppFile(cpu)))!;
            desired.epp[id] = epp;
            // A governor change makes the driver put back the EPP it kept for that policy: written after it, whatever it read before.
            if (epp !== eppNow || governor !== governorNow) {
                writes.push({ path: eppFile(cpu), value: epp });
            }
        } else if (previous?.eppDeclared && inputs.restoreOnDelete) {
            // No longer declared: the EPP goes back, unless the driver pins it under this governor;
            // then it is still owed, since leaving performance later brings back the EPP the driver
            // kept for the policy, ours.
            const original = originals[id].epp;
            if (original !== undefined && eppNow !== undefined) {
                if (pinsEppUnder(cpu, governor, snapshot)) {
                    eppOwed ||= original !== "performance";
                } else if (original !== eppNow || governor !== governorNow) {
                    writes.push({ path: eppFile(cpu), value: original });
                }
            }
        }
    }
    const warnings: string[] = eppUnsupported ? [`${target}: skipped energyPerformancePreference: ${eppUnsupported} (onUnsupported: "skip"); the governor is set`] : [];
    // CPUs dropped from the set go back to what they had; one whose policy cannot be read now
    // (offline, its policy inactive) keeps its original until it can, rather than losing it.
    if (previous && inputs.restoreOnDelete) {
        const dropped = Object.entries(previous.originals).filter(([id]) => !(id in desired.governors));
        const waiting = unrestorable(Object.fromEntries(dropped), snapshot);
        // A dropped CPU in the policy of a declared one (offline now, so cpus could leave it out)
        // writes that policy's one file: putting its original back would undo the declared CPUs'.
        // Theirs go back at the delete, for the whole policy.
        const policyOf = (id: string) => snapshot.links.get(`${CPU_ROOT}/${id}/cpufreq`) || undefined;
        const declaredPolicies = new Set<string | undefined>(Object.keys(desired.governors).map(policyOf).filter((p) => p !== undefined));
        for (const [id, original] of dropped) {
            if (waiting.includes(id)) {
                originals[id] = original;
            } else if (!declaredPolicies.has(policyOf(id))) {
                writes.push(...restoreWrites(id, original, snapshot));
            }
        }
        if (waiting.length > 0) {
            warnings.push(`${target}: ${waiting.join(", ")} cannot be read now (offline, its cpufreq policy inactive): its original governor is kept, to go back at an update or the delete once it is online`);
        }
    }

    if (minPerfUnsupported) {
        warnings.push(`${target}: skipped minPerfPct: ${minPerfUnsupported}, as tuned skips it`);
    }
    const minPerf = planMinPerf(inputs, snapshot, previous?.minPerfPctOriginal);
    writes.push(...minPerf.writes);
    if (minPerf.desired !== undefined) {
        desired.minPerfPct = minPerf.desired;
    }

    let files: FileChanges = {};
    // State from before these records: the unit and link were ours, absent before.
    let managedFiles = previous?.managedFiles ?? (previous?.unitFile ? { originals: { [paths.unit]: ABSENT, [paths.link]: ABSENT }, written: {}, createdDirs: [] } : undefined);
    if (inputs.persist) {
        const content = renderUnit(inputs.resourceName, desired);
        if (snapshot.files.get(paths.unit) !== content || !enabledAt(snapshot, paths.link, paths.unit) || previous?.unitFile !== paths.unit) {
            files.write = [{ path: paths.unit, content }];
            files.link = [{ path: paths.link, target: paths.unit }];
        }
        managedFiles = manage(managedFiles, (p) => pathContentOf(snapshot, p), { [paths.unit]: fileContent(content), [paths.link]: linkTo(paths.unit) });
    } else if (previous?.unitFile) {
        const removal = unitRemoval(previous, snapshot, target, inputs.resourceName, false);
        files = removal.files;
        warnings.push(...removal.warnings);
        managedFiles = removal.managed;
    }
    const record: GovernorRecord = {
        originals,
        ...((eppCpus.length > 0 || eppOwed) && { eppDeclared: true }),
        ...(eppUnsupported && { eppUnsupported }),
        ...(minPerf.original !== undefined && { minPerfPctOriginal: minPerf.original }),
        unitFile: inputs.persist ? paths.unit : undefined,
        managedFiles,
    };
    return { writes, files, desired, warnings, record };
}

/**
 * intel_pstate's min_perf_pct: set when declared (its original taken the first time), put back
 * when no longer declared (kept while intel_pstate cannot be read, to go back when it can).
 */
function planMinPerf(inputs: CpuGovernorInputs, snapshot: FileSnapshot, original: string | undefined): { writes: ValueWrite[]; desired?: string; original?: string } {
    const now = read(snapshot, MIN_PERF_FILE);
    if (inputs.minPerfPct !== undefined && now !== undefined) {
        const desired = String(inputs.minPerfPct);
        return { writes: now !== desired ? [{ path: MIN_PERF_FILE, value: desired }] : [], desired, original: original ?? now };
    }
    if (!inputs.restoreOnDelete) {
        return { writes: [] };
    }
    return { writes: minPerfRestore(original, snapshot), original: now === undefined ? original : undefined };
}

/** min_perf_pct's original back, where it differs and intel_pstate can be read. */
function minPerfRestore(original: string | undefined, snapshot: FileSnapshot): ValueWrite[] {
    const now = read(snapshot, MIN_PERF_FILE);
    return original !== undefined && now !== undefined && now !== original ? [{ path: MIN_PERF_FILE, value: original }] : [];
}

/** CPUs with an original whose governor cannot be read (an offline CPU's inactive policy answers EBUSY): nothing can go back there now. */
export function unrestorable(originals: Record<string, CpuState>, snapshot: FileSnapshot): string[] {
    return Object.keys(originals).filter((id) => read(snapshot, governorFile(Number(id.slice(3)))) === undefined);
}

function restoreWrites(id: string, original: CpuState, snapshot: FileSnapshot): ValueWrite[] {
    const cpu = Number(id.slice(3));
    const writes: ValueWrite[] = [];
    const governorBack = read(snapshot, governorFile(cpu)) !== undefined && read(snapshot, governorFile(cpu)) !== original.governor;
    if (governorBack) {
        writes.push({ path: governorFile(cpu), value: original.governor });
    }
    if (original.epp !== undefined && read(snapshot, eppFile(cpu)) !== undefined && (governorBack || read(snapshot, eppFile(cpu)) !== original.epp)) {
        writes.push({ path: eppFile(cpu), value: original.epp });
    }
    return writes;
}

/**
 * Delete: each CPU's original governor (then EPP) back; the unit and its link back as they were
 * (gone, when they did not exist), and the directories created for them removed when empty.
 */
export function planGovernorRestore(
    record: GovernorRecord,
    snapshot: FileSnapshot,
    restore: boolean,
    resourceName: string,
    target = "",
): { writes: ValueWrite[]; files: FileChanges; warnings: string[] } {
    const waiting = restore ? unrestorable(record.originals, snapshot) : [];
    if (waiting.length > 0) {
        // The ledger stays, with state: once the CPU is online the delete can put its governor back.
        throw new Error(
            `${target}: cannot put back the original governor of ${waiting.join(", ")}: its cpufreq cannot be read (the CPU is offline and its policy inactive, or gone). ` +
                `Bring it online and delete again, or set restoreOnDelete: false to leave it. Nothing was changed.`,
        );
    }
    const writes = restore ? [...Object.entries(record.originals).flatMap(([id, original]) => restoreWrites(id, original, snapshot)), ...minPerfRestore(record.minPerfPctOriginal, snapshot)] : [];
    if (record.managedFiles) {
        const plan = planRestore(record.managedFiles, (p) => pathContentOf(snapshot, p), target, { removeDirs: true });
        return { writes, files: plan.changes, warnings: plan.warnings };
    }
    return { writes, files: record.unitFile ? { remove: [record.unitFile, unitPaths(resourceName).link] } : {}, warnings: [] };
}

export interface GovernorDrift {
    /** Per CPU ("cpu2", "cpu2 energy_performance_preference"), and intel_pstate's min_perf_pct. */
    values: { name: string; live: string; desired: string }[];
    unit?: string;
}

export function detectGovernorDrift(desired: Desired, snapshot: FileSnapshot, unitFile: string | undefined, unitContent: string | undefined): GovernorDrift {
    const live = liveState(snapshot);
    const values: GovernorDrift["values"] = [];
    for (const [cpu, governor] of Object.entries(desired.governors)) {
        if (live.governors[cpu] !== governor) {
            values.push({ name: cpu, live: live.governors[cpu] ?? "absent", desired: governor });
        }
    }
    for (const [cpu, epp] of Object.entries(desired.epp)) {
        if (live.epp[cpu] !== epp) {
            values.push({ name: `${cpu} energy_performance_preference`, live: live.epp[cpu] ?? "absent", desired: epp });
        }
    }
    const minPerf = read(snapshot, MIN_PERF_FILE);
    if (desired.minPerfPct !== undefined && minPerf !== desired.minPerfPct) {
        values.push({ name: "intel_pstate min_perf_pct", live: minPerf ?? "absent", desired: desired.minPerfPct });
    }
    let unit: string | undefined;
    if (unitFile) {
        const content = snapshot.files.get(unitFile);
        const link = `${WANTS_DIR}/${unitFile.slice(unitFile.lastIndexOf("/") + 1)}`;
        unit =
            content === undefined
                ? `${unitFile} is missing`
                : content !== unitContent
                  ? `${unitFile} was edited`
                  : !enabledAt(snapshot, link, unitFile)
                    ? `${unitFile} is not enabled (no ${link})`
                    : undefined;
    }
    return { values, unit };
}

/** intel_pstate's live min_perf_pct, where the host has it. */
export const liveMinPerf = (snapshot: FileSnapshot): string | undefined => read(snapshot, MIN_PERF_FILE);
