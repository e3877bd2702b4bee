import { highConnectionRatePlan } from "../high-connection-rate/plan";
import { highThroughputPlan } from "../high-throughput/plan";
import { lowLatencyPlan } from "../low-latency/plan";
import { PART_SCHEMAS, PartName } from "../../provider/host-tuning/schema";
import { otherNicProblem } from "../../provider/counters/schema";
import { counterOnHost } from "../../provider/wave-gate/plan";
import { canonicalKey } from "../../provider/sysctl/keys";
import { DeclarationError } from "../profile/declaration-error";
import { HostParts, hostParts, watchedCounters } from "../profile/parts";
import { CONGESTION_CONTROL, ProfileFactError, ProfilePlan, SysctlOverrides, applyOverrides, keysAdded, meetSetting, modulesForControl, nullsDroppingNothing, spelledAs } from "../profile/plan";
import { settingValue } from "../../provider/sysctl/schema";
import { sipRouterPlan } from "../sip-router/plan";
import { Assignment, FleetConfig, FleetConfigError, HostFactsConfig, InventoryHost, RAW_PARTS, configPath, matches } from "./inventory";

/** The facts each profile cannot do without. */
const REQUIRED_FACTS: Record<string, (keyof HostFactsConfig)[]> = {
    "low-latency": [],
    "high-throughput": ["linkGbps", "rttMs"],
    "sip-router": ["memoryGiB"],
    "high-connection-rate": ["connectionsPerSecond"],
};

function profilePlan(name: string, facts: HostFactsConfig): ProfilePlan {
    switch (name) {
        case "low-latency":
            return lowLatencyPlan(facts);
        case "high-throughput":
            return highThroughputPlan(facts as Required<Pick<HostFactsConfig, "linkGbps" | "rttMs">>);
        case "sip-router":
            return sipRouterPlan(facts as Required<Pick<HostFactsConfig, "memoryGiB">>);
        default:
            return highConnectionRatePlan(facts as Required<Pick<HostFactsConfig, "connectionsPerSecond">>);
    }
}

/** What one host gets: the parts, and which assignment set each sysctl or part (for reports and errors). */
export interface HostAssignment {
    parts: Partial<HostParts> & { sysctls?: HostParts["sysctls"] };
    from: string[];
    /** The counters the host's profiles are meant to bring down, as the sampler names them on this host. */
    counters: string[];
    /** The NIC the host's facts name (its own, or its assignments'): the one the gates and evidence sample. */
    interface?: string;
}

/** The parts besides sysctls; those on a NIC take the host's interface unless they name one. */
const SPEC_PARTS = RAW_PARTS.filter((p): p is Exclude<(typeof RAW_PARTS)[number], "sysctls"> => p !== "sysctls");
const ON_INTERFACE = new Set<string>(["nic", "offloads", "steering", "irqs"]);

/**
 * What a part starts from before its spec: the host's interface, for a part on a NIC, and
 * persist where the assignment or the host sets it; unset, it is no opinion (two assignments
 * adding to one part conflict only over values they set), and true once every one is in.
 */
const partDefaults = (part: string, facts: HostFactsConfig) => ({ ...(ON_INTERFACE.has(part) ? { interface: facts.interface } : {}), ...(facts.persist !== undefined ? { persist: facts.persist } : {}) });

const label = (a: Assignment, i: number) => `assignments[${i}]${a.profile ? ` (${a.profile})` : ""}`;
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The facts that shape the sysctls part, which every assignment of the host adds to. */
const SYSCTL_FACTS = [
    ["persist", "persist"],
    ["missingKeys", "onMissing"],
] as const;

interface Selecting {
    assignment: Assignment;
    index: number;
}

/**
 * The host's facts, with the interface its assignments give (the NIC is the host's, not one
 * part's): two that give different ones conflict, unless the host's own settles it. persist and
 * missingKeys stay each assignment's, shared only within a part (see partDefaults, assignHost).
 */
