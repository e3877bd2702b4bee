import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { LEDGER_ROOT, claimInRun } from "../../provider/host/ledger";
import { LEDGER_DIR, ledgerPath, parseLedgerLines, renderLedger } from "../../provider/sysctl/ledger";
import { planApply, planRestore } from "../../provider/sysctl/plan";
import { HostSnapshot, LiveValue, OwnedKeyError, applyToHost, parseReadOutput } from "../../provider/sysctl/remote";
import { LocalTransport } from "../../provider/transport/local";
import { Transport } from "../../provider/transport/transport";
import { sysctlSetInputsSchema } from "../../provider/sysctl/schema";

const inputs = (owner: string, extra: Record<string, unknown> = {}) =>
    sysctlSetInputsSchema.parse({ resourceName: owner.split("/").pop(), owner, settings: { "net.ipv4.tcp_fin_timeout": 20, "net.core.somaxconn": 8192 }, persist: false, ...extra });

/** A host snapshot whose ledgers are given as rendered files, through the read program's own parser. */
function host(values: Record<string, string>, ledgers: Record<string, { owner: string; originals: Record<string, string> }>): HostSnapshot {
    const lines = [
        ...Object.entries(values).map(([k, v]) => `value\t${k.replace(/\./g, "/")}\t${v}`),
        ...Object.entries(ledgers).flatMap(([owner, l]) => renderLedger(l).trimEnd().split("\n").map((line) => `ledger\t${ledgerPath(owner)}\t${line}`)),
    ];
    const snapshot = parseReadOutput(lines.join("\n"));
    return { ...snapshot, values: new Map<string, LiveValue>(snapshot.values) };
}

