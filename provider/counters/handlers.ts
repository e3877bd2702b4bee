import type * as dynamic from "@pulumi/pulumi/dynamic";
import { checkFailures, parseChecked, withoutEngineKeys } from "../check";
import { diffResource, pickInputs, plainState, resourceId } from "../lifecycle";
import { transportFor } from "../transport";
import { hostIdentity } from "../transport/connection";
import { isInterfaceCounter, rateOf, rebootedBetween, recreatedBetween, sampledValue } from "./rates";
import { Sample, measureRates } from "./sample";
import { CounterEvidenceInputs, Rates, counterEvidenceInputsSchema } from "./schema";

/**
 * The evidence a tuning helped: the watched counters' rates over a window when first applied
 * (taken before any tuning resource writes, which depend on this one) and again at each refresh,
 * plus how much each rose since the baseline. Reads only; changes nothing on the host.
 */

const INPUT_FIELDS = ["connection", "interface", "counters", "windowSeconds", "resourceName", "admitted"] as const;

const inputsOf = (props: Record<string, unknown>) => pickInputs(INPUT_FIELDS, props);

const parse = (props: Record<string, unknown>): CounterEvidenceInputs => parseChecked(counterEvidenceInputsSchema, inputsOf(props));

async function measure(inputs: CounterEvidenceInputs): Promise<{ rates: Rates; end: Sample }> {
    const { rates, end } = await measureRates(transportFor(inputs.connection), inputs.interface, inputs.windowSeconds);
    return { rates: Object.fromEntries(inputs.counters.map((c) => [c, rateOf(rates, c)?.perSecond ?? null])), end };
}

function totals(inputs: CounterEvidenceInputs, sample: Sample): Record<string, number | null> {
    return Object.fromEntries(inputs.counters.map((c) => [c, sampledValue(sample.counters, c) ?? null]));
}

async function baseline(raw: Record<string, unknown>) {
    const inputs = parse(raw);
    const unmeasured = { ...inputsOf(raw), hostId: hostIdentity(inputs.connection), before: {}, now: {}, sinceBaseline: {}, missing: [] };
    if (!inputs.admitted) {
        // Held: nothing measured, and nothing said about the host until it is admitted.
        return unmeasured;
    }
    let measured: { rates: Rates; end: Sample };
    try {
        measured = await measure(inputs);
    } catch (e) {
        if (raw.admitted === undefined) {
            throw e;
        }
        // In a fleet the host's own apply reports it failed; an engine error here would stop every later wave.
        // Never measured again: by the next up the host may be tuned, and a baseline then is no "before".
        return { ...unmeasured, unmeasured: (e as Error).message };
    }
    const { rates, end } = measured;
    return { ...inputsOf(raw), hostId: hostIdentity(inputs.connection), before: rates, now: rates, baseline: { uptimeSeconds: end.uptimeSeconds, ...(end.bootId ? { bootId: end.bootId } : {}), ...(end.ifindex !== undefined ? { ifindex: end.ifindex } : {}), totals: totals(inputs, end) }, sinceBaseline: {}, missing: end.missing };
}

export async function check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.CheckResult> {
    return { inputs: news, failures: checkFailures(counterEvidenceInputsSchema, inputsOf(withoutEngineKeys(news))) };
}

/** Held hosts, and one never measured because it was unreachable, are left alone; an admitted one without a baseline yet (it was held at create) takes it. */
export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.DiffResult> {
    if (news.admitted === false || olds.unmeasured !== undefined) {
        return { changes: false };
    }
    if (olds.baseline === undefined) {
        return { changes: true };
    }
    return diffResource({
        olds,
        news: withoutEngineKeys(news),
        parse,
        identity: ["interface"],
        fields: ["counters", "windowSeconds"],
        recordedDrift: () => false,
        probe: async () => [],
    });
}

export async function create(news: Record<string, unknown>): Promise<dynamic.CreateResult> {
    const raw = withoutEngineKeys(news);
    const outs = plainState(await baseline(raw));
    return { id: resourceId(outs, raw.resourceName), outs };
}

/**
 * New counters or window: a `before` for what changed is not possible after tuning, so keep the
 * old one; a counter added now has its baseline total from now, so `sinceBaseline` counts its rise
 * since it was added (rather than staying null), and `missing` is this host's as of now.
 */
export async function update(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.UpdateResult> {
    const raw = withoutEngineKeys(news);
    if (olds.baseline === undefined) {
        return { outs: plainState(await baseline(raw)) };
    }
    const inputs = parse(raw);
    const { rates, end } = await measure(inputs);
    const extended = extendBaseline(olds.baseline as Baseline, inputs.counters, end);
    // Measured now, as a refresh would: the counters declared now, not the ones the last refresh saw.
    return { outs: plainState({ ...olds, ...inputsOf(raw), now: rates, baseline: extended, sinceBaseline: riseSinceBaseline(inputs.counters, extended, end), missing: end.missing }) };
}

/** The baseline with a total, from `end`, for each counter it has none for: added since, or missing when it was taken. */
export function extendBaseline(base: Baseline, counters: readonly string[], end: Sample): Baseline {
    const added = counters.filter((c) => (base.totals[c] ?? null) === null);
    return { ...base, totals: { ...base.totals, ...Object.fromEntries(added.map((c) => [c, sampledValue(end.counters, c) ?? null])) } };
}

/** Totals at the first measurement; `bootId` and `ifindex` are absent in states written before they were sampled. */
export interface Baseline {
    uptimeSeconds: number;
    bootId?: string;
    ifindex?: number;
    totals: Record<string, number | null>;
}

/**
 * How much each counter rose since the baseline; null where that cannot be said. After a reboot the
 * counters restarted from zero, and a host up longer than at the baseline has no smaller uptime to
 * show it: another boot id does. An interface re-created since (another ifindex) restarted its own.
 */
export function riseSinceBaseline(counters: readonly string[], base: Baseline, end: Sample): Record<string, number | null> {
    const rebooted = rebootedBetween(base, end);
    const recreated = recreatedBetween(base, end);
    return Object.fromEntries(
        counters.map((c) => {
            const then = base.totals[c];
            const now = sampledValue(end.counters, c);
            return [c, rebooted || (recreated && isInterfaceCounter(c)) || then === null || now === undefined || now < then ? null : now - then];
        }),
    );
}

/** A refresh measures again: `now` beside `before`, and the rise since the baseline. */
export async function read(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> {
    const raw = withoutEngineKeys(props);
    if (raw.baseline === undefined) {
        // Never admitted: nothing to compare with, and the host is not contacted.
        return { id, props: raw, inputs: plainState(inputsOf(raw)) };
    }
    const inputs = parse(raw);
    const { rates, end } = await measure(inputs);
    return {
        id,
        props: plainState({ ...raw, now: rates, sinceBaseline: riseSinceBaseline(inputs.counters, raw.baseline as Baseline, end), missing: end.missing }),
        inputs: plainState(inputsOf(raw)),
    };
}

export async function remove(): Promise<void> {
    // Evidence only reads.
}
