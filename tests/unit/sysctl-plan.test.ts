import { strict as assert } from "assert";
import { MissingKeysError, describeDrift, detectDrift, ledgerOnlyItems, liveSettings, planApply, planRestore, renderPersistFile } from "../../provider/sysctl/plan";
import { isSecretKey } from "../../provider/sysctl/keys";
import { HostSnapshot, LiveValue, parseApplyOutput, parseReadOutput } from "../../provider/sysctl/remote";
import { SysctlSetInputs, sysctlSetInputsSchema } from "../../provider/sysctl/schema";
import { ABSENT, PathContent, fileContent, fileOf, linkTo } from "../../provider/host/restore";
import { bytesOf, fileFromBytes } from "../../provider/host/files";
import { ledgerPath, parseLedgerLines, renderLedger } from "../../provider/sysctl/ledger";

function inputs(extra: Record<string, unknown>): SysctlSetInputs {
    return sysctlSetInputsSchema.parse({ resourceName: "web", ...extra });
}

const WEB_FILE = "/etc/sysctl.d/90-pulumi-web.conf";

/** `files`: what each persistence file path read holds (null: absent); the first is `ownFile`. */
function snapshot(values: Record<string, string | null>, files: Record<string, string | null> = { [WEB_FILE]: null }): HostSnapshot {
    const map = new Map<string, LiveValue>();
    for (const [k, v] of Object.entries(values)) {
        map.set(k, v === null ? { state: "missing" } : { state: "value", value: v });
    }
    const ownPaths = new Map(Object.entries(files).map(([path, text]): [string, PathContent] => [path, text === null ? ABSENT : fileContent(text)]));
    return { values: map, ownFile: Object.values(files)[0], ownPaths, otherWriters: [], ledgers: new Map() };
}

