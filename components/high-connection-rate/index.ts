import * as pulumi from "@pulumi/pulumi";
import { ProfileHostArgs, TuningProfile } from "../profile/tuning-profile";
import { ConnectionRateFacts, highConnectionRatePlan } from "./plan";

export * from "./plan";

export interface HighConnectionRateProfileArgs extends ProfileHostArgs, ConnectionRateFacts {}

/** Accept and SYN queues sized from the declared connection rate. */
export class HighConnectionRateProfile extends TuningProfile {
    constructor(name: string, args: HighConnectionRateProfileArgs, opts?: pulumi.ComponentResourceOptions) {
        super("linux-tuning:profiles:HighConnectionRate", name, highConnectionRatePlan(args), args, opts);
    }
}