describe("SysctlSet ledger", function () {
    it("names one file per owner under the fixed directory, safe and bounded", function () {
        assert.equal(ledgerPath("proj/lab/tune-h1"), `${LEDGER_DIR}/proj,lab,tune-h1.ledger`);
        assert.notEqual(ledgerPath("proj/lab/tune h1"), ledgerPath("proj/lab/tune_h1"));
        assert.match(ledgerPath("../../etc/passwd"), /^\/var\/lib\/pulumi-linux-tuning\/sysctl\/_\.\._etc_passwd\+[0-9a-f]{16}\.ledger$/);
        const long = ledgerPath("p/s/" + "x".repeat(500));
        assert.ok(long.length < 255 + LEDGER_DIR.length && long.endsWith(".ledger"));
        assert.notEqual(ledgerPath("p/s/" + "x".repeat(500)), ledgerPath("p/s/" + "x".repeat(501)));
    });

    it("round-trips owner and originals through the read program's lines", function () {
        const rendered = renderLedger({ owner: "p/s/a", originals: { "net.ipv4.tcp_rmem": "4096 131072 6291456", "net.core.somaxconn": "4096" } });
        const parsed = parseLedgerLines(rendered.trimEnd().split("\n").map((line) => ["/f", ...line.split("\t")]));
        assert.deepEqual(parsed.get("/f"), { owner: "p/s/a", originals: { "net.ipv4.tcp_rmem": "4096 131072 6291456", "net.core.somaxconn": "4096" } });
    });

    it("a create after an interrupted run takes the originals from its own ledger, not the tuned live values", function () {
        const snapshot = host({ "net.ipv4.tcp_fin_timeout": "20", "net.core.somaxconn": "8192" }, { "p/s/a": { owner: "p/s/a", originals: { "net.ipv4.tcp_fin_timeout": "60", "net.core.somaxconn": "4096" } } });
        const plan = planApply(inputs("p/s/a"), snapshot, "h1");
        assert.deepEqual(plan.record.originals, { "net.ipv4.tcp_fin_timeout": "60", "net.core.somaxconn": "4096" });
        assert.equal(plan.ledger.path, ledgerPath("p/s/a"));
        assert.match(plan.ledger.record ?? "", /^key\tnet\/ipv4\/tcp_fin_timeout\t60$/m);
    });

    it("refuses a key another kind of resource's ledger holds, even under takeOver", function () {
        const snapshot = parseReadOutput(["value\tnet/core/rps_sock_flow_entries\t32768", "claim\tnet/core/rps_sock_flow_entries\tq/t/steer"].join("\n"));
        const rfs = sysctlSetInputsSchema.parse({ resourceName: "a", owner: "p/s/a", settings: { "net.core.rps_sock_flow_entries": 0 }, takeOver: true });
        assert.throws(() => planApply(rfs, snapshot, "h1"), (e: Error) => e instanceof OwnedKeyError && /h1: net\.core\.rps_sock_flow_entries is managed by q\/t\/steer \(its ledger on the host\); remove it there first\. Nothing was changed\./.test(e.message));
    });

    it("refuses a key another owner's ledger holds, naming the owner; takeOver brings its original along", function () {
        const snapshot = host({ "net.ipv4.tcp_fin_timeout": "25", "net.core.somaxconn": "4096" }, { "q/t/b": { owner: "q/t/b", originals: { "net.ipv4.tcp_fin_timeout": "60" } } });
        assert.throws(() => planApply(inputs("p/s/a"), snapshot, "h1"), (e: Error) => e instanceof OwnedKeyError && /h1: net\.ipv4\.tcp_fin_timeout is managed by q\/t\/b \(its ledger on the host\); .*takeOver: true/.test(e.message));
        const plan = planApply(inputs("p/s/a", { takeOver: true }), snapshot, "h1");
        assert.equal(plan.record.originals["net.ipv4.tcp_fin_timeout"], "60");
        assert.equal(plan.ledger.takeOver, true);
    });

    it("takeOver of a writeback limit brings its partner's original along, which the other owner recorded", function () {
        // q/t/b set vm.dirty_ratio 10 (the host had 20): its ledger holds the pair's originals.
        const snapshot = host({ "vm.dirty_ratio": "10", "vm.dirty_bytes": "0" }, { "q/t/b": { owner: "q/t/b", originals: { "vm.dirty_ratio": "20", "vm.dirty_bytes": "0" } } });
        const bytes = sysctlSetInputsSchema.parse({ resourceName: "a", owner: "p/s/a", settings: { "vm.dirty_bytes": 200000000 }, persist: false, takeOver: true });
        assert.deepEqual(planApply(bytes, snapshot, "h1").record.originals, { "vm.dirty_bytes": "0", "vm.dirty_ratio": "20" }, "not 10, the other owner's value");
    });

    it("a delete restores only the keys still in its ledger, then removes the ledger", function () {
        const snapshot = host({ "net.ipv4.tcp_fin_timeout": "25", "net.core.somaxconn": "8192" }, { "p/s/a": { owner: "p/s/a", originals: { "net.core.somaxconn": "4096" } } });
        const plan = planRestore({ originals: { "net.ipv4.tcp_fin_timeout": "60", "net.core.somaxconn": "4096" }, skipped: [], ledgerFile: ledgerPath("p/s/a") }, snapshot, true, "h1");
        assert.deepEqual(plan.writes, [{ key: "net.core.somaxconn", value: "4096" }], "tcp_fin_timeout was taken over: left to its new owner");
        assert.deepEqual(plan.ledger, { path: ledgerPath("p/s/a") });
    });

    it("after a stack rename, an update keeps the ledger it has instead of being refused by its old owner name", function () {
        const snapshot = host({ "net.ipv4.tcp_fin_timeout": "20", "net.core.somaxconn": "8192" }, { "p/old/a": { owner: "p/old/a", originals: { "net.ipv4.tcp_fin_timeout": "60", "net.core.somaxconn": "4096" } } });
        const previous = { originals: { "net.ipv4.tcp_fin_timeout": "60", "net.core.somaxconn": "4096" }, skipped: [], ledgerFile: ledgerPath("p/old/a") };
        const plan = planApply(inputs("p/new/a"), snapshot, "h1", previous);
        assert.equal(plan.ledger.path, ledgerPath("p/old/a"));
        assert.throws(() => planApply(inputs("p/new/a"), snapshot, "h1"), OwnedKeyError, "a new resource of the new name is another owner");
    });

    it("sees two owners of one key on one host within a run", function () {
        const a = { kind: "sysctl", owner: "p/s/a" };
        assert.equal(claimInRun("h9:22", "/proc/sys/net/core/somaxconn", a), undefined);
        assert.equal(claimInRun("h9:22", "/proc/sys/net/core/somaxconn", a), undefined, "the same owner again is fine");
        assert.deepEqual(claimInRun("h9:22", "/proc/sys/net/core/somaxconn", { kind: "sysctl", owner: "p/s/b" }), a);
        assert.deepEqual(claimInRun("h9:22", "/proc/sys/net/core/somaxconn", { kind: "packet-steering", owner: "p/s/a" }), a, "one name, another kind");
        assert.equal(claimInRun("h8:22", "/proc/sys/net/core/somaxconn", { kind: "sysctl", owner: "p/s/b" }), undefined, "another host");
    });
});

