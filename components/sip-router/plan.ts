import { txqueuelenForLink } from "../high-throughput/plan";
import { ProfileFactError, ProfilePlan, requirePositiveFacts } from "../profile/plan";

const MIB = 1024 * 1024;

export interface SipRouterFacts {
    /** The host's RAM, for udp_mem. */
    memoryGiB: number;
    /** The kernel's page size in KiB (`getconf PAGESIZE` / 1024), which udp_mem counts in: 4 on x86-64, 16 or 64 on some arm64 and ppc64le kernels. Default 4. */
    pageSizeKiB?: 4 | 16 | 64;
    /** Virtual IPs that move between HA peers: allows binding before the address arrives. */
    highAvailabilityVip?: boolean;
    /** SIP listening ports kept out of the ephemeral range. */
    sipPorts?: string;
    /** The link speed: at 10 Gbit/s and above the transmit queue is lengthened (OSG's tiers: 10000, 15000 at 40G, 20000 at 100G). */
    linkGbps?: number;
    /**
     * The NIC's receive queues and the host's CPUs: with fewer queues than CPUs, RPS spreads
     * receive processing over the CPUs and RFS steers each flow to its application's CPU.
     */
    rxQueues?: number;
    cpus?: number;
}

/** docs.kernel.org networking/scaling: 32768 flow entries for a moderately loaded server. */
const RFS_FLOW_ENTRIES = 32768;

