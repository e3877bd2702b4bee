import type { Rate } from "../../provider/counters/rates";
import { SOURCES, SourceKey } from "../profile/sources";

/** A rising counter and the knob the guides point to for it. */
interface Rule {
    /** Counter names (or patterns, with IF for the interface) this rule reads. */
    counters: RegExp;
    /** What it means, in plain words. */
    meaning: string;
    /** The knob(s) to look at; sysctl keys are read to show their current value. */
    knob: string;
    sysctls: string[];
    sources: SourceKey[];
    /** When a non-zero rate is normal background (a few retransmits), what makes it worth a finding. */
    significant?: (rate: number, rates: Record<string, Rate>) => boolean;
    /**
     * For a counter that also counts what other rules find (InErrors counts every RcvbufErrors):
     * the rate of that part. Only the rest is this rule's finding, and only when it is more than
     * a stray count or two (a sample's skew): over 1/s and over 1% of the counter's rate.
     */
    explainedBy?: (rates: Record<string, Rate>, counter: string) => number;
}

const RULES: Rule[] = [
    {
        counters: /^TcpExt\.ListenOverflows$/,
        meaning: "connections arrived faster than the application accepted them: the accept queue overflowed",
        knob: "net.core.somaxconn (caps every listen() backlog) and the application's own listen() backlog; HighConnectionRateProfile",
        sysctls: ["net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog"],
        sources: ["IPS", "MAJEK"],
    },
    {
        // ListenDrops counts every overflow too: only what it adds beyond them is its own finding.
        counters: /^TcpExt\.ListenDrops$/,
        meaning: "SYNs to a listening socket were dropped beyond accept-queue overflows: a full SYN queue or memory",
        knob: "net.core.somaxconn and the application's listen() backlog, which cap the SYN queue as they cap the accept queue (Linux 4.4 on); net.ipv4.tcp_syncookies = 1 (with it off, net.ipv4.tcp_max_syn_backlog drops early)",
        sysctls: ["net.core.somaxconn", "net.ipv4.tcp_syncookies", "net.ipv4.tcp_max_syn_backlog"],
        sources: ["IPS", "MAJEK"],
        explainedBy: (rates) => rates["TcpExt.ListenOverflows"]?.perSecond ?? 0,
    },
    {
        counters: /^TcpExt\.(SyncookiesSent|TCPReqQFullDrop|TCPReqQFullDoCookies)$/,
        meaning: "the SYN queue filled: half-open connections were answered with cookies or dropped",
        knob: "net.core.somaxconn and the application's listen() backlog, which cap the SYN queue (Linux 4.4 on; net.ipv4.tcp_max_syn_backlog does not); net.ipv4.tcp_syncookies = 1 answers with cookies rather than dropping",
        sysctls: ["net.core.somaxconn", "net.ipv4.tcp_syncookies"],
        sources: ["IPS", "MAJEK"],
    },
    {
        counters: /^Udp6?\.RcvbufErrors$/,
        meaning: "UDP datagrams were dropped because a socket's receive buffer was full",
        knob: "net.core.rmem_default / net.core.rmem_max (or SO_RCVBUF in the application); SipRouterProfile",
        sysctls: ["net.core.rmem_default", "net.core.rmem_max"],
        sources: ["NDUDP", "SIPCONF"],
    },
    {
        counters: /^Udp6?\.MemErrors$/,
        meaning: "UDP datagrams were dropped at the memory limit of all UDP sockets together: above udp_mem's first value (UDP has no pressure mode) a socket already holding net.ipv4.udp_rmem_min is refused, and above its last value every one is",
        knob: "net.ipv4.udp_mem (pages for all UDP sockets; SipRouterProfile derives it from RAM), with net.ipv4.udp_rmem_min the share each socket keeps",
        sysctls: ["net.ipv4.udp_mem", "net.ipv4.udp_rmem_min"],
        sources: ["IPS", "KMEMERR"],
    },
    {
        // InErrors counts full buffers, bad checksums and memory-limit drops too: only what it adds beyond those is its own
        // finding. Kernels without a MemErrors column count the memory-limit drops only here.
        counters: /^Udp6?\.InErrors$/,
        meaning: "UDP datagrams were dropped on receive beyond full buffers, bad checksums and counted memory-limit drops: memory pressure (udp_mem) where the kernel has no MemErrors counter, otherwise a socket filter or IPsec policy",
        knob: "net.ipv4.udp_mem (pages for all UDP sockets; SipRouterProfile derives it from RAM)",
        sysctls: ["net.ipv4.udp_mem"],
        sources: ["KMEMERR", "NDUDP"],
        explainedBy: (rates, counter) => {
            const family = counter.split(".")[0];
            return ["RcvbufErrors", "InCsumErrors", "MemErrors"].reduce((sum, field) => sum + (rates[`${family}.${field}`]?.perSecond ?? 0), 0);
        },
    },
    {
        counters: /^Udp6?\.InCsumErrors$/,
        meaning: "UDP datagrams arrived with bad checksums: corrupted on the path or by the NIC",
        knob: "no sysctl: the NIC and its link (ethtool -S CRC/error counters), or the path",
        sysctls: [],
        sources: ["KCSUM"],
    },
    {
        counters: /^Udp6?\.SndbufErrors$/,
        meaning: "UDP sends failed because a socket's send buffer was full, or the interface's queue was (a qdisc drop comes back to the sender as ENOBUFS, counted here)",
        knob: "net.core.wmem_default / net.core.wmem_max (or SO_SNDBUF); if tc -s qdisc shows drops on the interface, its txqueuelen and qdisc limit (NicOffloads txqueuelen)",
        sysctls: ["net.core.wmem_default", "net.core.wmem_max"],
        sources: ["NDUDPSND"],
    },
    {
        counters: /^softnet\.time_squeeze$/,
        meaning: "the softirq ran out of budget with packets still waiting (time_squeeze)",
        knob: "net.core.netdev_budget and net.core.netdev_budget_usecs",
        sysctls: ["net.core.netdev_budget", "net.core.netdev_budget_usecs"],
        sources: ["NETS"],
    },
    {
        counters: /^softnet\.dropped$/,
        meaning: "packets were dropped because a CPU's input backlog queue was full",
        knob: "net.core.netdev_max_backlog",
        sysctls: ["net.core.netdev_max_backlog"],
        sources: ["NETS"],
    },
    {
        // Any driver's receive drops (ixgbe's rx_no_dma_resources, a queue with no free descriptor; ENA's rx_drops, mlx5's rx_discards_phy and rx_out_of_buffer, rx_queue_0_drops,
        // bnxt's ring0_rx_discards, vmxnet3's rxq0_pkts_rx_OOB, not its drv_dropped total of bad frames and failed
        // buffer allocations), not XDP's or AF_XDP's own drops (mlx5's rx_xsk_drop), nor frames over the MTU
        // (mlx5's rx0_oversize_pkts_sw_drop), nor any tx drop, nor a bare
        // rx_dropped: ixgbe, i40e and igb print the kernel's own rx_dropped under that name (the rule below; i40e's
        // port.rx_dropped and ice's rx_dropped.nic, ice's port counters ending in .nic, are the port's own discards).
        counters: /^(nic\..+\.(?:(?<=\.port\.)|(?!rx_dropped$))(?![^.]*(?:xdp|xsk|oversize|drv_dropped))(?![^.]*(?<![a-z])tx)(?=[^.]*(?<![a-z])rx)[^.]*(drop|discard|missed_errors|fifo_errors|no_buffer|out_of_buffer|no_dma_resources|oob)[^.]*(?:\.nic)?|link\..+\.(rx_missed_errors|rx_fifo_errors))$/i,
        meaning: "the NIC dropped received packets: its ring filled before the kernel drained it",
        knob: "NicRingConfig rings (rx: \"max\"), and IrqAffinity so the queues' interrupts are served",
        sysctls: [],
        sources: ["FD-100G"],
    },
    {
        counters: /^(link|nic)\..+\.rx_over_errors$/,
        meaning: "the NIC dropped received packets that did not fit the buffers the host gave it: the ring's next buffer was not ready, or a frame was larger than the MTU",
        knob: "NicRingConfig rings (rx: \"max\"), and IrqAffinity so the queues' interrupts are served; if frames arrive larger than this link's MTU, the MTU instead",
        sysctls: [],
        sources: ["KSTATS", "FD-100G"],
    },
    {
        counters: /^(link\..+|nic\..+(?<!\.port))\.rx_dropped$/,
        meaning: "the kernel dropped packets the NIC had delivered: a CPU's input backlog was full (softnet.dropped rises too), memory ran short, or no protocol handler took them; not ring overflow",
        knob: "net.core.netdev_max_backlog when softnet.dropped rises with it (per-CPU drops in softnet.cpuN.dropped); otherwise an unhandled protocol or memory pressure, which no knob here fixes",
        sysctls: ["net.core.netdev_max_backlog"],
        sources: ["NETS"],
    },
    {
        counters: /^TcpExt\.TCPBacklogDrop$/,
        meaning: "segments were dropped because a socket's backlog was full while the application held it",
        knob: "net.ipv4.tcp_rmem (receive buffer maximum)",
        sysctls: ["net.ipv4.tcp_rmem"],
        sources: ["IPS"],
    },
    {
        counters: /^(Tcp\.RetransSegs|TcpExt\.TCPTimeouts)$/,
        meaning: "TCP retransmitted: loss on the path or buffers too small for the bandwidth-delay product",
        knob: "net.ipv4.tcp_rmem / tcp_wmem from the path's BDP, fq + bbr; HighThroughputProfile",
        sysctls: ["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem", "net.ipv4.tcp_congestion_control"],
        sources: ["OSG", "FD-100G"],
        // Some retransmission is normal; more than 1% of segments sent is worth a look.
        significant: (rate, rates) => rate > 0.01 * (rates["Tcp.OutSegs"]?.perSecond ?? 0),
    },
];

