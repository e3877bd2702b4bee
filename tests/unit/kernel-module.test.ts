import { strict as assert } from "assert";
import { checkFailures } from "../../provider/check";
import { hostLedgerPath, renderHostLedger, startingRecord } from "../../provider/host/ledger";
import { ABSENT } from "../../provider/host/restore";
import {
    blacklistedAtBoot,
    declaredParameterTypes,
    dependenciesFirst,
    kernelAdjustments,
    newAdjustmentWarnings,
    ledgerRecord,
    moduleDrift,
    moduleItems,
    moduleProblems,
    overriddenAtBoot,
    parameterDrift,
    pendingUnloads,
    planModules,
    ModuleRecord,
    ownLoadsOnly,
    planModulesRestore,
    recoveredLoads,
    unloadOrder,
} from "../../provider/kernel-module/plan";
import { parameterValueProblem, parseModinfoParm, sameLiveValue } from "../../provider/kernel-module/parameter-types";
import { parseApplyOutput, parseModuleSnapshot } from "../../provider/kernel-module/remote";
import { kernelModuleInputsSchema, moduleSpecs, persistFiles } from "../../provider/kernel-module/schema";
import { missingModules, moduleNeeds, moduleProbeKeys } from "../../provider/sysctl/modules";
import type { HostSnapshot } from "../../provider/sysctl/remote";
import { ledgerListing } from "./ledger-listing";

const FILES = persistFiles("mods");
const TARGET = "root@10.0.0.5:22";

const READ = [
    "modprobe\t/usr/sbin/modprobe",
    "release\t6.1.0-18-amd64",
    "loaded\ttcp_diag\t0\t",
    "loaded\tinet_diag\t1\ttcp_diag ",
    "loaded\tdummy\t0\t",
    "builtin\tnf_conntrack",
    "probe\ttcp_bbr\t0\t",
    "resolves\ttcp_bbr\ttcp_bbr ",
    "probe\trtnl_link_dummy\t0\t",
    "resolves\trtnl_link_dummy\tdummy ",
    "resolves\tfoo\t",
    "probe\tfoo\t1\tmodprobe: FATAL: Module foo not found in directory /lib/modules/6.1.0-18-amd64",
    "param\tdummy\tnumdummies\t2",
    "parms\tdummy",
    "modinfo-parm\tdummy\tnumdummies:Number of dummy pseudo devices (int)",
    `absent\t${FILES.load}`,
    `absent\t${FILES.options}`,
].join("\n");

const inputs = (modules: unknown[], extra: Record<string, unknown> = {}) => kernelModuleInputsSchema.parse({ modules, resourceName: "mods", ...extra });

describe("KernelModule: grammar", function () {
    it("takes module names of A-Z a-z 0-9 _ -, at most 55, and normalises - to _", function () {
        assert.deepEqual(moduleSpecs(inputs(["tcp-bbr", { name: "nf_conntrack", parameters: { hashsize: 65536, "expect-hashsize": "1024" } }])), [
            { name: "tcp_bbr", parameters: {} },
            { name: "nf_conntrack", parameters: { hashsize: "65536", expect_hashsize: "1024" } },
        ]);
        for (const bad of ["", "tcp bbr", "tcp_bbr;reboot", "$(x)", "a/b", "x".repeat(56), "-r", "--all"]) {
            assert.match(checkFailures(kernelModuleInputsSchema, { modules: [bad], resourceName: "m" })[0].reason, /kernel module name/, bad);
        }
        assert.equal(checkFailures(kernelModuleInputsSchema, { modules: ["x".repeat(55)], resourceName: "m" }).length, 0);
    });

    it("refuses shell characters in parameter names and values, and a module listed twice as tcp-bbr and tcp_bbr", function () {
        const failures = (parameters: Record<string, unknown>) => checkFailures(kernelModuleInputsSchema, { modules: [{ name: "dummy", parameters }], resourceName: "m" });
        assert.equal(failures({ numdummies: 3, ports: "21,2121", loose: "Y" }).length, 0);
        assert.deepEqual(failures({ numdummies: "3; reboot" })[0].property, 'modules[0].parameters.numdummies');
        assert.match(failures({ "a b": 1 })[0].reason, /not a module parameter name/);
        assert.match(failures({ p: "$(x)" })[0].reason, /no spaces, quotes or shell characters/);
        assert.match(failures({ p: 1.5 })[0].reason, /integer/);
        assert.deepEqual(failures({ "expect-hashsize": 1024, expect_hashsize: 4096 }).map((f) => [f.property, f.reason]), [["modules[0].parameters.expect_hashsize", 'expect_hashsize is expect-hashsize again ("-" and "_" are the same to the kernel): set it once']]);
        const twice = checkFailures(kernelModuleInputsSchema, { modules: ["tcp-bbr", "tcp_bbr"], resourceName: "m" });
        assert.deepEqual(twice.map((f) => f.property), ["modules[1]"]);
    });
});

