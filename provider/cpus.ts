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
