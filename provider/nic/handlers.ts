import type * as dynamic from "@pulumi/pulumi/dynamic";
import { CheckFailure, checkFailures, hostFailures, parseChecked, withoutEngineKeys } from "../check";
import { LedgerHolder, LedgerScope, LedgeredPlanner, ledgerDrift, ledgerStatus, ledgerWrite, ownLedgerRecord, planWithLedger, plannedOwnershipFailures, recordToRestore } from "../host/ledger";
import { rewriteLedgerOrWarn } from "../host/files";
import { transportFor } from "../transport";
import type { Transport } from "../transport/transport";
import { hostIdentity } from "../transport/connection";
import { applyEntryPoints, diffResource, persistenceDrifted, pickInputs, plainState } from "../lifecycle";
import { containsUnknown } from "../unknowns";
import { Adjusted, LEDGER_KIND, NicPlan, NicRecord, PerSection, adjustmentsAfterApply, declaredDrift, liveDeclared, mainProperty, nicItems, planNic, planNicRestore, planRuleRestore, renderRule, resolve } from "./plan";
import { NicSnapshot, applyNic, readNic } from "./remote";
import { NicRingConfigInputs, nicRingConfigInputsSchema, ruleFile } from "./schema";
import { afterRuleWrite } from "./rule-snapshot";
import { ruleStatus } from "./udev";
import { nicResizes } from "./followers";

const INPUT_FIELDS = ["connection", "interface", "rings", "channels", "coalesce", "onUnsupported", "persist", "restoreOnDelete", "resourceName", "owner"] as const;

const inputsOf = (props: Record<string, unknown>) => pickInputs(INPUT_FIELDS, props);

const parse = (props: Record<string, unknown>): NicRingConfigInputs => parseChecked(nicRingConfigInputsSchema, inputsOf(props));

function recordOf(props: Record<string, unknown>): NicRecord {
    return {
        originals: (props.originals as PerSection) ?? {},
        ...(props.adjusted ? { adjusted: props.adjusted as Adjusted } : {}),
        skipped: (props.skipped as string[]) ?? [],
        ruleFile: props.ruleFile as string | undefined,
        managedFiles: props.managedFiles as NicRecord["managedFiles"],
        ledgerFile: props.ledgerFile as string | undefined,
    };
}

const ledgerStatusOf = (inputs: NicRingConfigInputs, record: NicRecord, snapshot: NicSnapshot) => ledgerStatus(snapshot.ledgers, record.ledgerFile, record.originals, nicItems(inputs.interface, record));

const ledgerScope = (inputs: NicRingConfigInputs, snapshot: NicSnapshot, target: string): LedgerScope => ({ kind: LEDGER_KIND, owner: inputs.owner ?? inputs.resourceName, ledgers: snapshot.ledgers, target });

const planner = (inputs: NicRingConfigInputs, snapshot: NicSnapshot, target: string): LedgeredPlanner<NicRecord, NicPlan> => ({
    plan: (start) => planNic(inputs, snapshot, ruleFile(inputs.resourceName), target, start),
    items: (record) => nicItems(inputs.interface, record),
    itemsNameTheDevice: true,
});

const ownRuleStatus = (inputs: NicRingConfigInputs, record: NicRecord, snapshot: NicSnapshot, desired: PerSection): string =>
    ruleStatus(record, () => snapshot.ownRule, renderRule(inputs.resourceName, inputs.interface, snapshot.ethtoolPath || "/usr/sbin/ethtool", desired));

function outputs(raw: Record<string, unknown>, inputs: NicRingConfigInputs, record: NicRecord, desired: PerSection, snapshot: NicSnapshot, ledgerState: string, warnings: string[]) {
    const live = liveDeclared(desired, snapshot);
    const maximums: PerSection = {};
    for (const section of ["rings", "channels"] as const) {
        const state = snapshot.sections[section];
        if (state.supported && inputs[section]) {
            maximums[section] = state.max;
        }
    }
    return {
        ...inputsOf(raw),
        ...record,
        hostId: hostIdentity(inputs.connection),
        live,
        desired,
        maximums,
        ruleStatus: ownRuleStatus(inputs, record, snapshot, desired),
        ledgerStatus: ledgerState,
        warnings,
    };
}

