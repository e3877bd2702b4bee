import type { CheckFailure } from "../check";
import { itemsOf } from "../host/ledger";
import { FileData, holdsText, linkedOwnFile } from "../host/files";
import { ABSENT, ManagedFiles, PathContent, changeAt, fileContent, fileOf, forget, manage, planRestore } from "../host/restore";
import { PARAMS, Section, Values, setWords, SECTION_OPTIONS } from "./ethtool";
import { NicSnapshot, SectionChange } from "./remote";
import { NicRingConfigInputs, ruleFile } from "./schema";
import { netAddLines } from "./udev";

export const SECTIONS: Section[] = ["rings", "channels", "coalesce"];

export type PerSection = Partial<Record<Section, Values>>;

export interface Resolved {
    /** Numbers to set, "max" resolved from the NIC's pre-set maximums. */
    desired: PerSection;
    /** Parameters the NIC does not have, skipped under onUnsupported: "skip" ("rings.rxMini"). */
    skipped: string[];
    problems: CheckFailure[];
}

function declared(inputs: NicRingConfigInputs, section: Section): Record<string, number | boolean | "max"> {
    return (inputs[section] ?? {}) as Record<string, number | boolean | "max">;
}

/** Resolves "max", checks every value against what the NIC reports; never throws. */
export function resolve(inputs: NicRingConfigInputs, snapshot: NicSnapshot): Resolved {
    const resolved: Resolved = { desired: {}, skipped: [], problems: [] };
    const unsupported = (property: string, reason: string) => {
        if (inputs.onUnsupported === "skip") {
            resolved.skipped.push(property);
        } else {
            resolved.problems.push({ property, reason: `${reason}; set onUnsupported: "skip" to skip it` });
        }
    };
    if (!snapshot.exists) {
        resolved.problems.push({ property: "interface", reason: `${inputs.interface} does not exist on this host` });
        return resolved;
    }
    const linked = linkedOwnFile(ruleFile(inputs.resourceName), snapshot.ownLink, inputs.persist);
    if (linked) {
        resolved.problems.push({ property: "persist", reason: linked });
    }
    // Not the NIC's lack, so never skipped: every section would read as unsupported.
    const noEthtool = SECTIONS.find((section) => Object.keys(declared(inputs, section)).length > 0 && !snapshot.ethtoolPath);
    if (noEthtool) {
        resolved.problems.push({ property: noEthtool, reason: "this host has no ethtool on its PATH, which reads and sets rings, channels and coalescing: install the ethtool package" });
        return resolved;
    }
    for (const section of SECTIONS) {
        const wanted = declared(inputs, section);
        if (Object.keys(wanted).length === 0) {
            continue;
        }
        const state = snapshot.sections[section];
        if (!state.supported) {
            unsupported(section, `${inputs.interface} does not support ${section} (ethtool ${SECTION_OPTIONS[section].show}: ${state.reason})`);
            continue;
        }
        const values: Values = {};
        for (const [param, value] of Object.entries(wanted)) {
            const property = `${section}.${param}`;
            if (!(param in state.current)) {
                unsupported(property, `${inputs.interface} has no ${PARAMS[section][param][0]} ${section === "coalesce" ? "setting" : "parameter"} (n/a)`);
                continue;
            }
            const max = state.max[param];
            if (value === "max") {
                if (max === undefined) {
                    unsupported(property, `${inputs.interface} reports no pre-set maximum for ${PARAMS[section][param][0]}`);
                    continue;
                }
                values[param] = max;
            } else if (typeof value === "boolean") {
                values[param] = value ? 1 : 0;
            } else if (max !== undefined && value > max) {
                resolved.problems.push({ property, reason: `${value} is above ${inputs.interface}'s pre-set maximum ${max}` });
            } else {
                values[param] = value;
            }
        }
        if (section === "channels") {
            // ethtool's netlink refuses a count that leaves a direction with no channel at all.
            const after = { ...state.current, ...values };
            for (const direction of ["rx", "tx"] as const) {
                if ((after.combined ?? 0) + (after[direction] ?? 0) === 0) {
                    resolved.problems.push({
                        property: `channels.${"combined" in values ? "combined" : direction}`,
                        reason: `leaves ${inputs.interface} no ${direction === "rx" ? "receive" : "transmit"} channel (combined ${after.combined ?? 0}, ${direction} ${after[direction] ?? 0}); the kernel refuses it (EINVAL)`,
                    });
                    break;
                }
            }
        }
        if (section === "coalesce" && inputs.persist) {
            for (const d of DIRECTIONS) {
                if (d.usecs in values && !(d.adaptive in wanted) && d.adaptive in state.current) {
                    resolved.problems.push({
                        property: `coalesce.${d.usecs}`,
                        reason:
                            `declare coalesce.${d.adaptive} beside it: ${inputs.interface} has ${PARAMS.coalesce[d.adaptive][0]}, and at boot its default decides whether the udev rule's interval is taken ` +
                            `(i40e, ice and iavf refuse an interval under adaptive); ${d.adaptive}: false fixes the interval, true makes it adaptive's starting value`,
                    });
                }
            }
        }
        resolved.desired[section] = values;
    }
    return resolved;
}

