import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import { check } from "../../provider/host-tuning/handlers";
import { earlierHostLedgerPath, hostLedgerPath, ledgersIn, ownLedgerFiles, ownershipFailures, renderHostLedger } from "../../provider/host/ledger";
import { partCheckOlds, partInputs, partRenamed, partsToRemove, skippedOf } from "../../provider/host-tuning/plan";
import { HostTuningInputs, PART_ORDER } from "../../provider/host-tuning/schema";
import { inTempDir } from "./temp-dir";

const connection = { host: "10.0.0.5" };

function host(parts: Partial<HostTuningInputs>): HostTuningInputs {
    return { resourceName: "h1", admitted: true, ...parts } as HostTuningInputs;
}

describe("HostTuning parts", function () {
    it("applies modules before the sysctls that need them and steering after the NIC that makes its queues", function () {
        const at = (p: string) => PART_ORDER.indexOf(p as (typeof PART_ORDER)[number]);
        assert.ok(at("modules") < at("sysctls"));
        assert.ok(at("nic") < at("steering") && at("nic") < at("offloads") && at("nic") < at("irqs"));
    });

    it("a part created by an earlier version (owned as name-part, under that version's ledger name) counts that ledger as its own at check", function () {
        const earlier = "/var/lib/pulumi-linux-tuning/cpu-governor/proj_prod_web_1-governor.ledger";
        assert.equal(earlierHostLedgerPath("cpu-governor", "proj/prod/web_1-governor"), earlier);
        const olds = partCheckOlds({ owner: "proj/prod/web_1", governor: { governor: "performance" } }, "governor", "proj/prod/web_1");
        assert.deepEqual(ownLedgerFiles("cpu-governor", "proj/prod/web_1/governor", olds), [earlier, hostLedgerPath("cpu-governor", "proj/prod/web_1/governor")]);
        // Its stack renamed: the part's ledger as this version names it, under the old owner, is its own too.
        const renamedOlds = partCheckOlds({ owner: "proj/old/web_1", governor: { governor: "performance" } }, "governor", "proj/prod/web_1");
        const oldLedger = hostLedgerPath("cpu-governor", "proj/old/web_1/governor");
        assert.ok(ownLedgerFiles("cpu-governor", "proj/prod/web_1/governor", renamedOlds).includes(oldLedger));
        const renamedScope = { kind: "cpu-governor", owner: "proj/prod/web_1/governor", ledgers: ledgersIn(new Map([[oldLedger, renderHostLedger({ owner: "proj/old/web_1/governor", items: ["/sys/g"], record: {} })]])), target: "h" };
        assert.deepEqual(ownershipFailures(renamedScope, ownLedgerFiles("cpu-governor", renamedScope.owner, renamedOlds), "renamed:22", ["/sys/g"], "cpus"), [], "not refused by its own ledger");
        const ledgers = ledgersIn(new Map([[earlier, renderHostLedger({ owner: "proj/prod/web_1-governor", items: ["/sys/g"], record: {} })]]));
        const scope = { kind: "cpu-governor", owner: "proj/prod/web_1/governor", ledgers, target: "h" };
        assert.deepEqual(ownershipFailures(scope, ownLedgerFiles("cpu-governor", scope.owner, olds), "earlier-part:22", ["/sys/g"], "cpus"), []);
        assert.deepEqual(partCheckOlds({ owner: "proj/prod/web_1" }, "governor", "proj/prod/web_1"), {}, "a new part has no old inputs");
        const held = { owner: "p/s/h", admitted: false, sysctls: { settings: { "net.core.somaxconn": 4096 } } };
        assert.deepEqual(partCheckOlds(held, "sysctls", "p/s/h"), {}, "held last time: declared, never given to the host");
        assert.deepEqual(partCheckOlds(held, "sysctls", "p/renamed/h").settings, held.sysctls.settings, "its stack renamed since: the old owner's ledger is still its own");
    });

    it("gives every part its own owner in the host's ledgers: the HostTuning's, with /part appended (a dash would be a standalone web-1-nic's)", function () {
        const inputs = host({ owner: "proj/prod/web-1", sysctls: { settings: {} }, nic: { interface: "eth1", rings: { rx: 512 } }, governor: { governor: "performance" } });
        for (const part of ["sysctls", "nic", "governor"] as const) {
            assert.equal(partInputs(inputs, part, connection, {}).owner, `proj/prod/web-1/${part}`, part);
        }
        assert.equal(partInputs(host({ nic: { interface: "eth1" } }), "nic", connection, {}).owner, undefined, "no owner given: the part's resource name stands in");
    });

    it("gives the sysctls part the modules part's names, as the kernel writes them, besides its own", function () {
        const inputs = host({ modules: { modules: ["tcp-bbr", { name: "nf_conntrack", parameters: { hashsize: 1024 } }] }, sysctls: { settings: {}, modules: ["tcp_htcp"] } });
        assert.deepEqual(partInputs(inputs, "sysctls", connection, {}).modules, ["tcp_htcp", "tcp_bbr", "nf_conntrack"]);
        assert.equal(partInputs(host({ sysctls: { settings: {} } }), "sysctls", connection, {}).modules, undefined);
    });

    it("points steering, offloads and IRQs at the NIC part's interface, and steering and IRQs at its applied state", function () {
        const inputs = host({ nic: { interface: "ens1f0" }, steering: { rps: { cpus: "0-3" } }, offloads: { txqueuelen: 10000 }, irqs: { spread: "0-3" } });
        const nicState = { channels: { combined: 2 } };
        const parts = { nic: { id: "n", state: { desired: nicState } } };
        for (const part of ["steering", "offloads", "irqs"] as const) {
            assert.equal(partInputs(inputs, part, connection, parts).interface, "ens1f0", part);
        }
        assert.deepEqual(partInputs(inputs, "steering", connection, parts).nicState, nicState);
        assert.equal(partInputs(inputs, "offloads", connection, parts).nicState, undefined);
        assert.equal(partInputs(host({ ...inputs, steering: { interface: "ens2f0" } }), "steering", connection, parts).interface, "ens2f0", "its own interface wins");
    });

    it("lists what each part skipped: sysctl keys, a part's items, an unsupported governor, an EPP the driver lacks", function () {
        const skipped = skippedOf({
            sysctls: { state: { skipped: ["net.core.busy_poll"] } },
            nic: { state: { skipped: ["coalesce.rxFrames"] } },
            governor: { state: { eppUnsupported: "CPU 0-3 offer no energy_performance_preference (driver acpi-cpufreq, …)" } },
        } as never);
        assert.deepEqual(skipped, ["net.core.busy_poll", "nic: coalesce.rxFrames", "governor: energyPerformancePreference: CPU 0-3 offer no energy_performance_preference (driver acpi-cpufreq, …)"]);
        assert.deepEqual(skippedOf({ governor: { state: { unsupported: "CPU 0-1 have no cpufreq" } } } as never), ["governor: CPU 0-1 have no cpufreq"]);
    });

    it("removes parts no longer declared and parts moved to another interface first, in reverse order, then creates the moved ones", function () {
        const record = { id: "s", state: { interface: "eth1" } };
        assert.equal(partRenamed("steering", record, { interface: "eth2" }), true);
        assert.equal(partRenamed("thp", { id: "t", state: {} }, { enabled: "never" }), false);
        const parts = { modules: { id: "m", state: {} }, sysctls: { id: "s", state: {} }, thp: { id: "t", state: {} } };
        const none = () => ({});
        assert.deepEqual(partsToRemove(host({ sysctls: { settings: {} } }), parts, none), ["thp", "modules"]);
        // The NIC moved to eth2 and its followers with it, irqs dropped: all removed before anything applies, followers before the NIC.
        const onEth1 = { nic: { id: "n", state: { interface: "eth1" } }, steering: { id: "s", state: { interface: "eth1" } }, irqs: { id: "i", state: { interface: "eth1" } }, thp: { id: "t", state: {} } };
        const moved = host({ nic: { interface: "eth2" }, steering: { rps: { cpus: "1" } }, thp: { enabled: "never" } });
        assert.deepEqual(partsToRemove(moved, onEth1, (part) => (part === "thp" ? {} : { interface: "eth2" })), ["irqs", "steering", "nic"]);
    });
});

