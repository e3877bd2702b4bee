import type * as dynamic from "@pulumi/pulumi/dynamic";
import { checkAgainstHost, parseChecked, withoutEngineKeys } from "../check";
import { FileChanges, FileSnapshot, ValueWrite, readFiles } from "../host/files";
import { ABSENT, ManagedFiles, PathContent, fileContent, forget, linkTo, manage, pathContentOf, planRestore, withCreatedDirs } from "../host/restore";
import { transportFor } from "../transport";
import { hostIdentity } from "../transport/connection";
import { applyEntryPoints, diffResource, persistenceDrifted, pickInputs, plainState } from "../lifecycle";
import { IrqbalanceRecord, UNIT_DIR, affinityDrift, affinityFile, irqbalanceRestore, placement, placementProblems, planIrqbalance, readRequests, renderUnit, viewOf } from "./plan";
import { applyIrq } from "./remote";
import { IrqAffinityInputs, irqAffinityInputsSchema, unitName } from "./schema";

const INPUT_FIELDS = ["connection", "interface", "cpus", "spread", "numaLocal", "perIrq", "exclude", "irqbalance", "persist", "restoreOnDelete", "resourceName", "nicState"] as const;

const inputsOf = (props: Record<string, unknown>) => pickInputs(INPUT_FIELDS, props);

const parse = (props: Record<string, unknown>): IrqAffinityInputs => parseChecked(irqAffinityInputsSchema, inputsOf(props));

interface IrqRecord {
    /** Affinity each IRQ had before this resource first changed it. */
    originals: Record<string, string>;
    irqbalanceState?: IrqbalanceRecord;
    unitFile?: string;
    /** The unit, its link and irqbalance's environment file as they were before, and directories created. */
    managedFiles?: ManagedFiles;
}

function recordOf(props: Record<string, unknown>): IrqRecord {
    return {
        originals: (props.originals as Record<string, string>) ?? {},
        irqbalanceState: props.irqbalanceState as IrqbalanceRecord | undefined,
        unitFile: props.unitFile as string | undefined,
        managedFiles: props.managedFiles as ManagedFiles | undefined,
    };
}

const paths = (resourceName: string) => ({ unit: `${UNIT_DIR}/${unitName(resourceName)}`, link: `${UNIT_DIR}/multi-user.target.wants/${unitName(resourceName)}` });

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
    const { assignment, warnings } = placement(inputs, view, transport.target);
    const irqs = Object.keys(assignment).map(Number);
    const irqbalance = planIrqbalance(inputs, view, irqs, previous?.irqbalanceState, transport.target);
    if (irqbalance.warning) {
        warnings.push(irqbalance.warning);
    }
    const writes: ValueWrite[] = [];
    const originals: Record<string, string> = {};
    for (const [irq, cpus] of Object.entries(assignment)) {
        const live = view.affinity.get(Number(irq)) ?? "";
        originals[irq] = previous?.originals[irq] ?? live;
        if (affinityDrift({ [irq]: cpus }, view.affinity).length > 0) {
            writes.push({ path: affinityFile(Number(irq)), value: cpus });
        }
    }
    // IRQs no longer targeted (the queue count changed, or the policy) go back to what they had.
    if (previous && inputs.restoreOnDelete) {
        for (const [irq, original] of Object.entries(previous.originals)) {
            if (!(irq in assignment) && view.affinity.has(Number(irq)) && original) {
                writes.push({ path: affinityFile(Number(irq)), value: original });
            }
        }
    }
    const unit = paths(inputs.resourceName);
    const current = (path: string) => pathContentOf(snapshot, path);
    let files: FileChanges = {};
    // State from before these records: the unit and link were ours, absent before.
    let managedFiles = previous?.managedFiles ?? (previous?.unitFile ? { originals: { [unit.unit]: ABSENT, [unit.link]: ABSENT }, written: {}, createdDirs: [] } : undefined);
    const wanted: Record<string, PathContent> = {};
    if (inputs.persist) {
        const content = renderUnit(inputs.resourceName, assignment);
        if (snapshot.files.get(unit.unit) !== content || current(unit.link).kind !== "link") {
            files.write = [{ path: unit.unit, content }];
            files.link = [{ path: unit.link, target: unit.unit }];
        }
        wanted[unit.unit] = fileContent(content);
        wanted[unit.link] = linkTo(unit.unit);
    } else if (previous?.unitFile) {
        if (managedFiles) {
            const restore = planRestore(managedFiles, current, transport.target, { paths: [unit.unit, unit.link] });
            files = restore.changes;
            warnings.push(...restore.warnings);
            managedFiles = forget(managedFiles, [unit.unit, unit.link]);
        } else {
            files.remove = [unit.unit, unit.link];
        }
    }
    if (typeof irqbalance.action.config === "string") {
        wanted[view.irqbalance.configFile] = fileContent(irqbalance.action.config);
    }
    if (Object.keys(wanted).length > 0) {
        managedFiles = manage(managedFiles, current, wanted);
    }
    warnings.forEach((w) => console.log(w));
    const outcome = await applyIrq(transport, view.irqbalance.configFile, irqbalance.action, irqbalance.undo, writes, files).catch(explain);
    if (managedFiles) {
        managedFiles = withCreatedDirs(managedFiles, outcome.createdDirs);
    }
    const live: Record<string, string> = {};
    for (const irq of Object.keys(assignment)) {
        live[irq] = outcome.after.get(affinityFile(Number(irq))) ?? view.affinity.get(Number(irq)) ?? "absent";
    }
    return {
        ...inputsOf(raw),
        originals,
        irqbalanceState: irqbalance.record,
        unitFile: inputs.persist ? unit.unit : undefined,
        managedFiles,
        hostId: hostIdentity(inputs.connection),
        irqs: Object.fromEntries(view.discovery.irqs.map((l) => [String(l.irq), l.name])),
        discoveredFrom: view.discovery.source,
        assignment,
        affinity: live,
        unitStatus: inputs.persist ? "in place" : "not persisted",
        warnings,
    };
}

