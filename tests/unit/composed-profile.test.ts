import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";

describe("ComposedProfile (mocks)", function () {
    let components: typeof import("../../components");

    before(async function () {
        this.timeout(30_000); // the first import compiles every component
        await pulumi.runtime.setMocks({ newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }), call: (args) => args.inputs }, "project", "stack", false);
        components = await import("../../components");
    });

    it("applies the overrides once to the composed plan, so a null override drops a key only one plan sets", function () {
        const { ComposedProfile, highConnectionRatePlan, lowLatencyPlan, sipRouterPlan } = components;
        const plans = [lowLatencyPlan(), highConnectionRatePlan({ connectionsPerSecond: 100 }), sipRouterPlan({ memoryGiB: 8 })];
        const sysctlOverrides = { "vm.swappiness": null, "net.ipv4.udp_mem": null, "net.ipv4.tcp_fin_timeout": null, "net.core.somaxconn": null, "net.ipv4.ip_local_port_range": null };
        const profile = new ComposedProfile("composed", { plans, sysctlOverrides, prefer: { irq: "low-latency", nic: "low-latency" }, evidence: false });
        assert.ok(!("vm.swappiness" in profile.plan.sysctls), "set by the first plan only");
        assert.ok(!("net.ipv4.udp_mem" in profile.plan.sysctls), "set by the last plan only");
        assert.throws(
            () => new ComposedProfile("typo", { plans, sysctlOverrides: { "net.ipv4.ip_local_port_range": null, "vm.swapiness": null }, prefer: { irq: "low-latency", nic: "low-latency" }, evidence: false }),
            /low-latency\+high-connection-rate\+sip-router: sysctlOverrides: vm\.swapiness is null, but the profile does not set vm\.swapiness; did you mean vm\.swappiness\?/,
        );
    });

    it("refuses no plans at all with a declaration error naming plans, not a crash", function () {
        const { ComposedProfile } = components;
        assert.throws(() => new ComposedProfile("none", { plans: [], evidence: false }), (e: Error) => e.name !== "TypeError" && /^ComposedProfile "none": plans must name at least one profile's plan/.test(e.message));
    });
});
