import { formatCpuList, parseCpuList } from "../cpus";
import { FileChanges, FileSnapshot, ValueWrite } from "../host/files";
import { CpuGovernorInputs, preferenceList, unitName } from "./schema";

export const CPU_ROOT = "/sys/devices/system/cpu";
export const UNIT_DIR = "/etc/systemd/system";
const WANTS_DIR = `${UNIT_DIR}/multi-user.target.wants`;

const governorFile = (cpu: number) => `${CPU_ROOT}/cpu${cpu}/cpufreq/scaling_governor`;
const availableGovernorsFile = (cpu: number) => `${CPU_ROOT}/cpu${cpu}/cpufreq/scaling_available_governors`;
const eppFile = (cpu: number) => `${CPU_ROOT}/cpu${cpu}/cpufreq/energy_performance_preference`;
const availableEppFile = (cpu: number) => `${CPU_ROOT}/cpu${cpu}/cpufreq/energy_performance_available_preferences`;

export function readRequests(inputs: CpuGovernorInputs): string[] {
    return [
        `${CPU_ROOT}/online`,
        `${CPU_ROOT}/cpu[0-9]*/cpufreq/scaling_governor`,
        `${CPU_ROOT}/cpu[0-9]*/cpufreq/scaling_available_governors`,
        `${CPU_ROOT}/cpu[0-9]*/cpufreq/energy_performance_preference`,
        `${CPU_ROOT}/cpu[0-9]*/cpufreq/energy_performance_available_preferences`,
        `${UNIT_DIR}/${unitName(inputs.resourceName)}`,
    ];
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
    unitFile?: string;
}

