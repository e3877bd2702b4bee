import type * as dynamic from "@pulumi/pulumi/dynamic";
import * as counters from "../counters/handlers";
import { checkFailures, parseChecked, withoutEngineKeys } from "../check";
import { pickInputs, plainState } from "../lifecycle";
import { hostIdentity } from "../transport/connection";
import { containsUnknown } from "../unknowns";
import { WaveEvidenceHost, WaveEvidenceInputs, waveEvidenceInputsSchema } from "./schema";

/**
 * A wave's hosts' evidence, each host exactly as a CounterEvidence of its own (its handlers do
 * the measuring), all of them at once: one window per wave. Held, nothing is contacted.
 */

const INPUT_FIELDS = ["wave", "hosts", "windowSeconds", "admitted"] as const;

type Records = Record<string, Record<string, unknown>>;

const inputsOf = (props: Record<string, unknown>) => pickInputs(INPUT_FIELDS, props);

const parse = (props: Record<string, unknown>): WaveEvidenceInputs => parseChecked(waveEvidenceInputsSchema, inputsOf(props));

/** One host as CounterEvidence's handlers take it; `admitted` given, so an unreachable host is recorded, not thrown. */
const hostInputs = (host: WaveEvidenceHost, inputs: WaveEvidenceInputs): Record<string, unknown> => ({
    connection: host.connection,
    interface: host.interface,
    counters: host.counters,
    windowSeconds: inputs.windowSeconds,
    resourceName: host.name,
    admitted: inputs.admitted,
});

/** A host's record without its connection: the key material stays in the secret `hosts` input. */
function recordOf(outs: Record<string, unknown>): Record<string, unknown> {
    const { connection, ...record } = outs;
    void connection;
    return record;
}

const recordsOf = (props: Record<string, unknown>): Records => (props.evidence as Records | undefined) ?? {};

/**
 * A host measured again, or, when it cannot be reached now, its record as it was with why: one
 * host down must not fail the refresh (or the update) of every other host of the wave.
 */
async function remeasured(old: Record<string, unknown>, measure: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
    const { lastMeasureFailed, ...kept } = recordOf(old);
    void lastMeasureFailed;
    try {
        const { lastMeasureFailed: earlier, ...fresh } = recordOf(await measure());
        void earlier;
        return fresh;
    } catch (e) {
        return { ...kept, lastMeasureFailed: (e as Error).message };
    }
}

/** What CounterEvidence's handlers saw last for `host`: its record, with the connection it was measured over. */
function previous(olds: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
    const record = recordsOf(olds)[name];
    const host = ((olds.hosts as WaveEvidenceHost[] | undefined) ?? []).find((h) => h.name === name);
    return record && { ...record, connection: host?.connection };
}

async function hostChanged(olds: Record<string, unknown>, host: WaveEvidenceHost, inputs: WaveEvidenceInputs): Promise<boolean> {
    const old = previous(olds, host.name);
    return !old || elsewhere(old, host) || (await counters.diff(host.name, old, hostInputs(host, inputs))).changes === true;
}

/**
 * The host's record is another machine's or NIC's (its address or interface changed): what a
 * CounterEvidence would replace, so its evidence starts afresh, not carried over from the old
 * one (nor left unmeasured because the old address was unreachable).
 */
function elsewhere(old: Record<string, unknown>, host: WaveEvidenceHost): boolean {
    return (typeof old.hostId === "string" && old.hostId !== hostIdentity(host.connection)) || old.interface !== host.interface;
}

export async function check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.CheckResult> {
    return { inputs: news, failures: checkFailures(waveEvidenceInputsSchema, inputsOf(withoutEngineKeys(news))) };
}

/** Held waves are left alone; otherwise a host that is new, was held, or changed what it watches. */
export async function diff(_id: string, olds: Record<string, unknown>, rawNews: Record<string, unknown>): Promise<dynamic.DiffResult> {
    const news = withoutEngineKeys(rawNews);
    if (news.admitted === false) {
        return { changes: false };
    }
    if (containsUnknown(news)) {
        return { changes: true };
    }
    const inputs = parse(news);
    const names = (hosts: { name: string }[]) => JSON.stringify(hosts.map((h) => h.name).sort());
    if (names(inputs.hosts) !== names((olds.hosts as WaveEvidenceHost[] | undefined) ?? [])) {
        return { changes: true };
    }
    const changed = await Promise.all(inputs.hosts.map((h) => hostChanged(olds, h, inputs)));
    return { changes: changed.some(Boolean) };
}

async function measure(raw: Record<string, unknown>, olds: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const inputs = parse(raw);
    const records = await Promise.all(
        inputs.hosts.map(async (host): Promise<[string, Record<string, unknown>]> => {
            const old = previous(olds, host.name);
            const news = hostInputs(host, inputs);
            if (!old || elsewhere(old, host)) {
                return [host.name, recordOf((await counters.create(news)).outs)];
            }
            if (!(await hostChanged(olds, host, inputs))) {
                return [host.name, recordOf(old)];
            }
            // A host held until now has no baseline: update takes it, as create would.
            return [host.name, await remeasured(old, async () => (await counters.update(host.name, old, news)).outs ?? {})];
        }),
    );
    return { ...inputsOf(raw), evidence: Object.fromEntries(records) };
}

export async function create(news: Record<string, unknown>): Promise<dynamic.CreateResult> {
    const raw = withoutEngineKeys(news);
    return { id: `wave-${raw.wave}`, outs: plainState(await measure(raw)) };
}

export async function update(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.UpdateResult> {
    return { outs: plainState(await measure(withoutEngineKeys(news), withoutEngineKeys(olds))) };
}

/** A refresh measures every host that has a baseline again, together; the others are not contacted. */
export async function read(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> {
    const raw = withoutEngineKeys(props);
    const inputs = parse(raw);
    const records = await Promise.all(
        inputs.hosts.map(async (host): Promise<[string, Record<string, unknown>] | undefined> => {
            const old = previous(raw, host.name);
            if (!old) {
                return undefined;
            }
            return [host.name, await remeasured(old, async () => (await counters.read(host.name, { ...old, ...hostInputs(host, inputs), admitted: old.admitted })).props ?? {})];
        }),
    );
    return { id, props: plainState({ ...raw, evidence: Object.fromEntries(records.filter((r) => r !== undefined)) }), inputs: plainState(inputsOf(raw)) };
}

export async function remove(): Promise<void> {
    // Evidence only reads.
}