describe("KernelModule: host state", function () {
    it("parses /sys/module, modules.builtin, modprobe -n and the persistence files", function () {
        const s = parseModuleSnapshot(READ);
        assert.equal(s.release, "6.1.0-18-amd64");
        assert.deepEqual([...s.loaded.keys()], ["tcp_diag", "inet_diag", "dummy"]);
        assert.deepEqual(s.loaded.get("inet_diag"), { refcnt: 1, holders: ["tcp_diag"] });
        assert.ok(s.builtin.has("nf_conntrack"));
        assert.deepEqual(s.probe.get("foo"), { ok: false, message: "modprobe: FATAL: Module foo not found in directory /lib/modules/6.1.0-18-amd64" });
        assert.deepEqual(s.parameters.get("dummy"), { numdummies: "2" });
        assert.equal(s.files.get(FILES.load), null);
    });

    it("names an unavailable module, parameters for a built-in one, and a host without modprobe", function () {
        const s = parseModuleSnapshot(READ);
        const problems = moduleProblems(moduleSpecs(inputs(["tcp_bbr", "foo", { name: "nf_conntrack", parameters: { hashsize: 1 } }])), s, TARGET);
        assert.deepEqual(problems.map((p) => p.property), ["modules[1]", "modules[2].parameters"]);
        assert.match(problems[0].reason, /^root@10\.0\.0\.5:22: kernel module foo is not available on this host: modprobe: FATAL: Module foo not found/);
        assert.match(problems[1].reason, /built into the kernel .* kernel command line \(nf_conntrack\.hashsize=1\)/);
        const unknown = moduleProblems(moduleSpecs(inputs([{ name: "dummy", parameters: { numdummies: 2, no_such_param: 3 } }])), s, TARGET);
        assert.deepEqual(unknown, [
            { property: "modules[0].parameters.no_such_param", reason: `${TARGET}: dummy has no parameter no_such_param (modinfo -F parm dummy lists numdummies): the kernel would ignore it` },
        ]);
        const noModinfo = parseModuleSnapshot(READ.replace(/^(parms|modinfo-parm)\t.*\n/gm, ""));
        assert.deepEqual(moduleProblems(moduleSpecs(inputs([{ name: "dummy", parameters: { no_such_param: 3 } }])), noModinfo, TARGET), [], "no modinfo: not judged");
        assert.deepEqual(moduleProblems(moduleSpecs(inputs([{ name: "dummy", parameters: { numdummies: "many" } }])), s, TARGET), [
            { property: "modules[0].parameters.numdummies", reason: `${TARGET}: dummy.numdummies (int) must be an integer from -2147483648 to 2147483647 (decimal, 0x hex or 0 octal); got "many"` },
        ]);
        assert.deepEqual(moduleProblems(moduleSpecs(inputs([{ name: "dummy", parameters: { numdummies: "0x10" } }])), s, TARGET), []);
        const bare = parseModuleSnapshot(READ.replace("modprobe\t/usr/sbin/modprobe", "modprobe\t"));
        assert.match(moduleProblems(moduleSpecs(inputs(["tcp_bbr"])), bare, TARGET)[0].reason, /has no modprobe/);
        assert.deepEqual(moduleProblems(moduleSpecs(inputs(["tcp_bbr", "rtnl-link-dummy"])), s, TARGET), [
            { property: "modules[1]", reason: `${TARGET}: rtnl_link_dummy is an alias of the kernel module dummy (modprobe -R rtnl_link_dummy): declare dummy, the name the kernel lists in /sys/module` },
        ]);
        const noResolve = parseModuleSnapshot(READ.replace(/^resolves\t.*\n/gm, ""));
        assert.deepEqual(moduleProblems(moduleSpecs(inputs(["rtnl_link_dummy"])), noResolve, TARGET), [], "a modprobe without -R (busybox): not judged");
        assert.deepEqual(moduleProblems(moduleSpecs(inputs(["dummy", "nf_conntrack"])), bare, TARGET), []);
    });

    it("names a module an install rule disables (install NAME /bin/true), and lets other install commands through", function () {
        const probed = (output: string) => parseModuleSnapshot(READ.replace("probe\ttcp_bbr\t0\t", `probe\ttcp_bbr\t0\t${output}`));
        for (const rule of ["install /bin/true", "install /usr/bin/false", "install true"]) {
            const problems = moduleProblems(moduleSpecs(inputs(["tcp_bbr"])), probed(`${rule} `), TARGET);
            assert.deepEqual(problems.map((p) => p.property), ["modules[0]"], rule);
            assert.match(problems[0].reason, new RegExp(`tcp_bbr is disabled on this host: a modprobe.d install rule has modprobe run "${rule}" instead of loading it`));
        }
        for (const fine of ["insmod /lib/modules/6.1.0-18-amd64/kernel/net/ipv4/tcp_bbr.ko ", "install /sbin/modprobe --ignore-install tcp_bbr ", "install /usrtrue", "install /bin/truer"]) {
            assert.deepEqual(moduleProblems(moduleSpecs(inputs(["tcp_bbr"])), probed(fine), TARGET), [], fine);
        }
    });
});

