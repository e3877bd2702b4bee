import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import type { Stack } from "@pulumi/pulumi/automation";
import { HostTuning, KernelModule, SysctlSet, SysfsSet } from "../../provider";
import { labStack } from "./engine";
import { Lab, LabHost, connectionTo, fileOn, labDown, labUp, onHost, onHostMeanwhile, sysctlOn } from "./lab";
import { assertNoChanges, collect, expectFailure } from "./support";

/** What the host's kernel has loaded, as its own /sys/module says (initstate: a loaded loadable module). */
const loadedOn = (lab: Lab, host: LabHost): string[] =>
    onHost(lab, host, ["sh", "-c", 'for f in /sys/module/*/initstate; do [ -f "$f" ] && basename "${f%/initstate}"; done; true'])
        .split("\n")
        .filter(Boolean)
        .sort();

/** The emulation's own record, read from the controller: independent of anything the product reads. */
const emulatedLoaded = (lab: Lab, host: LabHost): string[] =>
    Object.keys(JSON.parse(readFileSync(path.join(lab.dir, "hosts", host.name, "hw", "modules.json"), "utf8")).loaded).sort();

/** Type, mode and SHA-256 of everything under the directories a KernelModule writes in. */
const moduleDirsOn = (lab: Lab, host: LabHost) =>
    onHost(lab, host, ["sh", "-c", 'for d in /etc/modules-load.d /etc/modprobe.d; do [ -e "$d" ] || echo "$d absent"; done; find /etc/modules-load.d /etc/modprobe.d -printf "%y %m %p %l\\n" 2>/dev/null | sort; find /etc/modules-load.d /etc/modprobe.d -type f -exec sha256sum {} + 2>/dev/null | sort; true']);

