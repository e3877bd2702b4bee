/** CPU sets as the kernel writes them: cpulists ("0-3,8,10-11"). */

import { z } from "zod";

/**
 * The highest CPU number a cpulist may name: the kernel's largest NR_CPUS (CONFIG_NR_CPUS is at
 * most 8192 on x86_64 and arm64), so CPU numbers run 0-8191.
 */
export const MAX_CPU = 8191;

/** Why `text` is not a usable CPU list, or undefined when it is. Never throws. */
export function cpuListProblem(text: string): string | undefined {
    const trimmed = text.trim();
    if (trimmed === "") {
        return 'must not be empty; write a CPU list such as "0-3,8"';
    }
    if (trimmed.length > 4096) {
        return `is ${trimmed.length} characters; a CPU list is at most 4096`;
    }
    const parts = trimmed.split(",").map((p) => p.trim());
    for (const part of parts) {
        if (part === "") {
            return `"${excerpt(trimmed)}" has an empty element (two commas, or a leading or trailing comma)`;
        }
        const match = /^(\d+)(?:-(\d+))?$/.exec(part);
        if (!match) {
            return `"${excerpt(trimmed)}" is not a CPU list: "${excerpt(part)}" is neither a CPU number nor a range N-M (e.g. "0-3,8")`;
        }
        for (const n of [match[1], match[2]]) {
            if (n !== undefined && (n.replace(/^0+(?=\d)/, "").length > 5 || Number(n) > MAX_CPU)) {
                return `"${excerpt(trimmed)}" names CPU ${excerpt(n)}, above ${MAX_CPU} (the kernel's largest NR_CPUS is 8192)`;
            }
        }
        if (match[2] !== undefined && Number(match[2]) < Number(match[1])) {
            return `"${excerpt(trimmed)}" has the descending range ${part}; write ${Number(match[2])}-${Number(match[1])}`;
        }
    }
    return undefined;
}

function excerpt(s: string): string {
    return s.length > 40 ? `${s.slice(0, 40)}… (${s.length} characters)` : s;
}

export function isCpuList(text: string): boolean {
    return cpuListProblem(text) === undefined;
}

/** A CPU list input: a failure says what is wrong with it (descending range, CPU above 8191, empty element). */
export const cpuListSchema = z.string().superRefine((text, ctx) => {
    const problem = cpuListProblem(text);
    if (problem) {
        ctx.addIssue({ code: "custom", message: problem });
    }
});

/** The CPUs of a list; "" (an empty kernel file, e.g. no CPU offline) is the empty set. */
export function parseCpuList(text: string): number[] {
    if (text.trim() === "") {
        return [];
    }
    const problem = cpuListProblem(text);
    if (problem) {
        throw new Error(`CPU list ${problem}`);
    }
    const cpus = new Set<number>();
    for (const part of text.trim().split(",")) {
        const [from, to] = part.split("-").map((n) => Number(n.trim()));
        for (let cpu = from; cpu <= (to ?? from); cpu++) {
            cpus.add(cpu);
        }
    }
    return [...cpus].sort((a, b) => a - b);
}

export function formatCpuList(cpus: readonly number[]): string {
    const sorted = [...new Set(cpus)].sort((a, b) => a - b);
    const parts: string[] = [];
    for (let i = 0; i < sorted.length; i++) {
        let j = i;
        while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) {
            j++;
        }
        parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
        i = j;
    }
    return parts.join(",");
}

export function sameCpuList(a: string, b: string): boolean {
    return formatCpuList(parseCpuList(a)) === formatCpuList(parseCpuList(b));
}

/** CPU placement policies shared by IrqAffinity and PacketSteering (one of cpus, spread, numaLocal; exclude). */
export interface CpuPolicy {
    cpus?: string;
    spread?: string;
    numaLocal?: boolean;
    exclude?: string;
}

/** What a policy needs to know about the host. */
export interface CpuHost {
    online: number[];
    /** The NIC's NUMA node and its CPUs, when it reports one. */
    numaNode?: number;
    numaCpus?: number[];
}

/** A policy the host cannot take: `property` is the input at fault (under the caller's prefix), `why` says how. */
export class CpuPolicyError extends Error {
    constructor(
        readonly property: string,
        readonly why: string,
    ) {
        super(why);
    }
}

/** `cpus` less `excluded` and offline CPUs; none left throws CpuPolicyError naming `property` and `what` the list is. */
export function usableCpus(cpus: number[], excluded: number[], online: number[], what: string, property: string): number[] {
    const left = cpus.filter((c) => !excluded.includes(c) && online.includes(c));
    if (left.length === 0) {
        throw new CpuPolicyError(
            property,
            `no online CPU left in ${what} ${formatCpuList(cpus)}${excluded.length ? ` after excluding ${formatCpuList(excluded)}` : ""} (online: ${formatCpuList(online)})`,
        );
    }
    return left;
}