describe("KernelModule: planning", function () {
    const options = { resourceName: "mods", persist: true, restoreOnDelete: true };

    it("loads only what is not loaded, records what was there before, and writes both files", function () {
        const specs = moduleSpecs(inputs(["tcp_bbr", { name: "dummy", parameters: { numdummies: 3 } }, "nf_conntrack"]));
        const plan = planModules(specs, options, parseModuleSnapshot(READ), FILES, TARGET);
        assert.deepEqual(plan.changes.load, [{ name: "tcp_bbr", parameters: {}, ours: true, brings: ["tcp_bbr"] }], "only what it brings counts as its own");
        const withDependency = parseModuleSnapshot(READ.replace("probe\ttcp_bbr\t0\t", "probe\ttcp_bbr\t0\tinsmod /lib/modules/6.1.0/kernel/net/ipv4/tcp-cong-base.ko insmod /lib/modules/6.1.0/kernel/net/ipv4/tcp_bbr.ko.xz "));
        assert.deepEqual(planModules(moduleSpecs(inputs(["tcp_bbr"])), options, withDependency, FILES, TARGET).changes.load[0].brings, ["tcp_cong_base", "tcp_bbr"], "what modprobe -n -v would insert with it");
        const reload = planModules(moduleSpecs(inputs(["tcp_bbr"])), options, parseModuleSnapshot(READ), FILES, TARGET, { originals: { tcp_bbr: "loaded" }, loadedByUs: {} });
        assert.deepEqual(reload.changes.load, [{ name: "tcp_bbr", parameters: {}, ours: false, brings: ["tcp_bbr"] }], "loaded again after someone unloaded it: still the host's, and so is what it brings in");
        assert.deepEqual(plan.record.originals, { tcp_bbr: "not loaded", dummy: "loaded", nf_conntrack: "built-in" });
        assert.match(plan.changes.files.load!.content, /\ntcp_bbr\ndummy\nnf_conntrack\n$/);
        assert.match(plan.changes.files.options!.content, /\noptions dummy numdummies=3\n$/);
        assert.deepEqual(plan.record.managedFiles!.originals, { [FILES.load]: { kind: "absent" }, [FILES.options]: { kind: "absent" } });
        assert.match(plan.warnings[0], /dummy is already loaded, and keeps numdummies=2; numdummies=3 applies when it is next loaded/);
        assert.deepEqual(plan.changes.parameters, [], "a module loaded before this resource keeps its values");
        assert.deepEqual(plan.record.parameterFiles, ["/sys/module/dummy/parameters/numdummies"]);
        assert.ok(moduleItems(plan.record).includes("/sys/module/dummy/parameters/numdummies"), "claimed: a SysfsSet writing it would fight this resource");
    });

    it("unloads what a dropped module brought in, never what was loaded before, and delete restores the files", function () {
        const snapshot = parseModuleSnapshot(READ.replace(`absent\t${FILES.load}`, `file\t${FILES.load}\t${Buffer.from("ours\n").toString("base64")}`));
        const previous = {
            originals: { tcp_diag: "not loaded" as const, dummy: "loaded" as const },
            loadedByUs: { tcp_diag: ["tcp_diag", "inet_diag"] },
            managedFiles: { originals: { [FILES.load]: { kind: "absent" as const } }, written: { [FILES.load]: { kind: "file" as const, content: "ours\n" } }, createdDirs: ["/etc/modprobe.d"] },
        };
        const update = planModules(moduleSpecs(inputs(["dummy"])), options, snapshot, FILES, TARGET, previous);
        assert.deepEqual(update.changes.unload, ["tcp_diag", "inet_diag"]);
        assert.deepEqual(update.record.loadedByUs, {});
        const restore = planModulesRestore(previous, snapshot, FILES, true, TARGET);
        assert.deepEqual(restore.changes.unload, ["tcp_diag", "inet_diag"]);
        assert.equal(restore.changes.files.load, null);
        assert.deepEqual(restore.changes.rmdir, ["/etc/modprobe.d"]);
        assert.deepEqual(planModulesRestore(previous, snapshot, FILES, false, TARGET).changes.unload, []);
    });

    it("leaves loaded, with a warning, a module another modules-load.d file loads at boot (kubeadm's br_netfilter), on delete and on an update dropping it", function () {
        const snapshot = parseModuleSnapshot(`${READ}\nloads-elsewhere\t/etc/modules-load.d/k8s.conf\tinet_diag\n`);
        assert.equal(snapshot.loadedElsewhere.get("inet_diag"), "/etc/modules-load.d/k8s.conf");
        const previous = { originals: { tcp_diag: "not loaded" as const, dummy: "loaded" as const }, loadedByUs: { tcp_diag: ["tcp_diag", "inet_diag"] } };
        const warning = `${TARGET}: left inet_diag loaded: /etc/modules-load.d/k8s.conf loads it at boot too, so something on this host relies on it`;
        const restore = planModulesRestore(previous, snapshot, FILES, true, TARGET);
        assert.deepEqual([restore.changes.unload, restore.warnings], [["tcp_diag"], [warning]]);
        const update = planModules(moduleSpecs(inputs(["dummy"])), options, snapshot, FILES, TARGET, previous);
        assert.deepEqual(update.changes.unload, ["tcp_diag"]);
        assert.ok(update.warnings.includes(warning));
        assert.deepEqual(update.record.stillToUnload, { tcp_diag: ["tcp_diag"] }, "inet_diag not left to a later update either");
        // The module a file lists uses another this resource loaded (br_netfilter on bridge): both stay.
        const top = parseModuleSnapshot(`${READ}\nloads-elsewhere\t/etc/modules-load.d/k8s.conf\ttcp_diag\n`);
        const keptBoth = planModulesRestore(previous, top, FILES, true, TARGET);
        assert.deepEqual(keptBoth.changes.unload, []);
        assert.deepEqual(keptBoth.warnings, [`${TARGET}: left tcp_diag loaded: /etc/modules-load.d/k8s.conf loads it at boot too, so something on this host relies on it`, `${TARGET}: left inet_diag loaded too: in use by what stays`]);
        const dropBoth = planModules(moduleSpecs(inputs(["dummy"])), options, top, FILES, TARGET, previous);
        assert.deepEqual([dropBoth.changes.unload, dropBoth.record.stillToUnload], [[], undefined], "nothing left claimed for a later update");
    });

    it("leaves loaded what a module loaded at boot uses, though that module is none of this resource's (kubeadm's br_netfilter on the bridge it loaded)", function () {
        const holder = `${READ}\nloaded\tbr_netfilter\t0\t\nloaded\tbridge\t1\tbr_netfilter \nloads-elsewhere\t/etc/modules-load.d/k8s.conf\tbr_netfilter\n`;
        const previous = { originals: { bridge: "not loaded" as const, dummy: "loaded" as const }, loadedByUs: { bridge: ["bridge"] } };
        const update = planModules(moduleSpecs(inputs(["dummy"])), options, parseModuleSnapshot(holder), FILES, TARGET, previous);
        assert.deepEqual([update.changes.unload, update.record.stillToUnload], [[], undefined], "not retried at every up while br_netfilter holds it");
        assert.deepEqual(update.warnings, [`${TARGET}: left bridge loaded too: in use by what stays`]);
        const unheld = planModules(moduleSpecs(inputs(["dummy"])), options, parseModuleSnapshot(holder.replace("loads-elsewhere\t/etc/modules-load.d/k8s.conf\tbr_netfilter\n", "")), FILES, TARGET, previous);
        assert.deepEqual(unheld.changes.unload, ["bridge"], "a holder no boot file loads may go: rmmod is the judge");
    });

    it("takes the command line's modules_load= (and rd.modules_load=) as loading at boot, as systemd-modules-load does", function () {
        const snapshot = parseModuleSnapshot(`${READ}\ncmdline\tBOOT_IMAGE=/vmlinuz modules_load=tcp-diag rd.modules_load=dummy,vfio quiet`);
        assert.deepEqual([...snapshot.loadedElsewhere], [["tcp_diag", "/proc/cmdline"], ["dummy", "/proc/cmdline"], ["vfio", "/proc/cmdline"]]);
        assert.deepEqual(snapshot.otherOptions, [], "rd.modules_load= is no option of a module named rd");
        const previous = { originals: { tcp_diag: "not loaded" as const, dummy: "loaded" as const }, loadedByUs: { tcp_diag: ["tcp_diag", "inet_diag"] } };
        const restore = planModulesRestore(previous, snapshot, FILES, true, TARGET);
        assert.deepEqual(restore.changes.unload, []);
        assert.match(restore.warnings[0], /left tcp_diag loaded: \/proc\/cmdline loads it at boot too/);
    });

    it("an update that puts back the options file also removes the directory it made for it, and keeps the one the load file still lies in", function () {
        const ours = (content: string) => ({ kind: "file" as const, content });
        const snapshot = parseModuleSnapshot(
            READ.replace(`absent\t${FILES.load}`, `file\t${FILES.load}\t${Buffer.from("ours\n").toString("base64")}`).replace(`absent\t${FILES.options}`, `file\t${FILES.options}\t${Buffer.from("opts\n").toString("base64")}`),
        );
        const loadDir = FILES.load.slice(0, FILES.load.lastIndexOf("/"));
        const optionsDir = FILES.options.slice(0, FILES.options.lastIndexOf("/"));
        const previous = {
            originals: { dummy: "loaded" as const },
            loadedByUs: {},
            managedFiles: { originals: { [FILES.load]: ABSENT, [FILES.options]: ABSENT }, written: { [FILES.load]: ours("ours\n"), [FILES.options]: ours("opts\n") }, createdDirs: [loadDir, optionsDir] },
        };
        const update = planModules(moduleSpecs(inputs(["dummy"])), options, snapshot, FILES, TARGET, previous);
        assert.equal(update.changes.files.options, null, "the options file goes back to absent");
        assert.deepEqual(update.changes.rmdir, [optionsDir]);
        assert.deepEqual(update.record.managedFiles!.createdDirs, [loadDir]);
    });

    it("never unloads a module still declared, and keeps one it brought in as a dependency as its own", function () {
        // nf_nat loaded nf_conntrack (as a dependency); now only nf_conntrack is declared.
        const snapshot = parseModuleSnapshot(READ.replace("builtin\tnf_conntrack", "loaded\tnf_conntrack\t1\tnf_nat \nloaded\tnf_nat\t0\t"));
        const previous = { originals: { nf_nat: "not loaded" as const }, loadedByUs: { nf_nat: ["nf_conntrack", "nf_nat"] } };
        const update = planModules(moduleSpecs(inputs(["nf_conntrack"])), options, snapshot, FILES, TARGET, previous);
        assert.deepEqual(update.changes.unload, ["nf_nat"]);
        assert.deepEqual(update.changes.load, []);
        assert.deepEqual(update.record.originals, { nf_conntrack: "not loaded" });
        assert.deepEqual(update.record.loadedByUs, { nf_conntrack: ["nf_conntrack"] });
        assert.deepEqual(update.record.stillToUnload, { nf_nat: ["nf_nat"] });
        assert.deepEqual(planModulesRestore(update.record, snapshot, FILES, true, TARGET).changes.unload, ["nf_nat", "nf_conntrack"], "delete still unloads it: this resource loaded it");
    });

    it("keeps a dropped module that was in use as still to unload, retries it at the next update, and delete unloads it", function () {
        const previous = { originals: { tcp_diag: "not loaded" as const, dummy: "loaded" as const }, loadedByUs: { tcp_diag: ["tcp_diag", "inet_diag"] } };
        const update = planModules(moduleSpecs(inputs(["dummy"])), options, parseModuleSnapshot(READ), FILES, TARGET, previous);
        assert.deepEqual(update.record.stillToUnload, { tcp_diag: ["tcp_diag", "inet_diag"] }, "claimed while the apply unloads them");
        assert.deepEqual(moduleItems(update.record).filter((i) => i.startsWith("module:")), ["module:dummy", "module:tcp_diag", "module:inet_diag"]);
        // rmmod refused inet_diag (another module came to use it): tcp_diag went, inet_diag stays.
        const after = parseModuleSnapshot(READ.replace("loaded\ttcp_diag\t0\t\n", "").replace("loaded\tinet_diag\t1\ttcp_diag ", "loaded\tinet_diag\t1\tudp_diag "));
        const kept = { ...update.record, stillToUnload: pendingUnloads(update.record.stillToUnload!, (m) => after.loaded.has(m)) };
        assert.deepEqual(kept.stillToUnload, { tcp_diag: ["inet_diag"] });
        const retry = planModules(moduleSpecs(inputs(["dummy"])), options, after, FILES, TARGET, kept);
        assert.deepEqual(retry.changes.unload, ["inet_diag"]);
        assert.deepEqual(planModulesRestore(kept, after, FILES, true, TARGET).changes.unload, ["inet_diag"]);
        const redeclared = planModules(moduleSpecs(inputs(["dummy", "inet_diag"])), options, after, FILES, TARGET, kept);
        assert.deepEqual([redeclared.changes.unload, redeclared.record.stillToUnload], [[], undefined]);
        assert.deepEqual([redeclared.record.originals.inet_diag, redeclared.record.loadedByUs.inet_diag], ["not loaded", ["inet_diag"]], "still this resource's load");
        const bothInUse = { ...kept, stillToUnload: { tcp_diag: ["tcp_diag", "inet_diag"] } };
        const again = planModules(moduleSpecs(inputs(["dummy", "tcp_diag"])), options, parseModuleSnapshot(READ), FILES, TARGET, bothInUse);
        assert.deepEqual([again.changes.unload, again.record.stillToUnload, again.record.loadedByUs.tcp_diag], [[], undefined, ["tcp_diag", "inet_diag"]], "declared again: its dependency is its own, not retried");
        const unloadedByHand = parseModuleSnapshot(READ.replace(/^loaded\t(tcp|inet)_diag.*\n/gm, ""));
        assert.equal(planModules(moduleSpecs(inputs(["dummy"])), options, unloadedByHand, FILES, TARGET, kept).record.stillToUnload, undefined);
        assert.equal(planModules(moduleSpecs(inputs(["dummy"])), { ...options, restoreOnDelete: false }, after, FILES, TARGET, kept).record.stillToUnload, undefined);
    });

    it("loads a declared module that another declared one would insert as a dependency first, with its own parameters", function () {
        const probes = [
            "probe\tip_vs_rr\t0\tinsmod /lib/modules/6.1.0-18-amd64/kernel/net/netfilter/ipvs/ip_vs.ko  insmod /lib/modules/6.1.0-18-amd64/kernel/net/netfilter/ipvs/ip_vs_rr.ko.zst ",
            "probe\tip_vs\t0\tinsmod /lib/modules/6.1.0-18-amd64/kernel/net/netfilter/ipvs/ip_vs.ko conn_tab_bits=18 ",
            "parms\tip_vs",
            "modinfo-parm\tip_vs\tconn_tab_bits: (int)",
        ];
        const snapshot = parseModuleSnapshot([READ, ...probes].join("\n"));
        assert.deepEqual(snapshot.inserts.get("ip_vs_rr"), ["ip_vs", "ip_vs_rr"]);
        const plan = planModules(moduleSpecs(inputs(["tcp_bbr", "ip_vs_rr", { name: "ip_vs", parameters: { conn_tab_bits: 18 } }])), { ...options, persist: false }, snapshot, FILES, TARGET);
        assert.deepEqual(plan.changes.load.map((l) => l.name), ["tcp_bbr", "ip_vs", "ip_vs_rr"]);
        assert.deepEqual(plan.changes.load[1].parameters, { conn_tab_bits: "18" });
        const cycle = parseModuleSnapshot([READ, "probe\ta\t0\tinsmod /x/b.ko insmod /x/a.ko", "probe\tb\t0\tinsmod /x/a.ko insmod /x/b.ko"].join("\n"));
        assert.deepEqual(dependenciesFirst([{ name: "a" }, { name: "b" }], cycle).map((l) => l.name), ["b", "a"], "each once, even where the listings loop");
    });

    it("writes a drifted parameter of a module it loaded where the kernel allows it at run time, and says when it cannot", function () {
        const read = READ.replace("param\tdummy\tnumdummies\t2", "param\tdummy\tnumdummies\t2\t444\nloaded\ttcp_htcp\t0\t\nparam\ttcp_htcp\tuse_rtt_scaling\t0\t644\nparam\ttcp_htcp\tbool_one\tY\t644");
        const snapshot = parseModuleSnapshot(read);
        assert.deepEqual([...(snapshot.writableParameters.get("tcp_htcp") ?? [])], ["use_rtt_scaling", "bool_one"]);
        assert.equal(snapshot.writableParameters.get("dummy"), undefined, "0444: root passes test -w, the kernel still refuses");
        const specs = moduleSpecs(inputs([{ name: "dummy", parameters: { numdummies: 3 } }, { name: "tcp_htcp", parameters: { use_rtt_scaling: 1, bool_one: "true" } }]));
        const ours = { originals: { dummy: "not loaded" as const, tcp_htcp: "not loaded" as const }, loadedByUs: { dummy: ["dummy"], tcp_htcp: ["tcp_htcp"] } };
        const plan = planModules(specs, options, snapshot, FILES, TARGET, ours);
        assert.deepEqual(plan.changes.parameters, [{ name: "tcp_htcp", parameter: "use_rtt_scaling", value: "1" }], "bool_one reads back Y for true");
        assert.match(plan.warnings.join("\n"), /dummy is read-only at run time, so it keeps numdummies=2; numdummies=3 applies when it is next loaded/);
        assert.deepEqual(parameterDrift(specs, (name) => snapshot.parameters.get(name), ours.loadedByUs, {}, undefined), ["dummy.numdummies live 2, desired 3", "tcp_htcp.use_rtt_scaling live 0, desired 1"]);
        assert.deepEqual(parameterDrift(specs, (name) => snapshot.parameters.get(name), {}, {}, undefined), [], "only modules this resource loaded");
    });

    it("refuses a symbolic link at a persistence file's path, which a write would go through or replace", function () {
        const masked = parseModuleSnapshot([READ, `link\t${FILES.load}\t/dev/null`].join("\n"));
        assert.equal(masked.links.get(FILES.load), "/dev/null");
        const specs = moduleSpecs(inputs(["tcp_bbr"]));
        assert.throws(() => planModules(specs, options, masked, FILES, TARGET), /persist: root@10\.0\.0\.5:22: \/etc\/modules-load\.d\/pulumi-mods\.conf is a symbolic link \(to \/dev\/null\)/);
        assert.doesNotThrow(() => planModules(specs, { ...options, persist: false }, masked, FILES, TARGET));
    });

    it("takes a value the kernel adjusted when this resource set it (clamped, rounded) as the declared one, until the declared or the live value changes", function () {
        // nf_conntrack's hashsize has its own parser (no modinfo type) and rounds up to whole pages of buckets; writable at run time.
        const read = READ.replace("builtin\tnf_conntrack", "loaded\tnf_conntrack\t0\t").replace("param\tdummy\tnumdummies\t2", "param\tdummy\tnumdummies\t2\t444\nparam\tnf_conntrack\thashsize\t100352\t600");
        const snapshot = parseModuleSnapshot(read);
        const specs = moduleSpecs(inputs([{ name: "nf_conntrack", parameters: { hashsize: 100000 } }, { name: "dummy", parameters: { numdummies: 2 } }]));
        const live = (name: string) => snapshot.parameters.get(name);
        const adjusted = kernelAdjustments(specs, live, snapshot.parameterTypes, (name) => name === "nf_conntrack", undefined);
        assert.deepEqual(adjusted, { nf_conntrack: { hashsize: { declared: "100000", live: "100352" } } });
        assert.deepEqual(kernelAdjustments(specs, live, snapshot.parameterTypes, () => false, undefined), {}, "not set by this apply: not the kernel's answer to it");
        assert.deepEqual(kernelAdjustments(specs, live, snapshot.parameterTypes, () => false, adjusted), adjusted, "kept while both values stand");
        const other = moduleSpecs(inputs([{ name: "nf_conntrack", parameters: { hashsize: 200000 } }]));
        assert.deepEqual(kernelAdjustments(other, live, snapshot.parameterTypes, () => false, adjusted), {}, "another declared value drops it");
        assert.deepEqual(newAdjustmentWarnings(adjusted, undefined, TARGET), [
            `${TARGET}: the kernel made nf_conntrack.hashsize 100352 when given 100000 (its own limit or rounding); 100352 now counts as the declared 100000, not as drift`,
        ]);
        assert.deepEqual(newAdjustmentWarnings(adjusted, adjusted, TARGET), [], "said once, when first made");

        const ours = { originals: { nf_conntrack: "not loaded" as const, dummy: "not loaded" as const }, loadedByUs: { nf_conntrack: ["nf_conntrack"], dummy: ["dummy"] } };
        assert.deepEqual(parameterDrift(specs, live, ours.loadedByUs, {}, adjusted), []);
        assert.deepEqual(parameterDrift(specs, live, ours.loadedByUs, {}, undefined), ["nf_conntrack.hashsize live 100352, desired 100000"]);
        assert.deepEqual(parameterDrift(specs, live, ours.loadedByUs, {}, { nf_conntrack: { hashsize: { declared: "100000", live: "131072" } } }), ["nf_conntrack.hashsize live 100352, desired 100000"], "a live value the kernel did not make: drift");
        assert.deepEqual(planModules(specs, options, snapshot, FILES, TARGET, { ...ours, adjusted }).changes.parameters, [], "not written again (a rehash each up)");
        assert.deepEqual(planModules(specs, options, snapshot, FILES, TARGET, { ...ours, adjusted }).record.adjusted, adjusted);
        assert.deepEqual(planModules(specs, options, snapshot, FILES, TARGET, ours).changes.parameters, [{ name: "nf_conntrack", parameter: "hashsize", value: "100000" }]);
    });

    it("takes a live value in the kernel's own form for the declared one: an integer in decimal, a bool as Y or N, every slot of an array", function () {
        const read = READ.replace("param\tdummy\tnumdummies\t2", "param\tdummy\tnumdummies\t31\t644");
        const snapshot = parseModuleSnapshot(read);
        const ours = { originals: { dummy: "not loaded" as const }, loadedByUs: { dummy: ["dummy"] } };
        for (const declared of ["0x1f", "037", "+31", "31"]) {
            const specs = moduleSpecs(inputs([{ name: "dummy", parameters: { numdummies: declared } }]));
            assert.deepEqual(planModules(specs, options, snapshot, FILES, TARGET, ours).changes.parameters, [], `${declared} is 31: nothing to write`);
            assert.deepEqual(parameterDrift(specs, (name) => snapshot.parameters.get(name), ours.loadedByUs, declaredParameterTypes(specs, snapshot.parameterTypes), undefined), [], `${declared}: no drift`);
        }
        const specs = moduleSpecs(inputs([{ name: "dummy", parameters: { numdummies: "0x1e" } }]));
        assert.deepEqual(declaredParameterTypes(specs, snapshot.parameterTypes), { dummy: { numdummies: "int" } });
        assert.deepEqual(parameterDrift(specs, (name) => snapshot.parameters.get(name), ours.loadedByUs, { dummy: { numdummies: "int" } }, undefined), ["dummy.numdummies live 31, desired 0x1e"]);
        assert.deepEqual(parameterDrift(specs, (name) => snapshot.parameters.get(name), ours.loadedByUs, {}, undefined), ["dummy.numdummies live 31, desired 0x1e"], "no type known: as text");

        assert.ok(sameLiveValue("hexint", "0x0000001f", "31") && sameLiveValue("hexint", "00000000", "0") && !sameLiveValue("hexint", "0x0000001f", "0x1e"));
        assert.ok(sameLiveValue("bool", "N", "off") && sameLiveValue("bool", "Y", "") && sameLiveValue("invbool", "Y", "1") && !sameLiveValue("bool", "Y", "0"));
        assert.ok(sameLiveValue(undefined, "N", "off") && sameLiveValue(undefined, "Y", "enable") && !sameLiveValue(undefined, "1", "Y") && !sameLiveValue(undefined, "16", "0x10"));
        assert.ok(sameLiveValue("array of int", "1,-1,-1,-1", "1") && sameLiveValue("array of bool", "Y,N", "1,0") && sameLiveValue("array of ushort", "21,21", "0x15,025"));
        assert.ok(!sameLiveValue("array of int", "1,-1", "1,2") && !sameLiveValue("array of int", "1", "1,2"), "a declared slot the kernel does not hold differs");
        assert.ok(sameLiveValue("charp", "a,b", "a,b") && !sameLiveValue("charp", "A", "a"));
    });

    it("unloads dependents before what they use, each once", function () {
        assert.deepEqual(unloadOrder({ a: ["a", "dep"], b: ["b"] }, ["a", "b"]), ["b", "a", "dep"]);
    });

    it("reports drift per module and per file", function () {
        const specs = moduleSpecs(inputs(["tcp_bbr", "dummy"]));
        const wanted = { load: "x\n", options: null };
        assert.deepEqual(moduleDrift(specs.map((s) => s.name), parseModuleSnapshot(READ), FILES, wanted), ["tcp_bbr is not loaded", `${FILES.load} is missing`]);
    });

    it("reads a failed load as a rolled-back error naming the module", function () {
        assert.throws(
            () => parseApplyOutput(TARGET, "failed\tdummy\tmodprobe: ERROR: could not insert 'dummy': Invalid argument\nunloaded\ttcp_bbr\n"),
            /root@10\.0\.0\.5:22: dummy: modprobe: ERROR: could not insert 'dummy': Invalid argument\. Every module this operation had loaded was unloaded again, every parameter it had written is back, and the files are as they were\./,
        );
        const ok = parseApplyOutput(TARGET, "new\ttcp_diag\t inet_diag tcp_diag\nin-use\tfoo\trmmod: ERROR: Module foo is in use\ndone\n");
        assert.deepEqual(ok.added, { tcp_diag: ["inet_diag", "tcp_diag"] });
        assert.deepEqual(ok.inUse, [{ name: "foo", message: "rmmod: ERROR: Module foo is in use" }]);
    });
});