export function sipRouterPlan(facts: SipRouterFacts): ProfilePlan {
    requirePositiveFacts("sip-router", {
        memoryGiB: { value: facts.memoryGiB, max: 1 << 20, unit: "GiB", required: true },
        linkGbps: { value: facts.linkGbps, max: 1600, unit: "Gbit/s" },
        rxQueues: { value: facts.rxQueues, max: 4096, unit: "receive queues", whole: true },
        cpus: { value: facts.cpus, max: 8192, unit: "CPUs", whole: true },
    });
    if ((facts.rxQueues === undefined) !== (facts.cpus === undefined)) {
        // One alone would leave RPS/RFS out in silence: the profile compares the two.
        const [given, missing] = facts.rxQueues === undefined ? ["cpus", "rxQueues"] : ["rxQueues", "cpus"];
        throw new ProfileFactError(`sip-router: ${given} is given without ${missing}: RPS/RFS is planned from the two together (when the NIC has fewer receive queues than CPUs); give both, or neither`);
    }
    const pageSizeKiB = facts.pageSizeKiB ?? 4;
    if (![4, 16, 64].includes(pageSizeKiB)) {
        throw new ProfileFactError(`sip-router: pageSizeKiB: ${pageSizeKiB} is not a kernel page size (4, 16 or 64)`);
    }
    const pages = Math.floor((facts.memoryGiB * 1024 * MIB) / (pageSizeKiB * 1024));
    // UDP keeps no pressure state: past min, a socket holding more than udp_rmem_min is refused
    // (Udp.MemErrors), so min is the limit that counts, and none may be below the kernel's own
    // (3/32, 1/8 and 3/16 of free pages, udp_init()).
    const udpMem = [Math.floor(pages / 8), Math.floor(pages / 6), Math.floor(pages / 4)];
    const plan: ProfilePlan = {
        profile: "sip-router",
        sysctls: {
            "net.core.rmem_max": { value: 67108864, sources: ["SIPCONF"] },
            "net.core.wmem_max": { value: 33554432, sources: ["SIPCONF"] },
            "net.core.rmem_default": { value: 31457280, sources: ["SIPCONF"] },
            "net.core.wmem_default": { value: 31457280, sources: ["SIPCONF"] },
            "net.ipv4.udp_rmem_min": { value: 131072, sources: ["SIPCONF"] },
            "net.ipv4.udp_wmem_min": { value: 131072, sources: ["SIPCONF"] },
            "net.ipv4.udp_mem": {
                value: udpMem,
                sources: ["NDUDP", "derived"],
                note: `${pageSizeKiB} KiB pages of ${facts.memoryGiB} GiB RAM: 1/8 min, 1/6 pressure, 1/4 max, each above the kernel's default; min is where UDP starts refusing (SIPCONF's fixed value is ~73 GiB)`,
            },
            "net.core.netdev_max_backlog": { value: 300000, sources: ["SIPCONF"] },
            "net.ipv4.tcp_max_syn_backlog": { value: 300000, sources: ["SIPCONF"] },
            "net.core.somaxconn": { value: 65535, sources: ["SIPCONF"] },
            "net.ipv4.ip_local_port_range": { value: [4096, 65535], sources: ["KAM", "IPS"], note: "Kamailio's 4096-65534 with the upper end odd: the two ends of different parity, as IPS advises" },
            "net.ipv4.ip_local_reserved_ports": { value: facts.sipPorts ?? "5060-5061", sources: ["derived"], note: "keeps the SIP ports out of the ephemeral range" },
            "net.ipv4.tcp_keepalive_time": { value: 60, sources: ["SIPCONF"] },
            "net.ipv4.tcp_keepalive_probes": { value: 5, sources: ["SIPCONF"] },
            "net.ipv4.tcp_keepalive_intvl": { value: 60, sources: ["SIPCONF"] },
            "net.ipv4.tcp_fin_timeout": { value: 15, sources: ["SIPCONF"] },
            "net.ipv4.tcp_retries2": { value: 8, sources: ["IPS"], note: "RFC 1122's ~100 s minimum, over SIPCONF's 5" },
            "net.ipv4.tcp_timestamps": { value: 1, sources: ["KAM", "IPS"], note: "kept on (PAWS, RTT), over SIPCONF's 0" },
            "fs.file-max": { value: { atLeast: 500000 }, sources: ["SIPCONF"], note: "services also need LimitNOFILE" },
        },
        nic: { rings: { rx: "max", tx: "max" }, sources: ["FD-100G", "RH9-RING"] },
        irq: { policy: "spread", sources: ["VOIP1", "SCAL"] },
        choices: [
            "ip_local_port_range: Kamailio's 4096-65534 (its upper end made odd, 65535) over SIPCONF's 1024-65535, keeping well-known ports out; SIP ports reserved explicitly.",
            "tcp_retries2: 8 (kernel docs, RFC 1122) over SIPCONF's 5, which drops live TCP SIP sessions after ~12.6 s of loss.",
            "tcp_timestamps: on (Kamailio) over SIPCONF's off: PAWS and RTT measurement need them.",
            "udp_mem: derived from RAM; SIPCONF's fixed value allows ~73 GiB of UDP buffers.",
            "net.ipv4.tcp_tw_recycle is never set: removed in Linux 4.12 (SIP guides still list it).",
            "RPS/RFS only when the declared rxQueues are fewer than the declared cpus (SCAL: with a queue per CPU, RSS already spreads the load and RPS only adds inter-processor interrupts).",
        ],
        bootOnly: [],
        // The UDP buffers first; then what its backlog (softnet.dropped), rings (the NIC's drops) and
        // listen queues (SIP over TCP/TLS) are set for.
        improves: {
            value: ["Udp.RcvbufErrors", "Udp.MemErrors", "Udp.InErrors", "Udp6.RcvbufErrors", "Udp6.MemErrors", "softnet.dropped", "link.IF.rx_dropped", "link.IF.rx_missed_errors", "TcpExt.ListenOverflows", "TcpExt.ListenDrops"],
            sources: ["NDUDP", "SIPCONF", "NETS", "RH9-RING"],
        },
    };
    if (facts.linkGbps !== undefined && facts.linkGbps >= 10) {
        plan.queueLength = { txqueuelen: txqueuelenForLink(facts.linkGbps), sources: ["VOIP4", "OSG"], note: "VOIP4: longer than 1000 at 10G and above; OSG's tier for the link speed, its low end" };
        plan.choices.push(
            "txqueuelen: only the fifo qdiscs read it (pfifo_fast, and pfifo or bfifo added without a limit); fq_codel (systemd's default_qdisc) and fq keep their own packet limits (10240, 10000), so on such a host the value is inert and the qdisc's limit is what to raise.",
        );
    }
    if (facts.rxQueues !== undefined && facts.cpus !== undefined && facts.rxQueues < facts.cpus) {
        plan.steering = { flowEntries: RFS_FLOW_ENTRIES, sources: ["SCAL"], note: `${facts.rxQueues} receive queues for ${facts.cpus} CPUs: rps_flow_cnt = ${RFS_FLOW_ENTRIES} / queues` };
    }
    if (facts.highAvailabilityVip) {
        plan.sysctls["net.ipv4.ip_nonlocal_bind"] = { value: 1, sources: ["SIPCONF"] };
    }
    return plan;
}
