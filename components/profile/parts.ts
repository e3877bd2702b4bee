import type { SettingValue } from "../../provider/sysctl/values";
import { isCpuList, parseCpuList } from "../../provider/cpus";
import { APPLICATION_CPU_INTERRUPTS, ProfilePlan, sysctlValues } from "./plan";

/** A CPU list covering any machine; IrqAffinity keeps only the online ones. */
const EVERY_CPU = "0-4095";

/** What a profile needs to know about the host besides how to reach it. */
export interface HostFacts {
    /** The NIC to tune (rings, coalescing, IRQs). Omit to leave NICs alone. */
    interface?: string;
    /** Cores the application runs on: NIC IRQs are kept off them. */
    applicationCpus?: string;
    /**
     * Keys absent or read-only on the host (global keys inside a container or network
     * namespace, older kernels): "skip" (default, listed in `skipped`) or "fail".
     */
    missingKeys?: "skip" | "fail";
    /** Hosts without cpufreq (most VMs): "skip" (default), "fail", or "unmanaged" (no CpuGovernor). */
    cpuFrequency?: "skip" | "fail" | "unmanaged";
    /** irqbalance before IRQ affinity: "ban" (default), "stop" or "leave". */
    irqbalance?: "ban" | "stop" | "leave";
    /** Keep the sysctl.d file, udev rule and systemd units for reboots. Default true. */
    persist?: boolean;
}

/** The inputs of each resource a plan turns into on one host (connection aside). */
export interface HostParts {
    /** `requiredKeys`: keys added by sysctlOverrides, never skipped (a typo would be). */
    sysctls: { settings: Record<string, SettingValue>; onMissing: "skip" | "fail"; persist: boolean; requiredKeys?: string[] };
    nic?: { interface: string; rings?: NonNullable<ProfilePlan["nic"]>["rings"]; coalesce?: NonNullable<ProfilePlan["nic"]>["coalesce"]; onUnsupported: "skip"; persist: boolean };
    irqs?: { interface: string; numaLocal?: boolean; spread?: string; exclude?: string; irqbalance: "ban" | "stop" | "leave"; persist: boolean };
    governor?: { governor: string[]; energyPerformancePreference?: string[]; minPerfPct?: number; onUnsupported: "skip" | "fail"; persist: boolean };
    modules?: { modules: string[]; persist: boolean };
    offloads?: { interface: string; txqueuelen: number; onUnsupported: "skip"; persist: boolean };
    steering?: { interface: string; rps: { cpus: string; exclude?: string }; rfs: { flowEntries: number }; onMissing: "skip"; persist: boolean };
    thp?: { enabled: "never" | "madvise" | "always"; persist: boolean };
    wakeup?: { cpus: string; latencyUs: number; persist: boolean };
}

/**
 * A SysctlSet always, after the kernel modules it needs; where the plan asks for them and the
 * host is described, a NIC config and queue length, RPS/RFS and IRQ affinity on the same
 * interface (off the application cores), a governor, THP, and a wake-up latency limit on the
 * application cores.
 */
export function hostParts(plan: ProfilePlan, facts: HostFacts): HostParts {
    const persist = facts.persist ?? true;
    const requiredKeys = Object.entries(plan.sysctls)
        .filter(([, cited]) => cited.mustExist)
        .map(([key]) => key);
    const parts: HostParts = { sysctls: { settings: sysctlValues(plan), onMissing: facts.missingKeys ?? "skip", persist, ...(requiredKeys.length > 0 && { requiredKeys }) } };
    if (facts.interface && plan.nic && (plan.nic.rings || plan.nic.coalesce)) {
        parts.nic = { interface: facts.interface, rings: plan.nic.rings, coalesce: plan.nic.coalesce, onUnsupported: "skip", persist };
    }
    if (facts.interface && plan.irq) {
        const placement = plan.irq.policy === "numaLocal" ? { numaLocal: true } : { spread: EVERY_CPU };
        parts.irqs = { interface: facts.interface, ...placement, exclude: facts.applicationCpus, irqbalance: facts.irqbalance ?? "ban", persist };
    }
    if (plan.governor && facts.cpuFrequency !== "unmanaged") {
        parts.governor = {
            governor: plan.governor.governor,
            energyPerformancePreference: plan.governor.energyPerformancePreference,
            ...(plan.governor.minPerfPct !== undefined && { minPerfPct: plan.governor.minPerfPct }),
            onUnsupported: facts.cpuFrequency ?? "skip",
            persist,
        };
    }
    if (plan.modules) {
        parts.modules = { modules: plan.modules.value, persist };
    }
    if (facts.interface && plan.steering) {
        // RFS steers each flow to its application's CPU whatever the RPS set; RPS itself, like
        // the IRQs, stays off the application cores. The flow table is global: skipped in a container.
        const rps = { cpus: EVERY_CPU, ...(facts.applicationCpus ? { exclude: facts.applicationCpus } : {}) };
        parts.steering = { interface: facts.interface, rps, rfs: { flowEntries: plan.steering.flowEntries }, onMissing: "skip", persist };
    }
    if (facts.interface && plan.queueLength) {
        parts.offloads = { interface: facts.interface, txqueuelen: plan.queueLength.txqueuelen, onUnsupported: "skip", persist };
    }
    if (plan.idle?.transparentHugepages) {
        parts.thp = { enabled: plan.idle.transparentHugepages.value, persist };
    }
    if (facts.applicationCpus && plan.idle?.wakeupLatencyUs) {
        parts.wakeup = { cpus: facts.applicationCpus, latencyUs: plan.idle.wakeupLatencyUs.value, persist };
    }
    return parts;
}

/**
 * The profile's counters on this host: "IF" becomes the interface (NIC counters need one), and
 * the NIC's interrupts on the application cores one counter per core (they need those cores).
 */
export function watchedCounters(plan: ProfilePlan, facts: Pick<HostFacts, "interface" | "applicationCpus">): string[] {
    const iface = facts.interface;
    return plan.improves.value.flatMap((c) => {
        if (!c.includes(".IF.")) {
            return [c];
        }
        if (!iface) {
            return [];
        }
        if (c === APPLICATION_CPU_INTERRUPTS) {
            // A malformed list is IrqAffinity's to refuse (its `exclude`), naming the property.
            return facts.applicationCpus && isCpuList(facts.applicationCpus) ? parseCpuList(facts.applicationCpus).map((cpu) => `irq.${iface}.cpu${cpu}`) : [];
        }
        return [c.replace(".IF.", `.${iface}.`)];
    });
}