function composedFacts(selecting: readonly Selecting[], host: InventoryHost): { facts: HostFactsConfig; conflicts: string[] } {
    const giving = host.facts.interface === undefined ? selecting.filter(({ assignment }) => assignment.facts.interface !== undefined) : [];
    const [first] = giving;
    const conflicts = giving
        .filter(({ assignment }) => assignment.facts.interface !== first.assignment.facts.interface)
        .map(({ assignment, index }) => `facts.interface: ${label(first.assignment, first.index)} sets ${JSON.stringify(first.assignment.facts.interface)}, ${label(assignment, index)} sets ${JSON.stringify(assignment.facts.interface)}`);
    return { facts: { ...(first ? { interface: first.assignment.facts.interface } : {}), ...host.facts }, conflicts };
}

/** The assignment's profile plan for the host; facts it cannot compute from name the assignment and the host, as missing ones do. */
function profileFor(assignment: Assignment, index: number, host: InventoryHost, facts: HostFactsConfig) {
    try {
        return profilePlan(assignment.profile!, facts);
    } catch (e) {
        if (e instanceof ProfileFactError) {
            throw new Error(`${label(assignment, index)} on ${host.name}: ${e.message} (facts on the host or the assignment)`);
        }
        throw e;
    }
}

/** One assignment's parts on one host (whose facts are composed already), and the counters its profile watches there. */
function partsOf(assignment: Assignment, index: number, host: InventoryHost, hostFacts: HostFactsConfig): { parts: Partial<HostParts>; counters: string[] } {
    const facts = { ...assignment.facts, ...hostFacts };
    const parts: Partial<HostParts> = {};
    let counters: string[] = [];
    if (assignment.profile) {
        const missing = REQUIRED_FACTS[assignment.profile].filter((f) => facts[f] === undefined);
        if (missing.length > 0) {
            throw new Error(`${label(assignment, index)} on ${host.name}: the profile needs facts.${missing.join(", facts.")} (on the host or the assignment)`);
        }
        const profile = profileFor(assignment, index, host, facts);
        refuseUnsetNulls(profile.sysctls, assignment.sysctlOverrides as SysctlOverrides | undefined, ["assignments", index, "sysctlOverrides"], host.name, (key) => `the ${assignment.profile} profile does not set ${key}`);
        const plan = applyOverrides(profile, assignment.sysctlOverrides as SysctlOverrides | undefined);
        const profileParts = hostParts(plan, facts);
        if (facts.persist === undefined) {
            // The profile's default persist is no opinion: another assignment's persist on the same part holds.
            for (const part of SPEC_PARTS) {
                const spec = profileParts[part] as { persist?: boolean } | undefined;
                if (spec) {
                    spec.persist = undefined;
                }
            }
        }
        Object.assign(parts, profileParts);
        counters = watchedCounters(plan, facts);
    }
    const persist = facts.persist ?? true;
    if (assignment.sysctls) {
        // The assignment's own value wins over its profile's, in whichever spelling either gives the key.
        const settings = { ...(parts.sysctls?.settings ?? {}) };
        for (const [key, value] of Object.entries(assignment.sysctls as HostParts["sysctls"]["settings"])) {
            delete settings[spelledAs(settings, key)];
            settings[key] = value;
        }
        // The keys its profile's overrides added stay required.
        parts.sysctls = { settings, onMissing: facts.missingKeys ?? "skip", persist, ...(parts.sysctls?.requiredKeys && { requiredKeys: parts.sysctls.requiredKeys }) };
    }
    if (!assignment.profile && assignment.sysctlOverrides) {
        // Applied to the profile's plan above; without a profile, to the assignment's own sysctls.
        refuseUnsetNulls(parts.sysctls?.settings ?? {}, assignment.sysctlOverrides as SysctlOverrides, ["assignments", index, "sysctlOverrides"], host.name, (key) => `the assignment's sysctls do not set ${key}`);
        const settings = withOverrides(parts.sysctls?.settings ?? {}, assignment.sysctlOverrides as SysctlOverrides);
        const requiredKeys = keysAdded(parts.sysctls?.settings ?? {}, assignment.sysctlOverrides as SysctlOverrides);
        parts.sysctls = { settings, onMissing: facts.missingKeys ?? "skip", persist, ...(requiredKeys.length > 0 && { requiredKeys }) };
    }
    if (parts.sysctls && Object.keys(parts.sysctls.settings).length === 0) {
        delete parts.sysctls;
    }
    // As a profile's own overrides do: the host's (which win) or the assignment's sysctls setting another congestion control drop its module.
    const controlSetBy = [host.sysctlOverrides, assignment.sysctls].find((settings) => settings && spelledAs(settings, CONGESTION_CONTROL) in settings);
    if (parts.modules && controlSetBy) {
        const modules = modulesForControl(parts.modules.modules, controlSetBy[spelledAs(controlSetBy, CONGESTION_CONTROL)]);
        if (modules.length > 0) {
            parts.modules = { ...parts.modules, modules };
        } else {
            delete parts.modules;
        }
    }
    for (const part of SPEC_PARTS) {
        const spec = assignment[part];
        if (spec) {
            (parts as Record<string, unknown>)[part] = { ...partDefaults(part, facts), ...spec };
        }
    }
    return { parts, counters };
}

