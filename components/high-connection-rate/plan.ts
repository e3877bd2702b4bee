import { ProfilePlan, requirePositiveFacts } from "../profile/plan";

const INT_MAX = 2147483647;
/** The largest accept queue every kernel takes (somaxconn was a 16-bit field before Linux 4.x). */
const MAX_ACCEPT_QUEUE = 65535;

export interface ConnectionRateFacts {
    connectionsPerSecond: number;
    /** Longest time the application may take to accept() a ready connection. Default 100 ms. */
    acceptStallMs?: number;
    /** Handshake time (about one RTT). Default 100 ms. */
    handshakeMs?: number;
}

export function highConnectionRatePlan(facts: ConnectionRateFacts): ProfilePlan {
    requirePositiveFacts("high-connection-rate", {
        connectionsPerSecond: { value: facts.connectionsPerSecond, max: 100_000_000, unit: "connections a second", required: true },
        acceptStallMs: { value: facts.acceptStallMs, max: 60_000, unit: "ms" },
        handshakeMs: { value: facts.handshakeMs, max: 60_000, unit: "ms" },
    });
    const accept = Math.ceil((facts.connectionsPerSecond * (facts.acceptStallMs ?? 100)) / 1000);
    const syn = Math.ceil((facts.connectionsPerSecond * (facts.handshakeMs ?? 100)) / 1000);
    // somaxconn caps both queues of a listener (the SYN queue too, since Linux 4.4): the larger need sizes it.
    const needed = Math.max(accept, syn);
    const queues = Math.min(MAX_ACCEPT_QUEUE, Math.max(4096, needed));
    const synQueue = Math.min(INT_MAX, Math.max(4096, syn));
    const sizing = `${facts.connectionsPerSecond} conn/s x ${syn > accept ? `${facts.handshakeMs ?? 100} ms handshake (the SYN queue, which it caps too since Linux 4.4)` : `${facts.acceptStallMs ?? 100} ms accept stall`}`;
    return {
        profile: "high-connection-rate",
        sysctls: {
            "net.core.somaxconn": {
                value: { atLeast: queues },
                sources: ["IPS", "MAJEK", "derived"],
                note: `${sizing}${needed > MAX_ACCEPT_QUEUE ? ` = ${needed}, capped at ${MAX_ACCEPT_QUEUE} (the largest every kernel takes): accept faster or spread over more listeners` : ""}; the listen() backlog must be raised too`,
            },
            "net.ipv4.tcp_max_syn_backlog": {
                value: { atLeast: synQueue },
                sources: ["IPS", "MAJEK", "derived"],
                note: `${facts.connectionsPerSecond} conn/s x ${facts.handshakeMs ?? 100} ms handshake (~304 bytes per entry); since Linux 4.4 it only drops early with tcp_syncookies = 0, somaxconn capping the SYN queue`,
            },
            "net.ipv4.tcp_syncookies": { value: 1, sources: ["IPS"] },
            "net.ipv4.tcp_abort_on_overflow": { value: 0, sources: ["IPS"] },
            "net.ipv4.ip_local_port_range": {
                value: { covers: [10240, 65535] },
                sources: ["derived", "IPS"],
                note: "more ephemeral ports for the outbound connections an API host makes to its backends, never fewer: a host's wider range is kept; the two ends of different parity, as IPS advises (its default is 32768 60999)",
            },
            "net.ipv4.tcp_fin_timeout": {
                value: { atMost: 30 },
                sources: ["derived", "IPS"],
                note: "orphaned FIN_WAIT_2 sockets of many short connections freed after 30 s rather than the kernel's 60 (IPS)",
            },
        },
        choices: [
            "tcp_tw_reuse is left at the kernel default (2: loopback only) and tcp_max_tw_buckets is never lowered (IPS).",
            "somaxconn defaults to 4096 since Linux 5.4; it is only ever raised here.",
        ],
        bootOnly: [],
        improves: { value: ["TcpExt.ListenOverflows", "TcpExt.ListenDrops"], sources: ["IPS", "MAJEK"] },
    };
}
