import { ProfilePlan, requirePositiveFacts } from "../profile/plan";

const MIB = 1024 * 1024;
const INT_MAX = 2147483647;

/**
 * Socket buffer ceiling for a path: twice the bandwidth-delay product, because with
 * tcp_adv_win_scale = 1 only half of the buffer is advertised as window (IPS; CF keeps the 2×
 * headroom on ≥ 6.6 too). Rounded up to a MiB, never below tuned's 16 MiB, and capped at
 * INT_MAX because rmem_max and tcp_rmem are C ints.
 */
export function bufferForPath(linkGbps: number, rttMs: number): { bdpBytes: number; buffer: number } {
    const bdpBytes = Math.ceil((linkGbps * 1e9 * (rttMs / 1000)) / 8);
    const buffer = Math.min(INT_MAX, Math.max(16 * MIB, Math.ceil((2 * bdpBytes) / MIB) * MIB));
    return { bdpBytes, buffer };
}

/** OSG's transmit queue length tiers: 10000 below 40G, 15000-18000 at 40G, 20000-25000 at 100G; the low end of each. */
export function txqueuelenForLink(linkGbps: number): number {
    return linkGbps >= 100 ? 20000 : linkGbps >= 40 ? 15000 : 10000;
}

export interface ThroughputFacts {
    linkGbps: number;
    rttMs: number;
    /** Jumbo frames on the path: enables MTU probing. */
    jumboFrames?: boolean;
}

export function highThroughputPlan(facts: ThroughputFacts): ProfilePlan {
    requirePositiveFacts("high-throughput", { linkGbps: { value: facts.linkGbps, max: 1600, unit: "Gbit/s", required: true }, rttMs: { value: facts.rttMs, max: 10_000, unit: "ms", required: true } });
    const { bdpBytes, buffer } = bufferForPath(facts.linkGbps, facts.rttMs);
    const capped = buffer === INT_MAX ? `; capped at INT_MAX, ${(buffer / bdpBytes).toFixed(2)} x BDP, the most a C int holds` : "";
    const note = `BDP ${facts.linkGbps} Gbit/s x ${facts.rttMs} ms = ${bdpBytes} bytes; buffer = 2 x BDP, rounded up to a MiB, >= 16 MiB, <= INT_MAX${capped}`;
    const backlog = Math.min(1_000_000, Math.max(250_000, Math.round(facts.linkGbps * 2_500)));
    const plan: ProfilePlan = {
        profile: "high-throughput",
        sysctls: {
            "net.core.rmem_max": { value: buffer, sources: ["OSG", "FD-100G", "derived"], note },
            "net.core.wmem_max": { value: buffer, sources: ["OSG", "FD-100G", "derived"], note },
            "net.ipv4.tcp_rmem": { value: [4096, 131072, buffer], sources: ["OSG", "IPS", "derived"], note },
            "net.ipv4.tcp_wmem": { value: [4096, 16384, buffer], sources: ["OSG", "IPS", "derived"], note },
            "net.core.default_qdisc": {
                value: "fq",
                sources: ["FD-100G", "FD-PACE"],
                note: "applies to qdiscs created after the change: an interface already up keeps its root qdisc until the next boot or until it is brought up again",
            },
            "net.ipv4.tcp_congestion_control": { value: "bbr", sources: ["OSG", "FD-PACE"] },
            "net.ipv4.tcp_slow_start_after_idle": { value: 0, sources: ["TUNED"] },
            "net.core.netdev_max_backlog": {
                value: backlog,
                sources: ["OSG", "derived"],
                note: "ESnet's 250000 up to 100G, then 2500 per Gbit/s up to their 1000000 (400G)",
            },
        },
        nic: { rings: { rx: "max", tx: "max" }, coalesce: { adaptiveRx: true, adaptiveTx: true }, sources: ["FD-100G"] },
        irq: { policy: "numaLocal", sources: ["FD-IRQ"] },
        governor: { governor: ["performance"], sources: ["FD-100G", "TUNED"] },
        queueLength: { txqueuelen: txqueuelenForLink(facts.linkGbps), sources: ["OSG"], note: "OSG's tier for the link speed, its low end" },
        modules: { value: ["tcp_bbr"], sources: ["OSG", "FD-PACE"], note: "bbr is a module on most distribution kernels: loaded before the congestion control is set" },
        choices: [
            "netdev_max_backlog: sources range from 1000 (kernel) and 2000 (IBM) to 250000-1000000 (ESnet/Mellanox); high-throughput hosts follow ESnet, scaled with the link.",
            "tcp_rmem/tcp_wmem maximum: computed from the declared path instead of OSG's fixed 10G/100G tiers, so a short path does not get 1 GiB buffers.",
            "net.ipv4.tcp_congestion_control bbr needs the tcp_bbr module: a KernelModule loads and persists it first; a host that cannot load it fails the preview, naming the module, and an override to another congestion control drops the module.",
            "txqueuelen: OSG gives ranges (15000-18000 at 40G, 20000-25000 at 100G); the low end is taken. The fifo qdiscs read it (pfifo_fast, and pfifo or bfifo added without a limit): fq and fq_codel keep their own packet limits (10000, 10240), so once the NIC's qdisc is this profile's fq (default_qdisc applies to qdiscs created after it, at the next boot for a NIC already up) the value is inert.",
            "net.ipv4.tcp_mtu_probing = 1 (OSG) only when the host declares jumboFrames: probing finds the path's MTU where a jumbo-frame host talks across a smaller-MTU hop.",
            "net.ipv4.tcp_mem is left at the kernel's default (3/64, 1/16 and 3/32 of free RAM for all TCP sockets, tcp_init_mem()): one flow filling a 1.17 GiB buffer (100 Gbit/s x 50 ms) already reaches its pressure level on a 16 GiB host, where buffers stop growing; size tcp_mem with an override on such a host.",
        ],
        bootOnly: [],
        // softnet.dropped by netdev_max_backlog, the NIC's drops by its rings; time_squeeze would need netdev_budget, which it leaves.
        improves: { value: ["Tcp.RetransSegs", "softnet.dropped", "link.IF.rx_dropped", "link.IF.rx_missed_errors"], sources: ["OSG", "FD-100G", "NETS"] },
    };
    if (facts.jumboFrames) {
        plan.sysctls["net.ipv4.tcp_mtu_probing"] = { value: 1, sources: ["OSG"] };
    }
    return plan;
}
