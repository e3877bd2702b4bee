import { strict as assert } from "assert";
import type { PulumiFn } from "@pulumi/pulumi/automation";
import { CpuGovernor, HostTuning, IrqAffinity, SysctlSet, SysfsSet, WaveGate } from "../../provider";
import { collect, expectFailure } from "./support";
import { labStack } from "./engine";
import { Lab, LabHost, connectionTo, labDown, labUp, onHost, sshCommandCount, sshConnectionCount, sysctlOn } from "./lab";

/**
 * Issue 8: everything checkable at preview is checked at preview. Each input here used to pass
 * `pulumi preview` and fail (or apply) only at `up`; now `stack.preview()` fails at check, naming
 * the property (and the host, where the host is why), once. The engine stops at the first
 * resource whose check fails, so each stack declares one failing resource.
 */

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The engine's Diagnostics section: every failure once (the progress lines above repeat it). */
function diagnostics(stdout: string): string {
    const start = stdout.indexOf("\nDiagnostics:");
    assert.ok(start >= 0, `no Diagnostics section in:\n${stdout}`);
    const end = stdout.indexOf("\nResources:", start);
    return stdout.slice(start, end < 0 ? undefined : end);
}

function assertOnce(section: string, failures: RegExp[]): void {
    for (const failure of failures) {
        const found = section.match(new RegExp(failure.source, "g")) ?? [];
        assert.equal(found.length, 1, `${failure} once in:\n${section}`);
    }
}

