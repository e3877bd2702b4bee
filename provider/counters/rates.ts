import type { Sample } from "./sample";

const TWO_32 = 2 ** 32;
/**
 * The fastest a 32-bit count can rise on one CPU: its softirq spends well over 100 ns on each
 * packet, and taking an interrupt (entry, handler, exit) well over a microsecond. A count that
 * unwrapped to a faster rate was reset (a driver re-allocating its vectors), not wrapped.
 */
const MAX_SOFTNET_PER_CPU_PER_SECOND = 10_000_000;
const MAX_INTERRUPTS_PER_CPU_PER_SECOND = 1_000_000;

/** How fast a counter rose between two samples, or why that cannot be said. */
export interface Rate {
    delta: number | null;
    perSecond: number | null;
    note?: string;
}

/**
 * softnet_stat prints each CPU's unsigned int fields (%08x), and /proc/interrupts each IRQ's
 * per-CPU unsigned int count: the counters here that are 32-bit. Link statistics, ethtool -S and
 * snmp/netstat/snmp6 are 64-bit on a 64-bit kernel.
 */
const PER_CPU_SOFTNET = /^softnet\.cpu\d+\.([a-z_]+)$/;
const SOFTNET_TOTAL = /^softnet\.[a-z_]+$/;
const PER_IRQ_INTERRUPTS = /^(irq\..+\.cpu\d+)\.(tx)?irq\d+$/;

/** The sum a 32-bit count is a part of: a CPU's softnet field of `softnet.FIELD`, one queue IRQ's count on a CPU of `irq.IF.cpuN`. */
function totalOf(name: string): string | undefined {
    const softnet = PER_CPU_SOFTNET.exec(name);
    return softnet ? `softnet.${softnet[1]}` : PER_IRQ_INTERRUPTS.exec(name)?.[1];
}

/** How fast a 32-bit count could rise, for telling its wrap from a reset; undefined for a 64-bit counter, which never wraps. */
function wrapRateLimit(name: string): number | undefined {
    return PER_CPU_SOFTNET.test(name) ? MAX_SOFTNET_PER_CPU_PER_SECOND : PER_IRQ_INTERRUPTS.test(name) ? MAX_INTERRUPTS_PER_CPU_PER_SECOND : undefined;
}

/**
 * The longest window over which `counter` (a total or a part) can be rated, in whole seconds:
 * softnet's per-CPU 32-bit counts could wrap more than once in a longer one (429.5 s), less the
 * time taking the two samples adds to the window as measured. Undefined: no limit within the hour
 * (interrupt counts, 64-bit counters).
 */
export function longestRatedWindow(counter: string): number | undefined {
    return /^softnet\./.test(counter) ? Math.floor(TWO_32 / MAX_SOFTNET_PER_CPU_PER_SECOND) - 29 : undefined;
}

/** A window's problem for counters rated over it: the first softnet counter it is too long for. */
export function windowTooLong(counters: readonly string[], windowSeconds: number): string | undefined {
    const limited = counters.find((c) => longestRatedWindow(c) !== undefined && windowSeconds > longestRatedWindow(c)!);
    return limited && `${limited} is made of 32-bit counts per CPU, which could wrap more than once in ${windowSeconds} s: at most ${longestRatedWindow(limited)} s`;
}

/**
 * Counters the kernel prints only once they are non-zero (icmpmsg_put, snmp6's ICMPv6 types): one
 * missing from a sample of the host is 0, not a counter the host lacks.
 */
const PRINTED_ONCE_NONZERO = /^(IcmpMsg|Icmp6)\.(In|Out)Type\d+$/;

/** The file a counter the kernel leaves out at 0 is read from, as its always-printed counters show it was: /proc/net/snmp's Icmp line, snmp6 (none with IPv6 off). */
const printedBeside = (name: string): string => (name.startsWith("Icmp6.") ? "Icmp6." : "Icmp.");

/** Whether `name` is left out of a read of its file only while it is 0. */
const zeroWhenAbsent = (keys: Iterable<string>, name: string): boolean => PRINTED_ONCE_NONZERO.test(name) && [...keys].some((key) => key.startsWith(printedBeside(name)));

