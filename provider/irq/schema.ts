import { z } from "zod";
import { cpuListSchema } from "../cpus";
import { interfaceName } from "../nic/schema";
import { optionalConnectionSchema } from "../transport/connection";

const cpuList = cpuListSchema;

export const irqAffinityInputsSchema = z
    .object({
        connection: optionalConnectionSchema,
        interface: interfaceName,
        cpus: cpuList.optional(),
        spread: cpuList.optional(),
        numaLocal: z.boolean().optional(),
        perIrq: z.record(z.string().regex(/^[A-Za-z0-9_.:@-]{1,64}$/, "must be an IRQ number or its /proc/interrupts name"), cpuList).optional(),
        exclude: cpuList.optional(),
        irqbalance: z.enum(["ban", "stop", "leave"]).default("ban"),
        persist: z.boolean().default(true),
        restoreOnDelete: z.boolean().default(true),
        resourceName: z.string().min(1),
        /** Changes when the NIC's rings/channels change, so affinity is re-applied in the same run. */
        nicState: z.unknown().optional(),
    })
    .strict()
    .superRefine((inputs, ctx) => {
        const chosen = (["cpus", "spread", "numaLocal", "perIrq"] as const).filter((p) => inputs[p] !== undefined && inputs[p] !== false);
        if (chosen.length !== 1) {
            ctx.addIssue({
                code: "custom",
                path: [chosen[1] ?? "cpus"],
                message: `set exactly one placement policy: cpus, spread, numaLocal or perIrq${chosen.length ? ` (got ${chosen.join(", ")})` : ""}`,
            });
        }
        if (inputs.exclude && inputs.perIrq) {
            ctx.addIssue({ code: "custom", path: ["exclude"], message: "exclude applies to cpus, spread and numaLocal; perIrq lists CPUs explicitly" });
        }
    });

export type IrqAffinityInputs = z.infer<typeof irqAffinityInputsSchema>;

export function unitName(resourceName: string): string {
    const safe = resourceName.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[.-]+/, "");
    return `pulumi-irq-affinity-${safe || "irqs"}.service`;
}
