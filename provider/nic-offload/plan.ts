import { CheckFailure, propertyPath } from "../check";
import { itemsOf } from "../host/ledger";
import { FileData, holdsText, linkedOwnFile } from "../host/files";
import { ABSENT, ManagedFiles, PathContent, changeAt, fileContent, fileOf, forget, manage, planRestore } from "../host/restore";
import { OffloadChange, OffloadSnapshot, wantedState } from "./remote";
import { NicOffloadsInputs, canonicalFeature, ruleFile } from "./schema";
import { netAddLines } from "../nic/udev";

/** Features by the name `ethtool -k` shows (a group expanded to its members), and the queue length. */
export interface OffloadValues {
    features: Record<string, boolean>;
    txqueuelen?: number;
    /** Live only: a feature the kernel holds otherwise than requested (`off [requested on]`), and its request. */
    requested?: Record<string, boolean>;
}

export interface Resolved {
    desired: OffloadValues;
    /** Properties skipped under onUnsupported: "skip" (`features.lro`). */
    skipped: string[];
    problems: CheckFailure[];
}

const onOff = (on: boolean) => (on ? "on" : "off");

// NETIF_F_ALL_TSO: AccECN segmentation is not among them (the lab's veth keeps it on without sg).
const TCP_SEGMENTATION = ["tx-tcp-segmentation", "tx-tcp-ecn-segmentation", "tx-tcp-mangleid-segmentation", "tx-tcp6-segmentation"];

/**
 * What netdev_fix_features (net/core/dev.c) does to a feature turned on: drops it while every
 * feature it `needs` (one of them is enough) is off, or while the one it `yieldsTo` is on.
 * ethtool would still exit 0; the feature would just stay off.
 */
const KERNEL_RULES: { features: string[]; needs?: string[]; yieldsTo?: string }[] = [
    { features: [...TCP_SEGMENTATION, "generic-segmentation-offload"], needs: ["tx-scatter-gather"] },
    { features: ["tx-tcp-segmentation", "tx-tcp-ecn-segmentation"], needs: ["tx-checksum-ipv4", "tx-checksum-ip-generic"] },
    { features: ["tx-tcp6-segmentation"], needs: ["tx-checksum-ipv6", "tx-checksum-ip-generic"] },
    { features: ["tx-tcp-mangleid-segmentation"], needs: ["tx-tcp-segmentation"] },
    // "mixed HW and IP checksum settings": the protocol-specific ones go.
    { features: ["tx-checksum-ipv4", "tx-checksum-ipv6"], yieldsTo: "tx-checksum-ip-generic" },
    { features: ["rx-gro-hw"], needs: ["rx-checksumming"] },
    { features: ["large-receive-offload"], yieldsTo: "rx-gro-hw" },
    { features: ["large-receive-offload", "rx-gro-hw"], yieldsTo: "rx-fcs" },
];

/**
 * Features declared on that the kernel would drop, given what the interface will show once
 * `desired` is in and the originals of what is no longer declared (`putBack`) are back.
 */
function droppedByKernel(
    desired: Record<string, boolean>,
    putBack: Record<string, boolean>,
    shown: (name: string) => boolean | undefined,
    declaredBy: ReadonlyMap<string, string>,
    where: string,
): CheckFailure[] {
    const after = (name: string) => desired[name] ?? putBack[name] ?? shown(name) ?? false;
    const why = (names: readonly string[]) => {
        const restored = names.filter((n) => n in putBack && !(n in desired));
        return restored.length > 0 ? ` (${restored.join(", ")} no longer declared: put back to ${restored.length > 1 ? "their originals" : "its original"})` : "";
    };
    const problems = new Map<string, string>();
    for (const rule of KERNEL_RULES) {
        for (const feature of rule.features.filter((f) => desired[f] === true)) {
            const property = declaredBy.get(feature)!;
            if (problems.has(property)) {
                continue;
            }
            if (rule.needs && !rule.needs.some(after)) {
                const needs = rule.needs.join(" or ");
                const fix = rule.needs.map((n) => `${n}: true`).join(" or ");
                problems.set(property, `${feature} needs ${needs} on ${where}, which will be off${why(rule.needs)}: the kernel would keep ${feature} off; declare ${fix}`);
            } else if (rule.yieldsTo && after(rule.yieldsTo)) {
                problems.set(property, `${feature} gives way to ${rule.yieldsTo} on ${where}, which will be on${why([rule.yieldsTo])}: the kernel would keep ${feature} off; declare ${rule.yieldsTo}: false`);
            }
        }
    }
    return [...problems].map(([property, reason]) => ({ property, reason }));
}