/** A sample's value of `name`: what it read, or 0 for a counter the kernel leaves out while it is 0. */
export const sampledValue = (counters: Readonly<Record<string, number>>, name: string): number | undefined =>
    counters[name] ?? (zeroWhenAbsent(Object.keys(counters), name) ? 0 : undefined);

/** The counters of the sampled interface: its link statistics, `ethtool -S` and queue interrupts. */
export const isInterfaceCounter = (name: string): boolean => /^(link|nic|irq)\./.test(name);

/** Another ifindex means the interface was re-created (a driver reload) and its counters restarted; a sample without one cannot tell. */
export function recreatedBetween(before: Pick<Sample, "ifindex">, after: Pick<Sample, "ifindex">): boolean {
    return before.ifindex !== undefined && after.ifindex !== undefined && before.ifindex !== after.ifindex;
}

/** Another boot id means a reboot however long ago; only when one side has none can a smaller uptime tell. */
export function rebootedBetween(before: Pick<Sample, "uptimeSeconds" | "bootId">, after: Pick<Sample, "uptimeSeconds" | "bootId">): boolean {
    if (before.bootId !== undefined && after.bootId !== undefined) {
        return before.bootId !== after.bootId;
    }
    return after.uptimeSeconds < before.uptimeSeconds;
}

/**
 * Per-second rates between two samples. A per-CPU softnet count or one IRQ's count on a CPU that
 * went backwards wrapped at 2^32 if a CPU could have counted that far; any other counter that went
 * backwards was reset (driver reload, interface re-created). A softnet total, and an interface's
 * interrupts on a CPU (the sum of its queue IRQs' there), is the sum of its parts' rates: a sum of
 * 32-bit counters wraps at no fixed point, and a CPU going offline drops its softnet row. Across a
 * reboot no rate is known, nor for an interface's counters across its re-creation.
 */
export function counterRates(before: Sample, after: Sample): Record<string, Rate> {
    const seconds = after.uptimeSeconds - before.uptimeSeconds;
    const unrated = rebootedBetween(before, after) ? "the host rebooted between the samples" : seconds <= 0 ? "no time passed between the samples" : undefined;
    const recreated = recreatedBetween(before, after) ? `the interface was re-created between the samples (ifindex ${before.ifindex} → ${after.ifindex}): its counters restarted` : undefined;
    const rates: Record<string, Rate> = {};
    for (const [name, now] of Object.entries(after.counters)) {
        const then = sampledValue(before.counters, name);
        if (unrated) {
            rates[name] = { delta: null, perSecond: null, note: unrated };
        } else if (recreated && isInterfaceCounter(name)) {
            rates[name] = { delta: null, perSecond: null, note: recreated };
        } else if (then === undefined) {
            rates[name] = { delta: null, perSecond: null, note: "not in the earlier sample" };
        } else if (SOFTNET_TOTAL.test(name) && seconds * MAX_SOFTNET_PER_CPU_PER_SECOND >= TWO_32) {
            // Rated from the totals alone where no per-CPU rows are named (before Linux 5.10): its parts could have wrapped as often.
            rates[name] = { delta: null, perSecond: null, note: `a sum of 32-bit counts per CPU: at up to ${MAX_SOFTNET_PER_CPU_PER_SECOND}/s each can wrap more than once in ${seconds} s` };
        } else {
            rates[name] = counterRate(then, now, seconds, wrapRateLimit(name));
        }
    }
    if (!unrated) {
        const earlierParts = partsByTotal(Object.keys(before.counters));
        for (const [total, parts] of partsByTotal(Object.keys(rates))) {
            if (total in rates && total in before.counters) {
                // A CPU keeps its number; queue IRQs are given new ones when a driver resets.
                const gone = total.startsWith("irq.") ? (earlierParts.get(total) ?? []).filter((part) => !(part in after.counters)) : [];
                rates[total] = sumOfParts(parts, gone, rates, seconds, rates[total]);
            }
        }
    }
    return rates;
}