export interface GovernorPlan {
    writes: ValueWrite[];
    files: FileChanges;
    record: GovernorRecord;
    /** Governor and EPP each CPU will have. */
    desired: { governors: PerCpu; epp: PerCpu };
    warnings: string[];
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

export function renderUnit(resourceName: string, desired: { governors: PerCpu; epp: PerCpu }): string {
    const lines = [
        "[Unit]",
        `Description=CPU frequency governor set by pulumi-linux-tuning (${resourceName.replace(/[\r\n]/g, " ")})`,
        "After=sysinit.target",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
    ];
    const cpus = Object.keys(desired.governors).map((c) => Number(c.slice(3)));
    for (const cpu of cpus.sort((a, b) => a - b)) {
        lines.push(`ExecStart=/bin/sh -c 'echo ${desired.governors[`cpu${cpu}`]} > ${governorFile(cpu)}'`);
        if (desired.epp[`cpu${cpu}`]) {
            lines.push(`ExecStart=/bin/sh -c 'echo ${desired.epp[`cpu${cpu}`]} > ${eppFile(cpu)}'`);
        }
    }
    lines.push("", "[Install]", "WantedBy=multi-user.target", "");
    return lines.join("\n");
}

export function unitPaths(resourceName: string): { unit: string; link: string } {
    const name = unitName(resourceName);
    return { unit: `${UNIT_DIR}/${name}`, link: `${WANTS_DIR}/${name}` };
}

export function planGovernor(inputs: CpuGovernorInputs, snapshot: FileSnapshot, target: string, previous?: GovernorRecord): GovernorPlan {
    const online = parseCpuList(read(snapshot, `${CPU_ROOT}/online`) ?? "");
    const requested = inputs.cpus ? parseCpuList(inputs.cpus) : online;
    const offline = requested.filter((cpu) => !online.includes(cpu));
    if (offline.length > 0) {
        throw new Error(`${target}: CPU ${formatCpuList(offline)} ${offline.length === 1 ? "is" : "are"} not online (online: ${formatCpuList(online)}). Nothing was changed.`);
    }
    const paths = unitPaths(inputs.resourceName);
    const withoutCpufreq = requested.filter((cpu) => read(snapshot, governorFile(cpu)) === undefined);
    const wantsEpp = inputs.energyPerformancePreference !== undefined;
    const withoutEpp = wantsEpp ? requested.filter((cpu) => read(snapshot, eppFile(cpu)) === undefined) : [];
    let unsupported: string | undefined;
    if (withoutCpufreq.length > 0) {
        unsupported = `CPU ${formatCpuList(withoutCpufreq)} ${withoutCpufreq.length === requested.length ? "have" : "has"} no cpufreq (${CPU_ROOT}/cpuN/cpufreq is absent, as in most VMs)`;
    } else if (withoutEpp.length > 0) {
        unsupported = `CPU ${formatCpuList(withoutEpp)} offer no energy_performance_preference (the driver is not intel_pstate/amd-pstate in active mode)`;
    }
    if (unsupported && inputs.onUnsupported === "fail") {
        throw new UnsupportedError(`${target}: ${unsupported}. Set onUnsupported: "skip" to accept that. Nothing was changed.`);
    }
    if (unsupported) {
        const files: FileChanges = previous?.unitFile ? { remove: [previous.unitFile, paths.link] } : {};
        return {
            writes: [],
            files,
            record: { originals: previous?.originals ?? {}, unsupported },
            desired: { governors: {}, epp: {} },
            warnings: [`${target}: skipped: ${unsupported} (onUnsupported: "skip")`],
        };
    }

    const writes: ValueWrite[] = [];
    const desired = { governors: {} as PerCpu, epp: {} as PerCpu };
    const originals: Record<string, CpuState> = {};
    for (const cpu of requested) {
        const id = `cpu${cpu}`;
        const governorNow = read(snapshot, governorFile(cpu))!;
        const eppNow = read(snapshot, eppFile(cpu));
        originals[id] = previous?.originals[id] ?? { governor: governorNow, ...(eppNow !== undefined ? { epp: eppNow } : {}) };

        const governor = firstAvailable(preferenceList(inputs.governor), read(snapshot, availableGovernorsFile(cpu)));
        if (!governor) {
            throw new Error(
                `${target}: none of ${preferenceList(inputs.governor).join(", ")} is available on ${id} ` +
                    `(available: ${read(snapshot, availableGovernorsFile(cpu)) || "none"}). Nothing was changed.`,
            );
        }
        desired.governors[id] = governor;
        if (governor !== governorNow) {
            writes.push({ path: governorFile(cpu), value: governor });
        }
        if (wantsEpp) {
            const epp = firstAvailable(preferenceList(inputs.energyPerformancePreference!), read(snapshot, availableEppFile(cpu)));
            if (!epp) {
                throw new Error(
                    `${target}: none of ${preferenceList(inputs.energyPerformancePreference!).join(", ")} is available on ${id} ` +
                        `(available: ${read(snapshot, availableEppFile(cpu)) || "none"}). Nothing was changed.`,
                );
            }
            desired.epp[id] = epp;
            if (epp !== eppNow) {
                writes.push({ path: eppFile(cpu), value: epp });
            }
        }
    }
    // CPUs dropped from the set go back to what they had.
    if (previous && inputs.restoreOnDelete) {
        for (const [id, original] of Object.entries(previous.originals)) {
            if (!(id in desired.governors)) {
                writes.push(...restoreWrites(id, original, snapshot));
            }
        }
    }

    const files: FileChanges = {};
    if (inputs.persist) {
        const content = renderUnit(inputs.resourceName, desired);
        if (read(snapshot, paths.unit) !== content.trim() || previous?.unitFile !== paths.unit) {
            files.write = [{ path: paths.unit, content }];
            files.link = [{ path: paths.link, target: paths.unit }];
        }
    } else if (previous?.unitFile) {
        files.remove = [previous.unitFile, paths.link];
    }
    return { writes, files, desired, warnings: [], record: { originals, unitFile: inputs.persist ? paths.unit : undefined } };
}

function restoreWrites(id: string, original: CpuState, snapshot: FileSnapshot): ValueWrite[] {
    const cpu = Number(id.slice(3));
    const writes: ValueWrite[] = [];
    if (read(snapshot, governorFile(cpu)) !== undefined && read(snapshot, governorFile(cpu)) !== original.governor) {
        writes.push({ path: governorFile(cpu), value: original.governor });
    }
    if (original.epp !== undefined && read(snapshot, eppFile(cpu)) !== undefined && read(snapshot, eppFile(cpu)) !== original.epp) {
        writes.push({ path: eppFile(cpu), value: original.epp });
    }
    return writes;
}

/** Delete: each CPU's original governor (then EPP) back, the unit gone. */
export function planGovernorRestore(record: GovernorRecord, snapshot: FileSnapshot, restore: boolean, resourceName: string): { writes: ValueWrite[]; files: FileChanges } {
    const writes = restore ? Object.entries(record.originals).flatMap(([id, original]) => restoreWrites(id, original, snapshot)) : [];
    return { writes, files: record.unitFile ? { remove: [record.unitFile, unitPaths(resourceName).link] } : {} };
}

export interface GovernorDrift {
    cpus: { cpu: string; live: string; desired: string }[];
    unit?: string;
}

export function detectGovernorDrift(desired: { governors: PerCpu; epp: PerCpu }, snapshot: FileSnapshot, unitFile: string | undefined, unitContent: string | undefined): GovernorDrift {
    const live = liveState(snapshot);
    const cpus: GovernorDrift["cpus"] = [];
    for (const [cpu, governor] of Object.entries(desired.governors)) {
        if (live.governors[cpu] !== governor) {
            cpus.push({ cpu, live: live.governors[cpu] ?? "absent", desired: governor });
        }
    }
    for (const [cpu, epp] of Object.entries(desired.epp)) {
        if (live.epp[cpu] !== epp) {
            cpus.push({ cpu: `${cpu} energy_performance_preference`, live: live.epp[cpu] ?? "absent", desired: epp });
        }
    }
    let unit: string | undefined;
    if (unitFile) {
        const content = snapshot.files.get(unitFile);
        unit = content === undefined ? `${unitFile} is missing` : content !== unitContent ? `${unitFile} was edited` : undefined;
    }
    return { cpus, unit };
}
