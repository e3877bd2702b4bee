import { APPLICATION_CPU_INTERRUPTS, ProfilePlan, requirePositiveFacts } from "../profile/plan";

export interface LowLatencyFacts {
    busyPollMicros?: number;
    /**
     * The wake-up latency the application cores may take, in microseconds (their
     * pm_qos_resume_latency_us): deeper C-states are not entered. Default 3, tuned's.
     */
    wakeupLatencyUs?: number;
}

export function lowLatencyPlan(facts: LowLatencyFacts = {}): ProfilePlan {
    requirePositiveFacts("low-latency", {
        busyPollMicros: { value: facts.busyPollMicros, max: 1_000_000, unit: "microseconds", whole: true },
        // S32_MAX is the kernel's "no constraint": below it.
        wakeupLatencyUs: { value: facts.wakeupLatencyUs, max: 2147483646, unit: "microseconds", whole: true },
    });
    const busy = facts.busyPollMicros ?? 50;
    return {
        profile: "low-latency",
        sysctls: {
            "net.core.busy_read": { value: busy, sources: ["TUNED", "NETS"] },
            "net.core.busy_poll": { value: busy, sources: ["TUNED", "NETS"] },
            "net.ipv4.tcp_fastopen": { value: 3, sources: ["TUNED"] },
            "kernel.numa_balancing": { value: 0, sources: ["TUNED"] },
            "kernel.nmi_watchdog": { value: 0, sources: ["TUNED"], note: "no periodic NMI on every CPU; the hard-lockup detector is off" },
            "kernel.timer_migration": { value: 0, sources: ["TUNED"] },
            "vm.stat_interval": { value: 10, sources: ["TUNED"], note: "tuned's 10 over mlnx_tune's 30" },
            "vm.swappiness": { value: 10, sources: ["TUNED"] },
        },
        nic: { coalesce: { adaptiveRx: false, rxUsecs: 0 }, sources: ["MLNX"] },
        irq: { policy: "numaLocal", sources: ["MLNX", "RH-RT"] },
        governor: { governor: ["performance"], energyPerformancePreference: ["performance"], minPerfPct: 100, sources: ["TUNED"] },
        idle: {
            transparentHugepages: { value: "never", sources: ["TUNED", "MLNX"] },
            wakeupLatencyUs: {
                value: facts.wakeupLatencyUs ?? 3,
                sources: ["TUNED", "CLR"],
                note: "tuned's force_latency fallback (cstate.id_no_zero:1|3), per application core through sysfs instead of a process holding /dev/cpu_dma_latency",
            },
        },
        choices: [
            "vm.stat_interval: tuned (10) and mlnx_tune (30) disagree; 10 is tuned's shipped network-latency value. Override with 30 for fewer vmstat wake-ups.",
            "IRQ placement: NUMA-local cores minus the application cores (mlnx_tune); Red Hat RT also reports success running the application on the IRQ core - set applicationCpus accordingly.",
            "net.ipv4.tcp_low_latency is not set: it has had no effect since Linux 4.14.",
            "C-states: limited at run time on the application cores only (pm_qos_resume_latency_us), so the other cores still save power; without applicationCpus no limit is set. intel_idle.max_cstate= on the kernel command line is the boot-time alternative.",
        ],
        bootOnly: ["skew_tick=1", "nohz_full=<app cpus>", "rcu_nocbs=<app cpus>", "isolcpus=<app cpus>"],
        // Only what its own settings move: no budget or backlog knob here, so no softnet counter.
        improves: { value: [APPLICATION_CPU_INTERRUPTS], sources: ["TUNED", "MLNX"] },
    };
}
