import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { planGovernor, planGovernorRestore } from "../../provider/cpu-governor/plan";
import { cpuGovernorInputsSchema } from "../../provider/cpu-governor/schema";
import { FILE_HELPERS, FileSnapshot, TRANSACTION_BODY, parseTransactionOutput, transactionArgs } from "../../provider/host/files";
import { ABSENT, fileContent, linkTo, manage, planRestore, withCreatedDirs } from "../../provider/host/restore";
import { withBannedIrqs, withoutBannedIrqs } from "../../provider/irq/irqbalance";
import { HostIrqView, irqbalanceRestore, planIrqbalance } from "../../provider/irq/plan";
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
});
