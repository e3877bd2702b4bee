import type * as dynamic from "@pulumi/pulumi/dynamic";
import { checkFailures, hostFailures, parseChecked, withoutEngineKeys } from "../check";
import { FileSnapshot, applyTransaction, readFiles } from "../host/files";
import { LedgerScope, LedgeredPlanner, ledgerDrift, ledgersIn, ledgerStatus, planWithLedger, plannedOwnershipFailures, recordToRestore } from "../host/ledger";
import { withCreatedDirs } from "../host/restore";
import { transportFor } from "../transport";
import { hostIdentity } from "../transport/connection";
import { applyEntryPoints, diffResource, persistenceDrifted, pickInputs, plainState } from "../lifecycle";
import { containsUnknown } from "../unknowns";
import { Desired, GovernorPlan, GovernorRecord, LEDGER_KIND, PerCpu, detectGovernorDrift, governorItems, governorProblems, liveMinPerf, liveState, planGovernor, planGovernorRestore, readRequests, renderUnit } from "./plan";
import { CpuGovernorInputs, cpuGovernorInputsSchema } from "./schema";

const INPUT_FIELDS = ["connection", "governor", "energyPerformancePreference", "cpus", "minPerfPct", "onUnsupported", "persist", "restoreOnDelete", "resourceName", "owner"] as const;

const inputsOf = (props: Record<string, unknown>) => pickInputs(INPUT_FIELDS, props);

const parse = (props: Record<string, unknown>): CpuGovernorInputs => parseChecked(cpuGovernorInputsSchema, inputsOf(props));

function recordOf(props: Record<string, unknown>): GovernorRecord {
    return {
        originals: (props.originals as GovernorRecord["originals"]) ?? {},
        unsupported: props.unsupported as string | undefined,
        eppUnsupported: props.eppUnsupported as string | undefined,
        minPerfPctOriginal: props.minPerfPctOriginal as string | undefined,
        // State from before the flag: the EPP it set is in its desired values.
        ...((props.eppDeclared === true || Object.keys(desiredOf(props).epp).length > 0) && { eppDeclared: true }),
        unitFile: props.unitFile as string | undefined,
        ledgerFile: props.ledgerFile as string | undefined,
        managedFiles: props.managedFiles as GovernorRecord["managedFiles"],
    };
}

function desiredOf(props: Record<string, unknown>): Desired {
    const minPerfPct = props.desiredMinPerfPct as string | undefined;
    return { governors: (props.desiredGovernors as PerCpu) ?? {}, epp: (props.desiredEnergyPerformancePreferences as PerCpu) ?? {}, ...(minPerfPct !== undefined && { minPerfPct }) };
}

const ledgerStatusOf = (record: GovernorRecord, snapshot: FileSnapshot) => ledgerStatus(ledgersIn(snapshot.files), record.ledgerFile, record.originals, governorItems(record, snapshot));

const ledgerScope = (inputs: CpuGovernorInputs, snapshot: FileSnapshot, target: string): LedgerScope => ({ kind: LEDGER_KIND, owner: inputs.owner ?? inputs.resourceName, ledgers: ledgersIn(snapshot.files), target });

const planner = (inputs: CpuGovernorInputs, snapshot: FileSnapshot, target: string): LedgeredPlanner<GovernorRecord, GovernorPlan> => ({
    plan: (start) => planGovernor(inputs, snapshot, target, start),
    items: (record) => governorItems(record, snapshot),
});

async function apply(raw: Record<string, unknown>, previous?: GovernorRecord) {
    const inputs = parse(raw);
    const transport = transportFor(inputs.connection);
    const snapshot = await readFiles(transport, readRequests(inputs));
    const { plan, ledger } = planWithLedger(ledgerScope(inputs, snapshot, transport.target), previous, planner(inputs, snapshot, transport.target));
    plan.warnings.forEach((w) => console.log(w));
    const outcome = await applyTransaction(transport, plan.writes, plan.files, { ledger });
    if (plan.record.managedFiles) {
        plan.record.managedFiles = withCreatedDirs(plan.record.managedFiles, outcome.createdDirs);
    }
    for (const [path, value] of outcome.after) {
        snapshot.files.set(path, value);
    }
    const live = liveState(snapshot);
    return {
        ...inputsOf(raw),
        ...plan.record,
        hostId: hostIdentity(inputs.connection),
        governors: live.governors,
        energyPerformancePreferences: live.epp,
        desiredGovernors: plan.desired.governors,
        desiredEnergyPerformancePreferences: plan.desired.epp,
        ...minPerfOutputs(plan.desired, snapshot),
        unitStatus: plan.record.unitFile ? "in place" : "not persisted",
        ledgerStatus: "in place",
        warnings: plan.warnings,
    };
}

/**
 * Besides validating the inputs, reads the host when it can (read-only, as NicRingConfig's check
 * does), so CPUs that are not online, a governor or EPP value the CPUs do not offer, or a host
 * without cpufreq under onUnsupported: "fail" fail in preview, naming the property and the host.
 */