/**
 * What the driver set when asked for a declared value, [asked, got] per parameter: i40e aligns a
 * ring to 32 descriptors and its interval to an even number of µs, mlx5 and ena take a power of two.
 */
export type Adjusted = Partial<Record<Section, Record<string, [number, number]>>>;

/** The values the host should show: the declared ones, each as its driver took it when it adjusted one. */
export function expectedValues(desired: PerSection, adjusted: Adjusted | undefined): PerSection {
    return Object.fromEntries(
        Object.entries(desired).map(([section, values]) => [
            section,
            Object.fromEntries(Object.entries(values ?? {}).map(([param, value]) => {
                const taken = adjusted?.[section as Section]?.[param];
                return [param, taken && taken[0] === value ? taken[1] : value];
            })),
        ]),
    );
}

/** Per declared parameter, when the host holds another value than declared: [declared, held]. */
function differences(desired: PerSection, held: (section: Section, param: string) => number | undefined): Adjusted {
    const result: Adjusted = {};
    for (const [section, values] of Object.entries(desired) as [Section, Values][]) {
        for (const [param, value] of Object.entries(values)) {
            const got = held(section, param);
            if (got !== undefined && got !== value) {
                result[section] = { ...result[section], [param]: [value, got] };
            }
        }
    }
    return result;
}

/**
 * After an apply: what the driver made of each value it was asked for (`asked`), and the earlier
 * adjustments (`known`) of the others that the host still shows.
 */
export function adjustmentsAfterApply(desired: PerSection, asked: PerSection, known: Adjusted | undefined, live: PerSection): Adjusted {
    return differences(desired, (section, param) => {
        const got = live[section]?.[param];
        if (asked[section]?.[param] !== undefined) {
            return got;
        }
        const earlier = known?.[section]?.[param];
        return earlier && earlier[0] === desired[section]![param] && earlier[1] === got ? got : undefined;
    });
}

export interface NicRecord {
    /** What each declared parameter had before this resource first changed it. */
    originals: PerSection;
    adjusted?: Adjusted;
    skipped: string[];
    ruleFile?: string;
    /** The udev rule as it was before this resource, and the directories created for it. */
    managedFiles?: ManagedFiles;
    /** The host-side ledger holding the originals and the owner. */
    ledgerFile?: string;
}

/** The ledger directory's name: /var/lib/pulumi-linux-tuning/nic. */
export const LEDGER_KIND = "nic";

const ITEM_SECTION: Record<Section, string> = { rings: "ring", channels: "channel", coalesce: "coalesce" };

/**
 * What a record changes on the host, as its ledger lists it: each parameter by ethtool's own word
 * (`ethtool:eth1:ring:rx-jumbo`, `ethtool:eth1:coalesce:adaptive-rx`), and the udev rule.
 */
