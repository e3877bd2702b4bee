import { CounterCondition, Rate, conditionFailure, counterRates, longestRatedWindow } from "../../provider/counters/rates";
import { Sample, measureRates, sampleHost } from "../../provider/counters/sample";
import { interfaceName } from "../../provider/nic/schema";
import { readHost } from "../../provider/sysctl/remote";
import type { Transport } from "../../provider/transport/transport";
import { DIAGNOSED_SYSCTLS, Finding, diagnose, judgedCounter } from "./diagnose";

export { CounterCondition, Finding, Rate, Sample, conditionFailure, counterRates, diagnose, sampleHost };

export interface HostDiagnosis {
    target: string;
    windowSeconds: number;
    /** Counters that rose during the window, per second. */
    rising: Record<string, number>;
    findings: Finding[];
    /** Counter sources this host does not have. */
    missing: string[];
    /** Counters whose rate could not be computed (wrapped, reset, rebooted), and why. */
    notes: Record<string, string>;
    /** Of those, the ones a rule judges: with any, no finding is not an all-clear. */
    unjudged: string[];
}

/** The longest window the diagnosis takes: softnet's 32-bit per-CPU counts have no rate over a longer one, so no verdict could be given. */
export const LONGEST_DIAGNOSIS_WINDOW = longestRatedWindow("softnet.dropped")!;

/**
 * A NaN, zero or negative window samples twice at once: "nothing rose" would be a false
 * all-clear; a longer one than softnet's counters can be rated over, a verdict that can never be
 * given.
 */
export function checkWindow(windowSeconds: number): void {
    if (!(windowSeconds >= 0.1 && windowSeconds <= LONGEST_DIAGNOSIS_WINDOW)) {
        throw new Error(`window: ${windowSeconds} is not a number of seconds from 0.1 to ${LONGEST_DIAGNOSIS_WINDOW} (softnet's per-CPU counts are 32-bit, and could wrap more than once in a longer one)`);
    }
}

/** Two samples `windowSeconds` apart and the knobs' current values: read-only, no root needed for /proc/net. */
export async function diagnoseHost(transport: Transport, iface: string | undefined, windowSeconds: number): Promise<HostDiagnosis> {
    checkWindow(windowSeconds);
    if (iface !== undefined && !interfaceName.safeParse(iface).success) {
        throw new Error(`interface: ${JSON.stringify(iface)} is not a network interface name`);
    }
    const [{ rates, end: after }, knobs] = await Promise.all([measureRates(transport, iface, windowSeconds), readHost(transport, DIAGNOSED_SYSCTLS, [])]);
    // Every netdev has statistics/: without it a typo (-i eht1) would read as "no NIC counter rose".
    const linkStats = `/sys/class/net/${iface}/statistics`;
    if (iface !== undefined && after.missing.includes(linkStats)) {
        throw new Error(`${transport.target}: interface ${iface} does not exist (no ${linkStats})`);
    }
    const settings: Record<string, string> = {};
    for (const [key, live] of knobs.values) {
        if (live.state === "value" || live.state === "readonly") {
            settings[key] = live.value;
        }
    }
    const rising = Object.fromEntries(Object.entries(rates).filter(([, r]) => (r.perSecond ?? 0) > 0).map(([name, r]) => [name, r.perSecond!]));
    const notes = Object.fromEntries(Object.entries(rates).filter(([, r]) => r.note && r.perSecond === null).map(([name, r]) => [name, r.note!]));
    return { target: transport.target, windowSeconds, rising, findings: diagnose(rates, settings), missing: after.missing, notes, unjudged: Object.keys(notes).filter(judgedCounter) };
}

/** Notes that several counters share (a reboot gives every counter the same one) are one line. */
function noteLines(notes: Record<string, string>): string[] {
    const byNote = new Map<string, string[]>();
    for (const [counter, note] of Object.entries(notes)) {
        byNote.set(note, [...(byNote.get(note) ?? []), counter]);
    }
    return [...byNote].map(([note, counters]) => `  no rate (cannot tell whether it rose): ${counters.length === 1 ? `${counters[0]} ${note}` : `${counters.length} counters: ${note}`}`);
}

/** The diagnosis for people: findings first, then what could not be rated and what the host lacks. */
export function diagnosisText(d: HostDiagnosis): string {
    const verdict =
        d.findings.length > 0
            ? `${d.findings.length} finding(s)`
            : d.unjudged.length > 0
              ? `could not judge: ${d.unjudged.length} of the counters the diagnosis reads have no rate (below)`
              : "no drop or overflow counter rose";
    const lines = [`${d.target}: ${verdict} over ${d.windowSeconds} s`];
    for (const f of d.findings) {
        const now = Object.entries(f.settings).map(([k, v]) => `${k} = ${v}`).join(", ");
        lines.push(`  ${f.counter} rising ${f.perSecond.toFixed(1)}/s: ${f.meaning}`, `    look at: ${f.knob}${now ? ` (now ${now})` : ""}`, `    sources: ${f.sources.join(" · ")}`);
    }
    lines.push(...noteLines(d.notes));
    if (d.missing.length > 0) {
        lines.push(`  not available here: ${d.missing.join(", ")}`);
    }
    return lines.join("\n");
}
