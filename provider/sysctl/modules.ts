import type { CheckFailure } from "../check";
import { normaliseModuleName } from "../kernel-module/schema";
import { canonicalKey } from "./keys";
import type { HostSnapshot } from "./remote";
import type { SettingValue } from "./values";

/**
 * Sysctls that need a kernel module: their key exists only once the module is loaded, or their
 * value names something a module provides. Pure: what is loaded comes from a HostSnapshot.
 */

const AVAILABLE_CC = "net.ipv4.tcp_available_congestion_control";
const CC_KEYS = new Set(["net.ipv4.tcp_congestion_control", "net.ipv4.tcp_allowed_congestion_control"]);

/** Key trees a module creates: the key is missing until it is loaded. */
const KEY_MODULES: [RegExp, string][] = [
    [/^net\.netfilter\.nf_conntrack_/, "nf_conntrack"],
    [/^net\.nf_conntrack_max$/, "nf_conntrack"],
    [/^net\.bridge\.bridge-nf-/, "br_netfilter"],
];

const valueWords = (value: SettingValue): string[] => (typeof value === "string" ? value.trim().split(/\s+/) : []);

export interface ModuleNeed {
    /** The key as declared. */
    key: string;
    module: string;
    /** What needs it: the value ("bbr") or the key itself. */
    what: string;
}

/**
 * Each declared key's module needs, judged against the host: a congestion control the host
 * does not list in tcp_available_congestion_control needs tcp_<name> (the kernel's own
 * autoload rule); a key of a module's tree needs that module when the host lacks the key.
 */
export function moduleNeeds(settings: Record<string, SettingValue>, snapshot: HostSnapshot): ModuleNeed[] {
    const needs: ModuleNeed[] = [];
    const live = snapshot.values.get(AVAILABLE_CC);
    const available = new Set(live && "value" in live ? live.value.split(/\s+/) : []);
    for (const [key, value] of Object.entries(settings)) {
        const canonical = canonicalKey(key);
        if (CC_KEYS.has(canonical)) {
            if (!live) {
                continue;
            }
            for (const name of valueWords(value).filter((n) => !available.has(n))) {
                needs.push({ key, module: `tcp_${name}`, what: name });
            }
            continue;
        }
        const tree = KEY_MODULES.find(([pattern]) => pattern.test(canonical));
        if (tree && snapshot.values.get(canonical)?.state === "missing") {
            needs.push({ key, module: tree[1], what: "the key" });
        }
    }
    return needs;
}

/** Keys the check reads so that moduleNeeds can judge: the available congestion controls, and module-tree keys themselves. */
export function moduleProbeKeys(settings: Record<string, SettingValue>): string[] {
    const keys = Object.keys(settings).map(canonicalKey);
    const probe = keys.filter((k) => KEY_MODULES.some(([pattern]) => pattern.test(k)));
    return keys.some((k) => CC_KEYS.has(k)) ? [...probe, AVAILABLE_CC] : probe;
}

/**
 * Needs the host does not meet and `modules` does not promise, as check failures naming the key,
 * the module and the host. A missing key `skipsKey` skips is skipped (and reported), not refused.
 */
export function missingModules(needs: readonly ModuleNeed[], modules: readonly string[], skipsKey: (key: string) => boolean, target: string): CheckFailure[] {
    const promised = new Set(modules.map(normaliseModuleName));
    return needs
        .filter((n) => !promised.has(n.module) && !(n.what === "the key" && skipsKey(n.key)))
        .map((n) => ({
            property: `settings[${JSON.stringify(n.key)}]`,
            reason: `${n.what === "the key" ? `${canonicalKey(n.key)} exists only when` : `${n.what} needs`} kernel module ${n.module}, which is not loaded on ${target}; load it with a KernelModule and pass it in modules`,
        }));
}
