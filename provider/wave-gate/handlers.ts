import type * as dynamic from "@pulumi/pulumi/dynamic";
import { checkFailures, parseChecked, withoutEngineKeys } from "../check";
import { verifyParts } from "../host-tuning/handlers";
import { APPLIED, NOT_ATTEMPTED, PartRecords } from "../host-tuning/schema";
import { CounterCondition, conditionFailure, rateOf } from "../counters/rates";
import { measureRatesOver } from "../counters/sample";
import { sleep } from "../sleep";
import { pickInputs, plainState } from "../lifecycle";
import { transportFor } from "../transport";
import { containsUnknown } from "../unknowns";
import { counterOnHost, describeCheckFailure, ratesByCondition, waveOutcome } from "./plan";
import { runHealthCheck } from "./remote";
import { GateHost, HealthCheck, HostVerdict, WaveGateInputs, waveGateInputsSchema } from "./schema";

/**
 * The gate after a wave: every host's tuning verified against a fresh read, then the user's
 * health check, then the failure budget. The gate records its verdict instead of throwing, so the
 * report reaches state; the next wave takes `passed` as its `admitted` input.
 */

const INPUT_FIELDS = ["wave", "hosts", "maxFailures", "healthCheck", "counterConditions", "admitted"] as const;

const inputsOf = (props: Record<string, unknown>) => pickInputs(INPUT_FIELDS, props);

/** What the gate keeps in state: its inputs without the hosts' connections (key material stays with HostTuning). */
function recorded(props: Record<string, unknown>): Record<string, unknown> {
    const hosts = ((props.hosts as Record<string, unknown>[] | undefined) ?? []).map(({ connection, ...rest }) => (void connection, rest));
    return { ...inputsOf(props), hosts };
}

/** What decides a re-run: the hosts' revisions and statuses, not their parts' volatile outputs (a refresh changes those). */
function judged(props: Record<string, unknown>): string {
    const { hosts, ...rest } = recorded(props);
    return JSON.stringify({ ...rest, hosts: (hosts as Record<string, unknown>[]).map(({ parts, ...h }) => (void parts, h)) });
}

const parse = (props: Record<string, unknown>): WaveGateInputs => parseChecked(waveGateInputsSchema, inputsOf(props));

/**
 * One condition a healthy host must meet. The gate runs them in order and the first failure is
 * the host's verdict: the applied values are really live, then the user's check, then the
 * kernel's drop and overflow counters.
 */
type HealthProbe = (host: GateHost, verdict: HostVerdict) => Promise<string | undefined>;

const liveValuesMatch: HealthProbe = async (host, verdict) => {
    verdict.drifted = await verifyParts(host.connection, host.parts as PartRecords);
    return verdict.drifted.length > 0 ? `live values differ from what was applied: ${verdict.drifted.join("; ")}` : undefined;
};

const userCheck =
    (check: HealthCheck): HealthProbe =>
    async (host, verdict) => {
        const run = await runHealthCheck(transportFor(host.connection), check);
        verdict.check = { exitCode: run.exitCode, output: run.output, attempts: run.attempts };
        return run.exitCode === 0 ? undefined : describeCheckFailure(run, check.timeoutSeconds);
    };

/** The kernel's own counters over a window after the apply: drops and overflows must not rise past the limits. */
const countersStayDown =
    (conditions: CounterCondition[]): HealthProbe =>
    async (host, verdict) => {
        const named = conditions.map((c) => ({ ...c, counter: counterOnHost(c.counter, host.interface) }));
        const unnamed = named.find((c) => c.counter === undefined);
        if (unnamed) {
            return `${conditions[named.indexOf(unnamed)].counter}: no facts.interface names this host's NIC`;
        }
        const judged = named as CounterCondition[];
        // Each condition over its own window, all from one first sample.
        const rates = await measureRatesOver(transportFor(host.connection), host.interface, judged.map((c) => c.windowSeconds));
        verdict.counters = ratesByCondition(judged, (c) => rateOf(rates.get(c.windowSeconds)!, c.counter)?.perSecond ?? null);
        const failures = judged.map((c) => conditionFailure(c, rates.get(c.windowSeconds)!)).filter((f): f is string => f !== undefined);
        return failures.length > 0 ? failures.join("; ") : undefined;
    };