export class AssignmentConflictError extends DeclarationError {}

/**
 * Every assignment that selects the host, composed. Two that set one sysctl (or one part)
 * differently fail, naming both and the key; the host's own `sysctlOverrides` and `overrides`
 * settle it, winning over every assignment.
 */
export function assignHost(config: FleetConfig, host: InventoryHost): HostAssignment {
    const selecting = config.assignments.map((assignment, index) => ({ assignment, index })).filter(({ assignment }) => matches(assignment.select, host));
    const { facts, conflicts: factConflicts } = composedFacts(selecting, host);
    const composed: HostAssignment = { parts: {}, from: [], counters: [], interface: facts.interface };
    const owner = new Map<string, string>();
    // Where in the config each sysctl key and each part came from, for errors.
    const origin = new Map<string, (string | number)[]>();
    const conflicts: string[] = [];
    const partConflicts: string[] = [];
    const overridden = new Set(Object.keys(host.sysctlOverrides ?? {}).map(canonicalKey));
    const hostIndex = config.hosts.indexOf(host);
    // persist and missingKeys an assignment adding sysctls sets itself: they hold for the whole sysctls part.
    const sysctlFacts = new Map<string, { value: unknown; by: string }>();
    for (const { assignment, index } of selecting) {
        const name = label(assignment, index);
        composed.from.push(name);
        const { parts, counters } = partsOf(assignment, index, host, facts);
        composed.counters = [...new Set([...composed.counters, ...counters])];
        if (parts.sysctls) {
            const current = composed.parts.sysctls;
            const settings = { ...(current?.settings ?? {}) };
            for (const [key, value] of Object.entries(parts.sysctls.settings)) {
                const held = spelledAs(settings, key);
                if (held in settings && !overridden.has(canonicalKey(key))) {
                    // As ComposedProfile composes: a value meeting the other's bound, or the tighter bound.
                    const [mine, theirs] = [settingValue.safeParse(settings[held]), settingValue.safeParse(value)];
                    const met = same(settings[held], value) ? value : mine.success && theirs.success ? meetSetting(mine.data, theirs.data) : undefined;
                    if (met === undefined) {
                        conflicts.push(`${key}: ${owner.get(held)} sets ${JSON.stringify(settings[held])}, ${name} sets ${JSON.stringify(value)}`);
                    } else if (!same(met, settings[held])) {
                        // The value is both assignments' now; a later conflict names them both.
                        owner.set(held, `${owner.get(held)} with ${name}`);
                        if (same(met, value)) {
                            origin.set(`sysctls:${held}`, sysctlOrigin(assignment, index, key));
                        }
                        settings[held] = met;
                    }
                }
                if (!(held in settings)) {
                    owner.set(key, name);
                    origin.set(`sysctls:${key}`, sysctlOrigin(assignment, index, key));
                    settings[key] = value;
                }
            }
            const explicit: Record<string, unknown> = {};
            for (const [fact, field] of SYSCTL_FACTS) {
                const value = assignment.facts[fact];
                const earlier = sysctlFacts.get(fact);
                if (value === undefined || host.facts[fact] !== undefined) {
                    continue;
                }
                if (!earlier) {
                    sysctlFacts.set(fact, { value, by: name });
                    explicit[field] = value;
                } else if (earlier.value !== value) {
                    factConflicts.push(`facts.${fact}: ${earlier.by} sets ${JSON.stringify(earlier.value)}, ${name} sets ${JSON.stringify(value)} (for the sysctls both add)`);
                }
            }
            const requiredKeys = [...new Set([...(current?.requiredKeys ?? []), ...(parts.sysctls.requiredKeys ?? [])])];
            composed.parts.sysctls = { ...(current ?? parts.sysctls), settings, ...explicit, ...(requiredKeys.length > 0 && { requiredKeys }) };
        }
        for (const part of SPEC_PARTS) {
            const spec = parts[part];
            if (!spec) {
                continue;
            }
            const claim = { name, from: assignment[part] ? ["assignments", index, part] : ["assignments", index, "profile"] };
            if (!composed.parts[part]) {
                origin.set(part, claim.from);
            }
            (composed.parts as Record<string, unknown>)[part] = mergeSettings(part, composed.parts[part] ?? {}, spec, claim, { owner, origin, settledBy: host.overrides ?? {} }, partConflicts);
        }
    }
    for (const part of SPEC_PARTS) {
        const own = host.overrides?.[part];
        if (!own) {
            continue;
        }
        const from = ["hosts", hostIndex, "overrides", part];
        if (!composed.parts[part]) {
            origin.set(part, from);
        }
        (composed.parts as Record<string, unknown>)[part] = overrideSettings(part, composed.parts[part] ?? partDefaults(part, facts), own, from, origin);
    }
    for (const part of SPEC_PARTS) {
        const composedPart = composed.parts[part] as { persist?: boolean } | undefined;
        if (composedPart && composedPart.persist === undefined) {
            composedPart.persist = true;
        }
    }
    if (conflicts.length + partConflicts.length + factConflicts.length > 0) {
        const hints = [
            ...(conflicts.length > 0 ? ["Set the key in the host's sysctlOverrides, or drop it (null) from one assignment's sysctlOverrides."] : []),
            ...(partConflicts.length > 0 ? ["Set the field in the host's overrides (overrides: { irqs: { cpus: ... } }), make the assignments agree on it, or select the host in only one of them."] : []),
            ...(factConflicts.length > 0 ? ["Set it in the host's own facts (facts: { interface, persist, missingKeys }), which win over every assignment's, or make the assignments agree on it."] : []),
        ];
        throw new AssignmentConflictError(`${host.name}: assignments conflict:\n  ${[...conflicts, ...partConflicts, ...factConflicts].join("\n  ")}\n${hints.join("\n")}`);
    }
    if (host.sysctlOverrides) {
        // A host whose assignments set no sysctl still gets (and has checked) its own.
        const current = composed.parts.sysctls ?? { settings: {}, onMissing: host.facts.missingKeys ?? "skip", persist: host.facts.persist ?? true };
        refuseUnsetNulls(current.settings, host.sysctlOverrides as SysctlOverrides, ["hosts", hostIndex, "sysctlOverrides"], host.name, (key) => `no assignment of this host sets ${key}`);
        const settings = withOverrides(current.settings, host.sysctlOverrides as SysctlOverrides);
        // Keys the host's overrides add are required too; a required key they drop is gone.
        const requiredKeys = [...(current.requiredKeys ?? []), ...keysAdded(current.settings, host.sysctlOverrides as SysctlOverrides)].filter((key) => spelledAs(settings, key) in settings);
        for (const [key, value] of Object.entries(host.sysctlOverrides)) {
            if (value !== null) {
                origin.set(`sysctls:${key}`, ["hosts", hostIndex, "sysctlOverrides", key]);
            }
        }
        if (Object.keys(settings).length > 0) {
            const { requiredKeys: _, ...rest } = current;
            composed.parts.sysctls = { ...rest, settings, ...(requiredKeys.length > 0 && { requiredKeys }) };
        } else {
            delete composed.parts.sysctls;
        }
    }
    const problems = partProblems(composed.parts, origin);
    if (problems.length > 0) {
        throw new FleetConfigError(`invalid fleet config (for ${host.name}):\n  ${problems.join("\n  ")}`);
    }
    return composed;
}

