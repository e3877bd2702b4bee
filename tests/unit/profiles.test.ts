import { strict as assert } from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { RunError } from "@pulumi/pulumi/errors";
import {
    ProfileConflictError,
    applyOverrides,
    bufferForPath,
    ProfileFactError,
    ProfilePlan,
    composePlans,
    meetSetting,
    highConnectionRatePlan,
    highThroughputPlan,
    lowLatencyPlan,
    sipRouterPlan,
    sysctlValues,
} from "../../components";
import { withProfileDocs } from "../../components/profile/docs";
import { hostParts, watchedCounters } from "../../components/profile/parts";
import { SOURCES, SourceKey } from "../../components/profile/sources";
import { checkFailures } from "../../provider/check";
import { sysctlSetInputsSchema } from "../../provider/sysctl/schema";

const MIB = 1048576;

describe("profile plans", function () {
    it("sizes buffers at twice the BDP, at least 16 MiB, at most INT_MAX", function () {
        const table: [number, number, number][] = [
            [1, 1, 16 * MIB],
            [1, 50, 16 * MIB],
            [1, 200, 48 * MIB],
            [10, 1, 16 * MIB],
            [10, 50, 120 * MIB],
            [10, 200, 477 * MIB],
            [100, 1, 24 * MIB],
            [100, 50, 1193 * MIB],
            [100, 200, 2147483647],
        ];
        for (const [gbps, ms, expected] of table) {
            assert.equal(bufferForPath(gbps, ms).buffer, expected, `${gbps} Gbit/s, ${ms} ms`);
        }
        assert.equal(bufferForPath(10, 50).bdpBytes, 62_500_000);
    });

    it("puts the computed buffer into rmem/wmem and tcp_rmem/tcp_wmem", function () {
        const plan = highThroughputPlan({ linkGbps: 10, rttMs: 50 });
        assert.deepEqual(sysctlValues(plan)["net.ipv4.tcp_rmem"], [4096, 131072, 120 * MIB]);
        assert.deepEqual(sysctlValues(plan)["net.ipv4.tcp_wmem"], [4096, 16384, 120 * MIB]);
        assert.equal(sysctlValues(plan)["net.core.rmem_max"], 120 * MIB);
        assert.equal(sysctlValues(plan)["net.core.netdev_max_backlog"], 250000);
        assert.equal(sysctlValues(highThroughputPlan({ linkGbps: 400, rttMs: 1 }))["net.core.netdev_max_backlog"], 1000000);
        assert.equal(sysctlValues(plan)["net.ipv4.tcp_mtu_probing"], undefined);
        assert.equal(sysctlValues(highThroughputPlan({ linkGbps: 10, rttMs: 50, jumboFrames: true }))["net.ipv4.tcp_mtu_probing"], 1);
        assert.deepEqual(plan.nic?.rings, { rx: "max", tx: "max" });
    });

    it("derives udp_mem from the host's RAM in pages", function () {
        assert.deepEqual(sysctlValues(sipRouterPlan({ memoryGiB: 64 }))["net.ipv4.udp_mem"], [2097152, 2796202, 4194304]);
        assert.deepEqual(sysctlValues(sipRouterPlan({ memoryGiB: 4 }))["net.ipv4.udp_mem"], [131072, 174762, 262144]);
        // The kernel's default (udp_init(): 3/32, 1/8, 3/16 of free pages, at most all of them): never lowered.
        const pages = (64 * 1024 * MIB) / 4096;
        const kernelDefault = [(pages / 8 / 4) * 3, pages / 8, (pages / 8 / 4) * 3 * 2];
        (sysctlValues(sipRouterPlan({ memoryGiB: 64 }))["net.ipv4.udp_mem"] as number[]).forEach((v, i) => assert.ok(v >= kernelDefault[i], `udp_mem[${i}] ${v} below the kernel's ${kernelDefault[i]}`));
        assert.equal(sysctlValues(sipRouterPlan({ memoryGiB: 4 }))["net.ipv4.ip_nonlocal_bind"], undefined);
        assert.equal(sysctlValues(sipRouterPlan({ memoryGiB: 4, highAvailabilityVip: true }))["net.ipv4.ip_nonlocal_bind"], 1);
        assert.deepEqual(sysctlValues(sipRouterPlan({ memoryGiB: 64, pageSizeKiB: 64 }))["net.ipv4.udp_mem"], [131072, 174762, 262144], "64 KiB pages: a quarter of RAM is 16x fewer pages");
    });

    it("refuses a fact it cannot compute from, naming the profile and the fact", function () {
        const refused = (plan: () => unknown, pattern: RegExp) => assert.throws(plan, (e: Error) => e instanceof ProfileFactError && RunError.isInstance(e) && pattern.test(e.message));
        refused(() => sipRouterPlan({ memoryGiB: 0 }), /^sip-router: memoryGiB: 0 is not a number of GiB above 0/);
        // A JavaScript caller, or a config value not set: named, rather than NaN in every value computed from it.
        refused(() => highThroughputPlan({ linkGbps: 10 } as never), /^high-throughput: rttMs: missing; the profile computes from it \(a number of ms above 0 and at most 10000\)$/);
        refused(() => sipRouterPlan({} as never), /^sip-router: memoryGiB: missing/);
        refused(() => highConnectionRatePlan({} as never), /^high-connection-rate: connectionsPerSecond: missing/);
        refused(() => sipRouterPlan({ memoryGiB: 8, pageSizeKiB: 8 as never }), /pageSizeKiB: 8 is not a kernel page size/);
        refused(() => highThroughputPlan({ linkGbps: NaN, rttMs: 10 }), /^high-throughput: linkGbps: NaN is not a number of Gbit\/s/);
        refused(() => highThroughputPlan({ linkGbps: 10, rttMs: -1 }), /rttMs: -1/);
        refused(() => highConnectionRatePlan({ connectionsPerSecond: 1e11 }), /connectionsPerSecond: 100000000000 is not a number of connections a second above 0 and at most 100000000/);
        refused(() => sipRouterPlan({ memoryGiB: 8, rxQueues: 0, cpus: 8 }), /^sip-router: rxQueues: 0 is not a whole number of receive queues above 0 and at most 4096$/);
        refused(() => sipRouterPlan({ memoryGiB: 8, rxQueues: NaN, cpus: 8 }), /rxQueues: NaN is not a whole number of receive queues/);
        refused(() => sipRouterPlan({ memoryGiB: 8, rxQueues: 2, cpus: 2.5 }), /^sip-router: cpus: 2\.5 is not a whole number of CPUs above 0 and at most 8192$/);
        refused(() => sipRouterPlan({ memoryGiB: 8, rxQueues: 2 }), /^sip-router: rxQueues is given without cpus: RPS\/RFS is planned from the two together/);
        refused(() => sipRouterPlan({ memoryGiB: 8, cpus: 16 }), /^sip-router: cpus is given without rxQueues/);
    });

    it("sizes accept and SYN queues from the connection rate, only ever raising", function () {
        const plan = highConnectionRatePlan({ connectionsPerSecond: 100000, acceptStallMs: 200, handshakeMs: 50 });
        assert.deepEqual(sysctlValues(plan)["net.core.somaxconn"], { atLeast: 20000 });
        assert.deepEqual(sysctlValues(plan)["net.ipv4.tcp_max_syn_backlog"], { atLeast: 5000 });
        assert.deepEqual(sysctlValues(highConnectionRatePlan({ connectionsPerSecond: 100 }))["net.core.somaxconn"], { atLeast: 4096 });
        const capped = highConnectionRatePlan({ connectionsPerSecond: 10_000_000 });
        assert.deepEqual(sysctlValues(capped)["net.core.somaxconn"], { atLeast: 65535 });
        assert.match(capped.sysctls["net.core.somaxconn"].note ?? "", /= 1000000, capped at 65535/, "the note says the formula's value was capped");
        // somaxconn caps the SYN queue too (Linux 4.4 on): a handshake longer than the accept stall sizes it.
        const slowHandshakes = highConnectionRatePlan({ connectionsPerSecond: 50000, acceptStallMs: 10, handshakeMs: 300 });
        assert.deepEqual(sysctlValues(slowHandshakes)["net.core.somaxconn"], { atLeast: 15000 });
        assert.match(slowHandshakes.sysctls["net.core.somaxconn"].note ?? "", /^50000 conn\/s x 300 ms handshake \(the SYN queue/);
    });

    it("lengthens the transmit queue by OSG's link-speed tiers and loads tcp_bbr for bbr", function () {
        const tiers: [number, number][] = [[1, 10000], [25, 10000], [40, 15000], [99, 15000], [100, 20000], [400, 20000]];
        for (const [gbps, expected] of tiers) {
            assert.equal(highThroughputPlan({ linkGbps: gbps, rttMs: 10 }).queueLength?.txqueuelen, expected, `${gbps} Gbit/s`);
        }
        const plan = highThroughputPlan({ linkGbps: 10, rttMs: 10 });
        assert.equal(sysctlValues(plan)["net.ipv4.tcp_congestion_control"], "bbr");
        assert.deepEqual(plan.modules?.value, ["tcp_bbr"]);
        // An override to another congestion control (or none) no longer loads tcp_bbr.
        assert.equal(applyOverrides(plan, { "net.ipv4.tcp_congestion_control": "cubic" }).modules, undefined);
        assert.equal(applyOverrides(plan, { "net.ipv4.tcp_congestion_control": null }).modules, undefined);
        assert.deepEqual(applyOverrides(plan, { "net.ipv4.tcp_fin_timeout": 20 }).modules?.value, ["tcp_bbr"]);
    });

    it("gives a SIP router RPS/RFS only with fewer receive queues than CPUs, and a long queue from 10G", function () {
        assert.equal(sipRouterPlan({ memoryGiB: 8 }).steering, undefined);
        assert.equal(sipRouterPlan({ memoryGiB: 8, rxQueues: 8, cpus: 8 }).steering, undefined);
        assert.equal(sipRouterPlan({ memoryGiB: 8, rxQueues: 2, cpus: 8 }).steering?.flowEntries, 32768);
        assert.equal(sipRouterPlan({ memoryGiB: 8, linkGbps: 1 }).queueLength, undefined);
        assert.equal(sipRouterPlan({ memoryGiB: 8, linkGbps: 10 }).queueLength?.txqueuelen, 10000);
        assert.equal(sipRouterPlan({ memoryGiB: 8, linkGbps: 100 }).queueLength?.txqueuelen, 20000, "OSG's 100G tier, as high-throughput's");
    });

    it("cites ring sizing to the guides that discuss rings", function () {
        assert.deepEqual(sipRouterPlan({ memoryGiB: 8 }).nic?.sources, ["FD-100G", "RH9-RING"]);
        assert.match(SOURCES["RH9-RING"].url, /^https:\/\/access\.redhat\.com\/.*increasing-the-ring-buffers/);
    });

    it("tells that the default qdisc reaches only qdiscs created after it is set", function () {
        assert.match(highThroughputPlan({ linkGbps: 10, rttMs: 10 }).sysctls["net.core.default_qdisc"].note ?? "", /qdiscs created after the change: an interface already up keeps its root qdisc until the next boot or until it is brought up again/);
    });

    it("turns THP off and limits the application cores' wake-up latency for low latency", function () {
        assert.equal(lowLatencyPlan().idle?.transparentHugepages?.value, "never");
        assert.equal(lowLatencyPlan().idle?.wakeupLatencyUs?.value, 3);
        assert.equal(lowLatencyPlan({ wakeupLatencyUs: 20 }).idle?.wakeupLatencyUs?.value, 20);
    });

    it("never emits removed or no-op keys, cites a known source for every value, and passes SysctlSet's check", function () {
        for (const plan of [lowLatencyPlan(), highThroughputPlan({ linkGbps: 25, rttMs: 10 }), sipRouterPlan({ memoryGiB: 32, highAvailabilityVip: true }), highConnectionRatePlan({ connectionsPerSecond: 5000 })]) {
            assert.ok(!("net.ipv4.tcp_tw_recycle" in plan.sysctls));
            assert.ok(!("net.ipv4.tcp_low_latency" in plan.sysctls));
            for (const [key, setting] of Object.entries(plan.sysctls)) {
                assert.ok(setting.sources.length > 0 && setting.sources.every((s) => s in SOURCES), `${plan.profile} ${key}`);
            }
            assert.deepEqual(checkFailures(sysctlSetInputsSchema, { resourceName: "p", settings: sysctlValues(plan) }), [], plan.profile);
        }
    });
});

describe("profile overrides and composition", function () {
    it("watches the counters a profile improves on this host: IF named, the NIC's interrupts per application core", function () {
        const plan = lowLatencyPlan();
        assert.deepEqual(watchedCounters(plan, { interface: "eth1", applicationCpus: "2-3,6" }), ["irq.eth1.cpu2", "irq.eth1.cpu3", "irq.eth1.cpu6"]);
        assert.deepEqual(watchedCounters(plan, { interface: "eth1" }), [], "no application cores, nothing to keep IRQs off");
        assert.deepEqual(watchedCounters(plan, { applicationCpus: "2-3" }), [], "no NIC, no NIC counters");
        assert.deepEqual(watchedCounters(plan, { interface: "eth1", applicationCpus: "3-" }), [], "a malformed list is IrqAffinity's to refuse");
        assert.deepEqual(watchedCounters(highThroughputPlan({ linkGbps: 10, rttMs: 1 }), { interface: "ens1" }).filter((c) => c.startsWith("link.")), ["link.ens1.rx_dropped", "link.ens1.rx_missed_errors"]);
    });

    it("changes or drops single settings", function () {
        const plan = applyOverrides(lowLatencyPlan(), { "vm.stat_interval": 30, "vm.swappiness": null });
        assert.equal(sysctlValues(plan)["vm.stat_interval"], 30);
        assert.equal(plan.sysctls["vm.stat_interval"].note, "user override");
        assert.ok(!("vm.swappiness" in plan.sysctls));
    });

    it("requires the keys an override adds (a typo would be skipped as missing), not the ones it changes", function () {
        const plan = applyOverrides(lowLatencyPlan(), { "vm.stat_interval": 30, "net.ipv4.tcp_rmen": "4096 87380 6291456" });
        assert.equal(plan.sysctls["net.ipv4.tcp_rmen"].mustExist, true);
        assert.equal(plan.sysctls["vm.stat_interval"].mustExist, undefined);
        assert.deepEqual(hostParts(plan, {}).sysctls.requiredKeys, ["net.ipv4.tcp_rmen"]);
        assert.equal(hostParts(lowLatencyPlan(), {}).sysctls.requiredKeys, undefined);
    });

    it("refuses dropping a setting the profile does not set, naming close matches, and still takes new keys", function () {
        assert.throws(
            () => applyOverrides(lowLatencyPlan(), { "vm.swapiness": null }),
            (e: Error) => e instanceof ProfileFactError && RunError.isInstance(e) && e.message === "low-latency: sysctlOverrides: vm.swapiness is null, but the profile does not set vm.swapiness; did you mean vm.swappiness?",
        );
        assert.throws(
            () => applyOverrides(lowLatencyPlan(), { "kernel.sched_autogroup_enabled": null }),
            (e: Error) => e.message === "low-latency: sysctlOverrides: kernel.sched_autogroup_enabled is null, but the profile does not set kernel.sched_autogroup_enabled",
            "no close match, none named",
        );
        assert.ok(!("vm.swappiness" in applyOverrides(lowLatencyPlan(), { "vm/swappiness": null }).sysctls), "either spelling drops a key the profile sets");
        assert.equal(sysctlValues(applyOverrides(lowLatencyPlan(), { "vm.dirty_ratio": 10 }))["vm.dirty_ratio"], 10);
    });

    it("refuses an override naming one key in both spellings, which would keep only the last silently", function () {
        assert.throws(
            () => applyOverrides(highConnectionRatePlan({ connectionsPerSecond: 50000 }), { "net.core.somaxconn": 100000, "net/core/somaxconn": null }),
            (e: Error) => e instanceof ProfileFactError && e.message === "high-connection-rate: sysctlOverrides names net.core.somaxconn twice (net.core.somaxconn and net/core/somaxconn): keep one",
        );
    });

    it("composes compatible profiles", function () {
        const plan = composePlans(lowLatencyPlan(), highConnectionRatePlan({ connectionsPerSecond: 20000 }));
        assert.equal(plan.profile, "low-latency+high-connection-rate");
        assert.equal(sysctlValues(plan)["net.core.busy_poll"], 50);
        assert.deepEqual(sysctlValues(plan)["net.core.somaxconn"], { atLeast: 4096 });
    });

    it("loads the modules of both profiles and refuses two queue lengths", function () {
        const latency = { ...lowLatencyPlan(), modules: { value: ["tcp_bbr"], sources: ["OSG" as const] }, queueLength: { txqueuelen: 10000, sources: ["OSG" as const] } };
        const api = { ...highConnectionRatePlan({ connectionsPerSecond: 100 }), modules: { value: ["tcp_bbr", "nf_conntrack"], sources: ["IPS" as const] } };
        assert.deepEqual(composePlans(latency, api).modules?.value, ["tcp_bbr", "nf_conntrack"]);
        const longer = { ...api, queueLength: { txqueuelen: 20000, sources: ["OSG" as const] } };
        assert.throws(() => composePlans(latency, longer), (e: Error) => e instanceof ProfileConflictError && RunError.isInstance(e) && /queueLength: low-latency and high-connection-rate/.test(e.message));
    });

    it("reports every conflict instead of resolving it, unless an override decides", function () {
        const a = sipRouterPlan({ memoryGiB: 8 });
        const b = highThroughputPlan({ linkGbps: 10, rttMs: 20 });
        assert.throws(
            () => composePlans(a, b),
            (e: Error) =>
                e instanceof ProfileConflictError &&
                /net\.core\.rmem_max: sip-router sets 67108864, high-throughput sets 50331648/.test(e.message) &&
                /netdev_max_backlog/.test(e.message) &&
                /irq: sip-router and high-throughput differ on irq\.policy: "spread" vs "numaLocal"; choose with prefer/.test(e.message),
        );
    });

    it("composes parts field by field, lets prefer pick a part two profiles set differently, and meets bounds", function () {
        const throughput = highThroughputPlan({ linkGbps: 10, rttMs: 10 });
        assert.throws(() => composePlans(lowLatencyPlan(), throughput), /nic: low-latency and high-throughput differ on nic\.coalesce\.adaptiveRx: false vs true/);
        const composed = composePlans(lowLatencyPlan(), throughput, undefined, { nic: "low-latency" });
        assert.deepEqual(composed.nic?.coalesce, { ...throughput.nic?.coalesce, ...lowLatencyPlan().nic?.coalesce }, "low-latency's where they differ, high-throughput's adaptiveTx beside");
        assert.deepEqual(composed.nic?.rings, { rx: "max", tx: "max" }, "rings only high-throughput sets are kept");
        assert.deepEqual(composePlans(throughput, lowLatencyPlan(), undefined, { nic: "low-latency" }).nic?.coalesce, composed.nic?.coalesce, "in either order");
        assert.deepEqual(composed.governor?.energyPerformancePreference, lowLatencyPlan().governor?.energyPerformancePreference, "the governor both set alike, the EPP only low-latency sets");
        const sip = sipRouterPlan({ memoryGiB: 8 });
        const rate = highConnectionRatePlan({ connectionsPerSecond: 20000 });
        const portRange = { "net/ipv4/ip_local_port_range": [10240, 65535] };
        const met = composePlans(sip, rate, portRange);
        assert.deepEqual(sysctlValues(met)["net.core.somaxconn"], 65535, "65535 meets high-connection-rate's at least 4096");
        assert.deepEqual(sysctlValues(met)["net.ipv4.tcp_fin_timeout"], sysctlValues(sip)["net.ipv4.tcp_fin_timeout"]);
        assert.deepEqual(sysctlValues(met)["net/ipv4/ip_local_port_range"], [10240, 65535], "an override in either spelling decides");
        assert.ok(!("net.ipv4.ip_local_port_range" in met.sysctls));
        assert.deepEqual(meetSetting({ atLeast: 4096 }, { atLeast: 8192 }), { atLeast: 8192 });
        assert.deepEqual(meetSetting({ atMost: 30 }, { atMost: 15 }), { atMost: 15 });
        assert.equal(meetSetting(100, { atLeast: 4096 }), undefined);
        assert.equal(meetSetting({ atLeast: 1 }, { atMost: 2 }), undefined, "two kinds of bound are not merged into a range");
        assert.deepEqual(meetSetting({ covers: [10240, 65535] }, { covers: [4096, 60999] }), { covers: [4096, 65535] }, "the range covering both");
        assert.deepEqual(meetSetting([4096, 65535], { covers: [10240, 65535] }), [4096, 65535], "a fixed range that covers it");
        assert.equal(meetSetting([32768, 60999], { covers: [10240, 65535] }), undefined);
        assert.equal(meetSetting({ atLeast: [1, 2] }, { covers: [1, 2] }), undefined);
        assert.deepEqual(sysctlValues(composePlans(sip, rate))["net.ipv4.ip_local_port_range"], [4096, 65535], "sip-router's range covers high-connection-rate's");
    });

    it("meets multi-value bounds element by element, in either order, and a multi-value that satisfies one", function () {
        const tuned = { atLeast: [4096, 131072, 16777216] };
        const wider = { atLeast: [4096, 262144, 8388608] };
        assert.deepEqual(meetSetting(tuned, wider), { atLeast: [4096, 262144, 16777216] });
        assert.deepEqual(meetSetting(wider, tuned), { atLeast: [4096, 262144, 16777216] });
        assert.deepEqual(meetSetting({ atMost: [10, 20] }, { atMost: [15, 5] }), { atMost: [10, 5] });
        assert.equal(meetSetting({ atLeast: [1, 2] }, { atLeast: [1, 2, 3] }), undefined, "bounds of different lengths do not meet");
        assert.deepEqual(meetSetting([4096, 131072, 33554432], tuned), [4096, 131072, 33554432]);
        assert.deepEqual(meetSetting(tuned, "4096 131072 33554432"), "4096 131072 33554432");
        assert.equal(meetSetting([4096, 65536, 33554432], tuned), undefined, "65536 is below 131072");
        assert.deepEqual(meetSetting("4096 87380 6291456", "4096\t87380  6291456 "), "4096 87380 6291456", "one value, written two ways");
        assert.deepEqual(meetSetting([4096, 87380, 6291456], "4096 87380 6291456"), [4096, 87380, 6291456]);
        assert.equal(meetSetting(1, "1"), 1);
        assert.equal(meetSetting("4096 87380 6291456", "4096 87380 6291457"), undefined);
        const rmem = (profile: string, value: typeof tuned, source: SourceKey): ProfilePlan => ({ profile, sysctls: { "net.ipv4.tcp_rmem": { value, sources: [source] } }, choices: [], bootOnly: [], improves: { value: [], sources: [] } });
        const composed = composePlans(rmem("a", tuned, "TUNED"), rmem("b", wider, "OSG"));
        assert.deepEqual(composed.sysctls["net.ipv4.tcp_rmem"], { value: { atLeast: [4096, 262144, 16777216] }, sources: ["TUNED", "OSG"] });
    });

    it("keeps the module a congestion control needs when an override sets it in either spelling", function () {
        const plan = highThroughputPlan({ linkGbps: 100, rttMs: 50 });
        assert.deepEqual(applyOverrides(plan, { "net/ipv4/tcp_congestion_control": "bbr" }).modules?.value, plan.modules?.value);
        assert.equal(applyOverrides(plan, { "net/ipv4/tcp_congestion_control": "cubic" }).modules?.value.includes("tcp_bbr") ?? false, false);
    });
});

describe("README profile table", function () {
    it("is generated from the code (run `npm run docs` after changing a profile)", function () {
        const readme = readFileSync(path.join(__dirname, "../../README.md"), "utf8");
        assert.equal(readme, withProfileDocs(readme));
    });
});
