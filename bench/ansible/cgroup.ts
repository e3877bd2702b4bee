// The CPU time the kernel charged to a cgroup and everything in it: cgroup v2's one tree (cpu.stat
// in every group, in µs), or where only v1 is mounted, its cpuacct hierarchy (cpuacct.usage, in ns).
import { existsSync, readFileSync } from "fs";
import * as path from "path";

const UNIFIED = existsSync("/sys/fs/cgroup/cgroup.controllers");

/** Where the bench makes its groups. */
export const CGROUP_ROOT = UNIFIED ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpuacct";

/** CPU time charged to the group `dir` and its descendants, in ns. */
export function cgroupUsageNs(dir: string): number {
    return UNIFIED ? usageFromCpuStat(readFileSync(path.join(dir, "cpu.stat"), "utf8")) : Number(readFileSync(path.join(dir, "cpuacct.usage"), "utf8"));
}

/** cpu.stat's `usage_usec`, in ns. */
export function usageFromCpuStat(text: string): number {
    const usage = /^usage_usec (\d+)$/m.exec(text);
    if (!usage) {
        throw new Error(`cpu.stat has no usage_usec: ${text.slice(0, 200)}`);
    }
    return Number(usage[1]) * 1000;
}