/**
 * The declared features against what the interface shows, never throws: an unknown name, or a
 * "[fixed]" feature (or group member) declared other than it is, is a problem naming the property
 * and the host. A group (`tso`) stands for its changeable members; a member declared on its own
 * overrides its group's value. `previous`: the record of an existing resource, whose originals
 * of what is no longer declared go back in the same apply.
 */
export function resolve(inputs: NicOffloadsInputs, snapshot: OffloadSnapshot, target: string, previous?: OffloadRecord): Resolved {
    const resolved: Resolved = { desired: { features: {}, txqueuelen: inputs.txqueuelen }, skipped: [], problems: [] };
    const where = `${inputs.interface} of ${target}`;
    const unsupported = (property: string, reason: string) => {
        if (inputs.onUnsupported === "skip") {
            resolved.skipped.push(property);
        } else {
            resolved.problems.push({ property, reason: `${reason}; set onUnsupported: "skip" to skip it` });
        }
    };
    if (!snapshot.exists) {
        resolved.problems.push({ property: "interface", reason: `${inputs.interface} does not exist on ${target}` });
        return resolved;
    }
    const linked = linkedOwnFile(ruleFile(inputs.resourceName), snapshot.ownLink, inputs.persist);
    if (linked) {
        resolved.problems.push({ property: "persist", reason: `on ${target}, ${linked}` });
    }
    if (inputs.txqueuelen !== undefined && snapshot.txqueuelen === undefined) {
        resolved.problems.push({ property: "txqueuelen", reason: `/sys/class/net/${inputs.interface}/tx_queue_len cannot be read on ${target}` });
    }
    const declared = Object.entries(inputs.features ?? {}).map(([name, on]) => ({ property: propertyPath(["features", name]), feature: canonicalFeature(name), on }));
    if (declared.length > 0 && snapshot.featuresError !== undefined) {
        unsupported("features", `ethtool -k ${inputs.interface} fails on ${target}: ${snapshot.featuresError}`);
        return resolved;
    }
    const { features, groups } = snapshot.table;
    const declaredBy = new Map<string, string>();
    const isGroup = (d: { feature: string }) => groups.has(d.feature);
    for (const { property, feature, on } of [...declared.filter(isGroup), ...declared.filter((d) => !isGroup(d))]) {
        const members = groups.get(feature);
        if (members) {
            const states = members.map((name) => ({ name, ...features.get(name)! }));
            const stuck = states.filter((s) => s.fixed && s.on !== on);
            const changeable = states.filter((s) => !s.fixed);
            if (on ? changeable.length === 0 && !states.some((s) => s.on) : stuck.length > 0) {
                const why = on ? "every feature in it is off [fixed]" : `${stuck.map((s) => s.name).join(", ")} ${stuck.length > 1 ? "are" : "is"} on [fixed]`;
                unsupported(property, `${feature} cannot be turned ${onOff(on)} on ${where}: ${why}`);
                continue;
            }
            changeable.forEach((s) => {
                resolved.desired.features[s.name] = on;
                declaredBy.set(s.name, property);
            });
            continue;
        }
        const state = features.get(feature);
        if (!state) {
            unsupported(property, `${where} has no feature ${feature} (ethtool -k ${inputs.interface} does not list it)`);
        } else if (state.fixed && state.on !== on) {
            unsupported(property, `${feature} is ${onOff(state.on)} [fixed] on ${where} and cannot be turned ${onOff(on)}`);
        } else if (!state.fixed) {
            resolved.desired.features[feature] = on;
            declaredBy.set(feature, property);
        }
    }
    const putBack = previous && inputs.restoreOnDelete ? previous.originals.features : {};
    resolved.problems.push(...droppedByKernel(resolved.desired.features, putBack, (name) => features.get(name)?.on, declaredBy, where));
    return resolved;
}

