import { CpuGovernor } from "../../../provider";
import * as handlers from "../../../provider/cpu-governor/handlers";
import { connectionTo, onHost } from "../lab";
import type { LedgerCase } from "./case";

export const cpuGovernorCase: LedgerCase = {
    name: "CpuGovernor",
    kind: "cpu-governor",
    hardware: "server",
    args: (lab, host, variant) => ({
        connection: connectionTo(lab, host),
        governor: variant === "a" ? "performance" : "powersave",
        energyPerformancePreference: "performance",
        cpus: "1-2",
    }),
    fewer: (lab, host) => ({ connection: connectionTo(lab, host), governor: "performance", energyPerformancePreference: "performance", cpus: "1" }),
    declare: (name, args) => new CpuGovernor(name, args as never),
    create: handlers.create,
    hostState: (lab, host) =>
        onHost(lab, host, [
            "sh",
            "-c",
            "cd /sys/devices/system/cpu && grep -H . cpu[0-9]*/cpufreq/scaling_governor cpu[0-9]*/cpufreq/energy_performance_preference; find /etc/systemd -print0 | sort -z | xargs -0 ls -ld --time-style=+ | awk '{print $1, $NF}'",
        ]),
};
