import { ProfilePlan } from "./profile";

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

export interface LowLatencyFacts {
    /** Leave THP/C-states to the kernel command line; this profile never reboots a host. */
    busyPollMicros?: number;
}

export function lowLatencyPlan(facts: LowLatencyFacts = {}): ProfilePlan {
    const busy = facts.busyPollMicros ?? 50;
    return {
        profile: "low-latency",
        sysctls: {
            "net.core.busy_read": { value: busy, sources: ["TUNED", "NETS"] },
            "net.core.busy_poll": { value: busy, sources: ["TUNED", "NETS"] },
            "net.ipv4.tcp_fastopen": { value: 3, sources: ["TUNED"] },
            "kernel.numa_balancing": { value: 0, sources: ["TUNED"] },
            "kernel.timer_migration": { value: 0, sources: ["TUNED"] },
            "vm.stat_interval": { value: 10, sources: ["TUNED"], note: "tuned's 10 over mlnx_tune's 30" },
            "vm.swappiness": { value: 10, sources: ["TUNED"] },
        },
        nic: { coalesce: { adaptiveRx: false, rxUsecs: 0 }, sources: ["MLNX"] },
        irq: { policy: "numaLocal", sources: ["MLNX", "FD-IRQ"] },
        governor: { governor: ["performance"], energyPerformancePreference: ["performance"], sources: ["TUNED"] },
        choices: [
            "vm.stat_interval: tuned (10) and mlnx_tune (30) disagree; 10 is tuned's shipped network-latency value. Override with 30 for fewer vmstat wake-ups.",
            "IRQ placement: NUMA-local cores minus the application cores (mlnx_tune); Red Hat RT also reports success running the application on the IRQ core - set applicationCpus accordingly.",
            "net.ipv4.tcp_low_latency is not set: it has had no effect since Linux 4.14.",
            "Transparent huge pages (never) and C-state limits are not sysctls and are left to the host's boot configuration.",
        ],
        bootOnly: ["skew_tick=1", "nohz_full=<app cpus>", "rcu_nocbs=<app cpus>", "isolcpus=<app cpus>"],
    };
}

export interface ThroughputFacts {
    linkGbps: number;
    rttMs: number;
    /** Jumbo frames on the path: enables MTU probing. */
    jumboFrames?: boolean;
}

export function highThroughputPlan(facts: ThroughputFacts): ProfilePlan {
    const { bdpBytes, buffer } = bufferForPath(facts.linkGbps, facts.rttMs);
    const note = `BDP ${facts.linkGbps} Gbit/s x ${facts.rttMs} ms = ${bdpBytes} bytes; buffer = 2 x BDP, rounded up to a MiB, >= 16 MiB, <= INT_MAX`;
    const backlog = Math.min(1_000_000, Math.max(250_000, Math.round(facts.linkGbps * 2_500)));
    const plan: ProfilePlan = {
        profile: "high-throughput",
        sysctls: {
            "net.core.rmem_max": { value: buffer, sources: ["OSG", "FD-100G", "derived"], note },
            "net.core.wmem_max": { value: buffer, sources: ["OSG", "FD-100G", "derived"], note },
            "net.ipv4.tcp_rmem": { value: [4096, 131072, buffer], sources: ["OSG", "IPS", "derived"], note },
            "net.ipv4.tcp_wmem": { value: [4096, 16384, buffer], sources: ["OSG", "IPS", "derived"], note },
            "net.core.default_qdisc": { value: "fq", sources: ["FD-100G", "FD-PACE"] },
            "net.ipv4.tcp_congestion_control": { value: "bbr", sources: ["OSG", "FD-PACE"] },
            "net.ipv4.tcp_slow_start_after_idle": { value: 0, sources: ["TUNED"] },
            "net.core.netdev_max_backlog": {
                value: backlog,
                sources: ["OSG", "derived"],
                note: "2500 per Gbit/s, within ESnet's 250000 (10G) .. 1000000 (400G)",
            },
        },
        nic: { rings: { rx: "max", tx: "max" }, coalesce: { adaptiveRx: true, adaptiveTx: true }, sources: ["FD-100G"] },
        irq: { policy: "numaLocal", sources: ["FD-IRQ"] },
        governor: { governor: ["performance"], sources: ["FD-100G", "TUNED"] },
        choices: [
            "netdev_max_backlog: sources range from 1000 (kernel) and 2000 (IBM) to 250000-1000000 (ESnet/Mellanox); high-throughput hosts follow ESnet, scaled with the link.",
            "tcp_rmem/tcp_wmem maximum: computed from the declared path instead of OSG's fixed 10G/100G tiers, so a short path does not get 1 GiB buffers.",
            "net.ipv4.tcp_congestion_control bbr needs the tcp_bbr module (check net.ipv4.tcp_available_congestion_control).",
        ],
        bootOnly: [],
    };
    if (facts.jumboFrames) {
        plan.sysctls["net.ipv4.tcp_mtu_probing"] = { value: 1, sources: ["OSG"] };
    }
    return plan;
}

export interface SipRouterFacts {
    /** The host's RAM, for udp_mem. */
    memoryGiB: number;
    /** Virtual IPs that move between HA peers: allows binding before the address arrives. */
    highAvailabilityVip?: boolean;
    /** SIP listening ports kept out of the ephemeral range. */
    sipPorts?: string;
}