describe("KernelModule: ledger", function () {
    const options = { resourceName: "mods", persist: true, restoreOnDelete: true };
    // Before the interrupted run: only dummy loaded. It loaded tcp_diag, which brought inet_diag.
    const BEFORE = READ.replace("loaded\ttcp_diag\t0\t\n", "").replace("loaded\tinet_diag\t1\ttcp_diag \n", "");

    it("reads every host ledger the read program lists", function () {
        const own = hostLedgerPath("kernel-module", "p/s/mods");
        const text = renderHostLedger({ owner: "p/s/mods", items: ["module:tcp_diag"], record: { originals: {} } });
        const s = parseModuleSnapshot([READ, ...ledgerListing(own, text)].join("\n"));
        assert.deepEqual([...s.ledgers.keys()], [own]);
        assert.equal(s.ledgers.get(own)?.owner, "p/s/mods");
        assert.equal(parseModuleSnapshot(READ).ledgers.size, 0);
    });

    it("a create recovering the ledger of a run killed after its loads unloads on delete what that run loaded, with its new dependencies", function () {
        const specs = moduleSpecs(inputs(["tcp_diag", "dummy"]));
        const interrupted = planModules(specs, options, parseModuleSnapshot(BEFORE), FILES, TARGET);
        const ledger = ledgerRecord(interrupted.record, parseModuleSnapshot(BEFORE));
        assert.deepEqual(ledger.loadedBefore, ["dummy"]);
        assert.deepEqual(ledger.originals, { tcp_diag: "not loaded", dummy: "loaded" });

        const now = parseModuleSnapshot(READ);
        const previous = recoveredLoads(JSON.parse(JSON.stringify(ledger)), now);
        assert.deepEqual(previous.loadedByUs, { tcp_diag: ["tcp_diag", "inet_diag"] });
        assert.ok(!("loadedBefore" in previous));
        const create = planModules(specs, options, now, FILES, TARGET, previous);
        assert.deepEqual(create.changes.load, []);
        assert.deepEqual(create.record.originals, { tcp_diag: "not loaded", dummy: "loaded" });
        assert.deepEqual(planModulesRestore(create.record, now, FILES, true, TARGET).changes.unload, ["tcp_diag", "inet_diag"]);
        // Without the ledger, the create would take tcp_diag for one loaded before it, and keep it.
        assert.deepEqual(planModules(specs, options, now, FILES, TARGET).record.originals.tcp_diag, "loaded");
    });

    it("takes for its own a module the interrupted run put in the ledger's items as it loaded it, though no holder link names it (a softdep)", function () {
        const ledger = { originals: { tcp_diag: "not loaded" as const }, loadedByUs: {}, loadedBefore: ["dummy"] };
        const items = ["module:tcp_diag", "module:inet_diag", "module:dummy", "module:gone"];
        // READ has inet_diag held by tcp_diag, and dummy loaded before; "gone" is not loaded now.
        assert.deepEqual(recoveredLoads(ledger, parseModuleSnapshot(READ), items).loadedByUs, { tcp_diag: ["tcp_diag", "inet_diag"] });
        const softdep = READ.replace("loaded\tinet_diag\t1\ttcp_diag ", "loaded\tinet_diag\t0\t");
        assert.deepEqual(recoveredLoads(ledger, parseModuleSnapshot(softdep), items).loadedByUs, { tcp_diag: ["tcp_diag", "inet_diag"] }, "no holder link: from the ledger's items");
        assert.deepEqual(recoveredLoads(ledger, parseModuleSnapshot(softdep)).loadedByUs, { tcp_diag: ["tcp_diag"] }, "without them it would be forgotten");
    });

    it("leaves a module its update unloaded to whoever loads it next: the program took it out of the ledger's items, the record written before still lists it", function () {
        // State after the update that dropped dummy and unloaded it; the ledger was written before that unload.
        const state: ModuleRecord = { originals: { tcp_diag: "not loaded" }, loadedByUs: { tcp_diag: ["tcp_diag", "inet_diag"] } };
        const ledger = { ...state, stillToUnload: { dummy: ["dummy"] }, loadedBefore: ["dummy"] };
        const items = ["module:tcp_diag", "module:inet_diag"];
        // READ: dummy is loaded again, by something else (another stack's KernelModule, which the ledger no longer refused).
        const now = parseModuleSnapshot(READ);
        const recovered = recoveredLoads(ledger, now, items);
        assert.equal(recovered.stillToUnload, undefined);
        assert.deepEqual(recovered.loadedByUs, state.loadedByUs);
        const restore = planModulesRestore(ownLoadsOnly(startingRecord(state, recovered)!), now, FILES, true, TARGET);
        assert.deepEqual(restore.changes.unload, ["tcp_diag", "inet_diag"], "not dummy");
        const update = planModules(moduleSpecs(inputs(["tcp_diag"])), options, now, FILES, TARGET, startingRecord(state, recovered));
        assert.deepEqual(update.changes.unload, []);
        assert.deepEqual(recoveredLoads(ledger, now, [...items, "module:dummy"]).stillToUnload, { dummy: ["dummy"] }, "still claimed (rmmod refused it): still its own");
    });

    it("keeps a declared module something else loaded while the apply ran the host's, though the ledger written before the apply says it was not loaded", function () {
        const state: ModuleRecord = { originals: { tcp_diag: "loaded" }, loadedByUs: {} };
        const ledger = { originals: { tcp_diag: "not loaded" as const }, loadedByUs: {}, loadedBefore: ["dummy"] };
        const now = parseModuleSnapshot(READ);
        const merged = startingRecord(state, recoveredLoads(ledger, now, ["module:tcp_diag"]))!;
        assert.deepEqual(merged.loadedByUs, { tcp_diag: ["tcp_diag", "inet_diag"] }, "what the ledger alone would say");
        assert.deepEqual(ownLoadsOnly(merged).loadedByUs, {});
        assert.deepEqual(planModulesRestore(ownLoadsOnly(merged), now, FILES, true, TARGET).changes.unload, []);
        const ours = { originals: { tcp_diag: "not loaded" as const }, loadedByUs: { tcp_diag: ["tcp_diag"] } };
        assert.deepEqual(ownLoadsOnly(ours), ours, "a load of its own stays");
    });

    it("takes nothing for its own that was loaded before the interrupted run, nor a module that run never got to", function () {
        const ledger = { originals: { tcp_diag: "not loaded" as const, tcp_bbr: "not loaded" as const }, loadedByUs: {}, loadedBefore: ["inet_diag", "dummy"] };
        assert.deepEqual(recoveredLoads(ledger, parseModuleSnapshot(READ)).loadedByUs, { tcp_diag: ["tcp_diag"] });
    });

    it("lists each declared module, each one its loads brought in, and the persistence files", function () {
        const record = { originals: { tcp_diag: "not loaded" as const }, loadedByUs: { tcp_diag: ["inet_diag", "tcp_diag"] }, managedFiles: { originals: { [FILES.load]: { kind: "absent" as const } }, written: {}, createdDirs: [] } };
        assert.deepEqual(moduleItems(record), ["module:tcp_diag", "module:inet_diag", FILES.load]);
    });
});

