import * as pulumi from "@pulumi/pulumi";
import { delegatingProvider, secretConnection } from "../dynamic";
import { withinEngineLimits } from "../input-size";
import { ConnectionArgs } from "../transport/connection";
import type { FailureBudget, HostVerdict } from "./schema";

export interface HealthCheckArgs {
    /** A shell command line run on each host of the wave; exit status 0 means healthy. */
    create: string;
    /** Kept secret in state (tokens often live here). */
    environment?: pulumi.Input<Record<string, string>>;
    /** Kept secret in state. */
    stdin?: pulumi.Input<string>;
    /** Per attempt. Default 30. */
    timeoutSeconds?: number;
    /** Wait after the wave is applied, before the first attempt. Default 0. */
    settleSeconds?: number;
    /** Further attempts after a failure. Default 0. */
    retries?: number;
    /** Wait between attempts. Default 5. */
    retryDelaySeconds?: number;
}

export interface CounterConditionArgs {
    /** As the sampler names it: "Udp.RcvbufErrors", "TcpExt.ListenOverflows", "softnet.dropped", "link.eth1.rx_dropped". */
    counter: string;
    maxPerSecond: number;
    windowSeconds: number;
}

export interface WaveGateHostArgs {
    name: string;
    interface?: string;
    connection?: pulumi.Input<ConnectionArgs>;
    status: pulumi.Input<string>;
    parts: pulumi.Input<unknown>;
    revision?: pulumi.Input<string>;
}

export interface WaveGateArgs {
    wave: number;
    hosts: WaveGateHostArgs[];
    /** Failed hosts allowed before later waves are held: a count, or "25%" of the wave. Default 0. */
    maxFailures?: FailureBudget;
    healthCheck?: HealthCheckArgs;
    /** Kernel counters that must not rise faster than a rate over a window after the wave is applied. */
    counterConditions?: CounterConditionArgs[];
    /** False when an earlier wave's gate did not pass. */
    admitted?: pulumi.Input<boolean>;
}

/** Verifies a wave's hosts after they are tuned and decides whether the next wave may start. */
export class WaveGate extends pulumi.dynamic.Resource {
    /** The next wave may start. */
    declare public readonly passed: pulumi.Output<boolean>;
    /** One line: "wave 2: passed: 3 of 4 hosts healthy, 1 failed, budget 1". */
    declare public readonly outcome: pulumi.Output<string>;
    declare public readonly failed: pulumi.Output<number>;
    declare public readonly allowed: pulumi.Output<number>;
    declare public readonly results: pulumi.Output<HostVerdict[]>;

    constructor(name: string, args: WaveGateArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            delegatingProvider("wave-gate/handlers"),
            name,
            withinEngineLimits("WaveGate", name, {
                ...args,
                hosts: args.hosts.map((h) => ({ ...h, connection: secretConnection(h.connection) })),
                healthCheck: args.healthCheck && {
                    ...args.healthCheck,
                    environment: args.healthCheck.environment === undefined ? undefined : pulumi.secret(args.healthCheck.environment),
                    stdin: args.healthCheck.stdin === undefined ? undefined : pulumi.secret(args.healthCheck.stdin),
                },
                passed: undefined,
                outcome: undefined,
                failed: undefined,
                allowed: undefined,
                results: undefined,
            }),
            { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "healthCheck"] },
            "linux-tuning",
            "WaveGate",
        );
    }
}

export interface RolloutVerdictArgs {
    waves: pulumi.Input<{ wave: number; passed: boolean; outcome: string; results: HostVerdict[] }[]>;
    /** What a single gate guards (a profile, named in the failure) rather than a rollout's waves. */
    gateOf?: string;
    /** false: a halt is recorded in `outcome` and `halted` instead of failing the run (default true). */
    haltFailsRun?: boolean;
}

/** Fails the engine run when a wave did not pass, after every gate's findings are recorded. */
export class RolloutVerdict extends pulumi.dynamic.Resource {
    declare public readonly outcome: pulumi.Output<string>;
    declare public readonly halted: pulumi.Output<boolean>;

    constructor(name: string, args: RolloutVerdictArgs, opts?: pulumi.CustomResourceOptions) {
        super(delegatingProvider("wave-gate/verdict"), name, { ...args, outcome: undefined, halted: undefined }, opts, "linux-tuning", "RolloutVerdict");
    }
}