export function sipRouterPlan(facts: SipRouterFacts): ProfilePlan {
    const pages = Math.floor((facts.memoryGiB * 1024 * MIB) / 4096);
    const udpMem = [Math.floor(pages / 16), Math.floor(pages / 8), Math.floor(pages / 4)];
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
                note: `pages of ${facts.memoryGiB} GiB RAM: 1/16 min, 1/8 pressure, 1/4 max (SIPCONF's fixed value is ~73 GiB)`,
            },
            "net.core.netdev_max_backlog": { value: 300000, sources: ["SIPCONF"] },
            "net.ipv4.tcp_max_syn_backlog": { value: 300000, sources: ["SIPCONF"] },
            "net.core.somaxconn": { value: 65535, sources: ["SIPCONF"] },
            "net.ipv4.ip_local_port_range": { value: [4096, 65534], sources: ["KAM"] },
            "net.ipv4.ip_local_reserved_ports": { value: facts.sipPorts ?? "5060-5061", sources: ["derived"], note: "keeps the SIP ports out of the ephemeral range" },
            "net.ipv4.tcp_keepalive_time": { value: 60, sources: ["SIPCONF"] },
            "net.ipv4.tcp_keepalive_probes": { value: 5, sources: ["SIPCONF"] },
            "net.ipv4.tcp_keepalive_intvl": { value: 60, sources: ["SIPCONF"] },
            "net.ipv4.tcp_fin_timeout": { value: 15, sources: ["SIPCONF"] },
            "net.ipv4.tcp_retries2": { value: 8, sources: ["IPS"], note: "RFC 1122's ~100 s minimum, over SIPCONF's 5" },
            "net.ipv4.tcp_timestamps": { value: 1, sources: ["KAM", "IPS"], note: "kept on (PAWS, RTT), over SIPCONF's 0" },
            "fs.file-max": { value: { atLeast: 500000 }, sources: ["SIPCONF"], note: "services also need LimitNOFILE" },
        },
        nic: { rings: { rx: "max", tx: "max" }, sources: ["VOIP1", "SCAL"] },
        irq: { policy: "spread", sources: ["VOIP1", "SCAL"] },
        choices: [
            "ip_local_port_range: Kamailio's 4096-65534 over SIPCONF's 1024-65535, keeping well-known ports out; SIP ports reserved explicitly.",
            "tcp_retries2: 8 (kernel docs, RFC 1122) over SIPCONF's 5, which drops live TCP SIP sessions after ~6 s of loss.",
            "tcp_timestamps: on (Kamailio) over SIPCONF's off: PAWS and RTT measurement need them.",
            "udp_mem: derived from RAM; SIPCONF's fixed value allows ~73 GiB of UDP buffers.",
            "net.ipv4.tcp_tw_recycle is never set: removed in Linux 4.12 (SIP guides still list it).",
        ],
        bootOnly: [],
    };
    if (facts.highAvailabilityVip) {
        plan.sysctls["net.ipv4.ip_nonlocal_bind"] = { value: 1, sources: ["SIPCONF"] };
    }
    return plan;
}

export interface ConnectionRateFacts {
    connectionsPerSecond: number;
    /** Longest time the application may take to accept() a ready connection. Default 100 ms. */
    acceptStallMs?: number;
    /** Handshake time (about one RTT). Default 100 ms. */
    handshakeMs?: number;
}

export function highConnectionRatePlan(facts: ConnectionRateFacts): ProfilePlan {
    const accept = Math.ceil((facts.connectionsPerSecond * (facts.acceptStallMs ?? 100)) / 1000);
    const syn = Math.ceil((facts.connectionsPerSecond * (facts.handshakeMs ?? 100)) / 1000);
    const acceptQueue = Math.min(65535, Math.max(4096, accept));
    const synQueue = Math.max(4096, syn);
    return {
        profile: "high-connection-rate",
        sysctls: {
            "net.core.somaxconn": {
                value: { atLeast: acceptQueue },
                sources: ["IPS", "MAJEK", "derived"],
                note: `${facts.connectionsPerSecond} conn/s x ${facts.acceptStallMs ?? 100} ms accept stall; the listen() backlog must be raised too`,
            },
            "net.ipv4.tcp_max_syn_backlog": {
                value: { atLeast: synQueue },
                sources: ["IPS", "derived"],
                note: `${facts.connectionsPerSecond} conn/s x ${facts.handshakeMs ?? 100} ms handshake (~304 bytes per entry)`,
            },
            "net.ipv4.tcp_syncookies": { value: 1, sources: ["IPS"] },
            "net.ipv4.tcp_abort_on_overflow": { value: 0, sources: ["IPS"] },
            "net.ipv4.ip_local_port_range": { value: [10240, 65535], sources: ["IPS"] },
            "net.ipv4.tcp_fin_timeout": { value: { atMost: 30 }, sources: ["IPS"] },
        },
        choices: [
            "tcp_tw_reuse is left at the kernel default (2: loopback only) and tcp_max_tw_buckets is never lowered (IPS).",
            "somaxconn defaults to 4096 since Linux 5.4; it is only ever raised here.",
        ],
        bootOnly: [],
    };
}