export function nicItems(iface: string, record: NicRecord): string[] {
    const params = SECTIONS.flatMap((section) => Object.keys(record.originals[section] ?? {}).map((param) => `ethtool:${iface}:${ITEM_SECTION[section]}:${PARAMS[section][param][1]}`));
    return itemsOf(params, record.managedFiles);
}

/** The input a refusal of items another resource owns is reported on: the first section declared. */
export const mainProperty = (inputs: NicRingConfigInputs): Section => SECTIONS.find((section) => Object.keys(inputs[section] ?? {}).length > 0) ?? "rings";

export interface NicPlan {
    changes: SectionChange[];
    /** The declared values this plan asks the driver for (those not in place). */
    asked: PerSection;
    rule: FileData | null | undefined;
    desired: PerSection;
    record: NicRecord;
    warnings: string[];
}

/** A coalescing direction: its adaptive switch and the interval that switch pins on some drivers. */
const DIRECTIONS = [
    { adaptive: "adaptiveRx", usecs: "rxUsecs" },
    { adaptive: "adaptiveTx", usecs: "txUsecs" },
] as const;

/**
 * i40e, ice and iavf refuse (EINVAL) a request that changes rx-usecs while it leaves adaptive-rx
 * on, as a restore of "adaptive on, 50 µs" after "off, 0 µs" does (tx alike). At boot the state
 * is unknown, so a direction declared adaptive with an interval is set with adaptive off, and
 * adaptive goes on in a second command, with the interval already in place.
 */
function bootSteps(section: Section, desired: Values): Values[] {
    const last = section === "coalesce" ? DIRECTIONS.filter((d) => desired[d.adaptive] === 1 && desired[d.usecs] !== undefined) : [];
    if (last.length === 0) {
        return [desired];
    }
    return [{ ...desired, ...Object.fromEntries(last.map((d) => [d.adaptive, 0])) }, Object.fromEntries(last.map((d) => [d.adaptive, 1]))];
}

export function renderRule(resourceName: string, iface: string, ethtool: string, desired: PerSection): string {
    const runs = SECTIONS.filter((section) => Object.keys(desired[section] ?? {}).length > 0).flatMap((section) =>
        bootSteps(section, desired[section]!).map((values) => `RUN+="${[ethtool, SECTION_OPTIONS[section].set, iface, ...setWords(section, values)].join(" ")}"`),
    );
    const header = `# Managed by pulumi-linux-tuning (NicRingConfig "${resourceName.replace(/[\r\n]/g, " ")}"): re-applied when ${iface} appears.`;
    return [header, ...netAddLines(iface, runs)].join("\n") + "\n";
}

const step = (section: Section, values: Values, have: Values): SectionChange => ({
    section,
    words: setWords(section, values),
    undo: setWords(section, Object.fromEntries(Object.keys(values).filter((p) => have[p] !== undefined).map((p) => [p, have[p]]))),
});

/**
 * The commands that take `have` to `want`, each undone on its own in reverse order. A coalescing
 * direction whose interval changes has adaptive off while it does (see bootSteps): turned off
 * first when it is on, and on last when it ends on, so neither a step nor its undo asks the driver
 * for a new interval with adaptive on.
 */
function changesFor(section: Section, want: Values, have: Values): SectionChange[] {
    const differing = Object.fromEntries(Object.entries(want).filter(([param, value]) => have[param] !== value));
    if (Object.keys(differing).length === 0) {
        return [];
    }
    const sequenced = section === "coalesce" ? DIRECTIONS.filter((d) => d.usecs in differing && (have[d.adaptive] === 1 || differing[d.adaptive] === 1)) : [];
    const off = Object.fromEntries(sequenced.filter((d) => have[d.adaptive] === 1).map((d) => [d.adaptive, 0]));
    const on = Object.fromEntries(sequenced.filter((d) => (differing[d.adaptive] ?? have[d.adaptive]) === 1).map((d) => [d.adaptive, 1]));
    const values = Object.fromEntries(Object.entries(differing).filter(([param]) => !sequenced.some((d) => d.adaptive === param)));
    const afterOff = { ...have, ...off };
    const afterValues = { ...afterOff, ...values };
    return [
        ...(Object.keys(off).length > 0 ? [step(section, off, have)] : []),
        ...(Object.keys(values).length > 0 ? [step(section, values, afterOff)] : []),
        ...(Object.keys(on).length > 0 ? [step(section, on, afterValues)] : []),
    ];
}