/** What the interface shows for `desired`'s features and queue length. */
export function liveOf(desired: OffloadValues, snapshot: OffloadSnapshot): OffloadValues {
    const live: OffloadValues = { features: {} };
    for (const name of Object.keys(desired.features)) {
        const state = snapshot.table.features.get(name);
        if (state) {
            live.features[name] = state.on;
            if (wantedState(state) !== state.on) {
                live.requested = { ...live.requested, [name]: wantedState(state) };
            }
        }
    }
    if (desired.txqueuelen !== undefined && snapshot.txqueuelen !== undefined) {
        live.txqueuelen = snapshot.txqueuelen;
    }
    return live;
}

/**
 * Per feature and for the queue length. A feature held as declared against its request (declared
 * off, live `off [requested on]`) is drift too: the request turns it on the moment what it
 * depends on is, and the next up sets it.
 */
export function offloadDrift(desired: OffloadValues, live: OffloadValues): string[] {
    const shown = (name: string) => {
        const on = live.features[name];
        const request = live.requested?.[name];
        return on === undefined ? "absent" : request === undefined ? onOff(on) : `${onOff(on)} [requested ${onOff(request)}]`;
    };
    const drift = Object.entries(desired.features)
        .filter(([name, on]) => live.features[name] !== on || (live.requested?.[name] ?? on) !== on)
        .map(([name, on]) => `${name} live ${shown(name)}, desired ${onOff(on)}`);
    if (desired.txqueuelen !== undefined && live.txqueuelen !== desired.txqueuelen) {
        drift.push(`txqueuelen live ${live.txqueuelen ?? "absent"}, desired ${desired.txqueuelen}`);
    }
    return drift;
}

/**
 * What brings the interface from `snapshot` to `want` (features it lacks or cannot change left
 * out); undefined when it is there. A feature the kernel holds otherwise than requested ("off
 * [requested on]") is set too, though it shows as wanted: its request would turn it back the
 * moment the feature it depends on changes. Its undo is the request. An original put back
 * (`isOriginal`) is a request too, checked as one: the kernel may hold it off as it did before.
 */
export function changeTo(want: OffloadValues, snapshot: OffloadSnapshot, isOriginal: (feature: string) => boolean = () => false): OffloadChange | undefined {
    const change: OffloadChange = { set: {}, undo: {}, expect: {}, expectRequested: {} };
    for (const [name, on] of Object.entries(want.features)) {
        const state = snapshot.table.features.get(name);
        if (!state || state.fixed) {
            continue;
        }
        const original = isOriginal(name);
        (original ? change.expectRequested : change.expect)[name] = on;
        if (wantedState(state) !== on || (!original && state.on !== on)) {
            change.set[name] = on;
            change.undo[name] = wantedState(state);
        }
    }
    if (want.txqueuelen !== undefined && snapshot.txqueuelen !== undefined && want.txqueuelen !== snapshot.txqueuelen) {
        change.txqueuelen = { to: want.txqueuelen, from: snapshot.txqueuelen };
    }
    return Object.keys(change.set).length > 0 || change.txqueuelen ? change : undefined;
}

export interface OffloadRecord {
    /** What each managed feature and the queue length had before this resource first changed them. */
    originals: OffloadValues;
    skipped: string[];
    ruleFile?: string;
    /** The udev rule as it was before this resource, and the directories created for it. */
    managedFiles?: ManagedFiles;
    /** The host-side ledger holding the originals and the owner. */
    ledgerFile?: string;
}

/** The ledger directory's name: /var/lib/pulumi-linux-tuning/nic-offload. */
export const LEDGER_KIND = "nic-offload";

/**
 * What a record changes on the host, as its ledger lists it: each feature by the name `ethtool -k`
 * shows (`ethtool:eth1:feature:generic-receive-offload`), tx_queue_len by its path under
 * /sys/class/net and its real path (either is what a SysfsSet would list), and the udev rule.
 */
