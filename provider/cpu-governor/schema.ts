import { z } from "zod";
import { persistFileNamesFit } from "../check";
import { cpuListSchema } from "../cpus";
import { ownerSchema } from "../host/ledger";
import { optionalConnectionSchema } from "../transport/connection";

const policyName = z.string().regex(/^[a-z0-9_-]{1,32}$/, "must be a cpufreq name such as performance, powersave, balance_performance");
const preference = z.union([policyName, z.array(policyName).min(1, "must name at least one")]);

export const cpuGovernorInputsSchema = z
    .object({
        connection: optionalConnectionSchema,
        governor: preference,
        // "default" asks for the firmware's value, which the file then shows by its own name (or a number): never as declared.
        energyPerformancePreference: preference
            .refine((value) => !preferenceList(value).includes("default"), 'cannot be "default": the kernel then shows the firmware\'s own value, so it would always look drifted; name the preference')
            .optional(),
        cpus: cpuListSchema.optional(),
        /** intel_pstate's performance floor, for every CPU: tuned's latency-performance sets 100. */
        minPerfPct: z.number().int().min(0).max(100).optional(),
        onUnsupported: z.enum(["fail", "skip"]).default("fail"),
        persist: z.boolean().default(true),
        restoreOnDelete: z.boolean().default(true),
        resourceName: z.string().min(1),
        owner: ownerSchema,
    })
    .strict()
    .superRefine(persistFileNamesFit((name) => [unitName(name)]));

export type CpuGovernorInputs = z.infer<typeof cpuGovernorInputsSchema>;

export function preferenceList(value: string | string[]): string[] {
    return Array.isArray(value) ? value : [value];
}

export function unitName(resourceName: string): string {
    const safe = resourceName.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[.-]+/, "");
    return `pulumi-cpu-governor-${safe || "cpus"}.service`;
}
