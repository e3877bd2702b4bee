import * as pulumi from "@pulumi/pulumi";
import { PartPreferences, ProfileFactError, ProfilePlan, composePlansBeforeOverrides } from "../profile/plan";
import { ProfileHostArgs, TuningProfile } from "../profile/tuning-profile";

export interface ComposedProfileArgs extends ProfileHostArgs {
    /** Plans to combine, e.g. [lowLatencyPlan(), highConnectionRatePlan({ connectionsPerSecond: 20000 })]. */
    plans: ProfilePlan[];
    /** Which profile's part wins where two set it differently, e.g. { nic: "low-latency", irq: "low-latency" }. */
    prefer?: PartPreferences;
}

/** Several profiles on one host; a setting they disagree on fails the preview until overridden or preferred. */
export class ComposedProfile extends TuningProfile {
    constructor(name: string, args: ComposedProfileArgs, opts?: pulumi.ComponentResourceOptions) {
        const [first, ...rest] = args.plans;
        if (!first) {
            throw new ProfileFactError(`ComposedProfile "${name}": plans must name at least one profile's plan, e.g. [lowLatencyPlan()]`);
        }
        // TuningProfile applies the overrides, once, to the composed plan.
        super("linux-tuning:profiles:Composed", name, rest.reduce((a, b) => composePlansBeforeOverrides(a, b, args.sysctlOverrides, args.prefer), first), args, opts);
    }
}
