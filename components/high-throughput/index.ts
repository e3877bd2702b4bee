import * as pulumi from "@pulumi/pulumi";
import { ProfileHostArgs, TuningProfile } from "../profile/tuning-profile";
import { ThroughputFacts, highThroughputPlan } from "./plan";

export * from "./plan";

export interface HighThroughputProfileArgs extends ProfileHostArgs, ThroughputFacts {}

/** Buffers from the declared link speed and RTT, fq + bbr (module loaded first), rings at max, txqueuelen by link speed, adaptive coalescing, NUMA-local IRQs. */
export class HighThroughputProfile extends TuningProfile {
    constructor(name: string, args: HighThroughputProfileArgs, opts?: pulumi.ComponentResourceOptions) {
        super("linux-tuning:profiles:HighThroughput", name, highThroughputPlan(args), args, opts);
    }
}