async function judge(host: GateHost, probes: HealthProbe[]): Promise<HostVerdict> {
    const verdict: HostVerdict = { host: host.name, status: host.status, drifted: [] };
    if (host.status !== APPLIED) {
        return verdict;
    }
    try {
        for (const probe of probes) {
            const failure = await probe(host, verdict);
            if (failure) {
                verdict.status = `failed: ${failure}`;
                break;
            }
        }
    } catch (e) {
        verdict.status = `failed: ${(e as Error).message}`;
    }
    return verdict;
}

/** A held host's status: what an earlier run left on it, if anything. */
export function heldStatus(earlier: string): string {
    if (earlier === APPLIED) {
        return `${NOT_ATTEMPTED} in this run (applied earlier)`;
    }
    return earlier.startsWith("failed: ") ? `${NOT_ATTEMPTED} in this run (failed earlier: ${earlier.slice("failed: ".length)})` : NOT_ATTEMPTED;
}

async function run(raw: Record<string, unknown>): Promise<Record<string, unknown>> {
    const inputs = parse(raw);
    if (!inputs.admitted) {
        // A held host may carry tuning from an earlier run, whole or in part: say so, rather than hide it.
        const results = inputs.hosts.map((h): HostVerdict => ({ host: h.name, status: heldStatus(h.status), drifted: [] }));
        return { ...recorded(raw), passed: false, outcome: `wave ${inputs.wave}: not attempted: an earlier wave halted`, failed: 0, allowed: 0, results };
    }
    const probes = [
        liveValuesMatch,
        ...(inputs.healthCheck ? [userCheck(inputs.healthCheck)] : []),
        ...(inputs.counterConditions?.length ? [countersStayDown(inputs.counterConditions)] : []),
    ];
    if (inputs.healthCheck?.settleSeconds) {
        await sleep(inputs.healthCheck.settleSeconds);
    }
    const results = await Promise.all(inputs.hosts.map((h) => judge(h, probes)));
    const outcome = waveOutcome(inputs.wave, results, inputs.maxFailures);
    console.log(outcome.summary);
    for (const r of results.filter((r) => r.status !== APPLIED)) {
        console.log(`  ${r.host}: ${r.status}`);
    }
    return { ...recorded(raw), passed: outcome.passed, outcome: outcome.summary, failed: outcome.failed, allowed: outcome.allowed, results };
}

export async function check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.CheckResult> {
    return { inputs: news, failures: checkFailures(waveGateInputsSchema, inputsOf(withoutEngineKeys(news))) };
}

/**
 * Runs again whenever the wave's hosts changed, and on every `up` after a wave that had failures
 * or did not pass (unless it is still held): a fixed host or check is re-judged, and later waves
 * resume.
 */
export async function diff(_id: string, olds: Record<string, unknown>, rawNews: Record<string, unknown>): Promise<dynamic.DiffResult> {
    const news = withoutEngineKeys(rawNews);
    if (containsUnknown(recorded(news))) {
        return { changes: true };
    }
    if (news.admitted === false && olds.admitted === false) {
        // Still held: nothing to judge, but the report must list the wave's hosts as they are now.
        return { changes: judged(olds) !== judged(news) };
    }
    const unsettled = olds.passed !== true || Number(olds.failed ?? 0) > 0;
    return { changes: unsettled || judged(olds) !== judged(news) };
}

export async function create(news: Record<string, unknown>): Promise<dynamic.CreateResult> {
    const raw = withoutEngineKeys(news);
    return { id: `wave-${raw.wave}`, outs: plainState(await run(raw)) };
}

export async function update(_id: string, _olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.UpdateResult> {
    return { outs: plainState(await run(withoutEngineKeys(news))) };
}

export async function read(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> {
    return { id, props: withoutEngineKeys(props) };
}

export async function remove(): Promise<void> {
    // A gate changes nothing on any host.
}
