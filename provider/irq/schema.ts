import { z } from "zod";
import { persistFileNamesFit } from "../check";
import { cpuListSchema, cpuPolicyFields, requireOnePolicy } from "../cpus";
import { ownerSchema } from "../host/ledger";
import { interfaceName } from "../nic/schema";
import { optionalConnectionSchema } from "../transport/connection";

export const irqAffinityInputsSchema = z
    .object({
        connection: optionalConnectionSchema,
        interface: interfaceName,
        ...cpuPolicyFields,
        perIrq: z.record(z.string().regex(/^[A-Za-z0-9_.:@-]{1,64}$/, "must be an IRQ number or its /proc/interrupts name"), cpuListSchema).optional(),
        irqbalance: z.enum(["ban", "stop", "leave"]).default("ban"),
        persist: z.boolean().default(true),
        restoreOnDelete: z.boolean().default(true),
        resourceName: z.string().min(1),
        owner: ownerSchema,
        /** Changes when the NIC's rings/channels change, so affinity is re-applied in the same run. */
        nicState: z.unknown().optional(),
    })
    .strict()
    .superRefine((inputs, ctx) => {
        requireOnePolicy(inputs, ["cpus", "spread", "numaLocal", "perIrq"], ctx);
        if (inputs.exclude && inputs.perIrq) {
            ctx.addIssue({ code: "custom", path: ["exclude"], message: "exclude applies to cpus, spread and numaLocal; perIrq lists CPUs explicitly" });
        }
    })
    .superRefine(persistFileNamesFit((name) => [unitName(name)]));

export type IrqAffinityInputs = z.infer<typeof irqAffinityInputsSchema>;

export function unitName(resourceName: string): string {
    const safe = resourceName.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[.-]+/, "");
    return `pulumi-irq-affinity-${safe || "irqs"}.service`;
}
