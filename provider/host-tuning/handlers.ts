import type * as dynamic from "@pulumi/pulumi/dynamic";
import { randomBytes } from "crypto";
import { CheckFailure, checkFailures, parseChecked, withoutEngineKeys } from "../check";
import * as cpuGovernor from "../cpu-governor/handlers";
import * as irq from "../irq/handlers";
import * as nic from "../nic/handlers";
import * as sysctl from "../sysctl/handlers";
import * as offloads from "../nic-offload/handlers";
import * as modules from "../kernel-module/handlers";
import * as steering from "../packet-steering/handlers";
import * as thp from "../thp/handlers";
import * as wakeup from "../wakeup-latency/handlers";
import type { HostReads } from "../sysctl/remote";
import { hostIdentity, optionalConnectionSchema } from "../transport/connection";
import { isRefusedConnection } from "../transport/transport";
import { REPLACE_HOST, connectionChange, pickInputs, plainState } from "../lifecycle";
import { containsUnknown } from "../unknowns";
import { partCheckOlds, partInputs, partsToRemove, recordOf, skippedOf, warningsOf, withConnection } from "./plan";
import { APPLIED, HostBaseline, HostTuningInputs, NOT_ATTEMPTED, PART_ORDER, PART_SCHEMAS, PartName, PartRecords, hostTuningInputsSchema } from "./schema";

/**
 * One host's tuning as one resource: the parts (sysctls, NIC, IRQs, governor, …) run through the
 * standalone resources' own handlers, in order. A failed apply does not fail the engine run: the
 * part's own transaction has rolled back what it wrote, state records each part as it is on the
 * host, and `status` says `failed: why`. The fleet's wave gate counts it against the budget, and
 * the next `up` retries it.
 */

