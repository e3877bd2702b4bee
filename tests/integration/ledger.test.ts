import { strict as assert } from "assert";
import type { Stack } from "@pulumi/pulumi/automation";
import { SysctlSet } from "../../provider";
import * as sysctlHandlers from "../../provider/sysctl/handlers";
import { LEDGER_ROOT, renderHostLedger } from "../../provider/host/ledger";
import { LEDGER_DIR } from "../../provider/sysctl/ledger";
import { planApply } from "../../provider/sysctl/plan";
import { applyToHost, readHost } from "../../provider/sysctl/remote";
import { sysctlSetInputsSchema } from "../../provider/sysctl/schema";
import { transportFor } from "../../provider/transport";
import { labStack } from "./engine";
import { Lab, LabHost, connectionTo, fileOn, labDown, labUp, onHost, setSysctlOn, sysctlOn } from "./lab";
import { assertNoChanges, collect, expectFailure } from "./support";

const FIN = "net.ipv4.tcp_fin_timeout";

describe("the host-side ledger: originals that survive an interrupted run, one owner per key", function () {
    this.timeout(10 * 60 * 1000);
    let lab: Lab;
    let host: LabHost;
    let original: string;
    const ledgers = () => onHost(lab, host, ["sh", "-c", `ls ${LEDGER_DIR} 2>/dev/null || true`]).trim();

    before(function () {
        lab = labUp(1);
        [host] = lab.hosts;
        original = sysctlOn(lab, host, FIN);
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
    });
    afterEach(function () {
        assert.equal(sysctlOn(lab, host, FIN), original, "every test gives the host its value back");
        assert.equal(ledgers(), "", "and leaves no ledger behind");
    });

    const fin = (stack: Stack | undefined, value: number, extra: Record<string, unknown> = {}) => {
        void stack;
        return new SysctlSet("fin", { connection: connectionTo(lab, host), settings: { [FIN]: value }, persist: false, ...extra });
    };

    // What a provider process does before it is killed: the host is tuned, the engine never
    // recorded the resource. Same code path, same owner (project/stack/name) as `project`'s stack.
    const interruptedCreate = (project: string, value: number, extra: Record<string, unknown> = {}) =>
        sysctlHandlers.create({ connection: connectionTo(lab, host), settings: { [FIN]: value }, persist: false, resourceName: "fin", owner: `${project}/lab/fin`, ...extra });

    it("a create whose run died after the host changed takes the true originals from the ledger", async function () {
        await interruptedCreate("ledger-interrupted", 21);
        assert.equal(sysctlOn(lab, host, FIN), "21");
        assert.match(ledgers(), /ledger-interrupted,lab,fin\.ledger/);

        const stack = await labStack("ledger-interrupted", async () => ({ originals: fin(undefined, 21).originals }));
        const up = await stack.up();
        assert.deepEqual(up.outputs.originals.value, { [FIN]: original }, "not the 21 the interrupted run left");
        await stack.destroy();
        assert.equal(sysctlOn(lab, host, FIN), original);
    });

    it("a create whose run died after it overwrote a file at persistFile still puts that file back, byte for byte", async function () {
        const file = "/etc/sysctl.d/99-admin.conf";
        // Not UTF-8 (\351, \377), no final newline: kept in the ledger as bytes.
        onHost(lab, host, ["sh", "-c", 'printf "# r\\351glage\\nvm.swappiness = 30\\n\\377" > "$1"', "sh", file]);
        const sha = () => onHost(lab, host, ["sh", "-c", 'if [ -e "$1" ]; then sha256sum "$1"; else echo absent; fi', "sh", file]);
        const before = sha();
        try {
            await interruptedCreate("ledger-file", 24, { persist: true, persistFile: file });
            assert.match(fileOn(lab, host, file) ?? "", /tcp_fin_timeout = 24/, "the interrupted run overwrote it");

            const stack = await labStack("ledger-file", async () => {
                fin(undefined, 24, { persist: true, persistFile: file });
            });
            await stack.up();
            await stack.destroy();
            assert.equal(sha(), before, "sha256 read on the host: the admin's file, not ours and not gone");
        } finally {
            onHost(lab, host, ["rm", "-f", file]);
        }
    });

    const afterKill = {
        up: "up, then destroy puts the key and the file back, byte for byte",
        destroy: "destroy straight after puts the key and the file back, byte for byte",
        revert: "then an up declaring what state has: preview names the ledger, and up puts the key and the file back",
    };
    for (const next of ["up", "destroy", "revert"] as const) {
        it(`an update that added a key and turned persistence on, killed before the engine saved it: ${afterKill[next]}`, async function () {
            const file = "/etc/sysctl.d/99-admin.conf";
            const KEEPALIVE = "net.ipv4.tcp_keepalive_time";
            const keepalive = sysctlOn(lab, host, KEEPALIVE);
            onHost(lab, host, ["sh", "-c", 'printf "# r\\351glage\\nvm.swappiness = 30\\n\\377" > "$1"', "sh", file]);
            const sha = () => onHost(lab, host, ["sh", "-c", 'if [ -e "$1" ]; then sha256sum "$1"; else echo absent; fi', "sh", file]);
            const before = sha();
            let updated = false;
            const stack = await labStack(`ledger-update-${next}`, async () => {
                if (updated) {
                    new SysctlSet("fin", { connection: connectionTo(lab, host), settings: { [FIN]: 26, [KEEPALIVE]: 333 }, persist: true, persistFile: file });
                } else {
                    fin(undefined, 26);
                }
            });
            try {
                await stack.up();
                const beforeUpdate = await stack.exportStack();
                updated = true;
                await stack.up();
                assert.match(fileOn(lab, host, file) ?? "", /tcp_fin_timeout = 26/, "the update overwrote it");
                assert.equal(sysctlOn(lab, host, KEEPALIVE), "333");
                // As if the engine had been killed before saving that update: state as before it, host and ledger as after.
                await stack.importStack(beforeUpdate);
                if (next === "revert") {
                    updated = false;
                    const plain = collect();
                    assert.equal((await stack.preview({ onOutput: plain.onOutput })).changeSummary.update, 1, "the ledger's extra key and file make it an update");
                    assert.match(plain.text(), new RegExp(`drift: differs from state: ${LEDGER_DIR}/ledger-update-revert,lab,fin\\.ledger also holds net\\.ipv4\\.tcp_keepalive_time, ${file.replace(/\./g, "\\.")} \\(an interrupted update's\\)`));
                }
                if (next !== "destroy") {
                    await stack.up();
                }
                if (next === "revert") {
                    assert.equal(sha(), before, "sha256 read on the host: the admin's file is back before destroy");
                    assert.equal(sysctlOn(lab, host, KEEPALIVE), keepalive, "and so is the key only the ledger knew");
                    assertNoChanges((await stack.preview()).changeSummary);
                }
                await stack.destroy();
                assert.equal(sha(), before, "sha256 read on the host: the admin's file, not ours and not gone");
                assert.equal(sysctlOn(lab, host, KEEPALIVE), keepalive, "the key the update added is back too");
            } finally {
                onHost(lab, host, ["rm", "-f", file]);
                setSysctlOn(lab, host, KEEPALIVE, keepalive);
            }
        });
    }

    it("a second stack setting the same key is refused at preview naming the owner; takeOver moves it with its original", async function () {
        const KEEPALIVE = "net.ipv4.tcp_keepalive_time";
        const keepalive = sysctlOn(lab, host, KEEPALIVE);
        let aSettings: Record<string, number> = { [FIN]: 20 };
        const a = await labStack("ledger-a", async () => {
            new SysctlSet("fin", { connection: connectionTo(lab, host), settings: aSettings, persist: false });
        });
        const b = await labStack("ledger-b", async () => {
            fin(undefined, 25);
        });
        try {
            await a.up();
            const out = collect();
            const message = await expectFailure(b.preview({ onOutput: out.onOutput }));
            assert.match(message + out.text(), /net\.ipv4\.tcp_fin_timeout is managed by ledger-a\/lab\/fin \(its ledger on the host\); remove it there, or set takeOver: true/);
            assert.equal(sysctlOn(lab, host, FIN), "20", "nothing changed");

            const takeOver = await labStack("ledger-b", async () => ({ originals: fin(undefined, 25, { takeOver: true }).originals }));
            const up = await takeOver.up();
            assert.equal(sysctlOn(lab, host, FIN), "25");
            assert.deepEqual(up.outputs.originals.value, { [FIN]: original }, "the host's own value, not ledger-a's 20");
            aSettings = { [KEEPALIVE]: 600 };
            await a.up();
            assert.equal(sysctlOn(lab, host, FIN), "25", "ledger-a's update no longer declaring the key leaves it to ledger-b");
            await a.destroy();
            assert.equal(sysctlOn(lab, host, KEEPALIVE), keepalive);
            assert.equal(sysctlOn(lab, host, FIN), "25", "ledger-a no longer owns the key: its destroy leaves it to ledger-b");
            await takeOver.destroy();
        } finally {
            await a.destroy().catch(() => undefined);
            await b.destroy().catch(() => undefined);
        }
    });

    it("a key another kind of resource's ledger holds (PacketSteering's RFS table) is refused at preview, even under takeOver", async function () {
        const other = renderHostLedger({ owner: "other/prod/steer", items: [`/proc/sys/${FIN.replace(/\./g, "/")}`], record: {} });
        onHost(lab, host, ["sh", "-c", 'mkdir -p "${1%/*}" && printf "%s" "$2" > "$1"', "sh", `${LEDGER_ROOT}/packet-steering/other.ledger`, other]);
        try {
            const stack = await labStack("ledger-other-kind", async () => {
                fin(undefined, 23, { takeOver: true });
            });
            const out = collect();
            const message = await expectFailure(stack.up({ onOutput: out.onOutput }));
            assert.match(message + out.text(), /net\.ipv4\.tcp_fin_timeout is managed by other\/prod\/steer \(its ledger on the host\); remove it there first/);
            assert.equal(sysctlOn(lab, host, FIN), original, "nothing changed");
        } finally {
            onHost(lab, host, ["rm", "-rf", LEDGER_ROOT]);
        }
    });

    it("a key another kind's apply claims between this create's read and its write (another stack at the same moment) is refused under the host lock, with nothing changed", async function () {
        const inputs = sysctlSetInputsSchema.parse({ connection: connectionTo(lab, host), settings: { [FIN]: 23 }, persist: false, resourceName: "fin", owner: "ledger-race/lab/fin" });
        const transport = transportFor(inputs.connection);
        const plan = planApply(inputs, await readHost(transport, [FIN], []), transport.target);
        const other = renderHostLedger({ owner: "other/prod/steer", items: [`/proc/sys/${FIN.replace(/\./g, "/")}`], record: {} });
        onHost(lab, host, ["sh", "-c", 'mkdir -p "${1%/*}" && printf "%s" "$2" > "$1"', "sh", `${LEDGER_ROOT}/packet-steering/other.ledger`, other]);
        try {
            await assert.rejects(applyToHost(transport, plan.writes, plan.file, plan.ledger), /net\.ipv4\.tcp_fin_timeout is managed by other\/prod\/steer \(its ledger on the host\); remove it there first\. Nothing was changed\./);
            assert.equal(sysctlOn(lab, host, FIN), original, "nothing changed");
            assert.equal(onHost(lab, host, ["cat", `${LEDGER_ROOT}/packet-steering/other.ledger`]), other, "the other ledger is untouched");
        } finally {
            onHost(lab, host, ["rm", "-rf", LEDGER_ROOT]);
        }
    });

    it("two SysctlSets of one program declaring one key on one host fail the preview", async function () {
        const stack = await labStack("ledger-twice", async () => {
            new SysctlSet("fin-1", { connection: connectionTo(lab, host), settings: { [FIN]: 20 }, persist: false });
            new SysctlSet("fin-2", { connection: connectionTo(lab, host), settings: { [FIN]: 25 }, persist: false });
        });
        const out = collect();
        const message = await expectFailure(stack.preview({ onOutput: out.onOutput }));
        assert.match(message + out.text(), /net\.ipv4\.tcp_fin_timeout is also declared by ledger-twice\/lab\/fin-[12] \(SysctlSet\) in this program; one owner per key/);
    });

    it("after `pulumi stack rename`, an update keeps its ledger instead of being refused by its old name", async function () {
        let value = 22;
        const stack = await labStack("ledger-rename", async () => {
            fin(undefined, value);
        });
        try {
            await stack.up();
            await stack.rename({ stackName: "renamed" });
            value = 23;
            await stack.up();
            assert.equal(sysctlOn(lab, host, FIN), "23");
            assert.equal(ledgers(), "ledger-rename,lab,fin.ledger", "the one ledger it had");
        } finally {
            await stack.destroy();
        }
    });

    it("refresh reports a ledger that went missing", async function () {
        const stack = await labStack("ledger-refresh", async () => ({ status: fin(undefined, 22).ledgerStatus }));
        try {
            await stack.up();
            onHost(lab, host, ["sh", "-c", `rm -f ${LEDGER_DIR}/*.ledger`]);
            await stack.refresh();
            const up = await stack.up();
            assert.match(String(up.outputs.status.value), /^missing: \/var\/lib\/pulumi-linux-tuning\/sysctl\/ledger-refresh,lab,fin\.ledger$/);
        } finally {
            setSysctlOn(lab, host, FIN, "22");
            await stack.destroy();
        }
    });
});