describe("HostTuning with a connection its own settings doom", function () {
    this.timeout(20_000);
    // An encrypted key given without its passphrase fails before any packet is sent (192.0.2.1 is TEST-NET-1).
    const encryptedKey = () =>
        inTempDir("plt-encrypted-key-", (dir) => {
            execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "a passphrase", "-f", path.join(dir, "key")]);
            return readFileSync(path.join(dir, "key"), "utf8");
        });
    const news = (extra: Record<string, unknown>) => ({
        connection: { host: "192.0.2.1", insecureSkipHostKeyCheck: true, dialErrorLimit: 1, privateKey: encryptedKey() },
        resourceName: "h1",
        sysctls: { settings: { "net.core.somaxconn": 4096 } },
        governor: { governor: "performance" },
        ...extra,
    });

    it("standalone, fails the preview once, on the connection's field at fault", async function () {
        const { failures } = await check({}, news({}));
        assert.deepEqual(
            failures?.map((f) => f.property),
            ["connection.privateKeyPassword"],
        );
        assert.match(failures![0].reason, /^root@192\.0\.2\.1:22: Cannot parse privateKey: Encrypted private OpenSSH key detected, but no passphrase given$/);
    });

    it("in a fleet (gated), leaves it to the host's apply, which counts against its wave", async function () {
        const result = await check({}, news({ admitted: true }));
        assert.deepEqual(result.failures, []);
        assert.equal((result.inputs as Record<string, unknown>).hostProblems, undefined);
    });
});
