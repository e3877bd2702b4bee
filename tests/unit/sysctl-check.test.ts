import { strict as assert } from "assert";
import { checkFailures } from "../../provider/check";
import { claimInRun } from "../../provider/host/ledger";
import { checkSysctls } from "../../provider/sysctl/handlers";
import { planApply, unwritableKeys } from "../../provider/sysctl/plan";
import { restrictedCongestionControl } from "../../provider/sysctl/netns";
import { parseReadOutput } from "../../provider/sysctl/remote";
import { sysctlSetInputsSchema } from "../../provider/sysctl/schema";
import { UNKNOWN } from "../../provider/unknowns";

function failures(inputs: Record<string, unknown>) {
    return checkFailures(sysctlSetInputsSchema, { resourceName: "t", ...inputs });
}

describe("SysctlSet check", function () {
    it("passes good inputs", function () {
        assert.deepEqual(
            failures({
                settings: { "net.core.somaxconn": 65535, "net.ipv4.tcp_rmem": [4096, 131072, 16777216], "net.core.default_qdisc": "fq", "net.ipv4.tcp_fin_timeout": { atMost: 20 } },
                connection: { host: "10.0.0.5", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq" },
            }),
            [],
        );
    });

    it("names the property for each problem", function () {
        const found = failures({
            settings: { "net.core.somaxconn": "lots", "net.ipv4.tcp_tw_recycle": 0, "kernel.x": "a\nb", "net.core.rmem_max": 1.5 },
            connection: { host: "bad host; rm -rf /", port: 70000 },
            onMissing: "ignore",
        });
        const byProperty = new Map(found.map((f) => [f.property, f.reason]));
        assert.match(byProperty.get('settings["net.core.somaxconn"]') ?? "", /takes numbers/);
        assert.match(byProperty.get('settings["net.ipv4.tcp_tw_recycle"]') ?? "", /removed/);
        assert.ok(byProperty.has('settings["kernel.x"]'));
        assert.ok(byProperty.has('settings["net.core.rmem_max"]'));
        assert.match(byProperty.get("connection.host") ?? "", /host name or an IP address/);
        assert.ok(byProperty.has("connection.port"));
        assert.ok(byProperty.has("onMissing"));
    });

    it("refuses the same key spelled twice", function () {
        const found = failures({ settings: { "net.core.somaxconn": 1, "net/core/somaxconn": 2 } });
        assert.match(found[0].reason, /same setting/);
    });

    it("refuses an empty settings map and a persistence file outside /etc/sysctl.d", function () {
        assert.ok(failures({ settings: {} }).some((f) => f.property === "settings"));
        assert.ok(failures({ settings: { "vm.swappiness": 10 }, persistFile: "/etc/passwd" }).some((f) => f.property === "persistFile"));
    });

    it("leaves values that are not known yet for later", function () {
        assert.deepEqual(failures({ settings: { "vm.swappiness": 10 }, connection: { host: UNKNOWN } }), []);
    });

    it("refuses a key the host cannot read, whose original could not be recorded: an unset stable_secret (EIO) says so, skipped or not", function () {
        const snapshot = parseReadOutput(["unreadable\tnet/ipv6/conf/eth1/stable_secret\tcat: /proc/sys/net/ipv6/conf/eth1/stable_secret: Input/output error", "unreadable\tnet/core/x\tPermission denied"].join("\n"));
        const inputs = sysctlSetInputsSchema.parse({ resourceName: "t", onMissing: "skip", settings: { "net.ipv6.conf.eth1.stable_secret": "fe80::1", "net.core.x": 1 } });
        const refused = unwritableKeys(inputs, snapshot, "root@h1:22", new Set());
        assert.deepEqual(refused.map((f) => f.property), ['settings["net.ipv6.conf.eth1.stable_secret"]', 'settings["net.core.x"]']);
        assert.match(refused[0].reason, /^root@h1:22: net\.ipv6\.conf\.eth1\.stable_secret is unset here \(the kernel answers EIO until it is set once, and cannot unset it again\), so there is no original to put back on delete/);
        assert.equal(refused[1].reason, "root@h1:22: net.core.x cannot be read here (Permission denied), so its original could not be recorded");
    });

    it("refuses each declared key the host lacks or will not let be written under onMissing: fail, leaving module keys to the module check", function () {
        const snapshot = parseReadOutput(
            ["value\tnet/core/somaxconn\t4096", "missing\tnet/core/somaxconnn", "readonly\tvm/swappiness\t60", "missing\tnet/netfilter/nf_conntrack_max"].join("\n"),
        );
        const settings = { "net.core.somaxconn": 1, "net/core/somaxconnn": 1, "vm.swappiness": 10, "net.netfilter.nf_conntrack_max": 1 };
        const inputs = sysctlSetInputsSchema.parse({ resourceName: "t", settings });
        assert.deepEqual(unwritableKeys(inputs, snapshot, "root@h1:22", new Set(["net.netfilter.nf_conntrack_max"])), [
            {
                property: 'settings["net/core/somaxconnn"]',
                reason: 'root@h1:22: net.core.somaxconnn does not exist on this host (an older kernel, a module not loaded, or a global-only key inside a network namespace or container); set onMissing: "skip" to skip it',
            },
            {
                property: 'settings["vm.swappiness"]',
                reason: 'root@h1:22: vm.swappiness is read-only here (a global key inside a network namespace, or /proc/sys mounted read-only as in a container); set onMissing: "skip" to skip it',
            },
        ]);
        assert.deepEqual(unwritableKeys({ ...inputs, onMissing: "skip" }, snapshot, "root@h1:22", new Set()), []);
        // A key in requiredKeys (a profile override's: a typo) is refused even under skip, saying why.
        const required = sysctlSetInputsSchema.parse({ resourceName: "t", settings, onMissing: "skip", requiredKeys: ["net.core.somaxconnn"] });
        assert.deepEqual(unwritableKeys(required, snapshot, "root@h1:22", new Set()), [
            {
                property: 'settings["net/core/somaxconnn"]',
                reason: "root@h1:22: net.core.somaxconnn does not exist on this host (an older kernel, a module not loaded, or a global-only key inside a network namespace or container); it is one of requiredKeys, which are never skipped",
            },
        ]);
        assert.throws(() => planApply(required, snapshot, "root@h1:22"), /net\.core\.somaxconnn does not exist on this host .*They are in requiredKeys, which are never skipped\. Nothing was changed\./, "nor skipped at up");
        assert.deepEqual(checkFailures(sysctlSetInputsSchema, { resourceName: "t", settings, requiredKeys: ["vm.dirty_ratio"] }), [{ property: "requiredKeys[0]", reason: "vm.dirty_ratio is not one of the settings" }]);
    });

    it("refuses a congestion control outside tcp_allowed_congestion_control only in a network namespace other than the machine's own", function () {
        const read = (...lines: string[]) => parseReadOutput(["value\tnet/ipv4/tcp_congestion_control\treno", "value\tnet/ipv4/tcp_allowed_congestion_control\treno bbr", ...lines].join("\n"));
        const container = read("missing\tnet/core/netdev_max_backlog");
        const cc = (value: string) => ({ "net/ipv4/tcp_congestion_control": value });
        assert.deepEqual(restrictedCongestionControl(cc("cubic"), container, "root@h1:22"), [
            {
                property: 'settings["net/ipv4/tcp_congestion_control"]',
                reason: "root@h1:22: cubic is not in net.ipv4.tcp_allowed_congestion_control (bbr reno): this host is a network namespace other than the machine's own (a container; it has no net.core.netdev_max_backlog), where the kernel sets only those (EPERM)",
            },
        ]);
        assert.deepEqual(restrictedCongestionControl(cc("bbr"), container, "root@h1:22"), [], "allowed");
        assert.deepEqual(restrictedCongestionControl(cc("reno"), container, "root@h1:22"), [], "already set");
        assert.deepEqual(restrictedCongestionControl(cc("cubic"), read("value\tnet/core/netdev_max_backlog\t1000"), "root@h1:22"), [], "the machine's own namespace sets any");
        assert.deepEqual(restrictedCongestionControl(cc("cubic"), parseReadOutput("missing\tnet/core/netdev_max_backlog"), "root@h1:22"), [], "no allowed list read: not judged");
        assert.deepEqual(restrictedCongestionControl({ "net.core.somaxconn": 1 }, container, "root@h1:22"), []);
    });

    it("refuses a key another kind of resource declares in the same run by its /proc/sys file, whatever its name", async function () {
        const connection = { host: "10.0.0.77", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq" };
        claimInRun("10.0.0.77:22", "/proc/sys/net/core/rps_sock_flow_entries", { kind: "packet-steering", owner: "p/s/same" });
        const news = { resourceName: "same", owner: "p/s/same", connection, settings: { "net/core/rps_sock_flow_entries": 4096 } };
        const { failures } = await checkSysctls({}, news, false);
        assert.deepEqual(failures, [
            { property: 'settings["net/core/rps_sock_flow_entries"]', reason: "root@10.0.0.77:22: net.core.rps_sock_flow_entries is also declared by p/s/same (PacketSteering) in this program; one owner per key" },
        ]);
    });

    it("refuses a key another SysctlSet of the run declares even under takeOver, which moves keys from ledgers on the host only", async function () {
        const connection = { host: "10.0.0.79", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq" };
        claimInRun("10.0.0.79:22", "/proc/sys/net/ipv4/tcp_fin_timeout", { kind: "sysctl", owner: "p/s/first" });
        claimInRun("10.0.0.79:22", "writeback:vm.dirty_bytes+vm.dirty_ratio", { kind: "sysctl", owner: "p/s/first" });
        const news = { resourceName: "second", owner: "p/s/second", connection, settings: { "net.ipv4.tcp_fin_timeout": 25, "vm.dirty_ratio": 10 }, takeOver: true };
        const { failures } = await checkSysctls({}, news, false);
        assert.deepEqual(
            (failures ?? []).map((f) => f.reason),
            [
                "root@10.0.0.79:22: net.ipv4.tcp_fin_timeout is also declared by p/s/first (SysctlSet) in this program; one owner per key",
                "root@10.0.0.79:22: writing vm.dirty_ratio sets vm.dirty_bytes to 0 (the kernel keeps one of the two), and p/s/first (SysctlSet) in this program declares the pair too; declare both in one SysctlSet",
            ],
        );
    });

    it("refuses a writeback limit whose partner another SysctlSet of the run declares: each write zeroes the other's", async function () {
        const connection = { host: "10.0.0.78", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq" };
        claimInRun("10.0.0.78:22", "/proc/sys/vm/dirty_bytes", { kind: "sysctl", owner: "p/s/bytes" });
        claimInRun("10.0.0.78:22", "writeback:vm.dirty_bytes+vm.dirty_ratio", { kind: "sysctl", owner: "p/s/bytes" });
        const { failures } = await checkSysctls({}, { resourceName: "ratio", owner: "p/s/ratio", connection, settings: { "vm.dirty_ratio": 10 } }, false);
        assert.deepEqual(failures, [
            {
                property: 'settings["vm.dirty_ratio"]',
                reason: "root@10.0.0.78:22: writing vm.dirty_ratio sets vm.dirty_bytes to 0 (the kernel keeps one of the two), and p/s/bytes (SysctlSet) in this program declares the pair too; declare both in one SysctlSet",
            },
        ]);
    });
});
