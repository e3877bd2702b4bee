import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as path from "path";
import {
    ComposedProfile,
    HighConnectionRateProfile,
    HighThroughputProfile,
    LowLatencyProfile,
    SipRouterProfile,
    TuningProfile,
    highConnectionRatePlan,
    highThroughputPlan,
    lowLatencyPlan,
    sipRouterPlan,
    sysctlValues,
} from "../../components";
import { normalise } from "../../provider/sysctl/values";
import { collect, expectFailure } from "./support";
import { labStack } from "./engine";
import { Lab, LabHost, connectionTo, labDown, labUp, nicTraffic, onHost, queueInterruptsOn, sysctlOn } from "./lab";
import { sleep } from "../../provider/sleep";

/** Everything a profile can touch on the emulated server host, for before/after comparison. */
function hostState(lab: Lab, host: LabHost, keys: string[]): Record<string, string> {
    const state: Record<string, string> = {};
    for (const key of keys) {
        state[key] = onHost(lab, host, ["sh", "-c", 'sysctl -n "$1" 2>/dev/null || echo absent', "sh", key]).trim().split(/\s+/).join(" ");
    }
    state.rings = onHost(lab, host, ["sh", "-c", "ethtool -g eth1 | sed -n '/Current/,$p'"]);
    state.coalesce = onHost(lab, host, ["ethtool", "-c", "eth1"]);
    state.irqs = onHost(lab, host, ["sh", "-c", "for i in 102 103 104 105; do cat /proc/irq/$i/smp_affinity_list; done"]);
    state.governors = onHost(lab, host, ["sh", "-c", "cat /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor"]);
    state.minPerfPct = cat(lab, host, "/sys/devices/system/cpu/intel_pstate/min_perf_pct");
    state.thp = cat(lab, host, "/sys/kernel/mm/transparent_hugepage/enabled");
    state.wakeup = onHost(lab, host, ["sh", "-c", "cat /sys/devices/system/cpu/cpu*/power/pm_qos_resume_latency_us"]);
    state.txqueuelen = cat(lab, host, "/sys/class/net/eth1/tx_queue_len");
    return state;
}

const cat = (lab: Lab, host: LabHost, file: string) => onHost(lab, host, ["cat", file]).trim();

