import * as pulumi from "@pulumi/pulumi";
import { delegatingProvider, secretConnection } from "../dynamic";
import { withinEngineLimits } from "../input-size";
import { ConnectionArgs } from "../transport/connection";

/** What every sysfs-backed resource takes besides what it sets. */
export interface SysfsBaseArgs {
    /** The host. Omit for the machine running Pulumi. */
    connection?: pulumi.Input<ConnectionArgs>;
    /** Write /etc/tmpfiles.d/90-pulumi-<kind>-<name>.conf so the values come back at boot. Default true. */
    persist?: pulumi.Input<boolean>;
    /** On delete, put back what each path held before this resource. Default true. */
    restoreOnDelete?: pulumi.Input<boolean>;
}

/** The outputs SysfsSet, TransparentHugepages and CpuWakeupLatency share; each runs `<dir>/handlers`. */
export abstract class SysfsResource extends pulumi.dynamic.Resource {
    /** Path → value this resource keeps there (selection files: the word). */
    declare public readonly desired: pulumi.Output<Record<string, string>>;
    /** Path → live value as of the last apply or refresh (selection files: the bracketed word). */
    declare public readonly live: pulumi.Output<Record<string, string>>;
    /** Path → what it held before this resource first changed it; put back on delete. */
    declare public readonly originals: pulumi.Output<Record<string, string>>;
    /** Paths absent or read-only on the host, skipped under onMissing: "skip". */
    declare public readonly skipped: pulumi.Output<string[]>;
    declare public readonly persistedFile: pulumi.Output<string | undefined>;
    /** "in place", "missing", "edited" or "not persisted". */
    declare public readonly persistedFileStatus: pulumi.Output<string>;
    /** The host-side record of the originals and owner (/var/lib/pulumi-linux-tuning/<kind>/…). */
    declare public readonly ledgerFile: pulumi.Output<string | undefined>;
    /** As of the last refresh: "in place", "missing: …", or that the ledger and state differ. */
    declare public readonly ledgerStatus: pulumi.Output<string | undefined>;
    /** How many applies (create, updates, drift fixes) have written this resource; a refresh keeps it. */
    declare public readonly applyCount: pulumi.Output<number>;
    declare public readonly warnings: pulumi.Output<string[]>;

    protected constructor(handlers: string, type: string, name: string, args: SysfsBaseArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            delegatingProvider(handlers),
            name,
            withinEngineLimits(type, name, {
                ...args,
                connection: secretConnection(args.connection),
                resourceName: name,
                owner: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
                desired: undefined,
                live: undefined,
                originals: undefined,
                skipped: undefined,
                persistedFile: undefined,
                persistedFileStatus: undefined,
                managedFiles: undefined,
                ledgerFile: undefined,
                ledgerStatus: undefined,
                applyCount: undefined,
                hostId: undefined,
                warnings: undefined,
            }),
            opts,
            "linux-tuning",
            type,
        );
    }
}

export interface SysfsSetArgs extends SysfsBaseArgs {
    /**
     * Absolute path under /sys → value, as tuned's [sysfs] plugin takes them (without globs).
     * A selection file (`always [madvise] never`) takes one of the words it offers.
     */
    settings: pulumi.Input<Record<string, pulumi.Input<string | number>>>;
    /** A path the host lacks or cannot write: "fail" (default, at preview) or "skip" (reported in `skipped`). */
    onMissing?: pulumi.Input<"fail" | "skip">;
}

/** Any sysfs attributes on one host: checked at preview, written transactionally, persisted, read back, restored. */
export class SysfsSet extends SysfsResource {
    constructor(name: string, args: SysfsSetArgs, opts?: pulumi.CustomResourceOptions) {
        super("sysfs/handlers", "SysfsSet", name, args, opts);
    }
}