export function offloadItems(iface: string, record: OffloadRecord, snapshot: OffloadSnapshot): string[] {
    const features = Object.keys(record.originals.features).map((name) => `ethtool:${iface}:feature:${name}`);
    const queue = record.originals.txqueuelen === undefined ? [] : [`/sys/class/net/${iface}/tx_queue_len`, ...(snapshot.txqueuelenFile ? [snapshot.txqueuelenFile] : [])];
    return itemsOf([...features, ...queue], record.managedFiles);
}

/** The input a refusal of items another resource owns is reported on. */
export const mainProperty = (inputs: NicOffloadsInputs): string => (Object.keys(inputs.features ?? {}).length > 0 ? "features" : "txqueuelen");

export interface OffloadPlan {
    change?: OffloadChange;
    rule: FileData | null | undefined;
    desired: OffloadValues;
    record: OffloadRecord;
    warnings: string[];
}

/** Feature names sorted, so the rule is the same whatever order state keeps them in. */
export function renderRule(resourceName: string, iface: string, ethtool: string, desired: OffloadValues): string {
    const assignments: string[] = [];
    const names = Object.keys(desired.features).sort();
    if (names.length > 0) {
        assignments.push(`RUN+="${[ethtool, "-K", iface, ...names.flatMap((n) => [n, onOff(desired.features[n])])].join(" ")}"`);
    }
    if (desired.txqueuelen !== undefined) {
        assignments.push(`ATTR{tx_queue_len}="${desired.txqueuelen}"`);
    }
    const header = `# Managed by pulumi-linux-tuning (NicOffloads "${resourceName.replace(/[\r\n]/g, " ")}"): re-applied when ${iface} appears.`;
    return [header, ...netAddLines(iface, assignments)].join("\n") + "\n";
}

export const expectedRule = (inputs: NicOffloadsInputs, snapshot: OffloadSnapshot, desired: OffloadValues) =>
    renderRule(inputs.resourceName, inputs.interface, snapshot.ethtoolPath || "/usr/sbin/ethtool", desired);

export class OffloadPlanError extends Error {}

export function planOffloads(inputs: NicOffloadsInputs, snapshot: OffloadSnapshot, rulePath: string, target: string, previous?: OffloadRecord): OffloadPlan {
    const resolved = resolve(inputs, snapshot, target, previous);
    if (resolved.problems.length > 0) {
        throw new OffloadPlanError(`${target}: ${resolved.problems.map((p) => `${p.property}: ${p.reason}`).join("; ")}. Nothing was changed.`);
    }
    const { desired } = resolved;
    const originals: OffloadValues = { features: {} };
    for (const name of Object.keys(desired.features)) {
        originals.features[name] = previous?.originals.features[name] ?? wantedState(snapshot.table.features.get(name)!);
    }
    if (desired.txqueuelen !== undefined) {
        originals.txqueuelen = previous?.originals.txqueuelen ?? snapshot.txqueuelen;
    }
    // An original this read cannot see (ethtool -k failing, a feature gone with a driver reload) is
    // kept: it is the only record of what to put back once the interface shows it again.
    for (const [name, original] of Object.entries(previous?.originals.features ?? {})) {
        if (!snapshot.table.features.has(name)) {
            originals.features[name] ??= original;
        }
    }
    if (snapshot.txqueuelen === undefined && previous?.originals.txqueuelen !== undefined) {
        originals.txqueuelen ??= previous.originals.txqueuelen;
    }
    // What is no longer declared goes back to its original.
    const want: OffloadValues = { features: { ...desired.features }, txqueuelen: desired.txqueuelen };
    if (previous && inputs.restoreOnDelete) {
        for (const [name, original] of Object.entries(previous.originals.features)) {
            want.features[name] ??= original;
        }
        want.txqueuelen ??= previous.originals.txqueuelen;
    }
    const warnings = resolved.skipped.length > 0 ? [`${target}: skipped ${resolved.skipped.join(", ")} on ${inputs.interface} (onUnsupported: "skip")`] : [];
    let rule: FileData | null | undefined;
    // State from before these records: the rule was ours, absent before.
    let managedFiles = previous?.managedFiles ?? (previous?.ruleFile ? { originals: { [rulePath]: ABSENT }, written: {}, createdDirs: [] } : undefined);
    if (inputs.persist) {
        const content = expectedRule(inputs, snapshot, desired);
        rule = holdsText(snapshot.ownRule, content) ? undefined : { content };
        managedFiles = manage(managedFiles, () => ruleContent(snapshot), { [rulePath]: fileContent(content) });
    } else if (previous?.ruleFile && managedFiles) {
        const restore = ruleRestore(managedFiles, snapshot, rulePath, target, false);
        rule = restore.rule;
        warnings.push(...restore.warnings);
        managedFiles = forget(managedFiles, [rulePath]);
    }
    return {
        change: changeTo(want, snapshot, (feature) => !(feature in desired.features)),
        rule,
        desired,
        warnings,
        record: { originals, skipped: resolved.skipped, ruleFile: inputs.persist ? rulePath : undefined, managedFiles },
    };
}

