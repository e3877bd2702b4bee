/**
 * Size limits checked in the program, before the resource is registered. The engine copies
 * every input into its state and diffs; a 100,000-character key makes it panic ("string exceeded
 * max length") before the provider's check could refuse it, so oversized inputs never reach it.
 * Values not known yet (Outputs) are left to check, which has its own (smaller) limits.
 */

/** A sysctl name is a path under /proc/sys; check refuses anything above 255 characters too. */
export const MAX_KEY_LENGTH = 255;
/** A sysctl write is at most one page. */
export const MAX_VALUE_LENGTH = 4096;
/** Far more than any tuning profile; a set this large is a generated mistake. */
export const MAX_KEYS = 1000;

function isPlainObject(value: unknown): value is Record<string, unknown> {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return false;
    }
    const proto = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
}

const shortened = (s: string) => (s.length > 40 ? `${s.slice(0, 40)}…` : s);

/** Problems with the sizes of a SysctlSet's plain (already known) settings, each naming its property. */
export function settingsSizeProblems(settings: unknown): string[] {
    if (!isPlainObject(settings)) {
        return [];
    }
    const problems: string[] = [];
    const keys = Object.keys(settings);
    if (keys.length > MAX_KEYS) {
        problems.push(`settings has ${keys.length} keys; at most ${MAX_KEYS}`);
    }
    for (const key of keys) {
        const property = `settings[${JSON.stringify(shortened(key))}]`;
        if (key.length > MAX_KEY_LENGTH) {
            problems.push(`${property}: the key is ${key.length} characters; a sysctl key is at most ${MAX_KEY_LENGTH}`);
            continue;
        }
        const value = settings[key];
        if (typeof value === "string" && value.length > MAX_VALUE_LENGTH) {
            problems.push(`${property}: the value is ${value.length} characters; a sysctl value is at most ${MAX_VALUE_LENGTH}`);
        }
        if (problems.length >= 5) {
            break;
        }
    }
    return problems;
}
