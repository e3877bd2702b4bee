import * as pulumi from "@pulumi/pulumi";
import { delegatingProvider, secretConnection } from "../dynamic";
import { withinEngineLimits } from "../input-size";
import { ConnectionArgs } from "../transport/connection";
import { normaliseModuleName } from "./schema";

/** A module by name, or with parameters (`modprobe NAME p=v`; persisted as `options NAME p=v`). */
export type KernelModuleSpec = string | { name: string; parameters?: Record<string, string | number> };

export interface KernelModuleArgs {
    /** The host. Omit for the machine running Pulumi. */
    connection?: pulumi.Input<ConnectionArgs>;
    /** Modules to load, in order: "tcp_bbr", or { name: "nf_conntrack", parameters: { hashsize: 262144 } }. */
    modules: pulumi.Input<pulumi.Input<KernelModuleSpec>[]>;
    /** Also load them at boot (/etc/modules-load.d/) with their options (/etc/modprobe.d/). Default true. */
    persist?: pulumi.Input<boolean>;
    /** On delete, unload what this resource loaded (never a module loaded before it, nor one in use). Default true. */
    restoreOnDelete?: pulumi.Input<boolean>;
}

const nameOf = (spec: KernelModuleSpec) => normaliseModuleName(typeof spec === "string" ? spec : spec.name);

/**
 * Kernel modules loaded with modprobe on one host, persisted for boot. Give `names` to a
 * SysctlSet's `modules` when its settings need them (bbr needs tcp_bbr): the sysctls are then
 * applied after the modules, and its preview knows they will be there.
 */
export class KernelModule extends pulumi.dynamic.Resource {
    /** The declared modules' names as the kernel writes them ("-" → "_"); known at preview. */
    declare public readonly names: pulumi.Output<string[]>;
    /** Live state per module: "loaded", "built-in" or "not loaded". */
    declare public readonly loaded: pulumi.Output<Record<string, string>>;
    /** Live values of the declared parameters (/sys/module/NAME/parameters). */
    declare public readonly parameters: pulumi.Output<Record<string, Record<string, string>>>;
    /** modinfo's type of each declared parameter that has one ("int", "bool", "array of ushort"): a live 31 is a declared 0x1f. */
    declare public readonly parameterTypes: pulumi.Output<Record<string, Record<string, string>>>;
    /** Each module's state before this resource first touched it. */
    declare public readonly originals: pulumi.Output<Record<string, string>>;
    /** Declared module → what its load brought in (itself, dependencies): what delete unloads. */
    declare public readonly loadedByUs: pulumi.Output<Record<string, string[]>>;
    /** A module dropped from `modules` → what of its loads was in use when it was dropped: unloaded by the next update or the delete. */
    declare public readonly stillToUnload: pulumi.Output<Record<string, string[]> | undefined>;
    /** Module → parameter → `{ declared, live }`: a value the kernel took otherwise when this resource set it (ip_vs clamps conn_tab_bits), which then counts as the declared one. */
    declare public readonly adjusted: pulumi.Output<Record<string, Record<string, { declared: string; live: string }>> | undefined>;
    /** Declared modules this resource did not load (built in, or loaded before it): never unloaded by it. */
    declare public readonly skipped: pulumi.Output<string[]>;
    declare public readonly persistedFiles: pulumi.Output<string[]>;
    /** "in place", "not persisted", or which file is missing or edited, as of the last apply or refresh. */
    declare public readonly persistStatus: pulumi.Output<string>;
    /** The host-side record of the originals and owner (/var/lib/pulumi-linux-tuning/kernel-module/…). */
    declare public readonly ledgerFile: pulumi.Output<string | undefined>;
    /** As of the last refresh: "in place", "missing: …", or that the ledger and state differ. */
    declare public readonly ledgerStatus: pulumi.Output<string | undefined>;
    /** How many applies (create, updates, drift fixes) have written this resource; a refresh keeps it. */
    declare public readonly applyCount: pulumi.Output<number>;
    declare public readonly warnings: pulumi.Output<string[]>;

    constructor(name: string, args: KernelModuleArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            delegatingProvider("kernel-module/handlers"),
            name,
            withinEngineLimits("KernelModule", name, {
                ...args,
                connection: secretConnection(args.connection),
                resourceName: name,
                owner: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
                names: pulumi.output(args.modules).apply((modules) => (modules as KernelModuleSpec[]).map(nameOf)),
                loaded: undefined,
                parameters: undefined,
                parameterTypes: undefined,
                originals: undefined,
                loadedByUs: undefined,
                stillToUnload: undefined,
                adjusted: undefined,
                managedFiles: undefined,
                skipped: undefined,
                persistedFiles: undefined,
                persistStatus: undefined,
                ledgerFile: undefined,
                ledgerStatus: undefined,
                applyCount: undefined,
                hostId: undefined,
                warnings: undefined,
            }),
            opts,
            "linux-tuning",
            "KernelModule",
        );
    }
}
