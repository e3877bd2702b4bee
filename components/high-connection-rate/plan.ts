import { ProfilePlan } from "../profile/plan";

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
        improves: { value: ["TcpExt.ListenOverflows", "TcpExt.ListenDrops"], sources: ["IPS", "MAJEK"] },
    };
}