export interface Finding {
    counter: string;
    perSecond: number;
    meaning: string;
    knob: string;
    /** Current values of the knob's sysctls on the host, where it has them. */
    settings: Record<string, string>;
    sources: string[];
}

/** Which rising counters point at which knob, from the guides. */
export function diagnose(rates: Record<string, Rate>, settings: Record<string, string> = {}): Finding[] {
    const findings: Finding[] = [];
    for (const [counter, rate] of Object.entries(rates)) {
        if (!rate.perSecond || rate.perSecond <= 0) {
            continue;
        }
        const rule = RULES.find((r) => r.counters.test(counter));
        if (!rule || (rule.significant && !rule.significant(rate.perSecond, rates))) {
            continue;
        }
        const perSecond = rule.explainedBy ? rate.perSecond - rule.explainedBy(rates, counter) : rate.perSecond;
        if (rule.explainedBy && !(perSecond > 1 && perSecond > 0.01 * rate.perSecond)) {
            continue;
        }
        findings.push({
            counter,
            perSecond,
            meaning: rule.meaning,
            knob: rule.knob,
            settings: Object.fromEntries(rule.sysctls.filter((k) => settings[k] !== undefined).map((k) => [k, settings[k]])),
            sources: rule.sources.map((s) => (SOURCES[s].url ? `${s} ${SOURCES[s].url}` : s)),
        });
    }
    findings.push(...irqImbalance(rates));
    return findings.sort((a, b) => b.perSecond - a.perSecond);
}

