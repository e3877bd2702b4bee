// A SIP proxy host: the SipRouterProfile with Kamailio's listening ports reserved and one
// value changed, judged healthy after the apply by the kernel's UDP receive-buffer drops.
// `pulumi preview` shows every resolved value; `plan` lists them with sources.
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
    healthGate: {
        ...(config.get("healthCheck") ? { healthCheck: { create: config.require("healthCheck"), settleSeconds: 5 } } : {}),
        counterConditions: [{ counter: "Udp.RcvbufErrors", maxPerSecond: 10, windowSeconds: config.getNumber("gateWindowSeconds") ?? 30 }],
    },
});

export const plan = sip.plan;
export const skipped = sip.skipped;
export const health = sip.health!.results;
