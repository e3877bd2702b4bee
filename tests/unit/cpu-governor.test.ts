import { strict as assert } from "assert";
import { FileSnapshot } from "../../provider/host/files";
import { detectGovernorDrift, governorItems, governorProblems, planGovernor, planGovernorRestore, renderUnit } from "../../provider/cpu-governor/plan";
import { cpuGovernorInputsSchema } from "../../provider/cpu-governor/schema";
import { checkFailures } from "../../provider/check";

const C = "/sys/devices/system/cpu";

function host(cpufreq = true): FileSnapshot {
    const files = new Map<string, string>([[`${C}/online`, "0-1\n"]]);
    if (cpufreq) {
        for (const cpu of [0, 1]) {
            files.set(`${C}/cpu${cpu}/cpufreq/scaling_governor`, "powersave\n");
            files.set(`${C}/cpu${cpu}/cpufreq/scaling_available_governors`, "performance powersave\n");
            files.set(`${C}/cpu${cpu}/cpufreq/energy_performance_preference`, "balance_power\n");
            files.set(`${C}/cpu${cpu}/cpufreq/energy_performance_available_preferences`, "default performance balance_performance balance_power power\n");
        }
    }
    return { files, dirs: new Map(), pids: new Map(), commands: new Map(), links: new Map(), cmdlines: new Map() };
}

const inputs = (extra: Record<string, unknown>) => cpuGovernorInputsSchema.parse({ resourceName: "gov", governor: "performance", ...extra });