export class NicPlanError extends Error {}

export function planNic(inputs: NicRingConfigInputs, snapshot: NicSnapshot, rulePath: string, target: string, previous?: NicRecord): NicPlan {
    const resolved = resolve(inputs, snapshot);
    if (resolved.problems.length > 0) {
        throw new NicPlanError(`${target}: ${resolved.problems.map((p) => `${p.property}: ${p.reason}`).join("; ")}. Nothing was changed.`);
    }
    const changes: SectionChange[] = [];
    const originals: PerSection = {};
    const asked: PerSection = {};
    const expected = expectedValues(resolved.desired, previous?.adjusted);
    for (const section of SECTIONS) {
        const state = snapshot.sections[section];
        const current = state.supported ? state.current : {};
        // In place as the driver took it, a value stays; any other is asked for as declared.
        const want: Values = Object.fromEntries(
            Object.entries(resolved.desired[section] ?? {}).map(([param, value]) => [param, current[param] !== undefined && current[param] === expected[section]?.[param] ? current[param] : value]),
        );
        const asking = Object.fromEntries(Object.entries(want).filter(([param, value]) => current[param] !== value));
        if (Object.keys(asking).length > 0) {
            asked[section] = asking;
        }
        const kept: Values = {};
        for (const param of Object.keys(want)) {
            const original = previous?.originals[section]?.[param] ?? current[param];
            if (original !== undefined) {
                kept[param] = original;
            }
        }
        // Parameters no longer declared go back to their originals; one whose section cannot be
        // read now (a driver resetting) keeps its original for a later update or the delete.
        if (previous && inputs.restoreOnDelete) {
            for (const [param, original] of Object.entries(previous.originals[section] ?? {})) {
                if (!(param in want) && current[param] !== undefined) {
                    want[param] = original;
                } else if (!(param in want) && !state.supported) {
                    kept[param] = original;
                }
            }
        }
        if (Object.keys(kept).length > 0) {
            originals[section] = kept;
        }
        changes.push(...changesFor(section, want, current));
    }
    let rule: FileData | null | undefined;
    const warnings = resolved.skipped.length > 0 ? [`${target}: skipped ${resolved.skipped.join(", ")} on ${inputs.interface} (onUnsupported: "skip")`] : [];
    // State from before these records: the rule was ours, absent before.
    let managedFiles = previous?.managedFiles ?? (previous?.ruleFile ? { originals: { [rulePath]: ABSENT }, written: {}, createdDirs: [] } : undefined);
    if (inputs.persist) {
        const content = renderRule(inputs.resourceName, inputs.interface, snapshot.ethtoolPath || "/usr/sbin/ethtool", resolved.desired);
        rule = holdsText(snapshot.ownRule, content) ? undefined : { content };
        managedFiles = manage(managedFiles, () => ruleContent(snapshot), { [rulePath]: fileContent(content) });
    } else if (previous?.ruleFile && managedFiles) {
        const restore = ruleRestore(managedFiles, snapshot, rulePath, target, false);
        rule = restore.rule;
        warnings.push(...restore.warnings);
        managedFiles = forget(managedFiles, [rulePath]);
    }
    // Adjustments about values still declared; the apply's read-back finds any new one.
    const adjusted = differences(resolved.desired, (section, param) => expected[section]?.[param]);
    return {
        changes,
        asked,
        rule,
        desired: resolved.desired,
        warnings,
        record: { originals, ...(Object.keys(adjusted).length > 0 ? { adjusted } : {}), skipped: resolved.skipped, ruleFile: inputs.persist ? rulePath : undefined, managedFiles },
    };
}

