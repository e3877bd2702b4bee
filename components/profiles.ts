import * as pulumi from "@pulumi/pulumi";
import { ConnectionRateFacts, LowLatencyFacts, SipRouterFacts, ThroughputFacts, highConnectionRatePlan, highThroughputPlan, lowLatencyPlan, sipRouterPlan } from "./plans";
import { ProfilePlan, composePlans } from "./profile";
import { ProfileHostArgs, TuningProfile } from "./tuning-profile";

export interface LowLatencyProfileArgs extends ProfileHostArgs, LowLatencyFacts {}
export interface HighThroughputProfileArgs extends ProfileHostArgs, ThroughputFacts {}
export interface SipRouterProfileArgs extends ProfileHostArgs, SipRouterFacts {}
export interface HighConnectionRateProfileArgs extends ProfileHostArgs, ConnectionRateFacts {}

/** Busy polling, fast open, performance governor, NUMA-local IRQs off the application cores, coalescing off. */
export class LowLatencyProfile extends TuningProfile {
    constructor(name: string, args: LowLatencyProfileArgs, opts?: pulumi.ComponentResourceOptions) {
        super("linux-tuning:profiles:LowLatency", name, lowLatencyPlan(args), args, opts);
    }
}

/** Buffers from the declared link speed and RTT, fq + bbr, rings at max, adaptive coalescing, NUMA-local IRQs. */
export class HighThroughputProfile extends TuningProfile {
    constructor(name: string, args: HighThroughputProfileArgs, opts?: pulumi.ComponentResourceOptions) {
        super("linux-tuning:profiles:HighThroughput", name, highThroughputPlan(args), args, opts);
    }
}

/** Large UDP buffers, backlogs, port range, keepalives; udp_mem from the declared RAM; IRQs one per core. */
export class SipRouterProfile extends TuningProfile {
    constructor(name: string, args: SipRouterProfileArgs, opts?: pulumi.ComponentResourceOptions) {
        super("linux-tuning:profiles:SipRouter", name, sipRouterPlan(args), args, opts);
    }
}

/** Accept and SYN queues sized from the declared connection rate. */
export class HighConnectionRateProfile extends TuningProfile {
    constructor(name: string, args: HighConnectionRateProfileArgs, opts?: pulumi.ComponentResourceOptions) {
        super("linux-tuning:profiles:HighConnectionRate", name, highConnectionRatePlan(args), args, opts);
    }
}

export interface ComposedProfileArgs extends ProfileHostArgs {
    /** Plans to combine, e.g. [lowLatencyPlan(), highConnectionRatePlan({ connectionsPerSecond: 20000 })]. */
    plans: ProfilePlan[];
}

/** Several profiles on one host; a setting they disagree on fails the preview until overridden. */
export class ComposedProfile extends TuningProfile {
    constructor(name: string, args: ComposedProfileArgs, opts?: pulumi.ComponentResourceOptions) {
        const [first, ...rest] = args.plans;
        super("linux-tuning:profiles:Composed", name, rest.reduce((a, b) => composePlans(a, b, args.sysctlOverrides), first), args, opts);
    }
}