describe("SysctlSet apply program on this machine, with a sysctl that refuses (root; nothing is written)", function () {
    it("writes an empty value (ip_local_reserved_ports' default) though procps 3.3's sysctl refuses 'key=' as malformed", async function () {
        const key = "net.ipv4.ip_local_reserved_ports";
        if (process.getuid?.() !== 0 || readFileSync("/proc/sys/net/ipv4/ip_local_reserved_ports", "utf8").trim() !== "") {
            this.skip();
        }
        const bin = mkdtempSync(path.join(tmpdir(), "plt-procps3-"));
        writeFileSync(path.join(bin, "sysctl"), `#!/bin/sh\ncase "$3" in *=) echo "sysctl: malformed setting \\"$3\\"" >&2; exit 1 ;; esac\nexec /usr/sbin/sysctl "$@"\n`, { mode: 0o755 });
        const path0 = process.env.PATH;
        process.env.PATH = `${bin}:${path0}`;
        try {
            const outcome = await applyToHost(new LocalTransport(false), [{ key, value: "" }], { changes: {} });
            assert.equal(outcome.readBack.get(key), "");
        } finally {
            process.env.PATH = path0;
            rmSync(bin, { recursive: true, force: true });
        }
    });

    it("writes a secret key, and puts it back when a later key is refused, with neither value in the program's arguments", async function () {
        if (process.getuid?.() !== 0) {
            this.skip();
        }
        const key = "net.ipv4.tcp_fastopen_key";
        const ours = "fedcba98-76543210-fedcba98-76543210";
        const commands: string[][] = [];
        let keyAtEnd = "";
        // A new network namespace for each command, this machine's keys untouched; the key as the command left it on stderr.
        const inFreshNetns: Transport = {
            target: "netns",
            run: async (argv, stdin) => {
                commands.push([...argv]);
                const wrapper = 'printf "%s\\n" 00000001-00000002-00000003-00000004 > /proc/sys/net/ipv4/tcp_fastopen_key && "$@"; rc=$?; cat /proc/sys/net/ipv4/tcp_fastopen_key >&2; exit $rc';
                const result = await new LocalTransport(false).run(["unshare", "-n", "sh", "-c", wrapper, "sh", ...argv], stdin);
                keyAtEnd = result.stderr.trim();
                return result;
            },
        };
        const outcome = await applyToHost(inFreshNetns, [{ key, value: ours }], { changes: {} });
        assert.deepEqual([outcome.previous.get(key), outcome.readBack.get(key)], ["00000001-00000002-00000003-00000004", ours]);
        assert.equal(keyAtEnd, ours);
        await assert.rejects(
            applyToHost(inFreshNetns, [{ key, value: ours }, { key: "net.ipv4.tcp_congestion_control", value: "no-such-algorithm" }], { changes: {} }),
            /the kernel refused net\.ipv4\.tcp_congestion_control: .*Every value this operation had already written was restored/,
        );
        assert.equal(keyAtEnd, "00000001-00000002-00000003-00000004", "written, then put back");
        await assert.rejects(applyToHost(inFreshNetns, [{ key, value: "not-hex" }], { changes: {} }), /^Error: netns: the kernel refused net\.ipv4\.tcp_fastopen_key: the kernel refused the value \(a secret, not shown\)\./);
        assert.ok(!commands.flat().some((word) => word.includes(ours) || word.includes("00000003")), "no secret in any argument");
    });

    it("an apply stopped by its time limit puts back what it had written before the end", async function () {
        if (process.getuid?.() !== 0) {
            this.skip();
        }
        const bin = mkdtempSync(path.join(tmpdir(), "plt-sysctl-hang-"));
        // The second write hangs (an rtnl lock held elsewhere, say); the rollback's own writes go through.
        writeFileSync(path.join(bin, "sysctl"), `#!/bin/sh\ncase "$*" in *tcp_keepalive_time=601*) exec sleep 60 ;; esac\nexec /usr/sbin/sysctl "$@"\n`, { mode: 0o755 });
        const finTimeout = readFileSync("/proc/sys/net/ipv4/tcp_fin_timeout", "utf8").trim();
        const path0 = process.env.PATH;
        process.env.PATH = `${bin}:${path0}`;
        try {
            const writes = [{ key: "net.ipv4.tcp_fin_timeout", value: finTimeout === "21" ? "22" : "21" }, { key: "net.ipv4.tcp_keepalive_time", value: "601" }];
            await assert.rejects(applyToHost(new LocalTransport(false, 1), writes, { changes: {} }), /time limit|timed out|commandTimeout/i);
            assert.equal(readFileSync("/proc/sys/net/ipv4/tcp_fin_timeout", "utf8").trim(), finTimeout, "written, then put back when the limit stopped the apply");
        } finally {
            process.env.PATH = path0;
            execFileSync("/usr/sbin/sysctl", ["-q", "-w", `net.ipv4.tcp_fin_timeout=${finTimeout}`]);
            rmSync(bin, { recursive: true, force: true });
        }
    });

    it("a failure whose rollback fails too keeps the new ledger, the only record of the originals", async function () {
        if (process.getuid?.() !== 0) {
            this.skip();
        }
        const bin = mkdtempSync(path.join(tmpdir(), "plt-sysctl-"));
        // The first write goes through (this machine's fin_timeout changes), every later one fails: the second key and the first key's rollback.
        writeFileSync(path.join(bin, "sysctl"), `#!/bin/sh\nn=$(cat "${bin}/calls" 2>/dev/null || echo 0); echo $((n+1)) > "${bin}/calls"\n[ "$n" = 0 ] && exec /usr/sbin/sysctl "$@"\necho "refused" >&2; exit 1\n`, { mode: 0o755 });
        const finTimeout = readFileSync("/proc/sys/net/ipv4/tcp_fin_timeout", "utf8").trim();
        const ledger = ledgerPath("unit/stuck/rollback");
        const record = renderLedger({ owner: "unit/stuck/rollback", originals: { "net.ipv4.tcp_fin_timeout": "60", "net.ipv4.tcp_keepalive_time": "7200" } });
        const hadRoot = existsSync(LEDGER_ROOT);
        const path0 = process.env.PATH;
        process.env.PATH = `${bin}:${path0}`;
        try {
            const writes = [{ key: "net.ipv4.tcp_fin_timeout", value: "20" }, { key: "net.ipv4.tcp_keepalive_time", value: "600" }];
            await assert.rejects(applyToHost(new LocalTransport(false), writes, { changes: {} }, { path: ledger, record }), /Could NOT restore net\.ipv4\.tcp_fin_timeout \(it held \d+\)/);
            assert.equal(readFileSync(ledger, "utf8"), record);
            assert.deepEqual(readdirSync(LEDGER_DIR), [path.basename(ledger)], "no .prev left");
        } finally {
            process.env.PATH = path0;
            execFileSync("/usr/sbin/sysctl", ["-q", "-w", `net.ipv4.tcp_fin_timeout=${finTimeout}`]);
            rmSync(bin, { recursive: true, force: true });
            rmSync(ledger, { force: true });
            if (!hadRoot) {
                rmSync(LEDGER_ROOT, { recursive: true, force: true });
            }
        }
    });
});
