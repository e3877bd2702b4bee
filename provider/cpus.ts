/** CPU sets as the kernel writes them: cpulists ("0-3,8,10-11"). */

const CPULIST = /^\s*\d+(-\d+)?(\s*,\s*\d+(-\d+)?)*\s*$/;

export function isCpuList(text: string): boolean {
    return CPULIST.test(text);
}

export function parseCpuList(text: string): number[] {
    const trimmed = text.trim();
    if (trimmed === "") {
        return [];
    }
    if (!isCpuList(trimmed)) {
        throw new Error(`"${text}" is not a CPU list (e.g. "0-3,8")`);
    }
    const cpus = new Set<number>();
    for (const part of trimmed.split(",")) {
        const [from, to] = part.trim().split("-").map(Number);
        const last = to ?? from;
        if (last < from) {
            throw new Error(`"${part.trim()}" is a descending range`);
        }
        if (last - from > 8192) {
            throw new Error(`"${part.trim()}" is too large a range`);
        }
        for (let cpu = from; cpu <= last; cpu++) {
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
