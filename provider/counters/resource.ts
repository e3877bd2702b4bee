import * as pulumi from "@pulumi/pulumi";
import { delegatingProvider, secretConnection } from "../dynamic";
import { withinEngineLimits } from "../input-size";
import { ConnectionArgs } from "../transport/connection";

export interface CounterEvidenceArgs {
    connection?: pulumi.Input<ConnectionArgs>;
    /** The NIC whose drops and interrupts count. */
    interface?: pulumi.Input<string>;
    /** Counters as the sampler names them: "TcpExt.ListenOverflows", "Udp.RcvbufErrors", "link.eth1.rx_dropped". */
    counters: pulumi.Input<pulumi.Input<string>[]>;
    /** Window the rates are measured over, at apply and at each refresh. Default 3 s. */
    windowSeconds?: pulumi.Input<number>;
}

/**
 * Before and after, from the kernel's own counters: the watched counters' rates when first
 * applied (make the tuning depend on it, so this is before any write) and at every refresh.
 */
export class CounterEvidence extends pulumi.dynamic.Resource {
    /** Per-second rates at the first apply, before tuning. */
    declare public readonly before: pulumi.Output<Record<string, number | null>>;
    /** Per-second rates at the last refresh. */
    declare public readonly now: pulumi.Output<Record<string, number | null>>;
    /** How much each counter rose since the baseline (null after a reboot or reset). */
    declare public readonly sinceBaseline: pulumi.Output<Record<string, number | null>>;
    /** Counter sources the host does not have. */
    declare public readonly missing: pulumi.Output<string[]>;

    constructor(name: string, args: CounterEvidenceArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            delegatingProvider("counters/handlers"),
            name,
            withinEngineLimits("CounterEvidence", name, { ...args, connection: secretConnection(args.connection), resourceName: name, before: undefined, now: undefined, baseline: undefined, sinceBaseline: undefined, missing: undefined, hostId: undefined }),
            opts,
            "linux-tuning",
            "CounterEvidence",
        );
    }
}