/** The policy fields of an inputs schema: each CPU list validated by cpuListSchema. */
export const cpuPolicyFields = {
    cpus: cpuListSchema.optional(),
    spread: cpuListSchema.optional(),
    numaLocal: z.boolean().optional(),
    exclude: cpuListSchema.optional(),
};

/** The policies set in `inputs` among `names` (numaLocal: false counts as unset). */
export function chosenPolicies<K extends string>(inputs: Partial<Record<K, unknown>>, names: readonly K[]): K[] {
    return names.filter((p) => inputs[p] !== undefined && inputs[p] !== false);
}

/** For a zod superRefine: exactly one of `names` must be set (issue at `path` + the offending name). */
export function requireOnePolicy<K extends string>(inputs: Partial<Record<K, unknown>>, names: readonly K[], ctx: z.RefinementCtx, path: (string | number)[] = []): void {
    const chosen = chosenPolicies(inputs, names);
    if (chosen.length !== 1) {
        const list = names.length > 1 ? `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}` : names[0];
        ctx.addIssue({
            code: "custom",
            path: [...path, chosen[1] ?? names[0]],
            message: `set exactly one placement policy: ${list}${chosen.length ? ` (got ${chosen.join(", ")})` : ""}`,
        });
    }
}

/**
 * CPU sets for `count` items (queue IRQs, queues) by a policy: `cpus` gives every item the whole
 * (usable) list, `spread` and `numaLocal` one CPU per item, round-robin. `exclude` and offline
 * CPUs are left out; a policy left with no CPU throws CpuPolicyError naming the property under
 * `prefix` ("" or "rps."). `noNuma` is set when numaLocal fell back to every online CPU.
 */
export function distributeCpus(policy: CpuPolicy, host: CpuHost, count: number, prefix = ""): { sets: number[][]; noNuma: boolean } {
    const { name, listed, what, noNuma } = policyCpus(policy, host, prefix);
    const usable = usableCpus(listed, policy.exclude ? parseCpuList(policy.exclude) : [], host.online, what, prefix + name);
    const sets = name === "cpus" ? Array.from({ length: count }, () => usable) : Array.from({ length: count }, (_, i) => [usable[i % usable.length]]);
    return { sets, noNuma };
}

/**
 * The policy set, and the CPUs it names before exclusions and offline CPUs are left out: its own
 * list, or for numaLocal the NIC's NUMA node's CPUs (every online CPU when the NIC reports no node:
 * `noNuma`). `what` names the list in messages.
 */
export function policyCpus(policy: CpuPolicy, host: CpuHost, prefix = ""): { name: "cpus" | "numaLocal" | "spread"; listed: number[]; what: string; noNuma: boolean } {
    if (policy.cpus) {
        return { name: "cpus", listed: parseCpuList(policy.cpus), what: `${prefix}cpus`, noNuma: false };
    }
    if (policy.numaLocal) {
        const noNuma = host.numaNode === undefined || !host.numaCpus;
        return noNuma ? { name: "numaLocal", listed: host.online, what: "online CPUs", noNuma } : { name: "numaLocal", listed: host.numaCpus!, what: `NUMA node ${host.numaNode} CPUs`, noNuma };
    }
    return { name: "spread", listed: parseCpuList(policy.spread!), what: `${prefix}spread`, noNuma: false };
}

/**
 * A CPU set in the kernel's mask format (bitmap %*pb): hex, in 32-bit chunks separated by commas,
 * most significant first; "0" for none. The kernel pads its own output to nr_cpu_ids bits
 * ("00000000,00000003"); bitmap_parse() takes either.
 */
export function formatMask(cpus: readonly number[]): string {
    const chunks: number[] = [];
    for (const cpu of cpus) {
        const chunk = Math.floor(cpu / 32);
        while (chunks.length <= chunk) {
            chunks.push(0);
        }
        chunks[chunk] = (chunks[chunk] | (1 << cpu % 32)) >>> 0;
    }
    if (chunks.length === 0) {
        return "0";
    }
    const parts = chunks.reverse().map((c, i) => (i === 0 ? c.toString(16) : c.toString(16).padStart(8, "0")));
    return parts.join(",");
}

const CPU_MASK = /^[0-9a-fA-F]{1,8}(,[0-9a-fA-F]{1,8})*$/;

/** Whether `text` is a CPU mask in the kernel's format. */
export function isCpuMask(text: string): boolean {
    return CPU_MASK.test(text.trim());
}

/** The CPUs of a mask as the kernel prints it ("f", "00000000,00000003", "0"); throws on anything else. */
export function parseMask(text: string): number[] {
    const trimmed = text.trim();
    if (!CPU_MASK.test(trimmed)) {
        throw new Error(`"${trimmed.slice(0, 40)}" is not a CPU mask (hex, 32-bit chunks separated by commas)`);
    }
    const cpus: number[] = [];
    trimmed
        .split(",")
        .reverse()
        .forEach((chunk, i) => {
            const value = parseInt(chunk, 16);
            for (let bit = 0; bit < 32; bit++) {
                if ((value >>> bit) & 1) {
                    cpus.push(32 * i + bit);
                }
            }
        });
    return cpus;
}
