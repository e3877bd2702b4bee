import { strict as assert } from "assert";
import { inTempDir } from "./temp-dir";
import { execFileSync } from "child_process";
import fc from "fast-check";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { planGovernor, planGovernorRestore } from "../../provider/cpu-governor/plan";
import { cpuGovernorInputsSchema } from "../../provider/cpu-governor/schema";
import { FILE_HELPERS, FileChanges, FileSnapshot, TRANSACTION_BODY, fileActionArg, fileFromBytes, parseFileSnapshot, parseTransactionOutput, transactionArgs } from "../../provider/host/files";
import { ABSENT, ManagedFiles, fileContent, linkTo, manage, pathContentOf, planRestore, withCreatedDirs } from "../../provider/host/restore";
import { parseModuleSnapshot } from "../../provider/kernel-module/remote";
import { planModules, planModulesRestore } from "../../provider/kernel-module/plan";
import { moduleSpecs, kernelModuleInputsSchema, persistFiles } from "../../provider/kernel-module/schema";
import { withBannedIrqs, withoutBannedIrqs } from "../../provider/irq/irqbalance";
import { HostIrqView, irqbalanceRestore, planIrqAffinity, planIrqbalance, viewOf } from "../../provider/irq/plan";
import { irqAffinityInputsSchema } from "../../provider/irq/schema";
import { parseNicOutput } from "../../provider/nic/remote";
import { planNic, planRuleRestore } from "../../provider/nic/plan";
import { nicRingConfigInputsSchema } from "../../provider/nic/schema";

/** Debian's /etc/default/irqbalance: IRQBALANCE_ARGS only commented out. */
const DEBIAN = "# irqbalance environment\n#\n#IRQBALANCE_ONESHOT=\n\n#IRQBALANCE_ARGS=\n";

function irqView(configContent: string | null, running = false): HostIrqView {
    return {
        exists: true,
        online: [0, 1, 2, 3],
        discovery: { irqs: [], source: "msi_irqs" },
        interrupts: [],
        affinity: new Map(),
        irqbalance: { running, pids: running ? [7] : [], cmdline: running ? ["/usr/sbin/irqbalance", "--foreground"] : [], systemd: false, configFile: "/etc/default/irqbalance", configContent },
    } as unknown as HostIrqView;
}

const snapshotOf = (files: Record<string, string>, symlinks: Record<string, string> = {}): FileSnapshot => ({
    files: new Map(Object.entries(files)),
    dirs: new Map(),
    pids: new Map(),
    commands: new Map(),
    links: new Map(),
    cmdlines: new Map(),
    symlinks: new Map(Object.entries(symlinks)),
});

