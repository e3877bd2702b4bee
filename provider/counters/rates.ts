import type { Sample } from "./sample";

const TWO_32 = 2 ** 32;

/** How fast a counter rose between two samples, or why that cannot be said. */
export interface Rate {
    delta: number | null;
    perSecond: number | null;
    note?: string;
}

/**
 * softnet_stat prints each CPU's unsigned int fields (%08x), and /proc/interrupts each IRQ's
 * per-CPU unsigned int count (a NIC's are summed over its queues: still right modulo 2^32, one
 * wrap per queue at most): the counters here that are 32-bit. Link statistics, ethtool -S and
 * snmp/netstat/snmp6 are 64-bit on a 64-bit kernel.
 */
const PER_CPU_SOFTNET = /^softnet\.cpu\d+\.([a-z_]+)$/;
const PER_CPU_INTERRUPTS = /^irq\..+\.cpu\d+$/;
const SOFTNET_TOTAL = /^softnet\.([a-z_]+)$/;

/**
 * Per-second rates between two samples. A per-CPU softnet or interrupt counter that went
 * backwards wrapped at 2^32; any other counter that went backwards was reset (driver reload, interface re-created). A
 * softnet total is the sum of its CPUs' rates, since the sum of 32-bit counters wraps at no fixed
 * point and a CPU going offline drops its row. A smaller uptime means the host rebooted, and then
 * no rate is known.
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
        } else {
            rates[name] = counterRate(then, now, seconds, PER_CPU_SOFTNET.test(name) || PER_CPU_INTERRUPTS.test(name));
        }
    }
    if (seconds > 0) {
        for (const name of Object.keys(rates).filter((n) => SOFTNET_TOTAL.test(n) && n in before.counters)) {
            rates[name] = softnetTotal(SOFTNET_TOTAL.exec(name)![1], rates, seconds);
        }
    }
    return rates;
}

function counterRate(then: number, now: number, seconds: number, is32Bit: boolean): Rate {
    if (now >= then) {
        return { delta: now - then, perSecond: (now - then) / seconds };
    }
    // A wrap is the reading that needs the counter to have moved less than half its range.
    if (is32Bit && now + TWO_32 - then < TWO_32 / 2) {
        const delta = now + TWO_32 - then;
        return { delta, perSecond: delta / seconds, note: "wrapped at 2^32" };
    }
    return { delta: null, perSecond: null, note: `went backwards (${then} → ${now}): reset` };
}

/** The sum of the per-CPU rates of CPUs in both samples; a CPU in only one adds nothing. */
function softnetTotal(field: string, rates: Record<string, Rate>, seconds: number): Rate {
    const perCpu = Object.entries(rates).filter(([name]) => PER_CPU_SOFTNET.exec(name)?.[1] === field);
    const unknown = perCpu.find(([, rate]) => rate.delta === null && rate.note !== "not in the earlier sample");
    if (unknown) {
        return { delta: null, perSecond: null, note: `${unknown[0]} ${unknown[1].note}` };
    }
    const delta = perCpu.reduce((sum, [, rate]) => sum + (rate.delta ?? 0), 0);
    return { delta, perSecond: delta / seconds };
}

/** "UdpRcvbufErrors must not rise faster than 10/s over 60 s": judged on the rate over the window. */
export interface CounterCondition {
    counter: string;
    maxPerSecond: number;
    windowSeconds: number;
}
/** `measuredSeconds`: the window the rates span, when it is not the condition's own (a gate measures every condition over its longest). */
export function conditionFailure(condition: CounterCondition, rates: Record<string, Rate>): string | undefined {
    const rate = rates[condition.counter];
    if (!rate) {
        return `${condition.counter}: this host does not report it`;
    }
    if (rate.perSecond === null) {
        // A reset or a reboot inside the window hides what happened in it: not a pass.
        return `${condition.counter}: no rate over the window (${rate.note}); cannot judge the limit ${condition.maxPerSecond}/s`;
    }
    if (rate.perSecond > condition.maxPerSecond) {
        return `${condition.counter} rose ${rate.perSecond.toFixed(1)}/s over ${condition.windowSeconds} s (${rate.delta} in all; limit ${condition.maxPerSecond}/s)`;
    }
    return undefined;
}
