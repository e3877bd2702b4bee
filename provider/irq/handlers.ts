import type * as dynamic from "@pulumi/pulumi/dynamic";
import { CheckFailure, checkAgainstHost, parseChecked, withoutEngineKeys } from "../check";
import { FileChanges, FileSnapshot, ValueWrite, readFiles } from "../host/files";
import { LedgerHolder, LedgerScope, LedgeredPlanner, ledgerDrift, ledgersIn, ledgerStatus, planWithLedger, plannedOwnershipFailures, recordToRestore } from "../host/ledger";
import { ManagedFiles, enabledAt, pathContentOf, planRestore, withCreatedDirs } from "../host/restore";
import { unlinkedFollower } from "../nic/followers";
import { transportFor } from "../transport";
import { hostIdentity } from "../transport/connection";
import { applyEntryPoints, diffResource, persistenceDrifted, pickInputs, plainState } from "../lifecycle";
import {
    HostIrqView,
    IrqPlan,
    IrqRecord,
    IrqbalanceRecord,
    LEDGER_KIND,
    PlacementError,
    affinityDrift,
    irqbalanceDrift,
    affinityFile,
    irqItems,
    irqbalanceRestore,
    irqbalanceProblems,
    placementProblems,
    restoreAffinity,
    planIrqAffinity,
    readRequests,
    writtenUnit,
    unitPaths,
    viewOf,
} from "./plan";
import { applyIrq } from "./remote";
import { IrqAffinityInputs, irqAffinityInputsSchema } from "./schema";

const INPUT_FIELDS = ["connection", "interface", "cpus", "spread", "numaLocal", "perIrq", "exclude", "irqbalance", "persist", "restoreOnDelete", "resourceName", "nicState", "owner"] as const;

const inputsOf = (props: Record<string, unknown>) => pickInputs(INPUT_FIELDS, props);

const parse = (props: Record<string, unknown>): IrqAffinityInputs => parseChecked(irqAffinityInputsSchema, inputsOf(props));

function recordOf(props: Record<string, unknown>): IrqRecord {
    return {
        originals: (props.originals as Record<string, string>) ?? {},
        irqbalanceState: props.irqbalanceState as IrqbalanceRecord | undefined,
        unitFile: props.unitFile as string | undefined,
        ledgerFile: props.ledgerFile as string | undefined,
        managedFiles: props.managedFiles as ManagedFiles | undefined,
    };
}

function ledgerStatusOf(props: Record<string, unknown>, snapshot: FileSnapshot): string {
    const record = recordOf(props);
    return ledgerStatus(ledgersIn(snapshot.files), record.ledgerFile, record.originals, irqItems(record));
}

const ledgerScope = (inputs: IrqAffinityInputs, snapshot: FileSnapshot, target: string): LedgerScope => ({ kind: LEDGER_KIND, owner: inputs.owner ?? inputs.resourceName, ledgers: ledgersIn(snapshot.files), target });

const planner = (inputs: IrqAffinityInputs, view: HostIrqView, snapshot: FileSnapshot, target: string): LedgeredPlanner<IrqRecord, IrqPlan> => ({
    plan: (start) => planIrqAffinity(inputs, view, snapshot, target, start),
    items: irqItems,
});

function explain(e: unknown): never {
    const message = (e as Error).message;
    if (/Input\/output error|Operation not permitted/.test(message) && /IRQ \d+ affinity/.test(message)) {
        throw new Error(`${message} (a kernel-managed IRQ: the kernel sets its affinity itself and refuses changes)`);
    }
    throw e;
}