interface PartHandlers {
    check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.CheckResult>;
    diff(id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.DiffResult>;
    create(news: Record<string, unknown>): Promise<dynamic.CreateResult>;
    update(id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.UpdateResult>;
    read(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult>;
    remove(id: string, props: Record<string, unknown>): Promise<void>;
    /** How the host differs from a recorded state; `reuse` may take a read made earlier in this engine run (sysctls keep theirs). */
    liveDrift(props: Record<string, unknown>, reads?: HostReads): Promise<string[]>;
}

const HANDLERS: Record<PartName, PartHandlers> = { modules, sysctls: sysctl, nic, offloads, steering, irqs: irq, governor: cpuGovernor, thp, wakeup };

const INPUT_FIELDS = ["connection", "resourceName", "owner", "admitted", "hostProblems", "waveBaseline", ...PART_ORDER] as const;

const inputsOf = (props: Record<string, unknown>) => pickInputs(INPUT_FIELDS, props);

const parse = (props: Record<string, unknown>): HostTuningInputs => parseChecked(hostTuningInputsSchema, inputsOf(props));

const partsOf = (props: Record<string, unknown>): PartRecords => (props.parts as PartRecords) ?? {};

/**
 * Each part by its resource's own check. A bad value fails the preview. What only the host
 * refuses (a ring above its NIC's maximum, a key another stack owns) fails it too, unless the
 * host is gated (it has `admitted`, as in a fleet): then it is recorded as `hostProblems`, and the
 * apply marks the host failed without touching it, so it counts against its wave's budget.
 */
export async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.CheckResult> {
    // hostProblems is check's own finding: found afresh each time, never taken from the news.
    const { hostProblems: _previous, ...declared } = news;
    const raw = inputsOf(withoutEngineKeys(declared));
    const failures: CheckFailure[] = checkFailures(hostTuningInputsSchema, raw);
    if (failures.length > 0) {
        return { inputs: declared, failures };
    }
    const inputs = raw as HostTuningInputs;
    const gated = raw.admitted !== undefined;
    const hostProblems: string[] = [];
    for (const part of PART_ORDER) {
        if (!inputs[part] || containsUnknown(inputs[part])) {
            continue;
        }
        const news = partInputs(inputs, part, raw.connection, {});
        // The parts' own checks read the host (maxima, online CPUs, owners): only once the host's
        // wave is admitted. Until then, grammar only: a held host is never contacted.
        const grammar = checkFailures(PART_SCHEMAS[part], news);
        const admitted = raw.admitted === undefined || raw.admitted === true;
        // The fleet names drift in its gates and refresh: no per-part drift read at check.
        const partCheck = part === "sysctls" ? (o: Record<string, unknown>, n: Record<string, unknown>) => sysctl.checkSysctls(o, n, false) : HANDLERS[part].check;
        const fromHost = grammar.length === 0 && admitted;
        const partFailures = fromHost ? ((await partCheck(partCheckOlds(olds, part, raw.owner), news)).failures ?? []) : grammar;
        for (const failure of partFailures) {
            // Each part reports only its own properties. A connection doomed by its settings fails
            // a standalone host's preview once, on the host's connection; a gated host's apply.
            if (/^connection\b/.test(failure.property) && !gated && !failures.some((f) => f.property === failure.property)) {
                failures.push(failure);
                continue;
            }
            if (/^(connection|resourceName)\b/.test(failure.property)) {
                continue;
            }
            const named = { property: `${part}.${failure.property}`, reason: failure.reason };
            if (fromHost && gated) {
                hostProblems.push(`${named.property}: ${named.reason}`);
            } else {
                failures.push(named);
            }
        }
    }
    return { inputs: hostProblems.length > 0 ? { ...declared, hostProblems } : declared, failures };
}

export async function diff(_id: string, olds: Record<string, unknown>, rawNews: Record<string, unknown>): Promise<dynamic.DiffResult> {
    // A new measurement of the wave's counters (unknown while its evidence is measured again) changes nothing to apply.
    const { waveBaseline: _measured, ...news } = withoutEngineKeys(rawNews);
    if (news.admitted === false) {
        // Held behind an earlier wave's gate: nothing is touched, whatever changed.
        return { changes: false };
    }
    const unknownLogin = connectionChange(olds.connection, news.connection);
    if (unknownLogin !== undefined) {
        return unknownLogin;
    }
    const oldConnection = parseChecked(optionalConnectionSchema, olds.connection);
    if (hostIdentity(oldConnection) !== hostIdentity(parseChecked(optionalConnectionSchema, news.connection))) {
        return REPLACE_HOST;
    }
    const drifted = (olds.drifted as string[] | undefined) ?? [];
    const refused = Array.isArray(news.hostProblems) && news.hostProblems.length > 0;
    if (containsUnknown(news) || olds.status !== APPLIED || drifted.length > 0 || refused) {
        return { changes: true };
    }
    const inputs = parse(news);
    const parts = partsOf(olds);
    if (PART_ORDER.some((p) => Boolean(parts[p]) !== Boolean(inputs[p]))) {
        return { changes: true };
    }
    try {
        const results = await Promise.all(
            PART_ORDER.filter((p) => parts[p]).map((p) => {
                const record = parts[p]!;
                return HANDLERS[p].diff(record.id, withConnection(record, olds.connection), partInputs(inputs, p, news.connection, parts));
            }),
        );
        return { changes: results.some((r) => r.changes) };
    } catch (e) {
        if (isRefusedConnection(e) && news.admitted !== undefined) {
            // One host's refused key or login is that host's failure at apply (counted against its wave), not the fleet's preview.
            console.log(e.message);
            return { changes: true };
        }
        throw e;
    }
}

/** Each declared part applied in order (dropped ones removed first) into `parts`; the first failure, said, stops it. */
async function applyParts(inputs: HostTuningInputs, connection: unknown, parts: PartRecords): Promise<string | undefined> {
    let step: PartName | undefined;
    try {
        for (step of partsToRemove(inputs, parts, (part) => partInputs(inputs, part, connection, parts))) {
            await HANDLERS[step].remove(parts[step]!.id, withConnection(parts[step]!, connection));
            delete parts[step];
        }
        for (step of PART_ORDER) {
            if (!inputs[step]) {
                continue;
            }
            const handlers = HANDLERS[step];
            const news = partInputs(inputs, step, connection, parts);
            const current = parts[step];
            if (current) {
                const result = await handlers.update(current.id, withConnection(current, connection), news);
                parts[step] = recordOf(current.id, result.outs ?? {});
            } else {
                const result = await handlers.create(news);
                parts[step] = recordOf(result.id, result.outs ?? {});
            }
        }
        return undefined;
    } catch (e) {
        const failure = `${step}: ${(e as Error).message}`;
        console.log(`${hostIdentity(inputs.connection)}: failed: ${failure}`);
        return failure;
    }
}

/** Brings the host to the declared parts, in order, stopping at the first failure (recorded, not thrown). */
async function apply(raw: Record<string, unknown>, olds?: Record<string, unknown>): Promise<Record<string, unknown>> {
    const inputs = parse(raw);
    const connection = raw.connection;
    const parts: PartRecords = { ...(olds ? partsOf(olds) : {}) };
    const base = { ...inputsOf(raw), hostId: hostIdentity(inputs.connection) };
    if (!inputs.admitted) {
        return olds ? { ...olds, ...base, admitted: false } : { ...base, parts, status: NOT_ATTEMPTED, skipped: [], drifted: [], warnings: [], baseline: null };
    }
    const baseline = keptBaseline(olds, inputs.waveBaseline);
    // What check found the host cannot take is its failure, and nothing is written.
    const failure = inputs.hostProblems?.join("; ") || (await applyParts(inputs, connection, parts));
    const status = failure ? `failed: ${failure}` : APPLIED;
    return {
        ...base,
        parts,
        // What the gate watches: new on every apply (a drift fix too), never on a refresh. Random, since a
        // hash of the inputs would let anyone reading state test guesses of the connection's password.
        revision: randomBytes(8).toString("hex"),
        status,
        skipped: skippedOf(parts),
        drifted: [],
        warnings: warningsOf(parts),
        ...(baseline !== undefined && { baseline }),
    };
}

/**
 * The counter rates from before this host's first apply, kept for good: its wave's evidence then,
 * or, with none measured then (no profile counters, evidence off), `unmeasured`, since any later
 * measurement is of the tuned host. Held until now (null), it is taken at this apply. State from
 * before this record has none (undefined): the wave's evidence stands in for it.
 */
export function keptBaseline(olds: Record<string, unknown> | undefined, measured: HostTuningInputs["waveBaseline"]): HostBaseline | undefined {
    if (olds && olds.baseline !== null) {
        return olds.baseline as HostBaseline | undefined;
    }
    return measured ?? { before: {}, unmeasured: "no counters were measured before this host was first tuned" };
}

export async function create(news: Record<string, unknown>): Promise<dynamic.CreateResult> {
    const outs = plainState(await apply(withoutEngineKeys(news)));
    return { id: `${outs.hostId}#${outs.resourceName}`, outs };
}

export async function update(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.UpdateResult> {
    return { outs: plainState(await apply(withoutEngineKeys(news), withoutEngineKeys(olds))) };
}

/** Reads of every recorded part (fresh, unless `reuse`): how the host differs from what state says was applied. */
export async function verifyParts(connection: unknown, parts: PartRecords, reads: HostReads = "fresh"): Promise<string[]> {
    const drift = await Promise.all(
        PART_ORDER.filter((p) => parts[p]).map(async (p) => (await HANDLERS[p].liveDrift(withConnection(parts[p]!, connection), reads)).map((d) => `${p}: ${d}`)),
    );
    return drift.flat();
}

export async function read(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> {
    const raw = withoutEngineKeys(props);
    const recorded = partsOf(raw);
    const present = PART_ORDER.filter((p) => recorded[p]);
    // Drift is judged against what was applied (a part's read puts live values in its state);
    // both reads are read-only, so they go out together.
    const [drifted, reads] = await Promise.all([
        verifyParts(raw.connection, recorded, "reuse"),
        Promise.all(present.map((p) => HANDLERS[p].read(recorded[p]!.id, withConnection(recorded[p]!, raw.connection)))),
    ]);
    const parts = { ...recorded };
    const inputs = inputsOf(raw);
    for (const [i, part] of present.entries()) {
        const result = reads[i];
        parts[part] = recordOf(recorded[part]!.id, result.props ?? {});
        if (part === "sysctls" && inputs.sysctls && result.inputs) {
            // Live values as the declared input, so the next diff is per key: `~ net.core.somaxconn: 4096 => 65535`.
            inputs.sysctls = { ...(inputs.sysctls as object), settings: result.inputs.settings };
        }
    }
    return { id, props: plainState({ ...raw, ...inputs, parts, drifted }), inputs: plainState(inputs) };
}

export async function remove(_id: string, props: Record<string, unknown>): Promise<void> {
    const raw = withoutEngineKeys(props);
    const parts = partsOf(raw);
    for (const part of [...PART_ORDER].reverse()) {
        const record = parts[part];
        if (record) {
            await HANDLERS[part].remove(record.id, withConnection(record, raw.connection));
        }
    }
}
