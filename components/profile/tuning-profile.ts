import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { CounterEvidence } from "../../provider/counters/resource";
import { CpuGovernor } from "../../provider/cpu-governor/resource";
import { IrqAffinity } from "../../provider/irq/resource";
import { NicRingConfig } from "../../provider/nic/resource";
import { NicOffloads } from "../../provider/nic-offload/resource";
import { KernelModule } from "../../provider/kernel-module/resource";
import { PacketSteering } from "../../provider/packet-steering/resource";
import { TransparentHugepages } from "../../provider/thp/resource";
import { CpuWakeupLatency } from "../../provider/wakeup-latency/resource";
import { SysctlSet } from "../../provider/sysctl/resource";
import type { ConnectionArgs } from "../../provider/transport/connection";
import { APPLIED } from "../../provider/host-tuning/schema";
import { CounterConditionArgs, HealthCheckArgs, RolloutVerdict, WaveGate } from "../../provider/wave-gate/resource";
import { HostFacts, hostParts, watchedCounters } from "./parts";
import { ProfilePlan, SysctlOverrides, applyOverrides } from "./plan";

/** What every profile needs to know about the host. */
export interface ProfileHostArgs extends HostFacts {
    connection?: pulumi.Input<ConnectionArgs>;
    /** Change or drop (null) any sysctl the profile sets. */
    sysctlOverrides?: SysctlOverrides;
    /**
     * Before and after from the kernel's own counters: the counters the profile is meant to
     * bring down, measured over `windowSeconds` (default 3) before anything is written and at
     * every refresh. `false` to skip.
     */
    evidence?: false | { windowSeconds?: number };
    /**
     * Judged on this host once the profile is applied, as a Fleet wave's gate judges its hosts:
     * the user's check, then counters that must not rise faster than a rate over a window. A
     * failure fails `pulumi up` naming the host and the condition, after the verdict is in state;
     * the tuning stays applied. The gate runs again when the declared tuning or the gate changes,
     * and on every `up` after it failed.
     */
    healthGate?: { healthCheck?: HealthCheckArgs; counterConditions?: CounterConditionArgs[] };
}

/**
 * A profile applied to one host: a SysctlSet after the KernelModules it needs, and where the
 * profile asks for them and the host is described, a NicRingConfig with NicOffloads,
 * PacketSteering and an IrqAffinity ordered after it, a CpuGovernor, TransparentHugepages and
 * a CpuWakeupLatency on the application cores; with a healthGate, a WaveGate judging the host
 * after all of them and a RolloutVerdict that fails the run when it does not pass.
 */
export class TuningProfile extends pulumi.ComponentResource {
    /** The settings this profile resolved to, with sources: visible in `pulumi preview`. */
    public readonly plan: ProfilePlan;
    public readonly sysctls: SysctlSet;
    public readonly nic?: NicRingConfig;
    public readonly irqs?: IrqAffinity;
    public readonly governor?: CpuGovernor;
    public readonly modules?: KernelModule;
    public readonly offloads?: NicOffloads;
    public readonly steering?: PacketSteering;
    public readonly thp?: TransparentHugepages;
    public readonly wakeup?: CpuWakeupLatency;
    /** Sysctls skipped on this host (absent or read-only). */
    public readonly skipped: pulumi.Output<string[]>;
    /** The counters this profile is meant to improve, before it was applied and now (as of the last refresh). */
    public readonly evidence?: CounterEvidence;
    /** The healthGate's verdict on this host, when one is declared. */
    public readonly health?: WaveGate;

    constructor(type: string, name: string, plan: ProfilePlan, args: ProfileHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super(type, name, {}, opts);
        this.plan = applyOverrides(plan, args.sysctlOverrides);
        const connection = args.connection;
        const parts = hostParts(this.plan, args);
        const counters = watchedCounters(this.plan, args);
        if (args.evidence !== false && counters.length > 0) {
            this.evidence = new CounterEvidence(`${name}-evidence`, { connection, interface: args.interface, counters, windowSeconds: args.evidence?.windowSeconds }, { parent: this });
        }
        // The baseline is taken before anything is written.
        const child = { parent: this, dependsOn: this.evidence ? [this.evidence] : [] };

        if (parts.modules) {
            this.modules = new KernelModule(`${name}-modules`, { connection, ...parts.modules }, child);
        }
        this.sysctls = new SysctlSet(`${name}-sysctls`, { connection, ...parts.sysctls, modules: this.modules?.names }, child);
        this.skipped = this.sysctls.skipped;
        if (parts.nic) {
            this.nic = new NicRingConfig(`${name}-nic`, { connection, ...parts.nic }, child);
        }
        if (parts.offloads) {
            this.offloads = new NicOffloads(`${name}-offloads`, { connection, ...parts.offloads }, { ...child, dependsOn: [...child.dependsOn, ...(this.nic ? [this.nic] : [])] });
        }
        if (parts.steering) {
            this.steering = new PacketSteering(`${name}-steering`, { connection, nic: this.nic, ...parts.steering }, child);
        }
        if (parts.irqs) {
            this.irqs = new IrqAffinity(`${name}-irqs`, { connection, nic: this.nic, ...parts.irqs }, child);
        }
        if (parts.governor) {
            this.governor = new CpuGovernor(`${name}-governor`, { connection, ...parts.governor }, child);
        }
        if (parts.thp) {
            this.thp = new TransparentHugepages(`${name}-thp`, { connection, ...parts.thp }, child);
        }
        if (parts.wakeup) {
            this.wakeup = new CpuWakeupLatency(`${name}-wakeup`, { connection, ...parts.wakeup }, child);
        }
        if (args.healthGate) {
            const applied = [this.modules, this.sysctls, this.nic, this.offloads, this.steering, this.irqs, this.governor, this.thp, this.wakeup].filter((r) => r !== undefined);
            // What the profile declared and how often each part was applied: a changed tuning, or an up that only put drifted values back, judges the host again.
            const revision = pulumi
                .all(applied.map((part) => part.applyCount))
                .apply((applyCounts) => createHash("sha256").update(JSON.stringify({ parts, applyCounts })).digest("hex").slice(0, 16));
            const host = { name, connection, interface: args.interface, status: APPLIED, parts: {}, revision };
            this.health = new WaveGate(`${name}-gate`, { wave: 1, hosts: [host], ...args.healthGate }, { parent: this, dependsOn: applied });
            const verdict = pulumi.all([this.health.passed, this.health.outcome, this.health.results]).apply(([passed, outcome, results]) => [{ wave: 1, passed, outcome, results }]);
            new RolloutVerdict(`${name}-verdict`, { waves: verdict, gateOf: name }, { parent: this, dependsOn: [this.health] });
        }
        this.registerOutputs({ plan: this.plan, skipped: this.skipped, evidence: this.evidence && { before: this.evidence.before, now: this.evidence.now }, health: this.health?.results });
    }
}
