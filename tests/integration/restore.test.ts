import { strict as assert } from "assert";
import type { PulumiFn } from "@pulumi/pulumi/automation";
import { HighConnectionRateProfile, HighThroughputProfile, LowLatencyProfile, SipRouterProfile } from "../../components";
import { CpuGovernor, IrqAffinity, NicRingConfig, SysctlSet } from "../../provider";
import { labStack } from "./engine";
import { Lab, LabHost, connectionTo, fileOn, labDown, labUp, onHost, startIrqbalance } from "./lab";
import { collect, expectFailure } from "./support";

/**
 * Everything the resources can touch on a host, one line per item: every file, directory and
 * symlink under /etc (type, mode, owner, and content hash or link target — so a directory left
 * behind or a file with one byte changed shows), the NIC's rings, channels and coalescing, the
 * affinity of eth1's queue IRQs, each CPU's governor, EPP and wake-up latency, THP, eth1's offloads,
 * queue length and RPS/RFS/XPS, irqbalance's command line, and the per-namespace sysctls.
 */
const STATE_SCRIPT = String.raw`
find /etc -xdev \( -type f -o -type d -o -type l \) -printf 'etc %y %m %U:%G %p -> %l\n' | sort
find /etc -xdev -type f -print0 | xargs -0 sha256sum | sort -k 2 | sed 's/^/etc sha256 /'
for opt in -g -l -c; do ethtool "$opt" eth1 2>&1 | sed "s/^/ethtool $opt: /"; done
for i in $(ls /sys/class/net/eth1/device/msi_irqs); do printf 'irq %s %s\n' "$i" "$(cat /proc/irq/$i/smp_affinity_list)"; done
for c in /sys/devices/system/cpu/cpu[0-9]*/cpufreq; do
  for f in scaling_governor energy_performance_preference; do [ -e "$c/$f" ] && printf '%s/%s %s\n' "$c" "$f" "$(cat "$c/$f")"; done
done
for f in enabled defrag; do printf 'thp %s %s\n' "$f" "$(cat /sys/kernel/mm/transparent_hugepage/$f)"; done
for c in /sys/devices/system/cpu/cpu[0-9]*/power/pm_qos_resume_latency_us; do printf '%s %s\n' "$c" "$(cat "$c")"; done
printf 'eth1 tx_queue_len %s\n' "$(cat /sys/class/net/eth1/tx_queue_len)"
ethtool -k eth1 | sed 's/^/ethtool -k: /'
for q in /sys/class/net/eth1/queues/*/rps_cpus /sys/class/net/eth1/queues/*/rps_flow_cnt /sys/class/net/eth1/queues/*/xps_cpus; do [ -r "$q" ] && printf '%s %s\n' "$q" "$(cat "$q" 2>&1)"; done
p=$(pidof irqbalance | cut -d' ' -f1); if [ -n "$p" ]; then printf 'irqbalance %s\n' "$(tr '\0' ' ' < "/proc/$p/cmdline")"; else echo 'irqbalance not running'; fi
sysctl -a -r '^net\.(core|ipv4\.(tcp|udp|ip_local))' 2>/dev/null | sed 's/^/sysctl /'
`;

function hostState(lab: Lab, host: LabHost): string[] {
    return onHost(lab, host, ["bash", "-c", STATE_SCRIPT]).split("\n").filter(Boolean);
}

/** Equal states, or a failure listing exactly which lines differ. */
function assertSameState(before: string[], after: string[], what: string): void {
    const was = new Set(before);
    const now = new Set(after);
    const gone = before.filter((l) => !now.has(l)).map((l) => `- ${l}`);
    const added = after.filter((l) => !was.has(l)).map((l) => `+ ${l}`);
    assert.ok(gone.length + added.length === 0, `${what}: the host differs after destroy:\n${[...gone, ...added].join("\n")}`);
}

