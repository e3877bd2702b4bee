// A SIP proxy host: the SipRouterProfile with Kamailio's listening ports reserved and one
// value changed. `pulumi preview` shows every resolved value; `plan` lists them with sources.
import * as pulumi from "@pulumi/pulumi";
import { SipRouterProfile } from "pulumi-linux-tuning";

const config = new pulumi.Config();
const sip = new SipRouterProfile("sip-1", {
    connection: { host: config.require("host"), hostKey: config.require("hostKey"), privateKey: config.requireSecret("sshPrivateKey") },
    interface: config.get("interface") ?? "eth1",
    memoryGiB: config.requireNumber("memoryGiB"),
    sipPorts: "5060-5061",
    highAvailabilityVip: true,
    sysctlOverrides: { "net.core.rmem_default": 1048576 },
});

export const plan = sip.plan;
export const skipped = sip.skipped;
