import * as pulumi from "@pulumi/pulumi";
import { HostTuning } from "../../provider/host-tuning/resource";
import type { ConnectionArgs } from "../../provider/transport/connection";
import { WaveEvidence } from "../../provider/wave-evidence/resource";
import { RolloutVerdict, WaveGate } from "../../provider/wave-gate/resource";
import { planHost } from "./assign";
import { FleetConfig, FleetConfigError, FleetConfigInput, FleetKey, InventoryHost, connectionFields, parseFleetConfig, readPrivateKey } from "./inventory";
import { GateOutputs, HostEvidence, HostRecord, WaveSummary, hostEvidence, hostRecords, waveSummaries } from "./report";
import { Wave, planWaves } from "./waves";

export interface FleetArgs extends FleetConfigInput {
    /** The fleet-wide private key (a secret), for hosts whose connection names no privateKeyPath. */
    privateKey?: pulumi.Input<string>;
    /** The passphrase (a secret) of the fleet's key and of every key read from a privateKeyPath. */
    privateKeyPassword?: pulumi.Input<string>;
    /**
     * false: a halted wave is reported in `halted` rather than failing the engine run, so the run
     * still deletes the hosts taken out of the inventory (the rollout command's choice; default true).
     */
    haltFailsRun?: boolean;
}

/**
 * A fleet rolled out in waves. Each host is one HostTuning, after its wave's WaveEvidence took the
 * baselines of the counters its profiles watch; after each wave a WaveGate verifies
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
    /** Why the rollout halted, under `haltFailsRun: false`; undefined when no wave did. */
    public readonly halted: pulumi.Output<string | undefined>;

    constructor(name: string, args: FleetArgs, opts?: pulumi.ComponentResourceOptions) {
        super("linux-tuning:fleet:Fleet", name, {}, opts);
        const { privateKey, privateKeyPassword, haltFailsRun, ...declared } = args;
        // Everything is resolved before any resource exists: a bad config, a conflict or a missing fact fails the preview.
        this.config = parseFleetConfig(declared);
        // Every host's problems in one preview, not only the first host's.
        const problems: string[] = [];
        const forEveryHost = <T>(fn: (host: InventoryHost) => T): Map<string, T> => {
            const results = new Map<string, T>();
            for (const host of this.config.hosts) {
                try {
                    results.set(host.name, fn(host));
                } catch (e) {
                    problems.push((e as Error).message);
                }
            }
            return results;
        };
        const assigned = forEveryHost((host) => planHost(this.config, host));
        const connections = forEveryHost((host) => connectionOf(this.config, host, { privateKey, privateKeyPassword }));
        if (problems.length > 0) {
            throw new FleetConfigError(problems.join("\n"));
        }
        this.waves = planWaves(this.config);

        const gates: WaveGate[] = [];
        const evidence: WaveEvidence[] = [];
        let previous: WaveGate | undefined;
        for (const wave of this.waves) {
            const admitted = previous ? previous.passed : true;
            const afterGate = previous ? [previous] : [];
            const watched = wave.hosts
                .filter((host) => assigned.get(host.name)!.counters.length > 0)
                .map((host) => ({ name: host.name, connection: connections.get(host.name), interface: assigned.get(host.name)!.interface, counters: assigned.get(host.name)!.counters }));
            const measured =
                this.config.evidence !== false && watched.length > 0
                    ? new WaveEvidence(`${name}-wave-${wave.number}-evidence`, { wave: wave.number, hosts: watched, windowSeconds: this.config.evidence.windowSeconds, admitted }, { parent: this, dependsOn: afterGate })
                    : undefined;
            if (measured) {
                evidence.push(measured);
            }
            // Every baseline of the wave is taken before its hosts' first writes.
            const beforeTuning = [...afterGate, ...(measured ? [measured] : [])];
            const members = wave.hosts.map((host) => {
                const connection = connections.get(host.name)!;
                const waveBaseline = measured?.evidence.apply((records) => {
                    const record = records[host.name];
                    return record && { before: record.before, ...(record.unmeasured !== undefined ? { unmeasured: record.unmeasured } : {}) };
                });
                const tuning = new HostTuning(`${name}-${host.name}`, { connection, admitted, waveBaseline, ...assigned.get(host.name)!.parts }, { parent: this, dependsOn: beforeTuning });
                this.hosts[host.name] = tuning;
                return { name: host.name, connection, interface: assigned.get(host.name)!.interface, status: tuning.status, parts: tuning.parts, revision: tuning.revision };
            });
            previous = new WaveGate(`${name}-wave-${wave.number}`, { wave: wave.number, hosts: members, maxFailures: wave.maxFailures, healthCheck: this.config.rollout.healthCheck, counterConditions: this.config.rollout.counterConditions, admitted }, { parent: this });
            gates.push(previous);
        }

        const gateOutputs = pulumi.all(gates.map((g) => pulumi.all([g.passed, g.outcome, g.failed, g.allowed, g.results]))).apply((all) =>
            all.map(([passed, outcome, failed, allowed, results], i): GateOutputs => ({ wave: i + 1, passed, outcome, failed, allowed, results })),
        );
        const skipped = pulumi.all(Object.fromEntries(Object.entries(this.hosts).map(([n, t]) => [n, t.skipped])));
        const kept = pulumi.all(Object.fromEntries(Object.entries(this.hosts).map(([n, t]) => [n, t.baseline])));
        const baselines = pulumi
            .all([pulumi.all(evidence.map((e) => e.evidence)), kept])
            .apply(([waves, keptBaselines]) => Object.fromEntries(waves.flatMap((hosts) => Object.entries(hosts).map(([n, e]): [string, HostEvidence] => [n, hostEvidence(e, keptBaselines[n])]))));
        this.hostRecords = pulumi.all([gateOutputs, skipped, baselines]).apply(([g, s, m]) => hostRecords(g, s, m));
        this.waveSummaries = gateOutputs.apply(waveSummaries);
        const verdict = new RolloutVerdict(`${name}-rollout`, { waves: gateOutputs, haltFailsRun }, { parent: this, dependsOn: gates });
        this.halted = pulumi.all([verdict.halted, verdict.outcome]).apply(([halted, outcome]) => (halted ? outcome : undefined));
        this.registerOutputs({ hosts: this.hostRecords, waves: this.waveSummaries, halted: this.halted });
    }
}

function connectionOf(config: FleetConfig, host: InventoryHost, fleetKey: FleetKey<pulumi.Input<string>>): ConnectionArgs {
    return connectionFields(config.defaults, host.connection, fleetKey, (file, setting) => pulumi.secret(readPrivateKey(file, config, host, setting))) as unknown as ConnectionArgs;
}