/**
 * Fields that each name a whole CPU placement (IrqAffinity's, PacketSteering's rps and xps): two
 * assignments choosing different placements conflict, rather than adding up to two policies.
 */
const PLACEMENT_FIELDS: Record<string, readonly string[]> = {
    irqs: ["cpus", "spread", "numaLocal", "perIrq"],
    "steering.rps": ["cpus", "spread", "numaLocal"],
    "steering.xps": ["cpus", "spread", "numaLocal"],
};

function chosen(settings: object, fields: readonly string[]): Record<string, unknown> | undefined {
    const choice = Object.entries(settings).filter(([field, value]) => fields.includes(field) && value !== undefined);
    return choice.length > 0 ? Object.fromEntries(choice.sort(([a], [b]) => a.localeCompare(b))) : undefined;
}

/** Settings with overrides applied: a value sets the key, null drops it. */
/** A null override of a key `settings` does not hold drops nothing (a typo, usually): refused, named by its config path. */
function refuseUnsetNulls(settings: object, overrides: SysctlOverrides | undefined, path: (string | number)[], host: string, unsetBy: (key: string) => string): void {
    const unset = nullsDroppingNothing(settings, overrides);
    if (unset.length > 0) {
        throw new FleetConfigError(`invalid fleet config (for ${host}):\n  ${unset.map(({ key, didYouMean }) => `${configPath([...path, key])}: null drops nothing: ${unsetBy(key)}${didYouMean}`).join("\n  ")}`);
    }
}