describe("SysctlSet: settings that need a kernel module", function () {
    const host = (values: Record<string, string | null>): HostSnapshot => ({
        values: new Map(Object.entries(values).map(([k, v]) => [k, v === null ? { state: "missing" as const } : { state: "value" as const, value: v }])),
        ownFile: undefined,
        ownPaths: new Map(),
        otherWriters: [],
        ledgers: new Map(),
    });

    it("reads the available congestion controls only when a congestion key is declared, and module-tree keys themselves", function () {
        assert.deepEqual(moduleProbeKeys({ "net.core.somaxconn": 1 }), []);
        assert.deepEqual(moduleProbeKeys({ "net/ipv4/tcp_congestion_control": "bbr", "net.netfilter.nf_conntrack_max": 1 }), ["net.netfilter.nf_conntrack_max", "net.ipv4.tcp_available_congestion_control"]);
    });

    it("needs tcp_<name> for a congestion control the host does not list, and nf_conntrack for its missing keys", function () {
        const settings = { "net.ipv4.tcp_congestion_control": "bbr", "net.netfilter.nf_conntrack_max": 262144, "net.ipv4.tcp_allowed_congestion_control": "reno cubic htcp" };
        const needs = moduleNeeds(settings, host({ "net.ipv4.tcp_available_congestion_control": "reno cubic", "net.netfilter.nf_conntrack_max": null }));
        assert.deepEqual(needs.map((n) => n.module), ["tcp_bbr", "nf_conntrack", "tcp_htcp"]);
        assert.deepEqual(moduleNeeds(settings, host({ "net.ipv4.tcp_available_congestion_control": "reno cubic bbr htcp", "net.netfilter.nf_conntrack_max": "65536" })), []);
    });

    it("fails naming the key, the module and the host, unless modules lists it (either spelling)", function () {
        const needs = moduleNeeds({ "net.ipv4.tcp_congestion_control": "bbr" }, host({ "net.ipv4.tcp_available_congestion_control": "reno cubic" }));
        assert.deepEqual(missingModules(needs, [], () => false, TARGET), [
            {
                property: 'settings["net.ipv4.tcp_congestion_control"]',
                reason: "bbr needs kernel module tcp_bbr, which is not loaded on root@10.0.0.5:22; load it with a KernelModule and pass it in modules",
            },
        ]);
        assert.deepEqual(missingModules(needs, ["tcp-bbr"], () => false, TARGET), []);
        const missingKey = moduleNeeds({ "net.netfilter.nf_conntrack_max": 1 }, host({ "net.netfilter.nf_conntrack_max": null }));
        assert.match(missingModules(missingKey, [], () => false, TARGET)[0].reason, /^net\.netfilter\.nf_conntrack_max exists only when kernel module nf_conntrack/);
        assert.deepEqual(missingModules(missingKey, [], () => true, TARGET), []);
        assert.equal(missingModules(missingKey, [], (key) => key !== "net.netfilter.nf_conntrack_max", TARGET).length, 1, "a key that is not skipped (one of requiredKeys) is refused");
    });
});