describe("byte-exact restore of files in /etc", function () {
    it("puts back each path's original when it still holds what we wrote, and warns when it was changed since", function () {
        const managed = manage(undefined, (p) => (p === "/etc/a" ? fileContent("orig\n") : ABSENT), { "/etc/a": fileContent("ours\n"), "/etc/x/u": fileContent("unit"), "/etc/x/l": linkTo("/etc/x/u") });
        const dirs = withCreatedDirs(managed, ["/etc/x", "/etc/x/y"]);
        const untouched = planRestore(dirs, (p) => dirs.written[p], "h", { removeDirs: true });
        assert.deepEqual(untouched.changes, { write: [{ path: "/etc/a", content: "orig\n" }], remove: ["/etc/x/u", "/etc/x/l"], rmdir: ["/etc/x/y", "/etc/x"] });
        assert.deepEqual(untouched.warnings, []);
        const edited = planRestore(dirs, (p) => (p === "/etc/x/u" ? fileContent("unit, edited") : dirs.written[p]), "h");
        assert.deepEqual(edited.changes.remove, ["/etc/x/u", "/etc/x/l"]);
        assert.match(edited.warnings.join(), /h: \/etc\/x\/u was changed since this resource wrote it; removed it \(it did not exist before\)/);
        assert.deepEqual(planRestore(dirs, (p) => dirs.originals[p], "h").changes, {}, "already as it was: nothing to do");
        const again = manage(dirs, () => fileContent("something else"), { "/etc/a": fileContent("ours, v2\n") });
        assert.deepEqual(again.originals["/etc/a"], fileContent("orig\n"), "the original is kept from the first change");
    });

    it("irqbalance: a commented-out IRQBALANCE_ARGS comes back byte for byte, or only our edits go when the file was edited since", function () {
        const plan = planIrqbalance(irqAffinityInputsSchema.parse({ interface: "eth1", resourceName: "irq", cpus: "1" }), irqView(DEBIAN), [102, 103], undefined, "h");
        assert.equal(plan.action.config, DEBIAN + 'IRQBALANCE_ARGS="--banirq=102 --banirq=103"\n');
        assert.equal(plan.undo.config, DEBIAN, "a failure puts the original back");
        const managed = manage(undefined, () => fileContent(DEBIAN), { "/etc/default/irqbalance": fileContent(plan.action.config!) });
        assert.equal(irqbalanceRestore(plan.record, irqView(plan.action.config!), managed, "h").config, DEBIAN);
        const edited = plan.action.config!.replace("#IRQBALANCE_ONESHOT=", "IRQBALANCE_ONESHOT=yes");
        const restore = irqbalanceRestore(plan.record, irqView(edited), managed, "h");
        assert.equal(restore.config, DEBIAN.replace("#IRQBALANCE_ONESHOT=", "IRQBALANCE_ONESHOT=yes"));
        assert.match(restore.warning ?? "", /edited since .*took out only its --banirq flags and the IRQBALANCE_ARGS line it had added/);
        const withMore = plan.action.config!.replace('="--banirq', '="--foo --banirq');
        assert.equal(irqbalanceRestore(plan.record, irqView(withMore), managed, "h").config, DEBIAN + 'IRQBALANCE_ARGS="--foo"\n');

        const fresh = planIrqbalance(irqAffinityInputsSchema.parse({ interface: "eth1", resourceName: "irq", cpus: "1" }), irqView(null), [5], undefined, "h");
        assert.equal(fresh.undo.config, null, "a file that did not exist is removed on failure");
        const created = manage(undefined, () => ABSENT, { "/etc/default/irqbalance": fileContent(fresh.action.config!) });
        assert.equal(irqbalanceRestore(fresh.record, irqView(fresh.action.config!), created, "h").config, null, "and on delete");
    });

    it("withoutBannedIrqs keeps quoting, other flags and surrounding lines as they are", function () {
        assert.equal(withoutBannedIrqs("A=1\nIRQBALANCE_ARGS='--x --banirq=7'  \n\nB=2\n", [7]), "A=1\nIRQBALANCE_ARGS='--x'  \n\nB=2\n");
        assert.equal(withoutBannedIrqs(withBannedIrqs("A=1\n\nB=2\n", [7]), [7], true), "A=1\n\nB=2\n");
        assert.equal(withBannedIrqs("IRQBALANCE_ARGS=\"\"\n\n#x\n", [7]), 'IRQBALANCE_ARGS="--banirq=7"\n\n#x\n', "blank lines after the line stay");
    });

    it("NicRingConfig: the udev rule's original (absent) is kept and put back, with the directories made for it", function () {
        const snapshot = parseNicOutput("ethtool\t/usr/sbin/ethtool\nsection\t-g\t1\t\nsection\t-l\t1\t\nsection\t-c\t1\t\nown-absent\n");
        const inputs = nicRingConfigInputsSchema.parse({ interface: "eth1", resourceName: "n", coalesce: { adaptiveRx: true }, onUnsupported: "skip" });
        const plan = planNic(inputs, snapshot, "/etc/udev/rules.d/90-pulumi-nic-n.rules", "h");
        assert.deepEqual(plan.record.managedFiles?.originals, { "/etc/udev/rules.d/90-pulumi-nic-n.rules": ABSENT });
        const record = { ...plan.record, managedFiles: withCreatedDirs(plan.record.managedFiles!, ["/etc/udev", "/etc/udev/rules.d"]) };
        const after = { ...snapshot, ownRule: plan.rule! };
        assert.deepEqual(planRuleRestore(record, after, "/etc/udev/rules.d/90-pulumi-nic-n.rules", "h"), { rule: null, rmdir: ["/etc/udev/rules.d", "/etc/udev"], warnings: [] });
    });

    it("CpuGovernor: unit and link removed (they did not exist), an earlier unit of the same name written back", function () {
        const C = "/sys/devices/system/cpu";
        const unit = "/etc/systemd/system/pulumi-cpu-governor-gov.service";
        const link = "/etc/systemd/system/multi-user.target.wants/pulumi-cpu-governor-gov.service";
        const host = snapshotOf({ [`${C}/online`]: "0", [`${C}/cpu0/cpufreq/scaling_governor`]: "powersave", [`${C}/cpu0/cpufreq/scaling_available_governors`]: "performance powersave", [unit]: "old unit\n" });
        const plan = planGovernor(cpuGovernorInputsSchema.parse({ governor: "performance", resourceName: "gov" }), host, "h");
        assert.deepEqual(plan.record.managedFiles?.originals, { [unit]: fileContent("old unit\n"), [link]: ABSENT });
        const after = snapshotOf({ ...Object.fromEntries(host.files), [unit]: plan.files.write![0].content }, { [link]: unit });
        const restore = planGovernorRestore(plan.record, after, true, "gov", "h");
        assert.deepEqual(restore.files, { write: [{ path: unit, content: "old unit\n" }], remove: [link] });
    });

    it("the apply program reports the directories it creates, keeps a replaced file's mode, and removes empty ones it is given", function () {
        const root = mkdtempSync(path.join(tmpdir(), "plt-restore-"));
        try {
            const run = (changes: Parameters<typeof transactionArgs>[1]) =>
                parseTransactionOutput("local", execFileSync("sh", ["-c", `undo_extra() { :; }\n${FILE_HELPERS}\n${TRANSACTION_BODY}`, "t", ...transactionArgs([], changes)], { encoding: "utf8" }));
            writeFileSync(path.join(root, "conf"), "original\n");
            chmodSync(path.join(root, "conf"), 0o600);
            const file = path.join(root, "a/b/c/unit");
            const out = run({ write: [{ path: file, content: "x" }, { path: path.join(root, "conf"), content: "ours\n" }], link: [{ path: path.join(root, "a/l"), target: file }] });
            assert.deepEqual(out.createdDirs, [path.join(root, "a"), path.join(root, "a/b"), path.join(root, "a/b/c")]);
            assert.equal(readFileSync(file, "utf8"), "x");
            assert.equal(statSync(path.join(root, "conf")).mode & 0o777, 0o600, "mode kept");
            writeFileSync(path.join(root, "a/b/someone-elses"), "");
            run({ remove: [file, path.join(root, "a/l")], rmdir: [path.join(root, "a/b/c"), path.join(root, "a/b"), path.join(root, "a")] });
            assert.ok(!existsSync(path.join(root, "a/b/c")), "an empty directory we created is removed");
            assert.ok(existsSync(path.join(root, "a/b/someone-elses")), "one that is not empty stays");
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });

    it("a failed apply puts back every file, link and removal it had made and removes the directories it made, values too", function () {
        const root = mkdtempSync(path.join(tmpdir(), "plt-undo-"));
        try {
            const value = path.join(root, "value");
            const conf = path.join(root, "conf");
            const gone = path.join(root, "gone");
            const link = path.join(root, "link");
            writeFileSync(value, "1\n");
            writeFileSync(conf, "original\n");
            chmodSync(conf, 0o600);
            writeFileSync(gone, "keep me\n");
            execFileSync("ln", ["-s", "elsewhere", link]);
            // A regular file where the last link's directory would go: mkdir fails after everything else was written.
            writeFileSync(path.join(root, "blocker"), "");
            const changes: FileChanges = {
                write: [{ path: conf, content: "ours\n" }, { path: path.join(root, "new/deep/unit"), content: "x" }],
                link: [{ path: link, target: "ours" }, { path: path.join(root, "blocker/l"), target: "x" }],
            };
            const listing = () => execFileSync("sh", ["-c", 'cd "$1" && find . -printf "%y %m %p -> %l\\n" | sort && cat conf gone value', "sh", root], { encoding: "utf8" });
            const before = listing();
            const stdout = execFileSync("sh", ["-c", `undo_extra() { :; }\n${FILE_HELPERS}\n${TRANSACTION_BODY}`, "t", ...transactionArgs([{ path: value, value: "2" }], changes)], { encoding: "utf8" });
            assert.throws(() => parseTransactionOutput("local", stdout), /blocker\/l: .*Everything this operation had already changed was restored/);
            assert.equal(listing(), before, "the directory is as it was: files, modes, links, no new directories");
            const removal = execFileSync("sh", ["-c", `undo_extra() { :; }\n${FILE_HELPERS}\n${TRANSACTION_BODY}`, "t", ...transactionArgs([], { write: [{ path: path.join(root, "blocker/x"), content: "x" }], remove: [gone] })], { encoding: "utf8" });
            assert.match(removal, /^failed/m);
            assert.equal(listing(), before, "and a removal before a failure is undone too");
            // mkdir -p failing partway, at a name too long after making new/: new/ goes too.
            const partway = execFileSync("sh", ["-c", `undo_extra() { :; }\n${FILE_HELPERS}\n${TRANSACTION_BODY}`, "t", ...transactionArgs([], { write: [{ path: path.join(root, "new", "n".repeat(300), "file"), content: "x" }] })], { encoding: "utf8" });
            assert.match(partway, /^failed\t.*File name too long/m);
            assert.equal(listing(), before, "no directory left from a mkdir that failed partway");
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });

    it("a rollback tries once more what the kernel refused while another write was still in place (an EPP under the performance governor), before it says it could not", function () {
        inTempDir("plt-rollback-order-", (root) => {
            const [governor, epp] = [path.join(root, "scaling_governor"), path.join(root, "energy_performance_preference")];
            writeFileSync(governor, "powersave\n");
            writeFileSync(epp, "balance_power\n");
            // As intel_pstate: an EPP other than performance is refused (EBUSY) under the performance governor.
            const bin = path.join(root, "bin");
            mkdirSync(bin);
            writeFileSync(path.join(bin, "tee"), `#!/bin/sh\nv=$(cat)\nif [ "$1" = "${epp}" ] && [ "$v" != performance ] && [ "$(cat "${governor}")" = performance ]; then echo "tee: $1: Device or resource busy" >&2; exit 1; fi\nprintf '%s\\n' "$v" | /usr/bin/tee "$@"\n`, { mode: 0o755 });
            const writes = [
                { path: governor, value: "performance" },
                { path: epp, value: "performance" },
                { path: path.join(root, "offline/scaling_governor"), value: "performance" },
            ];
            const stdout = execFileSync("sh", ["-c", `undo_extra() { :; }\n${FILE_HELPERS}\n${TRANSACTION_BODY}`, "t", ...transactionArgs(writes, {})], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
            assert.doesNotMatch(stdout, /rollback-failed/);
            assert.throws(() => parseTransactionOutput("local", stdout), /Everything this operation had already changed was restored/);
            assert.deepEqual([readFileSync(governor, "utf8"), readFileSync(epp, "utf8")], ["powersave\n", "balance_power\n"]);
        });
    });

    it("a file that is a symlink is written through: the link stays, the file it names keeps its mode, and a failure puts its bytes back", function () {
        inTempDir("plt-link-", (root) => {
            const checkout = path.join(root, "checkout");
            const conf = path.join(root, "irqbalance");
            writeFileSync(checkout, "#IRQBALANCE_ARGS=\n");
            chmodSync(checkout, 0o640);
            execFileSync("ln", ["-s", "checkout", conf]);
            const run = (changes: FileChanges) => execFileSync("sh", ["-c", `undo_extra() { :; }\n${FILE_HELPERS}\n${TRANSACTION_BODY}`, "t", ...transactionArgs([], changes)], { encoding: "utf8" });
            const listing = () => execFileSync("sh", ["-c", 'cd "$1" && find . -printf "%y %m %p -> %l\\n" | sort && cat checkout', "sh", root], { encoding: "utf8" });
            const before = listing();
            writeFileSync(path.join(root, "blocker"), "");
            const failed = run({ write: [{ path: conf, content: "IRQBALANCE_ARGS=--banirq=40\n" }, { path: path.join(root, "blocker/x"), content: "x" }] });
            assert.throws(() => parseTransactionOutput("local", failed), /blocker\/x: .*the host is as it was/);
            rmSync(path.join(root, "blocker"));
            assert.equal(listing(), before, "the file behind the link has its bytes back, the link is untouched");
            parseTransactionOutput("local", run({ write: [{ path: conf, content: "IRQBALANCE_ARGS=--banirq=40\n" }] }));
            assert.ok(lstatSync(conf).isSymbolicLink(), "still a link");
            assert.equal(readFileSync(checkout, "utf8"), "IRQBALANCE_ARGS=--banirq=40\n");
            assert.equal(statSync(checkout).mode & 0o777, 0o640, "the file's mode kept, not the link's 777");
        });
    });

    it("a file written with a mode (one holding a secret) gets it, new or existing; a failure puts the old mode back with the bytes", function () {
        inTempDir("plt-mode-", (root) => {
            const [fresh, existing] = [path.join(root, "fresh.conf"), path.join(root, "existing.conf")];
            writeFileSync(existing, "old\n");
            chmodSync(existing, 0o644);
            const run = (changes: FileChanges) => execFileSync("sh", ["-c", `undo_extra() { :; }\n${FILE_HELPERS}\n${TRANSACTION_BODY}`, "t", ...transactionArgs([], changes)], { encoding: "utf8" });
            writeFileSync(path.join(root, "blocker"), "");
            const failed = run({ write: [{ path: existing, content: "secret\n", mode: "0600" }, { path: path.join(root, "blocker/x"), content: "x" }] });
            assert.throws(() => parseTransactionOutput("local", failed), /blocker\/x/);
            assert.equal(statSync(existing).mode & 0o777, 0o644);
            assert.equal(readFileSync(existing, "utf8"), "old\n");
            parseTransactionOutput("local", run({ write: [{ path: fresh, content: "secret\n", mode: "0600" }, { path: existing, content: "secret\n", mode: "0600" }] }));
            assert.deepEqual([fresh, existing].map((f) => statSync(f).mode & 0o777), [0o600, 0o600]);
        });
    });

    it("a symlink to no regular file (/dev/null, a directory, nothing) is replaced by a 0644 file, never given the link's 777 nor written into the directory", function () {
        inTempDir("plt-link-", (root) => {
            mkdirSync(path.join(root, "dir"));
            const links = { masked: "/dev/null", toDir: "dir", dangling: "nowhere" };
            for (const [name, target] of Object.entries(links)) {
                execFileSync("ln", ["-s", target, path.join(root, name)]);
            }
            const run = (changes: FileChanges) => execFileSync("sh", ["-c", `undo_extra() { :; }\n${FILE_HELPERS}\n${TRANSACTION_BODY}`, "t", ...transactionArgs([], changes)], { encoding: "utf8" });
            parseTransactionOutput("local", run({ write: Object.keys(links).map((name) => ({ path: path.join(root, name), content: "ours\n" })) }));
            for (const name of Object.keys(links)) {
                const written = lstatSync(path.join(root, name));
                assert.ok(written.isFile(), `${name} is a regular file now`);
                assert.equal(written.mode & 0o777, 0o644, name);
                assert.equal(readFileSync(path.join(root, name), "utf8"), "ours\n");
            }
            assert.deepEqual(readdirSync(path.join(root, "dir")), [], "nothing moved into the directory");
        });
    });

    it("a value it could not put back is named with what it held, the one place that original is shown", function () {
        const stdout = "set\t/proc/irq/44/smp_affinity_list\t0-3\t2\nfailed\t/proc/irq/45/smp_affinity_list\tInvalid argument\nrollback-failed\t/proc/irq/44/smp_affinity_list\n";
        assert.throws(() => parseTransactionOutput("h", stdout), /Could NOT restore \/proc\/irq\/44\/smp_affinity_list \(it held 0-3\): check the host\.$/);
    });

    it("a file it could not create (a name above NAME_MAX) counts as restored: the failure says the host is as it was", function () {
        const root = mkdtempSync(path.join(tmpdir(), "plt-long-"));
        try {
            const conf = path.join(root, "conf");
            writeFileSync(conf, "original\n");
            const changes: FileChanges = { write: [{ path: conf, content: "ours\n" }, { path: path.join(root, "d", `${"n".repeat(300)}.rules`), content: "x" }] };
            const stdout = execFileSync("sh", ["-c", `undo_extra() { :; }\n${FILE_HELPERS}\n${TRANSACTION_BODY}`, "t", ...transactionArgs([], changes)], { encoding: "utf8" });
            assert.throws(() => parseTransactionOutput("local", stdout), (e: Error) => /n{300}\.rules: .*Everything this operation had already changed was restored; the host is as it was\.$/.test(e.message) && !/Could NOT/.test(e.message));
            assert.equal(readFileSync(conf, "utf8"), "original\n");
            assert.ok(!existsSync(path.join(root, "d")), "the directory it made for the file is removed");
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });
});

describe("originals of any bytes come back byte for byte", function () {
    /** A host file as the read programs print it. */
    const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
    /** What reaches a state file or a host ledger and comes back. */
    const throughState = <T>(record: T): T => JSON.parse(JSON.stringify(record));
    /** The bytes an apply program's "w<base64>" file action writes. */
    const written = (arg: string) => (assert.ok(arg.startsWith("w"), arg), Buffer.from(arg.slice(1), "base64"));
    const notUtf8 = Buffer.from("# r\xe9glage caf\xe9\n\xff\xfe\x00\n\n", "latin1");
    const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.constant(new Uint8Array(notUtf8)), fc.string({ unit: "grapheme" }).map((t) => new Uint8Array(Buffer.from(t + "\n"))));

    it("text keeps only UTF-8 files' bytes; the record carries the bytes of any other, and only then", function () {
        assert.deepEqual(fileFromBytes(Buffer.from("caf\u00e9\n")), { content: "caf\u00e9\n" }, "UTF-8: the record is as it always was");
        assert.deepEqual(fileFromBytes(notUtf8), { content: notUtf8.toString("utf8"), base64: notUtf8.toString("base64") });
        fc.assert(
            fc.property(anyBytes, (bytes) => {
                const file = fileFromBytes(Buffer.from(bytes));
                assert.equal(file.base64 !== undefined, !Buffer.from(Buffer.from(bytes).toString("utf8")).equals(Buffer.from(bytes)));
            }),
        );
    });

    it("read → record → state → restore plan → the apply's arguments give back the same bytes", function () {
        const path = "/etc/default/thing";
        fc.assert(
            fc.property(anyBytes, (bytes) => {
                const snapshot = parseFileSnapshot(`file\t${path}\t${b64(bytes)}\n`);
                const managed = throughState<ManagedFiles>(manage(undefined, (p) => pathContentOf(snapshot, p), { [path]: fileContent("ours\n") }));
                const plan = planRestore(managed, () => fileContent("ours\n"), "h");
                const args = transactionArgs([], plan.changes);
                assert.deepEqual(args.slice(0, 2), ["0", "1"]);
                assert.equal(args[2], path);
                assert.ok(Buffer.from(args[3], "base64").equals(Buffer.from(bytes)));
                const untouched = planRestore(managed, (p) => pathContentOf(snapshot, p), "h");
                assert.deepEqual(untouched.changes, {}, "a file that still holds its original is left alone");
            }),
        );
    });

    it("a record from before the bytes were kept (text only) still puts its text back", function () {
        const legacy: ManagedFiles = { originals: { "/etc/a": { kind: "file", content: "orig\n" } }, written: { "/etc/a": { kind: "file", content: "ours\n" } }, createdDirs: [] };
        const plan = planRestore(legacy, () => fileContent("ours\n"), "h");
        assert.deepEqual(plan.changes, { write: [{ path: "/etc/a", content: "orig\n" }] });
        assert.equal(Buffer.from(transactionArgs([], plan.changes)[3], "base64").toString("utf8"), "orig\n");
        assert.deepEqual(planRestore(legacy, () => fileContent("orig\n"), "h").changes, {});
    });

    it("the apply program writes exactly the bytes it is given: NUL, trailing newlines, no UTF-8", function () {
        const root = mkdtempSync(path.join(tmpdir(), "plt-bytes-"));
        try {
            const file = path.join(root, "f");
            const run = (changes: FileChanges) => parseTransactionOutput("local", execFileSync("sh", ["-c", `undo_extra() { :; }\n${FILE_HELPERS}\n${TRANSACTION_BODY}`, "t", ...transactionArgs([], changes)], { encoding: "utf8" }));
            for (const bytes of [notUtf8, Buffer.from("a\0b\n\n\n"), Buffer.alloc(0), Buffer.from([0xc3]), Buffer.from("plain\n")]) {
                run({ write: [{ path: file, ...fileFromBytes(bytes) }] });
                assert.ok(readFileSync(file).equals(bytes), `wrote ${bytes.toString("hex")}`);
            }
            fc.assert(
                fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
                    run({ write: [{ path: file, ...fileFromBytes(Buffer.from(bytes)) }] });
                    assert.ok(readFileSync(file).equals(Buffer.from(bytes)));
                }),
                { numRuns: 25 },
            );
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });

    it("IrqAffinity edits irqbalance's file byte for byte, and delete gives back its exact bytes (or keeps an admin's edit, bytes and all)", function () {
        const config = "/etc/default/irqbalance";
        const inputs = irqAffinityInputsSchema.parse({ interface: "eth1", resourceName: "irq", cpus: "1", irqbalance: "ban" });
        const line = (s: string) => `${s.split("\n")[0]}\n`;
        const hostWith = (bytes: Buffer) =>
            parseFileSnapshot(
                [
                    "dir\t/sys/class/net/eth1\t",
                    "dir\t/sys/class/net/eth1/device/msi_irqs\t102 103",
                    `file\t/proc/interrupts\t${b64(Buffer.from("           CPU0       CPU1\n102:  1  0  PCI-MSI 1-edge  eth1-TxRx-0\n103:  1  0  PCI-MSI 2-edge  eth1-TxRx-1\n"))}`,
                    `file\t/sys/devices/system/cpu/online\t${b64(Buffer.from("0-3\n"))}`,
                    `file\t${config}\t${b64(bytes)}`,
                ].join("\n"),
            );
        const comment = fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.concat([Buffer.from("# "), Buffer.from(b.filter((x) => x !== 0x0a)), Buffer.from("\n")]));
        fc.assert(
            fc.property(fc.oneof(comment, fc.constant(Buffer.from(line(notUtf8.toString("latin1")), "latin1"))), (extra) => {
                const original = Buffer.concat([extra, Buffer.from(DEBIAN)]);
                const before = hostWith(original);
                const plan = planIrqAffinity(inputs, viewOf(inputs, before), before, "h");
                const banned = Buffer.from(plan.irqbalance.action.config!, "latin1");
                assert.ok(banned.equals(Buffer.concat([original, Buffer.from('IRQBALANCE_ARGS="--banirq=102 --banirq=103"\n')])), "only the IRQBALANCE_ARGS line is added");
                const record = throughState(plan.record);
                const after = hostWith(banned);
                const restore = irqbalanceRestore(record.irqbalanceState, viewOf(inputs, after), record.managedFiles, "h");
                assert.ok(Buffer.from(restore.config!, "latin1").equals(original), "delete puts the original bytes back");
                const edited = hostWith(Buffer.concat([banned, Buffer.from("# admin \xe9\n", "latin1")]));
                const kept = irqbalanceRestore(record.irqbalanceState, viewOf(inputs, edited), record.managedFiles, "h");
                assert.ok(Buffer.from(kept.config!, "latin1").equals(Buffer.concat([original, Buffer.from("# admin \xe9\n", "latin1")])), "an edit since keeps its bytes; only our line goes");
            }),
            { numRuns: 60 },
        );
    });

    it("NicRingConfig: an earlier udev rule at its path, of any bytes, is written back as it was", function () {
        const rulePath = "/etc/udev/rules.d/90-pulumi-nic-n.rules";
        const inputs = nicRingConfigInputsSchema.parse({ interface: "eth1", resourceName: "n", coalesce: { adaptiveRx: true }, onUnsupported: "skip" });
        fc.assert(
            fc.property(anyBytes, (bytes) => {
                const snapshot = parseNicOutput(`ethtool\t/usr/sbin/ethtool\nsection\t-g\t1\t\nsection\t-l\t1\t\nsection\t-c\t1\t\nown\t${b64(bytes)}\n`);
                const plan = planNic(inputs, snapshot, rulePath, "h");
                const record = throughState(plan.record);
                const restore = planRuleRestore(record, { ...snapshot, ownRule: plan.rule! }, rulePath, "h");
                assert.ok(written(fileActionArg(restore.rule)).equals(Buffer.from(bytes)));
            }),
        );
    });

    it("KernelModule: an earlier modules-load.d file of any bytes is written back as it was", function () {
        const files = persistFiles("mods");
        const inputs = kernelModuleInputsSchema.parse({ modules: ["dummy"], resourceName: "mods" });
        const read = (load: string) => parseModuleSnapshot(["modprobe\t/usr/sbin/modprobe", "release\t6.1.0", "loaded\tdummy\t0\t", load, `absent\t${files.options}`].join("\n"));
        fc.assert(
            fc.property(anyBytes, (bytes) => {
                const plan = planModules(moduleSpecs(inputs), { resourceName: "mods", persist: true, restoreOnDelete: true }, read(`file\t${files.load}\t${b64(bytes)}`), files, "h");
                const ours = fileActionArg(plan.changes.files.load);
                const restore = planModulesRestore(throughState(plan.record), read(`file\t${files.load}\t${ours.slice(1)}`), files, true, "h");
                assert.ok(written(fileActionArg(restore.changes.files.load)).equals(Buffer.from(bytes)));
            }),
        );
    });
});
