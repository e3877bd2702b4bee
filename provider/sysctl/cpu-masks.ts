import type { CheckFailure } from "../check";
import { formatCpuList, parseMask } from "../cpus";
import { canonicalKey } from "./keys";
import type { HostSnapshot } from "./remote";
import { CPU_MASK_KEYS, SettingValue } from "./values";

/**
 * A CPU mask may name only CPUs the host can have: the kernel parses it into a mask of
 * nr_cpu_ids bits (the highest possible CPU + 1) and answers EOVERFLOW for a bit beyond
 * (bitmap_parse), after keeping the bits that fit, so the write half-happens before it is refused.
 */

const declaredMasks = (settings: Record<string, SettingValue>) =>
    Object.entries(settings).filter(([key, value]) => CPU_MASK_KEYS.has(canonicalKey(key)) && typeof value === "string");

/** Whether `settings` hold a CPU mask, which the host's possible CPUs judge. */
export function declaresCpuMask(settings: Record<string, SettingValue>): boolean {
    return declaredMasks(settings).length > 0;
}

export function masksBeyondHost(settings: Record<string, SettingValue>, snapshot: HostSnapshot, target: string): CheckFailure[] {
    const possible = snapshot.possibleCpus;
    if (!possible || possible.length === 0) {
        return [];
    }
    const highest = Math.max(...possible);
    return declaredMasks(settings).flatMap(([key, value]) => {
        const beyond = parseMask(String(value)).filter((cpu) => cpu > highest);
        return beyond.length > 0
            ? [
                  {
                      property: `settings[${JSON.stringify(key)}]`,
                      reason: `${target}: names CPU${beyond.length > 1 ? "s" : ""} ${formatCpuList(beyond)}, but this host's CPUs are ${formatCpuList(possible)}; the kernel refuses it (EOVERFLOW)`,
                  },
              ]
            : [];
    });
}
