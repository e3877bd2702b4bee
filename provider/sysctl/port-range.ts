import type { CheckFailure } from "../check";
import { canonicalKey } from "./keys";
import type { HostSnapshot } from "./remote";
import { SettingValue, isBound, limitsOf, normalise } from "./values";

/**
 * The ephemeral port range may not start below the host's first unprivileged port: the kernel
 * answers EINVAL (ipv4_local_port_range), and the host's own value decides, 1024 unless lowered.
 */

const RANGE = "net.ipv4.ip_local_port_range";
const UNPRIVILEGED_START = "net.ipv4.ip_unprivileged_port_start";

const declaredRange = (settings: Record<string, SettingValue>) => Object.entries(settings).find(([key]) => canonicalKey(key) === RANGE);

/** Keys the check reads so that rangeBelowUnprivileged can judge. */
export function portRangeProbeKeys(settings: Record<string, SettingValue>): string[] {
    return declaredRange(settings) ? [UNPRIVILEGED_START] : [];
}

export function rangeBelowUnprivileged(settings: Record<string, SettingValue>, snapshot: HostSnapshot, target: string): CheckFailure[] {
    const declared = declaredRange(settings);
    const live = snapshot.values.get(UNPRIVILEGED_START);
    if (!declared || live?.state !== "value") {
        return [];
    }
    const value = declared[1];
    if (isBound(value) && !("covers" in value)) {
        return [];
    }
    // A covering range starts at the declared start or the host's own, which the kernel took.
    const start = isBound(value) ? [limitsOf(value)].flat()[0] : Number(normalise(value).split(" ")[0]);
    const unprivileged = Number(live.value);
    return start < unprivileged
        ? [{ property: `settings[${JSON.stringify(declared[0])}]`, reason: `${target}: starts at ${start}, below ${UNPRIVILEGED_START} (${unprivileged}) there; the kernel refuses it (EINVAL)` }]
        : [];
}
