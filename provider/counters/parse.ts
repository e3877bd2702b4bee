import { discoverQueueIrqs, isTransmitOnlyIrqName, parseInterrupts as parseInterruptLines } from "../irq/discover";

/**
 * Parsers for the kernel's own counter files. Each returns flat `Group.Name → value` maps so a
 * sample is one dictionary and rates are computed the same way for every source.
 */

/** /proc/net/snmp and /proc/net/netstat: pairs of "Group: names…" / "Group: values…" lines. */
export function parseProtocolCounters(text: string): Record<string, number> {
    const counters: Record<string, number> = {};
    const lines = text.split("\n").filter((l) => l.trim());
    for (let i = 0; i + 1 < lines.length; i += 2) {
        const [group, ...names] = lines[i].trim().split(/\s+/);
        const [valueGroup, ...values] = lines[i + 1].trim().split(/\s+/);
        if (group !== valueGroup || !group.endsWith(":")) {
            // A line without its pair (a truncated read): the next may start one.
            i -= 1;
            continue;
        }
        names.forEach((name, j) => {
            const value = Number(values[j]);
            if (values[j] !== undefined && Number.isFinite(value)) {
                counters[`${group.slice(0, -1)}.${name}`] = value;
            }
        });
    }
    return counters;
}

/**
 * /proc/net/snmp6: "Udp6RcvbufErrors 0" lines, named as the IPv4 ones are ("Udp6.RcvbufErrors",
 * "Icmp6.InType133"). Every line is a count: the kernel prints no setting or level here.
 */
export function parseSnmp6(text: string): Record<string, number> {
    const counters: Record<string, number> = {};
    for (const line of text.split("\n")) {
        const match = /^([A-Za-z]+6)(\w+)\s+(\d+)\s*$/.exec(line);
        if (match) {
            counters[`${match[1]}.${match[2]}`] = Number(match[3]);
        }
    }
    return counters;
}

/**
 * /proc/net/softnet_stat: one hex row per online CPU; column 1 processed, 2 dropped, 3 time_squeeze.
 * Since Linux 5.10 the 13th column is the CPU id; before, row N is the Nth online CPU
 * (`onlineCpus`, read in the same sample). Without a way to name a row's CPU (the online list
 * unknown, or changed between the two reads) only the totals are given.
 */
export function parseSoftnet(text: string, onlineCpus?: readonly number[]): Record<string, number> {
    const counters: Record<string, number> = { "softnet.processed": 0, "softnet.dropped": 0, "softnet.time_squeeze": 0 };
    const rows = text.split("\n").filter((l) => l.trim());
    rows.forEach((line, row) => {
        const cols = line.trim().split(/\s+/).map((c) => parseInt(c, 16));
        const cpu = cols.length >= 13 ? cols[12] : onlineCpus?.length === rows.length ? onlineCpus[row] : undefined;
        const fields: [string, number][] = [
            ["processed", cols[0]],
            ["dropped", cols[1]],
            ["time_squeeze", cols[2]],
        ];
        for (const [name, value] of fields) {
            counters[`softnet.${name}`] += value;
            if (cpu !== undefined) {
                counters[`softnet.cpu${cpu}.${name}`] = value;
            }
        }
    });
    return counters;
}

/** /proc/net/sockstat: gauges ("TCP: inuse 3 orphan 0 tw 40 …"). */
export function parseSockstat(text: string): Record<string, number> {
    const gauges: Record<string, number> = {};
    for (const line of text.split("\n")) {
        const [group, ...rest] = line.trim().split(/\s+/);
        if (!group?.endsWith(":")) {
            continue;
        }
        for (let i = 0; i + 1 < rest.length; i += 2) {
            gauges[`sockstat.${group.slice(0, -1)}.${rest[i]}`] = Number(rest[i + 1]);
        }
    }
    return gauges;
}

/** What /proc/net/snmp prints beside its counters that is a level (a setting, a count of open connections). */
export const SNMP_GAUGES = ["Ip.Forwarding", "Ip.DefaultTTL", "Tcp.RtoAlgorithm", "Tcp.RtoMin", "Tcp.RtoMax", "Tcp.MaxConn", "Tcp.CurrEstab", "MPTcpExt.MPCurrEstab"];

/** A level, not a cumulative count: sockstat's (parseSockstat names them sockstat.*), and SNMP_GAUGES. */
export const isGauge = (name: string): boolean => name.startsWith("sockstat.") || SNMP_GAUGES.includes(name);

