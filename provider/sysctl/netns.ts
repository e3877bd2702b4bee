import type { CheckFailure } from "../check";
import { canonicalKey } from "./keys";
import type { HostSnapshot } from "./remote";
import type { SettingValue } from "./values";

/**
 * What a host in a network namespace other than the machine's own (a container, a netns) may not
 * set although the key is there and writable. Pure: the host's state comes from a HostSnapshot.
 */

const CC = "net.ipv4.tcp_congestion_control";
const ALLOWED_CC = "net.ipv4.tcp_allowed_congestion_control";
/** A key only the initial network namespace has (a global one): its absence says the host is in another. */
const INITIAL_NAMESPACE_ONLY = "net.core.netdev_max_backlog";

const declaredCongestionControl = (settings: Record<string, SettingValue>) => Object.entries(settings).find(([key]) => canonicalKey(key) === CC);

/** Keys the check reads so that restrictedCongestionControl can judge. */
export function netnsProbeKeys(settings: Record<string, SettingValue>): string[] {
    return declaredCongestionControl(settings) ? [ALLOWED_CC, INITIAL_NAMESPACE_ONLY] : [];
}

/**
 * Outside the initial network namespace the kernel sets tcp_congestion_control only to an
 * algorithm tcp_allowed_congestion_control lists, and answers EPERM for any other
 * (tcp_set_default_congestion_control), even one it has loaded.
 */
export function restrictedCongestionControl(settings: Record<string, SettingValue>, snapshot: HostSnapshot, target: string): CheckFailure[] {
    const declared = declaredCongestionControl(settings);
    const allowedLive = snapshot.values.get(ALLOWED_CC);
    if (!declared || typeof declared[1] !== "string" || snapshot.values.get(INITIAL_NAMESPACE_ONLY)?.state !== "missing" || !allowedLive || !("value" in allowedLive)) {
        return [];
    }
    const [key, value] = declared;
    const wanted = value.trim();
    const allowed = allowedLive.value.split(" ");
    const current = snapshot.values.get(CC);
    if (allowed.includes(wanted) || (current && "value" in current && current.value === wanted)) {
        return [];
    }
    return [
        {
            property: `settings[${JSON.stringify(key)}]`,
            reason: `${target}: ${wanted} is not in ${ALLOWED_CC} (${allowed.join(" ")}): this host is a network namespace other than the machine's own (a container; it has no ${INITIAL_NAMESPACE_ONLY}), where the kernel sets only those (EPERM)`,
        },
    ];
}