/**
 * Besides validating the inputs, reads the host when it can (read-only, as NicRingConfig's check
 * does), so CPUs that are not online, a set emptied by `exclude`, or an interface without queue
 * IRQs fail in preview, naming the property and the host.
 */
export async function check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.CheckResult> {
    const failures = await checkAgainstHost(
        irqAffinityInputsSchema,
        inputsOf(withoutEngineKeys(news)),
        (inputs) => readFiles(transportFor(inputs.connection), readRequests(inputs)),
        (inputs, snapshot) => placementProblems(inputs, viewOf(inputs, snapshot), transportFor(inputs.connection).target),
        // The linked NIC's state is unknown in preview; it does not change which CPUs are online.
        ["nicState"],
    );
    return { inputs: news, failures };
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
    const unit = paths(inputs.resourceName).unit;
    if (inputs.persist && snapshot.files.get(unit) !== renderUnit(inputs.resourceName, assignment)) {
        drift.push(`${unit} is ${snapshot.files.has(unit) ? "edited" : "missing"}`);
    }
    return drift;
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

export const { create, update } = applyEntryPoints(apply, recordOf, ["interface", "resourceName"]);

export async function read(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const snapshot = await readFiles(transportFor(inputs.connection), readRequests(inputs));
    const view = viewOf(inputs, snapshot);
    const assignment = (raw.assignment as Record<string, string>) ?? {};
    const affinity = Object.fromEntries(Object.keys(assignment).map((irq) => [irq, view.affinity.get(Number(irq)) ?? "absent"]));
    const unit = paths(inputs.resourceName).unit;
    const unitStatus = !inputs.persist ? "not persisted" : !snapshot.files.has(unit) ? "missing" : snapshot.files.get(unit) === renderUnit(inputs.resourceName, assignment) ? "in place" : "edited";
    return { id, props: plainState({ ...raw, affinity, unitStatus }), inputs: plainState(inputsOf(raw)) };
}

export async function remove(_id: string, props: Record<string, unknown>): Promise<void> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const record = recordOf(raw);
    const transport = transportFor(inputs.connection);
    const snapshot = await readFiles(transport, readRequests(inputs));
    const view = viewOf(inputs, snapshot);
    const writes: ValueWrite[] = [];
    if (inputs.restoreOnDelete) {
        for (const [irq, original] of Object.entries(record.originals)) {
            const live = view.affinity.get(Number(irq));
            if (live !== undefined && original && affinityDrift({ [irq]: original }, view.affinity).length > 0) {
                writes.push({ path: affinityFile(Number(irq)), value: original });
            }
        }
    }
    const files = fileRestore(record, snapshot, inputs.resourceName, transport.target);
    const { warning, ...restore } = irqbalanceRestore(record.irqbalanceState, view, record.managedFiles, transport.target);
    [...files.warnings, ...(warning ? [warning] : [])].forEach((w) => console.log(w));
    await applyIrq(transport, record.irqbalanceState?.banned?.configFile ?? view.irqbalance.configFile, restore, {}, writes, files.changes).catch(explain);
}

/**
 * Delete: the unit and its link back as they were (gone, when they did not exist), directories
 * we created removed when empty. irqbalance's environment file is put back by irqbalanceRestore,
 * before irqbalance restarts.
 */
function fileRestore(record: IrqRecord, snapshot: FileSnapshot, resourceName: string, target: string): { changes: FileChanges; warnings: string[] } {
    const unit = paths(resourceName);
    if (!record.managedFiles) {
        return { changes: record.unitFile ? { remove: [unit.unit, unit.link] } : {}, warnings: [] };
    }
    const config = record.irqbalanceState?.banned?.configFile;
    const others = Object.keys(record.managedFiles.originals).filter((p) => p !== config);
    return planRestore(record.managedFiles, (p) => pathContentOf(snapshot, p), target, { paths: others, removeDirs: true });
}
