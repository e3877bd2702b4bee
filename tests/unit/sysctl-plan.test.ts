import { strict as assert } from "assert";
import { MissingKeysError, detectDrift, liveSettings, planApply, planRestore, renderPersistFile } from "../../provider/sysctl/plan";
import { HostSnapshot, LiveValue, parseApplyOutput, parseReadOutput } from "../../provider/sysctl/remote";
import { SysctlSetInputs, sysctlSetInputsSchema } from "../../provider/sysctl/schema";

function inputs(extra: Record<string, unknown>): SysctlSetInputs {
    return sysctlSetInputsSchema.parse({ resourceName: "web", ...extra });
}

function snapshot(values: Record<string, string | null>, ownFile: string | null = null): HostSnapshot {
    const map = new Map<string, LiveValue>();
    for (const [k, v] of Object.entries(values)) {
        map.set(k, v === null ? { state: "missing" } : { state: "value", value: v });
    }
    return { values: map, ownFile, otherWriters: [], ledgers: new Map() };
}

describe("SysctlSet planning", function () {
    it("writes only what differs and captures every original", function () {
        const plan = planApply(
            inputs({ settings: { "net.core.somaxconn": 65535, "net.ipv4.tcp_rmem": [4096, 131072, 6291456] } }),
            snapshot({ "net.core.somaxconn": "4096", "net.ipv4.tcp_rmem": "4096 131072 6291456" }),
            "h1",
        );
        assert.deepEqual(plan.writes, [{ key: "net.core.somaxconn", value: "65535" }]);
        assert.deepEqual(plan.record.originals, { "net.core.somaxconn": "4096", "net.ipv4.tcp_rmem": "4096 131072 6291456" });
        assert.equal(plan.file.write?.path, "/etc/sysctl.d/90-pulumi-web.conf");
        assert.match(plan.file.write?.content ?? "", /^net\.core\.somaxconn = 65535$/m);
    });

    it("does not rewrite a persistence file that is already right", function () {
        const desired = inputs({ settings: { "vm.swappiness": 10 } });
        const content = renderPersistFile("web", { "vm.swappiness": "10" });
        const plan = planApply(desired, snapshot({ "vm.swappiness": "10" }, content), "h1", {
            originals: { "vm.swappiness": "60" },
            skipped: [],
            persistedFile: "/etc/sysctl.d/90-pulumi-web.conf",
        });
        assert.deepEqual(plan.writes, []);
        assert.deepEqual(plan.file, {});
        assert.deepEqual(plan.record.originals, { "vm.swappiness": "60" }, "keeps the first-captured original");
    });

    it("fails on missing keys under onMissing: fail, listing all of them, and skips them under skip", function () {
        const host = snapshot({ "net.core.somaxconn": "4096", "net.core.busy_poll": null, "net.core.busy_read": null });
        const settings = { "net.core.somaxconn": 1024, "net.core.busy_poll": 50, "net.core.busy_read": 50 };
        assert.throws(() => planApply(inputs({ settings }), host, "h1"), (e: Error) => e instanceof MissingKeysError && /busy_poll, net\.core\.busy_read do not exist/.test(e.message));
        const plan = planApply(inputs({ settings, onMissing: "skip" }), host, "h1");
        assert.deepEqual(plan.record.skipped, ["net.core.busy_poll", "net.core.busy_read"]);
        assert.ok(plan.warnings.some((w) => /skipped net\.core\.busy_poll/.test(w)));
        assert.doesNotMatch(plan.file.write?.content ?? "", /busy_poll/);
    });

    it("restores keys dropped from the declaration and removes a renamed file", function () {
        const plan = planApply(
            inputs({ settings: { "vm.swappiness": 10 }, persistFile: "/etc/sysctl.d/80-new.conf" }),
            snapshot({ "vm.swappiness": "10", "net.core.somaxconn": "65535" }),
            "h1",
            { originals: { "vm.swappiness": "60", "net.core.somaxconn": "4096" }, skipped: [], persistedFile: "/etc/sysctl.d/90-pulumi-web.conf" },
        );
        assert.deepEqual(plan.writes, [{ key: "net.core.somaxconn", value: "4096" }]);
        assert.equal(plan.file.write?.path, "/etc/sysctl.d/80-new.conf");
        assert.equal(plan.file.remove, "/etc/sysctl.d/90-pulumi-web.conf");
    });

    it("warns when another sysctl.d file sets a managed key differently", function () {
        const host = snapshot({ "net.core.somaxconn": "4096" });
        host.otherWriters.push({ file: "/etc/sysctl.d/99-old.conf", key: "net.core.somaxconn", value: "1024" });
        const plan = planApply(inputs({ settings: { "net.core.somaxconn": 65535 } }), host, "h1");
        assert.ok(plan.warnings.some((w) => w.includes("/etc/sysctl.d/99-old.conf also sets net.core.somaxconn = 1024")));
    });

    it("restores originals on delete, writing only what changed since", function () {
        const restore = planRestore(
            { originals: { "a.b": "1", "c.d": "2" }, skipped: [], persistedFile: "/etc/sysctl.d/x.conf" },
            snapshot({ "a.b": "5", "c.d": "2" }),
            true,
        );
        assert.deepEqual(restore.writes, [{ key: "a.b", value: "1" }]);
        assert.equal(restore.file.remove, "/etc/sysctl.d/x.conf");
        assert.deepEqual(planRestore({ originals: { "a.b": "1" }, skipped: [] }, snapshot({ "a.b": "5" }), false).writes, []);
    });

    it("reports drift per key and for the persistence file, in the declared shape", function () {
        const desired = inputs({ settings: { "net.core.somaxconn": 65535, "net.ipv4.tcp_fin_timeout": { atMost: 20 } } });
        const live = snapshot({ "net.core.somaxconn": "4096", "net.ipv4.tcp_fin_timeout": "15" }, null);
        const drift = detectDrift(desired, live, []);
        assert.deepEqual(drift.values, [{ key: "net.core.somaxconn", live: "4096", desired: "65535" }]);
        assert.equal(drift.file, "/etc/sysctl.d/90-pulumi-web.conf is missing");
        assert.deepEqual(liveSettings(desired, live), { "net.core.somaxconn": 4096, "net.ipv4.tcp_fin_timeout": { atMost: 20 } });
    });
});