/**
 * Per-CPU interrupt counts of one interface's queue IRQs: each IRQ's (`irq.IF.cpuN.irqK`, or
 * `txirqK` for one that only completes transmits; 32-bit in the kernel, so each unwraps on its
 * own) and their sum (`irq.IF.cpuN`), where the NIC's
 * interrupts really land. The queues are found as IrqAffinity finds them (the device's msi_irqs,
 * else the driver's queue names, a virtio NIC's by its own virtio device), so another NIC's or
 * another virtio device's interrupts never count. Empty when the interface has no queue IRQ (lo, veth).
 */
export function queueInterruptsPerCpu(text: string, iface: string, msiIrqs: number[] | undefined, device: string | undefined): Record<string, number> {
    const [header, ...rows] = text.split("\n");
    const cpus = (header ?? "").trim().split(/\s+/).filter((c) => /^CPU\d+$/.test(c));
    const queues = new Map(discoverQueueIrqs(iface, msiIrqs, parseInterruptLines(text), device).irqs.map((l) => [l.irq, l.name]));
    const counters: Record<string, number> = {};
    for (const row of rows) {
        const cols = row.trim().split(/\s+/);
        const irq = /^(\d+):$/.exec(cols[0] ?? "");
        const name = irq ? queues.get(Number(irq[1])) : undefined;
        if (!irq || name === undefined) {
            continue;
        }
        const part = isTransmitOnlyIrqName(name) ? "txirq" : "irq";
        cpus.forEach((cpu, i) => {
            const total = `irq.${iface}.${cpu.toLowerCase()}`;
            const count = Number(cols[i + 1]) || 0;
            counters[`${total}.${part}${irq[1]}`] = count;
            counters[total] = (counters[total] ?? 0) + count;
        });
    }
    return counters;
}

/**
 * `ethtool -S IF`: "     rx_missed_errors: 12" lines. The value is the last ": N", since some names
 * have a colon: bnxt_en's per-ring "[0]: rx_discards" is `ring0_rx_discards`. vmxnet3 repeats its
 * names under "Rx Queue#: 0" / "Tx Queue#: 0" headers: the names indented below one are
 * `rxq0_…` / `txq0_…`, and the header is no counter.
 */
export function parseEthtoolStats(text: string, iface: string): Record<string, number> {
    const counters: Record<string, number> = {};
    let queue: { prefix: string; indent: number } | undefined;
    // The counter lines below one indented deeper are its parts ("drv dropped tx total" → "giant hdr"),
    // named after it: the same label may also stand on its own (vmxnet3's other "giant hdr").
    let whole: { name: string; indent: number } | undefined;
    for (const line of text.split("\n")) {
        const match = /^(\s+)(.+):\s+(-?\d+)\s*$/.exec(line);
        if (!match) {
            continue;
        }
        const [, indent, label, value] = match;
        if (queue && indent.length <= queue.indent) {
            queue = undefined;
        }
        const header = /^([RT]x) Queue#$/i.exec(label.trim());
        if (header) {
            queue = { prefix: `${header[1].toLowerCase()}q${value}_`, indent: indent.length };
            whole = undefined;
        } else if (whole && indent.length > whole.indent) {
            counters[`nic.${iface}.${whole.name}_${statName(label)}`] = Number(value);
        } else {
            whole = { name: `${queue?.prefix ?? ""}${statName(label)}`, indent: indent.length };
            counters[`nic.${iface}.${whole.name}`] = Number(value);
        }
    }
    return counters;
}

/** "[0]: rx_discards" → ring0_rx_discards; "pkts rx OOB" → pkts_rx_OOB. */
function statName(label: string): string {
    const ring = /^\[(\d+)\]:\s*(.+)$/.exec(label.trim());
    return (ring ? `ring${ring[1]}_${ring[2]}` : label).trim().replace(/\s+/g, "_");
}

/** "name value" lines from /sys/class/net/IF/statistics/*. */
export function parseLinkStats(text: string, iface: string): Record<string, number> {
    const counters: Record<string, number> = {};
    for (const line of text.split("\n")) {
        const [name, value] = line.trim().split(/\s+/);
        if (name && value !== undefined && /^\d+$/.test(value)) {
            counters[`link.${iface}.${name}`] = Number(value);
        }
    }
    return counters;
}
