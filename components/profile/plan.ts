import { distance } from "fastest-levenshtein";
import { canonicalKey } from "../../provider/sysctl/keys";
import { Bound, PlainValue, SettingValue, isBound, keepsHigher, limitsOf, normalise, sameValue, satisfies } from "../../provider/sysctl/values";
import { DeclarationError } from "./declaration-error";
import type { SourceKey } from "./sources";

/** One value a profile sets, with where it comes from. */
export interface Cited<T> {
    value: T;
    sources: SourceKey[];
    /** Why this value, when it is derived or the sources disagree. */
    note?: string;
    /** A key the profile does not set, added by sysctlOverrides: a host without it fails rather than skips it, as a typo would be skipped. */
    mustExist?: true;
}

export interface NicPlan {
    rings?: { rx?: number | "max"; tx?: number | "max" };
    coalesce?: { adaptiveRx?: boolean; adaptiveTx?: boolean; rxUsecs?: number };
    sources: SourceKey[];
}

export interface IrqPlan {
    policy: "numaLocal" | "spread";
    sources: SourceKey[];
}

export interface GovernorPlan {
    governor: string[];
    energyPerformancePreference?: string[];
    /** intel_pstate's performance floor, where the host has intel_pstate (skipped elsewhere, like the EPP). */
    minPerfPct?: number;
    sources: SourceKey[];
}

/** The interface's transmit queue length (NicOffloads). */
export interface QueueLengthPlan {
    txqueuelen: number;
    sources: SourceKey[];
    note?: string;
}

/** RPS spread over the CPUs with RFS flow tables (PacketSteering), for NICs with fewer queues than CPUs. */
export interface SteeringPlan {
    flowEntries: number;
    sources: SourceKey[];
    note?: string;
}

/** Memory and CPU-idle settings outside sysctl (SysfsSet underneath). */
export interface IdlePlan {
    transparentHugepages?: Cited<"never" | "madvise" | "always">;
    /** Per-CPU wake-up latency limit on the application cores, in microseconds. */
    wakeupLatencyUs?: Cited<number>;
}

/** Everything a profile will do to one host, resolved from the declared facts. */
export interface ProfilePlan {
    profile: string;
    sysctls: Record<string, Cited<SettingValue>>;
    nic?: NicPlan;
    irq?: IrqPlan;
    governor?: GovernorPlan;
    queueLength?: QueueLengthPlan;
    steering?: SteeringPlan;
    idle?: IdlePlan;
    /** Kernel modules loaded (and persisted) before the sysctls that need them. */
    modules?: Cited<string[]>;
    /** Where the sources disagree: what was chosen and why. */
    choices: string[];
    /** Settings that only take effect at boot (kernel command line): documented, not applied. */
    bootOnly: string[];
    /**
     * The kernel counters this profile is meant to bring down ("IF" stands for the interface;
     * APPLICATION_CPU_INTERRUPTS for the NIC's interrupts on each application core), measured
     * before it is applied and at every refresh.
     */
    improves: Cited<string[]>;
}

/** In `improves`: the NIC's queue interrupts on each of the host's application cores (irq.IF.cpuN). */
export const APPLICATION_CPU_INTERRUPTS = "irq.IF.applicationCpus";

/** A user's changes to a profile: a new value, or null to drop the setting. */
export type SysctlOverrides = Record<string, SettingValue | null>;

export function applyOverrides(plan: ProfilePlan, overrides: SysctlOverrides | undefined): ProfilePlan {
    if (!overrides) {
        return plan;
    }
    const keys = Object.keys(overrides);
    const twice = keys.find((key, i) => keys.findIndex((other) => canonicalKey(other) === canonicalKey(key)) !== i);
    if (twice) {
        const first = keys.find((key) => canonicalKey(key) === canonicalKey(twice))!;
        throw new ProfileFactError(`${plan.profile}: sysctlOverrides names ${canonicalKey(twice)} twice (${first} and ${twice}): keep one`);
    }
    const [typo] = nullsDroppingNothing(plan.sysctls, overrides);
    if (typo) {
        throw new ProfileFactError(`${plan.profile}: sysctlOverrides: ${typo.key} is null, but the profile does not set ${typo.key}${typo.didYouMean}`);
    }
    const added = new Set(keysAdded(plan.sysctls, overrides));
    const sysctls = { ...plan.sysctls };
    for (const [key, value] of Object.entries(overrides)) {
        delete sysctls[spelledAs(sysctls, key)];
        if (value !== null) {
            sysctls[key] = { value, sources: [], note: "user override", ...(added.has(key) && { mustExist: true as const }) };
        }
    }
    const setsCongestionControl = Object.keys(overrides).some((key) => canonicalKey(key) === CONGESTION_CONTROL);
    return setsCongestionControl ? { ...plan, sysctls, modules: modulesStillNeeded(plan.modules, sysctls) } : { ...plan, sysctls };
}

