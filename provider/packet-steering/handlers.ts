import type * as dynamic from "@pulumi/pulumi/dynamic";
import { checkAgainstHost, parseChecked, withoutEngineKeys } from "../check";
import { FileSnapshot, fileIn } from "../host/files";
import { LedgerScope, LedgeredPlanner, ledgerDrift, ledgersIn, ledgerStatus, planWithLedger, plannedOwnershipFailures, recordToRestore } from "../host/ledger";
import { withCreatedDirs } from "../host/restore";
import { transportFor } from "../transport";
import { hostIdentity } from "../transport/connection";
import { applyEntryPoints, diffResource, persistenceDrifted, pickInputs, plainState } from "../lifecycle";
import {
    LEDGER_KIND,
    SteeringError,
    SteeringRecord,
    SteeringPlan,
    SteeringView,
    desiredFor,
    itemPath,
    liveItems,
    planSteering,
    planSteeringRestore,
    renderRule,
    steeringDrift,
    steeringItems,
    ruleLinkProblems,
    steeringProblems,
} from "./plan";
import { applySteering, readSteering } from "./remote";
import { PacketSteeringInputs, packetSteeringInputsSchema, ruleFile } from "./schema";
import { unlinkedFollower } from "../nic/followers";
import { ruleStatus } from "../nic/udev";

const INPUT_FIELDS = ["connection", "interface", "rps", "rfs", "xps", "onMissing", "persist", "restoreOnDelete", "resourceName", "owner", "nicState"] as const;

const inputsOf = (props: Record<string, unknown>) => pickInputs(INPUT_FIELDS, props);

const parse = (props: Record<string, unknown>): PacketSteeringInputs => parseChecked(packetSteeringInputsSchema, inputsOf(props));

function recordOf(props: Record<string, unknown>): SteeringRecord {
    return {
        originals: (props.originals as Record<string, string>) ?? {},
        ruleFile: props.ruleFile as string | undefined,
        managedFiles: props.managedFiles as SteeringRecord["managedFiles"],
        ledgerFile: props.ledgerFile as string | undefined,
    };
}

const ledgerStatusOf = (inputs: PacketSteeringInputs, record: SteeringRecord, view: SteeringView, snapshot: FileSnapshot) =>
    ledgerStatus(ledgersIn(snapshot.files), record.ledgerFile, record.originals, steeringItems(record, inputs.interface, view));

const ledgerScope = (inputs: PacketSteeringInputs, snapshot: FileSnapshot, target: string): LedgerScope => ({ kind: LEDGER_KIND, owner: inputs.owner ?? inputs.resourceName, ledgers: ledgersIn(snapshot.files), target });

const planner = (inputs: PacketSteeringInputs, view: SteeringView, snapshot: FileSnapshot, target: string): LedgeredPlanner<SteeringRecord, SteeringPlan> => ({
    plan: (start) => planSteering(inputs, view, snapshot, ruleFile(inputs.resourceName), target, start),
    items: (record) => steeringItems(record, inputs.interface, view),
    itemsNameTheDevice: true,
});

function outputs(raw: Record<string, unknown>, inputs: PacketSteeringInputs, record: SteeringRecord, desired: Record<string, string>, skipped: string[], view: SteeringView, snapshot: FileSnapshot, ledgerState: string, warnings: string[]) {
    return {
        ...inputsOf(raw),
        ...record,
        hostId: hostIdentity(inputs.connection),
        queues: { rx: view.rx, tx: view.tx },
        desired,
        live: liveItems(Object.keys(desired), view),
        skipped,
        ruleStatus: ruleStatus(record, (path) => fileIn(snapshot, path), renderRule(inputs.resourceName, inputs.interface, desired)),
        ledgerStatus: ledgerState,
        warnings,
    };
}

async function apply(raw: Record<string, unknown>, previous?: SteeringRecord) {
    const inputs = parse(raw);
    const transport = transportFor(inputs.connection);
    const rule = ruleFile(inputs.resourceName);
    const { snapshot, view } = await readSteering(transport, inputs, rule);
    const { plan, ledger } = planWithLedger(ledgerScope(inputs, snapshot, transport.target), previous, planner(inputs, view, snapshot, transport.target));
    plan.warnings.forEach((w) => console.log(w));
    const outcome = await applySteering(transport, plan.writes, plan.files, ledger);
    if (plan.record.managedFiles) {
        plan.record.managedFiles = withCreatedDirs(plan.record.managedFiles, outcome.createdDirs);
    }
    for (const item of Object.keys(plan.desired.values)) {
        view.values[item] = outcome.after.get(itemPath(inputs.interface, item)) ?? view.values[item];
    }
    for (const file of plan.files.write ?? []) {
        snapshot.files.set(file.path, file.content);
    }
    return outputs(raw, inputs, plan.record, plan.desired.values, plan.desired.skipped, view, snapshot, "in place", plan.warnings);
}

