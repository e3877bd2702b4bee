/** The value the engine sends for a property not known until apply (an Output of another resource). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function containsUnknown(value: unknown): boolean {
    if (value === UNKNOWN) {
        return true;
    }
    if (value && typeof value === "object") {
        return Object.values(value).some(containsUnknown);
    }
    return false;
}

/** True when the value at `path`, or any value on the way to it, is unknown. */
export function unknownAlong(root: unknown, path: readonly PropertyKey[]): boolean {
    let current: unknown = root;
    for (const part of path) {
        if (current === UNKNOWN) {
            return true;
        }
        if (!current || typeof current !== "object") {
            return false;
        }
        current = (current as Record<PropertyKey, unknown>)[part];
    }
    return containsUnknown(current);
}