describe("SysctlSet planning", function () {
    it("a writeback byte count (0 before, and 0 refused by the kernel) goes back by its ratio's original, kept beside it", function () {
        const bytes = inputs({ owner: "p/s/web", settings: { "vm.dirty_bytes": 268435456 }, persist: false });
        const plan = planApply(bytes, snapshot({ "vm.dirty_bytes": "0", "vm.dirty_ratio": "20" }), "h1");
        assert.deepEqual(plan.record.originals, { "vm.dirty_bytes": "0", "vm.dirty_ratio": "20" });
        assert.deepEqual(plan.writes, [{ key: "vm.dirty_ratio", value: "20" }, { key: "vm.dirty_bytes", value: "268435456" }], "the ratio first: a rollback ends with it");
        const tuned = snapshot({ "vm.dirty_bytes": "268435456", "vm.dirty_ratio": "0" });
        assert.deepEqual(planRestore(plan.record, tuned, true, "h1").writes, [{ key: "vm.dirty_ratio", value: "20" }]);
        assert.deepEqual(planApply(bytes, tuned, "h1", plan.record).writes, [], "a second apply writes nothing, the ratio (0 now) is no drift");
        assert.deepEqual(detectDrift(bytes, tuned, []).values, []);
        const dropped = planApply(inputs({ owner: "p/s/web", settings: { "vm.swappiness": 10 }, persist: false }), { ...tuned, values: new Map([...tuned.values, ["vm.swappiness", { state: "value", value: "60" }]]) }, "h1", plan.record);
        assert.deepEqual(dropped.writes, [{ key: "vm.swappiness", value: "10" }, { key: "vm.dirty_ratio", value: "20" }], "dropped from the settings: back by the ratio too");
        const ratioKept = planApply(inputs({ owner: "p/s/web", settings: { "vm.dirty_ratio": 10 }, persist: false }), snapshot({ "vm.dirty_bytes": "0", "vm.dirty_ratio": "20" }), "h1");
        assert.deepEqual(ratioKept.writes, [{ key: "vm.dirty_ratio", value: "10" }], "a ratio in force needs no help");
    });

    it("writes back a key only its own ledger holds (an update killed before the engine saved it), so the new ledger does not lose its original", function () {
        const desired = inputs({ owner: "p/s/web", settings: { "vm.swappiness": 10 }, persist: false });
        const host = snapshot({ "vm.swappiness": "10", "net.ipv4.tcp_keepalive_time": "333" });
        host.ledgers.set(ledgerPath("p/s/web"), { owner: "p/s/web", originals: { "vm.swappiness": "60", "net.ipv4.tcp_keepalive_time": "7200" }, files: { [WEB_FILE]: ABSENT } });
        const previous = { originals: { "vm.swappiness": "60" }, skipped: [], ledgerFile: ledgerPath("p/s/web") };
        const plan = planApply(desired, host, "h1", previous);
        assert.deepEqual(plan.writes, [{ key: "net.ipv4.tcp_keepalive_time", value: "7200" }]);
        assert.deepEqual(plan.record.originals, { "vm.swappiness": "60" });
        host.values.set("net.ipv4.tcp_keepalive_time", { state: "missing" });
        const gone = planApply(desired, host, "h1", previous);
        assert.deepEqual(gone.writes, [], "a key gone from the host (its interface removed) does not block the update");
        assert.match(gone.warnings.join("\n"), /net\.ipv4\.tcp_keepalive_time, which only the ledger of an interrupted update held, cannot be put back to 7200: it is missing here now/);
        const key = "net.ipv4.tcp_fastopen_key";
        host.ledgers.get(ledgerPath("p/s/web"))!.originals[key] = "01234567-89abcdef-01234567-89abcdef";
        host.values.set(key, { state: "unreadable", message: "Permission denied" });
        const secret = planApply(desired, host, "h1", previous).warnings.join("\n");
        assert.match(secret, /net\.ipv4\.tcp_fastopen_key, which only the ledger of an interrupted update held, cannot be put back to \(secret, not shown\)/);
        assert.ok(!secret.includes("01234567"), "a secret original never in a message");
        host.ledgers.get(ledgerPath("p/s/web"))!.originals = { "vm.swappiness": "60", "net.ipv4.tcp_keepalive_time": "7200" };
        host.values.delete(key);
        const only = { file: ledgerPath("p/s/web"), items: ["net.ipv4.tcp_keepalive_time", WEB_FILE] };
        assert.deepEqual(ledgerOnlyItems(host.ledgers, { owner: "p/s/web", resourceName: "web", settings: { "vm.swappiness": 10 }, persist: false }, desired), only);
        assert.equal(ledgerOnlyItems(host.ledgers, { owner: "p/s/web", resourceName: "web", settings: { "net.ipv4.tcp_keepalive_time": 333 }, persist: true }, desired), undefined, "what the old inputs declared is state's");
        const renamed = inputs({ owner: "p/renamed/web", settings: { "vm.swappiness": 10 }, persist: false });
        assert.deepEqual(ledgerOnlyItems(host.ledgers, { owner: "p/s/web", resourceName: "web", settings: { "vm.swappiness": 10 }, persist: false }, renamed), only, "after a stack rename, the ledger of its old owner");
    });

    it("a secret key (TCP Fast Open's, IPv6's stable_secret) is persisted in a file only root reads, and never shown in drift or warnings", function () {
        const key = "0123abcd-0123abcd-0123abcd-0123abcd";
        const original = "deadbeef-deadbeef-deadbeef-deadbeef";
        const tfo = inputs({ owner: "p/s/web", settings: { "net.ipv4.tcp_fastopen_key": key } });
        const host = snapshot({ "net.ipv4.tcp_fastopen_key": original });
        host.otherWriters.push({ file: "/etc/sysctl.d/99-tfo.conf", key: "net.ipv4.tcp_fastopen_key", value: original });
        const plan = planApply(tfo, host, "h1");
        assert.equal(plan.file.changes.write?.[0].mode, "0600");
        const shown = [...plan.warnings, ...describeDrift(detectDrift(tfo, host, []))].join("\n");
        assert.match(shown, /99-tfo\.conf also sets net\.ipv4\.tcp_fastopen_key = \(secret, not shown\)/);
        assert.match(shown, /net\.ipv4\.tcp_fastopen_key differs from the declared value \(a secret, not shown\)/);
        assert.doesNotMatch(shown, /deadbeef|0123abcd/);
        assert.equal(planApply(inputs({ owner: "p/s/web", settings: { "net.core.somaxconn": 4096 } }), snapshot({ "net.core.somaxconn": "128" }), "h1").file.changes.write?.[0].mode, undefined);
        assert.ok(isSecretKey("net/ipv6/conf/eth0.100/stable_secret") && isSecretKey("net.ipv6.conf.default.stable_secret") && !isSecretKey("net.ipv6.conf.all.forwarding"));
    });

    it("writes only what differs and captures every original", function () {
        const plan = planApply(
            inputs({ settings: { "net.core.somaxconn": 65535, "net.ipv4.tcp_rmem": [4096, 131072, 6291456] } }),
            snapshot({ "net.core.somaxconn": "4096", "net.ipv4.tcp_rmem": "4096 131072 6291456" }),
            "h1",
        );
        assert.deepEqual(plan.writes, [{ key: "net.core.somaxconn", value: "65535" }]);
        assert.deepEqual(plan.record.originals, { "net.core.somaxconn": "4096", "net.ipv4.tcp_rmem": "4096 131072 6291456" });
        assert.equal(plan.file.changes.write?.[0].path, "/etc/sysctl.d/90-pulumi-web.conf");
        assert.match(plan.file.changes.write?.[0].content ?? "", /^net\.core\.somaxconn = 65535$/m);
    });

    it("leaves a key it no longer declares alone when another SysctlSet took it over (its own ledger no longer holds it)", function () {
        const desired = inputs({ owner: "p/s/web", settings: { "vm.swappiness": 10 }, persist: false });
        const host = snapshot({ "vm.swappiness": "10", "net.core.somaxconn": "8192" });
        host.ledgers.set(ledgerPath("p/s/web"), { owner: "p/s/web", originals: { "vm.swappiness": "60" } });
        const previous = { originals: { "vm.swappiness": "60", "net.core.somaxconn": "4096" }, skipped: [], ledgerFile: ledgerPath("p/s/web") };
        assert.deepEqual(planApply(desired, host, "h1", previous).writes, []);
        host.ledgers.set(ledgerPath("p/s/web"), { owner: "p/s/web", originals: { "vm.swappiness": "60", "net.core.somaxconn": "4096" } });
        assert.deepEqual(planApply(desired, host, "h1", previous).writes, [{ key: "net.core.somaxconn", value: "4096" }], "still its own: put back");
    });

    it("does not rewrite a persistence file that is already right", function () {
        const desired = inputs({ settings: { "vm.swappiness": 10 } });
        const content = renderPersistFile("web", { "vm.swappiness": "10" });
        const plan = planApply(desired, snapshot({ "vm.swappiness": "10" }, { [WEB_FILE]: content }), "h1", {
            originals: { "vm.swappiness": "60" },
            skipped: [],
            persistedFile: "/etc/sysctl.d/90-pulumi-web.conf",
        });
        assert.deepEqual(plan.writes, []);
        assert.deepEqual(plan.file, { changes: {} });
        assert.deepEqual(plan.record.originals, { "vm.swappiness": "60" }, "keeps the first-captured original");
    });

    it("fails on missing keys under onMissing: fail, listing all of them, and skips them under skip", function () {
        const host = snapshot({ "net.core.somaxconn": "4096", "net.core.busy_poll": null, "net.core.busy_read": null });
        const settings = { "net.core.somaxconn": 1024, "net.core.busy_poll": 50, "net.core.busy_read": 50 };
        assert.throws(() => planApply(inputs({ settings }), host, "h1"), (e: Error) => e instanceof MissingKeysError && /busy_poll, net\.core\.busy_read do not exist/.test(e.message));
        const plan = planApply(inputs({ settings, onMissing: "skip" }), host, "h1");
        assert.deepEqual(plan.record.skipped, ["net.core.busy_poll", "net.core.busy_read"]);
        assert.ok(plan.warnings.some((w) => /skipped net\.core\.busy_poll/.test(w)));
        assert.doesNotMatch(plan.file.changes.write?.[0].content ?? "", /busy_poll/);
    });

    it("restores keys dropped from the declaration and removes a renamed file", function () {
        const plan = planApply(
            inputs({ settings: { "vm.swappiness": 10 }, persistFile: "/etc/sysctl.d/80-new.conf" }),
            snapshot({ "vm.swappiness": "10", "net.core.somaxconn": "65535" }, { "/etc/sysctl.d/80-new.conf": null, [WEB_FILE]: "ours" }),
            "h1",
            { originals: { "vm.swappiness": "60", "net.core.somaxconn": "4096" }, skipped: [], persistedFile: "/etc/sysctl.d/90-pulumi-web.conf" },
        );
        assert.deepEqual(plan.writes, [{ key: "net.core.somaxconn", value: "4096" }]);
        assert.equal(plan.file.changes.write?.[0].path, "/etc/sysctl.d/80-new.conf");
        assert.deepEqual(plan.file.changes.remove, ["/etc/sysctl.d/90-pulumi-web.conf"]);
    });

    it("warns when another sysctl.d file sets a managed key differently", function () {
        const host = snapshot({ "net.core.somaxconn": "4096" });
        host.otherWriters.push({ file: "/etc/sysctl.d/99-old.conf", key: "net.core.somaxconn", value: "1024" });
        const plan = planApply(inputs({ settings: { "net.core.somaxconn": 65535 } }), host, "h1");
        assert.ok(plan.warnings.some((w) => w.includes("/etc/sysctl.d/99-old.conf also sets net.core.somaxconn = 1024")));
    });

    it("warns only of a file that wins at boot: one sorting after ours, or /etc/sysctl.conf; any, when nothing is persisted", function () {
        const host = snapshot({ "net.core.default_qdisc": "fq_codel" });
        host.otherWriters.push(
            { file: "/usr/lib/sysctl.d/50-default.conf", key: "net.core.default_qdisc", value: "fq_codel" },
            { file: "/etc/sysctl.conf", key: "net.core.default_qdisc", value: "pfifo_fast" },
            { file: "/run/sysctl.d/95-late.conf", key: "net.core.default_qdisc", value: "cake" },
        );
        const warnings = planApply(inputs({ settings: { "net.core.default_qdisc": "fq" } }), host, "h1").warnings;
        assert.deepEqual(warnings, [
            "h1: /etc/sysctl.conf also sets net.core.default_qdisc = pfifo_fast (we set fq); `sysctl --system` applies that file after every sysctl.d file, undoing this setting",
            "h1: /run/sysctl.d/95-late.conf also sets net.core.default_qdisc = cake (we set fq); it sorts after /etc/sysctl.d/90-pulumi-web.conf, so at boot it is applied last and wins",
        ]);
        const unpersisted = planApply(inputs({ settings: { "net.core.default_qdisc": "fq" }, persist: false }), host, "h1").warnings;
        assert.equal(unpersisted.length, 3);
        assert.match(unpersisted[0], /50-default\.conf also sets .*this SysctlSet persists nothing, so at boot that file's value is the one set/);
    });

    it("warns of a later file that sets a writeback limit's partner, which puts the declared one to 0 at boot", function () {
        const host = snapshot({ "vm.dirty_bytes": "0", "vm.dirty_ratio": "20" });
        host.otherWriters.push(
            { file: "/etc/sysctl.d/99-local.conf", key: "vm.dirty_ratio", value: "20" },
            { file: "/etc/sysctl.d/99-zero.conf", key: "vm.dirty_ratio", value: "0" },
            { file: "/etc/sysctl.d/10-early.conf", key: "vm.dirty_ratio", value: "30" },
        );
        assert.deepEqual(planApply(inputs({ settings: { "vm.dirty_bytes": 200000000 } }), host, "h1").warnings, [
            "h1: /etc/sysctl.d/99-local.conf also sets vm.dirty_ratio = 20 (which puts vm.dirty_bytes to 0; we set vm.dirty_bytes = 200000000); it sorts after /etc/sysctl.d/90-pulumi-web.conf, so at boot it is applied last and wins",
        ]);
        const both = planApply(inputs({ settings: { "vm.dirty_bytes": 200000000, "vm.dirty_ratio": 20 } }), host, "h1").warnings;
        assert.deepEqual(both.filter((w) => /99-local/.test(w)), [], "both declared: a file agreeing on one of them is no warning");

    });

    it("restores originals on delete, writing only what changed since", function () {
        const restore = planRestore(
            { originals: { "a.b": "1", "c.d": "2" }, skipped: [], persistedFile: "/etc/sysctl.d/x.conf" },
            snapshot({ "a.b": "5", "c.d": "2" }, { "/etc/sysctl.d/x.conf": "ours" }),
            true,
            "h1",
        );
        assert.deepEqual(restore.writes, [{ key: "a.b", value: "1" }]);
        assert.deepEqual(restore.file.changes.remove, ["/etc/sysctl.d/x.conf"], "state from before originals were kept: removed, as then");
        assert.deepEqual(planRestore({ originals: { "a.b": "1" }, skipped: [] }, snapshot({ "a.b": "5" }), false, "h1").writes, []);
    });

    it("reports drift per key and for the persistence file, in the declared shape", function () {
        const desired = inputs({ settings: { "net.core.somaxconn": 65535, "net.ipv4.tcp_fin_timeout": { atMost: 20 } } });
        const live = snapshot({ "net.core.somaxconn": "4096", "net.ipv4.tcp_fin_timeout": "15" });
        const drift = detectDrift(desired, live, []);
        assert.deepEqual(drift.values, [{ key: "net.core.somaxconn", live: "4096", desired: "65535" }]);
        assert.equal(drift.file, "/etc/sysctl.d/90-pulumi-web.conf is missing");
        assert.deepEqual(liveSettings(desired, live), { "net.core.somaxconn": 4096, "net.ipv4.tcp_fin_timeout": { atMost: 20 } });
    });

    it("records a live value no one could declare (an emptied reserved port list) as the declared one, so state parses again and the diff's read shows the drift", function () {
        const ports = inputs({ owner: "p/s/web", settings: { "net.ipv4.ip_local_reserved_ports": "5060-5061", "net.ipv4.tcp_fin_timeout": 30 } });
        const emptied = snapshot({ "net.ipv4.ip_local_reserved_ports": "", "net.ipv4.tcp_fin_timeout": "20" });
        assert.deepEqual(liveSettings(ports, emptied), { "net.ipv4.ip_local_reserved_ports": "5060-5061", "net.ipv4.tcp_fin_timeout": 20 });
        assert.deepEqual(detectDrift(ports, emptied, []).values, [
            { key: "net.ipv4.ip_local_reserved_ports", live: "", desired: "5060-5061" },
            { key: "net.ipv4.tcp_fin_timeout", live: "20", desired: "30" },
        ]);
    });

    it("a bound's live value moving within the bound is no edit of the file that persisted it", function () {
        const bound = inputs({ owner: "p/s/web", settings: { "net.core.somaxconn": { atLeast: 8192 } } });
        const written = planApply(bound, snapshot({ "net.core.somaxconn": "10000" }), "h1").persistedContent!;
        assert.match(written, /^net\.core\.somaxconn = 10000$/m, "the live value, which meets the bound, is what boots");
        const raised = snapshot({ "net.core.somaxconn": "20000" }, { [WEB_FILE]: written });
        assert.deepEqual(detectDrift(bound, raised, []), { values: [], file: undefined });
        const edited = snapshot({ "net.core.somaxconn": "20000" }, { [WEB_FILE]: written.replace("10000", "100") });
        assert.equal(detectDrift(bound, edited, []).file, `${WEB_FILE} was edited`);
        const slashed = inputs({ owner: "p/s/web", settings: { "net/core/somaxconn": { atLeast: 8192 } } });
        assert.deepEqual(detectDrift(slashed, raised, []), { values: [], file: undefined }, "in either spelling");
    });
});

describe("SysctlSet remote output parsing", function () {
    it("parses values, missing keys, our file and other writers", function () {
        const out = [
            "value\tnet/ipv4/tcp_rmem\t4096 131072  6291456",
            "missing\tnet/core/busy_poll",
            "unreadable\tnet/ipv4/route/flush\tPermission denied",
            `own\t/etc/sysctl.d/90-a.conf\t${Buffer.from("a = 1\n").toString("base64")}`,
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

    it("keeps the mode of a file already at persistFile: a secret key's file is written 0600, and delete puts the admin's back with its own mode", function () {
        const file = "/etc/sysctl.d/99-admin.conf";
        const admin = "# admin\nvm.swappiness = 30\n";
        const read = (content: string, mode: string, key: string) =>
            parseReadOutput([`value\tnet/ipv4/tcp_fastopen_key\t${key}`, `own\t${file}\t${Buffer.from(content).toString("base64")}\t${mode}`].join("\n"));
        const ours = "0123abcd-4567ef01-89abcdef-01234567";
        const plan = planApply(inputs({ owner: "p/s/web", settings: { "net.ipv4.tcp_fastopen_key": ours }, persistFile: file }), read(admin, "644", "00000000-00000000-00000000-00000000"), "h1");
        assert.equal(plan.file.changes.write?.[0].mode, "0600");
        assert.deepEqual(plan.record.managedFiles?.originals[file], { kind: "file", content: admin, mode: "644" });
        const restore = planRestore(plan.record, read(plan.persistedContent!, "600", ours), true, "h1");
        assert.deepEqual(restore.file.changes.write, [{ path: file, content: admin, mode: "644" }]);
        assert.equal(parseReadOutput(`own\t${file}\t${Buffer.from(admin).toString("base64")}\t6; x`).ownPaths.get(file)?.kind, "file", "a mode that is not octal digits is not kept");
        assert.ok(!("mode" in parseReadOutput(`own\t${file}\t${Buffer.from(admin).toString("base64")}\t6; x`).ownPaths.get(file)!));
    });

    it("turns a failed apply into an error naming the key and the kernel's reason", function () {
        assert.throws(
            () => parseApplyOutput("root@h1:22", "set\tnet/core/somaxconn\t4096\t5000\nfailed\tnet/core/rmem_max\tsysctl: setting key \"net.core.rmem_max\": Invalid argument\n"),
            /root@h1:22: the kernel refused net\.core\.rmem_max: .*Invalid argument\. Every value .* restored/,
        );
        assert.throws(() => parseApplyOutput("h", "failed\ta/b\tx\nrollback-failed\ta/c\n"), /Could NOT restore a\.c/);
        assert.throws(() => parseApplyOutput("h", "set\ta/c\t60\t20\nfailed\ta/b\tx\nrollback-failed\ta/c\n"), /Could NOT restore a\.c \(it held 60\): check the host\.$/);
        assert.throws(() => parseApplyOutput("h", "set\ta/b\t1\t2\n"), /ended early/);
        assert.throws(() => parseApplyOutput("local", "not-root\talice\n"), /^Error: local: changing kernel settings needs root, and this runs as alice: .*sudo: true.*Nothing was changed\.$/);
        const ok = parseApplyOutput("h", "set\tnet/core/somaxconn\t4096\t5000\ndone\n");
        assert.equal(ok.readBack.get("net.core.somaxconn"), "5000");
    });
});

describe("SysctlSet persistence file: what its path held comes back byte for byte", function () {
    const CUSTOM = "/etc/sysctl.d/99-custom.conf";
    // Latin-1 é and bytes that are no UTF-8 at all, no final newline: text would not keep them.
    const userBytes = Buffer.from([0x23, 0x20, 0x72, 0xe9, 0x67, 0x6c, 0x61, 0x67, 0x65, 0x0a, 0x76, 0x6d, 0x2e, 0x78, 0x20, 0x3d, 0x20, 0x31, 0xff, 0xfe]);
    const userFile: PathContent = fileOf(fileFromBytes(userBytes));
    const custom = (extra: Record<string, unknown> = {}) => inputs({ owner: "p/s/web", settings: { "vm.swappiness": 10 }, persistFile: CUSTOM, ...extra });
    const withPaths = (paths: Record<string, PathContent>, ledgers: HostSnapshot["ledgers"] = new Map()): HostSnapshot => ({
        ...snapshot({ "vm.swappiness": "60" }),
        ownFile: undefined,
        ownPaths: new Map(Object.entries(paths)),
        ledgers,
    });
    const ours = renderPersistFile("web", { "vm.swappiness": "10" });

    it("a create records the exact bytes it overwrites, in state and in the ledger before the first write", function () {
        const plan = planApply(custom(), withPaths({ [CUSTOM]: userFile }), "h1");
        assert.deepEqual(plan.record.managedFiles?.originals, { [CUSTOM]: userFile });
        assert.equal(plan.record.managedFiles?.originals[CUSTOM].kind === "file" && plan.record.managedFiles.originals[CUSTOM].base64, userBytes.toString("base64"));
        assert.deepEqual(plan.file.changes.write, [{ path: CUSTOM, content: ours }]);
        assert.equal(plan.file.dir, "/etc/sysctl.d", "its directory is made (and noted in the ledger) first");
        assert.ok(plan.ledger.record?.includes(`file\t${CUSTOM}\tbytes\t${userBytes.toString("base64")}\n`));
    });

    it("a delete writes those bytes back and removes the directories it created when empty", function () {
        const record = { ...planApply(custom(), withPaths({ [CUSTOM]: userFile }), "h1").record };
        record.managedFiles = { ...record.managedFiles!, createdDirs: ["/etc/sysctl.d"] };
        const restore = planRestore(record, withPaths({ [CUSTOM]: fileContent(ours) }), true, "h1");
        assert.equal(restore.file.changes.write?.length, 1);
        assert.ok(bytesOf(restore.file.changes.write![0]).equals(userBytes), "the original bytes, not their UTF-8 reading");
        assert.deepEqual(restore.file.changes.rmdir, ["/etc/sysctl.d"]);
        assert.deepEqual(restore.warnings, []);
    });

    it("a path that did not exist is removed on delete, as before", function () {
        const record = planApply(custom(), withPaths({ [CUSTOM]: ABSENT }), "h1").record;
        const restore = planRestore(record, withPaths({ [CUSTOM]: fileContent(ours) }), true, "h1");
        assert.deepEqual(restore.file.changes, { remove: [CUSTOM] });
    });

    it("a create after an interrupted run takes the file's original and the directories made from its ledger", function () {
        const ledgerFile = ledgerPath("p/s/web");
        const left = new Map([[ledgerFile, { owner: "p/s/web", originals: { "vm.swappiness": "60" }, files: { [CUSTOM]: userFile }, createdDirs: ["/etc/sysctl.d"] }]]);
        // The killed run had written our file already: it is not the original.
        const plan = planApply(custom(), { ...withPaths({ [CUSTOM]: fileContent(ours) }, left), values: new Map([["vm.swappiness", { state: "value", value: "10" }]]) }, "h1");
        assert.deepEqual(plan.record.managedFiles?.originals, { [CUSTOM]: userFile });
        assert.deepEqual(plan.record.managedFiles?.createdDirs, ["/etc/sysctl.d"]);
        assert.deepEqual(plan.file.changes, {}, "the file is already what we want");
        const restore = planRestore(plan.record, withPaths({ [CUSTOM]: fileContent(ours) }), true, "h1");
        assert.ok(bytesOf(restore.file.changes.write![0]).equals(userBytes));
        assert.deepEqual(restore.file.changes.rmdir, ["/etc/sysctl.d"]);
    });

    it("turning persist off puts the original back and removes the directories it made; changing persistFile puts the old path back and keeps the new one's original", function () {
        const first = planApply(custom(), withPaths({ [CUSTOM]: userFile }), "h1").record;
        first.managedFiles = { ...first.managedFiles!, createdDirs: ["/etc/sysctl.d"] };
        const off = planApply(custom({ persist: false }), withPaths({ [CUSTOM]: fileContent(ours) }), "h1", first);
        assert.ok(bytesOf(off.file.changes.write![0]).equals(userBytes));
        assert.deepEqual(off.file.changes.rmdir, ["/etc/sysctl.d"]);
        assert.deepEqual(off.record.managedFiles, { originals: {}, written: {}, createdDirs: [] });
        assert.equal(off.record.persistedFile, undefined);

        const moved = planApply(custom({ persistFile: "/etc/sysctl.d/80-new.conf" }), withPaths({ "/etc/sysctl.d/80-new.conf": ABSENT, [CUSTOM]: fileContent(ours) }), "h1", first);
        assert.deepEqual(moved.file.changes.write?.map((w) => w.path), [CUSTOM, "/etc/sysctl.d/80-new.conf"], "the old path back before the new file");
        assert.deepEqual(moved.record.managedFiles?.originals, { "/etc/sysctl.d/80-new.conf": ABSENT });
        assert.deepEqual(moved.record.managedFiles?.createdDirs, ["/etc/sysctl.d"], "still holding the new file: removed on delete when empty");
    });

    it("state from before originals were kept: an update keeps treating its file as its own (removed on delete)", function () {
        const legacy = { originals: { "vm.swappiness": "60" }, skipped: [], persistedFile: CUSTOM };
        const plan = planApply(custom(), withPaths({ [CUSTOM]: fileContent(ours) }), "h1", legacy);
        assert.deepEqual(plan.record.managedFiles?.originals, { [CUSTOM]: ABSENT });
        assert.deepEqual(planRestore(legacy, withPaths({ [CUSTOM]: fileContent(ours) }), true, "h1").file.changes, { remove: [CUSTOM] });
    });

    it("refuses a persistFile another SysctlSet's ledger holds, naming it", function () {
        const other = new Map([[ledgerPath("q/t/b"), { owner: "q/t/b", originals: {}, files: { [CUSTOM]: ABSENT } }]]);
        assert.throws(() => planApply(custom(), withPaths({ [CUSTOM]: fileContent("x") }, other), "h1"), /h1: \/etc\/sysctl\.d\/99-custom\.conf is the persistence file of q\/t\/b \(its ledger on the host\)/);
    });

    it("the ledger keeps files (bytes, links, absence) and created directories through the read program's lines", function () {
        const ledger = { owner: "p/s/web", originals: { "vm.swappiness": "60" }, files: { [CUSTOM]: userFile, "/etc/sysctl.d/99-sysctl.conf": linkTo("../sysctl.conf"), "/etc/sysctl.d/80-x.conf": ABSENT }, createdDirs: ["/etc/sysctl.d"] };
        const parsed = parseLedgerLines(renderLedger(ledger).trimEnd().split("\n").map((line) => ["/f", ...line.split("\t")]));
        assert.deepEqual(parsed.get("/f"), ledger);
    });

    it("reads each persistence file exactly: bytes, a link, or absence; the first is ownFile", function () {
        const snap = parseReadOutput(
            [`own-absent\t${CUSTOM}`, `own\t/etc/sysctl.d/a.conf\t${userBytes.toString("base64")}`, `own-link\t/etc/sysctl.d/b.conf\t${Buffer.from("../sysctl.conf").toString("base64")}`].join("\n"),
        );
        assert.equal(snap.ownFile, null);
        assert.deepEqual(snap.ownPaths, new Map<string, PathContent>([[CUSTOM, ABSENT], ["/etc/sysctl.d/a.conf", userFile], ["/etc/sysctl.d/b.conf", linkTo("../sysctl.conf")]]));
        assert.deepEqual(parseApplyOutput("h", "created\t/etc/sysctl.d\ndone\n").createdDirs, ["/etc/sysctl.d"]);
    });
});
