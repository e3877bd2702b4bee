import type * as dynamic from "@pulumi/pulumi/dynamic";
import { CheckFailure, checkFailures, hostFailures, parseChecked, withoutEngineKeys } from "../check";
import { LedgerHolder, LedgerScope, LedgeredPlanner, ledgerDrift, ledgerStatus, ledgerWrite, planWithLedger, plannedOwnershipFailures, recordToRestore } from "../host/ledger";
import { rewriteLedgerOrWarn } from "../host/files";
import { withCreatedDirs } from "../host/restore";
import { applyEntryPoints, diffResource, pickInputs, plainState } from "../lifecycle";
import { transportFor } from "../transport";
import type { Transport } from "../transport/transport";
import { hostIdentity } from "../transport/connection";
import { containsUnknown } from "../unknowns";
import {
    LEDGER_KIND,
    LedgeredModuleRecord,
    ModulePlan,
    ModuleRecord,
    ledgerRecord,
    kernelAdjustments,
    newAdjustmentWarnings,
    linkedFiles,
    liveStates,
    moduleDrift,
    ParameterTypes,
    declaredParameterTypes,
    parameterDrift,
    moduleItems,
    moduleProblems,
    ownLoadsOnly,
    pendingUnloads,
    persistStatus,
    planModules,
    planModulesRestore,
    recoveredLoads,
    renderLoadFile,
    renderOptionsFile,
} from "./plan";
import { ModuleSnapshot, applyModules, readModules } from "./remote";
import { KernelModuleInputs, kernelModuleInputsSchema, moduleSpecs, persistFiles } from "./schema";

const INPUT_FIELDS = ["connection", "modules", "persist", "restoreOnDelete", "resourceName", "owner"] as const;

const inputsOf = (props: Record<string, unknown>) => pickInputs(INPUT_FIELDS, props);

const parse = (props: Record<string, unknown>): KernelModuleInputs => parseChecked(kernelModuleInputsSchema, inputsOf(props));

function recordOf(props: Record<string, unknown>): ModuleRecord {
    return {
        originals: (props.originals as ModuleRecord["originals"]) ?? {},
        loadedByUs: (props.loadedByUs as ModuleRecord["loadedByUs"]) ?? {},
        stillToUnload: props.stillToUnload as ModuleRecord["stillToUnload"],
        managedFiles: props.managedFiles as ModuleRecord["managedFiles"],
        ledgerFile: props.ledgerFile as string | undefined,
        parameterFiles: props.parameterFiles as string[] | undefined,
        adjusted: props.adjusted as ModuleRecord["adjusted"],
    };
}

const ledgerStatusOf = (record: ModuleRecord, snapshot: ModuleSnapshot) => ledgerStatus(snapshot.ledgers, record.ledgerFile, record.originals, moduleItems(record));

const ledgerScope = (inputs: KernelModuleInputs, snapshot: ModuleSnapshot, target: string): LedgerScope => ({ kind: LEDGER_KIND, owner: inputs.owner ?? inputs.resourceName, ledgers: snapshot.ledgers, target });

const planner = (inputs: KernelModuleInputs, snapshot: ModuleSnapshot, target: string): LedgeredPlanner<ModuleRecord, ModulePlan> => ({
    plan: (start) => planModules(moduleSpecs(inputs), inputs, snapshot, persistFiles(inputs.resourceName), target, start && ownLoadsOnly(start)),
    items: moduleItems,
    // A ledger left by a killed run keeps what was loaded before it, which tells its own loads apart.
    recovered: (record) => recoveredLoads(record as LedgeredModuleRecord, snapshot, (record.ledgerFile && snapshot.ledgers.get(record.ledgerFile)?.items) || []),
    stored: (record) => ledgerRecord(record, snapshot),
});

function wantedFiles(inputs: KernelModuleInputs) {
    const specs = moduleSpecs(inputs);
    return inputs.persist ? { load: renderLoadFile(inputs.resourceName, specs), options: renderOptionsFile(inputs.resourceName, specs) } : { load: null, options: null };
}

const snapshotOf = (inputs: KernelModuleInputs): Promise<ModuleSnapshot> =>
    readModules(transportFor(inputs.connection), persistFiles(inputs.resourceName), moduleSpecs(inputs).map((s) => s.name));