async function apply(raw: Record<string, unknown>, previous?: NicRecord) {
    const inputs = parse(raw);
    const transport = transportFor(inputs.connection);
    const rule = ruleFile(inputs.resourceName);
    const snapshot = await readNic(transport, inputs.interface, rule);
    const { plan, ledger } = planWithLedger(ledgerScope(inputs, snapshot, transport.target), previous, planner(inputs, snapshot, transport.target));
    plan.warnings.forEach((w) => console.log(w));
    // Run even with nothing to change: the ledger is what claims the parameters.
    const after = await applyNic(transport, inputs.interface, plan.changes, rule, plan.rule, [], ledger);
    afterRuleWrite(plan.record, snapshot, after, plan.rule);
    const { adjusted: known, ...record } = plan.record;
    const adjusted = adjustmentsAfterApply(plan.desired, plan.asked, known, liveDeclared(plan.desired, after));
    const warnings = [...plan.warnings, ...newAdjustments(adjusted, known).map((w) => `${transport.target}: ${inputs.interface} ${w}`)];
    warnings.slice(plan.warnings.length).forEach((w) => console.log(w));
    const final: NicRecord = { ...record, ...(Object.keys(adjusted).length > 0 ? { adjusted } : {}) };
    if (warnings.length > plan.warnings.length) {
        warnings.push(...(await ledgerWithAdjustments(transport, ledgerScope(inputs, snapshot, transport.target), inputs.interface, final)));
    }
    return outputs(raw, inputs, final, plan.desired, after, "in place", warnings);
}

/**
 * A driver's new adjustment goes into the ledger too, written again after the apply: a preview's
 * check has only the ledger to tell sizes in place (1008 for 1001) from a resize to come.
 */
function ledgerWithAdjustments(transport: Transport, scope: LedgerScope, iface: string, record: NicRecord): Promise<string[]> {
    const ledger = () => ledgerWrite(scope.ledgers, record.ledgerFile as string, scope.owner, nicItems(iface, record), record, transport.target);
    return rewriteLedgerOrWarn(transport, record.ledgerFile as string, ledger, (why) => `does not hold the driver's adjustment yet (${why}); a preview may take the sizes in place for a resize until the next up`);
}

/** The adjustments a driver made in this apply, in words. */
function newAdjustments(adjusted: Adjusted, known: Adjusted | undefined): string[] {
    return Object.entries(adjusted).flatMap(([section, params]) =>
        Object.entries(params ?? {})
            .filter(([param, [asked, got]]) => known?.[section as keyof Adjusted]?.[param]?.join() !== [asked, got].join())
            .map(([param, [asked, got]]) => `${section}.${param}: the driver set ${got} when asked for ${asked}; ${got} is what this resource expects from now on`),
    );
}

/** What the host cannot take (over a maximum, a parameter the driver lacks), else parameters or the rule another resource owns. */
function hostProblems(inputs: NicRingConfigInputs, snapshot: NicSnapshot, target: string, olds: LedgerHolder & Record<string, unknown>): CheckFailure[] {
    const problems = resolve(inputs, snapshot).problems;
    if (problems.length > 0) {
        return problems.map(({ property, reason }) => ({ property, reason: `${target}: ${reason}` }));
    }
    // Only a resize this run would make: a stack already applied, whose sizes stand (as its driver took them), moves nothing,
    // and one that puts back a size no longer declared resizes. Check has the old inputs only: the record is the ledger's.
    const previous = ownLedgerRecord<NicRecord>(ledgerScope(inputs, snapshot, target), olds);
    const planned = new Set(planner(inputs, snapshot, target).plan(previous).changes.map((change) => change.section));
    const changes = (["rings", "channels"] as const).filter((section) => planned.has(section));
    const undone = nicResizes(hostIdentity(inputs.connection), inputs.interface, { kind: LEDGER_KIND, owner: inputs.owner ?? inputs.resourceName }, changes);
    return [
        ...undone.map((reason) => ({ property: changes[0], reason: `${target}: ${reason}` })),
        ...plannedOwnershipFailures(ledgerScope(inputs, snapshot, target), olds, planner(inputs, snapshot, target), hostIdentity(inputs.connection), mainProperty(inputs)),
    ];
}

