import * as pulumi from "@pulumi/pulumi";
import { delegatingProvider, secretConnection } from "../dynamic";
import { withinEngineLimits } from "../input-size";
import { ConnectionArgs } from "../transport/connection";

type Size = number | "max";

export interface NicRingConfigArgs {
    connection?: pulumi.Input<ConnectionArgs>;
    /** The interface, e.g. "ens1f0". */
    interface: pulumi.Input<string>;
    /** `ethtool -G`: ring sizes, or "max" for the NIC's pre-set maximum (resolved at apply time). */
    rings?: pulumi.Input<{ rx?: Size; tx?: Size; rxMini?: Size; rxJumbo?: Size }>;
    /** `ethtool -L`: queue counts, or "max". */
    channels?: pulumi.Input<{ combined?: Size; rx?: Size; tx?: Size; other?: Size }>;
    /** `ethtool -C`: interrupt coalescing. */
    coalesce?: pulumi.Input<{ adaptiveRx?: boolean; adaptiveTx?: boolean; rxUsecs?: number; txUsecs?: number; rxFrames?: number; txFrames?: number }>;
    /** A parameter the driver does not have: "fail" (default, at preview) or "skip" (reported). */
    onUnsupported?: pulumi.Input<"fail" | "skip">;
    /** Install a udev rule that re-applies the settings when the interface appears. Default true. */
    persist?: pulumi.Input<boolean>;
    /** On delete, put back the original values. Default true. */
    restoreOnDelete?: pulumi.Input<boolean>;
}

/**
 * NIC ring buffers, channels and coalescing for one interface. Changing rings or channels can
 * make the driver reallocate its IRQs: give an IrqAffinity on the same interface this resource
 * as `nic` (or dependsOn) so affinity is applied afterwards.
 */
export class NicRingConfig extends pulumi.dynamic.Resource {
    /** Live values of the declared parameters. */
    declare public readonly live: pulumi.Output<Record<string, Record<string, number>>>;
    /** What was applied: "max" resolved to numbers, booleans as 1/0. */
    declare public readonly desired: pulumi.Output<Record<string, Record<string, number>>>;
    /** The NIC's pre-set maximums for rings and channels. */
    declare public readonly maximums: pulumi.Output<Record<string, Record<string, number>>>;
    declare public readonly originals: pulumi.Output<Record<string, Record<string, number>>>;
    declare public readonly skipped: pulumi.Output<string[]>;
    declare public readonly ruleFile: pulumi.Output<string | undefined>;
    declare public readonly ruleStatus: pulumi.Output<string>;
    /** The host-side record of the originals and owner (/var/lib/pulumi-linux-tuning/nic/…). */
    declare public readonly ledgerFile: pulumi.Output<string | undefined>;
    /** As of the last refresh: "in place", "missing: …", or that the ledger and state differ. */
    declare public readonly ledgerStatus: pulumi.Output<string | undefined>;
    /** How many applies (create, updates, drift fixes) have written this resource; a refresh keeps it. */
    declare public readonly applyCount: pulumi.Output<number>;
    declare public readonly warnings: pulumi.Output<string[]>;
    declare public readonly interface: pulumi.Output<string>;

    constructor(name: string, args: NicRingConfigArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            delegatingProvider("nic/handlers"),
            name,
            withinEngineLimits("NicRingConfig", name, {
                ...args,
                connection: secretConnection(args.connection),
                resourceName: name,
                owner: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
                live: undefined,
                desired: undefined,
                maximums: undefined,
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
            "NicRingConfig",
        );
    }
}
