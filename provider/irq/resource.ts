import * as pulumi from "@pulumi/pulumi";
import { delegatingProvider, secretConnection } from "../dynamic";
import { withinEngineLimits } from "../input-size";
import { NicRingConfig } from "../nic/resource";
import { ConnectionArgs } from "../transport/connection";

export interface IrqAffinityArgs {
    connection?: pulumi.Input<ConnectionArgs>;
    /** The interface whose queue IRQs to place. Defaults to `nic`'s interface. */
    interface?: pulumi.Input<string>;
    /**
     * The NicRingConfig of the same interface. Affinity is then applied after it, and again
     * whenever its rings or channels change (drivers reallocate IRQs, losing affinity).
     */
    nic?: NicRingConfig;
    /** Policy: every queue IRQ on this CPU list. */
    cpus?: pulumi.Input<string>;
    /** Policy: one CPU per queue IRQ, round-robin over this CPU list (Intel's set_irq_affinity "custom"). */
    spread?: pulumi.Input<string>;
    /** Policy: one CPU per queue IRQ, round-robin over the CPUs of the NIC's NUMA node (mlnx_tune). */
    numaLocal?: pulumi.Input<boolean>;
    /** Policy: explicit CPU list per IRQ, keyed by IRQ number or /proc/interrupts name. */
    perIrq?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** CPUs never to use (application or isolated cores); with cpus, spread and numaLocal. */
    exclude?: pulumi.Input<string>;
    /**
     * What to do about irqbalance before writing: "ban" (default; add --banirq for these IRQs
     * to IRQBALANCE_ARGS and restart it), "stop", or "leave". Undone on delete.
     */
    irqbalance?: pulumi.Input<"ban" | "stop" | "leave">;
    /** Install a systemd oneshot unit that re-applies the affinity at boot. Default true. */
    persist?: pulumi.Input<boolean>;
    /** On delete, put back each IRQ's original affinity. Default true. */
    restoreOnDelete?: pulumi.Input<boolean>;
}

/** CPU affinity for one interface's queue IRQs, with irqbalance dealt with first. */
export class IrqAffinity extends pulumi.dynamic.Resource {
    /** The interface's queue IRQs found on the host: number → /proc/interrupts name. */
    declare public readonly irqs: pulumi.Output<Record<string, string>>;
    /** Where they were found: "msi_irqs" or "/proc/interrupts". */
    declare public readonly discoveredFrom: pulumi.Output<string>;
    /** CPU list per IRQ that the policy chose. */
    declare public readonly assignment: pulumi.Output<Record<string, string>>;
    /** Live smp_affinity_list per IRQ. */
    declare public readonly affinity: pulumi.Output<Record<string, string>>;
    declare public readonly originals: pulumi.Output<Record<string, string>>;
    declare public readonly unitFile: pulumi.Output<string | undefined>;
    declare public readonly unitStatus: pulumi.Output<string>;
    /** The host-side record of the originals and owner (/var/lib/pulumi-linux-tuning/irq/…). */
    declare public readonly ledgerFile: pulumi.Output<string | undefined>;
    /** As of the last refresh: "in place", "missing: …", or that the ledger and state differ. */
    declare public readonly ledgerStatus: pulumi.Output<string | undefined>;
    /** How many applies (create, updates, drift fixes) have written this resource; a refresh keeps it. */
    declare public readonly applyCount: pulumi.Output<number>;
    declare public readonly warnings: pulumi.Output<string[]>;

    constructor(name: string, args: IrqAffinityArgs, opts?: pulumi.CustomResourceOptions) {
        const linked = followNic(args, opts);
        super(
            delegatingProvider("irq/handlers"),
            name,
            withinEngineLimits("IrqAffinity", name, {
                ...linked.inputs,
                connection: secretConnection(args.connection),
                resourceName: name,
                owner: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
                irqs: undefined,
                discoveredFrom: undefined,
                assignment: undefined,
                affinity: undefined,
                originals: undefined,
                irqbalanceState: undefined,
                unitFile: undefined,
                unitStatus: undefined,
                ledgerFile: undefined,
                ledgerStatus: undefined,
                applyCount: undefined,
                hostId: undefined,
                warnings: undefined,
            }),
            linked.opts,
            "linux-tuning",
            "IrqAffinity",
        );
    }
}

/**
 * For a resource that acts on a NicRingConfig's queues: the NIC's interface by default, its
 * resolved values as the `nicState` input (so a ring or channel change re-applies in the same
 * run), and ordered after it. A NicRingConfig given in `dependsOn` instead is followed the same
 * way (its interface is not assumed).
 */
export function followNic<A extends { interface?: pulumi.Input<string>; nic?: NicRingConfig }>(args: A, opts: pulumi.CustomResourceOptions | undefined) {
    const { nic, ...rest } = args;
    const followed = nic ?? nicAmong(opts?.dependsOn);
    return {
        inputs: { ...rest, interface: args.interface ?? nic?.interface, nicState: followed ? followed.desired : undefined },
        opts: nic ? { ...opts, dependsOn: mergeDependsOn(opts?.dependsOn, nic) } : opts,
    };
}

/** A NicRingConfig among `dependsOn` given as plain values (not an Output of a list). */
function nicAmong(dependsOn: pulumi.CustomResourceOptions["dependsOn"]): NicRingConfig | undefined {
    if (dependsOn === undefined || pulumi.Output.isInstance(dependsOn) || dependsOn instanceof Promise) {
        return undefined;
    }
    return (Array.isArray(dependsOn) ? dependsOn : [dependsOn]).find((d): d is NicRingConfig => d instanceof NicRingConfig);
}

function mergeDependsOn(existing: pulumi.CustomResourceOptions["dependsOn"], extra: pulumi.Resource): pulumi.Input<pulumi.Input<pulumi.Resource>[]> {
    if (existing === undefined) {
        return [extra];
    }
    return pulumi.output(existing).apply((deps) => [...(Array.isArray(deps) ? deps : [deps]), extra]) as pulumi.Input<pulumi.Input<pulumi.Resource>[]>;
}