/**
 * Besides validating the inputs, probes the host read-only when it can, so a ring size above
 * the NIC's maximum or a parameter the driver lacks fails in preview, naming the maximum, and so
 * does a parameter another resource's ledger holds, naming its owner.
 */
export async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.CheckResult> {
    const raw = inputsOf(withoutEngineKeys(news));
    const failures = checkFailures(nicRingConfigInputsSchema, raw);
    if (failures.length > 0 || containsUnknown(raw)) {
        return { inputs: news, failures };
    }
    const inputs = parse(raw);
    const transport = transportFor(inputs.connection);
    return { inputs: news, failures: await hostFailures(() => readNic(transport, inputs.interface, ruleFile(inputs.resourceName)), (snapshot) => hostProblems(inputs, snapshot, transport.target, withoutEngineKeys(olds))) };
}

async function probeDrift(olds: Record<string, unknown>, inputs: NicRingConfigInputs): Promise<string[]> {
    const desired = (olds.desired as PerSection) ?? {};
    const record = recordOf(olds);
    const snapshot = await readNic(transportFor(inputs.connection), inputs.interface, ruleFile(inputs.resourceName));
    const drift = declaredDrift(desired, record.adjusted, liveDeclared(desired, snapshot)).map((d) => `${inputs.interface} ${d}`);
    const status = ownRuleStatus(inputs, record, snapshot, desired);
    return [...drift, ...(persistenceDrifted(status) ? [`${record.ruleFile} is ${status}`] : []), ...ledgerDrift(ledgerStatusOf(inputs, record, snapshot))];
}

/** How the host differs from a recorded state, from a fresh read (empty: as declared). */
export const liveDrift = (props: Record<string, unknown>) => probeDrift(withoutEngineKeys(props), parse(withoutEngineKeys(props)));

export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.DiffResult> {
    const desired = (olds.desired as PerSection) ?? {};
    return diffResource({
        olds,
        news: withoutEngineKeys(news),
        parse,
        identity: ["interface"],
        fields: ["rings", "channels", "coalesce", "onUnsupported", "persist", "restoreOnDelete"],
        recordedDrift: () => declaredDrift(desired, recordOf(olds).adjusted, (olds.live as PerSection) ?? {}).length > 0 || persistenceDrifted(olds.ruleStatus),
        probe: (inputs) => probeDrift(olds, inputs),
    });
}

export const { create, update, read } = applyEntryPoints(apply, recordOf, ["interface", "resourceName"], refresh);

async function refresh(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const record = recordOf(raw);
    const snapshot = await readNic(transportFor(inputs.connection), inputs.interface, ruleFile(inputs.resourceName));
    const state = outputs(raw, inputs, record, (raw.desired as PerSection) ?? {}, snapshot, ledgerStatusOf(inputs, record, snapshot), (raw.warnings as string[]) ?? []);
    return { id, props: plainState(state), inputs: plainState(inputsOf(raw)) };
}

export async function remove(_id: string, props: Record<string, unknown>): Promise<void> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const transport = transportFor(inputs.connection);
    const rule = ruleFile(inputs.resourceName);
    const snapshot = await readNic(transport, inputs.interface, rule);
    const record = recordToRestore(recordOf(raw), snapshot.ledgers);
    const { changes, unreadable } = planNicRestore(record, snapshot, inputs.restoreOnDelete);
    if (unreadable.length > 0) {
        throw new Error(
            `${transport.target}: cannot put back the originals of ${inputs.interface}'s ${unreadable.join(", ")}. Nothing was changed, and the host-side ledger keeps them: run the delete again once ethtool reads the NIC`,
        );
    }
    if (!snapshot.exists && Object.keys(record.originals).length > 0) {
        console.log(`${transport.target}: ${inputs.interface} is gone, with the values this resource set on it: nothing to put back`);
    }
    const files = planRuleRestore(record, snapshot, rule, transport.target);
    files.warnings.forEach((w) => console.log(w));
    if (changes.length > 0 || files.rule !== undefined || files.rmdir.length > 0 || record.ledgerFile) {
        await applyNic(transport, inputs.interface, changes, rule, files.rule, files.rmdir, record.ledgerFile ? { path: record.ledgerFile } : undefined);
    }
}
