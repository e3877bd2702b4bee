import * as pulumi from "@pulumi/pulumi";
import { CpuGovernor } from "../../provider/cpu-governor/resource";
import { IrqAffinity } from "../../provider/irq/resource";
import { NicRingConfig } from "../../provider/nic/resource";
import { SysctlSet } from "../../provider/sysctl/resource";
import type { ConnectionArgs } from "../../provider/transport/connection";
import { ProfilePlan, SysctlOverrides, applyOverrides, sysctlValues } from "./plan";

/** A CPU list covering any machine; IrqAffinity keeps only the online ones. */
const EVERY_CPU = "0-4095";

/** What every profile needs to know about the host. */
export interface ProfileHostArgs {
    connection?: pulumi.Input<ConnectionArgs>;
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
    /** Change or drop (null) any sysctl the profile sets. */
    sysctlOverrides?: SysctlOverrides;
    /** Keep the sysctl.d file, udev rule and systemd units for reboots. Default true. */
    persist?: boolean;
}

/**
 * A profile applied to one host: a SysctlSet, and where the profile asks for them and the
 * host is described, a NicRingConfig, an IrqAffinity ordered after it, and a CpuGovernor.
 */
export class TuningProfile extends pulumi.ComponentResource {
    /** The settings this profile resolved to, with sources: visible in `pulumi preview`. */
    public readonly plan: ProfilePlan;
    public readonly sysctls: SysctlSet;
    public readonly nic?: NicRingConfig;
    public readonly irqs?: IrqAffinity;
    public readonly governor?: CpuGovernor;
    /** Sysctls skipped on this host (absent or read-only). */
    public readonly skipped: pulumi.Output<string[]>;

    constructor(type: string, name: string, plan: ProfilePlan, args: ProfileHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super(type, name, {}, opts);
        this.plan = applyOverrides(plan, args.sysctlOverrides);
        const child = { parent: this };
        const persist = args.persist ?? true;

        this.sysctls = new SysctlSet(`${name}-sysctls`, { connection: args.connection, settings: sysctlValues(this.plan), onMissing: args.missingKeys ?? "skip", persist }, child);
        this.skipped = this.sysctls.skipped;

        if (args.interface && this.plan.nic && (this.plan.nic.rings || this.plan.nic.coalesce)) {
            this.nic = new NicRingConfig(
                `${name}-nic`,
                { connection: args.connection, interface: args.interface, rings: this.plan.nic.rings, coalesce: this.plan.nic.coalesce, onUnsupported: "skip", persist },
                child,
            );
        }
        if (args.interface && this.plan.irq) {
            const placement = this.plan.irq.policy === "numaLocal" ? { numaLocal: true } : { spread: EVERY_CPU };
            this.irqs = new IrqAffinity(
                `${name}-irqs`,
                {
                    connection: args.connection,
                    interface: args.interface,
                    nic: this.nic,
                    ...placement,
                    exclude: args.applicationCpus,
                    irqbalance: args.irqbalance ?? "ban",
                    persist,
                },
                child,
            );
        }
        if (this.plan.governor && args.cpuFrequency !== "unmanaged") {
            this.governor = new CpuGovernor(
                `${name}-governor`,
                {
                    connection: args.connection,
                    governor: this.plan.governor.governor,
                    energyPerformancePreference: this.plan.governor.energyPerformancePreference,
                    onUnsupported: args.cpuFrequency ?? "skip",
                    persist,
                },
                child,
            );
        }
        this.registerOutputs({ plan: this.plan, skipped: this.skipped });
    }
}
