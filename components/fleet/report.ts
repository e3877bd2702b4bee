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
    /** The host's profile counters: rates before it was first tuned and at the last refresh. */
    evidence?: HostEvidence;
}

/** Per-second rates of the counters a host's profiles are meant to bring down. */
export interface HostEvidence {
    before: Record<string, number | null>;
    now: Record<string, number | null>;
}

const perSecond = (rate: number | null | undefined) => (rate === null || rate === undefined ? "n/a" : `${Math.round(rate * 10) / 10}/s`);

/** The rollout table's evidence: each counter that moved, its rate before tuning → at the last refresh; "quiet" when none did. */
export function evidenceCell(evidence?: HostEvidence): string {
    if (!evidence) {
        return "";
    }
    const counters = Object.keys({ ...evidence.before, ...evidence.now });
    const moved = counters.filter((c) => (evidence.before[c] ?? 0) !== 0 || (evidence.now[c] ?? 0) !== 0);
    return moved.length === 0 ? "quiet" : moved.map((c) => `${c} ${perSecond(evidence.before[c])} → ${perSecond(evidence.now[c])}`).join("\n");
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

/** `evidence`: only hosts whose baseline was taken (admitted, with profile counters). */
export function hostRecords(gates: readonly GateOutputs[], skipped: Record<string, string[]>, evidence: Record<string, HostEvidence> = {}): Record<string, HostRecord> {
    const records: Record<string, HostRecord> = {};
    for (const gate of gates) {
        for (const r of gate.results) {
            const measured = evidence[r.host] && Object.keys(evidence[r.host].before).length > 0 ? { evidence: evidence[r.host] } : {};
            records[r.host] = { wave: gate.wave, status: r.status, drifted: r.drifted, skipped: skipped[r.host] ?? [], ...(r.check ? { check: r.check } : {}), ...(r.counters ? { counters: r.counters } : {}), ...measured };
        }
    }
    return records;
}

export function waveSummaries(gates: readonly GateOutputs[]): WaveSummary[] {
    return gates.map((g) => ({ wave: g.wave, hosts: g.results.map((r) => r.host), passed: g.passed, outcome: g.outcome, failed: g.failed, allowed: g.allowed }));
}