describe("KernelModule: parameter values as the kernel's parsers take them", function () {
    it("reads the name and type from each modinfo -F parm form", function () {
        assert.deepEqual(parseModinfoParm("nested:Enable support for nested virtualization (bool)"), { name: "nested", type: "bool" });
        assert.deepEqual(parseModinfoParm("ports: (array of ushort)"), { name: "ports", type: "array of ushort" });
        assert.deepEqual(parseModinfoParm("hashsize:Hash table size (default: auto)"), { name: "hashsize" }, "a description in parentheses is no type");
        assert.equal(parseModinfoParm("no colon"), undefined);
    });

    it("takes what kstrtobool and kstrto* take, and refuses the rest", function () {
        for (const ok of ["y", "N", "1", "0", "on", "OFF", "yes", "true", "False", "enable", "disable"]) {
            assert.equal(parameterValueProblem("bool", ok), undefined, ok);
        }
        assert.match(parameterValueProblem("bool", "2") ?? "", /^must be y, n, 1, 0, on, off, true or false$/);
        assert.match(parameterValueProblem("invbool", "maybe") ?? "", /must be y, n/);
        assert.equal(parameterValueProblem("int", "-2147483648"), undefined);
        assert.match(parameterValueProblem("int", "2147483648") ?? "", /from -2147483648 to 2147483647/);
        assert.equal(parameterValueProblem("uint", "0xffffffff"), undefined);
        assert.match(parameterValueProblem("uint", "-1") ?? "", /from 0 to 4294967295/);
        assert.equal(parameterValueProblem("uint", "+7"), undefined);
        assert.equal(parameterValueProblem("byte", "0377"), undefined, "octal 255");
        assert.ok(parameterValueProblem("byte", "08"), "8 is no octal digit");
        assert.ok(parameterValueProblem("ulong", "18446744073709551616"));
        assert.equal(parameterValueProblem("charp", "anything,at:all"), undefined);
        assert.equal(parameterValueProblem("my_ops", "whatever"), undefined, "a type with its own parser is not judged");
        assert.equal(parameterValueProblem("array of ushort", "21,2121"), undefined);
        assert.match(parameterValueProblem("array of ushort", "21,99999") ?? "", /in each comma-separated element; "99999" is not$/);
    });
});