function outputs(raw: Record<string, unknown>, inputs: KernelModuleInputs, record: ModuleRecord, snapshot: ModuleSnapshot, ledgerState: string, warnings: string[]) {
    const specs = moduleSpecs(inputs);
    const names = specs.map((s) => s.name);
    const files = persistFiles(inputs.resourceName);
    const drift = moduleDrift(names, snapshot, files, wantedFiles(inputs));
    const declaredParameters = (name: string, declared: Record<string, string>) =>
        Object.fromEntries(Object.keys(declared).map((p) => [p, snapshot.parameters.get(name)?.[p] ?? "absent"]));
    return {
        ...inputsOf(raw),
        ...record,
        hostId: hostIdentity(inputs.connection),
        names,
        loaded: liveStates(names, snapshot),
        parameters: Object.fromEntries(specs.filter((s) => Object.keys(s.parameters).length > 0).map((s) => [s.name, declaredParameters(s.name, s.parameters)])),
        parameterTypes: declaredParameterTypes(specs, snapshot.parameterTypes),
        persistedFiles: inputs.persist ? [files.load, ...(wantedFiles(inputs).options !== null ? [files.options] : [])] : [],
        persistStatus: persistStatus(inputs.persist, drift),
        ledgerStatus: ledgerState,
        skipped: names.filter((n) => record.originals[n] && record.originals[n] !== "not loaded"),
        warnings,
    };
}

async function apply(raw: Record<string, unknown>, previous?: ModuleRecord) {
    const inputs = parse(raw);
    const transport = transportFor(inputs.connection);
    const files = persistFiles(inputs.resourceName);
    const specs = moduleSpecs(inputs);
    const snapshot = await snapshotOf(inputs);
    const { plan, ledger } = planWithLedger(ledgerScope(inputs, snapshot, transport.target), previous, planner(inputs, snapshot, transport.target));
    plan.warnings.forEach((w) => console.log(w));
    const printed = plan.warnings.length;
    // Run even with nothing to change: the ledger is what claims the modules.
    const outcome = await applyModules(transport, files, plan.changes, specs.map((s) => s.name), ledger);
    const record = plan.record;
    let loadedMeanwhile = false;
    for (const [name, added] of Object.entries(outcome.added)) {
        // A module that was loaded before this resource stays loaded on delete, even when it had to be loaded again.
        if (record.originals[name] !== "not loaded") {
            continue;
        }
        if (added.length === 0 && !record.loadedByUs[name]?.length) {
            // Loaded by something else between the read and the modprobe, which then had nothing to do: the host's.
            record.originals[name] = "loaded";
            delete record.loadedByUs[name];
            loadedMeanwhile = true;
            plan.warnings.push(`${transport.target}: ${name} was loaded by something else while this apply ran: left to the host, not unloaded on delete`);
            continue;
        }
        record.loadedByUs[name] = [...new Set([...(record.loadedByUs[name] ?? []), ...added])];
    }
    if (record.managedFiles && outcome.createdDirs.length) {
        record.managedFiles = withCreatedDirs(record.managedFiles, outcome.createdDirs);
    }
    // The program took each module it unloaded (or found gone) out of the ledger; the rest stays in both.
    record.stillToUnload = record.stillToUnload && pendingUnloads(record.stillToUnload, (m) => !outcome.unloaded.includes(m));
    for (const kept of outcome.inUse) {
        plan.warnings.push(`${transport.target}: left ${kept.name} loaded (in use), to unload at the next update or the delete: ${kept.message}`);
    }
    const loadedNow = new Set(Object.values(outcome.added).flat());
    const written = new Set(plan.changes.parameters.map((w) => `${w.name}.${w.parameter}`));
    const adjusted = kernelAdjustments(specs, (name) => outcome.snapshot.parameters.get(name), outcome.snapshot.parameterTypes, (name, p) => loadedNow.has(name) || written.has(`${name}.${p}`), record.adjusted);
    plan.warnings.push(...newAdjustmentWarnings(adjusted, record.adjusted, transport.target));
    // What the apply found (in use, loaded meanwhile, adjusted by the kernel) is said too, not only kept in `warnings`.
    plan.warnings.slice(printed).forEach((w) => console.log(w));
    record.adjusted = Object.keys(adjusted).length > 0 ? adjusted : undefined;
    if (loadedMeanwhile) {
        plan.warnings.push(...(await ledgerAsRecorded(transport, ledgerScope(inputs, snapshot, transport.target), record, snapshot)));
    }
    return outputs(raw, inputs, record, outcome.snapshot, "in place", plan.warnings);
}

/**
 * The ledger, written before the apply, says a module something else loaded meanwhile was not
 * loaded: rewritten from the record the apply ended with, so a refresh finds it as state has it.
 * Delete already keeps such a module, see ownLoadsOnly.
 */
function ledgerAsRecorded(transport: Transport, scope: LedgerScope, record: ModuleRecord, snapshot: ModuleSnapshot): Promise<string[]> {
    const ledger = () => ledgerWrite(scope.ledgers, record.ledgerFile as string, scope.owner, moduleItems(record), ledgerRecord(record, snapshot), transport.target);
    return rewriteLedgerOrWarn(transport, record.ledgerFile as string, ledger, (why) => `still says the module loaded meanwhile was not loaded (${why}); the next up rewrites it`);
}

