import { z } from "zod";
import { NAME_MAX, overlongFileName } from "../check";
import { moduleNameSchema } from "../kernel-module/schema";
import { optionalConnectionSchema } from "../transport/connection";
import { kernelPortList, shown, valueProblem } from "./grammar";
import { canonicalKey, keyProblem } from "./keys";
import { CPU_MASK_KEYS, SettingValue, comparable, isBound, limitsOf } from "./values";

/**
 * Keys whose values the kernel parses as integers. A string that is not a number here is a
 * mistake caught before any host is contacted. Keys not listed accept strings too.
 */
const STRING_VALUED = new Set([
    "net.core.default_qdisc",
    "net.ipv4.tcp_congestion_control",
    "net.ipv4.tcp_allowed_congestion_control",
    "net.ipv4.tcp_fastopen_key",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_available_congestion_control",
    "net.ipv4.tcp_available_ulp",
]);
const NUMERIC_TREES = [
    /^net\.core\./,
    /^net\.ipv4\.(tcp|udp)_/,
    /^net\.ipv4\.ip_local_port_range$/,
    /^net\.netfilter\.nf_conntrack_/,
    /^vm\./,
    /^fs\.(nr_open$|.*max)/,
    /^kernel\.(numa_balancing|nmi_watchdog|timer_migration|sched_|pid_max$|threads-max$)/,
    // Per-interface keys, in either spelling (an interface with a dot keeps the slash form);
    // IPv6's stable_secret alone takes an address.
    /^net[./]ipv4[./]conf[./]/,
    /^net[./]ipv6[./]conf[./].+[./](?!stable_secret$)[a-z0-9_]+$/,
];

export function requiresNumbers(key: string): boolean {
    const canonical = canonicalKey(key);
    return !STRING_VALUED.has(canonical) && !CPU_MASK_KEYS.has(canonical) && NUMERIC_TREES.some((tree) => tree.test(canonical));
}

/** Numeric keys the kernel reads several values from; every other one keeps the first and ignores the rest. */
const SEVERAL_NUMBERS = /^(net\.ipv4\.(tcp_[rw]?mem|udp_mem|ip_local_port_range)|vm\.lowmem_reserve_ratio)$/;

function countProblem(key: string, value: SettingValue): string | undefined {
    const plain = isBound(value) ? limitsOf(value) : value;
    const count = Array.isArray(plain) ? plain.length : String(plain).trim().split(/\s+/).length;
    if (count > 1 && requiresNumbers(key) && !SEVERAL_NUMBERS.test(canonicalKey(key))) {
        return `takes one number, got ${count}: the kernel would keep the first and ignore the rest`;
    }
    return undefined;
}

const noControl = (s: string) => !/[\0\n\r]/.test(s);

const integer = z.number().int("must be an integer").refine(Number.isSafeInteger, "is outside the safe integer range");
const numbers = z.union([integer, z.array(integer).min(1, "must not be empty").max(16)]);
const plainValue = z.union([
    integer,
    z.array(integer).min(1, "must not be empty").max(16, "has more than 16 values"),
    z
        .string()
        .max(4096)
        .refine(noControl, "must not contain newlines or NUL bytes")
        .refine((s) => s.trim().length > 0, "must not be empty"),
]);
const bound = z.union([z.object({ atLeast: numbers }).strict(), z.object({ atMost: numbers }).strict(), z.object({ covers: z.tuple([integer, integer]) }).strict()]);
/** One setting's value in any declared shape (the key's own grammar is checked beside it). */
export const settingValue = z.union([plainValue, bound], {
    error: "must be a number, a string, an array of numbers, or { atLeast: N } / { atMost: N } / { covers: [FROM, TO] }",
});

/**
 * Keys whose value is a range FROM TO, which a `covers` bound may declare. Not ping_group_range:
 * its "1 0" means no group, which covering end by end would turn into a grant to groups never named.
 */
const RANGE_KEYS = new Set(["net.ipv4.ip_local_port_range"]);