describe("KernelModule through the real engine on lab hosts (emulated modprobe)", function () {
    this.timeout(10 * 60 * 1000);
    let lab: Lab;
    let server: LabHost;
    let vm: LabHost;

    before(function () {
        lab = labUp(2);
        [server, vm] = lab.hosts;
        // The second host's kernel is built without tcp_bbr: the "module unavailable" case.
        execFileSync("/usr/bin/python3", ["-I", path.join(lab.dir, "hw.py"), "kernel-without", path.join(lab.dir, "hosts", vm.name), "tcp_bbr"]);
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
    });

    describe("loading, drift and an unload of only what it loaded", function () {
        let stack: Stack;
        let etcBefore: string;
        const loadFile = "/etc/modules-load.d/pulumi-mods.conf";
        const optionsFile = "/etc/modprobe.d/pulumi-mods.conf";

        before(async function () {
            stack = await labStack("kernel-module", async () => {
                const km = new KernelModule("mods", {
                    connection: connectionTo(lab, server),
                    // 0x3: the kernel reads back 3, which is no change.
                    modules: ["inet-diag", { name: "dummy", parameters: { numdummies: "0x3" } }, "tcp_bbr", "nf_conntrack"],
                });
                return { skipped: km.skipped, loadedByUs: km.loadedByUs };
            });
        });
        after(async () => {
            await stack?.destroy().catch(() => undefined);
        });

        it("loads what is not loaded, with its parameters, persists it, and a second preview is clean", async function () {
            onHost(lab, server, ["modprobe", "tcp_bbr"]); // loaded before Pulumi: never to be unloaded by it
            etcBefore = moduleDirsOn(lab, server);
            assert.deepEqual(loadedOn(lab, server), ["tcp_bbr"]);
            const result = await stack.up();
            assert.deepEqual(loadedOn(lab, server), ["dummy", "inet_diag", "tcp_bbr"]);
            assert.deepEqual(emulatedLoaded(lab, server), ["dummy", "inet_diag", "tcp_bbr"]);
            assert.equal(onHost(lab, server, ["cat", "/sys/module/dummy/parameters/numdummies"]).trim(), "3");
            assert.deepEqual(result.outputs.skipped.value, ["tcp_bbr", "nf_conntrack"]);
            assert.deepEqual(result.outputs.loadedByUs.value, { inet_diag: ["inet_diag"], dummy: ["dummy"] });
            assert.match(fileOn(lab, server, loadFile) ?? "", /^# Managed by pulumi-linux-tuning.*\ninet_diag\ndummy\ntcp_bbr\nnf_conntrack\n$/);
            assert.match(fileOn(lab, server, optionsFile) ?? "", /\noptions dummy numdummies=0x3\n$/);
            assertNoChanges((await stack.preview()).changeSummary);
        });

        it("shows a module unloaded and a file deleted behind Pulumi's back per module in preview --refresh, and up converges", async function () {
            onHost(lab, server, ["rmmod", "dummy"]);
            onHost(lab, server, ["rm", loadFile]);
            const plain = collect();
            assert.equal((await stack.preview({ onOutput: plain.onOutput })).changeSummary.update, 1);
            assert.match(plain.text(), /drift: dummy is not loaded; \/etc\/modules-load\.d\/pulumi-mods\.conf is missing/);
            const refreshed = collect();
            await stack.preview({ refresh: true, diff: true, onOutput: refreshed.onOutput });
            assert.match(refreshed.text(), /dummy\s*:\s*"loaded"\s*=>\s*"not loaded"/);
            assert.match(refreshed.text(), /persistStatus\s*:\s*"in place"\s*=>\s*"\/etc\/modules-load\.d\/pulumi-mods\.conf is missing"/);
            await stack.up();
            assert.deepEqual(loadedOn(lab, server), ["dummy", "inet_diag", "tcp_bbr"]);
            assert.equal(onHost(lab, server, ["cat", "/sys/module/dummy/parameters/numdummies"]).trim(), "3");
            assert.ok(fileOn(lab, server, loadFile));
            assertNoChanges((await stack.preview()).changeSummary);
        });

        it("destroy unloads only what it loaded, leaves a module in use loaded (saying so), and restores the files byte for byte", async function () {
            onHost(lab, server, ["modprobe", "udp_diag"]); // now holds inet_diag
            const out = collect();
            await stack.destroy({ onOutput: out.onOutput });
            assert.deepEqual(loadedOn(lab, server), ["inet_diag", "tcp_bbr", "udp_diag"]);
            assert.match(out.text(), /left inet_diag loaded \(it is in use; this resource loaded it\): rmmod: ERROR: Module inet_diag is in use by: udp_diag/);
            assert.equal(moduleDirsOn(lab, server), etcBefore);
            assert.equal(fileOn(lab, server, optionsFile), null);
            for (const m of ["udp_diag", "inet_diag", "tcp_bbr"]) {
                onHost(lab, server, ["rmmod", m]);
            }
        });
    });

    it("a parameter of a module it loaded, changed at run time behind Pulumi's back, shows as drift and up writes it back", async function () {
        const param = "/sys/module/tcp_htcp/parameters/use_rtt_scaling";
        const before = moduleDirsOn(lab, server);
        const stack = await labStack("kernel-module-params", async () => {
            new KernelModule("htcp", { connection: connectionTo(lab, server), modules: [{ name: "tcp_htcp", parameters: { use_rtt_scaling: 0 } }] });
        });
        try {
            await stack.up();
            assert.equal(onHost(lab, server, ["cat", param]).trim(), "0", "loaded with the declared value (its default is 1)");
            onHost(lab, server, ["sh", "-c", 'echo 1 > "$1"', "sh", param]);
            const plain = collect();
            assert.equal((await stack.preview({ onOutput: plain.onOutput })).changeSummary.update, 1);
            assert.match(plain.text(), /drift: tcp_htcp\.use_rtt_scaling live 1, desired 0/);
            const refreshed = collect();
            await stack.preview({ refresh: true, diff: true, onOutput: refreshed.onOutput });
            assert.match(refreshed.text(), /use_rtt_scaling\s*:\s*"0"\s*=>\s*"1"/);
            await stack.up();
            assert.equal(onHost(lab, server, ["cat", param]).trim(), "0");
            assert.deepEqual(loadedOn(lab, server), ["tcp_htcp"], "written in place: not unloaded and loaded again");
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            // A SysfsSet on the same parameter file would fight it: refused, naming the owner.
            const rival = await labStack("kernel-module-params-rival", async () => {
                new SysfsSet("rtt", { connection: connectionTo(lab, server), settings: { [param]: 1 }, persist: false });
            });
            const out = collect();
            const refused = (await expectFailure(rival.preview({ onOutput: out.onOutput }))) + out.text();
            assert.match(refused, /\/sys\/module\/tcp_htcp\/parameters\/use_rtt_scaling.*kernel-module-params\/lab\/htcp/);
            assert.equal(onHost(lab, server, ["cat", param]).trim(), "0");
        } finally {
            await stack.destroy();
        }
        assert.deepEqual(loadedOn(lab, server), []);
        assert.equal(moduleDirsOn(lab, server), before);
    });

    it("refuses at preview a persistence file path that is a symbolic link, which a write would go through", async function () {
        const target = "/etc/modules-load.d/site.conf";
        const link = "/etc/modules-load.d/pulumi-linked.conf";
        const before = moduleDirsOn(lab, server);
        onHost(lab, server, ["sh", "-c", 'mkdir -p /etc/modules-load.d && printf "# site modules\\n" > "$1" && ln -s site.conf "$2"', "sh", target, link]);
        try {
            const stack = await labStack("kernel-module-linked-file", async () => {
                new KernelModule("linked", { connection: connectionTo(lab, server), modules: ["tcp_bbr"] });
            });
            const message = await expectFailure(stack.preview());
            assert.match(message, /persist.*\/etc\/modules-load\.d\/pulumi-linked\.conf is a symbolic link \(to site\.conf\)/);
            assert.equal(fileOn(lab, server, target), "# site modules\n", "the file it names untouched");
            assert.deepEqual(emulatedLoaded(lab, server), []);
        } finally {
            onHost(lab, server, ["sh", "-c", 'rm -f "$1" "$2"; rmdir /etc/modules-load.d 2>/dev/null; true', "sh", target, link]);
            if (before.includes("d 755 /etc/modules-load.d")) {
                onHost(lab, server, ["mkdir", "-p", "-m", "755", "/etc/modules-load.d"]);
            }
        }
        assert.equal(moduleDirsOn(lab, server), before);
    });

    it("two KernelModules loading at once on one host each claim only their own modules, and each destroy unloads only its own", async function () {
        const hw = (...args: string[]) => execFileSync("/usr/bin/python3", ["-I", path.join(lab.dir, "hw.py"), ...args]);
        // dummy's load takes 3 s, during which the other resource's load would land in /sys/module.
        hw("module-slow", path.join(lab.dir, "hosts", server.name), "dummy", "3");
        const stack = await labStack("kernel-module-concurrent", async () => {
            const slow = new KernelModule("slow", { connection: connectionTo(lab, server), modules: ["dummy"], persist: false });
            const quick = new KernelModule("quick", { connection: connectionTo(lab, server), modules: ["tcp_htcp"], persist: false });
            return { slow: slow.loadedByUs, quick: quick.loadedByUs };
        });
        try {
            const up = await stack.up();
            assert.deepEqual(up.outputs.slow.value, { dummy: ["dummy"] });
            assert.deepEqual(up.outputs.quick.value, { tcp_htcp: ["tcp_htcp"] });
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
        } finally {
            hw("module-slow", path.join(lab.dir, "hosts", server.name), "dummy", "0");
            await stack.destroy();
        }
        assert.deepEqual(emulatedLoaded(lab, server), []);
    });

    it("a module it loaded that another modules-load.d file has come to load at boot (kubeadm's br_netfilter), by name or by alias, is left loaded by destroy, saying so", async function () {
        const k8s = "/etc/modules-load.d/k8s.conf";
        const netdevs = "/etc/modules-load.d/netdevs.conf";
        const stack = await labStack("kernel-module-relied-on", async () => {
            new KernelModule("nat", { connection: connectionTo(lab, server), modules: ["tcp_htcp", "dummy"], persist: false });
        });
        try {
            await stack.up();
            assert.deepEqual(emulatedLoaded(lab, server), ["dummy", "tcp_htcp"]);
            onHost(lab, server, ["sh", "-c", 'mkdir -p /etc/modules-load.d && printf "# kubeadm\\n  tcp-htcp \\n" > "$1"', "sh", k8s]);
            const out = collect();
            await stack.destroy({ onOutput: out.onOutput });
            assert.match(out.text(), /left tcp_htcp loaded: \/etc\/modules-load\.d\/k8s\.conf loads it at boot too, so something on this host relies on it/);
            assert.deepEqual(emulatedLoaded(lab, server), ["tcp_htcp"], "dummy unloaded, tcp_htcp left");
            // By an alias (modules.alias: rtnl-link-dummy is dummy), as systemd-modules-load resolves it.
            await stack.up();
            onHost(lab, server, ["sh", "-c", 'printf "rtnl-link-dummy\\n" > "$1"', "sh", netdevs]);
            const again = collect();
            await stack.destroy({ onOutput: again.onOutput });
            assert.match(again.text(), /left dummy loaded: \/etc\/modules-load\.d\/netdevs\.conf loads it at boot too/);
            assert.deepEqual(emulatedLoaded(lab, server), ["dummy", "tcp_htcp"]);
        } finally {
            await stack.destroy().catch(() => undefined);
            onHost(lab, server, ["sh", "-c", 'rm -f "$1" "$2"; rmmod tcp_htcp 2>/dev/null; rmmod dummy 2>/dev/null; true', "sh", k8s, netdevs]);
        }
    });

    it("a module something else loads while its own load runs is not its own: destroy leaves it loaded", async function () {
        const hw = (...args: string[]) => execFileSync("/usr/bin/python3", ["-I", path.join(lab.dir, "hw.py"), ...args]);
        hw("module-slow", path.join(lab.dir, "hosts", server.name), "dummy", "4");
        const stack = await labStack("kernel-module-meanwhile", async () => {
            const slow = new KernelModule("slow", { connection: connectionTo(lab, server), modules: ["dummy"], persist: false });
            return { loadedByUs: slow.loadedByUs };
        });
        try {
            // As a container runtime starting beside it: tcp_htcp lands in /sys/module during dummy's 4 s load, which
            // begins just after the apply writes its ledger.
            const meanwhile = "until ls /var/lib/pulumi-linux-tuning/kernel-module/*.ledger >/dev/null 2>&1; do sleep 0.05; done; sleep 1; modprobe tcp_htcp";
            const [up, outside] = await Promise.all([stack.up(), onHostMeanwhile(lab, server, ["sh", "-c", meanwhile])]);
            assert.equal(outside, 0);
            assert.deepEqual(up.outputs.loadedByUs.value, { dummy: ["dummy"] });
            assert.doesNotMatch(onHost(lab, server, ["sh", "-c", "cat /var/lib/pulumi-linux-tuning/kernel-module/*.ledger"]), /module:tcp_htcp/, "nor claimed in its ledger");
        } finally {
            hw("module-slow", path.join(lab.dir, "hosts", server.name), "dummy", "0");
            await stack.destroy();
        }
        assert.deepEqual(emulatedLoaded(lab, server), ["tcp_htcp"], "the other's module stays");
        onHost(lab, server, ["rmmod", "tcp_htcp"]);
    });

    it("a declared module something else loads while the apply waits for the host's module lock stays the host's: in state, in the ledger, and after destroy", async function () {
        const stack = await labStack("kernel-module-declared-meanwhile", async () => {
            const km = new KernelModule("raced", { connection: connectionTo(lab, server), modules: ["tcp_htcp"], persist: false });
            return { originals: km.originals, loadedByUs: km.loadedByUs, ledgerFile: km.ledgerFile, warnings: km.warnings };
        });
        try {
            // As a container runtime starting beside it: holding the lock every KernelModule apply takes before its
            // loads, it loads tcp_htcp once this apply has written its ledger (and read what is loaded).
            const dir = "/var/lib/pulumi-linux-tuning/kernel-module";
            const meanwhile = `mkdir -p ${dir} && exec flock ${dir} sh -c 'until ls ${dir}/*.ledger >/dev/null 2>&1; do sleep 0.05; done; modprobe tcp_htcp'`;
            const [up, outside] = await Promise.all([stack.up(), onHostMeanwhile(lab, server, ["sh", "-c", meanwhile])]);
            assert.equal(outside, 0);
            assert.deepEqual(up.outputs.originals.value, { tcp_htcp: "loaded" });
            assert.deepEqual(up.outputs.loadedByUs.value, {});
            assert.match(up.outputs.warnings.value.join("\n"), /tcp_htcp was loaded by something else while this apply ran/);
            const ledger = onHost(lab, server, ["cat", up.outputs.ledgerFile.value]);
            const record = JSON.parse(Buffer.from(/^record\t(.*)$/m.exec(ledger)![1], "base64").toString("utf8"));
            assert.deepEqual(record.originals, { tcp_htcp: "loaded" }, "the ledger says what state says");
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            await stack.destroy();
            assert.deepEqual(emulatedLoaded(lab, server), ["tcp_htcp"], "the host's module stays loaded");
        } finally {
            await stack.destroy().catch(() => undefined);
            onHost(lab, server, ["sh", "-c", "rmmod tcp_htcp 2>/dev/null; true"]);
        }
    });

    it("a module its update unloaded, loaded again by something else, is not its own: destroy leaves it loaded", async function () {
        let modules = ["tcp_htcp", "dummy"];
        const stack = await labStack("kernel-module-unloaded-then-loaded", async () => {
            const km = new KernelModule("dropping", { connection: connectionTo(lab, server), modules, persist: false });
            return { stillToUnload: km.stillToUnload };
        });
        try {
            await stack.up();
            assert.deepEqual(emulatedLoaded(lab, server), ["dummy", "tcp_htcp"]);
            modules = ["dummy"];
            await stack.up();
            assert.deepEqual(emulatedLoaded(lab, server), ["dummy"], "the update unloaded what it had loaded");
            onHost(lab, server, ["modprobe", "tcp_htcp"]);
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            await stack.destroy();
            assert.deepEqual(emulatedLoaded(lab, server), ["tcp_htcp"], "loaded since by something else: left loaded");
        } finally {
            await stack.destroy().catch(() => undefined);
            onHost(lab, server, ["sh", "-c", "for m in tcp_htcp dummy; do rmmod $m 2>/dev/null; done; true"]);
        }
    });

    it("a parameter the kernel clamps when loading (ip_vs conn_tab_bits) is recorded as its answer: said once, a second preview is clean", async function () {
        const param = "/sys/module/ip_vs/parameters/conn_tab_bits";
        const stack = await labStack("kernel-module-clamped", async () => {
            const km = new KernelModule("ipvs", { connection: connectionTo(lab, server), modules: [{ name: "ip_vs", parameters: { conn_tab_bits: 30 } }] });
            return { adjusted: km.adjusted, warnings: km.warnings };
        });
        try {
            const up = await stack.up();
            assert.equal(onHost(lab, server, ["cat", param]).trim(), "20", "the emulated kernel keeps at most 20");
            assert.deepEqual(up.outputs.adjusted.value, { ip_vs: { conn_tab_bits: { declared: "30", live: "20" } } });
            assert.match(up.outputs.warnings.value.join("\n"), /the kernel made ip_vs\.conn_tab_bits 20 when given 30 \(its own limit or rounding\)/);
            const plain = collect();
            assertNoChanges((await stack.preview({ onOutput: plain.onOutput })).changeSummary);
            assert.doesNotMatch(plain.text(), /drift/);
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            const again = await stack.up();
            assert.equal(again.summary.resourceChanges?.update ?? 0, 0);
        } finally {
            await stack.destroy();
        }
        assert.deepEqual(emulatedLoaded(lab, server), []);
    });

    it("a run-time parameter write the kernel refuses puts back the parameters the same up had already written", async function () {
        const params = "/sys/module/tcp_htcp/parameters";
        const live = () => onHost(lab, server, ["sh", "-c", 'cat "$1/use_bandwidth_switch" "$1/use_rtt_scaling"', "sh", params]);
        let parameters: Record<string, string | number> = { use_bandwidth_switch: 1, use_rtt_scaling: 0 };
        const stack = await labStack("kernel-module-param-rollback", async () => {
            new KernelModule("htcp", { connection: connectionTo(lab, server), modules: [{ name: "tcp_htcp", parameters }] });
        });
        try {
            await stack.up();
            assert.equal(live(), "1\n0\n");
            parameters = { use_bandwidth_switch: 0, use_rtt_scaling: "fast" };
            const failure = await stack.up().then(() => "", (e: Error) => e.message);
            assert.match(failure, /tcp_htcp\.use_rtt_scaling: .*every parameter it had written is back/);
            assert.equal(live(), "1\n0\n", "use_bandwidth_switch, written before the refused write, is back to 1");
            assert.deepEqual(loadedOn(lab, server), ["tcp_htcp"]);
        } finally {
            await stack.destroy();
        }
        assert.deepEqual(loadedOn(lab, server), []);
    });

    it("refuses at preview a module the host does not have, and a bad name, naming the property, module and host", async function () {
        const stack = await labStack("kernel-module-missing", async () => {
            new KernelModule("bbr", { connection: connectionTo(lab, vm), modules: ["tcp_bbr"] });
        });
        const message = await expectFailure(stack.preview());
        assert.match(message, new RegExp(`modules\\[0\\] value .* has a problem: root@${vm.address.replace(/\./g, "\\.")}:22: kernel module tcp_bbr is not available on this host: modprobe: FATAL: Module tcp_bbr not found in directory /lib/modules/`));
        const bad = await labStack("kernel-module-bad-name", async () => {
            new KernelModule("bad", { connection: connectionTo(lab, vm), modules: ["tcp_bbr; reboot"] });
        });
        assert.match(await expectFailure(bad.preview()), /modules\[0\] value .* has a problem: must be a kernel module name/);
    });

    it("refuses at preview a module alias (the kernel lists the module under its own name), naming the module it stands for, with nothing loaded", async function () {
        const stack = await labStack("kernel-module-alias", async () => {
            new KernelModule("dummies", { connection: connectionTo(lab, vm), modules: ["tcp_diag", "rtnl-link-dummy"] });
        });
        const message = await expectFailure(stack.preview());
        assert.match(message, new RegExp(`modules\\[1\\] value .* has a problem: root@${vm.address.replace(/\./g, "\\.")}:22: rtnl_link_dummy is an alias of the kernel module dummy \\(modprobe -R rtnl_link_dummy\\): declare dummy`));
        assert.doesNotMatch(message, /modules\[0\] value/);
        assert.equal(onHost(lab, vm, ["sh", "-c", "[ -d /sys/module/dummy ] && echo loaded || echo absent"]).trim(), "absent");
    });

    it("refuses at preview a parameter the module does not have (the kernel would ignore it and load), naming the property, module and host", async function () {
        const stack = await labStack("kernel-module-unknown-param", async () => {
            new KernelModule("dummies", { connection: connectionTo(lab, vm), modules: [{ name: "dummy", parameters: { numdummies: 2, no_such_param: 3 } }] });
        });
        const message = await expectFailure(stack.preview());
        assert.match(message, new RegExp(`modules\\[0\\]\\.parameters\\.no_such_param value .* has a problem: root@${vm.address.replace(/\./g, "\\.")}:22: dummy has no parameter no_such_param \\(modinfo -F parm dummy lists numdummies\\)`));
        assert.doesNotMatch(message, /numdummies value/);
        assert.equal(onHost(lab, vm, ["sh", "-c", "[ -d /sys/module/dummy ] && echo loaded || echo absent"]).trim(), "absent");
    });

    it("refuses at preview a value the parameter's type refuses (the load would fail, or the next boot's), naming the property, module and host", async function () {
        const stack = await labStack("kernel-module-bad-value", async () => {
            new KernelModule("ftp", { connection: connectionTo(lab, vm), modules: [{ name: "ip_vs_ftp", parameters: { ports: "21,99999" } }] });
        });
        const message = await expectFailure(stack.preview());
        assert.match(message, new RegExp(`modules\\[0\\]\\.parameters\\.ports value .* has a problem: root@${vm.address.replace(/\./g, "\\.")}:22: ip_vs_ftp\\.ports \\(array of ushort\\) must be an integer from 0 to 65535 .*; "99999" is not; got "21,99999"`));
        assert.deepEqual(emulatedLoaded(lab, vm), [], "nothing loaded");
        // The kernel's own answer on the host: the load fails, leaving the dependency modprobe inserted.
        assert.throws(() => onHost(lab, vm, ["modprobe", "ip_vs_ftp", "ports=21,99999"]), /Invalid argument/);
        onHost(lab, vm, ["rmmod", "ip_vs"]);
    });

    it("says when another modprobe.d file sorting after its own sets a declared parameter otherwise, which decides at boot", async function () {
        const local = "/etc/modprobe.d/zz-local.conf";
        onHost(lab, vm, ["sh", "-c", `mkdir -p /etc/modprobe.d && printf 'options dummy numdummies=5\\nblacklist dummy\\n' > ${local}`]);
        const stack = await labStack("kernel-module-boot-override", async () => {
            const km = new KernelModule("dummies", { connection: connectionTo(lab, vm), modules: [{ name: "dummy", parameters: { numdummies: 2 } }] });
            return { warnings: km.warnings };
        });
        try {
            const out = collect();
            const result = await stack.up({ onOutput: out.onOutput });
            const warning = /\/etc\/modprobe\.d\/zz-local\.conf also sets dummy numdummies=5 and comes after \/etc\/modprobe\.d\/pulumi-dummies\.conf in modprobe's order, so at boot dummy loads with numdummies=5, not 2/;
            assert.match(out.text(), warning);
            assert.match(JSON.stringify(result.outputs.warnings.value), warning);
            assert.match(out.text(), /\/etc\/modprobe\.d\/zz-local\.conf blacklists dummy, and systemd-modules-load skips a blacklisted module, so at boot \/etc\/modules-load\.d\/pulumi-dummies\.conf does not load it/);
            // What the boot's load would do, on the host: modprobe merges the files in name order.
            onHost(lab, vm, ["rmmod", "dummy"]);
            onHost(lab, vm, ["modprobe", "dummy"]);
            assert.equal(onHost(lab, vm, ["cat", "/sys/module/dummy/parameters/numdummies"]).trim(), "5");
        } finally {
            await stack.destroy().catch(() => undefined);
            onHost(lab, vm, ["sh", "-c", `rm -f ${local}; if [ -d /sys/module/dummy ]; then rmmod dummy; fi`]);
        }
    });

    it("says when the kernel command line sets a declared parameter, which decides at boot, or blacklists a declared module", async function () {
        // The host's kernel command line, at its real path in the host's own mount namespace.
        onHost(lab, vm, ["sh", "-c", "printf 'BOOT_IMAGE=/vmlinuz quiet dummy.numdummies=6 modprobe.blacklist=floppy,tcp-htcp\\n' > /root/cmdline && mount --bind /root/cmdline /proc/cmdline"]);
        const stack = await labStack("kernel-module-command-line", async () => {
            new KernelModule("boot", { connection: connectionTo(lab, vm), modules: [{ name: "dummy", parameters: { numdummies: 2 } }, "tcp_htcp"] });
        });
        try {
            const out = collect();
            await stack.up({ onOutput: out.onOutput });
            assert.match(out.text(), /the kernel command line sets dummy\.numdummies=6, which kmod applies after every modprobe\.d file, so at boot dummy loads with numdummies=6, not 2/);
            assert.match(out.text(), /the kernel command line's modprobe\.blacklist= blacklists tcp_htcp, and systemd-modules-load skips a blacklisted module/);
            assert.equal(onHost(lab, vm, ["cat", "/sys/module/dummy/parameters/numdummies"]).trim(), "2", "now: the declared value, passed last");
        } finally {
            await stack.destroy().catch(() => undefined);
            onHost(lab, vm, ["sh", "-c", "umount /proc/cmdline; rm -f /root/cmdline"]);
        }
        assert.deepEqual(loadedOn(lab, vm), []);
    });

    it("a module another resource's load brought in is that resource's at once: a second stack declaring it is refused at preview", async function () {
        const before = emulatedLoaded(lab, server);
        assert.ok(!before.includes("inet_diag"), "inet_diag is not loaded before");
        const a = await labStack("kernel-module-deps-a", async () => {
            new KernelModule("diag", { connection: connectionTo(lab, server), modules: ["tcp_diag"] });
        });
        const b = await labStack("kernel-module-deps-b", async () => {
            new KernelModule("inet", { connection: connectionTo(lab, server), modules: ["inet_diag"] });
        });
        try {
            await a.up();
            assert.ok(emulatedLoaded(lab, server).includes("inet_diag"), "tcp_diag's load brought inet_diag in");
            const out = collect();
            const message = await expectFailure(b.preview({ onOutput: out.onOutput }));
            assert.match(message + out.text(), /module:inet_diag is managed by kernel-module-deps-a\/lab\/diag \(its ledger on the host\)/);
        } finally {
            await b.destroy();
            await a.destroy();
        }
        assert.deepEqual(emulatedLoaded(lab, server), before, "a's destroy unloaded what its load brought in");
    });

    for (const persist of [true, false]) {
        it(`a declared module that another declared module pulls in as a dependency gets its parameters (persist: ${persist})`, async function () {
            const stack = await labStack(`kernel-module-dependency-options-${persist}`, async () => {
                new KernelModule("ipvs", { connection: connectionTo(lab, server), modules: ["ip_vs_rr", { name: "ip_vs", parameters: { conn_tab_bits: 18 } }], persist });
            });
            try {
                await stack.up();
                assert.deepEqual(emulatedLoaded(lab, server), ["ip_vs", "ip_vs_rr"]);
                assert.equal(onHost(lab, server, ["cat", "/sys/module/ip_vs/parameters/conn_tab_bits"]).trim(), "18", "not the default 12, as when modprobe ip_vs_rr loads ip_vs first");
            } finally {
                await stack.destroy();
            }
            assert.deepEqual(emulatedLoaded(lab, server), []);
        });
    }

    it("a load the kernel refuses unloads what the operation loaded, the dependencies the refused load brought in too, and writes no file", async function () {
        // ip_vs_ftp needs ip_vs: modprobe inserts ip_vs, then the kernel refuses a ninth port (more
        // than its array holds, which modinfo does not say, so no preview can) and ip_vs stays.
        const stack = await labStack("kernel-module-rollback", async () => {
            new KernelModule("bad", { connection: connectionTo(lab, server), modules: ["udp_diag", { name: "ip_vs_ftp", parameters: { ports: "21,22,23,24,25,26,27,28,29" } }] });
        });
        try {
            const message = await expectFailure(stack.up());
            assert.match(message, /ip_vs_ftp: modprobe: ERROR: could not insert 'ip_vs_ftp': Invalid argument\. Every module this operation had loaded was unloaded again, every parameter it had written is back, and the files are as they were\./);
            assert.deepEqual(loadedOn(lab, server), []);
            assert.equal(fileOn(lab, server, "/etc/modules-load.d/pulumi-bad.conf"), null);
        } finally {
            await stack.destroy().catch(() => undefined);
        }
    });

    it("a failed up that cannot unload a module it loaded (taken into use meanwhile) keeps it in the host-side ledger, so a later destroy unloads it", async function () {
        const hw = (...args: string[]) => execFileSync("/usr/bin/python3", ["-I", path.join(lab.dir, "hw.py"), ...args]);
        const hostDir = path.join(lab.dir, "hosts", server.name);
        let ports = "21,22,23,24,25,26,27,28,29";
        const stack = await labStack("kernel-module-held", async () => {
            new KernelModule("held", { connection: connectionTo(lab, server), modules: ["ip_vs", { name: "ip_vs_ftp", parameters: { ports } }], persist: false });
        });
        hw("module-held", hostDir, "ip_vs", "on");
        try {
            const message = await expectFailure(stack.up());
            assert.match(message, /Could NOT unload ip_vs \(rmmod: ERROR: Module ip_vs is in use by: lab_user\), which the host-side ledger keeps as this resource's/);
            assert.deepEqual(emulatedLoaded(lab, server), ["ip_vs"]);
            const ledgers = onHost(lab, server, ["sh", "-c", "cat /var/lib/pulumi-linux-tuning/kernel-module/*.ledger"]);
            assert.match(ledgers, /^item\tmodule:ip_vs$/m, "the failed run's ledger stays, claiming ip_vs");
            hw("module-held", hostDir, "ip_vs", "off");
            ports = "21";
            await stack.up();
            assert.deepEqual(emulatedLoaded(lab, server), ["ip_vs", "ip_vs_ftp"]);
            await stack.destroy();
            assert.deepEqual(emulatedLoaded(lab, server), [], "ip_vs, which the failed run had loaded, is unloaded too");
        } finally {
            hw("module-held", hostDir, "ip_vs", "off");
            await stack.destroy().catch(() => undefined);
            onHost(lab, server, ["sh", "-c", "rmmod ip_vs_ftp 2>/dev/null; rmmod ip_vs 2>/dev/null; true"]);
        }
    });

    it("destroy leaves loaded a module an interface in service runs on (a bridge up on the bridge module it loaded), which rmmod would take with it, saying so", async function () {
        const stack = await labStack("kernel-module-bridge", async () => {
            new KernelModule("bridged", { connection: connectionTo(lab, server), modules: ["bridge"], persist: false });
        });
        try {
            await stack.up();
            assert.deepEqual(emulatedLoaded(lab, server), ["bridge"]);
            // Idle, as the bond0 bonding makes when it loads: no reason to keep the module.
            onHost(lab, server, ["ip", "link", "add", "pltbr0", "type", "bridge"]);
            await stack.destroy();
            assert.deepEqual(emulatedLoaded(lab, server), [], "an idle bridge does not hold it");
            await stack.up();
            onHost(lab, server, ["ip", "link", "set", "pltbr0", "up"]);
            const said = collect();
            await stack.destroy({ onOutput: said.onOutput });
            assert.match(said.text(), /left bridge loaded \(it is in use; this resource loaded it\): interfaces pltbr0 run on it, and unloading it would delete them/);
            assert.deepEqual(emulatedLoaded(lab, server), ["bridge"]);
            assert.match(onHost(lab, server, ["ip", "-o", "link", "show", "pltbr0"]), /^\d+: pltbr0:/);
        } finally {
            onHost(lab, server, ["sh", "-c", "ip link del pltbr0 2>/dev/null; rmmod bridge 2>/dev/null; true"]);
            await stack.destroy().catch(() => undefined);
        }
    });

    it("an install rule in modprobe.d: /bin/true is refused at preview; one that exits 0 without loading fails the up, which loads nothing", async function () {
        const rule = "/etc/modprobe.d/local-dummy.conf";
        const stack = await labStack("kernel-module-install-rule", async () => {
            new KernelModule("dummies", { connection: connectionTo(lab, vm), modules: ["udp_diag", "dummy"] });
        });
        try {
            onHost(lab, vm, ["sh", "-c", `mkdir -p /etc/modprobe.d && echo 'install dummy /bin/true' > ${rule}`]);
            const message = await expectFailure(stack.preview());
            assert.match(message, new RegExp(`modules\\[1\\] value .* has a problem: root@${vm.address.replace(/\./g, "\\.")}:22: kernel module dummy is disabled on this host: a modprobe.d install rule has modprobe run "install /bin/true" instead of loading it`));
            onHost(lab, vm, ["sh", "-c", `echo 'install dummy /bin/echo dummy is off here' > ${rule}`]);
            await stack.preview();
            const failure = await expectFailure(stack.up());
            assert.match(failure, /dummy: modprobe exited 0 but the kernel has not loaded it \(modprobe\.d has modprobe run this instead: install \/bin\/echo dummy is off here ?\)\. Every module this operation had loaded was unloaded again/);
            assert.deepEqual(emulatedLoaded(lab, vm), [], "udp_diag and inet_diag unloaded again");
            assert.equal(fileOn(lab, vm, "/etc/modules-load.d/pulumi-dummies.conf"), null);
        } finally {
            await stack.destroy().catch(() => undefined);
            onHost(lab, vm, ["rm", "-f", rule]);
        }
    });

    it("an update that drops a module in use keeps it as still to unload, claimed in the ledger, and the destroy unloads it once it is free", async function () {
        let modules = ["tcp_diag", "dummy"];
        const stack = await labStack("kernel-module-drop-in-use", async () => {
            const km = new KernelModule("diag", { connection: connectionTo(lab, vm), modules });
            return { stillToUnload: km.stillToUnload, ledgerFile: km.ledgerFile };
        });
        try {
            await stack.up();
            assert.deepEqual(emulatedLoaded(lab, vm), ["dummy", "inet_diag", "tcp_diag"]);
            onHost(lab, vm, ["modprobe", "udp_diag"]); // now holds inet_diag, which tcp_diag's load brought in
            modules = ["dummy"];
            const result = await stack.up();
            assert.deepEqual(emulatedLoaded(lab, vm), ["dummy", "inet_diag", "udp_diag"]);
            assert.deepEqual(result.outputs.stillToUnload.value, { tcp_diag: ["inet_diag"] });
            const ledger = onHost(lab, vm, ["cat", result.outputs.ledgerFile.value]);
            assert.match(ledger, /^item\tmodule:inet_diag$/m, "still claimed on the host");
            assert.doesNotMatch(ledger, /module:tcp_diag/, "unloaded, so no longer claimed");
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            onHost(lab, vm, ["rmmod", "udp_diag"]);
            await stack.destroy();
            assert.deepEqual(emulatedLoaded(lab, vm), [], "the destroy unloaded inet_diag, which this stack had loaded");
        } finally {
            await stack.destroy().catch(() => undefined);
        }
    });

    it("a file write that fails puts back the file already written, and loads nothing", async function () {
        // /etc/modprobe.d as a plain file: the options file cannot be written after the load file was.
        onHost(lab, server, ["sh", "-c", "rmdir /etc/modprobe.d 2>/dev/null; test ! -e /etc/modprobe.d && : > /etc/modprobe.d"]);
        const before = moduleDirsOn(lab, server);
        const loadedBefore = loadedOn(lab, server);
        const stack = await labStack("kernel-module-file-rollback", async () => {
            new KernelModule("opts", { connection: connectionTo(lab, server), modules: [{ name: "dummy", parameters: { numdummies: 2 } }] });
        });
        try {
            const message = await expectFailure(stack.up());
            assert.match(message, /\/etc\/modprobe\.d\/pulumi-opts\.conf: [^\n]*the files are as they were/);
            assert.deepEqual(loadedOn(lab, server), loadedBefore, "dummy not loaded (or unloaded again)");
            assert.equal(fileOn(lab, server, "/etc/modules-load.d/pulumi-opts.conf"), null, "the load file written first is gone again");
            assert.equal(moduleDirsOn(lab, server), before);
        } finally {
            await stack.destroy().catch(() => undefined);
            onHost(lab, server, ["sh", "-c", "[ -f /etc/modprobe.d ] && rm -f /etc/modprobe.d; true"]);
        }
    });

    describe("a SysctlSet that needs a module", function () {
        const cc = "net.ipv4.tcp_congestion_control";

        it("fails the preview naming tcp_bbr when no KernelModule provides it", async function () {
            assert.equal(sysctlOn(lab, server, cc), "reno");
            const stack = await labStack("sysctl-needs-module", async () => {
                new SysctlSet("cc", { connection: connectionTo(lab, server), settings: { [cc]: "bbr" } });
            });
            const message = await expectFailure(stack.preview());
            assert.match(message, new RegExp(`settings\\["net\\.ipv4\\.tcp_congestion_control"\\] value .* has a problem: bbr needs kernel module tcp_bbr, which is not loaded on root@${server.address.replace(/\./g, "\\.")}:22; load it with a KernelModule and pass it in modules`));
        });

        it("fails it too when the KernelModule passed in modules loads something else (its names are known at preview)", async function () {
            const stack = await labStack("sysctl-wrong-module", async () => {
                const km = new KernelModule("diag", { connection: connectionTo(lab, server), modules: ["tcp_diag"] });
                new SysctlSet("cc", { connection: connectionTo(lab, server), settings: { [cc]: "bbr" }, modules: km.names });
            });
            assert.match(await expectFailure(stack.preview()), /bbr needs kernel module tcp_bbr/);
        });

        it("with modules: km.names, up loads tcp_bbr first and then sets bbr; destroy puts both back", async function () {
            const stack = await labStack("sysctl-with-module", async () => {
                const km = new KernelModule("bbr", { connection: connectionTo(lab, server), modules: ["tcp_bbr"] });
                new SysctlSet("cc", { connection: connectionTo(lab, server), settings: { [cc]: "bbr" }, modules: km.names });
            });
            try {
                assert.deepEqual(loadedOn(lab, server), []);
                await stack.up();
                assert.deepEqual(loadedOn(lab, server), ["tcp_bbr"]);
                assert.equal(sysctlOn(lab, server, cc), "bbr");
                assert.equal(onHost(lab, server, ["cat", "/sys/module/tcp_bbr/refcnt"]).trim(), "1"); // bbr is the default now
                assertNoChanges((await stack.preview()).changeSummary);
                await stack.destroy();
                assert.equal(sysctlOn(lab, server, cc), "reno");
                assert.deepEqual(loadedOn(lab, server), []);
            } finally {
                await stack.destroy().catch(() => undefined);
            }
        });

        it("on a host whose kernel lacks tcp_bbr, the preview names the module", async function () {
            const stack = await labStack("sysctl-module-unavailable", async () => {
                const km = new KernelModule("bbr", { connection: connectionTo(lab, vm), modules: ["tcp_bbr"] });
                new SysctlSet("cc", { connection: connectionTo(lab, vm), settings: { [cc]: "bbr" }, modules: km.names });
            });
            const message = await expectFailure(stack.preview());
            assert.match(message, /kernel module tcp_bbr is not available on this host: modprobe: FATAL: Module tcp_bbr not found/);
            assert.equal(sysctlOn(lab, vm, cc), "reno");
        });

        it("a HostTuning update that only adds an algorithm to tcp_allowed_congestion_control names the module it needs (on this machine: a netns cannot set the key)", async function () {
            const file = "/proc/sys/net/ipv4/tcp_allowed_congestion_control";
            const before = readFileSync(file, "utf8").trim();
            const available = readFileSync("/proc/sys/net/ipv4/tcp_available_congestion_control", "utf8").trim().split(/\s+/);
            const absent = ["htcp", "vegas", "westwood", "illinois", "hybla", "scalable"].find((name) => !available.includes(name))!;
            let allowed = before;
            const stack = await labStack("sysctl-allowed-cc", async () => {
                new HostTuning("allowed", { sysctls: { settings: { "net.ipv4.tcp_allowed_congestion_control": allowed }, persist: false } });
            });
            try {
                await stack.up();
                allowed = `${before} ${absent}`;
                const message = await expectFailure(stack.preview());
                assert.match(message, new RegExp(`sysctls\\.settings\\["net\\.ipv4\\.tcp_allowed_congestion_control"\\] value .* has a problem: ${absent} needs kernel module tcp_${absent}, which is not loaded on local`));
            } finally {
                allowed = before;
                await stack.destroy();
            }
            assert.equal(readFileSync(file, "utf8").trim(), before);
        });
    });
});
