import { z } from "zod";
import { propertyPath, persistFileNamesFit } from "../check";
import { ownerSchema } from "../host/ledger";
import { interfaceName } from "../nic/schema";
import { optionalConnectionSchema } from "../transport/connection";

/**
 * ethtool's legacy offload flags (its off_flag_def table): `ethtool -K` takes the short or the
 * long name, `ethtool -k` prints the long one. The four whose kernel pattern matches several
 * features are groups: `-k` prints the long name and, indented, each member's kernel name.
 * UFO is left out: no kernel with ethtool's netlink interface has it.
 */
const LEGACY_FLAGS: readonly (readonly [short: string, long: string, kernel: string])[] = [
    ["rx", "rx-checksumming", "rx-checksum"],
    ["tx", "tx-checksumming", "tx-checksum-*"],
    ["sg", "scatter-gather", "tx-scatter-gather*"],
    ["tso", "tcp-segmentation-offload", "tx-tcp*-segmentation"],
    ["gso", "generic-segmentation-offload", "tx-generic-segmentation"],
    ["gro", "generic-receive-offload", "rx-gro"],
    ["lro", "large-receive-offload", "rx-lro"],
    ["rxvlan", "rx-vlan-offload", "rx-vlan-hw-parse"],
    ["txvlan", "tx-vlan-offload", "tx-vlan-hw-insert"],
    ["ntuple", "ntuple-filters", "rx-ntuple-filter"],
    ["rxhash", "receive-hashing", "rx-hashing"],
];

/** Every other spelling of a feature → the name `ethtool -k` prints for it. */
const ALIASES: ReadonlyMap<string, string> = new Map(
    LEGACY_FLAGS.flatMap(([short, long, kernel]) => [[short, long] as const, ...(kernel.includes("*") ? [] : [[kernel, long] as const])]),
);

/** The name `ethtool -k` prints for a feature given by any name `ethtool -K` takes. */
export const canonicalFeature = (name: string): string => ALIASES.get(name) ?? name;

/** Kernel feature names are at most ETH_GSTRING_LEN (32) bytes with the NUL. */
const FEATURE_NAME = /^[a-z0-9][a-z0-9_-]{0,30}$/;

const features = z.record(z.string(), z.boolean()).superRefine((declared, ctx) => {
    const seen = new Map<string, string>();
    for (const name of Object.keys(declared)) {
        if (!FEATURE_NAME.test(name)) {
            ctx.addIssue({ code: "custom", path: [name], message: "must be an ethtool feature name (1-31 characters of a-z, 0-9, '-' and '_')" });
            continue;
        }
        const canonical = canonicalFeature(name);
        const other = seen.get(canonical);
        if (other !== undefined) {
            ctx.addIssue({ code: "custom", path: [name], message: `names the same feature as ${propertyPath(["features", other])} (${canonical}); declare it once` });
        }
        seen.set(canonical, name);
    }
    if (Object.keys(declared).length > 256) {
        ctx.addIssue({ code: "custom", path: [], message: "at most 256 features" });
    }
});

export const nicOffloadsInputsSchema = z
    .object({
        connection: optionalConnectionSchema,
        interface: interfaceName,
        features: features.optional(),
        /** `ip link set dev IF txqueuelen N` (a signed int there), read back from /sys/class/net/IF/tx_queue_len (signed too). */
        txqueuelen: z
            .number()
            .int()
            .min(0)
            .max(2 ** 31 - 1, "at most 2147483647: the kernel prints the length as a signed int, so a larger one reads back negative (and ip link refuses it)")
            .optional(),
        onUnsupported: z.enum(["fail", "skip"]).default("fail"),
        persist: z.boolean().default(true),
        restoreOnDelete: z.boolean().default(true),
        resourceName: z.string().min(1),
        owner: ownerSchema,
    })
    .strict()
    .refine((i) => Object.keys(i.features ?? {}).length > 0 || i.txqueuelen !== undefined, {
        message: "set at least one of features or txqueuelen",
        path: ["features"],
    })
    .superRefine(persistFileNamesFit((name) => [ruleFile(name)]));

export type NicOffloadsInputs = z.infer<typeof nicOffloadsInputsSchema>;

export function ruleFile(resourceName: string): string {
    const safe = resourceName.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[.-]+/, "");
    return `/etc/udev/rules.d/90-pulumi-offload-${safe || "offload"}.rules`;
}
