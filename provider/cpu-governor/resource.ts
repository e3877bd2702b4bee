import * as pulumi from "@pulumi/pulumi";
import { delegatingProvider, secretConnection } from "../dynamic";
import { withinEngineLimits } from "../input-size";
import { ConnectionArgs } from "../transport/connection";

export interface CpuGovernorArgs {
    /** The host. Omit for the machine running Pulumi. */
    connection?: pulumi.Input<ConnectionArgs>;
    /** A governor, or a preference list: the first one the CPU offers wins (like tuned). */
    governor: pulumi.Input<string | string[]>;
    /** energy_performance_preference (intel_pstate/amd-pstate active mode), or a preference list. */
    energyPerformancePreference?: pulumi.Input<string | string[]>;
    /** CPU list such as "0-3,8". Default: every online CPU. */
    cpus?: pulumi.Input<string>;
    /**
     * intel_pstate's performance floor in percent (/sys/devices/system/cpu/intel_pstate/min_perf_pct),
     * for every CPU of the host whatever `cpus` says: tuned's latency-performance sets 100. Skipped,
     * with a warning, where the host has no intel_pstate, as tuned skips it.
     */
    minPerfPct?: pulumi.Input<number>;
    /** A host without cpufreq (most VMs) or without EPP: "fail" (default) or "skip" (reported). */
    onUnsupported?: pulumi.Input<"fail" | "skip">;
    /** Install a systemd oneshot unit that re-applies the governor at boot. Default true. */
    persist?: pulumi.Input<boolean>;
    /** On delete, put back each CPU's governor and EPP. Default true. */
    restoreOnDelete?: pulumi.Input<boolean>;
}

/** The cpufreq governor (and energy-performance preference) for a set of CPUs on one host. */
export class CpuGovernor extends pulumi.dynamic.Resource {
    /** Live governor per CPU ("cpu0" → "performance"). */
    declare public readonly governors: pulumi.Output<Record<string, string>>;
    /** Live energy_performance_preference per CPU, where requested. */
    declare public readonly energyPerformancePreferences: pulumi.Output<Record<string, string>>;
    /** intel_pstate's live min_perf_pct, where minPerfPct is declared and the host has it. */
    declare public readonly minPerfPctLive: pulumi.Output<string | undefined>;
    /** Governor each CPU was given (the first available of the preference list). */
    declare public readonly desiredGovernors: pulumi.Output<Record<string, string>>;
    declare public readonly originals: pulumi.Output<Record<string, { governor: string; epp?: string }>>;
    /** Why nothing was applied, when skipped under onUnsupported: "skip". */
    declare public readonly unsupported: pulumi.Output<string | undefined>;
    /** Why the declared EPP was left out on some CPUs (a driver without EPP, such as acpi-cpufreq) while the governor was set, under onUnsupported: "skip". */
    declare public readonly eppUnsupported: pulumi.Output<string | undefined>;
    declare public readonly unitFile: pulumi.Output<string | undefined>;
    declare public readonly unitStatus: pulumi.Output<string>;
    /** The host-side record of the originals and owner (/var/lib/pulumi-linux-tuning/cpu-governor/…). */
    declare public readonly ledgerFile: pulumi.Output<string | undefined>;
    /** As of the last refresh: "in place", "missing: …", or that the ledger and state differ. */
    declare public readonly ledgerStatus: pulumi.Output<string | undefined>;
    /** How many applies (create, updates, drift fixes) have written this resource; a refresh keeps it. */
    declare public readonly applyCount: pulumi.Output<number>;
    declare public readonly warnings: pulumi.Output<string[]>;

    constructor(name: string, args: CpuGovernorArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            delegatingProvider("cpu-governor/handlers"),
            name,
            withinEngineLimits("CpuGovernor", name, {
                ...args,
                connection: secretConnection(args.connection),
                resourceName: name,
                owner: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
                governors: undefined,
                energyPerformancePreferences: undefined,
                desiredGovernors: undefined,
                desiredEnergyPerformancePreferences: undefined,
                desiredMinPerfPct: undefined,
                minPerfPctLive: undefined,
                minPerfPctOriginal: undefined,
                originals: undefined,
                unsupported: undefined,
                eppUnsupported: undefined,
                unitFile: undefined,
                unitStatus: undefined,
                ledgerFile: undefined,
                ledgerStatus: undefined,
                applyCount: undefined,
                hostId: undefined,
                warnings: undefined,
            }),
            opts,
            "linux-tuning",
            "CpuGovernor",
        );
    }
}
