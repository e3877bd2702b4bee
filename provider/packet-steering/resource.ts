import * as pulumi from "@pulumi/pulumi";
import { delegatingProvider, secretConnection } from "../dynamic";
import { withinEngineLimits } from "../input-size";
import { followNic } from "../irq/resource";
import type { NicRingConfig } from "../nic/resource";
import { ConnectionArgs } from "../transport/connection";

/** Which CPUs a queue's packets go to: one policy, as IrqAffinity's, and CPUs to leave out. */
export interface CpuPolicyArgs {
    /** Every queue on this CPU list. */
    cpus?: string;
    /** One CPU per queue, round-robin over this CPU list (queue i → the i-th CPU). */
    spread?: string;
    /** One CPU per queue, round-robin over the CPUs of the NIC's NUMA node. */
    numaLocal?: boolean;
    /** CPUs never to use (application or isolated cores). */
    exclude?: string;
}

export interface PacketSteeringArgs {
    connection?: pulumi.Input<ConnectionArgs>;
    /** The interface whose queues to steer. Defaults to `nic`'s interface. */
    interface?: pulumi.Input<string>;
    /**
     * The NicRingConfig of the same interface. Steering is then applied after it, and again
     * whenever its channels change (which create and remove queues).
     */
    nic?: NicRingConfig;
    /** RPS: `queues/rx-N/rps_cpus`. */
    rps?: pulumi.Input<CpuPolicyArgs>;
    /**
     * RFS: `net.core.rps_sock_flow_entries` (a power of two, at most 2^29) and each rx queue's
     * `rps_flow_cnt` = flowEntries / number of rx queues (docs.kernel.org networking/scaling).
     */
    rfs?: pulumi.Input<{ flowEntries: number }>;
    /** XPS: `queues/tx-N/xps_cpus`; `spread` maps tx queue i to the i-th CPU. */
    xps?: pulumi.Input<CpuPolicyArgs>;
    /** A host without net.core.rps_sock_flow_entries (a network namespace): "fail" (default, at preview) or "skip" (reported). */
    onMissing?: pulumi.Input<"fail" | "skip">;
    /** Install a udev rule that applies the values again when the queues appear. Default true. */
    persist?: pulumi.Input<boolean>;
    /** On delete, put back what each queue (that still exists) and the global table had. Default true. */
    restoreOnDelete?: pulumi.Input<boolean>;
}

/** RPS, RFS and XPS for one interface's queues. */
export class PacketSteering extends pulumi.dynamic.Resource {
    /** The interface's queues when last applied or refreshed. */
    declare public readonly queues: pulumi.Output<{ rx: string[]; tx: string[] }>;
    /** What each item ("rx-0/rps_cpus", "tx-1/xps_cpus", "net.core.rps_sock_flow_entries") was set to. */
    declare public readonly desired: pulumi.Output<Record<string, string>>;
    /** What each item holds now, as the kernel shows it. */
    declare public readonly live: pulumi.Output<Record<string, string>>;
    declare public readonly originals: pulumi.Output<Record<string, string>>;
    declare public readonly skipped: pulumi.Output<string[]>;
    declare public readonly ruleFile: pulumi.Output<string | undefined>;
    declare public readonly ruleStatus: pulumi.Output<string>;
    /** The host-side record of the originals and owner (/var/lib/pulumi-linux-tuning/packet-steering/…). */
    declare public readonly ledgerFile: pulumi.Output<string | undefined>;
    /** As of the last refresh: "in place", "missing: …", or that the ledger and state differ. */
    declare public readonly ledgerStatus: pulumi.Output<string | undefined>;
    /** How many applies (create, updates, drift fixes) have written this resource; a refresh keeps it. */
    declare public readonly applyCount: pulumi.Output<number>;
    declare public readonly warnings: pulumi.Output<string[]>;

    constructor(name: string, args: PacketSteeringArgs, opts?: pulumi.CustomResourceOptions) {
        const linked = followNic(args, opts);
        super(
            delegatingProvider("packet-steering/handlers"),
            name,
            withinEngineLimits("PacketSteering", name, {
                ...linked.inputs,
                connection: secretConnection(args.connection),
                resourceName: name,
                owner: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
                queues: undefined,
                desired: undefined,
                live: undefined,
                originals: undefined,
                skipped: undefined,
                ruleFile: undefined,
                ruleStatus: undefined,
                managedFiles: undefined,
                ledgerFile: undefined,
                ledgerStatus: undefined,
                applyCount: undefined,
                hostId: undefined,
                warnings: undefined,
            }),
            linked.opts,
            "linux-tuning",
            "PacketSteering",
        );
    }
}