describe("inputs refused at preview, through the real engine on a lab host", function () {
    this.timeout(10 * 60 * 1000);
    let lab: Lab;
    let h1: LabHost;
    let host: string;

    before(function () {
        lab = labUp(1);
        [h1] = lab.hosts;
        assert.equal(h1.hardware, "server");
        host = escape(`root@${h1.address}:${h1.port}`);
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
    });

    /** Previews a program that must fail; returns the engine's Diagnostics section. */
    async function refusedPreview(project: string, program: PulumiFn): Promise<string> {
        const stack = await labStack(project, program);
        const out = collect();
        const message = await expectFailure(stack.preview({ onOutput: out.onOutput }));
        assert.doesNotMatch(message + out.text(), /Unhandled exception|string exceeded max length|panic:/);
        return diagnostics(out.text());
    }

    describe("grammar: refused without any SSH command", function () {
        let commands: number;
        let connections: number;
        before(function () {
            commands = sshCommandCount(lab, h1);
            connections = sshConnectionCount(lab, h1);
        });
        after(function () {
            assert.equal(sshCommandCount(lab, h1), commands, "no SSH command ran for grammar failures");
            assert.equal(sshConnectionCount(lab, h1), connections, "no SSH connection was made for grammar failures");
        });

        it("SysctlSet: negative counts, names with shell syntax, bad port lists, an over-long persistFile", async function () {
            const before = sysctlOn(lab, h1, "net.ipv4.tcp_fin_timeout");
            const section = await refusedPreview("validation-sysctl", async () => {
                new SysctlSet("bad", {
                    connection: connectionTo(lab, h1),
                    settings: {
                        "net.ipv4.tcp_fin_timeout": -1,
                        "net.ipv4.tcp_rmem": [4096, -1, 6291456],
                        "net.ipv4.tcp_congestion_control": "cubic; touch x",
                        "net.core.default_qdisc": "$(touch x)",
                        "net.ipv4.tcp_allowed_congestion_control": "reno,cubic",
                        "net.ipv4.ip_local_reserved_ports": "9000-8000",
                    },
                    persistFile: `/etc/sysctl.d/${"a".repeat(4980)}.conf`,
                });
            });
            assertOnce(section, [
                /property settings\["net\.ipv4\.tcp_fin_timeout"\][^\n]*cannot be negative, got -1/,
                /property settings\["net\.ipv4\.tcp_rmem"\][^\n]*cannot be negative, got -1/,
                /property settings\["net\.ipv4\.tcp_congestion_control"\][^\n]*takes a congestion-control name[^\n]*got "cubic; touch x"/,
                /property settings\["net\.core\.default_qdisc"\][^\n]*takes a qdisc name[^\n]*got "\$\(touch x\)"/,
                /property settings\["net\.ipv4\.tcp_allowed_congestion_control"\][^\n]*names separated by spaces/,
                /property settings\["net\.ipv4\.ip_local_reserved_ports"\][^\n]*descending range 9000-8000/,
                /property persistFile[^\n]*is 4999 characters; a path is at most 4095 \(PATH_MAX\)/,
            ]);
            assert.equal(sysctlOn(lab, h1, "net.ipv4.tcp_fin_timeout"), before);
        });

        it("SysctlSet: a vector key with one value too many, a descending port range, and a hexadecimal number that would read back in decimal", async function () {
            const before = sysctlOn(lab, h1, "net.ipv4.tcp_rmem");
            const section = await refusedPreview("validation-sysctl-vectors", async () => {
                new SysctlSet("vectors", {
                    connection: connectionTo(lab, h1),
                    settings: { "net.ipv4.tcp_rmem": [4096, 131072, 6291456, 7], "net.ipv4.ip_local_port_range": [60000, 1024], "net.ipv4.ip_forward": "0x1" },
                });
            });
            assertOnce(section, [
                /property settings\["net\.ipv4\.tcp_rmem"\][^\n]*takes exactly 3 values, got 4/,
                /property settings\["net\.ipv4\.ip_local_port_range"\][^\n]*end is not below its start, got 60000 1024/,
                /property settings\["net\.ipv4\.ip_forward"\][^\n]*has 0x1, which the kernel reads as hexadecimal and shows as 1: write the decimal number/,
            ]);
            assert.equal(sysctlOn(lab, h1, "net.ipv4.tcp_rmem"), before);
        });

        it("SysctlSet: a 100,000-character key is refused by the constructor, naming resource and property", async function () {
            const key = `net.core.${"a".repeat(100000)}`;
            const section = await refusedPreview("validation-huge-key", async () => {
                new SysctlSet("huge", { connection: connectionTo(lab, h1), settings: { [key]: 1 } });
            });
            const refusal = /error: SysctlSet "huge": settings\["net\.core\.a{31}…"\]: the key is 100009 characters; a sysctl key is at most 255\n/;
            assert.match(section, refusal);
            // The inline automation server logs a program's RunError and also returns it as the
            // run's error, so it shows twice here; `pulumi preview` on a project shows it once.
            assert.equal(section.split("\n").filter((l) => /error:/.test(l) && !refusal.test(`${l}\n`)).length, 0, section);
        });

        it("every resource's constructor refuses oversized inputs too: a 100,000-character sysfs path", async function () {
            const path = `/sys/${"a".repeat(100000)}`;
            const section = await refusedPreview("validation-huge-sysfs", async () => {
                new SysfsSet("huge", { connection: connectionTo(lab, h1), settings: { [path]: "1" } });
            });
            assert.match(section, /error: SysfsSet "huge": settings\["\/sys\/a{35}…"\]: the name is 100005 characters; at most 8192\n/);
            // The connection's keys and plain values too, SysctlSet's included.
            const key = "k".repeat(100000);
            const inConnection = await refusedPreview("validation-huge-connection-key", async () => {
                new SysctlSet("huge-conn", { connection: { ...connectionTo(lab, h1), [key]: 1 }, settings: { "vm.swappiness": 10 } });
            });
            assert.match(inConnection, /error: SysctlSet "huge-conn": connection\["k{40}…"\]: the name is 100000 characters; at most 8192\n/);
            // The fleet's own resources too: a wave gate's health check.
            const gate = await refusedPreview("validation-huge-gate", async () => {
                new WaveGate("huge-gate", { wave: 1, hosts: [], admitted: true, healthCheck: { create: "x".repeat(100000) } });
            });
            assert.match(gate, /error: WaveGate "huge-gate": healthCheck\.create: 100000 characters; at most 8192\n/);
        });

        it("a resource name too long for the file named after it: refused on resourceName, nothing written", async function () {
            const files = () => onHost(lab, h1, ["sh", "-c", "ls -a /etc/systemd/system /etc/tmpfiles.d 2>/dev/null; true"]);
            const before = files();
            const governor = await refusedPreview("validation-long-governor-name", async () => {
                new CpuGovernor("g".repeat(250), { connection: connectionTo(lab, h1), governor: "performance" });
            });
            assertOnce(governor, [/property resourceName[^\n]*makes the file name pulumi-cpu-governor-g+… 278 characters long, above Linux's limit of 255 \(NAME_MAX\): use a shorter resource name/]);
            const sysfs = await refusedPreview("validation-long-sysfs-name", async () => {
                new SysfsSet("s".repeat(250), { connection: connectionTo(lab, h1), settings: { "/sys/kernel/mm/ksm/run": 0 } });
            });
            assertOnce(sysfs, [/property resourceName[^\n]*makes the file name 90-pulumi-sysfs-s+… 271 characters long, above Linux's limit of 255 \(NAME_MAX\)/]);
            assert.equal(files(), before, "no unit or tmpfiles.d file written");
            assert.equal(onHost(lab, h1, ["cat", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"]).trim(), "powersave");
        });

        it("IrqAffinity: a reversed range and a CPU beyond NR_CPUS", async function () {
            const section = await refusedPreview("validation-irq-cpulists", async () => {
                new IrqAffinity("irqs", { connection: connectionTo(lab, h1), interface: "eth1", cpus: "3-0", exclude: "0-99999999999", irqbalance: "leave" });
            });
            assertOnce(section, [/property cpus value \{3-0\} has a problem: "3-0" has the descending range 3-0; write 0-3/, /property exclude [^\n]*names CPU 99999999999, above 8191/]);
        });

        it("CpuGovernor: an empty element in a CPU list", async function () {
            const section = await refusedPreview("validation-governor-cpulist", async () => {
                new CpuGovernor("gov", { connection: connectionTo(lab, h1), governor: "performance", cpus: "0,,1" });
            });
            assertOnce(section, [/property cpus [^\n]*"0,,1" has an empty element/]);
        });
    });

    describe("the host's CPUs, read at check", function () {
        const cpu3 = "/sys/devices/system/cpu/cpu3/online";
        before(function () {
            onHost(lab, h1, ["sh", "-c", `echo 0 > ${cpu3}`]);
            assert.equal(onHost(lab, h1, ["cat", "/sys/devices/system/cpu/online"]).trim(), "0-2");
        });
        after(function () {
            onHost(lab, h1, ["sh", "-c", `echo 1 > ${cpu3}`]);
        });

        it("IrqAffinity: CPUs that are offline or absent, naming property and host, with nothing written", async function () {
            const affinity = onHost(lab, h1, ["cat", "/proc/irq/102/smp_affinity_list"]).trim();
            const section = await refusedPreview("validation-irq-offline", async () => {
                new IrqAffinity("offline", { connection: connectionTo(lab, h1), interface: "eth1", cpus: "3,6-7", irqbalance: "leave" });
            });
            assertOnce(section, [new RegExp(`property cpus [^\\n]*${host}: no online CPU left in cpus 3,6-7 \\(online: 0-2\\)`)]);
            assert.equal(onHost(lab, h1, ["cat", "/proc/irq/102/smp_affinity_list"]).trim(), affinity);
        });

        it("IrqAffinity: a set that exclude leaves empty", async function () {
            const section = await refusedPreview("validation-irq-emptied", async () => {
                new IrqAffinity("emptied", { connection: connectionTo(lab, h1), interface: "eth1", spread: "1-3", exclude: "1-2", irqbalance: "leave" });
            });
            assertOnce(section, [new RegExp(`property spread [^\\n]*${host}: no online CPU left in spread 1-3 after excluding 1-2 \\(online: 0-2\\)`)]);
        });

        it("CpuGovernor: offline CPUs in cpus", async function () {
            const section = await refusedPreview("validation-governor-offline", async () => {
                new CpuGovernor("offline", { connection: connectionTo(lab, h1), governor: "performance", cpus: "2-3" });
            });
            assertOnce(section, [new RegExp(`property cpus [^\\n]*${host}: CPU 3 is not online \\(online: 0-2\\)`)]);
        });

        it("CpuGovernor: governors and EPP values the CPUs lack, with nothing written", async function () {
            const section = await refusedPreview("validation-governor-lacking", async () => {
                new CpuGovernor("lacking", { connection: connectionTo(lab, h1), governor: ["ondemand", "schedutil"], energyPerformancePreference: "turbo" });
            });
            assertOnce(section, [
                new RegExp(`property governor [^\\n]*${host}: none of ondemand, schedutil is available on cpu0 \\(available: performance powersave\\)`),
                new RegExp(`property energyPerformancePreference [^\\n]*${host}: none of turbo is available on cpu0 \\(available: default performance`),
            ]);
            assert.equal(onHost(lab, h1, ["cat", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"]).trim(), "powersave");
        });

        it("HostTuning: its parts' failures, prefixed with the part", async function () {
            const section = await refusedPreview("validation-host-tuning", async () => {
                new HostTuning("h1", {
                    connection: connectionTo(lab, h1),
                    sysctls: { settings: { "net.ipv4.tcp_fin_timeout": -1 } },
                    irqs: { interface: "eth1", cpus: "3", irqbalance: "leave" },
                    governor: { governor: "ondemand" },
                });
            });
            assertOnce(section, [
                /property sysctls\.settings\["net\.ipv4\.tcp_fin_timeout"\][^\n]*cannot be negative/,
                new RegExp(`property irqs\\.cpus [^\\n]*${host}: no online CPU left in cpus 3 `),
                new RegExp(`property governor\\.governor [^\\n]*${host}: none of ondemand is available`),
            ]);
        });

        it("an unreachable host is not probed: preview passes, create/update will report", async function () {
            const unreachable = () => connectionTo(lab, h1, { port: 1, dialErrorLimit: 1, perDialTimeout: 2 });
            const stack = await labStack("validation-unreachable", async () => {
                new IrqAffinity("irqs", { connection: unreachable(), interface: "eth1", cpus: "6-7", irqbalance: "leave" });
                new CpuGovernor("gov", { connection: unreachable(), governor: "ondemand" });
            });
            const preview = await stack.preview();
            assert.equal(preview.changeSummary.create, 3, "the stack and both resources");
        });
    });

    describe("SysctlSet: the declared keys, read at check", function () {
        // net.core.somaxconnn: a typo; vm.swappiness: read-only in a lab host (/proc/sys outside net is mounted read-only).
        const settings = { "net.core.somaxconn": 5005, "net.core.somaxconnn": 5005, "vm.swappiness": 10 };

        it("onMissing: fail refuses a key the host lacks and one it will not let be written, naming the host, in the check's one read", async function () {
            const commands = sshCommandCount(lab, h1);
            const before = sysctlOn(lab, h1, "net.core.somaxconn");
            const section = await refusedPreview("validation-sysctl-unwritable", async () => {
                new SysctlSet("unwritable", { connection: connectionTo(lab, h1), settings });
            });
            assertOnce(section, [
                new RegExp(`property settings\\["net\\.core\\.somaxconnn"\\][^\\n]*${host}: net\\.core\\.somaxconnn does not exist on this host`),
                new RegExp(`property settings\\["vm\\.swappiness"\\][^\\n]*${host}: vm\\.swappiness is read-only here`),
            ]);
            assert.doesNotMatch(section, /settings\["net\.core\.somaxconn"\]/);
            assert.equal(sshCommandCount(lab, h1) - commands, 1, "one read at check");
            assert.equal(sysctlOn(lab, h1, "net.core.somaxconn"), before);
        });

        it("an IPv6 stable_secret never set (the kernel answers EIO) is refused at preview, skipped or not: there is no original to put back", async function () {
            const key = "net.ipv6.conf.eth1.stable_secret";
            assert.match(onHost(lab, h1, ["sh", "-c", "cat /proc/sys/net/ipv6/conf/eth1/stable_secret 2>&1; true"]), /Input\/output error/, "unset on a fresh lab host");
            const section = await refusedPreview("validation-sysctl-stable-secret", async () => {
                new SysctlSet("secret", { connection: connectionTo(lab, h1), settings: { [key]: "fe80::1:2:3:4" }, onMissing: "skip" });
            });
            assertOnce(section, [new RegExp(`property settings\\["net\\.ipv6\\.conf\\.eth1\\.stable_secret"\\][^\\n]*${host}: net\\.ipv6\\.conf\\.eth1\\.stable_secret is unset here \\(the kernel answers EIO`)]);
            assert.match(onHost(lab, h1, ["sh", "-c", "cat /proc/sys/net/ipv6/conf/eth1/stable_secret 2>&1; true"]), /Input\/output error/, "still unset");
        });

        it("a congestion control a network namespace may not set (not in tcp_allowed_congestion_control) is refused, naming the allowed ones", async function () {
            const allowed = sysctlOn(lab, h1, "net.ipv4.tcp_allowed_congestion_control");
            assert.doesNotMatch(allowed, /cubic/, "the lab host is a network namespace whose kernel allows only reno and the machine's default");
            const section = await refusedPreview("validation-sysctl-restricted-cc", async () => {
                new SysctlSet("cc", { connection: connectionTo(lab, h1), settings: { "net.ipv4.tcp_congestion_control": "cubic" } });
            });
            assertOnce(section, [
                new RegExp(`property settings\\["net\\.ipv4\\.tcp_congestion_control"\\][^\\n]*${host}: cubic is not in net\\.ipv4\\.tcp_allowed_congestion_control \\(${escape(allowed)}\\)`),
            ]);
            assert.equal(sysctlOn(lab, h1, "net.ipv4.tcp_congestion_control"), "reno");
            // Outside the machine's own namespace the kernel answers EPERM: the refusal is the kernel's own rule.
            assert.match(onHost(lab, h1, ["sh", "-c", "/bin/echo cubic 2>&1 >/proc/sys/net/ipv4/tcp_congestion_control; echo $?"]), /not permitted[\s\S]*1\s*$/i);
        });

        it("onMissing: skip lets the same preview pass", async function () {
            const commands = sshCommandCount(lab, h1);
            const stack = await labStack("validation-sysctl-unwritable-skip", async () => {
                new SysctlSet("unwritable", { connection: connectionTo(lab, h1), settings, onMissing: "skip" });
            });
            const preview = await stack.preview();
            assert.equal(preview.changeSummary.create, 2, "the stack and the SysctlSet");
            assert.equal(sshCommandCount(lab, h1) - commands, 1, "one read at check");
        });

        it("a key an update adds is read at check too: a typo fails the preview of the update", async function () {
            let declared: Record<string, number> = { "net.ipv4.tcp_fin_timeout": 33 };
            const stack = await labStack("validation-sysctl-added-key", async () => {
                new SysctlSet("added", { connection: connectionTo(lab, h1), settings: declared });
            });
            try {
                await stack.up();
                declared = { ...declared, "net.core.somaxconnn": 5005 };
                const out = collect();
                await expectFailure(stack.preview({ onOutput: out.onOutput }));
                assertOnce(diagnostics(out.text()), [new RegExp(`property settings\\["net\\.core\\.somaxconnn"\\][^\\n]*${host}: net\\.core\\.somaxconnn does not exist on this host`)]);
                assert.equal(sysctlOn(lab, h1, "net.ipv4.tcp_fin_timeout"), "33");
            } finally {
                await stack.destroy();
            }
        });

        it("the same for a HostTuning's sysctls part: the key an update adds is named with its part", async function () {
            let declared: Record<string, number> = { "net.ipv4.tcp_fin_timeout": 33 };
            const stack = await labStack("validation-host-tuning-added-key", async () => {
                new HostTuning("h1", { connection: connectionTo(lab, h1), sysctls: { settings: declared } });
            });
            try {
                await stack.up();
                declared = { ...declared, "net.core.somaxconnn": 5005 };
                const out = collect();
                await expectFailure(stack.preview({ onOutput: out.onOutput }));
                assertOnce(diagnostics(out.text()), [new RegExp(`property sysctls\\.settings\\["net\\.core\\.somaxconnn"\\][^\\n]*${host}: net\\.core\\.somaxconnn does not exist on this host`)]);
                assert.equal(sysctlOn(lab, h1, "net.ipv4.tcp_fin_timeout"), "33");
            } finally {
                await stack.destroy();
            }
        });
    });
});