/** The keys `overrides` gives a value that `settings` does not hold in either spelling: added, not changed. */
export function keysAdded(settings: object, overrides: SysctlOverrides | undefined): string[] {
    return Object.entries(overrides ?? {})
        .filter(([key, value]) => value !== null && !(spelledAs(settings, key) in settings))
        .map(([key]) => key);
}

/** The key `settings` holds for `key` in either spelling (net/core/somaxconn is net.core.somaxconn), else `key` itself. */
export function spelledAs(settings: object, key: string): string {
    const canonical = canonicalKey(key);
    return Object.keys(settings).find((held) => canonicalKey(held) === canonical) ?? key;
}

/**
 * Keys `overrides` sets to null that `settings` does not hold: the null drops nothing, a typo
 * usually, with "; did you mean a or b?" for the held keys within two edits of it (else "").
 */
export function nullsDroppingNothing(settings: object, overrides: SysctlOverrides | undefined): { key: string; didYouMean: string }[] {
    return Object.entries(overrides ?? {})
        .filter(([key, value]) => value === null && !(spelledAs(settings, key) in settings))
        .map(([key]) => {
            const close = Object.keys(settings).filter((held) => distance(canonicalKey(held), canonicalKey(key)) <= 2);
            return { key, didYouMean: close.length > 0 ? `; did you mean ${close.join(" or ")}?` : "" };
        });
}

export const CONGESTION_CONTROL = "net.ipv4.tcp_congestion_control";

/**
 * A profile loads tcp_<name> for the congestion control it sets (bbr needs tcp_bbr): once an
 * override sets another one (or drops it), that module is no longer the profile's to load.
 */
export const modulesForControl = (modules: readonly string[], control: unknown): string[] => modules.filter((m) => !m.startsWith("tcp_") || control === m.slice("tcp_".length));

function modulesStillNeeded(modules: Cited<string[]> | undefined, sysctls: ProfilePlan["sysctls"]): Cited<string[]> | undefined {
    const value = modules && modulesForControl(modules.value, sysctls[spelledAs(sysctls, CONGESTION_CONTROL)]?.value);
    return modules && value && value.length > 0 ? { ...modules, value } : undefined;
}

export class ProfileConflictError extends DeclarationError {}

/**
 * A fact a profile cannot compute from (zero, negative, not a number), or an override it cannot
 * apply (dropping a setting it does not set), named before anything is computed.
 */
export class ProfileFactError extends DeclarationError {}

/**
 * Each given fact must be a finite number above 0 (and at most its limit), a whole one where it
 * counts things, and a required one given (a JavaScript caller or a config value may leave it
 * out): the values computed from it would be nonsense (NaN) otherwise.
 */