async function apply(raw: Record<string, unknown>, previous?: IrqRecord) {
    const inputs = parse(raw);
    const transport = transportFor(inputs.connection);
    const snapshot = await readFiles(transport, readRequests(inputs));
    const view = viewOf(inputs, snapshot);
    const { plan, ledger } = planWithLedger(ledgerScope(inputs, snapshot, transport.target), previous, planner(inputs, view, snapshot, transport.target));
    plan.warnings.forEach((w) => console.log(w));
    const outcome = await applyIrq(transport, view.irqbalance.configFile, plan.irqbalance.action, plan.irqbalance.undo, plan.writes, plan.files, ledger).catch(explain);
    const record = plan.record;
    if (record.managedFiles) {
        record.managedFiles = withCreatedDirs(record.managedFiles, outcome.createdDirs);
    }
    const live: Record<string, string> = {};
    for (const irq of Object.keys(plan.assignment)) {
        live[irq] = outcome.after.get(affinityFile(Number(irq))) ?? view.affinity.get(Number(irq)) ?? "absent";
    }
    return {
        ...inputsOf(raw),
        ...record,
        hostId: hostIdentity(inputs.connection),
        irqs: Object.fromEntries(view.discovery.irqs.map((l) => [String(l.irq), l.name])),
        discoveredFrom: view.discovery.source,
        assignment: plan.assignment,
        affinity: live,
        unitStatus: inputs.persist ? "in place" : "not persisted",
        ledgerStatus: "in place",
        warnings: plan.warnings,
    };
}

/**
 * What the host cannot take (see placementProblems), else IRQs or files another resource's
 * ledger (or another resource of this run) holds, naming its owner, on `interface`.
 */
function hostProblems(inputs: IrqAffinityInputs, snapshot: FileSnapshot, target: string, olds: LedgerHolder): CheckFailure[] {
    const view = viewOf(inputs, snapshot);
    const problems = [...placementProblems(inputs, view, target), ...irqbalanceProblems(inputs, view, target)];
    if (problems.length > 0) {
        return problems;
    }
    const unlinked = inputs.nicState === undefined ? unlinkedFollower(hostIdentity(inputs.connection), inputs.interface, { kind: LEDGER_KIND, owner: inputs.owner ?? inputs.resourceName, undoneBy: ["rings", "channels"] }) : undefined;
    if (unlinked) {
        return [{ property: "interface", reason: `${target}: ${unlinked}` }];
    }
    try {
        return plannedOwnershipFailures(ledgerScope(inputs, snapshot, target), olds, planner(inputs, view, snapshot, target), hostIdentity(inputs.connection), "interface");
    } catch (e) {
        // A perIrq name the linked NIC's channel change may still create: create/update decide.
        if (e instanceof PlacementError) {
            return [];
        }
        throw e;
    }
}

/**
 * Besides validating the inputs, reads the host when it can (read-only, as NicRingConfig's check
 * does), so CPUs that are not online, a set emptied by `exclude`, or an interface without queue
 * IRQs fail in preview, naming the property and the host.
 */
export async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.CheckResult> {
    const failures = await checkAgainstHost(
        irqAffinityInputsSchema,
        inputsOf(withoutEngineKeys(news)),
        (inputs) => readFiles(transportFor(inputs.connection), readRequests(inputs)),
        (inputs, snapshot) => hostProblems(inputs, snapshot, transportFor(inputs.connection).target, withoutEngineKeys(olds)),
        // The linked NIC's state is unknown in preview; it does not change which CPUs are online.
        ["nicState"],
    );
    return { inputs: news, failures };
}

/** The boot unit as the host has it: "missing", "edited", "disabled" (its multi-user.target.wants link gone) or "in place". */
function unitStatusOf(inputs: IrqAffinityInputs, record: ReturnType<typeof recordOf>, assignment: Record<string, string>, snapshot: FileSnapshot): string {
    const { unit, link } = unitPaths(inputs.resourceName);
    if (!snapshot.files.has(unit)) {
        return "missing";
    }
    if (snapshot.files.get(unit) !== writtenUnit(record, unit, inputs.resourceName, inputs.interface, assignment)) {
        return "edited";
    }
    return enabledAt(snapshot, link, unit) ? "in place" : "disabled";
}

