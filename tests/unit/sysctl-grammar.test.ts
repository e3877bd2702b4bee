import { strict as assert } from "assert";
import { checkFailures } from "../../provider/check";
import { check as hostTuningCheck } from "../../provider/host-tuning/handlers";
import { isUnsigned, valueProblem } from "../../provider/sysctl/grammar";
import { declaresCpuMask, masksBeyondHost } from "../../provider/sysctl/cpu-masks";
import { portRangeProbeKeys, rangeBelowUnprivileged } from "../../provider/sysctl/port-range";
import { memoryBeyondHost, pageCountedProbeKeys } from "../../provider/sysctl/page-counted";
import { parseReadOutput } from "../../provider/sysctl/remote";
import { persistFileProblem, sysctlSetInputsSchema } from "../../provider/sysctl/schema";
import { MAX_KEYS, settingsSizeProblems } from "../../provider/sysctl/sizes";

function failures(inputs: Record<string, unknown>) {
    return checkFailures(sysctlSetInputsSchema, { resourceName: "t", ...inputs });
}

describe("sysctl value grammars", function () {
    it("refuses negative counts, sizes and timeouts in every value shape", function () {
        for (const value of [-1, [4096, -1, 6291456], "-1", "4096 -1 6291456", { atMost: -1 }, { atLeast: [1, -2, 3] }]) {
            const key = Array.isArray(value) || (typeof value === "string" && value.includes(" ")) || (typeof value === "object" && "atLeast" in value) ? "net.ipv4.tcp_rmem" : "net.ipv4.tcp_fin_timeout";
            assert.match(valueProblem(key, value as never) ?? "", /cannot be negative, got -[12]/, `${key}: ${JSON.stringify(value)}`);
        }
        assert.equal(valueProblem("net.ipv4.tcp_fin_timeout", 0), undefined);
        assert.equal(valueProblem("net/ipv4/tcp_fin_timeout", { atMost: 20 }), undefined);
    });

    it("refuses a number with a leading 0, which the kernel reads as octal (010 is 8) and would read back so on every preview", function () {
        assert.match(valueProblem("net.ipv4.ip_forward", "010") ?? "", /^has 010, which the kernel reads as octal \(a leading 0\), storing 8: write the number without its leading zeros$/);
        assert.match(valueProblem("net.ipv4.tcp_rmem", "4096 087380 6291456") ?? "", /has 087380, .* and refuses \(8 and 9 are no octal digits\)/);
        for (const fine of ["0", "10", "4096 0 6291456", " 8 "]) {
            assert.equal(valueProblem("net.ipv4.tcp_fin_timeout", fine), undefined, fine);
        }
        assert.equal(valueProblem("kernel.sysrq", "0x10"), "has 0x10, which the kernel reads as hexadecimal and shows as 16: write the decimal number", "base 0 takes hex too, and reads back 16");
        assert.match(valueProblem("net.ipv4.tcp_rmem", "4096 0X1000 6291456") ?? "", /^has 0X1000, .* shows as 4096/);
        assert.equal(valueProblem("net.core.rps_default_mask", "f"), undefined, "a CPU mask is hex by its own grammar");
    });

    it("refuses 0 for a writeback byte count, naming the ratio that takes over", function () {
        assert.match(valueProblem("vm.dirty_bytes", 0) ?? "", /cannot be 0 \(the kernel refuses it\): to use vm\.dirty_ratio instead, set that/);
        assert.match(valueProblem("vm.dirty_background_bytes", { atLeast: 0 }) ?? "", /vm\.dirty_background_ratio/);
        assert.equal(valueProblem("vm.dirty_bytes", 268435456), undefined);
        assert.equal(valueProblem("vm.dirty_ratio", 0), undefined);
    });

    it("takes a reserved port list in the form the kernel prints back, so no order of writing is drift", function () {
        const parsed = (value: unknown) => sysctlSetInputsSchema.parse({ resourceName: "t", settings: { "net.ipv4.ip_local_reserved_ports": value } }).settings["net.ipv4.ip_local_reserved_ports"];
        assert.equal(parsed("8080,5061,5060"), "5060-5061,8080");
        assert.equal(parsed("5060-5070,5065-5080,5081"), "5060-5081");
        assert.equal(parsed(8080), "8080");
    });

    it("takes the allowed congestion controls as a set: sorted on both sides, and listing the default declared beside them", function () {
        const parse = (settings: Record<string, unknown>) => sysctlSetInputsSchema.parse({ resourceName: "t", settings }).settings;
        assert.equal(parse({ "net.ipv4.tcp_allowed_congestion_control": "reno cubic bbr" })["net.ipv4.tcp_allowed_congestion_control"], "bbr cubic reno");
        assert.equal(parseReadOutput("value\tnet/ipv4/tcp_allowed_congestion_control\treno bbr\n").values.get("net.ipv4.tcp_allowed_congestion_control")?.state, "value");
        assert.deepEqual(parseReadOutput("value\tnet/ipv4/tcp_allowed_congestion_control\treno bbr\n").values.get("net.ipv4.tcp_allowed_congestion_control"), { state: "value", value: "bbr reno" });
        assert.match(failures({ settings: { "net.ipv4.tcp_congestion_control": "bbr", "net.ipv4.tcp_allowed_congestion_control": "reno cubic" } })[0]?.reason ?? "", /must list bbr, the tcp_congestion_control declared beside it/);
        assert.deepEqual(failures({ settings: { "net.ipv4.tcp_congestion_control": "bbr", "net.ipv4.tcp_allowed_congestion_control": "reno bbr" } }), []);
    });

    it("takes the CPU-mask keys as masks, compared by the CPUs they name, and refuses a bare number", function () {
        const parse = (value: unknown) => sysctlSetInputsSchema.parse({ resourceName: "t", settings: { "net.core.rps_default_mask": value } }).settings["net.core.rps_default_mask"];
        assert.equal(parse("f"), "f");
        assert.equal(parse("00000000,0000000F"), "f");
        assert.equal(parse("1,00000000"), "1,00000000");
        // The kernel pads to the host's CPU count: "00000003" on 32 CPUs reads as the "3" declared.
        assert.deepEqual(parseReadOutput("value\tnet/core/rps_default_mask\t00000000,00000003\n").values.get("net.core.rps_default_mask"), { state: "value", value: "3" });
        assert.deepEqual(failures({ settings: { "net.core.flow_limit_cpu_bitmap": "ff" } }), []);
        assert.match(failures({ settings: { "net.core.rps_default_mask": 3 } })[0]?.reason ?? "", /net\.core\.rps_default_mask takes a CPU mask as the kernel writes one, as a string: a number would read as decimal: .* got "3"/);
        assert.match(failures({ settings: { "net.core.rps_default_mask": "0x3" } })[0]?.reason ?? "", /takes a CPU mask as the kernel writes one: hex digits in 32-bit groups separated by commas/);
        assert.match(failures({ settings: { "net.core.rps_default_mask": "123456789" } })[0]?.reason ?? "", /got "123456789"/, "more than 8 digits in a group");
    });

    it("refuses several numbers for a key the kernel reads one from, and takes them where it reads several", function () {
        assert.match(failures({ settings: { "net.core.somaxconn": "4096 8192" } })[0]?.reason ?? "", /takes one number, got 2: the kernel would keep the first/);
        assert.match(failures({ settings: { "vm.swappiness": [10, 20] } })[0]?.reason ?? "", /takes one number, got 2/);
        assert.deepEqual(failures({ settings: { "net.ipv4.tcp_rmem": [4096, 131072, 6291456], "vm.lowmem_reserve_ratio": "256 256 32 0 0", "kernel.printk": "4 4 1 7" } }), []);
    });

    it("knows which families are unsigned, and leaves signed and unknown keys to the kernel", function () {
        for (const key of [
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_syn_retries",
            "net.ipv4.tcp_max_syn_backlog",
            "net.ipv4.tcp_mem",
            "net.ipv4.tcp_notsent_lowat",
            "net.core.somaxconn",
            "net.core.netdev_max_backlog",
            "net.core.rmem_max",
            "net.core.optmem_max",
            "net.ipv4.udp_mem",
            "net.ipv4.ip_local_port_range",
            "net.netfilter.nf_conntrack_max",
            "net.netfilter.nf_conntrack_tcp_timeout_established",
            "vm.swappiness",
            "vm.dirty_ratio",
            "fs.file-max",
            "kernel.numa_balancing",
        ]) {
            assert.ok(isUnsigned(key), key);
            assert.ok(valueProblem(key, -5), key);
        }
        for (const key of ["net.ipv4.tcp_adv_win_scale", "kernel.sched_rt_runtime_us", "kernel.perf_event_paranoid", "net.ipv4.conf.all.rp_filter", "kernel.printk", "net.ipv4.tcp_something_new"]) {
            assert.ok(!isUnsigned(key), key);
            assert.equal(valueProblem(key, -1), undefined, key);
        }
    });

    it("takes congestion-control and qdisc names only, refusing shell syntax", function () {
        assert.equal(valueProblem("net.ipv4.tcp_congestion_control", "bbr"), undefined);
        assert.equal(valueProblem("net.core.default_qdisc", "fq_codel"), undefined);
        assert.equal(valueProblem("net/core/default_qdisc", " fq "), undefined);
        for (const bad of ["cubic; touch x", "$(touch x)", "`id`", "bbr cubic", "BBR", "fq-codel", "a".repeat(16), "", 7]) {
            assert.match(valueProblem("net.ipv4.tcp_congestion_control", bad as never) ?? "", /takes a congestion-control name/, String(bad));
            assert.match(valueProblem("net.core.default_qdisc", bad as never) ?? "", /takes a qdisc name/, String(bad));
        }
    });

    it("takes a space-separated name list for the allowed congestion controls", function () {
        assert.equal(valueProblem("net.ipv4.tcp_allowed_congestion_control", "reno cubic bbr"), undefined);
        assert.equal(valueProblem("net.ipv4.tcp_allowed_congestion_control", "reno\tcubic"), undefined);
        for (const bad of ["reno,cubic", "reno; reboot", "$(touch x)", [1, 2]]) {
            assert.match(valueProblem("net.ipv4.tcp_allowed_congestion_control", bad as never) ?? "", /names separated by spaces/, String(bad));
        }
    });

    it("takes a port list for the reserved ports", function () {
        const key = "net.ipv4.ip_local_reserved_ports";
        for (const good of ["5060-5061", "8080", "0-65535", "5060-5061,8080,9000-9001", " 8080 ", 8080, 0]) {
            assert.equal(valueProblem(key, good), undefined, String(good));
        }
        assert.match(valueProblem(key, "9000-8000") ?? "", /descending range 9000-8000; write 8000-9000/);
        assert.match(valueProblem(key, "65536") ?? "", /ports 0-65535, got "65536"/);
        assert.match(valueProblem(key, "1-99999") ?? "", /ports 0-65535/);
        assert.match(valueProblem(key, 70000) ?? "", /ports 0-65535, got 70000/);
        for (const bad of ["8080,", ",8080", "8080,,9000", "8080, 9000", "-1", "80-", "a-b", "$(touch x)", "8080 9000"]) {
            assert.match(valueProblem(key, bad) ?? "", /takes a port list/, bad);
        }
        assert.match(valueProblem(key, [8080, 8081]) ?? "", /port list string/);
        assert.match(valueProblem(key, { atLeast: 1 }) ?? "", /port list string/);
    });

    it("takes exactly the number of values the kernel reads for the vector keys, in every value shape", function () {
        for (const key of ["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem", "net.ipv4.tcp_mem", "net/ipv4/udp_mem"]) {
            assert.equal(valueProblem(key, [4096, 131072, 6291456]), undefined, key);
            assert.equal(valueProblem(key, "4096 131072\t6291456"), undefined, key);
            assert.equal(valueProblem(key, { atLeast: [4096, 131072, 6291456] }), undefined, key);
        }
        assert.match(valueProblem("net.ipv4.tcp_rmem", [4096, 131072, 6291456, 7]) ?? "", /takes exactly 3 values, got 4 .*drop the extra ones/);
        assert.match(valueProblem("net.ipv4.tcp_wmem", "4096 131072 6291456 7") ?? "", /takes exactly 3 values, got 4/);
        assert.match(valueProblem("net.ipv4.tcp_mem", 4096) ?? "", /takes exactly 3 values, got 1 .*keep the others as they are/);
        assert.match(valueProblem("net.ipv4.udp_mem", { atLeast: 4096 }) ?? "", /takes exactly 3 values, got 1/);
        assert.match(valueProblem("net.ipv4.ip_local_port_range", [1024, 2048, 4096]) ?? "", /takes exactly 2 values, got 3/);
        assert.match(valueProblem("net.ipv4.ip_local_port_range", 1024) ?? "", /takes exactly 2 values, got 1/);
    });

    it("takes a port range within 1-65535 whose end is not below its start", function () {
        const key = "net.ipv4.ip_local_port_range";
        for (const good of [[32768, 60999], [1024, 1024], [1, 65535], "32768 60999"] as const) {
            assert.equal(valueProblem(key, good as never), undefined, String(good));
        }
        assert.match(valueProblem(key, [60000, 1024]) ?? "", /end is not below its start, got 60000 1024/);
        assert.match(valueProblem(key, "60000 1024") ?? "", /end is not below its start/);
        assert.match(valueProblem(key, [1024, 99999]) ?? "", /two ports within 1-65535, got 1024 99999/);
        assert.match(valueProblem(key, [0, 1024]) ?? "", /two ports within 1-65535, got 0 1024/);
    });

    it("refuses values above 2^31-1 for keys the kernel keeps in an int, and only for those", function () {
        const tooLarge = [
            ["net.ipv4.tcp_fin_timeout", 2 ** 31],
            ["net.core.somaxconn", 2 ** 40],
            ["net/core/rmem_max", "2147483648"],
            ["net.ipv4.tcp_rmem", [4096, 131072, 2 ** 31]],
            ["vm.max_map_count", { atLeast: 2 ** 31 }],
            ["kernel.pid_max", "99999999999999999999"],
            ["fs.inotify.max_user_watches", 2 ** 32],
        ] as const;
        for (const [key, value] of tooLarge) {
            assert.match(valueProblem(key, value as never) ?? "", /is a C int in the kernel, at most 2147483647 \(2\^31-1\), got \d+/, key);
        }
        assert.equal(valueProblem("net.core.somaxconn", 2 ** 31 - 1), undefined);
        // unsigned long and unsigned int keys take more
        assert.equal(valueProblem("net.ipv4.tcp_mem", [2 ** 31, 2 ** 32, 2 ** 33]), undefined);
        assert.equal(valueProblem("fs.file-max", 2 ** 40), undefined);
        assert.equal(valueProblem("net.ipv4.tcp_notsent_lowat", 2 ** 31), undefined);
        assert.equal(valueProblem("vm.dirty_bytes", 2 ** 33), undefined);
    });

    it("takes only numbers for kernel.pid_max, threads-max, the fs maxima and per-interface keys", function () {
        const numeric = ["kernel.pid_max", "kernel.threads-max", "fs.file-max", "fs.aio-max-nr", "fs.inotify.max_user_watches", "fs.pipe-max-size", "net.ipv4.conf.all.rp_filter", "net/ipv4/conf/eth0.100/rp_filter", "net.ipv6.conf.eth1.disable_ipv6"];
        for (const key of numeric) {
            for (const bad of ["abc", "yes"]) {
                const found = failures({ settings: { [key]: bad } });
                assert.deepEqual(found, [{ property: `settings[${JSON.stringify(key)}]`, reason: `${key} takes numbers, got "${bad}"` }], key);
            }
            assert.deepEqual(failures({ settings: { [key]: "1" } }), [], key);
        }
        assert.deepEqual(failures({ settings: { "net.ipv6.conf.eth1.stable_secret": "fe80::1:2:3:4" } }), []);
    });

    it("takes a qdisc Linux ships for default_qdisc", function () {
        for (const good of ["fq", "fq_codel", "cake", "pfifo_fast", "noqueue"]) {
            assert.equal(valueProblem("net.core.default_qdisc", good), undefined, good);
        }
        assert.match(valueProblem("net.core.default_qdisc", "fq_codle") ?? "", /takes a qdisc Linux ships, such as "fq" or "fq_codel", got "fq_codle"/);
    });

    it("takes TCP Fast Open keys only as the kernel prints them, never echoing the key", function () {
        const key = "net.ipv4.tcp_fastopen_key";
        const primary = "0123abcd-00000001-deadbeef-0000000f";
        assert.equal(valueProblem(key, primary), undefined);
        assert.equal(valueProblem(key, `${primary},00000002-00000003-00000004-00000005`), undefined);
        for (const bad of ["a-b-c-d", primary.toUpperCase(), primary.replace(/-/g, ""), `${primary},${primary},${primary}`, `${primary}, ${primary}`, "0123abcd-00000001-deadbeef", "0x123abc-00000001-deadbeef-0000000f", 7]) {
            const problem = valueProblem(key, bad as never) ?? "";
            assert.match(problem, /four groups of 8 lowercase hex digits joined by "-", optionally a comma and a backup key/, String(bad));
            assert.ok(!problem.includes(String(bad)), "the key is not echoed");
        }
    });

    it("fails check naming each property once, and keeps long values out of the message", function () {
        const found = failures({
            settings: {
                "net.ipv4.tcp_fin_timeout": -1,
                "net.ipv4.tcp_congestion_control": "cubic; touch x",
                "net.core.default_qdisc": "$(touch x)",
                "net.ipv4.ip_local_reserved_ports": "9000-8000",
                "net.ipv4.tcp_allowed_congestion_control": "x".repeat(3000),
                "net.ipv4.tcp_rmem": [4096, 131072, 6291456, 7],
                "net.ipv4.ip_local_port_range": [60000, 1024],
            },
        });
        assert.deepEqual(found.map((f) => f.property).sort(), [
            'settings["net.core.default_qdisc"]',
            'settings["net.ipv4.ip_local_port_range"]',
            'settings["net.ipv4.ip_local_reserved_ports"]',
            'settings["net.ipv4.tcp_allowed_congestion_control"]',
            'settings["net.ipv4.tcp_congestion_control"]',
            'settings["net.ipv4.tcp_fin_timeout"]',
            'settings["net.ipv4.tcp_rmem"]',
        ]);
        assert.ok(found.every((f) => f.reason.length < 300), JSON.stringify(found.map((f) => f.reason.length)));
    });
});

