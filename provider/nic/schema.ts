import { z } from "zod";
import { persistFileNamesFit } from "../check";
import { ownerSchema } from "../host/ledger";
import { optionalConnectionSchema } from "../transport/connection";

const size = z.union([z.number().int().positive().max(1 << 20), z.literal("max")]);
const count = z.union([z.number().int().min(0).max(4096), z.literal("max")]);
const usecs = z.number().int().min(0).max(1_000_000);

export const interfaceName = z
    .string()
    // Not starting with "-": ethtool and ip would take it for an option. No ":", which the kernel refuses in a name (dev_valid_name).
    .regex(/^[A-Za-z0-9_.@][A-Za-z0-9_.@-]{0,14}$/, "must be a network interface name (1-15 characters, no '/', ':' or spaces, not starting with -)")
    .refine((s) => s !== "." && s !== "..", "must be a network interface name");

export const nicRingConfigInputsSchema = z
    .object({
        connection: optionalConnectionSchema,
        interface: interfaceName,
        rings: z.object({ rx: size, tx: size, rxMini: size, rxJumbo: size }).partial().strict().optional(),
        channels: z.object({ combined: count, rx: count, tx: count, other: count }).partial().strict().optional(),
        coalesce: z
            .object({ adaptiveRx: z.boolean(), adaptiveTx: z.boolean(), rxUsecs: usecs, txUsecs: usecs, rxFrames: usecs, txFrames: usecs })
            .partial()
            .strict()
            .optional(),
        onUnsupported: z.enum(["fail", "skip"]).default("fail"),
        persist: z.boolean().default(true),
        restoreOnDelete: z.boolean().default(true),
        resourceName: z.string().min(1),
        owner: ownerSchema,
    })
    .strict()
    .refine((i) => [i.rings, i.channels, i.coalesce].some((s) => s && Object.keys(s).length > 0), {
        message: "set at least one of rings, channels or coalesce",
        path: ["rings"],
    })
    .superRefine(persistFileNamesFit((name) => [ruleFile(name)]));

export type NicRingConfigInputs = z.infer<typeof nicRingConfigInputsSchema>;

export function ruleFile(resourceName: string): string {
    const safe = resourceName.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[.-]+/, "");
    return `/etc/udev/rules.d/90-pulumi-nic-${safe || "nic"}.rules`;
}
