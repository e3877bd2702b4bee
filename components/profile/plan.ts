import { canonicalKey } from "../../provider/sysctl/keys";
import type { SettingValue } from "../../provider/sysctl/values";
import { DeclarationError } from "./declaration-error";
import type { SourceKey } from "./sources";

/** One value a profile sets, with where it comes from. */
export interface Cited<T> {
    value: T;
    sources: SourceKey[];
    /** Why this value, when it is derived or the sources disagree. */
    note?: string;
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
    const sysctls = { ...plan.sysctls };
    for (const [key, value] of Object.entries(overrides)) {
        delete sysctls[spelledAs(sysctls, key)];
        if (value !== null) {
            sysctls[key] = { value, sources: [], note: "user override" };
        }
    }
    const setsCongestionControl = Object.keys(overrides).some((key) => canonicalKey(key) === CONGESTION_CONTROL);
    return setsCongestionControl ? { ...plan, sysctls, modules: modulesStillNeeded(plan.modules, sysctls) } : { ...plan, sysctls };
}

/** The key `settings` holds for `key` in either spelling (net/core/somaxconn is net.core.somaxconn), else `key` itself. */
export function spelledAs(settings: object, key: string): string {
    const canonical = canonicalKey(key);
    return Object.keys(settings).find((held) => canonicalKey(held) === canonical) ?? key;
}

const CONGESTION_CONTROL = "net.ipv4.tcp_congestion_control";

/**
 * A profile loads tcp_<name> for the congestion control it sets (bbr needs tcp_bbr): once an
 * override sets another one (or drops it), that module is no longer the profile's to load.
 */
function modulesStillNeeded(modules: Cited<string[]> | undefined, sysctls: ProfilePlan["sysctls"]): Cited<string[]> | undefined {
    if (!modules) {
        return undefined;
    }
    const control = sysctls[CONGESTION_CONTROL]?.value;
    const value = modules.value.filter((m) => !m.startsWith("tcp_") || control === m.slice("tcp_".length));
    return value.length > 0 ? { ...modules, value } : undefined;
}

export class ProfileConflictError extends DeclarationError {}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Two profiles on one host. Settings both set must agree; every disagreement is reported
 * (at preview, as the program runs), never silently resolved. Resolve one with an override.
 */
export function composePlans(a: ProfilePlan, b: ProfilePlan, overrides?: SysctlOverrides): ProfilePlan {
    const conflicts: string[] = [];
    const sysctls = { ...a.sysctls };
    for (const [key, setting] of Object.entries(b.sysctls)) {
        const existing = sysctls[key];
        if (existing && !same(existing.value, setting.value) && !(overrides && key in overrides)) {
            conflicts.push(`${key}: ${a.profile} sets ${JSON.stringify(existing.value)}, ${b.profile} sets ${JSON.stringify(setting.value)}`);
        }
        if (!existing) {
            sysctls[key] = setting;
        } else {
            sysctls[key] = { ...existing, sources: [...new Set([...existing.sources, ...setting.sources])] };
        }
    }
    for (const part of ["nic", "irq", "governor", "queueLength", "steering", "idle"] as const) {
        if (a[part] && b[part] && !same({ ...a[part], sources: [] }, { ...b[part], sources: [] })) {
            conflicts.push(`${part}: ${a.profile} and ${b.profile} ask for different ${part} settings`);
        }
    }
    if (conflicts.length > 0) {
        throw new ProfileConflictError(`profiles ${a.profile} and ${b.profile} conflict:\n  ${conflicts.join("\n  ")}\nOverride the setting to choose.`);
    }
    return applyOverrides(
        {
            profile: `${a.profile}+${b.profile}`,
            sysctls,
            nic: a.nic ?? b.nic,
            irq: a.irq ?? b.irq,
            governor: a.governor ?? b.governor,
            queueLength: a.queueLength ?? b.queueLength,
            steering: a.steering ?? b.steering,
            idle: a.idle ?? b.idle,
            modules: composeModules(a.modules, b.modules),
            choices: [...a.choices, ...b.choices],
            improves: { value: [...new Set([...a.improves.value, ...b.improves.value])], sources: [...new Set([...a.improves.sources, ...b.improves.sources])] },
            bootOnly: [...new Set([...a.bootOnly, ...b.bootOnly])],
        },
        overrides,
    );
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
