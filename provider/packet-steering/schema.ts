import { z } from "zod";
import { persistFileNamesFit } from "../check";
import { cpuPolicyFields, requireOnePolicy } from "../cpus";
import { ownerSchema } from "../host/ledger";
import { interfaceName } from "../nic/schema";
import { optionalConnectionSchema } from "../transport/connection";

/** rps_sock_flow_sysctl() refuses sizes above 1 << 29 with EINVAL (net/core/sysctl_net_core.c). */
export const MAX_FLOW_ENTRIES = 1 << 29;

const POLICIES = ["cpus", "spread", "numaLocal"] as const;

const cpuPolicy = z
    .object(cpuPolicyFields)
    .strict()
    .superRefine((policy, ctx) => requireOnePolicy(policy, POLICIES, ctx));

/** One message per bad value: zod's own checks would each add theirs (-1 was also "not a power of two"). */
function flowEntriesProblem(n: number): string | undefined {
    if (!Number.isInteger(n) || n < 1 || n > MAX_FLOW_ENTRIES) {
        return `${n} is not a whole number from 1 to the kernel's maximum ${MAX_FLOW_ENTRIES} (1 << 29)`;
    }
    if ((n & (n - 1)) !== 0) {
        return `${n} is not a power of two: the kernel rounds it up to ${nextPowerOfTwo(n)}; write that`;
    }
    return undefined;
}

const flowEntries = z.number().superRefine((n, ctx) => {
    const problem = flowEntriesProblem(n);
    if (problem) {
        ctx.addIssue({ code: "custom", message: problem });
    }
});

/** roundup_pow_of_two(), as the kernel sizes flow tables. */
export function nextPowerOfTwo(n: number): number {
    let p = 1;
    while (p < n) {
        p *= 2;
    }
    return p;
}

export const packetSteeringInputsSchema = z
    .object({
        connection: optionalConnectionSchema,
        interface: interfaceName,
        rps: cpuPolicy.optional(),
        rfs: z.object({ flowEntries }).strict().optional(),
        xps: cpuPolicy.optional(),
        /** net.core.rps_sock_flow_entries is global: a host that is a network namespace (a container) has no such key. */
        onMissing: z.enum(["fail", "skip"]).default("fail"),
        persist: z.boolean().default(true),
        restoreOnDelete: z.boolean().default(true),
        resourceName: z.string().min(1),
        owner: ownerSchema,
        /** Changes when the NIC's channels change, so steering is re-applied in the same run. */
        nicState: z.unknown().optional(),
    })
    .strict()
    .refine((i) => i.rps !== undefined || i.rfs !== undefined || i.xps !== undefined, { message: "set at least one of rps, rfs or xps", path: ["rps"] })
    .superRefine(persistFileNamesFit((name) => [ruleFile(name)]));

export type PacketSteeringInputs = z.infer<typeof packetSteeringInputsSchema>;

export function ruleFile(resourceName: string): string {
    const safe = resourceName.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[.-]+/, "");
    return `/etc/udev/rules.d/90-pulumi-steering-${safe || "steering"}.rules`;
}
