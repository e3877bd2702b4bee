import { strict as assert } from "assert";
import type { Stack } from "@pulumi/pulumi/automation";
import { CpuGovernor, IrqAffinity, NicRingConfig, PacketSteering } from "../../provider";
import { collect, expectFailure, assertNoChanges } from "./support";
import { labStack } from "./engine";
import { Lab, LabHost, connectionTo, failingEthtool, fileOn, labDown, labUp, onHost, startIrqbalance } from "./lab";

const cat = (lab: Lab, host: LabHost, file: string) => onHost(lab, host, ["cat", file]).trim();
const governorOf = (lab: Lab, host: LabHost, cpu: number) => cat(lab, host, `/sys/devices/system/cpu/cpu${cpu}/cpufreq/scaling_governor`);
const affinityOf = (lab: Lab, host: LabHost, irq: number) => cat(lab, host, `/proc/irq/${irq}/smp_affinity_list`);
function ringsOf(lab: Lab, host: LabHost): { rx: number; tx: number } {
    const out = onHost(lab, host, ["ethtool", "-g", "eth1"]);
    const current = out.slice(out.indexOf("Current hardware settings:"));
    return { rx: Number(/^RX:\s+(\d+)/m.exec(current)![1]), tx: Number(/^TX:\s+(\d+)/m.exec(current)![1]) };
}

