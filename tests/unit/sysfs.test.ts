import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { TransactionError, applyTransaction } from "../../provider/host/files";
import { hostLedgerPath, ownershipFailures } from "../../provider/host/ledger";
import { LocalTransport } from "../../provider/transport/local";
import {
    PlanOptions,
    assessPaths,
    liveValues,
    parseSelection,
    planSysfs,
    pathsNowPresent,
    planSysfsRestore,
    readBackWarnings,
    renderTmpfiles,
    sysfsDrift,
    sysfsItems,
} from "../../provider/sysfs/plan";
import { PathState, SysfsSnapshot, parseSysfsSnapshot, readSysfs } from "../../provider/sysfs/remote";
import { notASettingProblem, sysfsPathProblem, sysfsSetInputsSchema, sysfsValueProblem, tmpfilesPath } from "../../provider/sysfs/schema";
import { transparentHugepagesInputsSchema } from "../../provider/thp/schema";
import { cpuWakeupLatencyInputsSchema } from "../../provider/wakeup-latency/schema";
import { checkFailures } from "../../provider/check";

const THP = "/sys/kernel/mm/transparent_hugepage/enabled";
const DEFRAG = "/sys/kernel/mm/transparent_hugepage/defrag";
const QOS1 = "/sys/devices/system/cpu/cpu1/power/pm_qos_resume_latency_us";
const FILE = tmpfilesPath("sysfs", "low");

const file = (content: string, writable = true) => ({ kind: "file" as const, writable, content });

function host(extra: [string, PathState][] = []): SysfsSnapshot {
    return new Map([[THP, file("[always] madvise never\n")], [DEFRAG, file("always defer defer+madvise [madvise] never\n")], [QOS1, file("0\n")], ...extra]);
}

const options: PlanOptions = {
    onMissing: "fail",
    persist: true,
    restoreOnDelete: true,
    resourceName: "low",
    tmpfilesFile: FILE,
    target: "root@h:22",
    property: (p) => `settings["${p}"]`,
};