/**
 * Besides validating the inputs, reads the host when it can (read-only: /sys/module,
 * modules.builtin, `modprobe -n`), so a module the host does not have, or parameters for a
 * built-in one, fail in preview naming the property, the module and the host.
 */
export async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.CheckResult> {
    const raw = inputsOf(withoutEngineKeys(news));
    const failures = checkFailures(kernelModuleInputsSchema, raw);
    if (failures.length > 0 || containsUnknown(raw)) {
        return { inputs: news, failures };
    }
    const inputs = parse(raw);
    const target = transportFor(inputs.connection).target;
    return { inputs: news, failures: await hostFailures(() => snapshotOf(inputs), (snapshot) => hostProblems(inputs, snapshot, target, withoutEngineKeys(olds))) };
}

/** What the host cannot give (see moduleProblems), else modules or files another resource's ledger (or another resource of this run) holds, naming its owner. */
function hostProblems(inputs: KernelModuleInputs, snapshot: ModuleSnapshot, target: string, olds: LedgerHolder): CheckFailure[] {
    const specs = moduleSpecs(inputs);
    const problems = [...moduleProblems(specs, snapshot, target), ...linkedFiles(inputs.persist, persistFiles(inputs.resourceName), snapshot, target)];
    if (problems.length > 0) {
        return problems;
    }
    return plannedOwnershipFailures(ledgerScope(inputs, snapshot, target), olds, planner(inputs, snapshot, target), hostIdentity(inputs.connection), "modules");
}

async function probeDrift(olds: Record<string, unknown>, inputs: KernelModuleInputs): Promise<string[]> {
    const specs = moduleSpecs(inputs);
    const names = specs.map((s) => s.name);
    const snapshot = await snapshotOf(inputs);
    const record = recordOf(olds);
    return [
        ...moduleDrift(names, snapshot, persistFiles(inputs.resourceName), wantedFiles(inputs)),
        ...parameterDrift(specs, (name) => snapshot.parameters.get(name), record.loadedByUs, declaredParameterTypes(specs, snapshot.parameterTypes), record.adjusted),
        ...ledgerDrift(ledgerStatusOf(record, snapshot)),
    ];
}

/** How the host differs from a recorded state, from a fresh read (empty: as declared). */
export const liveDrift = (props: Record<string, unknown>) => probeDrift(withoutEngineKeys(props), parse(withoutEngineKeys(props)));

export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.DiffResult> {
    const recorded = Object.values((olds.loaded as Record<string, string>) ?? {}).includes("not loaded") || !["in place", "not persisted", undefined].includes(olds.persistStatus as string);
    const record = recordOf(olds);
    return diffResource({
        olds,
        news: withoutEngineKeys(news),
        parse,
        fields: ["modules", "persist", "restoreOnDelete"],
        // As a refresh read them: the `parameters` output holds the declared parameters' live values, `parameterTypes` their types.
        recordedDrift: (inputs) =>
            recorded ||
            parameterDrift(
                moduleSpecs(inputs),
                (name) => (olds.parameters as Record<string, Record<string, string>> | undefined)?.[name],
                record.loadedByUs,
                (olds.parameterTypes as ParameterTypes | undefined) ?? {},
                record.adjusted,
            ).length > 0,
        probe: (inputs) => probeDrift(olds, inputs),
    });
}

export const { create, update, read } = applyEntryPoints(apply, recordOf, ["resourceName"], refresh);

async function refresh(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const record = recordOf(raw);
    const snapshot = await snapshotOf(inputs);
    const live = outputs(raw, inputs, record, snapshot, ledgerStatusOf(record, snapshot), (raw.warnings as string[]) ?? []);
    return { id, props: plainState(live), inputs: plainState(inputsOf(raw)) };
}

export async function remove(_id: string, props: Record<string, unknown>): Promise<void> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const transport = transportFor(inputs.connection);
    const files = persistFiles(inputs.resourceName);
    const snapshot = await snapshotOf(inputs);
    const record = ownLoadsOnly(recordToRestore(recordOf(raw), snapshot.ledgers, planner(inputs, snapshot, transport.target).recovered));
    const plan = planModulesRestore(record, snapshot, files, inputs.restoreOnDelete, transport.target);
    plan.warnings.forEach((w) => console.log(w));
    const { changes } = plan;
    if (changes.unload.length > 0 || changes.files.load !== undefined || changes.files.options !== undefined || changes.rmdir.length > 0 || record.ledgerFile) {
        const outcome = await applyModules(transport, files, changes, [], record.ledgerFile ? { path: record.ledgerFile } : undefined);
        for (const kept of outcome.inUse) {
            console.log(`${transport.target}: left ${kept.name} loaded (it is in use; this resource loaded it): ${kept.message}`);
        }
    }
}
