import * as pulumi from "@pulumi/pulumi";
import type { CpuGovernorArgs } from "../cpu-governor/resource";
import { delegatingProvider, secretConnection } from "../dynamic";
import { withinEngineLimits } from "../input-size";
import type { IrqAffinityArgs } from "../irq/resource";
import type { NicRingConfigArgs } from "../nic/resource";
import { declaresSecretSysctl, type SysctlSetArgs } from "../sysctl/resource";
import type { NicOffloadsArgs } from "../nic-offload/resource";
import type { KernelModuleArgs } from "../kernel-module/resource";
import type { PacketSteeringArgs } from "../packet-steering/resource";
import type { TransparentHugepagesArgs } from "../thp/resource";
import type { CpuWakeupLatencyArgs } from "../wakeup-latency/resource";
import { ConnectionArgs } from "../transport/connection";
import type { HostBaseline, PartRecords } from "./schema";

export interface HostTuningArgs {
    connection?: pulumi.Input<ConnectionArgs>;
    /** What KernelModule would take, without the connection: loaded first, and the sysctls part relies on them. */
    modules?: pulumi.Input<Omit<KernelModuleArgs, "connection">>;
    /** What SysctlSet would take, without the connection. */
    sysctls?: pulumi.Input<Omit<SysctlSetArgs, "connection">>;
    /** What NicRingConfig would take, without the connection. */
    nic?: pulumi.Input<Omit<NicRingConfigArgs, "connection">>;
    /** What IrqAffinity would take, without the connection or `nic` (the NIC part is used). */
    irqs?: pulumi.Input<Omit<IrqAffinityArgs, "connection" | "nic">>;
    /** What CpuGovernor would take, without the connection. */
    governor?: pulumi.Input<Omit<CpuGovernorArgs, "connection">>;
    /** What NicOffloads would take, without the connection; the interface defaults to the NIC part's. */
    offloads?: pulumi.Input<Omit<NicOffloadsArgs, "connection" | "interface"> & { interface?: string }>;
    /** What PacketSteering would take, without the connection or `nic` (the NIC part is used). */
    steering?: pulumi.Input<Omit<PacketSteeringArgs, "connection" | "nic">>;
    /** What TransparentHugepages would take, without the connection. */
    thp?: pulumi.Input<Omit<TransparentHugepagesArgs, "connection">>;
    /** What CpuWakeupLatency would take, without the connection. */
    wakeup?: pulumi.Input<Omit<CpuWakeupLatencyArgs, "connection">>;
    /** False holds the host untouched (an earlier wave's gate did not pass). Default true. */
    admitted?: pulumi.Input<boolean>;
    /** The counter rates measured before this host's apply (a fleet's wave evidence); the first apply keeps them as `baseline`. */
    waveBaseline?: pulumi.Input<HostBaseline>;
}

/**
 * Everything tuned on one host, applied in order (modules, sysctls, NIC, offloads, packet
 * steering, IRQs, governor, THP, wake-up latency) with the same
 * guarantees as the standalone resources. A failed apply is recorded, not thrown: `status` is
 * `failed: why`, state holds each part as it is on the host, and the next `up` retries. This is
 * what lets a fleet's wave proceed under a failure budget; use the standalone resources when a
 * failure should stop the run.
 */
export class HostTuning extends pulumi.dynamic.Resource {
    /** `applied`, `failed: <part>: <why>` or `not attempted`. */
    declare public readonly status: pulumi.Output<string>;
    /** Each part's state as the standalone resource would hold it. */
    declare public readonly parts: pulumi.Output<PartRecords>;
    /** Sysctl keys, NIC parameters or a governor the host does not have. */
    declare public readonly skipped: pulumi.Output<string[]>;
    /** How the host differed from state at the last refresh. */
    declare public readonly drifted: pulumi.Output<string[]>;
    declare public readonly warnings: pulumi.Output<string[]>;
    /** Changes when the declared parts or the apply's outcome change (a refresh leaves it). */
    declare public readonly revision: pulumi.Output<string>;
    /** The counter rates from before its first apply, kept for good (`unmeasured` says why there are none); null while held. */
    declare public readonly baseline: pulumi.Output<HostBaseline | null | undefined>;

    constructor(name: string, args: HostTuningArgs, opts?: pulumi.CustomResourceOptions) {
        // A secret sysctl key's value, the host's original and the file that persists it stay encrypted in state.
        const secret = declaresSecretSysctl(args.sysctls);
        super(
            delegatingProvider("host-tuning/handlers"),
            name,
            withinEngineLimits("HostTuning", name, {
                ...args,
                ...(secret && { sysctls: pulumi.secret(args.sysctls) }),
                connection: secretConnection(args.connection),
                resourceName: name,
                owner: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
                status: undefined,
                parts: undefined,
                skipped: undefined,
                drifted: undefined,
                warnings: undefined,
                hostId: undefined,
                revision: undefined,
                baseline: undefined,
            }),
            secret ? { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "sysctls", "parts"] } : opts,
            "linux-tuning",
            "HostTuning",
        );
    }
}