describe("hardware resources through the real engine on emulated lab hardware", function () {
    this.timeout(10 * 60 * 1000);
    let lab: Lab;
    let server: LabHost;
    let vm: LabHost;
    let cluster: LabHost;
    let mlx5: LabHost;

    before(function () {
        lab = labUp(4, "server,vm,cluster,mlx5");
        [server, vm, cluster, mlx5] = lab.hosts;
        assert.deepEqual(lab.hosts.map((h) => h.hardware), ["server", "vm", "cluster", "mlx5"]);
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
    });

    describe("CpuGovernor", function () {
        let stack: Stack;
        const unit = "/etc/systemd/system/pulumi-cpu-governor-gov.service";
        let governor = ["schedutil", "performance"];

        before(async function () {
            stack = await labStack("cpu-governor", async () => {
                new CpuGovernor("gov", {
                    connection: connectionTo(lab, server),
                    governor,
                    energyPerformancePreference: "performance",
                });
            });
        });
        after(async () => {
            await stack?.destroy().catch(() => undefined);
        });

        it("sets the first available governor and EPP on every CPU and installs a boot unit", async function () {
            assert.equal(governorOf(lab, server, 0), "powersave");
            await stack.up();
            for (const cpu of [0, 1, 2, 3]) {
                assert.equal(governorOf(lab, server, cpu), "performance");
                assert.equal(cat(lab, server, `/sys/devices/system/cpu/cpu${cpu}/cpufreq/energy_performance_preference`), "performance");
            }
            assert.match(fileOn(lab, server, unit) ?? "", /ExecStart=.*echo performance > \/sys\/devices\/system\/cpu\/cpu3\/cpufreq\/scaling_governor/);
            assert.ok(fileOn(lab, server, "/etc/systemd/system/multi-user.target.wants/pulumi-cpu-governor-gov.service"));
            assertNoChanges((await stack.preview()).changeSummary);
        });

        it("shows a CPU changed behind Pulumi's back per CPU, and up converges", async function () {
            onHost(lab, server, ["sh", "-c", "echo powersave > /sys/devices/system/cpu/cpu2/cpufreq/scaling_governor"]);
            const plain = collect();
            assert.equal((await stack.preview({ onOutput: plain.onOutput })).changeSummary.update, 1);
            assert.match(plain.text(), /drift: cpu2 live powersave, desired performance/);
            const refreshed = collect();
            await stack.preview({ refresh: true, diff: true, onOutput: refreshed.onOutput });
            assert.match(refreshed.text(), /cpu2\s*:\s*"performance"\s*=>\s*"powersave"/);
            await stack.up();
            assert.equal(governorOf(lab, server, 2), "performance");
        });

        it("shows its boot unit disabled behind Pulumi's back (the wants link gone) as drift, and up enables it again", async function () {
            const link = "/etc/systemd/system/multi-user.target.wants/pulumi-cpu-governor-gov.service";
            onHost(lab, server, ["rm", link]);
            const plain = collect();
            assert.equal((await stack.preview({ onOutput: plain.onOutput })).changeSummary.update, 1);
            assert.match(plain.text(), /drift: .*pulumi-cpu-governor-gov\.service is not enabled \(no \/etc\/systemd\/system\/multi-user\.target\.wants\/pulumi-cpu-governor-gov\.service\)/);
            await stack.up();
            assert.equal(onHost(lab, server, ["readlink", link]).trim(), unit, "enabled again");
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
        });

        it("writes the EPP again after a governor change, which makes the driver put back the EPP it kept for that policy", async function () {
            governor = ["powersave"];
            await stack.up();
            for (const cpu of [0, 1, 2, 3]) {
                assert.equal(governorOf(lab, server, cpu), "powersave");
                assert.equal(cat(lab, server, `/sys/devices/system/cpu/cpu${cpu}/cpufreq/energy_performance_preference`), "performance", `cpu${cpu}: the driver had put back balance_power`);
            }
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
        });

        it("destroy restores each CPU's governor and EPP and removes the unit", async function () {
            await stack.destroy();
            for (const cpu of [0, 1, 2, 3]) {
                assert.equal(governorOf(lab, server, cpu), "powersave");
                assert.equal(cat(lab, server, `/sys/devices/system/cpu/cpu${cpu}/cpufreq/energy_performance_preference`), "balance_power");
            }
            assert.equal(fileOn(lab, server, unit), null);
        });

        it("an update that stops declaring the EPP puts each CPU's back", async function () {
            const epp = (cpu: number) => cat(lab, server, `/sys/devices/system/cpu/cpu${cpu}/cpufreq/energy_performance_preference`);
            let energyPerformancePreference: string | undefined = "power";
            const stack = await labStack("cpu-governor-epp-dropped", async () => {
                new CpuGovernor("gov", { connection: connectionTo(lab, server), governor: "powersave", energyPerformancePreference, persist: false });
            });
            try {
                await stack.up();
                assert.deepEqual([0, 1, 2, 3].map(epp), ["power", "power", "power", "power"]);
                energyPerformancePreference = undefined;
                await stack.up();
                assert.deepEqual([0, 1, 2, 3].map(epp), ["balance_power", "balance_power", "balance_power", "balance_power"], "the original, no longer declared");
                assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            } finally {
                await stack.destroy();
            }
            assert.deepEqual([0, 1, 2, 3].map(epp), ["balance_power", "balance_power", "balance_power", "balance_power"]);
        });

        it("sets intel_pstate's min_perf_pct where the host has it, drift and all, puts it back; skips it on acpi-cpufreq with the governor still set", async function () {
            const minPerf = "/sys/devices/system/cpu/intel_pstate/min_perf_pct";
            assert.equal(cat(lab, server, minPerf), "20");
            assert.equal(onHost(lab, cluster, ["sh", "-c", "[ -e /sys/devices/system/cpu/intel_pstate ] && echo yes || echo no"]).trim(), "no", "acpi-cpufreq: no intel_pstate");
            const stack = await labStack("cpu-governor-min-perf", async () => {
                new CpuGovernor("floor", { connection: connectionTo(lab, server), governor: "performance", energyPerformancePreference: "performance", minPerfPct: 100 });
                new CpuGovernor("floor-acpi", { connection: connectionTo(lab, cluster), governor: "performance", minPerfPct: 100, onUnsupported: "skip", persist: false });
            });
            try {
                const up = collect();
                await stack.up({ onOutput: up.onOutput });
                assert.equal(cat(lab, server, minPerf), "100");
                assert.match(fileOn(lab, server, "/etc/systemd/system/pulumi-cpu-governor-floor.service") ?? "", /^ExecStart=-\/bin\/sh -c 'echo 100 > \/sys\/devices\/system\/cpu\/intel_pstate\/min_perf_pct'$/m);
                assert.match(up.text(), /skipped minPerfPct: no \/sys\/devices\/system\/cpu\/intel_pstate\/min_perf_pct \(driver acpi-cpufreq\)/);
                assert.deepEqual([0, 1, 2, 3].map((cpu) => governorOf(lab, cluster, cpu)), ["performance", "performance", "performance", "performance"]);
                assertNoChanges((await stack.preview()).changeSummary);
                onHost(lab, server, ["sh", "-c", `echo 30 > ${minPerf}`]);
                const drift = collect();
                assert.equal((await stack.preview({ onOutput: drift.onOutput })).changeSummary.update, 1);
                assert.match(drift.text(), /drift: intel_pstate min_perf_pct live 30, desired 100/);
                await stack.up();
                assert.equal(cat(lab, server, minPerf), "100");
            } finally {
                await stack.destroy();
            }
            assert.equal(cat(lab, server, minPerf), "20", "the original");
            assert.deepEqual([0, 1, 2, 3].map((cpu) => governorOf(lab, server, cpu)), ["powersave", "powersave", "powersave", "powersave"]);
        });

        it("a CPU gone offline keeps its original through an update, and the delete waits for it rather than losing it", async function () {
            const online = "/sys/devices/system/cpu/cpu3/online";
            const governors = () => [0, 1, 2, 3].map((cpu) => governorOf(lab, server, cpu));
            assert.deepEqual(governors(), ["powersave", "powersave", "powersave", "powersave"]);
            const stack = await labStack("cpu-governor-offline", async () => {
                new CpuGovernor("gov-offline", { connection: connectionTo(lab, server), governor: "performance", persist: false });
            });
            try {
                await stack.up();
                assert.deepEqual(governors(), ["performance", "performance", "performance", "performance"]);
                onHost(lab, server, ["sh", "-c", `echo 0 > ${online}`]);
                const update = collect();
                await stack.up({ onOutput: update.onOutput });
                assert.match(update.text(), /cpu3 cannot be read now \(offline, its cpufreq policy inactive\): its original governor is kept/);
                assert.match(await expectFailure(stack.destroy()), /cannot put back the original governor of cpu3: .*Bring it online and delete again, or set restoreOnDelete: false/);
                assert.deepEqual([0, 1, 2].map((cpu) => governorOf(lab, server, cpu)), ["performance", "performance", "performance"], "nothing changed by the refused delete");
                onHost(lab, server, ["sh", "-c", `echo 1 > ${online}`]);
                assert.equal(governorOf(lab, server, 3), "performance", "back online, its policy keeps the governor it last had: ours");
                await stack.destroy();
                assert.deepEqual(governors(), ["powersave", "powersave", "powersave", "powersave"], "cpu3's original too");
            } finally {
                onHost(lab, server, ["sh", "-c", `echo 1 > ${online}`]);
                await stack.destroy().catch(() => undefined);
            }
        });

        it("where the driver has no EPP (acpi-cpufreq), sets the governor and says the EPP was left out under onUnsupported: skip; fails the preview under fail", async function () {
            assert.equal(cat(lab, cluster, "/sys/devices/system/cpu/cpu0/cpufreq/scaling_driver"), "acpi-cpufreq");
            let onUnsupported: "skip" | "fail" = "fail";
            const stack = await labStack("cpu-governor-no-epp", async () => {
                const gov = new CpuGovernor("gov", { connection: connectionTo(lab, cluster), cpus: "0-1", governor: "performance", energyPerformancePreference: "performance", onUnsupported, persist: false });
                return { eppUnsupported: gov.eppUnsupported, unsupported: gov.unsupported };
            });
            try {
                const out = collect();
                const refused = (await expectFailure(stack.preview({ onOutput: out.onOutput }))) + out.text();
                assert.match(refused, /energyPerformancePreference.*CPU 0-1 offer no energy_performance_preference \(driver acpi-cpufreq/);
                onUnsupported = "skip";
                const applied = collect();
                const up = await stack.up({ onOutput: applied.onOutput });
                assert.deepEqual([0, 1, 2, 3].map((cpu) => governorOf(lab, cluster, cpu)), ["performance", "performance", "powersave", "powersave"]);
                assert.match(up.outputs.eppUnsupported.value, /^CPU 0-1 offer no energy_performance_preference/);
                assert.equal(up.outputs.unsupported?.value, undefined, "the governor was set: not skipped");
                assert.match(applied.text(), /skipped energyPerformancePreference: CPU 0-1 .*the governor is set/);
                assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            } finally {
                await stack.destroy();
            }
            assert.deepEqual([0, 1, 2, 3].map((cpu) => governorOf(lab, cluster, cpu)), ["powersave", "powersave", "powersave", "powersave"]);
        });

        it("refuses the EPP \"default\" at preview, naming the property, with the unit file not written", async function () {
            const stack = await labStack("governor-default-epp", async () => {
                new CpuGovernor("gov-default", { connection: connectionTo(lab, server), governor: "powersave", energyPerformancePreference: "default" });
            });
            const message = await expectFailure(stack.preview());
            assert.match(message, /energyPerformancePreference.*cannot be "default": the kernel then shows the firmware's own value/);
            assert.equal(fileOn(lab, server, "/etc/systemd/system/pulumi-cpu-governor-gov-default.service"), null);
        });

        it("on a VM-like host without cpufreq, fails under onUnsupported: fail and is skipped and reported under skip", async function () {
            const failing = await labStack("cpu-governor-vm-fail", async () => {
                new CpuGovernor("gov", { connection: connectionTo(lab, vm), governor: "performance" });
            });
            assert.match(await expectFailure(failing.up()), /no cpufreq.*onUnsupported: "skip"/);
            const skipping = await labStack("cpu-governor-vm-skip", async () => {
                const gov = new CpuGovernor("gov", { connection: connectionTo(lab, vm), governor: "performance", onUnsupported: "skip" });
                return { unsupported: gov.unsupported };
            });
            const { onOutput, text } = collect();
            const result = await skipping.up({ onOutput });
            assert.match(result.outputs.unsupported.value, /no cpufreq/);
            assert.match(text(), /skipped: CPU 0-1 have no cpufreq/);
            const preview = collect();
            assertNoChanges((await skipping.preview({ onOutput: preview.onOutput })).changeSummary);
            assert.match(preview.text(), /skipped: CPU 0-1 have no cpufreq/);
            await skipping.destroy();
        });

        it("refuses at preview a set that splits a shared cpufreq policy; the whole policy sets both CPUs and destroy gives both back", async function () {
            assert.equal(cat(lab, cluster, "/sys/devices/system/cpu/cpu1/cpufreq/related_cpus"), "0 1");
            assert.equal(onHost(lab, cluster, ["readlink", "-f", "/sys/devices/system/cpu/cpu1/cpufreq"]).trim(), "/sys/devices/system/cpu/cpufreq/policy0");
            const governors = () => [0, 1, 2, 3].map((cpu) => governorOf(lab, cluster, cpu));
            assert.deepEqual(governors(), ["powersave", "powersave", "powersave", "powersave"]);
            let cpus = "1";
            const stack = await labStack("cpu-governor-cluster", async () => {
                new CpuGovernor("gov", { connection: connectionTo(lab, cluster), cpus, governor: "performance", persist: false });
            });
            const out = collect();
            const message = (await expectFailure(stack.preview({ onOutput: out.onOutput }))) + out.text();
            assert.match(message, /cpus.*cpu1 shares its cpufreq policy \(\/sys\/devices\/system\/cpu\/cpufreq\/policy0\) with CPU 0, which cpus leaves out: .*declare CPU 0-1 together, or none of them/);
            assert.deepEqual(governors(), ["powersave", "powersave", "powersave", "powersave"]);
            cpus = "0-1";
            try {
                await stack.up();
                assert.deepEqual(governors(), ["performance", "performance", "powersave", "powersave"]);
                assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            } finally {
                await stack.destroy();
            }
            assert.deepEqual(governors(), ["powersave", "powersave", "powersave", "powersave"]);
        });
    });

    describe("NicRingConfig", function () {
        let stack: Stack;
        const rule = "/etc/udev/rules.d/90-pulumi-nic-rings.rules";

        before(async function () {
            stack = await labStack("nic-rings", async () => {
                const nic = new NicRingConfig("rings", {
                    connection: connectionTo(lab, server),
                    interface: "eth1",
                    rings: { rx: "max", tx: 1024 },
                    coalesce: { adaptiveRx: false, rxUsecs: 0 },
                });
                return { desired: nic.desired, maximums: nic.maximums };
            });
        });
        after(async () => {
            await stack?.destroy().catch(() => undefined);
        });

        it("resolves rx: max to the NIC's maximum, sets coalescing and writes a udev rule", async function () {
            const result = await stack.up();
            assert.deepEqual(ringsOf(lab, server), { rx: 4096, tx: 1024 });
            assert.deepEqual(result.outputs.desired.value.rings, { rx: 4096, tx: 1024 });
            assert.equal(result.outputs.maximums.value.rings.rx, 4096);
            const coalesce = onHost(lab, server, ["ethtool", "-c", "eth1"]);
            assert.match(coalesce, /Adaptive RX: off/);
            assert.match(coalesce, /^rx-usecs: 0$/m);
            const written = fileOn(lab, server, rule) ?? "";
            assert.match(written, /SUBSYSTEM=="net", NAME=="eth1", RUN\+="\S*ethtool -G eth1 rx 4096 tx 1024"/);
            assert.match(written, /SUBSYSTEM=="net", KERNEL=="eth1", NAME=="", RUN\+="\S*ethtool -G eth1 rx 4096 tx 1024"/);
            assertNoChanges((await stack.preview()).changeSummary);
        });

        it("shows a ring size changed behind Pulumi's back per parameter, and up converges", async function () {
            onHost(lab, server, ["ethtool", "-G", "eth1", "rx", "512"]);
            const refreshed = collect();
            await stack.preview({ refresh: true, diff: true, onOutput: refreshed.onOutput });
            assert.match(refreshed.text(), /rx\s*:\s*4096\s*=>\s*512/);
            await stack.up();
            assert.deepEqual(ringsOf(lab, server), { rx: 4096, tx: 1024 });
        });

        it("destroy restores the original rings and coalescing and removes the rule", async function () {
            await stack.destroy();
            assert.deepEqual(ringsOf(lab, server), { rx: 256, tx: 256 });
            assert.match(onHost(lab, server, ["ethtool", "-c", "eth1"]), /Adaptive RX: on/);
            assert.equal(fileOn(lab, server, rule), null);
        });

        it("sets real veth channels and restores them, the virtio queue IRQs (virtio1-input.0, on the PCI function) keeping their affinity", async function () {
            const channels = () => /Current hardware settings:[\s\S]*?RX:\s+(\d+)/.exec(onHost(lab, vm, ["ethtool", "-l", "eth1"]))![1];
            assert.equal(channels(), "1");
            const stack = await labStack("nic-channels", async () => {
                new NicRingConfig("channels", { connection: connectionTo(lab, vm), interface: "eth1", channels: { rx: "max", tx: "max" } });
            });
            onHost(lab, vm, ["sh", "-c", "echo 1 > /proc/irq/41/smp_affinity_list"]);
            await stack.up();
            assert.equal(channels(), "2");
            assert.equal(affinityOf(lab, vm, 41), "1", "virtio_net resets its queue IRQs' affinity on a channel change; it was put back");
            assertNoChanges((await stack.preview()).changeSummary);
            await stack.destroy();
            assert.equal(channels(), "1");
            assert.equal(affinityOf(lab, vm, 41), "1");
            onHost(lab, vm, ["sh", "-c", "echo 0-1 > /proc/irq/41/smp_affinity_list"]);
        });

        it("on a NIC that refuses a new interval while adaptive is on (i40e, ice, iavf), sets one under adaptive, its boot rule replays from the driver's defaults, and destroy puts 50 µs back", async function () {
            const coalesce = () => onHost(lab, server, ["ethtool", "-c", "eth1"]);
            const rulePath = "/etc/udev/rules.d/90-pulumi-nic-adaptive.rules";
            assert.match(coalesce(), /Adaptive RX: on[\s\S]*^rx-usecs: 50$/m, "the emulated NIC starts at the driver's defaults");
            assert.match(await expectFailure(Promise.resolve().then(() => onHost(lab, server, ["ethtool", "-C", "eth1", "rx-usecs", "8"]))), /Invalid argument/, "the NIC pins the interval");
            const adaptive = await labStack("nic-adaptive", async () => {
                new NicRingConfig("adaptive", { connection: connectionTo(lab, server), interface: "eth1", coalesce: { adaptiveRx: true, rxUsecs: 8 } });
            });
            try {
                await adaptive.up();
                assert.match(coalesce(), /Adaptive RX: on[\s\S]*^rx-usecs: 8$/m);
                // A reboot: the driver's defaults, then the rule's commands in order, as udev runs them.
                for (const words of [["adaptive-rx", "off"], ["rx-usecs", "50"], ["adaptive-rx", "on"]]) {
                    onHost(lab, server, ["ethtool", "-C", "eth1", ...words]);
                }
                const runs = [...new Set([...(fileOn(lab, server, rulePath) ?? "").matchAll(/RUN\+="([^"]*)"/g)].map((m) => m[1]))];
                assert.equal(runs.length, 2, runs.join("\n"));
                for (const run of runs) {
                    onHost(lab, server, run.split(" "));
                }
                assert.match(coalesce(), /Adaptive RX: on[\s\S]*^rx-usecs: 8$/m, "the boot rule took");
                await adaptive.destroy();
                assert.match(coalesce(), /Adaptive RX: on[\s\S]*^rx-usecs: 50$/m);
            } finally {
                await adaptive.destroy().catch(() => undefined);
            }
        });

        it("refuses at preview an interval without its adaptive switch in a boot rule, and a channel count leaving no receive channel; without persistence the interval is set under adaptive", async function () {
            const coalesce = () => onHost(lab, server, ["ethtool", "-c", "eth1"]);
            const before = coalesce();
            let persist = true;
            const stack = await labStack("nic-interval-alone", async () => {
                new NicRingConfig("interval", { connection: connectionTo(lab, server), interface: "eth1", coalesce: { rxUsecs: 8 }, persist });
            });
            const out = collect();
            const message = (await expectFailure(stack.preview({ onOutput: out.onOutput }))) + out.text();
            assert.match(message, new RegExp(`coalesce\\.rxUsecs.*root@${server.address.replace(/\./g, "\\.")}:${server.port}: declare coalesce\\.adaptiveRx beside it: eth1 has Adaptive RX`));
            assert.equal(fileOn(lab, server, "/etc/udev/rules.d/90-pulumi-nic-interval.rules"), null);
            persist = false;
            try {
                await stack.up();
                assert.match(coalesce(), /Adaptive RX: on[\s\S]*^rx-usecs: 8$/m, "off, the interval, on again: the switch as it was");
            } finally {
                await stack.destroy();
            }
            assert.equal(coalesce(), before);
            const channels = await labStack("nic-no-rx-channel", async () => {
                new NicRingConfig("channels", { connection: connectionTo(lab, vm), interface: "eth1", channels: { rx: 0 } });
            });
            assert.match(await expectFailure(channels.preview()), /channels\.rx.*leaves eth1 no receive channel \(combined 0, rx 0\); the kernel refuses it \(EINVAL\)/);
        });

        it("a ring size the driver aligns (1001 → 1008) is in place after one up: clean previews, no drift on refresh, destroy restores", async function () {
            const rounded = await labStack("nic-rounded", async () => {
                const nic = new NicRingConfig("rounded", { connection: connectionTo(lab, server), interface: "eth1", rings: { rx: 1001 } });
                return { warnings: nic.warnings };
            });
            try {
                const out = collect();
                const up = await rounded.up({ onOutput: out.onOutput });
                assert.equal(ringsOf(lab, server).rx, 1008, "the emulated driver aligns to 8 descriptors");
                assert.match(out.text(), /eth1 rings\.rx: the driver set 1008 when asked for 1001; 1008 is what this resource expects from now on/);
                assert.match(JSON.stringify(up.outputs.warnings.value), /the driver set 1008 when asked for 1001/);
                assertNoChanges((await rounded.preview()).changeSummary);
                assertNoChanges((await rounded.preview({ refresh: true })).changeSummary);
                assert.equal((await rounded.up()).summary.resourceChanges?.update ?? 0, 0, "a second up changes nothing");
                // Changed behind its back: asked for as declared again, and the driver aligns it as before.
                onHost(lab, server, ["ethtool", "-G", "eth1", "rx", "512"]);
                assert.equal((await rounded.up({ refresh: true })).summary.resourceChanges?.update, 1);
                assert.equal(ringsOf(lab, server).rx, 1008);
                assertNoChanges((await rounded.preview({ refresh: true })).changeSummary);
            } finally {
                await rounded.destroy();
            }
            assert.equal(ringsOf(lab, server).rx, 256);
        });

        it("an unlinked IrqAffinity beside it previews once the driver's aligned size stands, and is refused when an update would put back a size no longer declared", async function () {
            const start = ringsOf(lab, server);
            let rings: { rx?: number; tx: number } = { rx: 1001, tx: start.tx };
            let withIrqs = false;
            const stack = await labStack("nic-rounded-followed", async () => {
                new NicRingConfig("rounded", { connection: connectionTo(lab, server), interface: "eth1", rings, persist: false });
                if (withIrqs) {
                    new IrqAffinity("irqs", { connection: connectionTo(lab, server), interface: "eth1", cpus: "3", irqbalance: "leave", persist: false });
                }
            });
            try {
                await stack.up();
                assert.equal(ringsOf(lab, server).rx, 1008);
                withIrqs = true;
                await stack.preview(); // 1008 stands for the declared 1001: no resize, nothing to undo
                rings = { tx: start.tx };
                const message = await expectFailure(stack.preview());
                assert.match(message, /eth1's rings change would undo what .*irqs \(IrqAffinity\) in this program sets on it|changes eth1's rings, which undoes this/, "rx goes back to its original: a resize");
            } finally {
                withIrqs = false;
                await stack.destroy();
            }
            assert.equal(ringsOf(lab, server).rx, start.rx);
        });

        it("a delete while ethtool cannot read the rings fails naming them and keeps the originals; run again once it can, it puts them back", async function () {
            const stack = await labStack("nic-busy-delete", async () => {
                new NicRingConfig("busy", { connection: connectionTo(lab, server), interface: "eth1", rings: { rx: 2048 }, persist: false });
            });
            let unmount = () => {};
            try {
                await stack.up();
                assert.equal(ringsOf(lab, server).rx, 2048);
                // A driver in the middle of a reset: ethtool -g fails, the rest of ethtool works.
                unmount = failingEthtool(lab, server, "-g", "netlink error: Device or resource busy", 75);
                const message = await expectFailure(stack.destroy());
                assert.match(message, /cannot put back the originals of eth1's rings \(ethtool -g: netlink error: Device or resource busy\)\. Nothing was changed, and the host-side ledger keeps them/);
                unmount();
                assert.equal(ringsOf(lab, server).rx, 2048, "nothing was changed");
            } finally {
                unmount();
                await stack.destroy();
            }
            assert.equal(ringsOf(lab, server).rx, 256, "the original, kept through the failed delete");
        });

        it("refuses at preview a symbolic link at its rule's path (a /dev/null mask), which stays as it was", async function () {
            const rule = "/etc/udev/rules.d/90-pulumi-nic-masked.rules";
            onHost(lab, server, ["ln", "-s", "/dev/null", rule]);
            try {
                const stack = await labStack("nic-masked-rule", async () => {
                    new NicRingConfig("masked", { connection: connectionTo(lab, server), interface: "eth1", rings: { rx: 512 } });
                });
                const message = await expectFailure(stack.preview());
                assert.match(message, /persist.*root@[\d.]+:\d+: \/etc\/udev\/rules\.d\/90-pulumi-nic-masked\.rules is a symbolic link \(to \/dev\/null\), not a file this resource may write/);
                assert.equal(ringsOf(lab, server).rx, 256);
                assert.equal(onHost(lab, server, ["readlink", rule]).trim(), "/dev/null", "the mask untouched");
            } finally {
                onHost(lab, server, ["rm", "-f", rule]);
            }
        });

        it("refuses a size above the maximum in preview, naming it, with nothing written", async function () {
            const tooBig = await labStack("nic-too-big", async () => {
                new NicRingConfig("big", { connection: connectionTo(lab, vm), interface: "eth1", rings: { rx: 4096 } });
            });
            const message = await expectFailure(tooBig.preview());
            assert.match(message, new RegExp(`rings\\.rx.*root@${vm.address}:${vm.port}: 4096 is above eth1's pre-set maximum 256`));
            assert.deepEqual(ringsOf(lab, vm), { rx: 256, tx: 256 });
            assert.equal(fileOn(lab, vm, "/etc/udev/rules.d/90-pulumi-nic-big.rules"), null);
        });

        it("on a host without ethtool, fails the preview under onUnsupported: skip too, saying to install it rather than that the NIC lacks it", async function () {
            onHost(lab, vm, ["sh", "-c", ": > /run/plt-no-ethtool && chmod 0644 /run/plt-no-ethtool && mount --bind /run/plt-no-ethtool /usr/sbin/ethtool"]);
            try {
                const bare = await labStack("nic-no-ethtool", async () => {
                    new NicRingConfig("bare", { connection: connectionTo(lab, vm), interface: "eth1", rings: { rx: 128 }, onUnsupported: "skip" });
                });
                const message = await expectFailure(bare.preview());
                assert.match(message, new RegExp(`property rings .* has a problem: root@${vm.address}:${vm.port}: this host has no ethtool on its PATH, .*install the ethtool package`));
                assert.doesNotMatch(message, /does not support/);
            } finally {
                onHost(lab, vm, ["sh", "-c", "umount /usr/sbin/ethtool; rm -f /run/plt-no-ethtool"]);
            }
            assert.deepEqual(ringsOf(lab, vm), { rx: 256, tx: 256 });
        });
    });

    describe("IrqAffinity", function () {
        it("bans its IRQs in a running irqbalance before writing, and puts irqbalance back on delete", async function () {
            // A long interval: the daemon, which the later tests find running, never moves IRQs on its own while they assert them.
            startIrqbalance(lab, server, ["--interval=3600"]);
            const irqbalanceBefore = irqbalanceArgs(lab, server);
            assert.ok(irqbalanceBefore, "a real irqbalance runs on the host");
            const stack = await labStack("irq-spread", async () => {
                new IrqAffinity("irqs", { connection: connectionTo(lab, server), interface: "eth1", spread: "0-3", exclude: "0" });
            });
            await stack.up();
            assert.deepEqual([102, 103, 104, 105].map((irq) => affinityOf(lab, server, irq)), ["1", "2", "3", "1"]);
            assert.equal(affinityOf(lab, server, 101), "0-3", "the misc vector is not a queue");
            const config = fileOn(lab, server, "/etc/default/irqbalance") ?? "";
            assert.match(config, /IRQBALANCE_ARGS=".*--banirq=102 --banirq=103 --banirq=104 --banirq=105"/);
            assert.ok(irqbalanceArgs(lab, server)?.includes("--banirq=105"), "the running irqbalance was restarted with the bans");
            assertNoChanges((await stack.preview()).changeSummary);

            onHost(lab, server, ["sh", "-c", "echo 0-3 > /proc/irq/103/smp_affinity_list"]);
            const refreshed = collect();
            await stack.preview({ refresh: true, diff: true, onOutput: refreshed.onOutput });
            assert.match(refreshed.text(), /103\s*:\s*"2"\s*=>\s*"0-3"/);
            const converge = await stack.up();
            assert.equal(converge.summary.resourceChanges?.update, 1, "up re-applies the drifted affinity");
            assert.equal(affinityOf(lab, server, 103), "2");

            // A ban taken out of irqbalance's file behind Pulumi's back: the next boot's irqbalance would move that IRQ.
            const banned = fileOn(lab, server, "/etc/default/irqbalance") ?? "";
            onHost(lab, server, ["sh", "-c", 'printf "%s" "$2" > "$1"', "sh", "/etc/default/irqbalance", banned.replace(" --banirq=104", "")]);
            const unbanned = collect();
            assert.equal((await stack.preview({ onOutput: unbanned.onOutput })).changeSummary.update, 1);
            assert.match(unbanned.text(), /drift: .*\/etc\/default\/irqbalance no longer bans IRQ 104/);
            await stack.up();
            assert.match(fileOn(lab, server, "/etc/default/irqbalance") ?? "", /IRQBALANCE_ARGS=".*--banirq=104/, "banned again");
            assertNoChanges((await stack.preview()).changeSummary);

            await stack.destroy();
            assert.deepEqual([102, 103, 104, 105].map((irq) => affinityOf(lab, server, irq)), ["0-3", "0-3", "0-3", "0-3"]);
            assert.doesNotMatch(fileOn(lab, server, "/etc/default/irqbalance") ?? "", /--banirq/);
            assert.deepEqual(irqbalanceArgs(lab, server), irqbalanceBefore, "irqbalance runs as it did before");
            assert.equal(fileOn(lab, server, "/etc/systemd/system/pulumi-irq-affinity-irqs.service"), null);
        });

        it("stops irqbalance under irqbalance: stop and starts it again on delete", async function () {
            const running = irqbalanceArgs(lab, server);
            assert.ok(running, "irqbalance from the previous test runs");
            const stack = await labStack("irq-stop", async () => {
                new IrqAffinity("irqs", { connection: connectionTo(lab, server), interface: "eth1", cpus: "2-3", irqbalance: "stop" });
            });
            await stack.up();
            assert.equal(irqbalanceArgs(lab, server), null, "irqbalance is stopped");
            assert.equal(affinityOf(lab, server, 104), "2-3");
            startIrqbalance(lab, server, ["--interval=3600"]);
            const started = collect();
            assert.equal((await stack.preview({ onOutput: started.onOutput })).changeSummary.update, 1);
            assert.match(started.text(), /drift: .*irqbalance is running again \(irqbalance: "stop"\)/);
            await stack.up();
            assert.equal(irqbalanceArgs(lab, server), null, "stopped again");
            await stack.destroy();
            assert.deepEqual(irqbalanceArgs(lab, server), running, "irqbalance runs again as before");
            assert.equal(affinityOf(lab, server, 104), "0-3");
        });

        it("a changed irqbalance policy undoes what the old one did: bans out under leave, started again after stop", async function () {
            if (!irqbalanceArgs(lab, server)) {
                startIrqbalance(lab, server, ["--interval=3600"]);
            }
            const running = irqbalanceArgs(lab, server);
            assert.ok(running, "a real irqbalance runs on the host");
            const configBefore = fileOn(lab, server, "/etc/default/irqbalance");
            let policy: "ban" | "leave" | "stop" = "ban";
            const stack = await labStack("irq-policy-switch", async () => {
                new IrqAffinity("irqs", { connection: connectionTo(lab, server), interface: "eth1", cpus: "2-3", irqbalance: policy });
            });
            try {
                await stack.up();
                assert.ok(irqbalanceArgs(lab, server)?.includes("--banirq=104"));
                policy = "leave";
                await stack.up();
                assert.equal(fileOn(lab, server, "/etc/default/irqbalance"), configBefore, "the file's own bytes back");
                assert.deepEqual(irqbalanceArgs(lab, server), running, "irqbalance runs without the bans");
                assertNoChanges((await stack.preview()).changeSummary);
                policy = "stop";
                await stack.up();
                assert.equal(irqbalanceArgs(lab, server), null, "stopped");
                policy = "ban";
                await stack.up();
                assert.ok(irqbalanceArgs(lab, server)?.includes("--banirq=104"), "started again, with the bans");
                policy = "stop";
                await stack.up();
                assert.equal(irqbalanceArgs(lab, server), null);
            } finally {
                await stack.destroy();
            }
            assert.equal(fileOn(lab, server, "/etc/default/irqbalance"), configBefore);
            assert.deepEqual(irqbalanceArgs(lab, server), running, "irqbalance runs as it did before");
            assert.equal(affinityOf(lab, server, 104), "0-3");
        });

        it("leaves the bans the host already had in IRQBALANCE_ARGS: its file comes back byte for byte", async function () {
            const file = "/etc/default/irqbalance";
            const before = fileOn(lab, server, file);
            const admin = '# our own: these queues stay out of irqbalance\nIRQBALANCE_ARGS="--banirq=102 --banirq=103 --banirq=104 --banirq=105"\n';
            onHost(lab, server, ["sh", "-c", 'printf "%s" "$1" > /etc/default/irqbalance', "sh", admin]);
            const stack = await labStack("irq-admin-bans", async () => {
                new IrqAffinity("irqs", { connection: connectionTo(lab, server), interface: "eth1", cpus: "2-3" });
            });
            try {
                await stack.up();
                assert.equal(fileOn(lab, server, file), admin, "nothing to add");
                assert.equal(affinityOf(lab, server, 104), "2-3");
            } finally {
                await stack.destroy();
            }
            assert.equal(fileOn(lab, server, file), admin, "the host's own bans are not this resource's to take out");
            if (before === null) {
                onHost(lab, server, ["rm", "-f", file]);
            } else {
                onHost(lab, server, ["sh", "-c", 'printf "%s" "$1" > /etc/default/irqbalance', "sh", before]);
            }
        });

        it("writes irqbalance's file through a symlink: the link stays, and destroy gives the file it names its bytes back", async function () {
            const file = "/etc/default/irqbalance";
            const checkout = "/etc/tuning-checkout/irqbalance";
            const before = fileOn(lab, server, file);
            const original = "# kept in a config checkout\n#IRQBALANCE_ARGS=\n";
            onHost(lab, server, ["sh", "-c", 'mkdir -p "${2%/*}" && printf "%s" "$1" > "$2" && chmod 640 "$2" && rm -f "$3" && ln -s "$2" "$3"', "sh", original, checkout, file]);
            const linkAndMode = () => onHost(lab, server, ["sh", "-c", 'readlink "$1"; stat -c %a "$2"', "sh", file, checkout]);
            const stack = await labStack("irq-linked-conf", async () => {
                new IrqAffinity("irqs", { connection: connectionTo(lab, server), interface: "eth1", cpus: "2-3", irqbalance: "ban" });
            });
            try {
                await stack.up();
                assert.equal(linkAndMode(), `${checkout}\n640\n`, "still a link, and the file it names keeps its mode");
                assert.match(fileOn(lab, server, checkout) ?? "", /IRQBALANCE_ARGS=".*--banirq=102/);
                await stack.destroy();
                assert.equal(linkAndMode(), `${checkout}\n640\n`);
                assert.equal(fileOn(lab, server, checkout), original, "the file behind the link has its bytes back");
            } finally {
                onHost(lab, server, ["sh", "-c", 'rm -rf "$1" "${2%/*}"', "sh", file, checkout]);
                if (before !== null) {
                    onHost(lab, server, ["sh", "-c", 'printf "%s" "$1" > /etc/default/irqbalance', "sh", before]);
                }
            }
        });

        it("its boot unit, run on the host as systemd would, pins the queue IRQs again by their names", async function () {
            const irqs = [102, 103, 104, 105];
            const stack = await labStack("irq-boot-unit", async () => {
                new IrqAffinity("irqs", { connection: connectionTo(lab, server), interface: "eth1", cpus: "2" });
            });
            try {
                await stack.up();
                const unit = fileOn(lab, server, "/etc/systemd/system/pulumi-irq-affinity-irqs.service") ?? "";
                assert.match(unit, /^After=.* sys-subsystem-net-devices-eth1\.device$/m);
                const pins = unit.split("\n").filter((l) => l.startsWith("ExecStart=-")).map((l) => l.slice("ExecStart=-".length));
                assert.equal(pins.filter((p) => /\/proc\/interrupts/.test(p)).length, irqs.length, "every queue IRQ pinned by its name");
                for (const irq of irqs) {
                    onHost(lab, server, ["sh", "-c", `echo 0-3 > /proc/irq/${irq}/smp_affinity_list`]);
                }
                for (const pin of pins) {
                    // As systemd runs it: $$ and %% unescaped, then /bin/sh -c with the single-quoted script.
                    const script = /^\/bin\/sh -c '(.*)'$/.exec(pin)?.[1] ?? assert.fail(`not a sh -c line: ${pin}`);
                    onHost(lab, server, ["/bin/sh", "-c", script.replace(/\$\$/g, "$").replace(/%%/g, "%")]);
                }
                assert.deepEqual(irqs.map((irq) => affinityOf(lab, server, irq)), ["2", "2", "2", "2"]);

                // `systemctl disable` behind Pulumi's back: the unit stays, nothing runs it at boot.
                const link = "/etc/systemd/system/multi-user.target.wants/pulumi-irq-affinity-irqs.service";
                onHost(lab, server, ["rm", link]);
                const plain = collect();
                assert.equal((await stack.preview({ onOutput: plain.onOutput })).changeSummary.update, 1);
                assert.match(plain.text(), /drift: .*pulumi-irq-affinity-irqs\.service is not enabled \(no \/etc\/systemd\/system\/multi-user\.target\.wants\/pulumi-irq-affinity-irqs\.service\)/);
                await stack.up();
                assert.equal(onHost(lab, server, ["readlink", link]).trim(), "/etc/systemd/system/pulumi-irq-affinity-irqs.service", "enabled again");
                assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            } finally {
                await stack.destroy();
            }
        });

        it("its boot unit pins by number a queue IRQ whose name another IRQ shares (both ports of an mlx5 card print mlx5_comp0)", async function () {
            const [ours, otherPorts] = [[61, 62, 63, 64], [41, 42, 43, 44]];
            assert.match(cat(lab, mlx5, "/proc/interrupts"), /^\s*41:.* mlx5_comp0$/m);
            const stack = await labStack("irq-boot-unit-shared-names", async () => {
                new IrqAffinity("irqs", { connection: connectionTo(lab, mlx5), interface: "eth1", cpus: "2", irqbalance: "leave" });
            });
            try {
                await stack.up();
                assert.deepEqual(ours.map((irq) => affinityOf(lab, mlx5, irq)), ["2", "2", "2", "2"]);
                const unit = fileOn(lab, mlx5, "/etc/systemd/system/pulumi-irq-affinity-irqs.service") ?? "";
                const pins = unit.split("\n").filter((l) => l.startsWith("ExecStart=-")).map((l) => l.slice("ExecStart=-".length));
                assert.equal(pins.length, ours.length);
                for (const irq of [...ours, ...otherPorts]) {
                    onHost(lab, mlx5, ["sh", "-c", `echo 0-3 > /proc/irq/${irq}/smp_affinity_list`]);
                }
                for (const pin of pins) {
                    const script = /^\/bin\/sh -c '(.*)'$/.exec(pin)?.[1] ?? assert.fail(`not a sh -c line: ${pin}`);
                    onHost(lab, mlx5, ["/bin/sh", "-c", script.replace(/\$\$/g, "$").replace(/%%/g, "%")]);
                }
                assert.deepEqual(ours.map((irq) => affinityOf(lab, mlx5, irq)), ["2", "2", "2", "2"], "eth1's own vectors pinned at boot");
                assert.deepEqual(otherPorts.map((irq) => affinityOf(lab, mlx5, irq)), ["0-3", "0-3", "0-3", "0-3"], "the other port's untouched");
            } finally {
                await stack.destroy();
            }
        });

        it("refuses CPUs that are not online, with the host unchanged", async function () {
            const offline = await labStack("irq-offline", async () => {
                new IrqAffinity("irqs", { connection: connectionTo(lab, server), interface: "eth1", cpus: "6-7", irqbalance: "leave" });
            });
            assert.match(await expectFailure(offline.up()), /no online CPU left in cpus 6-7 \(online: 0-3\)/);
            assert.equal(affinityOf(lab, server, 102), "0-3");
        });

        it("finds virtio queue IRQs through /proc/interrupts on a VM-like host, pins a queue's output IRQ with its input, on the NUMA node of the virtio device's PCI function", async function () {
            assert.equal(cat(lab, vm, "/sys/class/net/eth1/device/../numa_node"), "1");
            assert.equal(onHost(lab, vm, ["sh", "-c", "cat /sys/class/net/eth1/device/numa_node 2>&1 || true"]).includes("No such file"), true, "virtioN has no numa_node of its own");
            const stack = await labStack("irq-vm", async () => {
                const irq = new IrqAffinity("irqs", { connection: connectionTo(lab, vm), interface: "eth1", numaLocal: true, irqbalance: "leave" });
                new PacketSteering("steer", { connection: connectionTo(lab, vm), interface: "eth1", rps: { numaLocal: true } });
                return { irqs: irq.irqs, from: irq.discoveredFrom };
            });
            const out = collect();
            const result = await stack.up({ onOutput: out.onOutput });
            assert.deepEqual(result.outputs.irqs.value, { "41": "virtio1-input.0", "42": "virtio1-output.0" });
            assert.equal(result.outputs.from.value, "/proc/interrupts");
            assert.deepEqual([affinityOf(lab, vm, 41), affinityOf(lab, vm, 42)], ["1", "1"], "node 1's CPU, the pair together as virtio_net pairs them itself");
            assert.equal(cat(lab, vm, "/sys/class/net/eth1/queues/rx-0/rps_cpus"), "2");
            assert.doesNotMatch(out.text(), /reports no NUMA node/);
            await stack.destroy();
        });

        it("applied after a ring change on the same interface, ends with the requested affinity in place", async function () {
            const stack = await labStack("irq-after-rings", async () => {
                const nic = new NicRingConfig("rings", { connection: connectionTo(lab, server), interface: "eth1", rings: { rx: 2048 } });
                // ban: the irqbalance an earlier test left running must not move these IRQs mid-test.
                new IrqAffinity("irqs", { connection: connectionTo(lab, server), nic, cpus: "3", irqbalance: "ban" });
            });
            await stack.up();
            assert.equal(ringsOf(lab, server).rx, 2048);
            assert.deepEqual([102, 103, 104, 105].map((irq) => affinityOf(lab, server, irq)), ["3", "3", "3", "3"]);
            await stack.destroy();
            assert.equal(ringsOf(lab, server).rx, 256);
        });

        it("without nic on an interface a NicRingConfig of the program resizes, fails the preview saying to link them; sizes already in place, nic or dependsOn pass", async function () {
            const rings = ringsOf(lab, server);
            const unlinked = await labStack("irq-unlinked", async () => {
                new NicRingConfig("rings", { connection: connectionTo(lab, server), interface: "eth1", rings: { rx: 2048 } });
                new IrqAffinity("irqs", { connection: connectionTo(lab, server), interface: "eth1", cpus: "3", irqbalance: "leave" });
            });
            const out = collect();
            const message = (await expectFailure(unlinked.preview({ onOutput: out.onOutput }))) + out.text();
            assert.match(message, /irq-unlinked\/lab\/(rings \(NicRingConfig\) in this program changes eth1's rings, which undoes this|irqs \(IrqAffinity\) in this program sets on it); pass (it|this NicRingConfig) as (its )?nic/);
            onHost(lab, server, ["ethtool", "-G", "eth1", "rx", "2048"]);
            try {
                await unlinked.preview();
            } finally {
                onHost(lab, server, ["ethtool", "-G", "eth1", "rx", String(rings.rx)]);
            }
            for (const [name, link] of [["irq-linked-nic", "nic"], ["irq-linked-depends", "dependsOn"]] as const) {
                const linked = await labStack(name, async () => {
                    const nic = new NicRingConfig("rings", { connection: connectionTo(lab, server), interface: "eth1", rings: { rx: 2048 } });
                    const args = { connection: connectionTo(lab, server), cpus: "3", irqbalance: "leave" as const };
                    new IrqAffinity("irqs", link === "nic" ? { ...args, nic } : { ...args, interface: "eth1" }, link === "nic" ? {} : { dependsOn: [nic] });
                });
                await linked.preview();
            }
            // The rings only: the irqbalance an earlier test left running moves the IRQs on its own.
            assert.deepEqual(ringsOf(lab, server), rings, "previews changed nothing");
        });
    });
});

/** Arguments of the irqbalance running on the host, or null when none runs. */
function irqbalanceArgs(lab: Lab, host: LabHost): string[] | null {
    const out = onHost(lab, host, ["sh", "-c", 'p=$(pidof irqbalance) && tr "\\0" "\\n" < /proc/${p%% *}/cmdline || true']).trim();
    return out ? out.split("\n") : null;
}
