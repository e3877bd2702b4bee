import type { CheckFailure } from "../check";
import { canonicalKey } from "./keys";
import type { HostSnapshot } from "./remote";
import { SettingValue, isBound, normalise } from "./values";

/**
 * tcp_mem and udp_mem count pages of the host's own size: a value sized for 4 KiB pages is 16
 * times larger on a 64 KiB-page kernel, and copied from a bigger host it can exceed the RAM. With
 * the maximum at or above the host's RAM the kernel never presses on those buffers, so such a
 * value is refused before anything is written.
 */

const PAGE_COUNTED: Record<string, string> = { "net.ipv4.tcp_mem": "TCP", "net.ipv4.udp_mem": "UDP" };

const declaredPageCounted = (settings: Record<string, SettingValue>) => Object.entries(settings).filter(([key]) => canonicalKey(key) in PAGE_COUNTED);

/** Keys the check reads so that memoryBeyondHost can judge (reading one brings the host's RAM). */
export function pageCountedProbeKeys(settings: Record<string, SettingValue>): string[] {
    return declaredPageCounted(settings).map(([key]) => canonicalKey(key));
}

const GIB = 1024 * 1024 * 1024;
const size = (bytes: number) => (bytes >= GIB ? `${(bytes / GIB).toFixed(1)} GiB` : `${(bytes / (1024 * 1024)).toFixed(0)} MiB`);

export function memoryBeyondHost(settings: Record<string, SettingValue>, snapshot: HostSnapshot, target: string): CheckFailure[] {
    const memory = snapshot.memory;
    if (!memory) {
        return [];
    }
    const ramPages = Math.floor(memory.totalKiB / memory.pageKiB);
    return declaredPageCounted(settings).flatMap(([key, value]) => {
        // A bound in the right direction (atMost) can only lower it; atLeast asks for at least this.
        const plain = isBound(value) ? ("atLeast" in value ? value.atLeast : undefined) : value;
        const max = plain === undefined ? undefined : Number(normalise(plain).split(" ").pop());
        if (max === undefined || !Number.isFinite(max) || max < ramPages) {
            return [];
        }
        return [
            {
                property: `settings[${JSON.stringify(key)}]`,
                reason:
                    `${target}: allows ${PAGE_COUNTED[canonicalKey(key)]} buffers ${max} pages, ${size(max * memory.pageKiB * 1024)} at this host's ${memory.pageKiB} KiB pages, ` +
                    `not less than its ${size(memory.totalKiB * 1024)} of RAM: the kernel would never press on them. It counts pages of this host's size (sized for 4 KiB pages, or for a bigger host?)`,
            },
        ];
    });
}