describe("CpuGovernor planning", function () {
    it("picks the first available governor of a preference list and captures originals", function () {
        const plan = planGovernor(inputs({ governor: ["schedutil", "performance"], energyPerformancePreference: "performance" }), host(), "h");
        assert.deepEqual(plan.desired.governors, { cpu0: "performance", cpu1: "performance" });
        assert.deepEqual(plan.writes.map((w) => w.path), [
            `${C}/cpu0/cpufreq/scaling_governor`,
            `${C}/cpu0/cpufreq/energy_performance_preference`,
            `${C}/cpu1/cpufreq/scaling_governor`,
            `${C}/cpu1/cpufreq/energy_performance_preference`,
        ]);
        assert.deepEqual(plan.record.originals.cpu0, { governor: "powersave", epp: "balance_power" });
        assert.equal(plan.files.write?.[0].path, "/etc/systemd/system/pulumi-cpu-governor-gov.service");
        assert.equal(plan.files.link?.[0].path, "/etc/systemd/system/multi-user.target.wants/pulumi-cpu-governor-gov.service");
    });

    it("lists each CPU's files in its ledger also by their real policy path, which CPUs of one policy share", function () {
        const snapshot = host();
        snapshot.links.set(`${C}/cpu0/cpufreq`, `${C}/cpufreq/policy0`);
        snapshot.links.set(`${C}/cpu1/cpufreq`, `${C}/cpufreq/policy0`);
        const plan = planGovernor(inputs({ cpus: "0-1", persist: false }), snapshot, "h");
        const files = ["scaling_governor", "energy_performance_preference"];
        const items = governorItems(plan.record, snapshot);
        assert.deepEqual(items.filter((i) => i.includes("/policy0/")), files.map((f) => `${C}/cpufreq/policy0/${f}`), "one policy, one set of items");
        assert.ok(files.every((f) => items.includes(`${C}/cpu0/cpufreq/${f}`) && items.includes(`${C}/cpu1/cpufreq/${f}`)));
        assert.deepEqual(governorItems(planGovernor(inputs({ cpus: "1", persist: false }), host(), "h").record, host()), files.map((f) => `${C}/cpu1/cpufreq/${f}`), "a real directory is its own path");
    });

    it("refuses a set that splits a cpufreq policy, whose one governor holds for every CPU it covers", function () {
        const snapshot = host();
        snapshot.links.set(`${C}/cpu0/cpufreq`, `${C}/cpufreq/policy0`);
        snapshot.links.set(`${C}/cpu1/cpufreq`, `${C}/cpufreq/policy0`);
        const expected = /cpu1 shares its cpufreq policy \(\/sys\/devices\/system\/cpu\/cpufreq\/policy0\) with CPU 0, which cpus leaves out: one governor holds for the whole policy, so declare CPU 0-1 together, or none of them/;
        assert.throws(() => planGovernor(inputs({ cpus: "1" }), snapshot, "h"), expected);
        assert.deepEqual(governorProblems(inputs({ cpus: "1" }), snapshot, "h").map((f) => f.property), ["cpus"]);
        assert.deepEqual(governorProblems(inputs({ cpus: "0-1" }), snapshot, "h"), []);
        assert.deepEqual(governorProblems(inputs({}), snapshot, "h"), [], "every online CPU: no split");
        const before43 = host();
        before43.links.set(`${C}/cpu0/cpufreq`, `${C}/cpu0/cpufreq`);
        before43.links.set(`${C}/cpu1/cpufreq`, `${C}/cpu0/cpufreq`);
        assert.match(governorProblems(inputs({ cpus: "0" }), before43, "h")[0]?.reason ?? "", /cpu0 shares its cpufreq policy \(\/sys\/devices\/system\/cpu\/cpu0\/cpufreq\) with CPU 1/, "before Linux 4.3: the first CPU's own directory");
    });

    it("does not put back a dropped CPU that shares a declared CPU's policy (offline now, so cpus could leave it out): that one file holds the declared governor", function () {
        const shared = (online: string) => {
            const snapshot = host();
            snapshot.files.set(`${C}/online`, `${online}\n`);
            snapshot.links.set(`${C}/cpu0/cpufreq`, `${C}/cpufreq/policy0`);
            snapshot.links.set(`${C}/cpu1/cpufreq`, `${C}/cpufreq/policy0`);
            return snapshot;
        };
        const created = planGovernor(inputs({ cpus: "0-1", persist: false }), shared("0-1"), "h");
        const tuned = shared("0");
        for (const cpu of [0, 1]) {
            tuned.files.set(`${C}/cpu${cpu}/cpufreq/scaling_governor`, "performance\n");
        }
        const update = planGovernor(inputs({ cpus: "0", persist: false }), tuned, "h", created.record);
        assert.deepEqual(update.writes, [], "cpu1's powersave would set policy0, and cpu0 with it");
        assert.deepEqual(planGovernorRestore(update.record, tuned, true, "gov").writes.filter((w) => w.path.endsWith("scaling_governor")), [{ path: `${C}/cpu0/cpufreq/scaling_governor`, value: "powersave" }], "the delete puts the policy back");
        const ownPolicies = host();
        ownPolicies.files.set(`${C}/online`, "0\n");
        ownPolicies.files.set(`${C}/cpu1/cpufreq/scaling_governor`, "performance\n");
        assert.deepEqual(planGovernor(inputs({ cpus: "0", persist: false }), ownPolicies, "h", planGovernor(inputs({ cpus: "0-1", persist: false }), host(), "h").record).writes.filter((w) => w.path.includes("cpu1/cpufreq/scaling_governor")), [{ path: `${C}/cpu1/cpufreq/scaling_governor`, value: "powersave" }], "a policy of its own goes back");
    });

    it("refuses a governor the CPU does not offer, listing what it does", function () {
        assert.throws(() => planGovernor(inputs({ governor: "ondemand" }), host(), "h"), /none of ondemand is available on cpu0 \(available: performance powersave\)/);
    });

    it("follows onUnsupported on a host without cpufreq", function () {
        assert.throws(() => planGovernor(inputs({}), host(false), "h"), /no cpufreq .* onUnsupported: "skip"/);
        const skipped = planGovernor(inputs({ onUnsupported: "skip" }), host(false), "h");
        assert.deepEqual(skipped.writes, []);
        assert.match(skipped.record.unsupported ?? "", /no cpufreq/);
        assert.match(skipped.warnings[0], /skipped/);
    });

    it("skipped by an update after an earlier apply set the governors (a CPU lost its cpufreq): puts back what it can reach, as a delete would", function () {
        const applied = planGovernor(inputs({ persist: false }), host(), "h").record;
        const tuned = host();
        tuned.files.set(`${C}/cpu0/cpufreq/scaling_governor`, "performance\n");
        [...tuned.files.keys()].filter((path) => path.startsWith(`${C}/cpu1/cpufreq/`)).forEach((path) => tuned.files.delete(path));
        const skipped = planGovernor(inputs({ persist: false, onUnsupported: "skip" }), tuned, "h", applied);
        assert.deepEqual(skipped.writes, [
            { path: `${C}/cpu0/cpufreq/scaling_governor`, value: "powersave" },
            { path: `${C}/cpu0/cpufreq/energy_performance_preference`, value: "balance_power" },
        ]);
        assert.deepEqual(skipped.record.originals, {}, "nothing of the host is its own any more");
        assert.match(skipped.warnings[0], /skipped: CPU 1 has no cpufreq .*; what an earlier apply set is put back/);
        const kept = planGovernor(inputs({ persist: false, onUnsupported: "skip", restoreOnDelete: false }), tuned, "h", applied);
        assert.deepEqual(kept.writes, []);
        assert.deepEqual(kept.record.originals, applied.originals);
    });

    it("sets the governor where the driver has no EPP (acpi-cpufreq) under onUnsupported: skip, saying the EPP was left out; fails under fail", function () {
        const acpi = host();
        for (const cpu of [0, 1]) {
            acpi.files.delete(`${C}/cpu${cpu}/cpufreq/energy_performance_preference`);
            acpi.files.delete(`${C}/cpu${cpu}/cpufreq/energy_performance_available_preferences`);
            acpi.files.set(`${C}/cpu${cpu}/cpufreq/scaling_driver`, "acpi-cpufreq\n");
        }
        const plan = planGovernor(inputs({ energyPerformancePreference: "performance", onUnsupported: "skip", persist: false }), acpi, "h");
        assert.deepEqual(plan.writes, [0, 1].map((cpu) => ({ path: `${C}/cpu${cpu}/cpufreq/scaling_governor`, value: "performance" })));
        assert.deepEqual(plan.desired, { governors: { cpu0: "performance", cpu1: "performance" }, epp: {} });
        assert.equal(plan.record.unsupported, undefined);
        assert.equal(plan.record.eppUnsupported, "CPU 0-1 offer no energy_performance_preference (driver acpi-cpufreq, not intel_pstate or amd-pstate-epp in active mode)");
        assert.match(plan.warnings[0], /skipped energyPerformancePreference: CPU 0-1 .*; the governor is set/);
        assert.throws(() => planGovernor(inputs({ energyPerformancePreference: "performance" }), acpi, "h"), /CPU 0-1 offer no energy_performance_preference .*onUnsupported: "skip"/);
        assert.deepEqual(governorProblems(inputs({ energyPerformancePreference: "performance" }), acpi, "h").map((p) => p.property), ["energyPerformancePreference"]);
    });

    it("an update that stops declaring the EPP puts each CPU's back, unless the driver pins it under the governor", function () {
        const applied = planGovernor(inputs({ governor: "powersave", energyPerformancePreference: "power", persist: false }), host(), "h").record;
        assert.equal(applied.eppDeclared, true);
        const tuned = host();
        for (const cpu of [0, 1]) {
            tuned.files.set(`${C}/cpu${cpu}/cpufreq/energy_performance_preference`, "power\n");
        }
        const dropped = planGovernor(inputs({ governor: "powersave", persist: false }), tuned, "h", applied);
        assert.deepEqual(dropped.writes, [0, 1].map((cpu) => ({ path: `${C}/cpu${cpu}/cpufreq/energy_performance_preference`, value: "balance_power" })));
        assert.equal(dropped.record.eppDeclared, undefined);
        assert.deepEqual(planGovernor(inputs({ governor: "powersave", persist: false }), tuned, "h", dropped.record).writes, [], "once back, not its own any more");
        const performance = planGovernor(inputs({ governor: "performance", persist: false }), tuned, "h", applied);
        assert.deepEqual(performance.writes.map((w) => w.path), [0, 1].map((cpu) => `${C}/cpu${cpu}/cpufreq/scaling_governor`), "active intel_pstate holds the EPP at performance under it");
        assert.equal(performance.record.eppDeclared, true, "still owed: leaving performance brings back the EPP the driver kept, ours");
        const held = host();
        for (const cpu of [0, 1]) {
            held.files.set(`${C}/cpu${cpu}/cpufreq/scaling_governor`, "performance\n");
            held.files.set(`${C}/cpu${cpu}/cpufreq/energy_performance_preference`, "performance\n");
        }
        const back = planGovernor(inputs({ governor: "powersave", persist: false }), held, "h", performance.record);
        assert.deepEqual(back.writes.filter((w) => w.path.endsWith("energy_performance_preference")), [0, 1].map((cpu) => ({ path: `${C}/cpu${cpu}/cpufreq/energy_performance_preference`, value: "balance_power" })), "written after the governor, over the driver's kept one");
        assert.equal(back.record.eppDeclared, undefined, "paid");
        assert.deepEqual(planGovernor(inputs({ governor: "powersave", persist: false, restoreOnDelete: false }), tuned, "h", applied).writes, []);
    });

    it("refuses offline CPUs", function () {
        assert.throws(() => planGovernor(inputs({ cpus: "0-3" }), host(), "h"), /CPU 2-3 are not online \(online: 0-1\)/);
    });

    it("reports at check what planning would refuse, once per property, naming the host", function () {
        const target = "root@10.0.0.5:22";
        assert.deepEqual(governorProblems(inputs({ governor: ["schedutil", "powersave"], energyPerformancePreference: "balance_power" }), host(), target), []);
        assert.deepEqual(governorProblems(inputs({ cpus: "1-3" }), host(), target), [{ property: "cpus", reason: "root@10.0.0.5:22: CPU 2-3 are not online (online: 0-1)" }]);
        const lacking = governorProblems(inputs({ governor: ["ondemand", "conservative"], energyPerformancePreference: "turbo" }), host(), target);
        assert.deepEqual(lacking.map((f) => f.property), ["governor", "energyPerformancePreference"]);
        assert.equal(lacking[0].reason, "root@10.0.0.5:22: none of ondemand, conservative is available on cpu0 (available: performance powersave)");
        assert.match(lacking[1].reason, /none of turbo is available on cpu0 \(available: default performance/);
        const noCpufreq = governorProblems(inputs({}), host(false), target);
        assert.deepEqual(noCpufreq.map((f) => f.property), ["governor"]);
        assert.match(noCpufreq[0].reason, /^root@10\.0\.0\.5:22: CPU 0-1 have no cpufreq .*onUnsupported: "skip"/);
        assert.deepEqual(governorProblems(inputs({ onUnsupported: "skip" }), host(false), target), []);
        const noEpp = host();
        noEpp.files.delete(`${C}/cpu1/cpufreq/energy_performance_preference`);
        assert.deepEqual(governorProblems(inputs({ energyPerformancePreference: "performance" }), noEpp, target).map((f) => f.property), ["energyPerformancePreference"]);
    });

    it("refuses at check an EPP the performance governor does not take, and writes the EPP again after a governor change", function () {
        const refused = governorProblems(inputs({ governor: "performance", energyPerformancePreference: "balance_power" }), host(), "root@h:22");
        assert.deepEqual(refused, [{ property: "energyPerformancePreference", reason: 'root@h:22: cpu0 would run the performance governor, under which the driver takes only the EPP "performance" (it refuses others with EBUSY)' }]);
        assert.deepEqual(governorProblems(inputs({ governor: "powersave", energyPerformancePreference: "balance_power" }), host(), "root@h:22"), []);
        // intel_pstate in passive mode (intel_cpufreq): the governor runs, and the EPP is taken under performance too.
        const passive = host();
        for (const cpu of [0, 1]) {
            passive.files.set(`${C}/cpu${cpu}/cpufreq/scaling_driver`, "intel_cpufreq");
        }
        assert.deepEqual(governorProblems(inputs({ governor: "performance", energyPerformancePreference: "balance_power" }), passive, "root@h:22"), []);
        // On performance with EPP performance; switching to powersave, the driver puts back the EPP it kept for powersave.
        const onPerformance = host();
        for (const cpu of [0, 1]) {
            onPerformance.files.set(`${C}/cpu${cpu}/cpufreq/scaling_governor`, "performance\n");
            onPerformance.files.set(`${C}/cpu${cpu}/cpufreq/energy_performance_preference`, "performance\n");
        }
        const plan = planGovernor(inputs({ governor: "powersave", energyPerformancePreference: "performance" }), onPerformance, "h");
        assert.deepEqual(plan.writes.filter((w) => w.path.includes("cpu0/")), [
            { path: `${C}/cpu0/cpufreq/scaling_governor`, value: "powersave" },
            { path: `${C}/cpu0/cpufreq/energy_performance_preference`, value: "performance" },
        ]);
        const restore = planGovernorRestore({ originals: { cpu0: { governor: "powersave", epp: "balance_power" } } }, onPerformance, true, "gov");
        assert.deepEqual(restore.writes, [
            { path: `${C}/cpu0/cpufreq/scaling_governor`, value: "powersave" },
            { path: `${C}/cpu0/cpufreq/energy_performance_preference`, value: "balance_power" },
        ]);
    });

    it("detects per-CPU drift and restores originals", function () {
        const desired = { governors: { cpu0: "performance", cpu1: "performance" }, epp: {} };
        const live = host();
        live.files.set(`${C}/cpu0/cpufreq/scaling_governor`, "performance");
        const unit = renderUnit("gov", desired);
        assert.deepEqual(
            unit.split("\n").filter((l) => l.startsWith("ExecStart")),
            [0, 1].map((cpu) => `ExecStart=-/bin/sh -c 'echo performance > ${C}/cpu${cpu}/cpufreq/scaling_governor'`),
            "each CPU's line on its own: one the boot lacks does not stop the others",
        );
        assert.match(unit, /^After=sysinit\.target ondemand\.service .*power-profiles-daemon\.service tuned\.service$/m, "after what else sets governors at boot: the declared one is the last word");
        assert.deepEqual(detectGovernorDrift(desired, live, "/u", unit).values, [{ name: "cpu1", live: "powersave", desired: "performance" }]);
        const unitFile = "/etc/systemd/system/pulumi-cpu-governor-gov.service";
        const link = "/etc/systemd/system/multi-user.target.wants/pulumi-cpu-governor-gov.service";
        live.files.set(unitFile, unit);
        assert.equal(detectGovernorDrift(desired, live, unitFile, unit).unit, `${unitFile} is not enabled (no ${link})`, "systemctl disable: the unit stays, nothing runs it at boot");
        live.symlinks = new Map([[link, unitFile]]);
        assert.equal(detectGovernorDrift(desired, live, unitFile, unit).unit, undefined);
        live.symlinks = new Map([[link, "/dev/null"]]);
        assert.match(detectGovernorDrift(desired, live, unitFile, unit).unit ?? "", /is not enabled/, "a link elsewhere (masked) enables nothing");
        const restore = planGovernorRestore({ originals: { cpu0: { governor: "powersave" } }, unitFile: "/u" }, live, true, "gov");
        assert.deepEqual(restore.writes, [{ path: `${C}/cpu0/cpufreq/scaling_governor`, value: "powersave" }]);
        assert.ok(restore.files.remove?.includes("/u"));
    });

    it("keeps the original of a CPU gone offline (its policy inactive) until it is back, and refuses a delete that cannot put it back", function () {
        const first = planGovernor(inputs({}), host(), "h");
        const offline = host();
        offline.files.set(`${C}/online`, "0\n");
        offline.files.set(`${C}/cpu0/cpufreq/scaling_governor`, "performance\n");
        offline.files.delete(`${C}/cpu1/cpufreq/scaling_governor`);
        const update = planGovernor(inputs({}), offline, "h", first.record);
        assert.deepEqual(update.record.originals, { cpu0: { governor: "powersave", epp: "balance_power" }, cpu1: { governor: "powersave", epp: "balance_power" } });
        assert.deepEqual(update.desired.governors, { cpu0: "performance" });
        assert.match(update.warnings.join("\n"), /h: cpu1 cannot be read now \(offline, its cpufreq policy inactive\): its original governor is kept/);
        assert.throws(() => planGovernorRestore(update.record, offline, true, "gov", "h"), /^Error: h: cannot put back the original governor of cpu1: .*Bring it online and delete again, or set restoreOnDelete: false to leave it\. Nothing was changed\.$/);
        assert.deepEqual(planGovernorRestore(update.record, offline, false, "gov", "h").writes, [], "restoreOnDelete: false leaves it");
        const back = host();
        back.files.set(`${C}/cpu0/cpufreq/scaling_governor`, "performance\n");
        back.files.set(`${C}/cpu1/cpufreq/scaling_governor`, "performance\n");
        assert.deepEqual(planGovernorRestore(update.record, back, true, "gov", "h").writes.filter((w) => w.path.endsWith("scaling_governor")), [
            { path: `${C}/cpu0/cpufreq/scaling_governor`, value: "powersave" },
            { path: `${C}/cpu1/cpufreq/scaling_governor`, value: "powersave" },
        ]);
        assert.deepEqual(planGovernor(inputs({}), back, "h", update.record).record.originals.cpu1, { governor: "powersave", epp: "balance_power" }, "online again: its kept original, not this resource's value");
    });

    it("sets intel_pstate's min_perf_pct (global), keeps its original, puts it back when no longer declared and at delete, and says where it cannot", function () {
        const pstate = () => {
            const snap = host();
            snap.files.set(`${C}/intel_pstate/min_perf_pct`, "20\n");
            snap.files.set(`${C}/intel_pstate/max_perf_pct`, "100\n");
            return snap;
        };
        const plan = planGovernor(inputs({ minPerfPct: 100 }), pstate(), "h");
        assert.deepEqual(plan.writes.slice(-1), [{ path: `${C}/intel_pstate/min_perf_pct`, value: "100" }], "after the governors");
        assert.equal(plan.desired.minPerfPct, "100");
        assert.equal(plan.record.minPerfPctOriginal, "20");
        assert.match(renderUnit("gov", plan.desired), /^ExecStart=-\/bin\/sh -c 'echo 100 > \/sys\/devices\/system\/cpu\/intel_pstate\/min_perf_pct'$/m);
        assert.ok(governorItems(plan.record).includes(`${C}/intel_pstate/min_perf_pct`), "in the ledger's items");

        const tuned = pstate();
        tuned.files.set(`${C}/intel_pstate/min_perf_pct`, "100\n");
        tuned.files.set(`${C}/cpu0/cpufreq/scaling_governor`, "performance\n");
        tuned.files.set(`${C}/cpu1/cpufreq/scaling_governor`, "performance\n");
        assert.deepEqual(detectGovernorDrift(plan.desired, tuned, undefined, undefined).values, []);
        const lowered = pstate();
        lowered.files.set(`${C}/cpu0/cpufreq/scaling_governor`, "performance\n");
        lowered.files.set(`${C}/cpu1/cpufreq/scaling_governor`, "performance\n");
        assert.deepEqual(detectGovernorDrift(plan.desired, lowered, undefined, undefined).values, [{ name: "intel_pstate min_perf_pct", live: "20", desired: "100" }]);
        assert.equal(planGovernor(inputs({ minPerfPct: 100 }), tuned, "h", plan.record).record.minPerfPctOriginal, "20", "not 100, this resource's own value");

        const dropped = planGovernor(inputs({}), tuned, "h", plan.record);
        assert.deepEqual(dropped.writes, [{ path: `${C}/intel_pstate/min_perf_pct`, value: "20" }]);
        assert.equal(dropped.record.minPerfPctOriginal, undefined);
        assert.deepEqual(planGovernorRestore(plan.record, tuned, true, "gov").writes.slice(-1), [{ path: `${C}/intel_pstate/min_perf_pct`, value: "20" }]);

        // No other driver has the knob: skipped as tuned skips it, even under onUnsupported: "fail" (a profile's low latency on amd-pstate).
        assert.deepEqual(governorProblems(inputs({ minPerfPct: 100 }), host(), "h"), []);
        const skipped = planGovernor(inputs({ minPerfPct: 100 }), host(), "h");
        assert.match(skipped.warnings.join("\n"), new RegExp(`h: skipped minPerfPct: no ${C}/intel_pstate/min_perf_pct \\(driver unknown\\): min_perf_pct is intel_pstate's own, as tuned skips it`));
        assert.deepEqual(skipped.desired.governors, { cpu0: "performance", cpu1: "performance" }, "the governor is still set");
        assert.equal(skipped.desired.minPerfPct, undefined);
        const capped = pstate();
        capped.files.set(`${C}/intel_pstate/max_perf_pct`, "80\n");
        assert.deepEqual(governorProblems(inputs({ minPerfPct: 100 }), capped, "h"), [
            { property: "minPerfPct", reason: "h: 100 is above intel_pstate's max_perf_pct 80 here, and the kernel keeps min_perf_pct at or below it" },
        ]);
        assert.ok(checkFailures(cpuGovernorInputsSchema, { resourceName: "g", governor: "performance", minPerfPct: 101 }).some((f) => f.property === "minPerfPct"));
        const slowest = pstate();
        slowest.files.set(`${C}/cpu0/cpufreq/cpuinfo_min_freq`, "800000\n");
        slowest.files.set(`${C}/cpu0/cpufreq/cpuinfo_max_freq`, "3900000\n");
        assert.deepEqual(governorProblems(inputs({ minPerfPct: 10 }), slowest, "h"), [
            { property: "minPerfPct", reason: "h: 10 is below the lowest performance these CPUs have (21%: cpuinfo_min_freq 800000 of cpuinfo_max_freq 3900000 kHz), which the kernel raises min_perf_pct to" },
        ], "the kernel would raise it: drift at every preview");
        assert.deepEqual(governorProblems(inputs({ minPerfPct: 21 }), slowest, "h"), []);
    });

    it("refuses the EPP \"default\", which the kernel shows by the firmware's own name, never as declared", function () {
        const failures = checkFailures(cpuGovernorInputsSchema, { governor: "powersave", energyPerformancePreference: ["default", "balance_power"], resourceName: "g" });
        assert.deepEqual(failures.map((f) => f.property), ["energyPerformancePreference"]);
        assert.match(failures[0].reason, /cannot be "default": .*always look drifted/);
    });
});