async function probeDrift(olds: Record<string, unknown>, inputs: IrqAffinityInputs): Promise<string[]> {
    const assignment = (olds.assignment as Record<string, string>) ?? {};
    const snapshot = await readFiles(transportFor(inputs.connection), readRequests(inputs));
    const view = viewOf(inputs, snapshot);
    const drift = affinityDrift(assignment, view.affinity);
    const discovered = view.discovery.irqs.map((l) => String(l.irq)).sort();
    if (!inputs.perIrq && JSON.stringify(discovered) !== JSON.stringify(Object.keys(assignment).sort())) {
        drift.push(`${inputs.interface}'s queue IRQs are now ${discovered.join(", ") || "none"}`);
    }
    const status = inputs.persist ? unitStatusOf(inputs, recordOf(olds), assignment, snapshot) : "not persisted";
    if (persistenceDrifted(status)) {
        drift.push(`${unitPaths(inputs.resourceName).unit} is ${status === "disabled" ? `not enabled (no ${unitPaths(inputs.resourceName).link})` : status}`);
    }
    return [...drift, ...irqbalanceDrift(recordOf(olds).irqbalanceState, view.irqbalance), ...ledgerDrift(ledgerStatusOf(olds, snapshot))];
}

/** How the host differs from a recorded state, from a fresh read (empty: as declared). */
export const liveDrift = (props: Record<string, unknown>) => probeDrift(withoutEngineKeys(props), parse(withoutEngineKeys(props)));

export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.DiffResult> {
    const assignment = (olds.assignment as Record<string, string>) ?? {};
    return diffResource({
        olds,
        news: withoutEngineKeys(news),
        parse,
        identity: ["interface"],
        fields: ["cpus", "spread", "numaLocal", "perIrq", "exclude", "irqbalance", "persist", "restoreOnDelete", "nicState"],
        recordedDrift: () => affinityDrift(assignment, (olds.affinity as Record<string, string>) ?? {}).length > 0 || persistenceDrifted(olds.unitStatus),
        probe: (inputs) => probeDrift(olds, inputs),
    });
}

export const { create, update, read } = applyEntryPoints(apply, recordOf, ["interface", "resourceName"], refresh);

async function refresh(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const snapshot = await readFiles(transportFor(inputs.connection), readRequests(inputs));
    const view = viewOf(inputs, snapshot);
    const assignment = (raw.assignment as Record<string, string>) ?? {};
    const affinity = Object.fromEntries(Object.keys(assignment).map((irq) => [irq, view.affinity.get(Number(irq)) ?? "absent"]));
    const unitStatus = inputs.persist ? unitStatusOf(inputs, recordOf(raw), assignment, snapshot) : "not persisted";
    return { id, props: plainState({ ...raw, affinity, unitStatus, ledgerStatus: ledgerStatusOf(raw, snapshot) }), inputs: plainState(inputsOf(raw)) };
}

export async function remove(_id: string, props: Record<string, unknown>): Promise<void> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const transport = transportFor(inputs.connection);
    const snapshot = await readFiles(transport, readRequests(inputs));
    const record = recordToRestore(recordOf(raw), ledgersIn(snapshot.files));
    const view = viewOf(inputs, snapshot);
    const affinity = inputs.restoreOnDelete ? restoreAffinity(record.originals, view, inputs.interface, transport.target) : { writes: [] as ValueWrite[], warnings: [] };
    const writes = affinity.writes;
    const files = fileRestore(record, snapshot, inputs.resourceName, transport.target);
    const { warning, ...restore } = irqbalanceRestore(record.irqbalanceState, view, record.managedFiles, transport.target);
    [...affinity.warnings, ...files.warnings, ...(warning ? [warning] : [])].forEach((w) => console.log(w));
    const ledger = record.ledgerFile ? { path: record.ledgerFile } : undefined;
    await applyIrq(transport, record.irqbalanceState?.banned?.configFile ?? view.irqbalance.configFile, restore, {}, writes, files.changes, ledger).catch(explain);
}

/**
 * Delete: the unit and its link back as they were (gone, when they did not exist), directories
 * we created removed when empty. irqbalance's environment file is put back by irqbalanceRestore,
 * before irqbalance restarts.
 */
function fileRestore(record: IrqRecord, snapshot: FileSnapshot, resourceName: string, target: string): { changes: FileChanges; warnings: string[] } {
    const unit = unitPaths(resourceName);
    if (!record.managedFiles) {
        return { changes: record.unitFile ? { remove: [unit.unit, unit.link] } : {}, warnings: [] };
    }
    const config = record.irqbalanceState?.banned?.configFile;
    const others = Object.keys(record.managedFiles.originals).filter((p) => p !== config);
    return planRestore(record.managedFiles, (p) => pathContentOf(snapshot, p), target, { paths: others, removeDirs: true });
}
