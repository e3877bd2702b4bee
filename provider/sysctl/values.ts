/**
 * Sysctl values as users write them and as the kernel prints them, and how they compare.
 * The kernel separates multi-value keys with tabs (`4096\t131072\t6291456`); users write
 * spaces or arrays. Everything is compared in one normal form: tokens joined by one space.
 */
import { formatMask, isCpuMask, parseMask } from "../cpus";

export type PlainValue = number | string | number[];
/** `covers`: a range (two numbers) that contains this one, the host's own ends kept where wider. */
export type Bound = { atLeast: number | number[] } | { atMost: number | number[] } | { covers: [number, number] };
export type SettingValue = PlainValue | Bound;

export function isBound(value: SettingValue): value is Bound {
    return typeof value === "object" && !Array.isArray(value);
}

/** A bound's numbers. */
export const limitsOf = (bound: Bound): number | number[] => ("atLeast" in bound ? bound.atLeast : "atMost" in bound ? bound.atMost : bound.covers);

/** Per element, whether the bound wants the live number kept when at least (true) or at most (false) its limit. */
export const keepsHigher = (bound: Bound, index: number): boolean => ("covers" in bound ? index === 1 : "atLeast" in bound);

export function normalise(value: PlainValue): string {
    if (Array.isArray(value)) {
        return value.map(formatNumber).join(" ");
    }
    if (typeof value === "number") {
        return formatNumber(value);
    }
    return value.trim().split(/\s+/).join(" ");
}

function formatNumber(n: number): string {
    return Number.isInteger(n) ? n.toFixed(0) : String(n);
}

const INTEGER = /^-?\d+$/;

function tokens(normalised: string): string[] {
    return normalised === "" ? [] : normalised.split(" ");
}

/** Canonical integers ("007" is 7) so formatting never shows up as drift. */
export function canonicalNumbers(normalised: string): string {
    return tokens(normalised)
        .map((t) => (INTEGER.test(t) ? BigInt(t).toString() : t))
        .join(" ");
}

export function sameValue(a: string, b: string): boolean {
    return canonicalNumbers(a) === canonicalNumbers(b);
}

/**
 * The value the kernel should hold given what it holds now: plain values are exact; bounds
 * (tuned's `>N`, `<N`) keep the live value when it already satisfies them, element by element.
 */
export function targetValue(desired: SettingValue, live: string): string {
    if (!isBound(desired)) {
        return normalise(desired);
    }
    const bound = limitsOf(desired);
    const limits = Array.isArray(bound) ? bound : [bound];
    const current = tokens(canonicalNumbers(live));
    if (current.length !== limits.length || current.some((t) => !INTEGER.test(t))) {
        return normalise(limits);
    }
    return current
        .map((t, i) => {
            const have = BigInt(t);
            const limit = BigInt(limits[i]);
            const keep = keepsHigher(desired, i) ? have >= limit : have <= limit;
            return (keep ? have : limit).toString();
        })
        .join(" ");
}

/** True when `live` already is what `desired` asks for. */
export function satisfies(desired: SettingValue, live: string): boolean {
    return sameValue(targetValue(desired, live), live);
}

/**
 * Presents a live value in the shape the user declared, so a refresh diff reads
 * `65535 => 4096` rather than a type change. A satisfied bound is shown as the bound itself.
 */
export function inDeclaredShape(desired: SettingValue, live: string): SettingValue {
    if (isBound(desired) && satisfies(desired, live)) {
        return desired;
    }
    const shapeOf = isBound(desired) ? limitsOf(desired) : desired;
    const parts = tokens(canonicalNumbers(live));
    const allIntegers = parts.length > 0 && parts.every((t) => INTEGER.test(t) && Number.isSafeInteger(Number(t)));
    if (Array.isArray(shapeOf) && allIntegers) {
        return parts.map(Number);
    }
    if (typeof shapeOf === "number" && allIntegers && parts.length === 1) {
        return Number(parts[0]);
    }
    return parts.join(" ");
}

/**
 * Keys whose value is a set the kernel prints in its own order (tcp_allowed_congestion_control:
 * the order the algorithms registered), taken and compared sorted, so the order a user writes
 * is never drift.
 */
const UNORDERED = new Set(["net.ipv4.tcp_allowed_congestion_control"]);

/**
 * Keys whose value is a CPU mask (bitmap_parse): the kernel prints it padded to the host's CPU
 * count ("00000000,00000003" for "3"), so masks are compared by the CPUs they name.
 */
export const CPU_MASK_KEYS = new Set(["net.core.rps_default_mask", "net.core.flow_limit_cpu_bitmap"]);

/** `value` of the canonical `key` in the form it is compared in. */
export function comparable(key: string, value: string): string {
    if (UNORDERED.has(key)) {
        return value.trim().split(/\s+/).filter(Boolean).sort().join(" ");
    }
    if (CPU_MASK_KEYS.has(key) && isCpuMask(value)) {
        return formatMask(parseMask(value));
    }
    return value;
}