describe("destroy gives the host back byte for byte (/etc, NIC, IRQs, CPUs)", function () {
    this.timeout(10 * 60 * 1000);
    let lab: Lab;
    let host: LabHost;

    before(function () {
        lab = labUp(1);
        [host] = lab.hosts;
        assert.equal(host.hardware, "server");
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
    });

    async function upAndDestroy(name: string, program: PulumiFn, whileApplied: (applied: string[], before: string[]) => void): Promise<void> {
        const before = hostState(lab, host);
        const stack = await labStack(`restore-${name.replace(/[^A-Za-z0-9_.-]/g, "-")}`, program);
        let applied: string[];
        try {
            await stack.up();
            applied = hostState(lab, host);
        } finally {
            // Also after a failed up: what it left would be refused to the next test as another owner's.
            await stack.destroy();
        }
        assertSameState(before, hostState(lab, host), name);
        whileApplied(applied, before);
    }

    const changed = (applied: string[], before: string[]) => assert.notDeepEqual(applied, before, "up changed the host");

    it("SysctlSet", async function () {
        await upAndDestroy("sysctl", async () => {
            new SysctlSet("s", { connection: connectionTo(lab, host), settings: { "net.core.somaxconn": 8192, "net.ipv4.tcp_fin_timeout": 17 } });
        }, changed);
    });

    /** Queue IRQs placed as irqbalance or an admin would: a driver's ring change resets them to 0-3. */
    const placeIrqs = () => onHost(lab, host, ["sh", "-c", "echo 1 > /proc/irq/102/smp_affinity_list; echo 2 > /proc/irq/103/smp_affinity_list; echo 3 > /proc/irq/104/smp_affinity_list; echo 1-2 > /proc/irq/105/smp_affinity_list"]);

    it("NicRingConfig (udev rule in a /etc/udev/rules.d it creates; queue IRQs keep their affinity)", async function () {
        placeIrqs();
        await upAndDestroy("nic", async () => {
            new NicRingConfig("rings", { connection: connectionTo(lab, host), interface: "eth1", rings: { rx: "max", tx: 1024 }, coalesce: { adaptiveRx: false, rxUsecs: 0 } });
        }, (state) => {
            assert.ok(state.some((l) => l.endsWith(" /etc/udev/rules.d/90-pulumi-nic-rings.rules -> ")), "the rule is written");
            assert.ok(state.includes("irq 102 1") && state.includes("irq 105 1-2"), "the ring change did not lose the IRQs' affinity");
        });
    });

    it("CpuGovernor", async function () {
        await upAndDestroy("governor", async () => {
            new CpuGovernor("gov", { connection: connectionTo(lab, host), governor: ["performance"], energyPerformancePreference: "performance" });
        }, (state) => assert.ok(state.includes("/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor performance")));
    });

    it("a failed up leaves /etc as it was: a CpuGovernor whose boot link's directory is read-only takes its unit file back", async function () {
        const wants = "/etc/systemd/system/multi-user.target.wants";
        onHost(lab, host, ["sh", "-c", 'mkdir -p "$1" && mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"', "sh", wants]);
        try {
            const before = hostState(lab, host);
            const stack = await labStack("restore-failed-files", async () => {
                new CpuGovernor("gov", { connection: connectionTo(lab, host), governor: ["performance"], energyPerformancePreference: "performance" });
            });
            const message = await expectFailure(stack.up());
            assert.match(message, /multi-user\.target\.wants\/pulumi-cpu-governor-gov\.service: .*Read-only file system.*Everything this operation had already changed was restored/);
            assertSameState(before, hostState(lab, host), "a failed up");
            assert.equal(onHost(lab, host, ["sh", "-c", "find /var/lib/pulumi-linux-tuning 2>/dev/null || true"]).trim(), "", "no ledger");
            await stack.destroy();
        } finally {
            onHost(lab, host, ["umount", wants]);
        }
    });

    it("IrqAffinity banning its IRQs in a running irqbalance", async function () {
        // A long interval: the daemon runs (and is banned, stopped, restarted) without rebalancing
        // IRQs on its own during the test, so every change seen is ours.
        startIrqbalance(lab, host, ["--interval=3600"]);
        await upAndDestroy("irq-ban", async () => {
            new IrqAffinity("irqs", { connection: connectionTo(lab, host), interface: "eth1", spread: "0-3", exclude: "0", irqbalance: "ban" });
        }, (state) => assert.ok(state.some((l) => /^irqbalance .*--banirq=102/.test(l)), "irqbalance runs with the bans"));
    });

    it("IrqAffinity stopping irqbalance", async function () {
        // Running, as the test before leaves it, or started here when this test runs alone.
        if (!onHost(lab, host, ["sh", "-c", "pidof -x irqbalance || true"]).trim()) {
            startIrqbalance(lab, host, ["--interval=3600"]);
        }
        await upAndDestroy("irq-stop", async () => {
            new IrqAffinity("irqs", { connection: connectionTo(lab, host), interface: "eth1", cpus: "2-3", irqbalance: "stop" });
        }, (state, before) => {
            assert.ok(before.some((l) => l.startsWith("irqbalance ")), "irqbalance ran before");
            assert.ok(state.includes("irqbalance not running"));
        });
    });

    it("IrqAffinity: irqbalance's file edited since keeps the edit; only our bans go, with a warning", async function () {
        const file = "/etc/default/irqbalance";
        const original = fileOn(lab, host, file);
        const stack = await labStack("restore-irq-edited", async () => {
            new IrqAffinity("irqs", { connection: connectionTo(lab, host), interface: "eth1", cpus: "1", irqbalance: "ban" });
        });
        await stack.up();
        onHost(lab, host, ["sh", "-c", 'printf "# an admin was here\\n" >> "$1"', "sh", file]);
        const out = collect();
        await stack.destroy({ onOutput: out.onOutput });
        assert.equal(fileOn(lab, host, file), `${original ?? ""}# an admin was here\n`);
        assert.match(out.text(), /\/etc\/default\/irqbalance was edited since this resource wrote it; took out only its --banirq flags and the IRQBALANCE_ARGS line it had added, and kept the rest/);
        onHost(lab, host, ["sh", "-c", 'printf "%s" "$2" > "$1"', "sh", file, original ?? ""]);
    });

    it("IrqAffinity: an edit to irqbalance's file that an update then writes over (a ban put back) survives the delete", async function () {
        const file = "/etc/default/irqbalance";
        const original = fileOn(lab, host, file);
        let cpus = "1";
        const stack = await labStack("restore-irq-edited-updated", async () => {
            new IrqAffinity("irqs", { connection: connectionTo(lab, host), interface: "eth1", cpus, irqbalance: "ban" });
        });
        try {
            await stack.up();
            const banned = fileOn(lab, host, file) ?? "";
            const ban = /--banirq=\d+/.exec(banned)![0];
            // An admin adds a line and, by mistake, takes one of our bans out; the next up (new CPUs) bans it again.
            const editedByAdmin = `${banned.replace(` ${ban}`, "").replace(`${ban} `, "")}# an admin was here\n`;
            onHost(lab, host, ["sh", "-c", 'printf "%s" "$2" > "$1"', "sh", file, editedByAdmin]);
            assert.ok(!(fileOn(lab, host, file) ?? "").includes(ban));
            cpus = "2";
            const out = collect();
            await stack.up({ onOutput: out.onOutput });
            assert.ok((fileOn(lab, host, file) ?? "").includes(ban), "banned again");
            assert.match(out.text(), /\/etc\/default\/irqbalance was edited since this resource wrote it; the edits stay/);
            await stack.destroy();
            assert.equal(fileOn(lab, host, file), `${original ?? ""}# an admin was here\n`);
        } finally {
            await stack.destroy().catch(() => undefined);
            onHost(lab, host, ["sh", "-c", 'printf "%s" "$2" > "$1"', "sh", file, original ?? ""]);
        }
    });

    it("originals that are not UTF-8 (a Latin-1 irqbalance file, an earlier udev rule of stray bytes) come back byte for byte", async function () {
        const irqbalanceFile = "/etc/default/irqbalance";
        const ruleFile = "/etc/udev/rules.d/90-pulumi-nic-rings.rules";
        const saved = onHost(lab, host, ["sh", "-c", 'if [ -f "$1" ]; then base64 -w0 < "$1"; else printf -; fi', "sh", irqbalanceFile]);
        const hadUdev = onHost(lab, host, ["sh", "-c", "[ -d /etc/udev ] && echo yes || echo no"]).trim() === "yes";
        // \351 is é in Latin-1; \377\376\200 is no UTF-8 at all; the rule has no final newline.
        onHost(lab, host, ["sh", "-c", 'printf "# r\\351glage caf\\351\\n" >> "$1" && mkdir -p "${2%/*}" && printf "# an earlier rule \\377\\376\\200 kept by the admin" > "$2"', "sh", irqbalanceFile, ruleFile]);
        const hashes = () => onHost(lab, host, ["sha256sum", irqbalanceFile, ruleFile]);
        const original = hashes();
        try {
            await upAndDestroy("non-utf8", async () => {
                // The ring change reallocates the NIC's IRQs: the affinity follows it (`nic`), as documented.
                const nic = new NicRingConfig("rings", { connection: connectionTo(lab, host), interface: "eth1", rings: { tx: 1024 } });
                new IrqAffinity("irqs", { connection: connectionTo(lab, host), nic, cpus: "1", irqbalance: "ban" });
            }, (applied, before) => {
                const hashOf = (state: string[], file: string) => state.find((l) => l.startsWith("etc sha256 ") && l.endsWith(` ${file}`));
                assert.notEqual(hashOf(applied, irqbalanceFile), hashOf(before, irqbalanceFile), "up banned the IRQs in the irqbalance file");
                assert.notEqual(hashOf(applied, ruleFile), hashOf(before, ruleFile), "up wrote its own rule");
            });
            assert.equal(hashes(), original, "sha256 of both files, read on the host");
        } finally {
            const restoreFile = 'if [ "$2" = - ]; then rm -f "$1"; else printf "%s" "$2" | base64 -d > "$1"; fi; rm -f "$3"';
            onHost(lab, host, ["sh", "-c", `${restoreFile}${hadUdev ? "" : "; rmdir /etc/udev/rules.d /etc/udev"}`, "sh", irqbalanceFile, saved, ruleFile]);
        }
    });

    const profiles: [string, (lab: Lab, host: LabHost) => void][] = [
        ["LowLatencyProfile", (lab, host) => new LowLatencyProfile("p", { connection: connectionTo(lab, host), interface: "eth1", applicationCpus: "3", evidence: false })],
        ["HighThroughputProfile", (lab, host) => new HighThroughputProfile("p", { connection: connectionTo(lab, host), interface: "eth1", linkGbps: 10, rttMs: 20, evidence: false })],
        ["SipRouterProfile", (lab, host) => new SipRouterProfile("p", { connection: connectionTo(lab, host), interface: "eth1", memoryGiB: 8, evidence: false })],
        ["SipRouterProfile with RPS/RFS and a long queue", (lab, host) => new SipRouterProfile("p", { connection: connectionTo(lab, host), interface: "eth1", memoryGiB: 8, linkGbps: 10, rxQueues: 1, cpus: 4, evidence: false })],
        ["HighConnectionRateProfile", (lab, host) => new HighConnectionRateProfile("p", { connection: connectionTo(lab, host), interface: "eth1", connectionsPerSecond: 100000, acceptStallMs: 200, evidence: false })],
    ];
    for (const [name, make] of profiles) {
        it(name, async function () {
            placeIrqs();
            await upAndDestroy(name, async () => {
                make(lab, host);
            }, changed);
        });
    }
});
