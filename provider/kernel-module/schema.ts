import { z } from "zod";
import { persistFileNamesFit } from "../check";
import { ownerSchema } from "../host/ledger";
import { optionalConnectionSchema } from "../transport/connection";

/**
 * Kernel module names as modprobe takes them. modprobe treats "-" and "_" alike and the kernel
 * names a loaded module with "_" (/sys/module/tcp_bbr), so names are compared in that form.
 * 55 characters: MODULE_NAME_LEN (64) less the ".ko.zst" a file name needs, with room to spare.
 */
export const MODULE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,54}$/;

/** Not starting with "-": modprobe and rmmod would take the name for an option. */
export const moduleNameSchema = z.string().regex(MODULE_NAME, "must be a kernel module name: 1-55 of A-Z a-z 0-9 _ -, not starting with -");

export const normaliseModuleName = (name: string): string => name.replace(/-/g, "_");

/** Parameter names are C identifiers (the kernel, like modprobe, also takes "-" for "_"). */
const parameterName = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** Values reach modprobe as one `name=value` word: no spaces, quotes or shell metacharacters. */
function parameterValueProblem(value: unknown): string | undefined {
    if (typeof value === "number") {
        return Number.isSafeInteger(value) ? undefined : "must be an integer (within the safe range)";
    }
    if (typeof value === "string") {
        return /^[A-Za-z0-9_.,:+\/@-]{1,256}$/.test(value) ? undefined : "must be 1-256 of A-Z a-z 0-9 _ . , : + / @ - (no spaces, quotes or shell characters)";
    }
    return "must be a string or an integer";
}

const parameters = z.record(z.string(), z.unknown()).superRefine((record, ctx) => {
    const seen = new Map<string, string>();
    for (const [name, value] of Object.entries(record)) {
        const normalised = normaliseModuleName(name);
        const twin = seen.get(normalised);
        seen.set(normalised, twin ?? name);
        if (twin !== undefined) {
            ctx.addIssue({ code: "custom", path: [name], message: `${name} is ${twin} again ("-" and "_" are the same to the kernel): set it once` });
            continue;
        }
        if (!parameterName.test(name)) {
            ctx.addIssue({ code: "custom", path: [name], message: `${JSON.stringify(name.slice(0, 80))} is not a module parameter name (a C identifier, at most 64 characters)` });
            continue;
        }
        const problem = parameterValueProblem(value);
        if (problem) {
            ctx.addIssue({ code: "custom", path: [name], message: `${name} ${problem}` });
        }
    }
});

const moduleSpec = z.union([moduleNameSchema, z.object({ name: moduleNameSchema, parameters: parameters.optional() }).strict()]);

export const kernelModuleInputsSchema = z
    .object({
        connection: optionalConnectionSchema,
        modules: z.array(moduleSpec).min(1, "must name at least one module").max(64),
        persist: z.boolean().default(true),
        restoreOnDelete: z.boolean().default(true),
        resourceName: z.string().min(1),
        owner: ownerSchema,
    })
    .strict()
    .superRefine((inputs, ctx) => {
        const seen = new Map<string, number>();
        inputs.modules.forEach((spec, i) => {
            const name = normaliseModuleName(typeof spec === "string" ? spec : spec.name);
            if (seen.has(name)) {
                ctx.addIssue({ code: "custom", path: ["modules", i], message: `${name} is listed twice (modules[${seen.get(name)}]; "-" and "_" are the same to modprobe)` });
            }
            seen.set(name, i);
        });
    })
    .superRefine(persistFileNamesFit((name) => Object.values(persistFiles(name))));

export type KernelModuleInputs = z.infer<typeof kernelModuleInputsSchema>;

/** One declared module: its name in the kernel's form, and its parameters as strings. */
export interface ModuleSpec {
    name: string;
    parameters: Record<string, string>;
}

export function moduleSpecs(inputs: KernelModuleInputs): ModuleSpec[] {
    return inputs.modules.map((spec) =>
        typeof spec === "string"
            ? { name: normaliseModuleName(spec), parameters: {} }
            : {
                  name: normaliseModuleName(spec.name),
                  parameters: Object.fromEntries(Object.entries(spec.parameters ?? {}).map(([k, v]) => [normaliseModuleName(k), String(v)])),
              },
    );
}

function safeName(resourceName: string): string {
    return resourceName.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[.-]+/, "") || "modules";
}

/** systemd-modules-load(8) reads /etc/modules-load.d/*.conf at boot; modprobe reads options from /etc/modprobe.d/*.conf. */
export function persistFiles(resourceName: string): { load: string; options: string } {
    const name = `pulumi-${safeName(resourceName)}.conf`;
    return { load: `/etc/modules-load.d/${name}`, options: `/etc/modprobe.d/${name}` };
}
