import * as pulumi from "@pulumi/pulumi";
import { ProfileHostArgs, TuningProfile } from "../profile/tuning-profile";
import { SipRouterFacts, sipRouterPlan } from "./plan";

export * from "./plan";

export interface SipRouterProfileArgs extends ProfileHostArgs, SipRouterFacts {}

/** Large UDP buffers, backlogs, port range, keepalives; udp_mem from the declared RAM; IRQs one per core; RPS/RFS when queues are fewer than CPUs. */
export class SipRouterProfile extends TuningProfile {
    constructor(name: string, args: SipRouterProfileArgs, opts?: pulumi.ComponentResourceOptions) {
        super("linux-tuning:profiles:SipRouter", name, sipRouterPlan(args), args, opts);
    }
}