describe("KernelModule: other modprobe.d files at boot", function () {
    const own = "/etc/modprobe.d/pulumi-mods.conf";
    const specs = [{ name: "dummy", parameters: { numdummies: "2" } }];
    const types = new Map([["dummy", new Map([["numdummies", "int"]])]]);
    const others = (lines: string[]) => parseModuleSnapshot(lines.map((l) => `options\t${l}`).join("\n")).otherOptions;

    it("reads each options line with its file, names in the kernel's form, a quoted value whole", function () {
        assert.deepEqual(others(["/etc/modprobe.d/zz.conf\toptions  dummy numdummies=5 verbose"]), [{ file: "/etc/modprobe.d/zz.conf", module: "dummy", parameters: { numdummies: "5", verbose: "" } }]);
        assert.deepEqual(others(['/etc/modprobe.d/zz.conf\toptions ip-vs conn-tab-bits="1 2"'])[0], { file: "/etc/modprobe.d/zz.conf", module: "ip_vs", parameters: { conn_tab_bits: "1 2" } });
    });

    it("warns of a file sorting after this resource's that sets a declared parameter otherwise, and only of that", function () {
        const later = others(["/etc/modprobe.d/zz-local.conf\toptions dummy numdummies=4", "/etc/modprobe.d/zz-local.conf\toptions dummy numdummies=5"]);
        assert.deepEqual(overriddenAtBoot(specs, later, own, types, "h1"), [
            "h1: /etc/modprobe.d/zz-local.conf also sets dummy numdummies=5 and comes after /etc/modprobe.d/pulumi-mods.conf in modprobe's order, so at boot dummy loads with numdummies=5, not 2",
        ]);
        assert.deepEqual(overriddenAtBoot(specs, others(["/etc/modprobe.d/aa.conf\toptions dummy numdummies=5"]), own, types, "h1"), [], "an earlier file loses to ours");
        assert.deepEqual(overriddenAtBoot(specs, others(["/usr/lib/modprobe.d/zz.conf\toptions dummy numdummies=0x2"]), own, types, "h1"), [], "the same value, as the int parser reads it");
        assert.deepEqual(overriddenAtBoot(specs, others(["/etc/modprobe.d/zz.conf\toptions tcp_htcp numdummies=5"]), own, types, "h1"), [], "another module");
        const nested = [{ name: "kvm_intel", parameters: { nested: "Y" } }];
        const boolTypes = new Map([["kvm_intel", new Map([["nested", "bool"]])]]);
        assert.deepEqual(overriddenAtBoot(nested, others(["/etc/modprobe.d/zz.conf\toptions kvm_intel nested=1", "/etc/modprobe.d/zz2.conf\toptions kvm_intel nested"]), own, boolTypes, "h1"), [], "1 and a bare bool are Y");
        assert.match(overriddenAtBoot(nested, others(["/etc/modprobe.d/zz.conf\toptions kvm_intel nested=off"]), own, boolTypes, "h1")[0] ?? "", /loads with nested=off, not Y$/);
    });

    it("takes the kernel command line's MODULE.PARAM=VALUE as coming after every file, and modprobe.blacklist= as a blacklist", function () {
        const snapshot = parseModuleSnapshot(
            [
                "options\t/etc/modprobe.d/zz.conf\toptions dummy numdummies=4",
                'cmdline\tBOOT_IMAGE=/vmlinuz quiet dummy.numdummies=7 ip-vs.conn_tab_bits="1 2" modprobe.blacklist=sctp,floppy console=ttyS0 -- init.x=1',
                "blacklist\t/lib/modprobe.d/blacklist.conf\tsoftdog",
            ].join("\n"),
        );
        assert.deepEqual(snapshot.otherOptions.slice(1), [
            { file: "/proc/cmdline", module: "dummy", parameters: { numdummies: "7" } },
            { file: "/proc/cmdline", module: "ip_vs", parameters: { conn_tab_bits: "1 2" } },
        ]);
        assert.deepEqual(snapshot.blacklist, [
            { module: "softdog", file: "/lib/modprobe.d/blacklist.conf" },
            { module: "sctp", file: "/proc/cmdline" },
            { module: "floppy", file: "/proc/cmdline" },
        ]);
        assert.deepEqual(overriddenAtBoot(specs, snapshot.otherOptions, own, types, "h1"), [
            "h1: the kernel command line sets dummy.numdummies=7, which kmod applies after every modprobe.d file, so at boot dummy loads with numdummies=7, not 2",
        ]);
        assert.deepEqual(overriddenAtBoot([{ name: "dummy", parameters: { numdummies: "0x7" } }], snapshot.otherOptions, own, types, "h1"), [], "the same value");
    });

    it("warns of a declared module blacklisted on the host, which systemd-modules-load skips at boot", function () {
        const blacklist = [
            { module: "softdog", file: "/lib/modprobe.d/blacklist_linux.conf" },
            { module: "sctp", file: "/proc/cmdline" },
        ];
        assert.deepEqual(blacklistedAtBoot([{ name: "softdog", parameters: {} }, { name: "sctp", parameters: {} }, { name: "dummy", parameters: {} }], blacklist, FILES.load, "h1"), [
            `h1: /lib/modprobe.d/blacklist_linux.conf blacklists softdog, and systemd-modules-load skips a blacklisted module, so at boot ${FILES.load} does not load it (modprobe, as this resource loads it now, ignores the blacklist)`,
            `h1: the kernel command line's modprobe.blacklist= blacklists sctp, and systemd-modules-load skips a blacklisted module, so at boot ${FILES.load} does not load it (modprobe, as this resource loads it now, ignores the blacklist)`,
        ]);
        const read = parseModuleSnapshot(`${READ}\nblacklist\t/etc/modprobe.d/zz.conf\tdummy`);
        const specs = moduleSpecs(inputs(["dummy"]));
        const options = { resourceName: "mods", persist: true, restoreOnDelete: true };
        assert.match(planModules(specs, options, read, FILES, TARGET).warnings.join("\n"), /zz\.conf blacklists dummy/);
        assert.doesNotMatch(planModules(specs, { ...options, persist: false }, read, FILES, TARGET).warnings.join("\n"), /blacklists/, "nothing persisted, nothing skipped at boot");
    });
});
