import type { HostBaseline } from "../../provider/host-tuning/schema";
import type { HostCounterEvidence } from "../../provider/wave-evidence/resource";
import type { HostVerdict } from "../../provider/wave-gate/schema";

/** One host in `pulumi stack output hosts`. */
export interface HostRecord {
    wave: number;
    /** "applied", "failed: why" or "not attempted". */
    status: string;
    /** Keys or items found different from what was applied (gate's fresh read). */
    drifted: string[];
    /** Keys or parameters the host lacks, skipped by policy. */
    skipped: string[];
    /** The health check's exit code and output, when it ran. */
    check?: HostVerdict["check"];
    /** Per-second rates of the gate's counter conditions over its window. */
    counters?: HostVerdict["counters"];
    /** The host's profile counters: rates before it was first tuned and at the last refresh, or why they could not be measured. */
    evidence?: HostEvidence;
}

/** Per-second rates of the counters a host's profiles are meant to bring down. */
export interface HostEvidence {
    before: Record<string, number | null>;
    now: Record<string, number | null>;
    /** Why the baseline could not be taken (the host unreachable at its first apply); it is not taken later. */
    unmeasured?: string;
    /** Why the last refresh could not measure the host again: `now` is from the measurement before. */
    lastMeasureFailed?: string;
}

/**
 * A host's evidence as the per-host output keeps it: `before` from the baseline its tuning kept
 * at its first apply (`kept`), which a wave's evidence measuring it again (the host moved to
 * another wave, or evidence was turned on after it was tuned) never replaces; `now` from its
 * wave's latest measurement. State from before kept baselines (`kept` undefined) takes the wave's.
 */
export function hostEvidence(measured: HostCounterEvidence, kept?: HostBaseline | null): HostEvidence {
    const { now, lastMeasureFailed } = measured;
    const { before, unmeasured } = kept ?? measured;
    return { before, now, ...(unmeasured !== undefined ? { unmeasured } : {}), ...(lastMeasureFailed !== undefined ? { lastMeasureFailed } : {}) };
}

const perSecond = (rate: number | null | undefined) => (rate === null || rate === undefined ? "n/a" : `${Math.round(rate * 10) / 10}/s`);

/** A counter with no rate (the host lacks it, or a reset or reboot hid it) is shown as such: never part of "quiet". */
function countersCell(evidence: HostEvidence): string {
    const counters = Object.keys({ ...evidence.before, ...evidence.now });
    const shown = counters.filter((c) => evidence.before[c] !== 0 || evidence.now[c] !== 0);
    return shown.length === 0 ? "quiet" : shown.map((c) => `${c} ${perSecond(evidence.before[c])} → ${perSecond(evidence.now[c])}`).join("\n");
}

/**
 * The rollout table's evidence: each counter that moved, its rate before tuning → at the last refresh,
 * "quiet" when none did; "stale: why" under them when the last refresh could not measure the host,
 * "unmeasured: why" alone when its baseline could not be taken.
 */
export function evidenceCell(evidence?: HostEvidence): string {
    if (!evidence) {
        return "";
    }
    if (evidence.unmeasured !== undefined) {
        return `unmeasured: ${evidence.unmeasured}`;
    }
    return evidence.lastMeasureFailed === undefined ? countersCell(evidence) : `${countersCell(evidence)}\nstale: ${evidence.lastMeasureFailed}`;
}

/** One wave in `pulumi stack output waves`. */
export interface WaveSummary {
    wave: number;
    hosts: string[];
    passed: boolean;
    outcome: string;
    failed: number;
    allowed: number;
}

export interface GateOutputs {
    wave: number;
    passed: boolean;
    outcome: string;
    failed: number;
    allowed: number;
    results: HostVerdict[];
}

/** `evidence`: only hosts whose baseline was taken or could not be (admitted, with profile counters); a held host has none. */
export function hostRecords(gates: readonly GateOutputs[], skipped: Record<string, string[]>, evidence: Record<string, HostEvidence> = {}): Record<string, HostRecord> {
    const records: Record<string, HostRecord> = {};
    for (const gate of gates) {
        for (const r of gate.results) {
            const recorded = evidence[r.host];
            const measured = recorded && (Object.keys(recorded.before).length > 0 || recorded.unmeasured !== undefined) ? { evidence: recorded } : {};
            records[r.host] = { wave: gate.wave, status: r.status, drifted: r.drifted, skipped: skipped[r.host] ?? [], ...(r.check ? { check: r.check } : {}), ...(r.counters ? { counters: r.counters } : {}), ...measured };
        }
    }
    return records;
}

export function waveSummaries(gates: readonly GateOutputs[]): WaveSummary[] {
    return gates.map((g) => ({ wave: g.wave, hosts: g.results.map((r) => r.host), passed: g.passed, outcome: g.outcome, failed: g.failed, allowed: g.allowed }));
}