function counterRate(then: number, now: number, seconds: number, maxPerSecond32Bit: number | undefined): Rate {
    // A 32-bit counter that can turn over within the window, at the fastest it counts, may have
    // wrapped any number of times: no reading tells how many.
    if (maxPerSecond32Bit !== undefined && seconds * maxPerSecond32Bit >= TWO_32) {
        return { delta: null, perSecond: null, note: `a 32-bit counter: at up to ${maxPerSecond32Bit}/s it can wrap more than once in ${seconds} s` };
    }
    if (now >= then) {
        return { delta: now - then, perSecond: (now - then) / seconds };
    }
    // A wrap is the reading that needs the counter to have moved less than half its range, and
    // forward: whatever the readings, no rate is negative.
    const unwrapped = now + TWO_32 - then;
    if (maxPerSecond32Bit !== undefined && unwrapped > 0 && unwrapped < TWO_32 / 2 && unwrapped / seconds <= maxPerSecond32Bit) {
        return { delta: unwrapped, perSecond: unwrapped / seconds, note: "wrapped at 2^32" };
    }
    return { delta: null, perSecond: null, note: `went backwards (${then} → ${now}): reset` };
}

function partsByTotal(names: string[]): Map<string, string[]> {
    const parts = new Map<string, string[]>();
    for (const name of names) {
        const total = totalOf(name);
        if (total) {
            parts.set(total, [...(parts.get(total) ?? []), name]);
        }
    }
    return parts;
}

/**
 * The sum of the parts' rates; a part in only one sample (a CPU or queue IRQ that came or went)
 * adds nothing. Parts gone and others new at once were renumbered (a driver reset or `ethtool -L`
 * reallocating the queue IRQs): what the new ones counted before they had their numbers is
 * unknown, so the total has no rate rather than a made-up calm. With no part in the earlier sample
 * (before Linux 5.10, a softnet row is named only when the online CPU list matches the rows) there
 * is nothing to sum, and `totalsRate`, the rate between the two totals, is the total's.
 */
function sumOfParts(parts: string[], gone: string[], rates: Record<string, Rate>, seconds: number, totalsRate: Rate): Rate {
    const arrived = parts.filter((name) => rates[name].note === "not in the earlier sample");
    if (gone.length > 0 && arrived.length > 0) {
        return { delta: null, perSecond: null, note: `its parts changed between the samples (${gone.join(", ")} gone, ${arrived.join(", ")} new: renumbered by a driver reset or ethtool -L?)` };
    }
    if (arrived.length === parts.length) {
        return totalsRate;
    }
    const unknown = parts.find((name) => rates[name].delta === null && rates[name].note !== "not in the earlier sample");
    if (unknown) {
        return { delta: null, perSecond: null, note: `${unknown} ${rates[unknown].note}` };
    }
    const delta = parts.reduce((sum, name) => sum + (rates[name].delta ?? 0), 0);
    return { delta, perSecond: delta / seconds };
}

/**
 * The rate of `counter`, undefined where the host lacks it. One the kernel leaves out while it is 0,
 * out of both samples, stayed at 0: 0/s, unless nothing could be rated between them (a reboot).
 */
export function rateOf(rates: Readonly<Record<string, Rate>>, counter: string): Rate | undefined {
    if (rates[counter] || !zeroWhenAbsent(Object.keys(rates), counter)) {
        return rates[counter];
    }
    const unrated = Object.values(rates).find((r) => r.note !== undefined && /^(the host rebooted|no time passed)/.test(r.note));
    return unrated ?? { delta: 0, perSecond: 0 };
}

/** "UdpRcvbufErrors must not rise faster than 10/s over 60 s": judged on the rate over the window. */
export interface CounterCondition {
    counter: string;
    maxPerSecond: number;
    windowSeconds: number;
}
/** `measuredSeconds`: the window the rates span, when it is not the condition's own (a gate measures every condition over its longest). */
export function conditionFailure(condition: CounterCondition, rates: Record<string, Rate>): string | undefined {
    const rate = rateOf(rates, condition.counter);
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