describe("profiles through the real engine on a lab host", function () {
    this.timeout(10 * 60 * 1000);
    let lab: Lab;
    let host: LabHost;

    before(function () {
        lab = labUp(1);
        [host] = lab.hosts;
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
    });

    /** Beyond sysctls, what each profile sets on the host, read there. */
    const cases: { name: string; make: (lab: Lab, host: LabHost) => TuningProfile; verify?: (lab: Lab, host: LabHost) => void; expect: [string, string] }[] = [
        {
            name: "low-latency",
            expect: ["net.ipv4.tcp_fastopen", "3"],
            make: (lab, host) => new LowLatencyProfile("p", { connection: connectionTo(lab, host), interface: "eth1", applicationCpus: "2-3" }),
            verify: (lab, host) => {
                assert.equal(cat(lab, host, "/sys/kernel/mm/transparent_hugepage/enabled"), "always madvise [never]");
                for (const cpu of [2, 3]) {
                    assert.equal(cat(lab, host, `/sys/devices/system/cpu/cpu${cpu}/power/pm_qos_resume_latency_us`), "3", `cpu${cpu}`);
                }
                assert.equal(cat(lab, host, "/sys/devices/system/cpu/cpu0/power/pm_qos_resume_latency_us"), "0", "cores other than the application's keep their C-states");
            },
        },
        {
            name: "high-throughput",
            // 10 Gbit/s x 20 ms = 25 MB; twice that, rounded up to a MiB: 48 MiB.
            expect: ["net.ipv4.tcp_rmem", "4096 131072 50331648"],
            make: (lab, host) => new HighThroughputProfile("p", { connection: connectionTo(lab, host), interface: "eth1", linkGbps: 10, rttMs: 20 }),
            verify: (lab, host) => {
                assert.equal(cat(lab, host, "/sys/class/net/eth1/tx_queue_len"), "10000");
                assert.ok(onHost(lab, host, ["lsmod"]).split("\n").some((l) => l.startsWith("tcp_bbr ")), "tcp_bbr loaded before bbr was set");
                assert.equal(sysctlOn(lab, host, "net.ipv4.tcp_congestion_control"), "bbr");
            },
        },
        {
            name: "sip-router-rps-10g",
            expect: ["net.ipv4.tcp_keepalive_time", "60"],
            make: (lab, host) => new SipRouterProfile("p", { connection: connectionTo(lab, host), interface: "eth1", memoryGiB: 8, linkGbps: 10, rxQueues: 1, cpus: 4, applicationCpus: "3" }),
            verify: (lab, host) => {
                assert.equal(cat(lab, host, "/sys/class/net/eth1/tx_queue_len"), "10000");
                const queues = onHost(lab, host, ["ls", "/sys/class/net/eth1/queues"]).split(/\s+/).filter((q) => q.startsWith("rx-"));
                assert.ok(queues.length > 0);
                for (const q of queues) {
                    assert.equal(Number.parseInt(cat(lab, host, `/sys/class/net/eth1/queues/${q}/rps_cpus`).replace(/,/g, ""), 16) & 0b1000, 0, `${q}: RPS off the application core`);
                    assert.notEqual(Number.parseInt(cat(lab, host, `/sys/class/net/eth1/queues/${q}/rps_cpus`).replace(/,/g, ""), 16), 0, `${q}: RPS on`);
                    assert.equal(cat(lab, host, `/sys/class/net/eth1/queues/${q}/rps_flow_cnt`), String(32768 / queues.length), q);
                }
            },
        },
        { name: "sip-router", expect: ["net.ipv4.ip_local_reserved_ports", "5060-5061"], make: (lab, host) => new SipRouterProfile("p", { connection: connectionTo(lab, host), interface: "eth1", memoryGiB: 8 }) },
        {
            name: "high-connection-rate",
            // 100000 conn/s x 200 ms accept stall.
            expect: ["net.core.somaxconn", "20000"],
            make: (lab, host) => new HighConnectionRateProfile("p", { connection: connectionTo(lab, host), connectionsPerSecond: 100000, acceptStallMs: 200 }),
        },
    ];

    /** The net.* keys the kernel keeps for the whole machine, which a network namespace cannot write (tuning-guides.md, kernel facts). */
    const GLOBAL_ONLY = /^net\.(ipv4\.(tcp_mem|udp_mem)|core\.(netdev_max_backlog|netdev_budget.*|dev_weight.*|busy_poll|busy_read|default_qdisc|rps_sock_flow_entries|flow_limit_.*|[rw]mem_(default|max)))$/;

    for (const { name, make, verify, expect } of cases) {
        it(`${name}: up applies it (global-only keys skipped and shown), preview is clean, destroy restores the host`, async function () {
            let profile: TuningProfile | undefined;
            const stack = await labStack(`profile-${name}`, async () => {
                profile = make(lab, host);
                return { skipped: profile.skipped };
            });
            const keys = Object.keys(sysctlValues((await stack.preview(), profile!.plan)));
            const before = hostState(lab, host, keys);
            assert.notEqual(sysctlOn(lab, host, expect[0]), expect[1], `${expect[0]} must start different`);
            try {
                await upAndCheck();
            } finally {
                await stack.destroy();
            }
            assert.deepEqual(hostState(lab, host, keys), before, "destroy restored every value");

            async function upAndCheck() {
                const up = collect();
                const result = await stack.up({ onOutput: up.onOutput });
                assert.equal(sysctlOn(lab, host, expect[0]).split(/\s+/).join(" "), expect[1]);
                const plan = profile!.plan;
                const settings = sysctlValues(plan);
                const skipped: string[] = result.outputs.skipped.value;
                for (const key of skipped.filter((k) => k.startsWith("net."))) {
                    assert.match(key, GLOBAL_ONLY, "a per-namespace key is never skipped");
                }
                for (const [key, value] of Object.entries(settings)) {
                    if (skipped.includes(key)) {
                        continue;
                    }
                    const live = sysctlOn(lab, host, key);
                    if (typeof value === "object" && !Array.isArray(value) && "covers" in value) {
                        const [from, to] = live.split(" ").map(Number);
                        assert.ok(from <= value.covers[0] && to >= value.covers[1], `${key} = ${live} covers ${value.covers.join("-")}`);
                    } else if (typeof value === "object" && !Array.isArray(value)) {
                        const bound = "atLeast" in value ? value.atLeast : value.atMost;
                        assert.ok("atLeast" in value ? Number(live) >= Number(bound) : Number(live) <= Number(bound), `${key} = ${live}`);
                    } else {
                        assert.equal(live, normalise(value), key);
                    }
                }
                // Keys outside net.* are the machine's: read-only in the lab host as in a container.
                for (const key of Object.keys(settings).filter((k) => !k.startsWith("net."))) {
                    assert.ok(skipped.includes(key), `${key} is skipped on a container-like host`);
                }
                assert.ok(skipped.length > 0 || name === "high-connection-rate", "a netns host skips global-only keys");
                if (skipped.length > 0) {
                    assert.match(up.text(), /skipped .*absent or read-only on this host/);
                }
                verify?.(lab, host);
                const preview = await stack.preview();
                assert.deepEqual(Object.keys(preview.changeSummary).sort(), ["same"], JSON.stringify(preview.changeSummary));
            }
        });
    }

    it("an override adding a key the host lacks (a typo) fails the preview naming it, though the profile's own missing keys are skipped", async function () {
        const before = sysctlOn(lab, host, "net.ipv4.tcp_fin_timeout");
        const stack = await labStack("profile-override-typo", async () => {
            new HighConnectionRateProfile("p", { connection: connectionTo(lab, host), connectionsPerSecond: 20000, sysctlOverrides: { "net.ipv4.tcp_fin_timeot": 20 }, evidence: false });
        });
        const message = await expectFailure(stack.preview());
        assert.match(message, /settings\["net\.ipv4\.tcp_fin_timeot"\].*net\.ipv4\.tcp_fin_timeot does not exist on this host .*it is one of requiredKeys, which are never skipped/);
        assert.match(await expectFailure(stack.up()), /tcp_fin_timeot/);
        assert.equal(sysctlOn(lab, host, "net.ipv4.tcp_fin_timeout"), before, "nothing written");
    });

    it("restores the host exactly: sysctls, rings, coalescing, IRQ affinity, governors and min_perf_pct, THP, wake-up latency and queue length", async function () {
        const keys = [...new Set([...Object.keys(lowLatencyPlan().sysctls), ...Object.keys(highConnectionRatePlan({ connectionsPerSecond: 1 }).sysctls), "net.ipv4.tcp_rmem", "net.core.somaxconn"])];
        const before = hostState(lab, host, keys);
        const stack = await labStack("profile-restore", async () => {
            new ComposedProfile("p", {
                connection: connectionTo(lab, host),
                interface: "eth1",
                applicationCpus: "0",
                plans: [lowLatencyPlan(), highConnectionRatePlan({ connectionsPerSecond: 100000 })],
                sysctlOverrides: { "net.ipv4.tcp_rmem": [4096, 65536, 8388608] },
            });
        });
        await stack.up();
        const during = hostState(lab, host, keys);
        assert.notDeepEqual(during, before);
        assert.equal(during["net.ipv4.tcp_rmem"], "4096 65536 8388608", "the override is applied");
        assert.match(during.coalesce, /Adaptive RX: off/);
        assert.doesNotMatch(during.irqs, /^0$/m, "no IRQ on the application core");
        assert.equal(during.thp, "always madvise [never]");
        assert.equal(during.minPerfPct, "100", "intel_pstate's floor, as tuned's latency-performance");
        await stack.destroy();
        assert.deepEqual(hostState(lab, host, keys), before);
    });

    it("low latency moves the NIC's interrupts off the application cores, and its evidence shows them there before and gone after", async function () {
        nicTraffic(lab, host, 200);
        try {
            const stack = await labStack("profile-irq-evidence", async () => {
                const profile = new LowLatencyProfile("p", { connection: connectionTo(lab, host), interface: "eth1", applicationCpus: "2-3", evidence: { windowSeconds: 2 } });
                return { before: profile.evidence!.before, now: profile.evidence!.now };
            });
            try {
                const up = await stack.up();
                const before = up.outputs.before.value as Record<string, number>;
                assert.ok(before["irq.eth1.cpu2"] > 50 && before["irq.eth1.cpu3"] > 50, `before: ${JSON.stringify(before)}`);

                const start = queueInterruptsOn(lab, host);
                await sleep(2);
                const rose = queueInterruptsOn(lab, host).map((n, cpu) => n - start[cpu]);
                assert.deepEqual(rose.slice(2), [0, 0], `the host counts no queue interrupt on CPUs 2-3 (${rose})`);
                assert.ok(rose[0] + rose[1] > 0, `the traffic goes on, on CPUs 0-1 (${rose})`);

                const now = (await stack.up({ refresh: true })).outputs.now.value as Record<string, number>;
                assert.deepEqual([now["irq.eth1.cpu2"], now["irq.eth1.cpu3"]], [0, 0], `now: ${JSON.stringify(now)}`);
            } finally {
                await stack.destroy();
            }
        } finally {
            nicTraffic(lab, host, 0);
        }
    });

    it("reports conflicting profiles at preview, before anything is applied, until an override and prefer decide", async function () {
        const before = sysctlOn(lab, host, "net.ipv4.ip_local_port_range");
        let decided = false;
        const stack = await labStack("profile-conflict", async () => {
            new ComposedProfile("p", {
                connection: connectionTo(lab, host),
                interface: "eth1",
                plans: [sipRouterPlan({ memoryGiB: 8 }), highConnectionRatePlan({ connectionsPerSecond: 100000 }), highThroughputPlan({ linkGbps: 10, rttMs: 20 })],
                ...(decided
                    ? { sysctlOverrides: { "net.core.rmem_max": 67108864, "net/core/wmem_max": 50331648, "net.core.netdev_max_backlog": 300000 }, prefer: { irq: "high-throughput" } }
                    : {}),
            });
        });
        const out = collect();
        const message = await expectFailure(stack.preview({ onOutput: out.onOutput }));
        assert.match(message, /net\.core\.rmem_max: sip-router\+high-connection-rate sets 67108864, high-throughput sets 50331648/);
        assert.match(message, /irq: sip-router\+high-connection-rate and high-throughput differ on irq\.policy/);
        assert.doesNotMatch(message, /somaxconn/, "65535 meets high-connection-rate's lower bound");
        assert.doesNotMatch(message, /ip_local_port_range/, "sip-router's 4096-65535 covers high-connection-rate's 10240-65535");
        assert.doesNotMatch(out.text(), /Unhandled exception|    at /, "a declaration to fix, not a crash with a stack trace");
        decided = true;
        const preview = await stack.preview();
        assert.ok((preview.changeSummary.create ?? 0) > 0, JSON.stringify(preview.changeSummary));
        assert.equal(sysctlOn(lab, host, "net.ipv4.ip_local_port_range"), before);
    });

    // Last: it takes tcp_bbr out of this host's kernel.
    it("high-throughput on a host whose kernel lacks tcp_bbr fails the preview naming the module, with nothing written; another congestion control applies", async function () {
        execFileSync("/usr/bin/python3", ["-I", path.join(lab.dir, "hw.py"), "kernel-without", path.join(lab.dir, "hosts", host.name), "tcp_bbr"]);
        const before = sysctlOn(lab, host, "net.ipv4.tcp_rmem");
        const stack = await labStack("profile-no-bbr", async () => {
            new HighThroughputProfile("p", { connection: connectionTo(lab, host), interface: "eth1", linkGbps: 10, rttMs: 20, evidence: false });
        });
        const out = collect();
        await assert.rejects(stack.preview({ onOutput: out.onOutput }));
        assert.match(out.text(), /modules\[0\][^\n]*kernel module tcp_bbr is not available on this host/);
        assert.equal(sysctlOn(lab, host, "net.ipv4.tcp_rmem"), before);

        // The way out on such a kernel: another congestion control, and the profile no longer asks for tcp_bbr.
        const reno = await labStack("profile-no-bbr-reno", async () => {
            new HighThroughputProfile("p", { connection: connectionTo(lab, host), interface: "eth1", linkGbps: 10, rttMs: 20, evidence: false, sysctlOverrides: { "net.ipv4.tcp_congestion_control": "reno" } });
        });
        try {
            await reno.up();
            assert.equal(sysctlOn(lab, host, "net.ipv4.tcp_congestion_control"), "reno");
            assert.notEqual(sysctlOn(lab, host, "net.ipv4.tcp_rmem"), before);
            assert.ok(!onHost(lab, host, ["lsmod"]).split("\n").some((l) => l.startsWith("tcp_bbr ")), "tcp_bbr was not loaded");
        } finally {
            await reno.destroy();
        }
        assert.equal(sysctlOn(lab, host, "net.ipv4.tcp_rmem"), before);
    });
});
