import { strict as assert } from "assert";
import { readFileSync } from "fs";
import type { Stack } from "@pulumi/pulumi/automation";
import { CpuWakeupLatency, SysfsSet, TransparentHugepages } from "../../provider";
import { labStack } from "./engine";
import { Lab, LabHost, connectionTo, fileOn, labDown, labUp, onHost } from "./lab";
import { assertNoChanges, collect, expectFailure } from "./support";

const THP = "/sys/kernel/mm/transparent_hugepage";
const qos = (cpu: number) => `/sys/devices/system/cpu/cpu${cpu}/power/pm_qos_resume_latency_us`;

/** The machine's own THP files: the lab emulates them per host, and these must never change. */
const machineThp = () => ["enabled", "defrag"].map((f) => readFileSync(`${THP}/${f}`, "utf8")).join("");

/** Every file, directory and symlink under /etc (type, mode, owner, content hash), as restore.test.ts takes it. */
const ETC_SCRIPT = String.raw`
find /etc -xdev \( -type f -o -type d -o -type l \) -printf '%y %m %U:%G %p -> %l\n' | sort
find /etc -xdev -type f -print0 | xargs -0 sha256sum | sort -k 2
`;

describe("SysfsSet, TransparentHugepages and CpuWakeupLatency through the real engine on lab hosts", function () {
    this.timeout(10 * 60 * 1000);
    let lab: Lab;
    let host: LabHost;
    let machineBefore: string;
    const cat = (file: string) => onHost(lab, host, ["cat", file]).trim();
    const write = (file: string, value: string) => onHost(lab, host, ["sh", "-c", 'printf "%s\\n" "$2" > "$1"', "sh", file, value]);
    const etc = () => onHost(lab, host, ["bash", "-c", ETC_SCRIPT]);
    const sysfsState = () => [`${THP}/enabled`, `${THP}/defrag`, ...[0, 1, 2, 3].map(qos)].map((f) => `${f} ${cat(f)}`);

    before(function () {
        machineBefore = machineThp();
        lab = labUp(1);
        [host] = lab.hosts;
        assert.equal(host.hardware, "server");
        // Never write THP unless it is this host's emulated copy.
        assert.match(onHost(lab, host, ["findmnt", "-no", "FSTYPE", THP]), /fuse\.plt-lab-hw/);
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
        assert.equal(machineThp(), machineBefore, "the machine's own THP settings changed");
    });

    describe("up, drift, converge, destroy", function () {
        let stack: Stack;
        let etcBefore: string;
        let sysfsBefore: string[];
        const thpFile = "/etc/tmpfiles.d/90-pulumi-thp-lowlat.conf";
        const wakeupFile = "/etc/tmpfiles.d/90-pulumi-wakeup-app-cores.conf";
        const rawFile = "/etc/tmpfiles.d/90-pulumi-sysfs-raw.conf";
        let rawName = "raw";

        before(async function () {
            etcBefore = etc();
            sysfsBefore = sysfsState();
            stack = await labStack("sysfs", async () => {
                const connection = connectionTo(lab, host);
                new TransparentHugepages("lowlat", { connection, enabled: "never", defrag: "defer+madvise" });
                new CpuWakeupLatency("app-cores", { connection, cpus: "2-3", latencyUs: "n/a" });
                new SysfsSet(rawName, { connection, settings: { [qos(1)]: 20 } }, rawName === "raw" ? {} : { aliases: [{ name: "raw" }] });
            });
        });
        after(async () => {
            await stack?.destroy().catch(() => undefined);
        });

        it("up sets THP and the wake-up latency (read on the host), persists them, and a second preview is clean", async function () {
            assert.equal(cat(`${THP}/enabled`), "[always] madvise never");
            await stack.up();
            assert.equal(cat(`${THP}/enabled`), "always madvise [never]");
            assert.equal(cat(`${THP}/defrag`), "always defer [defer+madvise] madvise never");
            assert.deepEqual([0, 1, 2, 3].map((cpu) => cat(qos(cpu))), ["0", "20", "n/a", "n/a"]);
            assert.match(fileOn(lab, host, thpFile) ?? "", /^w \/sys\/kernel\/mm\/transparent_hugepage\/enabled - - - - never$/m);
            assert.match(fileOn(lab, host, wakeupFile) ?? "", /^w \/sys\/devices\/system\/cpu\/cpu3\/power\/pm_qos_resume_latency_us - - - - n\/a$/m);
            assert.match(fileOn(lab, host, rawFile) ?? "", /cpu1\/power\/pm_qos_resume_latency_us - - - - 20$/m);
            assertNoChanges((await stack.preview()).changeSummary);
        });

        it("shows changes made behind Pulumi's back per path, and up converges", async function () {
            write(`${THP}/enabled`, "always");
            write(qos(3), "0");
            const plain = collect();
            assert.equal((await stack.preview({ onOutput: plain.onOutput })).changeSummary.update, 2);
            assert.match(plain.text(), /drift: \/sys\/kernel\/mm\/transparent_hugepage\/enabled live always, desired never/);
            assert.match(plain.text(), /drift: \/sys\/devices\/system\/cpu\/cpu3\/power\/pm_qos_resume_latency_us live 0, desired n\/a/);
            const refreshed = collect();
            await stack.preview({ refresh: true, diff: true, onOutput: refreshed.onOutput });
            assert.match(refreshed.text(), /enabled\s*:\s*"always"\s*=>\s*"never"/);
            assert.match(refreshed.text(), /cpu3\/power\/pm_qos_resume_latency_us"?\s*:\s*"n\/a"\s*=>\s*"0"/);
            assert.doesNotMatch(refreshed.text(), /cpu2\/power\/pm_qos_resume_latency_us"?\s*:\s*"n\/a"\s*=>/);
            await stack.up();
            assert.equal(cat(`${THP}/enabled`), "always madvise [never]");
            assert.equal(cat(qos(3)), "n/a");
            assertNoChanges((await stack.preview()).changeSummary);
        });

        it("renamed through aliases, a SysfsSet is the same resource on the host: no change, its file kept, and destroy still takes it away", async function () {
            rawName = "raw-renamed";
            const before = fileOn(lab, host, rawFile);
            assertNoChanges((await stack.preview()).changeSummary);
            const result = await stack.up();
            assert.deepEqual(Object.keys(result.summary.resourceChanges ?? {}), ["same"], JSON.stringify(result.summary.resourceChanges));
            // A file under the new name beside the old one would set the value at every boot after destroy.
            assert.equal(fileOn(lab, host, "/etc/tmpfiles.d/90-pulumi-sysfs-raw-renamed.conf"), null);
            assert.equal(fileOn(lab, host, rawFile), before);
            assert.equal(cat(qos(1)), "20");
            // An update for another reason keeps writing under the name its file has.
            write(qos(1), "30");
            await stack.up({ refresh: true });
            assert.equal(cat(qos(1)), "20");
            assert.equal(fileOn(lab, host, "/etc/tmpfiles.d/90-pulumi-sysfs-raw-renamed.conf"), null);
            assert.equal(fileOn(lab, host, rawFile), before);
        });

        it("destroy puts every value back and leaves /etc byte for byte as it was", async function () {
            await stack.destroy();
            assert.deepEqual(sysfsState(), sysfsBefore);
            assert.equal(etc(), etcBefore);
            assert.equal(fileOn(lab, host, thpFile), null);
        });
    });

    it("a debugfs selection file (sched/preempt, its mode in parentheses) is set, clean after, rolled back with a refused write, and put back on destroy", async function () {
        const preempt = "/sys/kernel/debug/sched/preempt";
        assert.equal(cat(preempt), "none (voluntary) full lazy");
        const refused = await labStack("sysfs-preempt-refused", async () => {
            // Written after preempt (paths in order), and refused: EINVAL above 2.
            new SysfsSet("preempt-refused", { connection: connectionTo(lab, host), settings: { [preempt]: "full", "/sys/kernel/debug/sched/tunable_scaling": 3 } });
        });
        assert.match(await expectFailure(refused.up()), /Everything this operation had already changed was restored/);
        assert.equal(cat(preempt), "none (voluntary) full lazy");
        const stack = await labStack("sysfs-preempt", async () => {
            new SysfsSet("preempt", { connection: connectionTo(lab, host), settings: { [preempt]: "full" }, persist: false });
        });
        await stack.up();
        assert.equal(cat(preempt), "none voluntary (full) lazy");
        assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
        await stack.destroy();
        assert.equal(cat(preempt), "none (voluntary) full lazy");
    });

    it("an ifalias is free text, read whole whatever its value: no drift after up, and destroy and a rollback put the whole original back", async function () {
        const alias = "/sys/class/net/eth1/ifalias";
        write(alias, "core (lag1)");
        const refused = await labStack("sysfs-alias-refused", async () => {
            new SysfsSet("alias-refused", { connection: connectionTo(lab, host), settings: { [alias]: "uplink", "/sys/kernel/debug/sched/tunable_scaling": 3 }, persist: false });
        });
        assert.match(await expectFailure(refused.up()), /tunable_scaling/, "an ifalias takes any one word: not refused as one (lag1) does not offer");
        assert.equal(cat(alias), "core (lag1)", "the rollback wrote the whole original, not lag1");
        let value = "uplink";
        const stack = await labStack("sysfs-alias", async () => {
            new SysfsSet("alias", { connection: connectionTo(lab, host), settings: { [alias]: value }, persist: false });
        });
        try {
            await stack.up();
            assert.equal(cat(alias), "uplink");
            value = "uplink [bond0]";
            await stack.up();
            assert.equal(cat(alias), "uplink [bond0]");
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            await stack.destroy();
            assert.equal(cat(alias), "core (lag1)");
        } finally {
            await stack.destroy().catch(() => undefined);
            onHost(lab, host, ["sh", "-c", 'printf "\\n" > "$1"', "sh", alias]);
        }
    });

    it("a path skipped while absent shows as drift once the host has it; declared again by its real path, a file keeps its original", async function () {
        const link = "/sys/class/net/eth1/gro_flush_timeout";
        const real = onHost(lab, host, ["readlink", "-f", link]).trim();
        const plugged = "/sys/class/net/pltx0/gro_flush_timeout";
        const original = cat(link);
        assert.notEqual(original, "20000");
        let eth1Path = link;
        const stack = await labStack("sysfs-appearing", async () => {
            new SysfsSet("appearing", { connection: connectionTo(lab, host), settings: { [eth1Path]: 20000, [plugged]: 30000 }, onMissing: "skip" });
        });
        try {
            await stack.up();
            assert.equal(cat(link), "20000");
            assertNoChanges((await stack.preview()).changeSummary);
            onHost(lab, host, ["ip", "link", "add", "pltx0", "type", "veth", "peer", "name", "pltx1"]);
            const pluggedOriginal = cat(plugged);
            const drift = collect();
            assert.equal((await stack.preview({ onOutput: drift.onOutput })).changeSummary.update, 1);
            assert.match(drift.text(), /pltx0\/gro_flush_timeout skipped when applied, now on the host: not yet set/);
            await stack.up();
            assert.equal(cat(plugged), "30000");
            assertNoChanges((await stack.preview()).changeSummary);

            eth1Path = real;
            await stack.up();
            assert.equal(cat(link), "20000", "not put back as a path dropped from the set");
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            await stack.destroy();
            assert.deepEqual([cat(link), cat(plugged)], [original, pluggedOriginal], "each file's own original, not the resource's value");
        } finally {
            await stack.destroy().catch(() => undefined);
            onHost(lab, host, ["sh", "-c", "ip link del pltx0 2>/dev/null || true"]);
        }
    });

    describe("refused before anything is written", function () {
        let etcBefore: string;
        let sysfsBefore: string[];
        beforeEach(function () {
            etcBefore = etc();
            sysfsBefore = sysfsState();
        });
        afterEach(function () {
            assert.deepEqual(sysfsState(), sysfsBefore, "a value changed");
            assert.equal(etc(), etcBefore, "/etc changed");
        });

        it("a file that acts rather than holds a value (eth1's uevent) fails in preview, at up too, naming the property and the host", async function () {
            const uevent = "/sys/class/net/eth1/uevent";
            const stack = await labStack("sysfs-action", async () => {
                new SysfsSet("action", { connection: connectionTo(lab, host), settings: { [uevent]: "add" } });
            });
            const refused = new RegExp(`property settings\\["${uevent.replace(/\//g, "\\/")}"\\] value \\{.*\\} has a problem: root@${host.address.replace(/\./g, "\\.")}:22: ${uevent} sends the device's uevent again`);
            assert.match(await expectFailure(stack.preview()), refused);
            assert.match(await expectFailure(stack.up()), /sends the device's uevent again/);
        });

        it("a word a selection file does not offer fails in preview, naming the property, the host and the choices", async function () {
            const stack = await labStack("sysfs-bad-word", async () => {
                new SysfsSet("bad", { connection: connectionTo(lab, host), settings: { [`${THP}/enabled`]: "sometimes" } });
            });
            const message = await expectFailure(stack.preview());
            assert.match(message, /settings\["\/sys\/kernel\/mm\/transparent_hugepage\/enabled"\]/);
            assert.match(message, new RegExp(`root@${host.address.replace(/\./g, "\\.")}:22: "sometimes" is not offered by .* \\(it offers always, madvise, never\\)`));
            assert.match(await expectFailure(stack.up()), /is not offered/);
            // The listing pasted: free text to any other file, never a value here; nothing is written, no ledger left.
            const before = onHost(lab, host, ["sh", "-c", `cat ${THP}/enabled; ls /var/lib/pulumi-linux-tuning/sysfs 2>/dev/null; true`]);
            const pasted = await labStack("sysfs-pasted", async () => {
                new SysfsSet("pasted", { connection: connectionTo(lab, host), settings: { [`${THP}/enabled`]: "[never]" } });
            });
            assert.match(await expectFailure(pasted.preview()), /"\[never\]" is words of the listing .* shows, not a value: write one word it offers \(always, madvise, never\), without brackets/);
            assert.match(await expectFailure(pasted.up()), /is words of the listing/);
            assert.equal(onHost(lab, host, ["sh", "-c", `cat ${THP}/enabled; ls /var/lib/pulumi-linux-tuning/sysfs 2>/dev/null; true`]), before);
        });

        it("one file declared by its class path and its real path fails in preview, naming both", async function () {
            const link = "/sys/class/net/eth1/gro_flush_timeout";
            const real = onHost(lab, host, ["readlink", "-f", link]).trim();
            assert.notEqual(real, link, "a symlinked spelling");
            const stack = await labStack("sysfs-twice", async () => {
                new SysfsSet("twice", { connection: connectionTo(lab, host), settings: { [link]: 20000, [real]: 0 } });
            });
            const message = await expectFailure(stack.preview());
            assert.match(message, new RegExp(`${real.replace(/[.]/g, "\\.")} is the same file as ${link} \\(.*\\): declare it once`));
            assert.match(await expectFailure(stack.up()), /declare it once/);
        });

        it("a symbolic link where the tmpfiles.d file goes (a /dev/null mask) fails in preview and apply on persist, and stays as it was", async function () {
            const file = "/etc/tmpfiles.d/90-pulumi-thp-masked.conf";
            onHost(lab, host, ["ln", "-s", "/dev/null", file]);
            try {
                const stack = await labStack("sysfs-masked", async () => {
                    new TransparentHugepages("masked", { connection: connectionTo(lab, host), enabled: "never" });
                });
                const expected = /persist.*root@[\d.]+:\d+: \/etc\/tmpfiles\.d\/90-pulumi-thp-masked\.conf is a symbolic link \(to \/dev\/null\), not a file this resource may write/;
                assert.match(await expectFailure(stack.preview()), expected);
                assert.match(await expectFailure(stack.up()), /90-pulumi-thp-masked\.conf is a symbolic link/);
                assert.equal(onHost(lab, host, ["readlink", file]).trim(), "/dev/null", "the mask untouched");
            } finally {
                onHost(lab, host, ["rm", "-f", file]);
            }
        });

        it("a path on another filesystem mounted under /sys (cgroup, efivars) fails in preview, naming the property, the host and the filesystem", async function () {
            const procs = "/sys/fs/cgroup/cgroup.procs";
            const stack = await labStack("sysfs-cgroup", async () => {
                new SysfsSet("cg", { connection: connectionTo(lab, host), settings: { [procs]: 1, "/sys/firmware/efi/efivars/x": "1" } });
            });
            const message = await expectFailure(stack.preview());
            assert.match(message, new RegExp(`settings\\["/sys/fs/cgroup/cgroup\\.procs"\\] value .* has a problem: root@${host.address.replace(/\./g, "\\.")}:22: /sys/fs/cgroup/cgroup\\.procs is on cgroup \\(mounted at /sys/fs/cgroup\\), not sysfs`));
            assert.match(message, /settings\["\/sys\/firmware\/efi\/efivars\/x"\] value .* is on efivarfs/);
            assert.match(await expectFailure(stack.up()), /is on cgroup/, "and at up, were the preview skipped");
        });

        it("TransparentHugepages refuses a word the kernel does not take, naming the property", async function () {
            const stack = await labStack("sysfs-bad-thp", async () => {
                new TransparentHugepages("bad", { connection: connectionTo(lab, host), enabled: "sometimes" as never });
            });
            assert.match(await expectFailure(stack.preview()), /property enabled value \{sometimes\} has a problem: .*"always"\|"madvise"\|"never"/);
        });

        it("an offline CPU fails in preview naming cpus and the host", async function () {
            write("/sys/devices/system/cpu/cpu3/online", "0");
            try {
                const stack = await labStack("sysfs-offline", async () => {
                    new CpuWakeupLatency("off", { connection: connectionTo(lab, host), cpus: "2-3", latencyUs: 10 });
                });
                const message = await expectFailure(stack.preview());
                assert.match(message, new RegExp(`property cpus value \\{2-3\\} has a problem: root@${host.address.replace(/\./g, "\\.")}:22: CPU 3 is not online \\(online: 0-2\\)`));
            } finally {
                write("/sys/devices/system/cpu/cpu3/online", "1");
            }
        });

        it("a delete while a path cannot be read (its CPU's cpufreq policy offline: EBUSY) fails and keeps the original, put back once it reads again", async function () {
            const maxFreq = "/sys/devices/system/cpu/cpu3/cpufreq/scaling_max_freq";
            const original = cat(maxFreq);
            const stack = await labStack("sysfs-unreadable-delete", async () => {
                new SysfsSet("cap", { connection: connectionTo(lab, host), settings: { [maxFreq]: 2000000 }, persist: false });
            });
            try {
                await stack.up();
                assert.equal(cat(maxFreq), "2000000");
                write("/sys/devices/system/cpu/cpu3/online", "0");
                assert.match(onHost(lab, host, ["sh", "-c", 'cat "$1" 2>&1 || true', "sh", maxFreq]), /Device or resource busy/);
                const message = await expectFailure(stack.destroy());
                assert.match(message, new RegExp(`cannot put back the original of ${maxFreq} \\(.*Device or resource busy\\): it cannot be read now\\. Nothing was changed, and the host-side ledger keeps the originals`));
                assert.match(onHost(lab, host, ["sh", "-c", "cat /var/lib/pulumi-linux-tuning/sysfs/*.ledger"]), new RegExp(maxFreq), "the ledger still holds it");
            } finally {
                write("/sys/devices/system/cpu/cpu3/online", "1");
            }
            await stack.destroy();
            assert.equal(cat(maxFreq), original);
            assert.equal(onHost(lab, host, ["sh", "-c", "ls /var/lib/pulumi-linux-tuning/sysfs 2>/dev/null | wc -l"]).trim(), "0");
        });

        it("more CPUs than one apply can pass the host fail in preview, asking to split them", async function () {
            const stack = await labStack("sysfs-many-cpus", async () => {
                new CpuWakeupLatency("many", { connection: connectionTo(lab, host), cpus: "0-511", latencyUs: 10 });
            });
            assert.match(await expectFailure(stack.preview()), /property cpus value \{0-511\} has a problem: names more than 400 CPUs, .*split them over several CpuWakeupLatency resources/);
        });

        it("CPUs the host does not have fail in preview once, on cpus: not again as one missing pm_qos file per CPU under latencyUs", async function () {
            const stack = await labStack("sysfs-absent-cpus", async () => {
                new CpuWakeupLatency("absent", { connection: connectionTo(lab, host), cpus: "0-63", latencyUs: 10 });
            });
            const out = collect();
            await expectFailure(stack.preview({ onOutput: out.onOutput }));
            const diagnostics = out.text().slice(out.text().indexOf("Diagnostics:"));
            const errors = diagnostics.split("\n").filter((l) => /error:/.test(l));
            assert.equal(errors.length, 1, diagnostics);
            assert.match(errors[0], new RegExp(`property cpus value \\{0-63\\} has a problem: root@${host.address.replace(/\./g, "\\.")}:22: CPU 4-63 are not online \\(online: 0-3\\)`));
        });

        it("a THP file a TransparentHugepages owns is refused to a SysfsSet at preview, naming the owner: in another stack (its ledger) and in the same program, even under the same name", async function () {
            const thp = await labStack("sysfs-owner-thp", async () => {
                new TransparentHugepages("owner", { connection: connectionTo(lab, host), defrag: "never" });
            });
            const raw = await labStack("sysfs-owner-raw", async () => {
                new SysfsSet("second", { connection: connectionTo(lab, host), settings: { [`${THP}/defrag`]: "always" } });
            });
            const both = await labStack("sysfs-owner-both", async () => {
                new TransparentHugepages("first", { connection: connectionTo(lab, host), enabled: "never" });
                new SysfsSet("second", { connection: connectionTo(lab, host), settings: { [`${THP}/enabled`]: "madvise" } });
            });
            try {
                await thp.up();
                const tuned = sysfsState();
                const out = collect();
                const message = (await expectFailure(raw.preview({ onOutput: out.onOutput }))) + out.text();
                assert.match(message, /property settings value .* has a problem: root@[0-9.]+:22: \/sys\/kernel\/mm\/transparent_hugepage\/defrag is managed by sysfs-owner-thp\/lab\/owner \(its ledger on the host\)/);
                assert.deepEqual(sysfsState(), tuned, "the refused stack changed nothing");
            } finally {
                await thp.destroy();
            }
            assert.match(await expectFailure(both.preview()), /transparent_hugepage\/enabled is managed by sysfs-owner-both\/lab\/(first \(TransparentHugepages\)|second \(SysfsSet\)) in this program/);
            const sameName = await labStack("sysfs-owner-same-name", async () => {
                new TransparentHugepages("same", { connection: connectionTo(lab, host), enabled: "never" });
                new SysfsSet("same", { connection: connectionTo(lab, host), settings: { [`${THP}/enabled`]: "madvise" } });
            });
            assert.match(await expectFailure(sameName.preview()), /transparent_hugepage\/enabled is managed by sysfs-owner-same-name\/lab\/same \((TransparentHugepages|SysfsSet)\) in this program/, "one name, two kinds");
        });

        it("a value the kernel refuses at apply rolls back what was written, naming the path and the kernel's reason", async function () {
            const stack = await labStack("sysfs-refused", async () => {
                // S32_MAX is the kernel's own "no constraint" marker: EINVAL when written.
                new SysfsSet("refused", { connection: connectionTo(lab, host), settings: { [`${THP}/enabled`]: "never", [qos(1)]: 2147483647 } });
            });
            const message = await expectFailure(stack.up());
            assert.match(message, /settings\["\/sys\/devices\/system\/cpu\/cpu1\/power\/pm_qos_resume_latency_us"\]: .*Invalid argument/);
            assert.match(message, /Everything this operation had already changed was restored/);
        });
    });
});