function withOverrides(settings: HostParts["sysctls"]["settings"], overrides: SysctlOverrides): HostParts["sysctls"]["settings"] {
    const result = { ...settings };
    for (const [key, value] of Object.entries(overrides)) {
        delete result[spelledAs(result, key)];
        if (value !== null) {
            result[key] = value as HostParts["sysctls"]["settings"][string];
        }
    }
    return result;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

interface Claim {
    name: string;
    /** Where in the config the values come from: ["assignments", 1, "nic"] or ["assignments", 1, "profile"]. */
    from: (string | number)[];
}

/**
 * Two assignments' settings of one part, field by field: rings from one and coalescing from
 * another compose; the same field set to two values is a conflict naming the field and both.
 */
function mergeSettings(
    path: string,
    current: object,
    next: object,
    claim: Claim,
    claimed: { owner: Map<string, string>; origin: Map<string, (string | number)[]>; settledBy: object },
    conflicts: string[],
): Record<string, unknown> {
    const { owner, origin, settledBy } = claimed;
    const { name } = claim;
    const merged: Record<string, unknown> = { ...current };
    const placement = PLACEMENT_FIELDS[path];
    if (placement) {
        const mine = chosen(merged, placement);
        const theirs = chosen(next, placement);
        if (mine && theirs && !same(mine, theirs)) {
            if (!chosen(objectAt(settledBy, path), placement)) {
                conflicts.push(`${path} placement: ${owner.get(`${path}:placement`)} sets ${JSON.stringify(mine)}, ${name} sets ${JSON.stringify(theirs)}`);
            }
            next = Object.fromEntries(Object.entries(next).filter(([field]) => !placement.includes(field)));
        } else if (!mine && theirs) {
            owner.set(`${path}:placement`, name);
        }
    }
    // A field a profile leaves undefined is unset: it neither conflicts nor hides another's value.
    for (const [field, value] of Object.entries(next).filter(([, v]) => v !== undefined)) {
        const at = `${path}.${field}`;
        const mine = merged[field];
        if (isObject(value) && (isObject(mine) || mine === undefined)) {
            merged[field] = mergeSettings(at, isObject(mine) ? mine : {}, value, claim, claimed, conflicts);
        } else if (mine === undefined) {
            owner.set(at, name);
            origin.set(`field:${at}`, claim.from);
            merged[field] = value;
        } else if (!same(mine, value) && valueAt(settledBy, at) === undefined) {
            conflicts.push(`${at}: ${owner.get(at)} sets ${JSON.stringify(mine)}, ${name} sets ${JSON.stringify(value)}`);
        }
    }
    return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined));
}

/**
 * A host's own fields over the composed part: each replaces what the assignments set (null drops
 * it), and a CPU placement it chooses replaces theirs whole.
 */
function overrideSettings(path: string, composed: object, own: object, from: (string | number)[], origin: Map<string, (string | number)[]>): Record<string, unknown> {
    const result: Record<string, unknown> = { ...composed };
    const placement = PLACEMENT_FIELDS[path];
    if (placement && chosen(own, placement)) {
        placement.forEach((field) => delete result[field]);
    }
    for (const [field, value] of Object.entries(own)) {
        const at = `${path}.${field}`;
        const mine = result[field];
        if (value === null) {
            delete result[field];
        } else if (isObject(value) && isObject(mine)) {
            result[field] = overrideSettings(at, mine, value, from, origin);
        } else {
            result[field] = value;
            origin.set(`field:${at}`, from);
        }
    }
    return result;
}

