import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import fc from "fast-check";
import * as path from "path";
import {
    LEDGER_ROOT,
    OwnedItemsError,
    hostLedgerPath,
    ledgerArgs,
    ledgerDiffers,
    ledgerStatus,
    ledgerWrite,
    ledgersIn,
    ownLedgerFiles,
    ownershipFailures,
    parseHostLedger,
    parseLedgerListing,
    planWithLedger,
    plannedOwnershipFailures,
    recoveredRecord,
    renderHostLedger,
    startingRecord,
    LedgerWriteError,
    throwIfLedgerUnwritten,
    withLedger,
    withLedgerListing,
} from "../../provider/host/ledger";
import { FILE_HELPERS, rewriteLedgerOrWarn } from "../../provider/host/files";
import { Transport } from "../../provider/transport/transport";
import { renderLedger } from "../../provider/sysctl/ledger";

const record = { originals: { cpu0: { governor: "schedutil" } }, managedFiles: { originals: { "/etc/x": { kind: "absent" } }, written: {}, createdDirs: ["/etc/a"] } };

describe("host ledger (every resource but SysctlSet)", function () {
    it("names one file per owner and kind, safe as one path component", function () {
        assert.equal(hostLedgerPath("cpu-governor", "proj/lab/gov_1"), `${LEDGER_ROOT}/cpu-governor/proj,lab,gov_1.ledger`);
        assert.match(hostLedgerPath("cpu-governor", "proj/lab/gov 1"), /^\/var\/lib\/pulumi-linux-tuning\/cpu-governor\/proj_lab_gov_1\+[0-9a-f]{16}\.ledger$/);
        assert.match(hostLedgerPath("nic", "../../etc/passwd"), /^\/var\/lib\/pulumi-linux-tuning\/nic\/_\.\._etc_passwd\+[0-9a-f]{16}\.ledger$/);
        const spellings = ["p/s/nic 1", "p/s/nic_1", "p/s/nic/1", "p/s_nic/1", "p/s/nic,1", "p/s/web-nic", "p/s/web/nic", "p/" + "x".repeat(500), "p/" + "x".repeat(501)];
        assert.equal(new Set(spellings.map((owner) => hostLedgerPath("nic", owner))).size, spellings.length, "owners one sanitising would merge");
        // Earlier versions named p/s/web_nic's ledger p_s_web_nic.ledger (every other character an underscore): no name now is one of those.
        assert.ok(spellings.every((owner) => /[,+]/.test(hostLedgerPath("nic", owner).slice(`${LEDGER_ROOT}/nic/`.length))), "no name of an earlier version");
        fc.assert(
            fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 300 }), (a, b) => {
                const [pa, pb] = [hostLedgerPath("nic", a || "x"), hostLedgerPath("nic", b || "x")];
                const name = pa.slice(`${LEDGER_ROOT}/nic/`.length);
                return (a || "x") === (b || "x") ? pa === pb : pa !== pb && !name.includes("/") && !name.startsWith(".") && name.length <= 220;
            }),
        );
    });

    it("round-trips owner, items and the record; a torn ledger is not taken for one", function () {
        const text = renderHostLedger({ owner: "p/s/gov\tx", items: ["/sys/a", "ethtool:eth1:rx"], record });
        assert.deepEqual(parseHostLedger(text), { owner: "p/s/gov x", items: ["/sys/a", "ethtool:eth1:rx"], record, createdDirs: [] });
        assert.deepEqual(parseHostLedger(text + "dir\t/etc/b\n")?.createdDirs, ["/etc/b"]);
        assert.deepEqual(parseHostLedger(text + "item\tmodule:x\nitem\t/sys/a\n")?.items, ["/sys/a", "ethtool:eth1:rx", "module:x"], "items an apply appended, once each");
        assert.equal(parseHostLedger(text.slice(0, text.indexOf("record"))), undefined);
        assert.equal(parseHostLedger(text.replace(/record\t.*/, "record\tnot-base64-json")), undefined);
    });

    it("reads a SysctlSet's ledger as its keys' /proc/sys files, so another kind sees who owns them", function () {
        const parsed = parseHostLedger(renderLedger({ owner: "p/s/fin", originals: { "net.core.rps_sock_flow_entries": "0", "net.ipv4.tcp_rmem": "4096 131072 6291456" } }));
        assert.deepEqual(parsed?.items, ["/proc/sys/net/core/rps_sock_flow_entries", "/proc/sys/net/ipv4/tcp_rmem"]);
        assert.equal(parsed?.owner, "p/s/fin");
    });

    it("a create takes its own ledger's record, with the directories the interrupted apply reported", function () {
        const own = hostLedgerPath("cpu-governor", "p/s/gov");
        const ledgers = ledgersIn(new Map([[own, renderHostLedger({ owner: "p/s/gov", items: [], record }) + "dir\t/etc/b\n"]]));
        const recovered = recoveredRecord<typeof record>(ledgers, own);
        assert.deepEqual(recovered?.originals, record.originals);
        assert.deepEqual(recovered?.managedFiles.createdDirs, ["/etc/a", "/etc/b"]);
        assert.equal(recoveredRecord(ledgers, hostLedgerPath("cpu-governor", "p/s/other")), undefined);
    });

    it("an update starts from state completed by its ledger: what a killed update added, state's values where both have one", function () {
        const absent = { kind: "absent" };
        const state = {
            originals: { cpu0: { governor: "schedutil" } },
            skipped: ["cpu9"],
            managedFiles: { originals: { "/etc/x": absent }, written: { "/etc/x": { kind: "file", content: "a\n" } }, createdDirs: ["/etc/a"] },
        };
        const ledger = {
            originals: { cpu0: { governor: "performance" }, cpu1: { governor: "powersave", epp: "balance_power" } },
            skipped: [],
            ruleFile: "/etc/y",
            managedFiles: { originals: { "/etc/x": { kind: "file", content: "tuned\n" }, "/etc/y": absent }, written: { "/etc/x": { kind: "file", content: "\ufffd", base64: "/w==" } }, createdDirs: ["/etc/b"] },
        };
        assert.deepEqual(startingRecord<object>(state, ledger), {
            originals: { cpu0: { governor: "schedutil" }, cpu1: { governor: "powersave", epp: "balance_power" } },
            skipped: ["cpu9"],
            ruleFile: "/etc/y",
            managedFiles: { originals: { "/etc/x": absent, "/etc/y": absent }, written: { "/etc/x": { kind: "file", content: "a\n" } }, createdDirs: ["/etc/a", "/etc/b"] },
        });
        assert.equal(startingRecord(undefined, ledger), ledger);
        assert.equal(startingRecord(state, undefined), state);
    });

    it("plans an update from that record and claims its items in the ledger it already has", function () {
        type Rec = { originals: Record<string, string>; ledgerFile?: string };
        const own = hostLedgerPath("sysfs", "p/s/r");
        const ledgers = ledgersIn(new Map([[own, renderHostLedger({ owner: "p/s/r", items: ["/sys/a", "/sys/b"], record: { originals: { "/sys/a": "1", "/sys/b": "2" } } })]]));
        const seen: (Rec | undefined)[] = [];
        const { plan, ledger } = planWithLedger({ kind: "sysfs", owner: "p/s/r", ledgers, target: "h1" }, { originals: { "/sys/a": "1" }, ledgerFile: own }, {
            plan: (start: Rec | undefined) => {
                seen.push(start);
                return { record: { originals: { ...start?.originals } } as Rec };
            },
            items: (r) => Object.keys(r.originals),
        });
        assert.deepEqual(seen, [{ originals: { "/sys/a": "1", "/sys/b": "2" }, ledgerFile: own }]);
        assert.equal(plan.record.ledgerFile, own);
        assert.equal(ledger.path, own);
        assert.deepEqual(parseHostLedger(ledger.content!)?.items, ["/sys/a", "/sys/b"]);
    });

    it("refuses a create whose own ledger, left by an interrupted run on another interface, names what this declaration does not", function () {
        type Rec = { originals: Record<string, string>; ledgerFile?: string };
        const own = hostLedgerPath("nic", "p/s/nic");
        const ledgers = ledgersIn(new Map([[own, renderHostLedger({ owner: "p/s/nic", items: ["ethtool:eth0:ring:rx"], record: { originals: { rx: "512" } } })]]));
        const onInterface = (iface: string) => ({
            plan: (start: Rec | undefined) => ({ record: { originals: { rx: "1024", ...start?.originals } } as Rec }),
            items: (r: Rec) => Object.keys(r.originals).map((p) => `ethtool:${iface}:ring:${p}`),
            itemsNameTheDevice: true,
        });
        const scope = { kind: "nic", owner: "p/s/nic", ledgers, target: "h1" };
        assert.throws(
            () => planWithLedger(scope, undefined, onInterface("eth1")),
            /^Error: h1: \/var\/lib\/pulumi-linux-tuning\/nic\/p,s,nic\.ledger holds the originals of what an interrupted run of p\/s\/nic changed \(ethtool:eth0:ring:rx\), which this declaration no longer names: .*Nothing was changed\.$/,
        );
        assert.match(plannedOwnershipFailures(scope, {}, onInterface("eth1"), "host-1:22", "rings")[0]?.reason ?? "", /interrupted run of p\/s\/nic changed \(ethtool:eth0:ring:rx\)/, "at preview, on the property");
        assert.deepEqual(planWithLedger(scope, undefined, onInterface("eth0")).plan.record.originals, { rx: "512" }, "the same interface takes the originals that run found");
    });

    it("refuses an item another ledger holds, at check (naming the owner and the property) and at apply", function () {
        const theirs = hostLedgerPath("sysfs", "other/prod/thp");
        const ledgers = ledgersIn(new Map([[theirs, renderHostLedger({ owner: "other/prod/thp", items: ["/sys/a", "/sys/b"], record: {} })]]));
        const own = hostLedgerPath("cpu-governor", "p/s/gov");
        const failures = ownershipFailures({ kind: "cpu-governor", owner: "p/s/gov", ledgers, target: "h1" }, [own], "host-1:22", ["/sys/b", "/sys/c"], "cpus");
        assert.deepEqual(failures, [{ property: "cpus", reason: "h1: /sys/b is managed by other/prod/thp (its ledger on the host); remove it there first" }]);
        assert.throws(() => ledgerWrite(ledgers, own, "p/s/gov", ["/sys/a"], {}, "h1"), (e: Error) => e instanceof OwnedItemsError && /\/sys\/a is managed by other\/prod\/thp/.test(e.message));
        const write = ledgerWrite(ledgers, own, "p/s/gov", ["/sys/c"], record, "h1");
        assert.equal(write.path, own);
        assert.deepEqual(parseHostLedger(write.content!)?.items, ["/sys/c"]);
    });

    it("refuses an item two resources of one engine run declare on one host", function () {
        const none = new Map();
        assert.deepEqual(ownershipFailures({ kind: "test", owner: "p/s/a", ledgers: none, target: "h1" }, ["/l/a"], "run-host:22", ["/sys/q"], "cpus"), []);
        assert.deepEqual(ownershipFailures({ kind: "test", owner: "p/s/a", ledgers: none, target: "h1" }, ["/l/a"], "run-host:22", ["/sys/q"], "cpus"), [], "the same owner again");
        assert.match(ownershipFailures({ kind: "test", owner: "p/s/b", ledgers: none, target: "h1" }, ["/l/b"], "run-host:22", ["/sys/q"], "paths")[0].reason, /\/sys\/q is managed by p\/s\/a \(test\) in this program/);
        assert.match(ownershipFailures({ kind: "other", owner: "p/s/a", ledgers: none, target: "h1" }, ["/m/a"], "run-host:22", ["/sys/q"], "paths")[0].reason, /\/sys\/q is managed by p\/s\/a \(test\) in this program/, "one name, another kind");
        assert.deepEqual(ownershipFailures({ kind: "test", owner: "p/s/b", ledgers: none, target: "h1" }, ["/l/b"], "other-host:22", ["/sys/q"], "paths"), []);
    });

    it("after a stack rename keeps writing the ledger it has, and counts it as its own at check", function () {
        const old = hostLedgerPath("nic", "proj/old/r");
        assert.deepEqual(ownLedgerFiles("nic", "proj/new/r", { ledgerFile: old }), [old, hostLedgerPath("nic", "proj/new/r")]);
        assert.deepEqual(ownLedgerFiles("nic", "proj/new/r", { owner: "proj/old/r" }), [old, hostLedgerPath("nic", "proj/new/r")], "check's old inputs");
        assert.deepEqual(ownLedgerFiles("nic", "proj/new/r", {}), [hostLedgerPath("nic", "proj/new/r")]);
        const ledgers = ledgersIn(new Map([[old, renderHostLedger({ owner: "proj/old/r", items: ["ethtool:eth1:ring:rx"], record: {} })]]));
        const own = ownLedgerFiles("nic", "proj/new/r", { owner: "proj/old/r" });
        assert.deepEqual(ownershipFailures({ kind: "nic", owner: "proj/new/r", ledgers, target: "h" }, own, "h:22", ["ethtool:eth1:ring:rx"], "rings"), []);
        assert.equal(ledgerWrite(ledgers, own, "proj/new/r", ["ethtool:eth1:ring:rx"], {}, "h").path, old);
        assert.equal(ownershipFailures({ kind: "nic", owner: "proj/new/r", ledgers, target: "h" }, ownLedgerFiles("nic", "proj/new/r"), "h2:22", ["ethtool:eth1:ring:rx"], "rings").length, 1, "a new resource of that name is another owner");
    });

    it("names a few items, then how many more", function () {
        const ledgers = ledgersIn(new Map([["/var/lib/pulumi-linux-tuning/x/o.ledger", renderHostLedger({ owner: "o", items: ["a", "b", "c", "d", "e", "f"], record: {} })]]));
        assert.match(ownershipFailures({ kind: "sysfs", owner: "me", ledgers, target: "h" }, ["/mine"], "h3:22", ["a", "b", "c", "d", "e", "f"], "p")[0].reason, /^h: a, b, c, d and 2 more are managed by o/);
    });

    it("reports at refresh whether the ledger still holds state's originals", function () {
        const own = hostLedgerPath("cpu-governor", "p/s/gov");
        const ledgers = ledgersIn(new Map([[own, renderHostLedger({ owner: "p/s/gov", items: [], record })]]));
        assert.equal(ledgerStatus(ledgers, own, { cpu0: { governor: "schedutil" } }, []), "in place");
        assert.match(ledgerStatus(ledgers, own, { cpu0: { governor: "performance" } }, []), /^differs from state: /);
        assert.equal(ledgerStatus(new Map(), own, {}, []), `missing: ${own}`);
        assert.equal(ledgerStatus(ledgers, undefined, {}, []), "none (created before ledgers)");
    });

    it("reports items only the ledger holds (an update killed after writing it) as differing from state", function () {
        const own = hostLedgerPath("irq", "p/s/irqs");
        const ledgers = ledgersIn(new Map([[own, renderHostLedger({ owner: "p/s/irqs", items: ["/proc/irq/30/smp_affinity_list", "/etc/systemd/system/u.service"], record: { originals: {} } })]]));
        assert.equal(ledgerStatus(ledgers, own, {}, ["/proc/irq/30/smp_affinity_list", "/etc/systemd/system/u.service"]), "in place");
        const status = ledgerStatus(ledgers, own, {}, ["/proc/irq/30/smp_affinity_list"]);
        assert.equal(status, `differs from state: ${own} also holds /etc/systemd/system/u.service (an interrupted update's)`);
        assert.ok(ledgerDiffers(status));
        assert.ok(!ledgerDiffers("in place") && !ledgerDiffers(`missing: ${own}`));
    });

    describe("the wrapping shell programs (run with sh here, as root)", function () {
        const dir = mkdtempSync(path.join(tmpdir(), "plt-ledger-"));
        const ledger = path.join(dir, "kind", "owner.ledger");
        const target = path.join(dir, "value");
        // A stand-in apply program: makes a directory with FILE_HELPERS' mkdirs, writes $1 to the value file; fails on "bad".
        const program = withLedger(`${FILE_HELPERS}
fail() { printf 'rolled-back\\nfailed\\t%s\\t%s\\n' "$1" "$2"; exit 0; }
[ "$1" = hang ] && { printf 'started\\n' > "${dir}/hanging"; sleep 60; printf 'done\\n'; exit 0; }
[ "$1" = bad ] && { printf 'failed\\tvalue\\tbad\\n'; exit 0; }
[ "$1" = stuck ] && { printf 'rollback-failed\\tvalue\\nfailed\\tvalue\\tbad\\n'; exit 0; }
mkdirs "${dir}/made"
printf '%s' "$1" > "${target}"
printf 'done\\n'`);
        const run = (content: string | undefined, value: string) =>
            execFileSync("sh", ["-c", program, "t", ...ledgerArgs({ path: ledger, content }), value], { encoding: "utf8" });

        before(function () {
            if (process.getuid?.() !== 0) {
                this.skip();
            }
        });
        after(function () {
            rmSync(dir, { recursive: true, force: true });
        });

        it("writes the ledger before the program, appends each directory mkdirs makes as it makes it, and removes it after a delete", function () {
            const content = renderHostLedger({ owner: "p/s/o", items: [target], record });
            assert.match(run(content, "1"), /^done$/m);
            assert.equal(readFileSync(target, "utf8"), "1");
            assert.equal(readFileSync(ledger, "utf8"), `${content}dir\t${dir}/made\n`);
            assert.equal((execFileSync("stat", ["-c", "%a", ledger], { encoding: "utf8" })).trim(), "600");
            assert.match(run(undefined, "0"), /^done$/m);
            assert.equal(existsSync(ledger), false);
            assert.equal(existsSync(path.dirname(ledger)), false, "its empty directory goes too");
        });

        it("lists each directory in the ledger before it makes it: a run killed right after mkdir leaves none unrecorded", function () {
            const probe = withLedger(`${FILE_HELPERS}
mkdir() { grep -qx "dir	$2" "$ledger" && printf 'listed first\\n' > "${dir}/order"; command mkdir "$@"; }
mkdirs "${dir}/made2/sub"
printf 'done\\n'`);
            const content = renderHostLedger({ owner: "p/s/o", items: [target], record });
            execFileSync("sh", ["-c", probe, "t", ...ledgerArgs({ path: ledger, content })], { encoding: "utf8" });
            assert.equal(readFileSync(path.join(dir, "order"), "utf8"), "listed first\n");
            assert.equal(readFileSync(ledger, "utf8"), `${content}dir\t${dir}/made2\ndir\t${dir}/made2/sub\n`);
            rmSync(path.join(dir, "order"));
            rmSync(path.join(dir, "made2"), { recursive: true });
            run(undefined, "0");
        });

        it("a program stopped by its time limit runs its own fail, and the ledger is settled as after any failure", function () {
            const stopped = spawnSync("timeout", ["-k", "5", "1", "sh", "-c", program, "t", ...ledgerArgs({ path: ledger, content: renderHostLedger({ owner: "p/s/o", items: [], record: { v: 1 } }) }), "hang"], { encoding: "utf8" });
            assert.equal(stopped.status, 124, "timeout's own status: the limit was reached");
            const out = stopped.stdout;
            assert.ok(existsSync(path.join(dir, "hanging")), "it was running when the limit came");
            assert.match(out, /^rolled-back\nfailed\t-\tstopped by a signal/m);
            assert.equal(existsSync(ledger), false, "a stopped first apply leaves no ledger, as a failed one");
            rmSync(path.join(dir, "hanging"));
        });

        it("a program stopped before it has a fail of its own keeps the ledger: nothing else records what it had begun", function () {
            const early = withLedger(`[ "$1" = hang ] && { printf 'started\\n' > "${dir}/hanging"; sleep 60; }
fail() { printf 'failed\\t%s\\t%s\\n' "$1" "$2"; exit 0; }
printf 'done\\n'`);
            const content = renderHostLedger({ owner: "p/s/o", items: [], record: { v: 1 } });
            const stopped = spawnSync("timeout", ["-k", "5", "1", "sh", "-c", early, "t", ...ledgerArgs({ path: ledger, content }), "hang"], { encoding: "utf8" });
            assert.equal(stopped.status, 124);
            assert.ok(existsSync(path.join(dir, "hanging")), "it was running when the limit came");
            assert.match(stopped.stdout, /^rollback-failed\twhatever it had begun/m);
            assert.equal(readFileSync(ledger, "utf8"), content, "the ledger stays");
            rmSync(path.join(dir, "hanging"));
            run(undefined, "0");
        });

        it("refuses to run as another user than root: the ledger, which records the originals, is root's", function () {
            const out = execFileSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", program, "t", ...ledgerArgs({ path: ledger, content: renderHostLedger({ owner: "p/s/o", items: [], record }) }), "1"], { encoding: "utf8" });
            assert.match(out, /^not-root\t\S+$/m);
            assert.doesNotMatch(out, /^done$/m, "the program did not run");
            assert.throws(() => throwIfLedgerUnwritten("h", out), (e: Error) => e instanceof LedgerWriteError && /^h: changing the host needs root, and this runs as \S+: .*sudo: true.*Nothing was changed\.$/.test(e.message));
        });

        it("a failed first apply leaves no ledger; a failed update puts the previous one back", function () {
            assert.match(run(renderHostLedger({ owner: "p/s/o", items: [], record: { v: 1 } }), "bad"), /^failed/m);
            assert.equal(existsSync(ledger), false);
            const first = renderHostLedger({ owner: "p/s/o", items: [], record: { v: 1 } });
            run(first, "1");
            const kept = readFileSync(ledger, "utf8");
            assert.match(run(renderHostLedger({ owner: "p/s/o", items: [], record: { v: 2 } }), "bad"), /^failed/m);
            assert.equal(readFileSync(ledger, "utf8"), kept);
            assert.deepEqual(readdirSync(path.dirname(ledger)), ["owner.ledger"], "no .prev or .tmp left");
            run(undefined, "0");
        });

        it("settles the ledger even when the controller is gone before the report (its pipe closed): a failed update puts the previous one back", function () {
            const first = renderHostLedger({ owner: "p/s/o", items: [], record: { v: 1 } });
            run(first, "1");
            const kept = readFileSync(ledger, "utf8");
            // The reader exits at once, as a killed provider's end of the SSH channel: the report's printf meets a closed pipe.
            execFileSync("sh", ["-c", 'sh -c "$0" t "$@" | true', program, ...ledgerArgs({ path: ledger, content: renderHostLedger({ owner: "p/s/o", items: [], record: { v: 2 } }) }), "bad"]);
            assert.equal(readFileSync(ledger, "utf8"), kept);
            assert.deepEqual(readdirSync(path.dirname(ledger)), ["owner.ledger"], "no .prev left");
            run(undefined, "0");
        });

        it("a failure that could not put something back keeps the ledger it wrote: the only record of that original", function () {
            const first = renderHostLedger({ owner: "p/s/o", items: [], record: { v: 1 } });
            assert.match(run(first, "stuck"), /^rollback-failed/m);
            assert.equal(readFileSync(ledger, "utf8"), first, "a failed create's ledger stays");
            const second = renderHostLedger({ owner: "p/s/o", items: [], record: { v: 2 } });
            run(second, "stuck");
            assert.equal(readFileSync(ledger, "utf8"), second, "a failed update's merged ledger stays, not the previous one");
            assert.deepEqual(readdirSync(path.dirname(ledger)), ["owner.ledger"], "no .prev or .tmp left");
            run(undefined, "0");
        });

        it("refuses, before anything runs, an item a ledger written since the read holds: another kind's, a SysctlSet's key; not its own old one", function () {
            const theirs = path.join(dir, "other", "theirs.ledger");
            const sysctl = path.join(dir, "sysctl", "s.ledger");
            const renamed = path.join(dir, "kind", "old-name.ledger");
            mkdirSync(path.dirname(theirs), { recursive: true });
            mkdirSync(path.dirname(sysctl), { recursive: true });
            mkdirSync(path.dirname(renamed), { recursive: true });
            writeFileSync(theirs, renderHostLedger({ owner: "q/prod/theirs", items: ["/sys/x"], record: {} }));
            writeFileSync(sysctl, renderLedger({ owner: "q/prod/s", originals: { "net.core.somaxconn": "4096" } }));
            writeFileSync(renamed, renderHostLedger({ owner: "p/s/o", items: ["/sys/mine"], record: {} }));
            try {
                writeFileSync(target, "before");
                const out = run(renderHostLedger({ owner: "p/s/o", items: ["/sys/x", "/proc/sys/net/core/somaxconn", "/sys/mine", "/sys/free"], record }), "1");
                assert.deepEqual(out.split("\n").filter((l) => l.startsWith("owned")).sort(), ["owned\t/proc/sys/net/core/somaxconn\tq/prod/s", "owned\t/sys/x\tq/prod/theirs"]);
                assert.equal(readFileSync(target, "utf8"), "before", "the program did not run");
                assert.equal(existsSync(ledger), false, "no ledger written");
                assert.throws(() => throwIfLedgerUnwritten("h", out), (e: Error) => e instanceof OwnedItemsError && /^h: .*\/sys\/x is managed by q\/prod\/theirs \(its ledger on the host\); remove it there first.*Nothing was changed\.$/.test(e.message));
                assert.match(run(renderHostLedger({ owner: "p/s/o", items: ["/sys/mine", "/sys/free"], record }), "1"), /^done$/m, "its own ledger under an old name is no other owner's");
                run(undefined, "0");
            } finally {
                rmSync(theirs);
                rmSync(sysctl);
                rmSync(renamed);
            }
        });

        it("lets go of the host's ledger lock once its ledger is written: a daemon the program starts does not keep it", function () {
            const starts = withLedger(`setsid sleep 5 >/dev/null 2>&1 &\nprintf 'done\\n'`);
            const content = renderHostLedger({ owner: "p/s/daemon", items: ["/sys/d"], record });
            assert.match(execFileSync("sh", ["-c", starts, "t", ...ledgerArgs({ path: ledger, content })], { encoding: "utf8" }), /^done$/m);
            try {
                execFileSync("flock", ["-n", dir, "true"]);
            } finally {
                run(undefined, "0");
            }
        });

        it("a listing appended to a read program shows every ledger", function () {
            const listing = withLedgerListing(`printf 'own\\t%s\\n' "$1"; exit 0`);
            const theirs = renderHostLedger({ owner: "p/s/theirs", items: ["/sys/x", "/sys/y"], record: { v: 1 } });
            const others = renderHostLedger({ owner: "p/t/others", items: ["ethtool:eth1:gro"], record: { v: 2 } }) + "dir\t/etc/udev/rules.d\n";
            // A private mount namespace with an empty /var/lib: this machine's own is neither read nor touched.
            const out = execFileSync(
                "unshare",
                [
                    ...["--mount", "--propagation", "private", "sh", "-c"],
                    'mount -t tmpfs none /var/lib && mkdir -p "${1%/*}" "${3%/*}" && printf "%s" "$2" > "$1" && printf "%s" "$4" > "$3" && shift 4 && exec sh -c "$@"',
                    ...["sh", `${LEDGER_ROOT}/nic/p_s_theirs.ledger`, theirs, `${LEDGER_ROOT}/irq/p,t,others.ledger`, others, listing, "t", "arg"],
                ],
                { encoding: "utf8" },
            );
            assert.match(out, /^own\targ$/m, "the read program's own output, even though it exits");
            assert.deepEqual(
                [...parseLedgerListing(out)].sort(),
                [
                    [`${LEDGER_ROOT}/irq/p,t,others.ledger`, parseHostLedger(others)],
                    [`${LEDGER_ROOT}/nic/p_s_theirs.ledger`, parseHostLedger(theirs)],
                ],
            );
            assert.deepEqual(parseHostLedger(others)?.createdDirs, ["/etc/udev/rules.d"]);
        });
    });

    it("a ledger rewritten after an apply that succeeded warns, naming the host and the file, when it cannot be written or is another owner's", async function () {
        const output = console.log;
        console.log = () => undefined;
        try {
            const refusing: Transport = { target: "h9:22", run: async () => ({ code: 0, stdout: "ledger-failed\t/var/lib/x.ledger\tRead-only file system\n", stderr: "" }) };
            const ledger = { path: "/var/lib/x.ledger", content: "owner\tp/s/a\n" };
            const warnings = await rewriteLedgerOrWarn(refusing, ledger.path, () => ledger, (why) => `is stale (${why}); the next up rewrites it`);
            assert.equal(warnings.length, 1);
            assert.match(warnings[0], /^h9:22: \/var\/lib\/x\.ledger is stale \(.*Read-only file system.*\); the next up rewrites it$/);
            const theirs = () => ledgerWrite(new Map([["/var/lib/y.ledger", parseHostLedger(renderHostLedger({ owner: "p/s/b", items: ["/sys/x"], record: {} }))!]]), "/var/lib/x.ledger", "p/s/a", ["/sys/x"], {}, "h9:22");
            assert.match((await rewriteLedgerOrWarn(refusing, ledger.path, theirs, (why) => `is stale (${why})`))[0], /^h9:22: \/var\/lib\/x\.ledger is stale \(.*p\/s\/b/);
            const accepting: Transport = { target: "h9:22", run: async () => ({ code: 0, stdout: "done\n", stderr: "" }) };
            assert.deepEqual(await rewriteLedgerOrWarn(accepting, ledger.path, () => ledger, () => "never"), []);
        } finally {
            console.log = output;
        }
    });
});