describe("SysfsSet", function () {
    describe("selection files", function () {
        it("reads the bracketed word and the words offered", function () {
            assert.deepEqual(parseSelection("always [madvise] never\n"), { value: "madvise", choices: ["always", "madvise", "never"] });
            assert.deepEqual(parseSelection("always defer defer+madvise [madvise] never"), { value: "madvise", choices: ["always", "defer", "defer+madvise", "madvise", "never"] });
            assert.deepEqual(parseSelection("[none] mq-deadline kyber"), { value: "none", choices: ["none", "mq-deadline", "kyber"] });
        });
        it("reads debugfs's parenthesised word (sched/preempt) the same way, but not a lone one", function () {
            assert.deepEqual(parseSelection("none (voluntary) full lazy\n"), { value: "voluntary", choices: ["none", "voluntary", "full", "lazy"] });
            assert.deepEqual(parseSelection("(full) \n"), { value: "full", choices: ["full"] }, "PREEMPT_RT without lazy: one mode, followed by a space");
            assert.deepEqual(parseSelection("(full)  \n\n"), { value: "full", choices: ["full"] });
            assert.deepEqual(parseSelection("(null)\n"), { value: "(null)" });
            assert.deepEqual(parseSelection("(a) (b)"), { value: "(a) (b)" });
        });
        it("reads other files as their whitespace-normalised content", function () {
            assert.deepEqual(parseSelection("n/a\n"), { value: "n/a" });
            assert.deepEqual(parseSelection("4096\t 8192\n"), { value: "4096 8192" });
            assert.deepEqual(parseSelection("[a] [b]"), { value: "[a] [b]" });
        });
    });

    describe("grammar", function () {
        it("takes absolute, normalised paths under /sys and nothing else", function () {
            assert.equal(sysfsPathProblem(THP), undefined);
            assert.equal(sysfsPathProblem("/sys/devices/pci0000:00/0000:00:1f.2/power/control"), undefined);
            assert.match(sysfsPathProblem("/proc/sys/vm/swappiness")!, /under \/sys\//);
            assert.match(sysfsPathProblem("/sys/kernel/../../etc/passwd")!, /no \. or \.\./);
            assert.match(sysfsPathProblem("/sys/kernel//mm")!, /normalised/);
            assert.match(sysfsPathProblem("/sys/kernel/mm/")!, /trailing slash/);
            assert.match(sysfsPathProblem("/sys/bus/usb/devices/*/power/control")!, /glob/);
            assert.match(sysfsPathProblem("/sys/a b")!, /letters, digits/);
            assert.match(sysfsPathProblem("/sys/$(reboot)")!, /letters, digits/);
            assert.equal(sysfsPathProblem("/sys/fs/cgroup/system.slice/cgroup.procs"), undefined, "judged with the host, so a resource created before can still be destroyed");
        });
        it("takes printable one-line values of at most a page", function () {
            assert.equal(sysfsValueProblem("defer+madvise"), undefined);
            assert.equal(sysfsValueProblem(20), undefined);
            assert.equal(sysfsValueProblem(2 ** 60), "1152921504606847000 is beyond 2^53 - 1, where numbers lose digits: write it as a string");
            assert.match(sysfsValueProblem(1.5)!, /^1\.5 is not an integer/);
            assert.match(sysfsValueProblem("never\nalways")!, /one line/);
            assert.match(sysfsValueProblem("")!, /1-4095/);
            assert.match(sysfsValueProblem("x".repeat(4096))!, /1-4095/);
            assert.match(sysfsValueProblem(" never")!, /space/);
            assert.match(sysfsValueProblem("a\\nb")!, /backslash/);
            assert.match(sysfsValueProblem("-")!, /tmpfiles\.d reads it as no value/);
            assert.equal(sysfsValueProblem("-1"), undefined);
            assert.match(sysfsValueProblem(1.5)!, /integer/);
        });
        it("names the property of a bad path", function () {
            const failures = checkFailures(sysfsSetInputsSchema, { resourceName: "x", settings: { "/etc/passwd": "x" } });
            assert.deepEqual(failures.map((f) => f.property), ['settings["/etc/passwd"]']);
        });
        it("refuses a set too large for one apply's command line, asking to split it", function () {
            const queues = (n: number, value: string) => Object.fromEntries(Array.from({ length: n }, (_, q) => [`/sys/class/net/eth1/queues/rx-${q}/rps_cpus`, value]));
            assert.deepEqual(checkFailures(sysfsSetInputsSchema, { resourceName: "x", settings: queues(150, "ff") }), []);
            assert.match(checkFailures(sysfsSetInputsSchema, { resourceName: "x", settings: queues(151, "ff") })[0].reason, /must set 1-150 paths, got 151: split them/);
            assert.match(checkFailures(sysfsSetInputsSchema, { resourceName: "x", settings: queues(4, "f".repeat(4000)) })[0].reason, /come to 16\d{3} characters, above the 12000/);
        });
    });

    describe("what the host cannot take", function () {
        it("names a missing path, a read-only one and a word a selection file does not offer", function () {
            const snapshot = host([["/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", file("2097152\n", false)]]);
            const { problems } = assessPaths({ [THP]: "sometimes", "/sys/nope": "1", "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size": "4096" }, snapshot, "fail");
            assert.deepEqual(problems.map((p) => p.why), [
                `"sometimes" is not offered by ${THP} (it offers always, madvise, never)`,
                "/sys/nope does not exist on this host",
                "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size is read-only on this host (the kernel takes no writes there)",
            ]);
        });
        it("refuses a selection file's listing pasted as the value (a marked word, or several offered words), which the kernel refuses", function () {
            const why = (value: string) => assessPaths({ [THP]: value }, host(), "fail").problems.map((p) => [p.why, p.ofValue]);
            const listing = (value: string) => [[`"${value}" is words of the listing ${THP} shows, not a value: write one word it offers (always, madvise, never), without brackets`, true]];
            assert.deepEqual(why("[never]"), listing("[never]"));
            assert.deepEqual(why("madvise never"), listing("madvise never"));
            assert.deepEqual(why("always [madvise] never"), listing("always [madvise] never"));
            assert.deepEqual(why("never"), []);
            const preempt = "/sys/kernel/debug/sched/preempt";
            assert.equal(assessPaths({ [preempt]: "(full)" }, host([[preempt, file("none (voluntary) full lazy\n")]]), "fail").problems.length, 1);
        });
        it("takes an elevator a block queue does not list yet, which the kernel loads on the write, but not a typo", function () {
            const scheduler = "/sys/block/vda/queue/scheduler";
            const snapshot = host([[scheduler, file("[mq-deadline] none\n")]]);
            assert.deepEqual(assessPaths({ [scheduler]: "bfq" }, snapshot, "fail").problems, []);
            assert.deepEqual(assessPaths({ [scheduler]: "bfqq" }, snapshot, "fail").problems.map((p) => p.why), [`"bfqq" is not offered by ${scheduler} (it offers mq-deadline, none)`]);
            assert.equal(assessPaths({ [THP]: "bfq" }, snapshot, "fail").problems.length, 1, "only a scheduler file loads what it is given");
        });
        it("refuses one file declared by two paths (a symlinked spelling and its real path)", function () {
            const real = "/sys/devices/pci0000:00/0000:00:03.0/net/eth1/mtu";
            const snapshot = host([
                ["/sys/class/net/eth1/mtu", { ...file("1500\n"), realPath: real }],
                [real, file("1500\n")],
            ]);
            const { problems } = assessPaths({ "/sys/class/net/eth1/mtu": "9000", [real]: "1500" }, snapshot, "skip");
            assert.deepEqual(problems, [{ path: real, why: `${real} is the same file as /sys/class/net/eth1/mtu (${real}): declare it once` }]);
        });
        it("refuses a path, or a real path, on another filesystem under /sys (cgroup, efivars…), even under onMissing: skip; debugfs stays open", function () {
            const procs = "/sys/fs/cgroup/system.slice/cgroup.procs";
            const efivar = "/sys/firmware/efi/efivars/Boot0000-8be4df61-93ca-11d2-aa0d-00e098032b8c";
            const snapshot = host([
                [procs, file("1\n")],
                ["/sys/class/x/cpuset", { ...file("0\n"), realPath: "/sys/fs/cgroup/x/cpuset.cpus" }],
                ["/sys/kernel/debug/sched/migration_cost_ns", file("500000\n")],
                ["/sys/fs/cgroupx", file("0\n")],
            ]);
            const why = (p: string) => assessPaths({ [p]: "1" }, snapshot, "skip").problems.map((x) => x.why);
            assert.deepEqual(why(procs), [`${procs} is on cgroup (mounted at /sys/fs/cgroup), not sysfs: SysfsSet writes only sysfs attributes, whose values it can read back and put back`]);
            assert.match(why(efivar)[0], /is on efivarfs \(mounted at \/sys\/firmware\/efi\/efivars\)/, "refused whether it exists or not");
            assert.match(why("/sys/class/x/cpuset")[0], /^\/sys\/class\/x\/cpuset leads to \/sys\/fs\/cgroup\/x\/cpuset\.cpus, which is on cgroup/);
            assert.deepEqual(why("/sys/kernel/debug/sched/migration_cost_ns"), [], "tuned's scheduler knobs");
            assert.deepEqual(why("/sys/fs/cgroupx"), [], "a sibling name is sysfs");
        });
        it("refuses lists that take one change per write (scheduler features, dynamic debug, tracing filters), whose read is no value", function () {
            for (const path of ["/sys/kernel/debug/sched/features", "/sys/kernel/debug/sched_features", "/sys/kernel/debug/dynamic_debug/control", "/sys/kernel/tracing/set_ftrace_filter", "/sys/kernel/debug/tracing/kprobe_events", "/sys/kernel/tracing/instances/a/set_event", "/sys/kernel/tracing/trace_options", "/sys/kernel/tracing/events/sched/sched_switch/trigger"]) {
                assert.match(notASettingProblem(path) ?? "", /: SysfsSet writes only attributes that hold a value it can read back and put back$/, path);
            }
            for (const path of ["/sys/kernel/debug/sched/preempt", "/sys/kernel/tracing/tracing_on", "/sys/kernel/tracing/buffer_size_kb", "/sys/kernel/tracing/events/sched/enable", "/sys/kernel/tracing/events/sched/sched_switch/filter", "/sys/kernel/tracing/options/overwrite"]) {
                assert.equal(notASettingProblem(path), undefined, path);
            }
        });
        it("refuses files that act rather than hold a value (suspend, a uevent), by their path or the one they lead to", function () {
            const snapshot = host([
                ["/sys/power/state", file("freeze mem disk\n")],
                ["/sys/class/net/eth1/uevent", { ...file("INTERFACE=eth1\nIFINDEX=3\n"), realPath: "/sys/devices/virtual/net/eth1/uevent" }],
                ["/sys/power/mem_sleep", file("s2idle [deep]\n")],
            ]);
            const why = (p: string, value = "1") => assessPaths({ [p]: value }, snapshot, "skip").problems.map((x) => x.why);
            assert.deepEqual(why("/sys/power/state", "mem"), ["/sys/power/state suspends or hibernates the host on each write: SysfsSet writes only attributes that hold a value it can read back and put back"]);
            assert.match(why("/sys/class/net/eth1/uevent", "add")[0], /^\/sys\/class\/net\/eth1\/uevent sends the device's uevent again/);
            assert.deepEqual(why("/sys/power/mem_sleep", "deep"), [], "a selection that holds a value");
        });
        it("skips missing and read-only paths under onMissing: skip, never a word not offered", function () {
            const { problems, skipped } = assessPaths({ [THP]: "sometimes", "/sys/nope": "1" }, host(), "skip");
            assert.deepEqual(skipped, ["/sys/nope"]);
            assert.equal(problems.length, 1);
        });
        it("apply throws naming the property and the host, with nothing to write", function () {
            assert.throws(() => planSysfs({ [THP]: "sometimes" }, host(), options), /root@h:22: settings\["\/sys\/kernel\/mm\/transparent_hugepage\/enabled"\]: "sometimes" is not offered.*Nothing was changed/);
        });
        it("reports a missing path on the input the path comes from, a refused word on the value's", function () {
            const names = { ...options, property: () => "latencyUs", pathProperty: () => "cpus" };
            assert.throws(() => planSysfs({ "/sys/devices/system/cpu/cpu9/power/pm_qos_resume_latency_us": "20" }, host(), names), /root@h:22: cpus: \/sys\/devices\/system\/cpu\/cpu9\/power\/pm_qos_resume_latency_us does not exist/);
            assert.throws(() => planSysfs({ [THP]: "sometimes" }, host(), names), /root@h:22: latencyUs: "sometimes" is not offered/);
        });
    });

    describe("planning", function () {
        it("records the selected word as the original, writes only what differs, and persists as tmpfiles.d w lines", function () {
            const plan = planSysfs({ [THP]: "never", [DEFRAG]: "madvise", [QOS1]: "n/a" }, host(), options);
            assert.deepEqual(plan.record.originals, { [THP]: "always", [DEFRAG]: "madvise", [QOS1]: "0" });
            assert.deepEqual(plan.writes, [{ path: THP, value: "never" }, { path: QOS1, value: "n/a" }]);
            assert.equal(plan.files.write?.[0].path, "/etc/tmpfiles.d/90-pulumi-sysfs-low.conf");
            assert.match(plan.files.write![0].content, /^w \/sys\/kernel\/mm\/transparent_hugepage\/enabled - - - - never$/m);
            assert.deepEqual(plan.record.managedFiles?.originals, { [FILE]: { kind: "absent" } });
        });
        it("reads a file given free text (several words, or a mark) whole: no choices to offer, the whole original, no drift once set", function () {
            const alias = "/sys/class/net/eth1/ifalias";
            const snapshot = host([[alias, file("core [lag1]\n")]]);
            assert.deepEqual(assessPaths({ [alias]: "uplink [bond0]" }, snapshot, "fail").problems, [], "not refused as a word core [lag1] does not offer");
            const plan = planSysfs({ [alias]: "uplink [bond0]" }, snapshot, options);
            assert.deepEqual([plan.record.originals[alias], plan.writes], ["core [lag1]", [{ path: alias, value: "uplink [bond0]" }]]);
            assert.deepEqual(sysfsDrift({ [alias]: "uplink [bond0]" }, liveValues({ [alias]: "uplink [bond0]" }, host([[alias, file("uplink [bond0]\n")]]))), []);
            assert.equal(liveValues({ [THP]: "never" }, host([[THP, file("always [never]\n")]]))[THP], "never", "a one-word value elsewhere still reads the selection");
            assert.deepEqual(assessPaths({ [alias]: "uplink" }, snapshot, "fail").problems, [], "an ifalias is free text whatever the value");
            assert.equal(planSysfs({ [alias]: "uplink" }, snapshot, options).record.originals[alias], "core [lag1]", "not the bracketed word");
        });
        it("says a NIC's attribute persisted in tmpfiles.d may find no NIC at boot", function () {
            const gro = "/sys/class/net/eth1/gro_flush_timeout";
            const vfs = "/sys/class/net/eth1/device/sriov_numvfs";
            const nics = host([[gro, file("0\n")], [vfs, { ...file("0\n"), realPath: "/sys/devices/pci0000:00/0000:03:00.0/sriov_numvfs" }]]);
            const warnings = (persist: boolean) => planSysfs({ [gro]: "20000", [vfs]: "4", [THP]: "never" }, nics, { ...options, persist }).warnings;
            assert.deepEqual(warnings(true), [
                `root@h:22: ${gro}, ${vfs} are NICs' attributes: systemd-tmpfiles sets them at boot without waiting for udev to bring the NIC up, so a line whose NIC is not there yet is skipped (preview --refresh shows it as drift after such a boot)`,
            ]);
            assert.deepEqual(warnings(false), []);
        });
        it("keeps the original of a path skipped on a later update, so it is not taken again from this resource's own value", function () {
            const skip = { ...options, onMissing: "skip" as const };
            const first = planSysfs({ [THP]: "never", [QOS1]: "20" }, host(), skip);
            const readOnly = host([[THP, file("always madvise [never]\n")], [QOS1, file("20\n", false)], [FILE, file(first.files.write![0].content)]]);
            const second = planSysfs({ [THP]: "never", [QOS1]: "20" }, readOnly, skip, first.record);
            assert.deepEqual([second.record.skipped, second.record.originals], [[QOS1], { [THP]: "always", [QOS1]: "0" }]);
            assert.deepEqual(second.writes, [], "nothing written to the read-only path");
            const writable = host([[THP, file("always madvise [never]\n")], [QOS1, file("20\n")], [FILE, file(second.files.write?.[0].content ?? first.files.write![0].content)]]);
            assert.deepEqual(planSysfs({ [THP]: "never", [QOS1]: "20" }, writable, skip, second.record).record.originals[QOS1], "0", "not 20, this resource's own value");
            const restore = planSysfsRestore(second.record, readOnly, true, "root@h:22");
            assert.deepEqual(restore.writes, [{ path: THP, value: "always" }], "a delete does not fail on the path still read-only");
            assert.equal(restore.warnings[0], `root@h:22: left ${QOS1} at 20: it is read-only now, so its original 0 cannot go back`);
        });
        it("keeps the first originals on update and puts back a path dropped from the set", function () {
            const first = planSysfs({ [THP]: "never", [QOS1]: "20" }, host(), options);
            const applied = host([[THP, file("always madvise [never]\n")], [QOS1, file("20\n")], [FILE, file(first.files.write![0].content)]]);
            const second = planSysfs({ [THP]: "never" }, applied, options, first.record);
            assert.deepEqual(second.record.originals, { [THP]: "always" });
            assert.deepEqual(second.writes, [{ path: QOS1, value: "0" }]);
            assert.doesNotMatch(second.files.write![0].content, /pm_qos/);
            assert.deepEqual(second.record.managedFiles?.originals, { [FILE]: { kind: "absent" } });
        });
        it("keeps a file's original when the path is declared again by another spelling of it, and does not put it back as dropped", function () {
            const [link, real] = ["/sys/class/net/eth1/mtu", "/sys/devices/virtual/net/eth1/mtu"];
            const first = planSysfs({ [link]: "9000" }, host([[link, { ...file("1500\n"), realPath: real }]]), options);
            assert.deepEqual(first.record.originals, { [link]: "1500" });
            const tuned = host([[link, { ...file("9000\n"), realPath: real }], [real, file("9000\n")], [FILE, file(first.files.write![0].content)]]);
            const second = planSysfs({ [real]: "9000" }, tuned, options, first.record);
            assert.deepEqual(second.record.originals, { [real]: "1500" }, "not 9000, this resource's own value");
            assert.deepEqual(second.writes, [], "the old spelling's original is not written over the value just declared");
            assert.deepEqual(planSysfsRestore(second.record, tuned, true, "root@h:22").writes, [{ path: real, value: "1500" }]);
        });
        it("reports a path skipped when applied that the host now takes, until an up sets it", function () {
            const skip = { ...options, onMissing: "skip" as const };
            const eth2 = "/sys/class/net/eth2/mtu";
            const first = planSysfs({ [THP]: "never", [eth2]: "9000" }, host(), skip);
            assert.deepEqual(first.record.skipped, [eth2]);
            assert.deepEqual(pathsNowPresent(first.record, { [THP]: "never", [eth2]: "9000" }, host(), "skip"), [], "still absent");
            const plugged = host([[eth2, file("1500\n")]]);
            assert.deepEqual(pathsNowPresent(first.record, { [THP]: "never", [eth2]: "9000" }, plugged, "skip"), [eth2]);
            assert.deepEqual(pathsNowPresent(first.record, { [THP]: "never" }, plugged, "skip"), [], "no longer declared");
            assert.deepEqual(pathsNowPresent(first.record, { [THP]: "never", [eth2]: "9000" }, host([[eth2, file("1500\n", false)]]), "skip"), [], "there, but read-only still");
        });
        it("persist: false on update takes its file back out", function () {
            const first = planSysfs({ [THP]: "never" }, host(), options);
            const applied = host([[THP, file("always madvise [never]\n")], [FILE, file(first.files.write![0].content)]]);
            const second = planSysfs({ [THP]: "never" }, applied, { ...options, persist: false }, first.record);
            assert.deepEqual(second.files.remove, [FILE]);
            assert.equal(second.record.persistedFile, undefined);
            const madeDir = { ...first.record, managedFiles: { ...first.record.managedFiles!, createdDirs: ["/etc/tmpfiles.d"] } };
            const third = planSysfs({ [THP]: "never" }, applied, { ...options, persist: false }, madeDir);
            assert.deepEqual(third.files.rmdir, ["/etc/tmpfiles.d"], "the directory it made for the file goes with it, when empty");
            assert.deepEqual(third.record.managedFiles?.createdDirs, []);
        });
        it("puts back a file under an earlier name, keeping the directory the current one lies in", function () {
            const old = "/etc/tmpfiles.d/90-pulumi-sysfs-old.conf";
            const first = planSysfs({ [THP]: "never" }, host(), { ...options, tmpfilesFile: old });
            const record = { ...first.record, managedFiles: { ...first.record.managedFiles!, createdDirs: ["/etc/tmpfiles.d"] } };
            const applied = host([[THP, file("always madvise [never]\n")], [old, file(first.files.write![0].content)], [FILE, { kind: "absent" }]]);
            const second = planSysfs({ [THP]: "never" }, applied, options, record);
            assert.deepEqual(second.files.remove, [old]);
            assert.equal(second.files.write![0].path, FILE);
            assert.equal(second.files.rmdir, undefined);
            assert.deepEqual(Object.keys(second.record.managedFiles!.originals), [FILE]);
        });
        it("lists as the ledger's items each path written, by its real path too, and the tmpfiles.d file; a skipped path is not one", function () {
            const real = "/sys/devices/virtual/net/eth1/queues/rx-0/rps_cpus";
            const snapshot = host([["/sys/class/net/eth1/queues/rx-0/rps_cpus", { ...file("0\n"), realPath: real }]]);
            const plan = planSysfs({ [THP]: "never", "/sys/class/net/eth1/queues/rx-0/rps_cpus": "3", "/sys/nope": "1" }, snapshot, { ...options, onMissing: "skip" });
            assert.deepEqual(sysfsItems(plan.record, snapshot), [THP, "/sys/class/net/eth1/queues/rx-0/rps_cpus", real, FILE]);
        });
        it("a path another resource's ledger holds, by either spelling, is refused on one property naming the owner", function () {
            const real = "/sys/devices/virtual/net/eth1/queues/rx-0/rps_cpus";
            const theirs = hostLedgerPath("packet-steering", "p/prod/steer");
            const ledgers = new Map([[theirs, { owner: "p/prod/steer", items: [real], record: {}, createdDirs: [] }]]);
            const snapshot = host([["/sys/class/net/eth1/queues/rx-0/rps_cpus", { ...file("0\n"), realPath: real }]]);
            const plan = planSysfs({ "/sys/class/net/eth1/queues/rx-0/rps_cpus": "3" }, snapshot, options);
            const failures = ownershipFailures({ kind: "sysfs", owner: "p/dev/raw", ledgers, target: "root@h:22" }, [hostLedgerPath("sysfs", "p/dev/raw")], "unit-sysfs:22", sysfsItems(plan.record, snapshot), "settings");
            assert.deepEqual(failures, [{ property: "settings", reason: `root@h:22: ${real} is managed by p/prod/steer (its ledger on the host); remove it there first` }]);
        });
        it("doubles % in tmpfiles.d lines (a specifier there)", function () {
            assert.match(renderTmpfiles("x", { "/sys/a": "50%" }), /^w \/sys\/a - - - - 50%%$/m);
        });
    });

    describe("restore and drift", function () {
        it("delete writes the originals back and removes the file and the directory it created", function () {
            const plan = planSysfs({ [THP]: "never" }, host(), options);
            const record = { ...plan.record, managedFiles: { ...plan.record.managedFiles!, createdDirs: ["/etc/tmpfiles.d"] } };
            const applied = host([[THP, file("always madvise [never]\n")], [FILE, file(plan.files.write![0].content)]]);
            const restore = planSysfsRestore(record, applied, true, "h");
            assert.deepEqual(restore.writes, [{ path: THP, value: "always" }]);
            assert.deepEqual(restore.files, { remove: [FILE], rmdir: ["/etc/tmpfiles.d"] });
            assert.deepEqual(planSysfsRestore(record, applied, false, "h").writes, []);
        });
        it("fails a delete, or an update dropping it, rather than lose the original of a path that cannot be read now; a path gone is left with a warning", function () {
            const plan = planSysfs({ [THP]: "never", [QOS1]: "20" }, host(), options);
            const resetting = host([[THP, file("always madvise [never]\n")], [QOS1, { kind: "unreadable", why: "Input/output error" }], [FILE, file(plan.files.write![0].content)]]);
            const refused = new RegExp(`^Error: root@h:22: cannot put back the original of ${QOS1} \\(Input/output error\\): it cannot be read now\\. Nothing was changed, and the host-side ledger keeps the originals`);
            assert.throws(() => planSysfsRestore(plan.record, resetting, true, "root@h:22"), refused);
            assert.throws(() => planSysfs({ [THP]: "never" }, resetting, { ...options, target: "root@h:22" }, plan.record), refused);
            assert.deepEqual(planSysfsRestore(plan.record, resetting, false, "root@h:22").writes, [], "restoreOnDelete: false leaves it");
            const gone = new Map([...resetting].filter(([path]) => path !== QOS1));
            const restore = planSysfsRestore(plan.record, gone, true, "root@h:22");
            assert.deepEqual(restore.writes, [{ path: THP, value: "always" }]);
            assert.deepEqual(restore.warnings, [`root@h:22: left ${QOS1} as it is: it is gone from this host, so its original 0 cannot go back`]);
        });
        it("describes drift per path and values the kernel normalises", function () {
            assert.deepEqual(sysfsDrift({ [THP]: "never", [QOS1]: "n/a" }, { [THP]: "always", [QOS1]: "n/a" }), [`${THP} live always, desired never`]);
            assert.match(readBackWarnings({ [QOS1]: "0x10" }, { [QOS1]: "16" }, "h")[0], /took "0x10" but reads back "16"/);
        });
        it("parses the read program's output", function () {
            const out = [
                `file\t${THP}\tw\t${Buffer.from("[always] madvise never\n").toString("base64")}\t${THP}`,
                `file\t/sys/l\tr\t${Buffer.from("1").toString("base64")}\t/sys/real`,
                `file\t/sys/ro\tw\t${Buffer.from("2").toString("base64")}\t/sys/ro`,
                "absent\t/sys/nope",
                "unreadable\t/sys/x\tPermission denied",
                `mode\t644\t${THP}`,
                "mode\t644\t/sys/l",
                "mode\t444\t/sys/ro",
            ].join("\n");
            const snapshot = parseSysfsSnapshot(out);
            assert.deepEqual(snapshot.get(THP), file("[always] madvise never\n"));
            assert.deepEqual(snapshot.get("/sys/ro"), file("2", false), "no write bit: read-only even where access(2) says root may write");
            assert.deepEqual(snapshot.get("/sys/l"), { ...file("1", false), realPath: "/sys/real" });
            assert.deepEqual(snapshot.get("/sys/nope"), { kind: "absent" });
            assert.deepEqual(snapshot.get("/sys/x"), { kind: "unreadable", why: "Permission denied" });
        });
    });

    describe("the remote programs, run locally on plain files", function () {
        const local = new LocalTransport(false);
        let dir: string;
        before(function () {
            dir = mkdtempSync(path.join(tmpdir(), "plt-sysfs-unit-"));
        });
        after(function () {
            rmSync(dir, { recursive: true, force: true });
        });

        it("reads content, whether a file takes writes (0444 does not), and a symlinked path's real path", async function () {
            writeFileSync(path.join(dir, "rw"), "[a] b\n");
            writeFileSync(path.join(dir, "ro"), "1\n");
            chmodSync(path.join(dir, "ro"), 0o444);
            symlinkSync(path.join(dir, "rw"), path.join(dir, "link"));
            mkdirSync(path.join(dir, "device"));
            writeFileSync(path.join(dir, "device", "attr"), "7\n");
            symlinkSync(path.join(dir, "device"), path.join(dir, "class"));
            const { snapshot } = await readSysfs(local, [path.join(dir, "rw"), path.join(dir, "ro"), path.join(dir, "none"), dir, path.join(dir, "link"), path.join(dir, "class", "attr")]);
            assert.deepEqual(snapshot.get(path.join(dir, "rw")), file("[a] b\n"));
            assert.deepEqual(snapshot.get(path.join(dir, "link")), { ...file("[a] b\n"), realPath: path.join(dir, "rw") });
            assert.equal((snapshot.get(path.join(dir, "ro")) as { writable: boolean }).writable, false);
            assert.deepEqual(snapshot.get(path.join(dir, "none")), { kind: "absent" });
            assert.deepEqual(snapshot.get(dir), { kind: "dir" });
            assert.deepEqual(snapshot.get(path.join(dir, "class", "attr")), { ...file("7\n"), realPath: path.join(dir, "device", "attr") }, "reached through a linked directory");
            symlinkSync("/nowhere", path.join(dir, "dangling"));
            const { links } = await readSysfs(local, [path.join(dir, "rw"), path.join(dir, "link"), path.join(dir, "dangling"), path.join(dir, "class", "attr")]);
            assert.deepEqual([...links], [[path.join(dir, "link"), path.join(dir, "rw")], [path.join(dir, "dangling"), "/nowhere"]], "only paths that are links themselves, dangling too");
        });

        it("stopped once every file is in (while it tidies directories), finishes rather than undoing values whose files it no longer keeps", async function () {
            const value = path.join(dir, "value");
            const conf = path.join(dir, "etc", "tuning.conf");
            const empty = path.join(dir, "empty");
            writeFileSync(value, "1\n");
            mkdirSync(empty);
            // An rmdir that stops the program that runs it, as the command time limit or a dropped session would.
            const shims = mkdtempSync(path.join(tmpdir(), "plt-shims-"));
            writeFileSync(path.join(shims, "rmdir"), '#!/bin/sh\nkill -TERM "$PPID"\nsleep 0.2\nexec /bin/rmdir "$@"\n', { mode: 0o755 });
            let argv: string[] = [];
            const capture = { target: "h", run: async (words: string[]) => ((argv = words), { code: 0, stdout: "done\n", stderr: "" }) } as unknown as LocalTransport;
            await applyTransaction(capture, [{ path: value, value: "2" }], { write: [{ path: conf, content: "x = 2\n" }], rmdir: [empty] });
            try {
                const run = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", env: { ...process.env, PATH: `${shims}:${process.env.PATH}` } });
                assert.match(run.stdout, /^done$/m, run.stdout + run.stderr);
                assert.doesNotMatch(run.stdout, /^failed/m);
                assert.equal(readFileSync(value, "utf8"), "2\n", "the value stays with the file that persists it");
                assert.equal(readFileSync(conf, "utf8"), "x = 2\n");
            } finally {
                rmSync(shims, { recursive: true, force: true });
            }
        });

        it("a refused write rolls back a selection file to its selected word, naming the path and the reason", async function () {
            const selection = path.join(dir, "enabled");
            writeFileSync(selection, "always [madvise] never\n");
            mkdirSync(path.join(dir, "refuses"));
            const failure = await applyTransaction(local, [{ path: selection, value: "never" }, { path: path.join(dir, "refuses"), value: "1" }], {}, { describe: (p) => `prop(${path.basename(p)})` }).then(
                () => assert.fail("expected a failure"),
                (e: Error) => e,
            );
            assert.ok(failure instanceof TransactionError);
            assert.match(failure.message, /prop\(refuses\): .*Is a directory\. Everything this operation had already changed was restored/);
            assert.equal(readFileSync(selection, "utf8"), "madvise\n");
        });

        it("unsets a driver_override that read (null) on delete and on rollback, rather than naming a driver (null)", async function () {
            const override = path.join(dir, "driver_override");
            const restore = planSysfsRestore({ originals: { [override]: "(null)" }, skipped: [] }, host([[override, file("vfio-pci\n")]]), true, "root@h:22");
            assert.deepEqual(restore.writes, [{ path: override, value: "" }]);
            assert.deepEqual(planSysfsRestore({ originals: { [override]: "(null)" }, skipped: [] }, host([[override, file("(null)\n")]]), true, "root@h:22").writes, [], "unset already");
            writeFileSync(override, "(null)\n");
            await applyTransaction(local, [{ path: override, value: "vfio-pci" }, { path: path.join(dir, "refuses"), value: "1" }], {}).catch((e: Error) => e);
            assert.equal(readFileSync(override, "utf8"), "\n");
        });
        it("rolls back a file given free text (an ifalias) to its whole original, brackets and all", async function () {
            const alias = path.join(dir, "ifalias");
            writeFileSync(alias, "core (lag1)\n");
            for (const value of ["uplink [bond0]", "uplink"]) {
                await applyTransaction(local, [{ path: alias, value }, { path: path.join(dir, "refuses"), value: "1" }], {}).catch((e: Error) => e);
                assert.equal(readFileSync(alias, "utf8"), "core (lag1)\n", value);
            }
        });
    });
});

describe("TransparentHugepages and CpuWakeupLatency inputs", function () {
    it("THP takes the kernel's words only, and at least one file", function () {
        assert.equal(checkFailures(transparentHugepagesInputsSchema, { resourceName: "t", enabled: "never", defrag: "defer+madvise" }).length, 0);
        assert.deepEqual(checkFailures(transparentHugepagesInputsSchema, { resourceName: "t", enabled: "sometimes" }).map((f) => f.property), ["enabled"]);
        assert.match(checkFailures(transparentHugepagesInputsSchema, { resourceName: "t" })[0].reason, /set enabled, defrag or both/);
    });
    it('wake-up latency: microseconds or "n/a"; 0 refused because the kernel reads it as no constraint', function () {
        const failures = (latencyUs: unknown, cpus = "2-3") => checkFailures(cpuWakeupLatencyInputsSchema, { resourceName: "w", cpus, latencyUs });
        assert.deepEqual(failures(20), []);
        assert.deepEqual(failures("n/a"), []);
        assert.match(failures(0)[0].reason, /no constraint.*"n\/a"/);
        assert.match(failures(-1)[0].reason, /1 to 2147483646/);
        assert.match(failures(2147483647)[0].reason, /1 to 2147483646/);
        assert.deepEqual(failures(20, "3-0").map((f) => f.property), ["cpus"]);
        assert.deepEqual(failures(20, "0-399"), [], "400 CPUs: the largest argument ~105 KB");
        assert.deepEqual(failures(20, "0-400").map((f) => [f.property, f.reason]), [["cpus", "names more than 400 CPUs, more than one apply can pass the host: split them over several CpuWakeupLatency resources"]]);
        for (const bad of ["N/A", "10", "", true]) {
            assert.deepEqual(failures(bad).map((f) => f.reason), ['must be a whole number of microseconds from 1 to 2147483646, or "n/a"'], String(bad));
        }
    });
});