/** The value at a dotted path (`steering.rps.cpus`) of a host's overrides. */
function valueAt(root: object, path: string): unknown {
    return path.split(".").reduce<unknown>((value, field) => (isObject(value) ? value[field] : undefined), root);
}

function objectAt(root: object, path: string): object {
    const value = valueAt(root, path);
    return isObject(value) ? value : {};
}

function sysctlOrigin(assignment: Assignment, index: number, key: string): (string | number)[] {
    if (assignment.sysctlOverrides && key in assignment.sysctlOverrides) {
        return ["assignments", index, "sysctlOverrides", key];
    }
    return assignment.sysctls && key in assignment.sysctls ? ["assignments", index, "sysctls", key] : ["assignments", index, "profile"];
}

/** The assignment that set the field an issue is about (or the nearest field above it), else the part's first. */
function fieldOrigin(origin: ReadonlyMap<string, (string | number)[]>, part: string, path: readonly PropertyKey[]): (string | number)[] | undefined {
    for (let depth = path.length; depth > 0; depth--) {
        const from = origin.get(`field:${[part, ...path.slice(0, depth)].join(".")}`);
        if (from) {
            return from;
        }
    }
    return origin.get(part);
}

/**
 * Each composed part checked by its resource's own grammar, before any host is contacted, every
 * problem named by the config path it came from (`assignments[1].nic.rings.rx: …`).
 */
function partProblems(parts: HostAssignment["parts"], origin: ReadonlyMap<string, (string | number)[]>): string[] {
    return (Object.keys(parts) as PartName[]).flatMap((part) => {
        const issues = PART_SCHEMAS[part].safeParse({ resourceName: part, ...parts[part] }).error?.issues ?? [];
        return issues.map((issue) => {
            const [first, key, ...rest] = issue.path;
            const fromKey = part === "sysctls" && first === "settings" && typeof key === "string" ? origin.get(`sysctls:${key}`) : undefined;
            const path = fromKey ? [...fromKey, ...(fromKey.includes(key as string) ? rest : [])] : [...(fieldOrigin(origin, part, issue.path) ?? [part]), ...issue.path];
            return `${configPath(path as PropertyKey[])}: ${issue.message}`;
        });
    });
}

/** A host's assignment as the rollout takes it: refused when nothing selects the host, or a gate's counter names a NIC it has none of. */
export function planHost(config: FleetConfig, host: InventoryHost): HostAssignment {
    const assignment = assignHost(config, host);
    if (assignment.from.length === 0) {
        throw new Error(`${host.name}: no assignment selects this host (labels ${JSON.stringify(host.labels)})`);
    }
    const conditions = config.rollout.counterConditions ?? [];
    const onNic = conditions.findIndex((c) => counterOnHost(c.counter, undefined) === undefined);
    if (onNic >= 0 && assignment.interface === undefined) {
        throw new Error(`${host.name}: rollout.counterConditions[${onNic}].counter names IF, and no facts.interface (the host's or an assignment's) names this host's NIC`);
    }
    const elsewhere = conditions.flatMap((c, i) => {
        const why = otherNicProblem(c.counter, assignment.interface, true);
        return why ? [`rollout.counterConditions[${i}].counter: ${c.counter} ${why} on this host`] : [];
    });
    if (elsewhere.length > 0) {
        throw new Error(`${host.name}: ${elsewhere.join("; ")}`);
    }
    return assignment;
}

/** Every host's plan, as `planHost`, for the commands that read a fleet outside the engine: every host's problem in one error, as the rollout's preview gives it. */
export function planHosts(config: FleetConfig): Map<string, HostAssignment> {
    const plans = new Map<string, HostAssignment>();
    const problems: string[] = [];
    for (const host of config.hosts) {
        try {
            plans.set(host.name, planHost(config, host));
        } catch (e) {
            problems.push((e as Error).message);
        }
    }
    if (problems.length > 0) {
        throw new FleetConfigError(problems.join("\n"));
    }
    return plans;
}
