import * as pulumi from "@pulumi/pulumi";
import { delegatingProvider, secretConnection } from "../dynamic";
import { withinEngineLimits } from "../input-size";
import { ConnectionArgs } from "../transport/connection";
import { isSecretKey } from "./keys";
import { settingsSizeProblems } from "./sizes";

/** An Output or a Promise: what it holds is known only once the program has run. */
const isPending = (value: unknown): boolean => pulumi.Output.isInstance(value) || (typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function");

/**
 * Whether declared settings set a secret key, or may: settings not known when the resource is
 * declared (an Output computed from another resource) are kept secret in case, since the host's
 * original of a secret key would otherwise sit in state in plain text.
 */
export function declaresSecretKey(settings: unknown): boolean {
    return isPending(settings) || (typeof settings === "object" && settings !== null && Object.keys(settings).some(isSecretKey));
}

/** The same for SysctlSet arguments nested in another resource's (a HostTuning's sysctls). */
export function declaresSecretSysctl(args: unknown): boolean {
    return isPending(args) || (typeof args === "object" && args !== null && declaresSecretKey((args as { settings?: unknown }).settings));
}

/** The outputs that hold declared or original values (and the persisted file's text). */
const SECRET_HOLDING_OUTPUTS = ["settings", "originals", "persistedContent", "managedFiles", "liveDrift"];
import type { SettingValue } from "./values";

export type { SettingValue } from "./values";

export interface SysctlSetArgs {
    /** The host to tune. Omit to tune the machine running Pulumi. */
    connection?: pulumi.Input<ConnectionArgs>;
    /**
     * Key → value. Values: a number, a string, an array of numbers for multi-value keys
     * (`net.ipv4.tcp_rmem: [4096, 131072, 16777216]`), or a bound that only raises or only
     * lowers: `{ atLeast: 65535 }`, `{ atMost: 10 }` (tuned's `>N` / `<N`); for a range key, a
     * range that contains these ends: `{ covers: [10240, 65535] }`.
     */
    settings: pulumi.Input<Record<string, pulumi.Input<SettingValue>>>;
    /** Also write the values to a file in /etc/sysctl.d/ so they survive a reboot. Default true. */
    persist?: pulumi.Input<boolean>;
    /** The persistence file. Default /etc/sysctl.d/90-pulumi-<resource name>.conf. */
    persistFile?: pulumi.Input<string>;
    /**
     * A key the host does not have (older kernel, module not loaded, global-only key inside a
     * network namespace or container): "fail" (default) or "skip" (reported in `skipped`).
     */
    onMissing?: pulumi.Input<"fail" | "skip">;
    /**
     * Keys of `settings` that fail when the host lacks them even under onMissing: "skip": a
     * profile's keys added by sysctlOverrides, where a typo must not be skipped in silence.
     */
    requiredKeys?: pulumi.Input<pulumi.Input<string>[]>;
    /** On delete, put back the values the host had before this resource. Default true. */
    restoreOnDelete?: pulumi.Input<boolean>;
    /**
     * Keys another SysctlSet manages on the host (this stack or another, as its ledger in
     * /var/lib/pulumi-linux-tuning says) are refused at preview; true takes them over, with the
     * original values that SysctlSet recorded.
     */
    takeOver?: pulumi.Input<boolean>;
    /**
     * Kernel modules these settings rely on, typically a KernelModule's `names`: then the settings
     * are applied after the modules are loaded, and the preview accepts a value such as bbr (which
     * needs tcp_bbr) before it is. A needed module neither loaded nor listed fails the preview.
     */
    modules?: pulumi.Input<pulumi.Input<string>[]>;
}

const provider = delegatingProvider("sysctl/handlers");

/**
 * A set of kernel parameters on one host: validated before anything is applied, written
 * transactionally (a rejected value rolls back the others), persisted to /etc/sysctl.d/,
 * read back for drift, and restored to the host's own values on delete.
 */
export class SysctlSet extends pulumi.dynamic.Resource {
    /** Live values, in the shape they were declared (a satisfied bound shows as the bound). */
    declare public readonly settings: pulumi.Output<Record<string, SettingValue>>;
    /** What each key held before this resource first changed it; restored on delete. */
    declare public readonly originals: pulumi.Output<Record<string, string>>;
    /** Keys not present on the host, skipped under onMissing: "skip". */
    declare public readonly skipped: pulumi.Output<string[]>;
    /** The sysctl.d file this resource owns, if persisting. */
    declare public readonly persistedFile: pulumi.Output<string | undefined>;
    /** "in place", "missing", "edited" or "not persisted", as of the last apply or refresh. */
    declare public readonly persistedFileStatus: pulumi.Output<string>;
    /** Other config files that set the same keys, kernel clamps, skipped keys. */
    declare public readonly warnings: pulumi.Output<string[]>;
    /** The host-side record of the originals and owner (/var/lib/pulumi-linux-tuning/sysctl/…). */
    declare public readonly ledgerFile: pulumi.Output<string | undefined>;
    /** As of the last refresh: "in place", "missing: …", or how the ledger and state differ. */
    declare public readonly ledgerStatus: pulumi.Output<string | undefined>;
    /** How many applies (create, updates, drift fixes) have written this resource; a refresh keeps it. */
    declare public readonly applyCount: pulumi.Output<number>;

    constructor(name: string, args: SysctlSetArgs, opts?: pulumi.CustomResourceOptions) {
        // Before registration: the engine itself fails on huge strings, before check could refuse them.
        const oversized = settingsSizeProblems(args.settings);
        if (oversized.length > 0) {
            throw new pulumi.RunError(`SysctlSet "${name}": ${oversized.join("; ")}`);
        }
        // A secret key's value, the host's original and the file that persists it stay encrypted in state.
        const secret = declaresSecretKey(args.settings);
        super(
            provider,
            name,
            withinEngineLimits("SysctlSet", name, {
                ...args,
                settings: secret ? pulumi.secret(args.settings) : args.settings,
                connection: secretConnection(args.connection),
                resourceName: name,
                owner: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
                originals: undefined,
                skipped: undefined,
                persistedFile: undefined,
                persistedContent: undefined,
                persistedFileStatus: undefined,
                hostId: undefined,
                ledgerFile: undefined,
                ledgerStatus: undefined,
                applyCount: undefined,
                warnings: undefined,
            }),
            secret ? { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), ...SECRET_HOLDING_OUTPUTS] } : opts,
            "linux-tuning",
            "SysctlSet",
        );
    }
}
