// A trading gateway that also accepts many connections: two profiles composed. If they ever
// disagreed on a setting, the preview would fail and list the conflict until overridden.
import * as pulumi from "@pulumi/pulumi";
import { ComposedProfile, highConnectionRatePlan, lowLatencyPlan } from "pulumi-linux-tuning";

const config = new pulumi.Config();
const gw = new ComposedProfile("gw-1", {
    connection: { host: config.require("host"), hostKey: config.require("hostKey"), privateKey: config.requireSecret("sshPrivateKey") },
    interface: config.get("interface") ?? "eth1",
    applicationCpus: config.get("applicationCpus") ?? "2-3",
    plans: [lowLatencyPlan(), highConnectionRatePlan({ connectionsPerSecond: 20000, acceptStallMs: 50 })],
    sysctlOverrides: { "vm.stat_interval": 30 },
});

export const plan = gw.plan;
