import * as pulumi from "@pulumi/pulumi";
import { CounterEvidence } from "../../provider/counters/resource";
import { HostTuning } from "../../provider/host-tuning/resource";
import type { ConnectionArgs } from "../../provider/transport/connection";
import { RolloutVerdict, WaveGate } from "../../provider/wave-gate/resource";
import { HostAssignment, assignHost } from "./assign";
import { FleetConfig, FleetConfigInput, InventoryHost, mergedConnection, parseFleetConfig, readPrivateKey } from "./inventory";
import { GateOutputs, HostEvidence, HostRecord, WaveSummary, hostRecords, waveSummaries } from "./report";
import { Wave, planWaves } from "./waves";

export interface FleetArgs extends FleetConfigInput {
    /** The fleet-wide private key (a secret), for hosts whose connection names no privateKeyPath. */
    privateKey?: pulumi.Input<string>;
}

/**
 * A fleet rolled out in waves. Each host is one HostTuning; after each wave a WaveGate verifies
 * the live values, runs the health check and applies the failure budget, and the next wave's
 * hosts are created after it and take its verdict as `admitted`, so a plain `pulumi up` never
 * touches a later wave before the gate before it passed. A RolloutVerdict then fails the run if a
 * wave halted, after the report is recorded.
 */
export class Fleet extends pulumi.ComponentResource {
    public readonly config: FleetConfig;
    public readonly waves: Wave[];
    /** Per host: wave, status, drift, skipped keys, check output. */
    public readonly hostRecords: pulumi.Output<Record<string, HostRecord>>;
    public readonly waveSummaries: pulumi.Output<WaveSummary[]>;
    public readonly hosts: Record<string, HostTuning> = {};

    constructor(name: string, args: FleetArgs, opts?: pulumi.ComponentResourceOptions) {
        super("linux-tuning:fleet:Fleet", name, {}, opts);
        const { privateKey, ...declared } = args;
        // Everything is resolved before any resource exists: a bad config, a conflict or a missing fact fails the preview.
        this.config = asRunError(() => parseFleetConfig(declared));
        const assigned = new Map(this.config.hosts.map((h) => [h.name, asRunError(() => planHost(this.config, h))]));
        this.waves = planWaves(this.config);

        const gates: WaveGate[] = [];
        const evidence: Record<string, CounterEvidence> = {};
        let previous: WaveGate | undefined;
        for (const wave of this.waves) {
            const admitted = previous ? previous.passed : true;
            const members = wave.hosts.map((host) => {
                const connection = asRunError(() => connectionOf(this.config, host, privateKey));
                const { parts, counters } = assigned.get(host.name)!;
                const afterGate = previous ? [previous] : [];
                let measured: CounterEvidence | undefined;
                if (this.config.evidence !== false && counters.length > 0) {
                    measured = new CounterEvidence(`${name}-${host.name}-evidence`, { connection, interface: host.facts.interface, counters, windowSeconds: this.config.evidence.windowSeconds, admitted }, { parent: this, dependsOn: afterGate });
                    evidence[host.name] = measured;
                }
                // The baseline is taken before the host's first write.
                const tuning = new HostTuning(`${name}-${host.name}`, { connection, admitted, ...parts }, { parent: this, dependsOn: [...afterGate, ...(measured ? [measured] : [])] });
                this.hosts[host.name] = tuning;
                return { name: host.name, connection, interface: host.facts.interface, status: tuning.status, parts: tuning.parts, revision: tuning.revision };
            });
            previous = new WaveGate(`${name}-wave-${wave.number}`, { wave: wave.number, hosts: members, maxFailures: wave.maxFailures, healthCheck: this.config.rollout.healthCheck, counterConditions: this.config.rollout.counterConditions, admitted }, { parent: this });
            gates.push(previous);
        }

        const gateOutputs = pulumi.all(gates.map((g) => pulumi.all([g.passed, g.outcome, g.failed, g.allowed, g.results]))).apply((all) =>
            all.map(([passed, outcome, failed, allowed, results], i): GateOutputs => ({ wave: i + 1, passed, outcome, failed, allowed, results })),
        );
        const skipped = pulumi.all(Object.fromEntries(Object.entries(this.hosts).map(([n, t]) => [n, t.skipped])));
        const measured = pulumi.all(Object.entries(evidence).map(([n, e]) => pulumi.all([e.before, e.now]).apply(([before, now]): [string, HostEvidence] => [n, { before, now }])));
        this.hostRecords = pulumi.all([gateOutputs, skipped, measured]).apply(([g, s, m]) => hostRecords(g, s, Object.fromEntries(m)));
        this.waveSummaries = gateOutputs.apply(waveSummaries);
        new RolloutVerdict(`${name}-rollout`, { waves: gateOutputs }, { parent: this, dependsOn: gates });
        this.registerOutputs({ hosts: this.hostRecords, waves: this.waveSummaries });
    }
}

/** Errors in what the user declared, shown as the message alone (not as a crash with a stack trace). */
function asRunError<T>(fn: () => T): T {
    try {
        return fn();
    } catch (e) {
        throw new pulumi.RunError((e as Error).message);
    }
}

function planHost(config: FleetConfig, host: InventoryHost): HostAssignment {
    const assignment = assignHost(config, host);
    if (assignment.from.length === 0) {
        throw new Error(`${host.name}: no assignment selects this host (labels ${JSON.stringify(host.labels)})`);
    }
    return assignment;
}

function connectionOf(config: FleetConfig, host: InventoryHost, privateKey: pulumi.Input<string> | undefined): ConnectionArgs {
    const { fields, keyFile } = mergedConnection(config.defaults, host.connection);
    const key = keyFile ? pulumi.secret(readPrivateKey(keyFile, host)) : privateKey;
    return { ...(fields as unknown as ConnectionArgs), ...(key !== undefined ? { privateKey: key } : {}) };
}
