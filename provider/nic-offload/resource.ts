import * as pulumi from "@pulumi/pulumi";
import { delegatingProvider, secretConnection } from "../dynamic";
import { withinEngineLimits } from "../input-size";
import { ConnectionArgs } from "../transport/connection";

export interface NicOffloadsArgs {
    connection?: pulumi.Input<ConnectionArgs>;
    /** The interface, e.g. "ens1f0". */
    interface: pulumi.Input<string>;
    /**
     * `ethtool -K`: feature → on (true) or off, by any name ethtool takes (`gro`,
     * `generic-receive-offload`, `rx-gro-hw`, `tso`, `tx-tcp6-segmentation`, …).
     */
    features?: pulumi.Input<Record<string, pulumi.Input<boolean>>>;
    /** `ip link set dev IF txqueuelen N`: the interface's transmit queue length, in packets. */
    txqueuelen?: pulumi.Input<number>;
    /** A feature the interface lacks or cannot change: "fail" (default, at preview) or "skip" (reported). */
    onUnsupported?: pulumi.Input<"fail" | "skip">;
    /** Install a udev rule that re-applies the settings when the interface appears. Default true. */
    persist?: pulumi.Input<boolean>;
    /** On delete, put back the original values. Default true. */
    restoreOnDelete?: pulumi.Input<boolean>;
}

type Values = { features: Record<string, boolean>; txqueuelen?: number };

/** Offload features (`ethtool -K`) and the transmit queue length of one interface. */
export class NicOffloads extends pulumi.dynamic.Resource {
    /** Live values of the managed features (by the names `ethtool -k` shows) and the queue length. */
    declare public readonly live: pulumi.Output<Values>;
    /** What was applied: names as `ethtool -k` shows them, a group (`tso`) as its changeable members. */
    declare public readonly desired: pulumi.Output<Values>;
    declare public readonly originals: pulumi.Output<Values>;
    declare public readonly skipped: pulumi.Output<string[]>;
    declare public readonly ruleFile: pulumi.Output<string | undefined>;
    declare public readonly ruleStatus: pulumi.Output<string>;
    /** The host-side record of the originals and owner (/var/lib/pulumi-linux-tuning/nic-offload/…). */
    declare public readonly ledgerFile: pulumi.Output<string | undefined>;
    /** As of the last refresh: "in place", "missing: …", or that the ledger and state differ. */
    declare public readonly ledgerStatus: pulumi.Output<string | undefined>;
    /** How many applies (create, updates, drift fixes) have written this resource; a refresh keeps it. */
    declare public readonly applyCount: pulumi.Output<number>;
    declare public readonly warnings: pulumi.Output<string[]>;
    declare public readonly interface: pulumi.Output<string>;

    constructor(name: string, args: NicOffloadsArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            delegatingProvider("nic-offload/handlers"),
            name,
            withinEngineLimits("NicOffloads", name, {
                ...args,
                connection: secretConnection(args.connection),
                resourceName: name,
                owner: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
                live: undefined,
                desired: undefined,
                originals: undefined,
                skipped: undefined,
                ruleFile: undefined,
                ruleStatus: undefined,
                ledgerFile: undefined,
                ledgerStatus: undefined,
                applyCount: undefined,
                hostId: undefined,
                warnings: undefined,
            }),
            opts,
            "linux-tuning",
            "NicOffloads",
        );
    }
}