const ruleContent = (snapshot: OffloadSnapshot): PathContent => (snapshot.ownRule === null ? ABSENT : fileOf(snapshot.ownRule));

export interface RuleRestore {
    /** Content to write back, null to remove, undefined to leave alone. */
    rule: FileData | null | undefined;
    /** Directories to remove when empty, deepest first. */
    rmdir: string[];
    warnings: string[];
}

function ruleRestore(managed: ManagedFiles, snapshot: OffloadSnapshot, rulePath: string, target: string, removeDirs: boolean): RuleRestore {
    const plan = planRestore(managed, (p) => (p === rulePath ? ruleContent(snapshot) : ABSENT), target, { paths: [rulePath], removeDirs });
    return { rule: changeAt(plan.changes, rulePath), rmdir: plan.changes.rmdir ?? [], warnings: plan.warnings };
}

/**
 * Originals a delete cannot put back now on an interface that is there: its features while
 * `ethtool -k` fails (a driver resetting, ethtool gone), its queue length while tx_queue_len
 * cannot be read. The delete must fail and keep them, rather than drop them with the ledger.
 */
export function unreadableOriginals(record: OffloadRecord, snapshot: OffloadSnapshot, restore: boolean): string[] {
    if (!restore || !snapshot.exists) {
        return [];
    }
    return [
        ...(Object.keys(record.originals.features).length > 0 && snapshot.featuresError !== undefined ? [`features (ethtool -k: ${snapshot.featuresError})`] : []),
        ...(record.originals.txqueuelen !== undefined && snapshot.txqueuelen === undefined ? ["txqueuelen"] : []),
    ];
}

/**
 * Originals a restore leaves, each in a warning: features the interface no longer has, or now
 * holds [fixed] otherwise (a driver reloaded, new firmware), which no write can change.
 */
function originalsLeft(originals: OffloadValues, snapshot: OffloadSnapshot, iface: string, target: string): string[] {
    return Object.entries(originals.features).flatMap(([name, on]) => {
        const state = snapshot.table.features.get(name);
        if (!state) {
            return [`${target}: left ${iface}'s ${name} as it is: the interface no longer has it, so its original ${onOff(on)} cannot go back`];
        }
        return state.fixed && state.on !== on ? [`${target}: left ${iface}'s ${name} ${onOff(state.on)}: it is fixed now, so its original ${onOff(on)} cannot go back`] : [];
    });
}

/** Delete: originals written back (with restoreOnDelete), the rule as it was before, directories created for it removed when empty. */
export function planOffloadRestore(record: OffloadRecord, snapshot: OffloadSnapshot, iface: string, rulePath: string, target: string, restore: boolean): { change?: OffloadChange } & RuleRestore {
    const change = restore ? changeTo(record.originals, snapshot, () => true) : undefined;
    const left = restore && snapshot.exists ? originalsLeft(record.originals, snapshot, iface, target) : [];
    if (record.managedFiles) {
        const rule = ruleRestore(record.managedFiles, snapshot, rulePath, target, true);
        return { change, ...rule, warnings: [...left, ...rule.warnings] };
    }
    return { change, rule: record.ruleFile ? null : undefined, rmdir: [], warnings: left };
}
