import * as pulumi from "@pulumi/pulumi";
import { ProfilePlan } from "../profile/plan";
import { ProfileHostArgs, TuningProfile } from "../profile/tuning-profile";

export interface LowLatencyFacts {
    /** Leave THP/C-states to the kernel command line; this profile never reboots a host. */
    busyPollMicros?: number;
}

export function lowLatencyPlan(facts: LowLatencyFacts = {}): ProfilePlan {
    const busy = facts.busyPollMicros ?? 50;
    return {
        profile: "low-latency",
        sysctls: {
            "net.core.busy_read": { value: busy, sources: ["TUNED", "NETS"] },
            "net.core.busy_poll": { value: busy, sources: ["TUNED", "NETS"] },
            "net.ipv4.tcp_fastopen": { value: 3, sources: ["TUNED"] },
            "kernel.numa_balancing": { value: 0, sources: ["TUNED"] },
            "kernel.timer_migration": { value: 0, sources: ["TUNED"] },
            "vm.stat_interval": { value: 10, sources: ["TUNED"], note: "tuned's 10 over mlnx_tune's 30" },
            "vm.swappiness": { value: 10, sources: ["TUNED"] },
        },
        nic: { coalesce: { adaptiveRx: false, rxUsecs: 0 }, sources: ["MLNX"] },
        irq: { policy: "numaLocal", sources: ["MLNX", "FD-IRQ"] },
        governor: { governor: ["performance"], energyPerformancePreference: ["performance"], sources: ["TUNED"] },
        choices: [
            "vm.stat_interval: tuned (10) and mlnx_tune (30) disagree; 10 is tuned's shipped network-latency value. Override with 30 for fewer vmstat wake-ups.",
            "IRQ placement: NUMA-local cores minus the application cores (mlnx_tune); Red Hat RT also reports success running the application on the IRQ core - set applicationCpus accordingly.",
            "net.ipv4.tcp_low_latency is not set: it has had no effect since Linux 4.14.",
            "Transparent huge pages (never) and C-state limits are not sysctls and are left to the host's boot configuration.",
        ],
        bootOnly: ["skew_tick=1", "nohz_full=<app cpus>", "rcu_nocbs=<app cpus>", "isolcpus=<app cpus>"],
        improves: { value: ["softnet.time_squeeze", "softnet.dropped"], sources: ["TUNED", "NETS"] },
    };
}

export interface LowLatencyProfileArgs extends ProfileHostArgs, LowLatencyFacts {}

/** Busy polling, fast open, performance governor, NUMA-local IRQs off the application cores, coalescing off. */
export class LowLatencyProfile extends TuningProfile {
    constructor(name: string, args: LowLatencyProfileArgs, opts?: pulumi.ComponentResourceOptions) {
        super("linux-tuning:profiles:LowLatency", name, lowLatencyPlan(args), args, opts);
    }
}