export function requirePositiveFacts(profile: string, facts: Record<string, { value: number | undefined; max: number; unit: string; whole?: boolean; required?: boolean }>): void {
    const bad = Object.entries(facts)
        .filter(([, { value, max, whole, required }]) => (value === undefined ? required : !(Number.isFinite(value) && value > 0 && value <= max && (!whole || Number.isInteger(value)))))
        .map(([name, { value, max, unit, whole }]) => {
            const wanted = `a ${whole ? "whole " : ""}number of ${unit} above 0 and at most ${max}`;
            return value === undefined ? `${name}: missing; the profile computes from it (${wanted})` : `${name}: ${value} is not ${wanted}`;
        });
    if (bad.length > 0) {
        throw new ProfileFactError(`${profile}: ${bad.join("; ")}`);
    }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * One value both profiles accept, when there is one: a value both set, however written (a list or
 * its words, spaces or tabs, 1 or "1"), the higher of two lower bounds, the lower of two upper
 * bounds (element by element for multi-value keys), a fixed value that meets the other's bound
 * (judged as SysctlSet judges a live value).
 */
export function meetSetting(a: SettingValue, b: SettingValue): SettingValue | undefined {
    if (same(a, b)) {
        return a;
    }
    if (!isBound(a) && !isBound(b)) {
        return sameValue(normalise(a), normalise(b)) ? a : undefined;
    }
    if (isBound(a) && isBound(b)) {
        return tighterBound(a, b);
    }
    if (isBound(a) !== isBound(b)) {
        const [limit, fixed] = isBound(a) ? [a, b as PlainValue] : [b, a];
        return satisfies(limit, normalise(fixed)) ? fixed : undefined;
    }
    return undefined;
}

/** Two bounds of one kind and length, element by element the tighter; undefined for bounds of two kinds, or lengths that differ. */
function tighterBound(a: Bound, b: Bound): Bound | undefined {
    const kind = boundKind(a);
    const [mine, theirs] = [[limitsOf(a)].flat(), [limitsOf(b)].flat()];
    if (kind !== boundKind(b) || mine.length !== theirs.length) {
        return undefined;
    }
    const tighter = mine.map((limit, i) => (keepsHigher(a, i) ? Math.max : Math.min)(limit, theirs[i]));
    const shaped = Array.isArray(limitsOf(a)) ? tighter : tighter[0];
    return kind === "atLeast" ? { atLeast: shaped } : kind === "atMost" ? { atMost: shaped } : { covers: tighter as [number, number] };
}

const boundKind = (bound: Bound) => ("atLeast" in bound ? "atLeast" : "atMost" in bound ? "atMost" : "covers");

/** The parts besides sysctls a profile may set, each of which composes field by field. */
export const PLAN_PARTS = ["nic", "irq", "governor", "queueLength", "steering", "idle"] as const;
export type PlanPart = (typeof PLAN_PARTS)[number];

/** Which profile's setting of a part wins when two ask for different ones: `{ nic: "low-latency" }`. */
export type PartPreferences = Partial<Record<PlanPart, string>>;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Two profiles' settings of a part, field by field: sources add up, a field set to two values is a conflict. */
function mergeFields(a: Record<string, unknown>, b: Record<string, unknown>, path: string, conflicts: string[], preferred?: "a" | "b"): Record<string, unknown> {
    const merged: Record<string, unknown> = { ...a };
    for (const [field, value] of Object.entries(b)) {
        const mine = merged[field];
        if (field === "sources" && Array.isArray(mine) && Array.isArray(value)) {
            merged[field] = [...new Set([...mine, ...value])];
        } else if (field === "note" && typeof mine === "string") {
            merged[field] = mine === value ? mine : `${mine}; ${value}`;
        } else if (mine === undefined) {
            merged[field] = value;
        } else if (isRecord(mine) && isRecord(value)) {
            merged[field] = mergeFields(mine, value, `${path}.${field}`, conflicts, preferred);
        } else if (!same(mine, value)) {
            if (preferred === undefined) {
                conflicts.push(`${path}.${field}: ${JSON.stringify(mine)} vs ${JSON.stringify(value)}`);
            } else if (preferred === "b") {
                merged[field] = value;
            }
        }
    }
    return merged;
}

/** Whether a (possibly composed, "a+b") plan's profile is `name`, or includes it. */
const isProfile = (plan: ProfilePlan, name: string) => plan.profile.split("+").includes(name);

/**
 * Two profiles on one host. Sysctls both set must admit one value (a bound met by the other's
 * value, the tighter of two bounds); other parts compose field by field. Every disagreement left
 * is reported (at preview, as the program runs), never silently resolved: an override decides a
 * sysctl, `prefer` the fields of a part the two set differently.
 */
export function composePlans(a: ProfilePlan, b: ProfilePlan, overrides?: SysctlOverrides, prefer: PartPreferences = {}): ProfilePlan {
    return applyOverrides(composePlansBeforeOverrides(a, b, overrides, prefer), overrides);
}

/**
 * composePlans without applying the overrides (which only decide conflicts here), for composing
 * more than two plans: applied once to the whole, a null override is refused only when no plan
 * sets the key.
 */
export function composePlansBeforeOverrides(a: ProfilePlan, b: ProfilePlan, overrides?: SysctlOverrides, prefer: PartPreferences = {}): ProfilePlan {
    const conflicts: string[] = [];
    const overridden = new Set(Object.keys(overrides ?? {}).map(canonicalKey));
    const sysctls = { ...a.sysctls };
    for (const [key, setting] of Object.entries(b.sysctls)) {
        const held = spelledAs(sysctls, key);
        const existing = sysctls[held];
        if (!existing) {
            sysctls[key] = setting;
            continue;
        }
        const met = meetSetting(existing.value, setting.value);
        if (met === undefined && !overridden.has(canonicalKey(key))) {
            conflicts.push(`${held}: ${a.profile} sets ${JSON.stringify(existing.value)}, ${b.profile} sets ${JSON.stringify(setting.value)}`);
        }
        sysctls[held] = composedSetting(met, existing, setting);
    }
    const parts: Partial<Pick<ProfilePlan, PlanPart>> = {};
    for (const part of PLAN_PARTS) {
        const [mine, theirs] = [a[part], b[part]];
        if (!mine || !theirs) {
            (parts as Record<string, unknown>)[part] = mine ?? theirs;
            continue;
        }
        // `prefer` decides the fields the two set differently; a field only one sets is kept either way.
        const preferred = prefer[part];
        const side = preferred === undefined ? undefined : isProfile(a, preferred) ? "a" : isProfile(b, preferred) ? "b" : undefined;
        const fields: string[] = [];
        (parts as Record<string, unknown>)[part] = mergeFields(mine as unknown as Record<string, unknown>, theirs as unknown as Record<string, unknown>, part, fields, side);
        if (fields.length > 0) {
            conflicts.push(`${part}: ${a.profile} and ${b.profile} differ on ${fields.join(", ")}; choose with prefer: { ${part}: "${b.profile.split("+")[0]}" } or "${a.profile.split("+")[0]}"`);
        }
    }
    if (conflicts.length > 0) {
        throw new ProfileConflictError(`profiles ${a.profile} and ${b.profile} conflict:\n  ${conflicts.join("\n  ")}\nOverride a sysctl (sysctlOverrides) or prefer one profile's part to choose.`);
    }
    return {
        profile: `${a.profile}+${b.profile}`,
        sysctls,
        ...parts,
        modules: composeModules(a.modules, b.modules),
        choices: [...a.choices, ...b.choices],
        improves: { value: [...new Set([...a.improves.value, ...b.improves.value])], sources: [...new Set([...a.improves.sources, ...b.improves.sources])] },
        bootOnly: [...new Set([...a.bootOnly, ...b.bootOnly])],
    };
}

/**
 * The setting two profiles' settings of one key compose to, citing both: the side whose value
 * they met in (the first on a conflict, which an override decides), or the new value two bounds
 * met in element by element, with both notes.
 */
function composedSetting(met: SettingValue | undefined, existing: Cited<SettingValue>, incoming: Cited<SettingValue>): Cited<SettingValue> {
    const sources = [...new Set([...existing.sources, ...incoming.sources])];
    if (met === undefined || same(met, existing.value)) {
        return { ...existing, sources };
    }
    if (same(met, incoming.value)) {
        return { ...incoming, sources };
    }
    const notes = [existing.note, incoming.note].filter((note) => note !== undefined);
    return { value: met, sources, ...(notes.length > 0 ? { note: notes.join("; ") } : {}) };
}

function composeModules(a: Cited<string[]> | undefined, b: Cited<string[]> | undefined): Cited<string[]> | undefined {
    if (!a || !b) {
        return a ?? b;
    }
    return { value: [...new Set([...a.value, ...b.value])], sources: [...new Set([...a.sources, ...b.sources])] };
}

/** Plain values for a SysctlSet. */
export function sysctlValues(plan: ProfilePlan): Record<string, SettingValue> {
    return Object.fromEntries(Object.entries(plan.sysctls).map(([k, v]) => [k, v.value]));
}