/**
 * Besides validating the inputs, reads the host when it can (read-only, as NicRingConfig's check
 * does): a missing interface, a policy left with no online CPU, (under onMissing: "fail") a host
 * without the global flow table, and queue files or the flow table another resource owns fail in
 * preview, naming the property and the host.
 */
export async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.CheckResult> {
    const failures = await checkAgainstHost(
        packetSteeringInputsSchema,
        inputsOf(withoutEngineKeys(news)),
        (inputs) => readSteering(transportFor(inputs.connection), inputs, ruleFile(inputs.resourceName)),
        (inputs, { snapshot, view }) => {
            const target = transportFor(inputs.connection).target;
            const problems = [...steeringProblems(inputs, view, target), ...ruleLinkProblems(inputs, snapshot, ruleFile(inputs.resourceName), target)];
            if (problems.length > 0) {
                return problems;
            }
            const unlinked = inputs.nicState === undefined ? unlinkedFollower(hostIdentity(inputs.connection), inputs.interface, { kind: LEDGER_KIND, owner: inputs.owner ?? inputs.resourceName, undoneBy: ["channels"] }) : undefined;
            if (unlinked) {
                return [{ property: "interface", reason: `${target}: ${unlinked}` }];
            }
            return plannedOwnershipFailures(ledgerScope(inputs, snapshot, target), withoutEngineKeys(olds), planner(inputs, view, snapshot, target), hostIdentity(inputs.connection), "interface");
        },
        // The linked NIC's state is unknown in preview; it changes the queues, not the CPUs or the interface.
        ["nicState"],
    );
    return { inputs: news, failures };
}

/** Drift against what the inputs mean on the host now, so queues a channel change added or removed show too. */
async function probeDrift(olds: Record<string, unknown>, inputs: PacketSteeringInputs): Promise<string[]> {
    const transport = transportFor(inputs.connection);
    const rule = ruleFile(inputs.resourceName);
    const { snapshot, view } = await readSteering(transport, inputs, rule);
    let desired: Record<string, string>;
    try {
        desired = desiredFor(inputs, view, transport.target).values;
    } catch (e) {
        if (e instanceof SteeringError) {
            return [`${e.property}: ${e.why}`];
        }
        throw e;
    }
    const drift = steeringDrift(desired, liveItems(Object.keys(desired), view)).map((d) => `${inputs.interface} ${d}`);
    const gone = Object.keys((olds.desired as Record<string, string>) ?? {}).filter((item) => !(item in desired));
    if (gone.length > 0) {
        drift.push(`${inputs.interface} no longer has ${gone.join(", ")}`);
    }
    const status = ruleStatus(recordOf(olds), (path) => fileIn(snapshot, path), renderRule(inputs.resourceName, inputs.interface, desired));
    return [...drift, ...(persistenceDrifted(status) ? [`${rule} is ${status}`] : []), ...ledgerDrift(ledgerStatusOf(inputs, recordOf(olds), view, snapshot))];
}

/** How the host differs from a recorded state, from a fresh read (empty: as declared). */
export const liveDrift = (props: Record<string, unknown>) => probeDrift(withoutEngineKeys(props), parse(withoutEngineKeys(props)));

export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.DiffResult> {
    const desired = (olds.desired as Record<string, string>) ?? {};
    return diffResource({
        olds,
        news: withoutEngineKeys(news),
        parse,
        identity: ["interface"],
        fields: ["rps", "rfs", "xps", "onMissing", "persist", "restoreOnDelete", "nicState"],
        recordedDrift: () => steeringDrift(desired, (olds.live as Record<string, string>) ?? {}).length > 0 || persistenceDrifted(olds.ruleStatus),
        probe: (inputs) => probeDrift(olds, inputs),
    });
}

export const { create, update, read } = applyEntryPoints(apply, recordOf, ["interface", "resourceName"], refresh);

async function refresh(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const rule = ruleFile(inputs.resourceName);
    const { snapshot, view } = await readSteering(transportFor(inputs.connection), inputs, rule);
    const record = recordOf(raw);
    const status = ledgerStatusOf(inputs, record, view, snapshot);
    const state = outputs(raw, inputs, record, (raw.desired as Record<string, string>) ?? {}, (raw.skipped as string[]) ?? [], view, snapshot, status, (raw.warnings as string[]) ?? []);
    return { id, props: plainState(state), inputs: plainState(inputsOf(raw)) };
}

export async function remove(_id: string, props: Record<string, unknown>): Promise<void> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const transport = transportFor(inputs.connection);
    const { snapshot, view } = await readSteering(transport, inputs, ruleFile(inputs.resourceName));
    const record = recordToRestore(recordOf(raw), ledgersIn(snapshot.files));
    const plan = planSteeringRestore(record, view, snapshot, inputs.interface, inputs.restoreOnDelete, transport.target);
    plan.warnings.forEach((w) => console.log(w));
    if (plan.writes.length > 0 || Object.keys(plan.files).length > 0 || record.ledgerFile) {
        await applySteering(transport, plan.writes, plan.files, record.ledgerFile ? { path: record.ledgerFile } : undefined);
    }
}