export async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.CheckResult> {
    const raw = inputsOf(withoutEngineKeys(news));
    const failures = checkFailures(cpuGovernorInputsSchema, raw);
    if (failures.length > 0 || containsUnknown(raw)) {
        return { inputs: news, failures };
    }
    const inputs = parse(raw);
    const transport = transportFor(inputs.connection);
    const probed = await hostFailures(
        () => readFiles(transport, readRequests(inputs)),
        (snapshot) => {
            const problems = governorProblems(inputs, snapshot, transport.target);
            if (problems.length > 0) {
                return problems;
            }
            return plannedOwnershipFailures(ledgerScope(inputs, snapshot, transport.target), withoutEngineKeys(olds), planner(inputs, snapshot, transport.target), hostIdentity(inputs.connection), "cpus");
        },
    );
    return { inputs: news, failures: probed };
}

/** The declared min_perf_pct and its live value, only where declared: outputs hold no undefined. */
function minPerfOutputs(desired: Desired, snapshot: FileSnapshot) {
    const live = liveMinPerf(snapshot);
    return desired.minPerfPct === undefined ? {} : { desiredMinPerfPct: desired.minPerfPct, minPerfPctLive: live ?? "absent" };
}

function driftFromState(olds: Record<string, unknown>): boolean {
    const desired = desiredOf(olds);
    const live = { governors: (olds.governors as PerCpu) ?? {}, epp: (olds.energyPerformancePreferences as PerCpu) ?? {} };
    const differs = (want: PerCpu, have: PerCpu) => Object.entries(want).some(([cpu, v]) => have[cpu] !== v);
    const minPerfDiffers = desired.minPerfPct !== undefined && olds.minPerfPctLive !== desired.minPerfPct;
    return differs(desired.governors, live.governors) || differs(desired.epp, live.epp) || minPerfDiffers || persistenceDrifted(olds.unitStatus);
}

async function probeDrift(olds: Record<string, unknown>, inputs: CpuGovernorInputs): Promise<string[]> {
    const record = recordOf(olds);
    if (record.unsupported) {
        console.log(`${transportFor(inputs.connection).target}: skipped: ${record.unsupported}`);
        return [];
    }
    const snapshot = await readFiles(transportFor(inputs.connection), readRequests(inputs));
    const desired = desiredOf(olds);
    const drift = detectGovernorDrift(desired, snapshot, record.unitFile, record.unitFile ? renderUnit(inputs.resourceName, desired) : undefined);
    return [...drift.values.map((d) => `${d.name} live ${d.live}, desired ${d.desired}`), ...(drift.unit ? [drift.unit] : []), ...ledgerDrift(ledgerStatusOf(record, snapshot))];
}

/** How the host differs from a recorded state, from a fresh read (empty: as declared). */
export const liveDrift = (props: Record<string, unknown>) => probeDrift(withoutEngineKeys(props), parse(withoutEngineKeys(props)));

export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.DiffResult> {
    return diffResource({
        olds,
        news: withoutEngineKeys(news),
        parse,
        fields: ["governor", "energyPerformancePreference", "cpus", "minPerfPct", "onUnsupported", "persist", "restoreOnDelete"],
        recordedDrift: () => driftFromState(olds),
        probe: (inputs) => probeDrift(olds, inputs),
    });
}

export const { create, update, read } = applyEntryPoints(apply, recordOf, ["resourceName"], refresh);

async function refresh(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const record = recordOf(raw);
    const snapshot = await readFiles(transportFor(inputs.connection), readRequests(inputs));
    const live = liveState(snapshot);
    const desired = desiredOf(raw);
    const watched = (all: PerCpu, wanted: PerCpu) => Object.fromEntries(Object.keys(wanted).map((cpu) => [cpu, all[cpu] ?? "absent"]));
    let unitStatus = "not persisted";
    if (record.unitFile) {
        const drift = detectGovernorDrift({ governors: {}, epp: {} }, snapshot, record.unitFile, renderUnit(inputs.resourceName, desired));
        unitStatus = drift.unit ? (drift.unit.endsWith("missing") ? "missing" : drift.unit.includes(" is not enabled ") ? "disabled" : "edited") : "in place";
    }
    const props2 = {
        ...raw,
        governors: record.unsupported ? live.governors : watched(live.governors, desired.governors),
        energyPerformancePreferences: watched(live.epp, desired.epp),
        ...minPerfOutputs(desired, snapshot),
        unitStatus,
        ledgerStatus: ledgerStatusOf(record, snapshot),
    };
    return { id, props: plainState(props2), inputs: plainState(inputsOf(raw)) };
}

export async function remove(_id: string, props: Record<string, unknown>): Promise<void> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const transport = transportFor(inputs.connection);
    const snapshot = await readFiles(transport, readRequests(inputs));
    const record = recordToRestore(recordOf(raw), ledgersIn(snapshot.files));
    const plan = planGovernorRestore(record, snapshot, inputs.restoreOnDelete, inputs.resourceName, transport.target);
    plan.warnings.forEach((w) => console.log(w));
    await applyTransaction(transport, plan.writes, plan.files, { ledger: record.ledgerFile ? { path: record.ledgerFile } : undefined });
}
