import * as pulumi from "@pulumi/pulumi";
import { ProfileHostArgs, TuningProfile } from "../profile/tuning-profile";
import { LowLatencyFacts, lowLatencyPlan } from "./plan";

export * from "./plan";

export interface LowLatencyProfileArgs extends ProfileHostArgs, LowLatencyFacts {}

/** Busy polling, fast open, THP off, application cores kept out of deep C-states, performance governor, NUMA-local IRQs off them, coalescing off. */
export class LowLatencyProfile extends TuningProfile {
    constructor(name: string, args: LowLatencyProfileArgs, opts?: pulumi.ComponentResourceOptions) {
        super("linux-tuning:profiles:LowLatency", name, lowLatencyPlan(args), args, opts);
    }
}
