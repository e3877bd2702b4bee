import type * as dynamic from "@pulumi/pulumi/dynamic";
import { CheckFailure, checkFailures, hostFailures, parseChecked, withoutEngineKeys } from "../check";
import { LedgerHolder, LedgerScope, LedgeredPlanner, ledgerDrift, ledgerStatus, ownLedgerRecord, planWithLedger, plannedOwnershipFailures, recordToRestore } from "../host/ledger";
import { transportFor } from "../transport";
import { hostIdentity } from "../transport/connection";
import { applyEntryPoints, diffResource, persistenceDrifted, pickInputs, plainState } from "../lifecycle";
import { containsUnknown } from "../unknowns";
import { LEDGER_KIND, OffloadPlan, OffloadRecord, OffloadValues, expectedRule, liveOf, mainProperty, offloadDrift, offloadItems, planOffloadRestore, planOffloads, resolve, unreadableOriginals } from "./plan";
import { OffloadSnapshot, applyOffloads, readOffloads } from "./remote";
import { NicOffloadsInputs, nicOffloadsInputsSchema, ruleFile } from "./schema";
import { afterRuleWrite } from "../nic/rule-snapshot";
import { ruleStatus } from "../nic/udev";

const INPUT_FIELDS = ["connection", "interface", "features", "txqueuelen", "onUnsupported", "persist", "restoreOnDelete", "resourceName", "owner"] as const;

const inputsOf = (props: Record<string, unknown>) => pickInputs(INPUT_FIELDS, props);

const parse = (props: Record<string, unknown>): NicOffloadsInputs => parseChecked(nicOffloadsInputsSchema, inputsOf(props));

const NO_VALUES: OffloadValues = { features: {} };

function recordOf(props: Record<string, unknown>): OffloadRecord {
    return {
        originals: (props.originals as OffloadValues) ?? NO_VALUES,
        skipped: (props.skipped as string[]) ?? [],
        ruleFile: props.ruleFile as string | undefined,
        managedFiles: props.managedFiles as OffloadRecord["managedFiles"],
        ledgerFile: props.ledgerFile as string | undefined,
    };
}

const ledgerStatusOf = (inputs: NicOffloadsInputs, record: OffloadRecord, snapshot: OffloadSnapshot) =>
    ledgerStatus(snapshot.ledgers, record.ledgerFile, record.originals, offloadItems(inputs.interface, record, snapshot));

const ledgerScope = (inputs: NicOffloadsInputs, snapshot: OffloadSnapshot, target: string): LedgerScope => ({ kind: LEDGER_KIND, owner: inputs.owner ?? inputs.resourceName, ledgers: snapshot.ledgers, target });

const planner = (inputs: NicOffloadsInputs, snapshot: OffloadSnapshot, target: string): LedgeredPlanner<OffloadRecord, OffloadPlan> => ({
    plan: (start) => planOffloads(inputs, snapshot, ruleFile(inputs.resourceName), target, start),
    items: (record) => offloadItems(inputs.interface, record, snapshot),
    itemsNameTheDevice: true,
});

const ownRuleStatus = (inputs: NicOffloadsInputs, record: OffloadRecord, snapshot: OffloadSnapshot, desired: OffloadValues): string =>
    ruleStatus(record, () => snapshot.ownRule, expectedRule(inputs, snapshot, desired));

function outputs(raw: Record<string, unknown>, inputs: NicOffloadsInputs, record: OffloadRecord, desired: OffloadValues, snapshot: OffloadSnapshot, ledgerState: string, warnings: string[]) {
    return {
        ...inputsOf(raw),
        ...record,
        hostId: hostIdentity(inputs.connection),
        live: liveOf(desired, snapshot),
        desired,
        ruleStatus: ownRuleStatus(inputs, record, snapshot, desired),
        ledgerStatus: ledgerState,
        warnings,
    };
}

const readHost = (inputs: NicOffloadsInputs) => readOffloads(transportFor(inputs.connection), inputs.interface, ruleFile(inputs.resourceName));

async function apply(raw: Record<string, unknown>, previous?: OffloadRecord) {
    const inputs = parse(raw);
    const transport = transportFor(inputs.connection);
    const rule = ruleFile(inputs.resourceName);
    const snapshot = await readOffloads(transport, inputs.interface, rule);
    const { plan, ledger } = planWithLedger(ledgerScope(inputs, snapshot, transport.target), previous, planner(inputs, snapshot, transport.target));
    plan.warnings.forEach((w) => console.log(w));
    // Run even with nothing to change: the ledger is what claims the features.
    const after = await applyOffloads(transport, inputs.interface, plan.change, rule, plan.rule, [], ledger);
    afterRuleWrite(plan.record, snapshot, after, plan.rule);
    return outputs(raw, inputs, plan.record, plan.desired, after, "in place", plan.warnings);
}

