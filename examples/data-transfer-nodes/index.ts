// Data-transfer nodes (DTNs) tuned with the high-throughput profile: socket buffers sized from
// the bandwidth-delay product of the path each node serves, fq + bbr, NIC rings at max.
// Nodes are labelled with their path; each path is one assignment with its own facts, and a
// node's own facts (a longer rttMs for one far-away peer) win over its path's.
import * as pulumi from "@pulumi/pulumi";
import { Fleet, FleetArgs, bufferForPath, highThroughputPlan } from "pulumi-linux-tuning";

interface PathFacts {
    linkGbps: number;
    rttMs: number;
}

const config = new pulumi.Config();
const paths = config.getObject<Record<string, PathFacts>>("paths") ?? {
    regional: { linkGbps: 100, rttMs: 10 },
    "long-haul": { linkGbps: 100, rttMs: 80 },
};

const hosts = config.requireObject<FleetArgs["hosts"]>("hosts");
// Only the paths some node serves: an assignment that selects no host is refused as a likely typo.
const served = new Set(hosts.map((host) => host.labels?.path));

const fleet = new Fleet("dtn", {
    hosts,
    assignments: Object.entries(paths)
        .filter(([path]) => served.has(path))
        .map(([path, facts]) => ({ select: { path }, profile: "high-throughput" as const, facts })),
    // A canary, then the rest; the gate re-reads every value before the next wave.
    rollout: { serial: [1, "100%"] },
    privateKey: config.requireSecret("sshPrivateKey"),
});

/**
 * The arithmetic behind each node's buffers, as the profile does it (bufferForPath): BDP = link x
 * RTT / 8; buffer = 2 x BDP (only half of a buffer is advertised as window), rounded up to a MiB,
 * at least 16 MiB, at most INT_MAX. It becomes net.core.rmem_max/wmem_max and the tcp_rmem/tcp_wmem maximum.
 */
export const buffers = Object.fromEntries(
    fleet.config.hosts.map((host) => {
        const facts = { ...paths[host.labels.path], ...host.facts } as PathFacts;
        const { bdpBytes, buffer } = bufferForPath(facts.linkGbps, facts.rttMs);
        const tcpRmem = highThroughputPlan(facts).sysctls["net.ipv4.tcp_rmem"];
        return [host.name, { path: host.labels.path, linkGbps: facts.linkGbps, rttMs: facts.rttMs, bdpBytes, bufferBytes: buffer, tcpRmem: tcpRmem.value, why: tcpRmem.note }];
    }),
);
export const hostRecords = fleet.hostRecords;
export const waveSummaries = fleet.waveSummaries;