describe("SysctlSet remote output parsing", function () {
    it("parses values, missing keys, our file and other writers", function () {
        const out = [
            "value\tnet/ipv4/tcp_rmem\t4096 131072  6291456",
            "missing\tnet/core/busy_poll",
            "unreadable\tnet/ipv4/route/flush\tPermission denied",
            `own\t${Buffer.from("a = 1\n").toString("base64")}`,
            "conf\t/etc/sysctl.d/99-x.conf\tnet.core.somaxconn = 1024",
            "",
        ].join("\n");
        const snap = parseReadOutput(out);
        assert.deepEqual(snap.values.get("net.ipv4.tcp_rmem"), { state: "value", value: "4096 131072 6291456" });
        assert.deepEqual(snap.values.get("net.core.busy_poll"), { state: "missing" });
        assert.equal(snap.values.get("net.ipv4.route.flush")?.state, "unreadable");
        assert.equal(snap.ownFile, "a = 1\n");
        assert.deepEqual(snap.otherWriters, [{ file: "/etc/sysctl.d/99-x.conf", key: "net.core.somaxconn", value: "1024" }]);
    });

    it("turns a failed apply into an error naming the key and the kernel's reason", function () {
        assert.throws(
            () => parseApplyOutput("root@h1:22", "set\tnet/core/somaxconn\t4096\t5000\nfailed\tnet/core/rmem_max\tsysctl: setting key \"net.core.rmem_max\": Invalid argument\n"),
            /root@h1:22: the kernel refused net\.core\.rmem_max: .*Invalid argument\. Every value .* restored/,
        );
        assert.throws(() => parseApplyOutput("h", "failed\ta/b\tx\nrollback-failed\ta/c\n"), /Could NOT restore a\.c/);
        assert.throws(() => parseApplyOutput("h", "set\ta/b\t1\t2\n"), /ended early/);
        assert.throws(() => parseApplyOutput("local", "not-root\talice\n"), /^Error: local: changing kernel settings needs root, and this runs as alice: .*sudo: true.*Nothing was changed\.$/);
        const ok = parseApplyOutput("h", "set\tnet/core/somaxconn\t4096\t5000\ndone\n");
        assert.equal(ok.readBack.get("net.core.somaxconn"), "5000");
    });
});
