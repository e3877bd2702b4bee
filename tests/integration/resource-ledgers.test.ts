import { strict as assert } from "assert";
import { CpuGovernor, HostTuning } from "../../provider";
import { labStack } from "./engine";
import { Lab, LabHost, connectionTo, labDown, labUp, onHost } from "./lab";
import { LedgerCase } from "./ledgers/case";
import { cpuGovernorCase } from "./ledgers/cpu-governor";
import { irqAffinityCase } from "./ledgers/irq-affinity";
import { kernelModuleCase } from "./ledgers/kernel-module";
import { nicOffloadsCase } from "./ledgers/nic-offloads";
import { nicRingConfigCase } from "./ledgers/nic-ring-config";
import { packetSteeringCase } from "./ledgers/packet-steering";
import { sysfsSetCase } from "./ledgers/sysfs-set";
import { transparentHugepagesCase } from "./ledgers/transparent-hugepages";
import { collect, expectFailure } from "./support";

const CASES: LedgerCase[] = [cpuGovernorCase, sysfsSetCase, transparentHugepagesCase, packetSteeringCase, nicRingConfigCase, nicOffloadsCase, irqAffinityCase, kernelModuleCase];

const LEDGER_ROOT = "/var/lib/pulumi-linux-tuning";

describe("every resource's host-side ledger: originals that survive an interrupted run, one owner per item", function () {
    this.timeout(10 * 60 * 1000);
    let lab: Lab;

    before(function () {
        lab = labUp(1);
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
    });

    for (const c of CASES) {
        describe(c.name, function () {
            let host: LabHost;
            let before: string;
            const ledgers = () => onHost(lab, host, ["sh", "-c", `find ${LEDGER_ROOT} 2>/dev/null || true`]).trim();
            const project = (suffix: string) => `ledgers-${c.kind}-${suffix}`;

            beforeEach(function () {
                host = lab.hosts.find((h) => h.hardware === (c.hardware ?? "server"))!;
                before = c.hostState(lab, host);
                assert.equal(ledgers(), "", "no ledger before");
            });
            afterEach(function () {
                assert.equal(c.hostState(lab, host), before, "the host is byte for byte as it was");
                assert.equal(ledgers(), "", "and no ledger or directory of ours is left");
            });

            it("a create whose run died after the host changed takes the true originals from its ledger; destroy restores them", async function () {
                // What a provider process does before it is killed: the host is tuned and the
                // engine never records the resource. Same code, same owner as the stack below.
                await c.create({ ...c.args(lab, host, "a"), resourceName: "r", owner: `${project("interrupted")}/lab/r` });
                assert.notEqual(c.hostState(lab, host), before, "the interrupted create changed the host");
                assert.match(ledgers(), new RegExp(`${c.kind}/${project("interrupted")},lab,r\\.ledger`));

                const stack = await labStack(project("interrupted"), async () => {
                    c.declare("r", c.args(lab, host, "a"));
                });
                await stack.up();
                await stack.destroy();
            });

            for (const next of ["up", "destroy"] as const) {
                it(`an update whose run died after the host changed: ${next === "up" ? "the next up keeps the true originals of what it added, and destroy restores them" : "a destroy straight after restores what it added too"}`, async function () {
                    let args = c.fewer(lab, host);
                    const stack = await labStack(project(`update-${next}`), async () => {
                        c.declare("r", args);
                    });
                    try {
                        await stack.up();
                        const beforeUpdate = await stack.exportStack();
                        args = c.args(lab, host, "a");
                        await stack.up();
                        // As if the engine had been killed before saving that update: state as before it, host and ledger as after.
                        await stack.importStack(beforeUpdate);
                        if (next === "up") {
                            await stack.up();
                        }
                    } finally {
                        await stack.destroy();
                    }
                });
            }

            it("an update whose run died after the host changed, then an up declaring only what state has: what only the ledger knew goes back to its original and leaves the ledger", async function () {
                let args = c.fewer(lab, host);
                const stack = await labStack(project("update-dropped"), async () => {
                    c.declare("r", args);
                });
                const ledgerItems = () => onHost(lab, host, ["sh", "-c", 'grep "^item" "$1" | sort -u', "sh", `${LEDGER_ROOT}/${c.kind}/${project("update-dropped")},lab,r.ledger`]);
                try {
                    const first = await stack.up();
                    const [tuned, items] = [c.hostState(lab, host), ledgerItems()];
                    // Seen once in CI: no ledger after this up, and what followed failed obscurely. Say what the up did.
                    assert.notEqual(items, "", `the first up wrote its ledger (changes ${JSON.stringify(first.summary.resourceChanges)}):\n${first.stdout}`);
                    const beforeUpdate = await stack.exportStack();
                    args = c.args(lab, host, "a");
                    await stack.up();
                    assert.notEqual(ledgerItems(), items, "the update added items to the ledger");
                    // As if the engine had been killed before saving that update; then the user drops what it added.
                    await stack.importStack(beforeUpdate);
                    args = c.fewer(lab, host);
                    const plain = collect();
                    await stack.preview({ onOutput: plain.onOutput });
                    assert.match(plain.text(), new RegExp(`drift: .*differs from state: ${LEDGER_ROOT}/${c.kind}/${project("update-dropped")},lab,r\\.ledger`), "a plain preview names the ledger that knows more than state");
                    await stack.up();
                    assert.equal(c.hostState(lab, host), tuned, "what only the ledger knew is back to its original");
                    assert.equal(ledgerItems(), items, "and the ledger no longer lists it");
                } finally {
                    await stack.destroy();
                }
            });

            it("a ledger that cannot be written (its directory read-only) fails the up naming the file, with nothing changed", async function () {
                const stack = await labStack(project("unwritable"), async () => {
                    c.declare("r", c.args(lab, host, "a"));
                });
                onHost(lab, host, ["sh", "-c", 'mkdir -p "$1" && mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"', "sh", LEDGER_ROOT]);
                try {
                    const out = collect();
                    const message = (await expectFailure(stack.up({ onOutput: out.onOutput }))) + out.text();
                    assert.match(message, new RegExp(`cannot write the ledger ${LEDGER_ROOT}/${c.kind}/${project("unwritable")},lab,r\\.ledger: .*Read-only file system\\. Nothing was changed\\.`));
                    assert.equal(c.hostState(lab, host), before, "nothing changed");
                } finally {
                    onHost(lab, host, ["sh", "-c", 'umount "$1" && rmdir "$1"', "sh", LEDGER_ROOT]);
                    await stack.destroy();
                }
            });

            it("two stacks' applies creating the same items at the same moment: one wins, the other is refused naming it, and nothing is lost", async function () {
                // Both providers' creates at once (one engine per Node process runs one update at a
                // time, so the two run here, as two stacks' providers would on the host).
                const news = (suffix: "x" | "y") => ({ ...c.args(lab, host, suffix === "x" ? "a" : "b"), resourceName: "r", owner: `${project(suffix)}/lab/r` });
                const results = await Promise.allSettled([c.create(news("x")), c.create(news("y"))]);
                const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
                assert.equal(failed.length, 1, `exactly one create fails: ${results.map((r) => r.status).join(", ")}`);
                assert.match(String(failed[0].reason), new RegExp(`managed by ${project("[xy]")}/lab/r \\(its ledger on the host\\)`));
                // The winner's stack takes over what its create left, and destroy gives the host back.
                const winner = results[0].status === "fulfilled" ? "x" : "y";
                const stack = await labStack(project(winner), async () => {
                    c.declare("r", c.args(lab, host, winner === "x" ? "a" : "b"));
                });
                await stack.up();
                await stack.destroy();
            });

            it("a second stack touching the same items is refused at preview naming the owner, with nothing changed", async function () {
                const a = await labStack(project("a"), async () => {
                    c.declare("r", c.args(lab, host, "a"));
                });
                const b = await labStack(project("b"), async () => {
                    c.declare("r", c.args(lab, host, "b"));
                });
                try {
                    await a.up();
                    const tuned = c.hostState(lab, host);
                    const out = collect();
                    const message = await expectFailure(b.up({ onOutput: out.onOutput }));
                    assert.match(message + out.text(), new RegExp(`managed by ${project("a")}/lab/r \\(its ledger on the host\\); remove it there first`));
                    assert.equal(c.hostState(lab, host), tuned, "b changed nothing");
                } finally {
                    await a.destroy();
                    await b.destroy();
                }
            });

            it("after `pulumi stack rename`, updates keep its own ledger instead of being refused by its old name", async function () {
                let variant: "a" | "b" = "a";
                const stack = await labStack(project("rename"), async () => {
                    c.declare("r", c.args(lab, host, variant));
                });
                try {
                    await stack.up();
                    await stack.rename({ stackName: "renamed" });
                    variant = "b";
                    await stack.up();
                    // Now state's inputs name the new owner, whose path is not the ledger's: still its own.
                    variant = "a";
                    await stack.up();
                    assert.match(ledgers(), new RegExp(`${c.kind}/${project("rename")},lab,r\\.ledger`), "the one ledger it had");
                } finally {
                    await stack.destroy();
                }
            });

            it("refresh reports a ledger that went missing", async function () {
                const stack = await labStack(project("refresh"), async () => ({ status: c.declare("r", c.args(lab, host, "a")).ledgerStatus }));
                try {
                    await stack.up();
                    onHost(lab, host, ["sh", "-c", `rm -f ${LEDGER_ROOT}/${c.kind}/*.ledger`]);
                    await stack.refresh();
                    const up = await stack.up();
                    assert.match(String(up.outputs.status.value), new RegExp(`^missing: ${LEDGER_ROOT}/${c.kind}/${project("refresh")},lab,r\\.ledger$`));
                } finally {
                    await stack.destroy();
                }
            });
        });
    }

    it("after `pulumi stack rename`, a HostTuning's parts keep their own ledgers: the next up and destroy are not refused by them", async function () {
        const host = lab.hosts.find((h) => h.hardware === "server")!;
        const before = cpuGovernorCase.hostState(lab, host);
        let governor = "performance";
        const stack = await labStack("ledgers-part-rename", async () => {
            new HostTuning("web", { connection: connectionTo(lab, host), governor: { governor, cpus: "0-1", persist: false } });
        });
        try {
            await stack.up();
            await stack.rename({ stackName: "renamed" });
            governor = "powersave";
            await stack.up();
            assert.equal(onHost(lab, host, ["cat", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"]).trim(), "powersave");
            assert.match(onHost(lab, host, ["sh", "-c", `ls ${LEDGER_ROOT}/cpu-governor`]), /^ledgers-part-rename,lab,web,governor\.ledger$/m, "the one ledger it had");
        } finally {
            await stack.destroy();
        }
        assert.equal(cpuGovernorCase.hostState(lab, host), before, "restored");
    });

    it("a HostTuning part and a standalone resource named like it (web's governor, web-governor) are two owners: refused at preview, naming the files", async function () {
        const host = lab.hosts.find((h) => h.hardware === "server")!;
        const before = cpuGovernorCase.hostState(lab, host);
        const stack = await labStack("ledgers-part-names", async () => {
            new HostTuning("web", { connection: connectionTo(lab, host), governor: { governor: "performance", cpus: "0-1" } });
            new CpuGovernor("web-governor", { connection: connectionTo(lab, host), governor: "powersave", cpus: "2-3" });
        });
        const out = collect();
        const message = (await expectFailure(stack.preview({ onOutput: out.onOutput }))) + out.text();
        assert.match(message, /\/etc\/systemd\/system\/pulumi-cpu-governor-web-governor\.service.* managed by ledgers-part-names\/lab\/(web\/governor|web-governor) \(CpuGovernor\) in this program/);
        assert.equal(cpuGovernorCase.hostState(lab, host), before, "nothing changed");
        assert.equal(onHost(lab, host, ["sh", "-c", `find ${LEDGER_ROOT} 2>/dev/null || true`]).trim(), "", "no ledger written");
    });
});