const settings = z
    .record(z.string(), z.unknown())
    .superRefine((record, ctx) => {
        if (Object.keys(record).length === 0) {
            ctx.addIssue({ code: "custom", message: "must name at least one sysctl" });
        }
        const seen = new Map<string, string>();
        for (const [key, value] of Object.entries(record)) {
            const problem = keyProblem(key);
            if (problem) {
                const named = key.length > 80 ? `the ${key.length}-character key "${key.slice(0, 40)}…"` : key;
                ctx.addIssue({ code: "custom", path: [key], message: `${named} ${problem}` });
                continue;
            }
            const canonical = canonicalKey(key);
            const other = seen.get(canonical);
            if (other !== undefined) {
                ctx.addIssue({ code: "custom", path: [key], message: `${key} is the same setting as ${other}` });
            }
            seen.set(canonical, key);
            const parsed = settingValue.safeParse(value);
            if (!parsed.success) {
                for (const issue of parsed.error.issues) {
                    ctx.addIssue({ code: "custom", path: [key, ...issue.path], message: `${key} ${issue.message}` });
                }
            } else if (typeof value === "string" && requiresNumbers(key) && !/^\s*-?\d+(\s+-?\d+)*\s*$/.test(value)) {
                ctx.addIssue({ code: "custom", path: [key], message: `${key} takes numbers, got ${shown(value)}` });
            } else if (typeof value === "object" && value !== null && "covers" in value && !RANGE_KEYS.has(canonical)) {
                ctx.addIssue({ code: "custom", path: [key], message: `${key} takes no covers: it is for ${[...RANGE_KEYS].join(" and ")}; use atLeast or atMost` });
            } else {
                const problem = valueProblem(key, parsed.data as SettingValue) ?? countProblem(key, parsed.data as SettingValue);
                if (problem) {
                    ctx.addIssue({ code: "custom", path: [key], message: `${key} ${problem}` });
                }
            }
        }
    })
    .superRefine((record, ctx) => {
        const declared = (name: string) => Object.entries(record).find(([key]) => canonicalKey(key) === name);
        const chosen = declared("net.ipv4.tcp_congestion_control");
        const allowed = declared("net.ipv4.tcp_allowed_congestion_control");
        const wellFormed = (entry: [string, unknown]) => typeof entry[1] === "string" && valueProblem(entry[0], entry[1]) === undefined;
        if (chosen && allowed && wellFormed(chosen) && wellFormed(allowed) && !String(allowed[1]).trim().split(/\s+/).includes(String(chosen[1]).trim())) {
            ctx.addIssue({
                code: "custom",
                path: [allowed[0]],
                message: `${allowed[0]} must list ${String(chosen[1]).trim()}, the tcp_congestion_control declared beside it: the kernel adds it to the allowed list when it becomes the default`,
            });
        }
    })
    .transform((record) => Object.fromEntries(Object.entries(record).map(([key, value]) => [key, kernelForm(canonicalKey(key), value as SettingValue)])));

/** A value in the form the kernel prints it back, where that differs from how it may be written. */
function kernelForm(key: string, value: SettingValue): SettingValue {
    if (key === "net.ipv4.ip_local_reserved_ports") {
        return kernelPortList(String(value));
    }
    return typeof value === "string" ? comparable(key, value) : value;
}

/** Whether `value` is one a user may declare for `key` (what state's inputs must hold to parse again). */
export const declarable = (key: string, value: unknown): boolean => settings.safeParse({ [key]: value }).success;

export const sysctlSetInputsSchema = z
    .object({
        connection: optionalConnectionSchema,
        settings,
        persist: z.boolean().default(true),
        persistFile: z
            .string()
            .superRefine((path, ctx) => {
                const problem = persistFileProblem(path);
                if (problem) {
                    ctx.addIssue({ code: "custom", message: problem });
                }
            })
            .optional(),
        onMissing: z.enum(["fail", "skip"]).default("fail"),
        /** Keys of `settings` that fail when the host lacks them even under onMissing: "skip". */
        requiredKeys: z.array(z.string()).max(4096).optional(),
        restoreOnDelete: z.boolean().default(true),
        /** Take keys another SysctlSet's ledger holds on the host (their original values come along). */
        takeOver: z.boolean().default(false),
        /** Kernel modules these settings rely on (a KernelModule's names): check takes them as loaded. */
        modules: z.array(moduleNameSchema).max(64).optional(),
        resourceName: z.string().min(1),
        /** project/stack/resource: who owns the keys in the host's ledger. */
        owner: z.string().min(1).max(1024).optional(),
    })
    .strict()
    .superRefine((inputs, ctx) => {
        const declared = new Set(Object.keys(inputs.settings).map(canonicalKey));
        (inputs.requiredKeys ?? []).forEach((key, i) => {
            if (!declared.has(canonicalKey(key))) {
                ctx.addIssue({ code: "custom", path: ["requiredKeys", i], message: `${key} is not one of the settings` });
            }
        });
        if (inputs.persist && inputs.persistFile === undefined) {
            const length = overlongFileName(defaultPersistFile(inputs.resourceName));
            if (length !== undefined) {
                ctx.addIssue({
                    code: "custom",
                    path: ["persistFile"],
                    message: `the default file name (90-pulumi-<resource name>.conf) is ${length} characters, above ${NAME_MAX}; set persistFile`,
                });
            }
        }
    });

/** Linux PATH_MAX (with the NUL): longer paths fail with ENAMETOOLONG. */
const PATH_MAX = 4096;

/** Why `path` cannot be the persistence file, or undefined when it can. */
export function persistFileProblem(path: string): string | undefined {
    if (path.length >= PATH_MAX) {
        return `is ${path.length} characters; a path is at most ${PATH_MAX - 1} (PATH_MAX)`;
    }
    const tooLong = overlongFileName(path);
    if (tooLong !== undefined) {
        return `has a ${tooLong}-character file name; each path component is at most ${NAME_MAX} (NAME_MAX)`;
    }
    if (!/^\/etc\/sysctl\.d\/[A-Za-z0-9_][A-Za-z0-9_.-]*\.conf$/.test(path)) {
        return "must be a .conf file directly in /etc/sysctl.d/ (e.g. /etc/sysctl.d/90-app.conf)";
    }
    return undefined;
}

export type SysctlSetInputs = z.infer<typeof sysctlSetInputsSchema>;

/** Default persistence file: one per resource, named after it, sorted late so it wins at boot. */
export function defaultPersistFile(resourceName: string): string {
    const safe = resourceName.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[.-]+/, "");
    return `/etc/sysctl.d/90-pulumi-${safe || "sysctl"}.conf`;
}

export function persistFileOf(inputs: SysctlSetInputs): string {
    return inputs.persistFile ?? defaultPersistFile(inputs.resourceName);
}