const ruleContent = (snapshot: NicSnapshot): PathContent => (snapshot.ownRule === null ? ABSENT : fileOf(snapshot.ownRule));

export interface RuleRestore {
    /** Content to write back, null to remove, undefined to leave alone. */
    rule: FileData | null | undefined;
    /** Directories to remove when empty, deepest first. */
    rmdir: string[];
    warnings: string[];
}

/** The udev rule back as it was (gone, when it did not exist); with `removeDirs`, the directories created for it removed when empty. */
export function ruleRestore(managed: ManagedFiles, snapshot: NicSnapshot, rulePath: string, target: string, removeDirs: boolean): RuleRestore {
    const plan = planRestore(managed, (p) => (p === rulePath ? ruleContent(snapshot) : ABSENT), target, { paths: [rulePath], removeDirs });
    const rule = changeAt(plan.changes, rulePath);
    return { rule, rmdir: plan.changes.rmdir ?? [], warnings: plan.warnings };
}

/** Delete: the rule as it was before, or (state from before these records) removed. */
export function planRuleRestore(record: NicRecord, snapshot: NicSnapshot, rulePath: string, target: string): RuleRestore {
    if (record.managedFiles) {
        return ruleRestore(record.managedFiles, snapshot, rulePath, target, true);
    }
    return { rule: record.ruleFile ? null : undefined, rmdir: [], warnings: [] };
}

/**
 * Delete: each section's originals back. `unreadable`: sections holding originals that ethtool
 * cannot read now on an interface that is there (a driver resetting): the delete must fail, the
 * ledger kept, rather than forget them. An interface that is gone has nothing left to restore.
 */
export function planNicRestore(record: NicRecord, snapshot: NicSnapshot, restore: boolean): { changes: SectionChange[]; unreadable: string[] } {
    if (!restore) {
        return { changes: [], unreadable: [] };
    }
    const held = (section: Section) => Object.keys(record.originals[section] ?? {}).length > 0;
    const unreadable = snapshot.exists
        ? SECTIONS.filter((section) => held(section) && !snapshot.sections[section].supported).map((section) => {
              const state = snapshot.sections[section];
              return `${section} (ethtool ${SECTION_OPTIONS[section].show}: ${state.supported ? "" : state.reason})`;
          })
        : [];
    const changes = SECTIONS.flatMap((section) => {
        const state = snapshot.sections[section];
        return state.supported ? changesFor(section, record.originals[section] ?? {}, state.current) : [];
    });
    return { changes, unreadable };
}

/** Live values of the declared parameters only, so refresh shows per-parameter drift. */
export function liveDeclared(desired: PerSection, snapshot: NicSnapshot): PerSection {
    const live: PerSection = {};
    for (const section of SECTIONS) {
        const state = snapshot.sections[section];
        const want = desired[section];
        if (want && state.supported) {
            live[section] = Object.fromEntries(Object.keys(want).filter((p) => state.current[p] !== undefined).map((p) => [p, state.current[p]]));
        }
    }
    return live;
}

/** Drift of the declared values, each in place either as declared or as its driver took it. */
export function declaredDrift(desired: PerSection, adjusted: Adjusted | undefined, live: PerSection): string[] {
    const expected = expectedValues(desired, adjusted);
    const off = Object.fromEntries(
        Object.entries(expected).map(([section, values]) => [section, Object.fromEntries(Object.entries(values ?? {}).filter(([param]) => live[section as Section]?.[param] !== desired[section as Section]?.[param]))]),
    );
    return nicDrift(off, live);
}

export function nicDrift(desired: PerSection, live: PerSection): string[] {
    const drift: string[] = [];
    for (const section of SECTIONS) {
        for (const [param, value] of Object.entries(desired[section] ?? {})) {
            const have = live[section]?.[param];
            if (have !== value) {
                drift.push(`${section}.${param} live ${have ?? "absent"}, desired ${value}`);
            }
        }
    }
    return drift;
}