/** Two receive queue IRQs or more: IrqAffinity spreads them over CPUs. */
const SPREAD_QUEUE_IRQS = { knob: "IrqAffinity (spread or numaLocal) for the NIC's queue IRQs", sources: [`SCAL ${SOURCES.SCAL.url}`, `FD-IRQ ${SOURCES["FD-IRQ"].url}`] };
/**
 * One receive queue IRQ (a virtio NIC with one queue pair has an output IRQ beside it, which
 * spreads no receive work): RPS, which the scaling guide sets when a NIC has fewer queues than CPUs.
 */
const SPREAD_RECEIVE_PROCESSING = {
    knob: "PacketSteering (RPS, with RFS): the NIC's one queue IRQ serves one CPU however it is bound, and RPS spreads the receive processing over others",
    sources: [`SCAL ${SOURCES.SCAL.url}`],
};

/** Every NIC interrupt on one CPU while others stay idle: the queue IRQs are not spread, or there is only one. */
function irqImbalance(rates: Record<string, Rate>): Finding[] {
    const perIface = new Map<string, [string, number][]>();
    const receiveIrqs = new Map<string, Set<string>>();
    for (const [name, rate] of Object.entries(rates)) {
        const total = /^irq\.(.+)\.(cpu\d+)$/.exec(name);
        const part = /^irq\.(.+)\.cpu\d+\.(irq\d+)$/.exec(name);
        if (total && rate.perSecond !== null) {
            perIface.set(total[1], [...(perIface.get(total[1]) ?? []), [total[2], rate.perSecond]]);
        } else if (part) {
            receiveIrqs.set(part[1], (receiveIrqs.get(part[1]) ?? new Set()).add(part[2]));
        }
    }
    const findings: Finding[] = [];
    for (const [iface, cpus] of perIface) {
        const total = cpus.reduce((n, [, r]) => n + r, 0);
        const busiest = cpus.reduce((a, b) => (b[1] > a[1] ? b : a), ["", 0] as [string, number]);
        if (cpus.length > 1 && total > 100 && busiest[1] / total > 0.9) {
            findings.push({
                counter: `irq.${iface}.${busiest[0]}`,
                perSecond: busiest[1],
                meaning: `${Math.round((busiest[1] / total) * 100)}% of ${iface}'s interrupts land on ${busiest[0]}`,
                settings: {},
                ...((receiveIrqs.get(iface)?.size ?? 0) >= 2 ? SPREAD_QUEUE_IRQS : SPREAD_RECEIVE_PROCESSING),
            });
        }
    }
    return findings;
}

/**
 * Whether a counter is one a rule (or the IRQ spread) judges: without its rate, "nothing rose"
 * cannot be said. (The RULES' IF stands for the interface, so a pattern matches whole names.)
 */
export const judgedCounter = (counter: string): boolean => RULES.some((r) => r.counters.test(counter)) || /^irq\.(.+)\.cpu\d+$/.test(counter);

/** The sysctls the rules may show, to read alongside the counters. */
export const DIAGNOSED_SYSCTLS = [...new Set(RULES.flatMap((r) => r.sysctls))];