/** What the interface cannot take (an unknown or [fixed] feature), else features, the queue length or the rule another resource owns. */
function hostProblems(inputs: NicOffloadsInputs, snapshot: OffloadSnapshot, target: string, olds: LedgerHolder): CheckFailure[] {
    const problems = resolve(inputs, snapshot, target, ownLedgerRecord<OffloadRecord>(ledgerScope(inputs, snapshot, target), olds)).problems;
    if (problems.length > 0) {
        return problems;
    }
    return plannedOwnershipFailures(ledgerScope(inputs, snapshot, target), olds, planner(inputs, snapshot, target), hostIdentity(inputs.connection), mainProperty(inputs));
}

/**
 * Besides validating the inputs, reads `ethtool -k` on the host (read-only) when it can, so an
 * unknown feature or a "[fixed]" one declared other than it is fails in preview, naming the host,
 * and so does a feature another resource's ledger holds, naming its owner.
 */
export async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.CheckResult> {
    const raw = inputsOf(withoutEngineKeys(news));
    const failures = checkFailures(nicOffloadsInputsSchema, raw);
    if (failures.length > 0 || containsUnknown(raw)) {
        return { inputs: news, failures };
    }
    const inputs = parse(raw);
    return { inputs: news, failures: await hostFailures(() => readHost(inputs), (snapshot) => hostProblems(inputs, snapshot, transportFor(inputs.connection).target, withoutEngineKeys(olds))) };
}

async function probeDrift(olds: Record<string, unknown>, inputs: NicOffloadsInputs): Promise<string[]> {
    const desired = (olds.desired as OffloadValues) ?? NO_VALUES;
    const record = recordOf(olds);
    const snapshot = await readHost(inputs);
    const drift = offloadDrift(desired, liveOf(desired, snapshot)).map((d) => `${inputs.interface} ${d}`);
    const status = ownRuleStatus(inputs, record, snapshot, desired);
    return [...drift, ...(persistenceDrifted(status) ? [`${record.ruleFile} is ${status}`] : []), ...ledgerDrift(ledgerStatusOf(inputs, record, snapshot))];
}

/** How the host differs from a recorded state, from a fresh read (empty: as declared). */
export const liveDrift = (props: Record<string, unknown>) => probeDrift(withoutEngineKeys(props), parse(withoutEngineKeys(props)));

export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.DiffResult> {
    const desired = (olds.desired as OffloadValues) ?? NO_VALUES;
    return diffResource({
        olds,
        news: withoutEngineKeys(news),
        parse,
        identity: ["interface"],
        fields: ["features", "txqueuelen", "onUnsupported", "persist", "restoreOnDelete"],
        recordedDrift: () => offloadDrift(desired, (olds.live as OffloadValues) ?? NO_VALUES).length > 0 || persistenceDrifted(olds.ruleStatus),
        probe: (inputs) => probeDrift(olds, inputs),
    });
}

export const { create, update, read } = applyEntryPoints(apply, recordOf, ["interface", "resourceName"], refresh);

async function refresh(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const snapshot = await readHost(inputs);
    const record = recordOf(raw);
    const ledgerState = ledgerStatusOf(inputs, record, snapshot);
    return {
        id,
        props: plainState(outputs(raw, inputs, record, (raw.desired as OffloadValues) ?? NO_VALUES, snapshot, ledgerState, (raw.warnings as string[]) ?? [])),
        inputs: plainState(inputsOf(raw)),
    };
}

export async function remove(_id: string, props: Record<string, unknown>): Promise<void> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const transport = transportFor(inputs.connection);
    const rule = ruleFile(inputs.resourceName);
    const snapshot = await readOffloads(transport, inputs.interface, rule);
    const record = recordToRestore(recordOf(raw), snapshot.ledgers);
    const unreadable = unreadableOriginals(record, snapshot, inputs.restoreOnDelete);
    if (unreadable.length > 0) {
        throw new Error(
            `${transport.target}: cannot put back the originals of ${inputs.interface}'s ${unreadable.join(", ")}. Nothing was changed, and the host-side ledger keeps them: run the delete again once they can be read`,
        );
    }
    const restore = planOffloadRestore(record, snapshot, inputs.interface, rule, transport.target, inputs.restoreOnDelete);
    restore.warnings.forEach((w) => console.log(w));
    if (restore.change || restore.rule !== undefined || restore.rmdir.length > 0 || record.ledgerFile) {
        await applyOffloads(transport, inputs.interface, restore.change, rule, restore.rule, restore.rmdir, record.ledgerFile ? { path: record.ledgerFile } : undefined);
    }
}
