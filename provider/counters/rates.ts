import type { Sample } from "./sample";

const TWO_32 = 2 ** 32;

/** How fast a counter rose between two samples, or why that cannot be said. */
export interface Rate {
    delta: number | null;
    perSecond: number | null;
    note?: string;
}

/**
 * Per-second rates between two samples. A 32-bit counter that wrapped is unwrapped; one that went
 * backwards otherwise was reset (driver reload); a smaller uptime means the host rebooted, and
 * then no rate is known.
 */
export function counterRates(before: Sample, after: Sample): Record<string, Rate> {
    const seconds = after.uptimeSeconds - before.uptimeSeconds;
    const rates: Record<string, Rate> = {};
    for (const [name, now] of Object.entries(after.counters)) {
        const then = before.counters[name];
        if (seconds <= 0) {
            rates[name] = { delta: null, perSecond: null, note: "the host rebooted between the samples" };
        } else if (then === undefined) {
            rates[name] = { delta: null, perSecond: null, note: "not in the earlier sample" };
        } else if (now >= then) {
            rates[name] = { delta: now - then, perSecond: (now - then) / seconds };
        } else if (then >= TWO_32 / 2 && then < TWO_32 && now < TWO_32 / 2) {
            const delta = now + TWO_32 - then;
            rates[name] = { delta, perSecond: delta / seconds, note: "wrapped at 2^32" };
        } else {
            rates[name] = { delta: null, perSecond: null, note: `went backwards (${then} → ${now}): reset` };
        }
    }
    return rates;
}

/** "UdpRcvbufErrors must not rise faster than 10/s over 60 s": judged on the rate over the window. */
export interface CounterCondition {
    counter: string;
    maxPerSecond: number;
    windowSeconds: number;
}

/** `measuredSeconds`: the window the rates span, when it is not the condition's own (a gate measures every condition over its longest). */
export function conditionFailure(condition: CounterCondition, rates: Record<string, Rate>, measuredSeconds = condition.windowSeconds): string | undefined {
    const rate = rates[condition.counter];
    if (!rate) {
        return `${condition.counter}: this host does not report it`;
    }
    if (rate.perSecond === null) {
        // A reset or a reboot inside the window hides what happened in it: not a pass.
        return `${condition.counter}: no rate over the window (${rate.note}); cannot judge the limit ${condition.maxPerSecond}/s`;
    }
    if (rate.perSecond > condition.maxPerSecond) {
        return `${condition.counter} rose ${rate.perSecond.toFixed(1)}/s over ${measuredSeconds} s (${rate.delta} in all; limit ${condition.maxPerSecond}/s)`;
    }
    return undefined;
}