describe("sysctl persistence file and sizes", function () {
    it("refuses paths the kernel would refuse, once each", function () {
        const long = `/etc/sysctl.d/${"a".repeat(4980)}.conf`;
        assert.match(persistFileProblem(long) ?? "", /is 4999 characters; a path is at most 4095 \(PATH_MAX\)/);
        assert.match(persistFileProblem(`/etc/sysctl.d/${"a".repeat(300)}.conf`) ?? "", /305-character file name; each path component is at most 255 \(NAME_MAX\)/);
        assert.equal(persistFileProblem(`/etc/sysctl.d/${"a".repeat(250)}.conf`), undefined);
        assert.match(persistFileProblem("/etc/sysctl.d/sub/x.conf") ?? "", /directly in \/etc\/sysctl\.d\//);
        assert.match(persistFileProblem("/etc/sysctl.d/x.txt") ?? "", /\.conf file/);
        const found = failures({ settings: { "vm.swappiness": 10 }, persistFile: long });
        assert.deepEqual(found.map((f) => f.property), ["persistFile"]);
    });

    it("refuses a default file name made too long by the resource name", function () {
        const found = checkFailures(sysctlSetInputsSchema, { resourceName: "r".repeat(300), settings: { "vm.swappiness": 10 } });
        assert.deepEqual(found.map((f) => f.property), ["persistFile"]);
        assert.match(found[0].reason, /set persistFile/);
        assert.deepEqual(checkFailures(sysctlSetInputsSchema, { resourceName: "r".repeat(300), settings: { "vm.swappiness": 10 }, persist: false }), []);
    });

    it("finds oversized keys, values and key counts before registration, naming the property", function () {
        assert.deepEqual(settingsSizeProblems({ "net.core.somaxconn": 4096 }), []);
        const key = `net.core.${"a".repeat(100000)}`;
        const [problem] = settingsSizeProblems({ [key]: 1 });
        assert.match(problem, /^settings\["net\.core\.a+…"\]: the key is 100009 characters; a sysctl key is at most 255$/);
        assert.ok(problem.length < 200);
        assert.match(settingsSizeProblems({ "kernel.x": "v".repeat(5000) })[0], /settings\["kernel\.x"\]: the value is 5000 characters; a sysctl value is at most 4096/);
        const many = Object.fromEntries(Array.from({ length: MAX_KEYS + 1 }, (_, i) => [`vm.k${i}`, 1]));
        assert.match(settingsSizeProblems(many)[0], /settings has 1001 keys; at most 1000/);
        assert.deepEqual(settingsSizeProblems(undefined), []);
        // A key the constructor could not see (an Output) is still refused at check, without echoing it.
        const [atCheck] = failures({ settings: { [`net.core.${"a".repeat(5000)}`]: 1 } });
        assert.match(atCheck.reason, /^the 5009-character key "net\.core\.a+…" must be 1-255 characters$/);
    });
});

describe("grammar failures through HostTuning", function () {
    it("reach its check, prefixed with the part", async function () {
        const result = await hostTuningCheck({}, {
            resourceName: "h1",
            sysctls: { settings: { "net.ipv4.tcp_fin_timeout": -1, "net.core.default_qdisc": "$(touch x)" }, persistFile: `/etc/sysctl.d/${"a".repeat(300)}.conf` },
        });
        assert.deepEqual((result.failures ?? []).map((f) => f.property).sort(), [
            "sysctls.persistFile",
            'sysctls.settings["net.core.default_qdisc"]',
            'sysctls.settings["net.ipv4.tcp_fin_timeout"]',
        ]);
    });
});

describe("sysctl checks against the host's own values", function () {
    it("refuses an ephemeral port range starting below the host's ip_unprivileged_port_start, and only then", function () {
        const host = (start: string) => parseReadOutput(`value\tnet/ipv4/ip_unprivileged_port_start\t${start}\n`);
        const settings = { "net.ipv4.ip_local_port_range": [512, 61000] };
        assert.deepEqual(portRangeProbeKeys(settings), ["net.ipv4.ip_unprivileged_port_start"]);
        assert.match(rangeBelowUnprivileged(settings, host("1024"), "h1")[0]?.reason ?? "", /^h1: starts at 512, below net\.ipv4\.ip_unprivileged_port_start \(1024\) there/);
        assert.deepEqual(rangeBelowUnprivileged(settings, host("0"), "h1"), [], "a host that lowered it takes the range");
        assert.deepEqual(rangeBelowUnprivileged({ "net.ipv4.ip_local_port_range": "1024 65000" }, host("1024"), "h1"), []);
    });

    it("takes covers only for a range key, as a range the kernel would take; judged against ip_unprivileged_port_start as a fixed range is", function () {
        const failures = (settings: Record<string, unknown>) => checkFailures(sysctlSetInputsSchema, { resourceName: "t", settings }).map((f) => f.reason);
        assert.deepEqual(failures({ "net.ipv4.ip_local_port_range": { covers: [10240, 65535] } }), []);
        assert.match(failures({ "net.core.somaxconn": { covers: [1, 2] } })[0] ?? "", /net\.core\.somaxconn takes no covers: it is for net\.ipv4\.ip_local_port_range; use atLeast or atMost/);
        assert.match(failures({ "net.ipv4.ip_local_port_range": { covers: [65535, 10240] } })[0] ?? "", /end is not below its start/);
        assert.match(failures({ "net.ipv4.ping_group_range": { covers: [1000, 1999] } })[0] ?? "", /takes no covers/, "its 1 0 (no group) is no range to widen");
        assert.match(failures({ "net.ipv4.ip_local_port_range": { covers: [10240] } })[0] ?? "", /must be/);
        const host = parseReadOutput("value\tnet/ipv4/ip_unprivileged_port_start\t1024\n");
        assert.match(rangeBelowUnprivileged({ "net.ipv4.ip_local_port_range": { covers: [512, 65535] } }, host, "h1")[0]?.reason ?? "", /starts at 512, below/);
        assert.deepEqual(rangeBelowUnprivileged({ "net.ipv4.ip_local_port_range": { covers: [2048, 65535] } }, host, "h1"), []);
    });

    it("refuses a CPU mask naming a CPU beyond the host's possible CPUs, and only then", function () {
        const host = (possible: string) => parseReadOutput(`value\tnet/core/rps_default_mask\t0\npossible\t${possible}\n`);
        const settings = sysctlSetInputsSchema.parse({ resourceName: "t", settings: { "net.core.rps_default_mask": "00000000,0000000c" } }).settings;
        assert.ok(declaresCpuMask(settings));
        assert.ok(!declaresCpuMask({ "net.core.somaxconn": 4096 }));
        assert.deepEqual(host("0-1").possibleCpus, [0, 1]);
        assert.deepEqual(
            masksBeyondHost(settings, host("0-1"), "h2").map((f) => f.property),
            ['settings["net.core.rps_default_mask"]'],
        );
        assert.match(masksBeyondHost(settings, host("0-1"), "h2")[0]?.reason ?? "", /^h2: names CPUs 2-3, but this host's CPUs are 0-1; the kernel refuses it \(EOVERFLOW\)$/);
        assert.match(masksBeyondHost(settings, host("0-2"), "h2")[0]?.reason ?? "", /names CPU 3,/);
        assert.deepEqual(masksBeyondHost(settings, host("0-3"), "h2"), []);
        assert.deepEqual(masksBeyondHost(settings, host("0-1,3"), "h2"), [], "a gap in the possible CPUs is within the kernel's mask");
        assert.deepEqual(masksBeyondHost(settings, parseReadOutput("possible\tgarbage\n"), "h2"), [], "an unreadable CPU list judges nothing");
        assert.deepEqual(masksBeyondHost({ "net.core.rps_default_mask": "0" }, host("0"), "h2"), []);
    });

    it("refuses a tcp_mem or udp_mem whose maximum reaches the host's RAM in its own pages, and only then", function () {
        // 16 GiB: 4194304 pages of 4 KiB, 262144 of 64 KiB.
        const host = (pageKiB: number) => parseReadOutput(`value\tnet/ipv4/udp_mem\t1 2 3\nmemory\t16777216\t${pageKiB}\n`);
        const sip = { "net.ipv4.udp_mem": [524288, 699050, 1048576] }; // a quarter of 16 GiB in 4 KiB pages
        assert.deepEqual(pageCountedProbeKeys({ ...sip, "net.core.somaxconn": 4096 }), ["net.ipv4.udp_mem"]);
        assert.deepEqual(host(4).memory, { totalKiB: 16777216, pageKiB: 4 });
        assert.deepEqual(memoryBeyondHost(sip, host(4), "h1"), []);
        assert.match(
            memoryBeyondHost(sip, host(64), "h1")[0]?.reason ?? "",
            /^h1: allows UDP buffers 1048576 pages, 64\.0 GiB at this host's 64 KiB pages, not less than its 16\.0 GiB of RAM: the kernel would never press on them/,
        );
        assert.deepEqual(memoryBeyondHost({ "net.ipv4.tcp_mem": "1 2 4194304" }, host(4), "h1").map((f) => f.property), ['settings["net.ipv4.tcp_mem"]'], "equal to the RAM is refused too");
        assert.deepEqual(memoryBeyondHost({ "net.ipv4.tcp_mem": { atLeast: [1, 2, 4194304] } }, host(4), "h1").length, 1);
        assert.deepEqual(memoryBeyondHost({ "net.ipv4.tcp_mem": { atMost: [1, 2, 4194304] } }, host(4), "h1"), [], "at most: it can only lower it");
        assert.deepEqual(memoryBeyondHost(sip, parseReadOutput("memory\t\t\n"), "h1"), [], "a host whose memory could not be read judges nothing");
    });
});
