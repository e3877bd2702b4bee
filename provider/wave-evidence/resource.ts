import * as pulumi from "@pulumi/pulumi";
import { delegatingProvider, secretConnection } from "../dynamic";
import { withinEngineLimits } from "../input-size";
import { ConnectionArgs } from "../transport/connection";

export interface WaveEvidenceHostArgs {
    name: string;
    connection?: pulumi.Input<ConnectionArgs>;
    /** The NIC whose drops and interrupts count. */
    interface?: string;
    /** Counters as the sampler names them: "TcpExt.ListenOverflows", "link.eth1.rx_dropped". */
    counters: string[];
}

export interface WaveEvidenceArgs {
    wave: number;
    hosts: WaveEvidenceHostArgs[];
    /** Window the rates are measured over, at a host's admission and at each refresh. Default 3 s. */
    windowSeconds?: number;
    /** False while an earlier wave's gate holds this wave: no host is contacted; baselines wait for admission. */
    admitted?: pulumi.Input<boolean>;
}

/** Per host, as CounterEvidence reports one: rates before its first write and at the last refresh. */
export interface HostCounterEvidence {
    before: Record<string, number | null>;
    now: Record<string, number | null>;
    sinceBaseline: Record<string, number | null>;
    missing: string[];
    /** Why the baseline could not be taken (the host unreachable at its first apply); it is not taken later. */
    unmeasured?: string;
    /** Why the last refresh or update could not measure the host again (unreachable then): `now` is from the measurement before. */
    lastMeasureFailed?: string;
}

/**
 * A wave's evidence: every host's CounterEvidence, measured together over one window, so a wave
 * waits one window however many hosts it has (the engine runs only a few resources at a time).
 */
export class WaveEvidence extends pulumi.dynamic.Resource {
    /** Per host name. Held hosts have none until their wave is admitted. */
    declare public readonly evidence: pulumi.Output<Record<string, HostCounterEvidence>>;

    constructor(name: string, args: WaveEvidenceArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            delegatingProvider("wave-evidence/handlers"),
            name,
            withinEngineLimits("WaveEvidence", name, { ...args, hosts: args.hosts.map((h) => ({ ...h, connection: secretConnection(h.connection) })), evidence: undefined }),
            opts,
            "linux-tuning",
            "WaveEvidence",
        );
    }
}
