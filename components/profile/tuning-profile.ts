import * as pulumi from "@pulumi/pulumi";
import { CpuGovernor } from "../../provider/cpu-governor/resource";
import { IrqAffinity } from "../../provider/irq/resource";
import { NicRingConfig } from "../../provider/nic/resource";
import { SysctlSet } from "../../provider/sysctl/resource";
import type { ConnectionArgs } from "../../provider/transport/connection";
import { HostFacts, hostParts } from "./parts";
import { ProfilePlan, SysctlOverrides, applyOverrides } from "./plan";

/** What every profile needs to know about the host. */
export interface ProfileHostArgs extends HostFacts {
    connection?: pulumi.Input<ConnectionArgs>;
    /** Change or drop (null) any sysctl the profile sets. */
    sysctlOverrides?: SysctlOverrides;
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
        const connection = args.connection;
        const parts = hostParts(this.plan, args);

        this.sysctls = new SysctlSet(`${name}-sysctls`, { connection, ...parts.sysctls }, child);
        this.skipped = this.sysctls.skipped;
        if (parts.nic) {
            this.nic = new NicRingConfig(`${name}-nic`, { connection, ...parts.nic }, child);
        }
        if (parts.irqs) {
            this.irqs = new IrqAffinity(`${name}-irqs`, { connection, nic: this.nic, ...parts.irqs }, child);
        }
        if (parts.governor) {
            this.governor = new CpuGovernor(`${name}-governor`, { connection, ...parts.governor }, child);
        }
        this.registerOutputs({ plan: this.plan, skipped: this.skipped });
    }
}
