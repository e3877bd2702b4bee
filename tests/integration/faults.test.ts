import { strict as assert } from "assert";
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import { openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "fs";
import * as path from "path";
import { FAULT_SETTINGS, faultProgram } from "../fault/program";
import type { Stack } from "@pulumi/pulumi/automation";
import { labStack, scratchDir } from "./engine";
import { Lab, LabHost, labDown, labUp, onHost } from "./lab";
import { expectFailure } from "./support";

// Nightly length: PLT_FAULT_ROUNDS=20 npm test -- tests/integration/faults.test.ts
const ROUNDS = Number(process.env.PLT_FAULT_ROUNDS ?? 4);
const CUT_ROUNDS = Number(process.env.PLT_FAULT_CUT_ROUNDS ?? 1);
const HANG_ROUNDS = Number(process.env.PLT_FAULT_HANG_ROUNDS ?? 1);
const SEED = Number(process.env.PLT_FAULT_SEED ?? Date.now() % 100000);

/**
 * Everything the suite's resources can touch on a host: the sysctls, the NIC's rings and
 * coalescing, IRQ affinities, governors and EPP, all of /etc (paths, modes, bytes) and the ledgers.
 */
function hostState(lab: Lab, host: LabHost): string {
    const keys = Object.keys(FAULT_SETTINGS).map((k) => `/proc/sys/${k.replace(/\./g, "/")}`);
    const hardware =
        host.hardware === "server"
            ? "ethtool -g eth1; ethtool -c eth1; grep -H . /proc/irq/*/smp_affinity_list /sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor /sys/devices/system/cpu/cpu[0-9]*/cpufreq/energy_performance_preference;"
            : "";
    return onHost(lab, host, [
        "sh",
        "-c",
        `for f in "$@"; do printf "%s=%s\\n" "$f" "$(cat "$f")"; done; ${hardware} find /etc -xdev -printf "%p %M %l\\n" | sort; find /etc -xdev -type f -exec sha256sum {} + | sort -k2; find /var/lib/pulumi-linux-tuning 2>/dev/null; true`,
        "sh",
        ...keys,
    ]);
}

/** A small deterministic generator, so a failing round can be replayed with PLT_FAULT_SEED. */
function random(seed: number): () => number {
    let s = seed >>> 0 || 1;
    return () => {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        return s / 2 ** 32;
    };
}

function exited(child: ChildProcess): Promise<number | null> {
    return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/**
 * Cuts the host off: its own side of the link goes down, so the controller's packets leave and
 * nothing answers (a pulled cable at the far end, not a refused connection). Then back up.
 */
function setLink(lab: Lab, host: LabHost, state: "up" | "down"): void {
    execFileSync("ip", ["-n", host.netns, "link", "set", "dev", "eth1", state]);
    if (state === "up") {
        onHost(lab, host, ["true"]);
    }
}

/** The operation's stderr goes to ROOT/op.log, for the failure message. */
function stackOp(root: string, labJson: string, op: "up" | "destroy"): ChildProcess {
    return spawn("node", ["-r", "ts-node/register", path.resolve(__dirname, "../fault/stack-op.ts"), root, labJson, op], {
        detached: true,
        stdio: ["ignore", "ignore", openSync(path.join(root, "op.log"), "w")],
        env: { ...process.env, TS_NODE_PROJECT: path.resolve(__dirname, "../tsconfig.json") },
    });
}

/**
 * kill -9 of the operation's whole process group (node, the pulumi CLI) and of the dynamic
 * provider, which the CLI starts in a group of its own (it runs from the stack's `root`), after
 * `ms`, or as soon as `now()` says so; false if the operation ended first.
 */
function killAfter(child: ChildProcess, root: string, ms: number, now: () => boolean = () => false): Promise<boolean> {
    return new Promise((resolve) => {
        const kill = () => {
            clearTimeout(timer);
            clearInterval(poll);
            try {
                process.kill(-child.pid!, "SIGKILL");
                resolve(true);
            } catch {
                resolve(false);
            } finally {
                spawnSync("pkill", ["-KILL", "-f", `${root}/work/node_modules/`]);
            }
        };
        const timer = setTimeout(kill, ms);
        const poll = setInterval(() => now() && kill(), 20);
        child.once("exit", () => {
            clearTimeout(timer);
            clearInterval(poll);
            resolve(false);
        });
    });
}

/** Whether a resource has written its ledger on some host (it does so before its first change there), read from the host's /var/lib overlay. */
function someLedgerWritten(lab: Lab): boolean {
    const files = (dir: string): boolean => {
        try {
            return readdirSync(dir).some((name) => {
                const entry = path.join(dir, name);
                return statSync(entry).isDirectory() ? files(entry) : statSync(entry).isFile();
            });
        } catch {
            return false;
        }
    };
    return lab.hosts.some((host) => files(path.join(lab.dir, "hosts", host.name, "varlib-upper", "pulumi-linux-tuning")));
}

describe(`fault suite: kill -9 mid-run, then recovery leaves every host byte-exact (${ROUNDS} rounds, seed ${SEED})`, function () {
    this.timeout(30 * 60 * 1000);
    let lab: Lab;
    let labJson: string;
    const original = new Map<string, string>();
    const figures = { rounds: 0, faults: 0, hostsLeftDifferent: 0 };
    const next = random(SEED);

    before(function () {
        lab = labUp(3, "server");
        labJson = path.join(scratchDir("plt-faults-"), "lab.json");
        writeFileSync(labJson, JSON.stringify(lab));
        for (const host of lab.hosts) {
            original.set(host.name, hostState(lab, host));
        }
    });
    after(function () {
        console.log(`      fault suite figures: ${JSON.stringify(figures)}`);
        if (lab) {
            labDown(lab);
        }
    });

    for (let round = 1; round <= ROUNDS; round++) {
        // A create, a destroy, an update that adds items, in turn.
        const kind = (["update", "create", "destroy"] as const)[round % 3];
        const op = kind === "destroy" ? "destroy" : "up";
        it(`round ${round}: kill -9 during ${kind === "update" ? "an up that updates" : op}, then cancel, refresh --clear-pending-creates, up, destroy`, async function () {
            const root = scratchDir("plt-faults-stack-");
            const stack = await labStack("faults", faultProgram(lab), root);
            if (kind === "destroy") {
                await stack.up();
            } else if (kind === "update") {
                await (await labStack("faults", faultProgram(lab, "partial"), root)).up();
            }
            // ts-node and the engine take a few seconds to start; the kill lands anywhere from
            // before the first host command to after the last one, except in the first round: there
            // it lands once the first ledger is written, with that host's changes under way.
            const delay = Math.round(2000 + next() * 5000);
            const atFirstLedger = round === 1 && kind === "create";
            const killed = await killAfter(stackOp(root, labJson, op), root, atFirstLedger ? 120_000 : delay, atFirstLedger ? () => someLedgerWritten(lab) : undefined);
            figures.rounds++;
            figures.faults += killed ? 1 : 0;
            if (atFirstLedger) {
                assert.ok(killed, `the create ended before any ledger was written: ${readFileSync(path.join(root, "op.log"), "utf8")}`);
                assert.ok(lab.hosts.some((host) => hostState(lab, host) !== original.get(host.name)), "killed with a host changed");
            }

            await recoverAndCompare(stack, atFirstLedger ? "killed at the first ledger write" : `killed after ${delay} ms (${killed ? "mid-run" : "after it ended"})`);
        });
    }

    for (let round = 1; round <= CUT_ROUNDS; round++) {
        it(`cut-off round ${round}: one host's link goes down during up (it stops answering), comes back, then refresh --clear-pending-creates, up, destroy`, async function () {
            const root = scratchDir("plt-faults-stack-");
            const stack = await labStack("faults", faultProgram(lab), root);
            const cut = lab.hosts[Math.floor(next() * lab.hosts.length)];
            const delay = Math.round(2000 + next() * 5000);
            const child = stackOp(root, labJson, "up");
            const done = exited(child);
            const timer = setTimeout(() => setLink(lab, cut, "down"), delay);
            let code: number | null;
            try {
                // The SSH keepalive (15 s, 3 misses) notices a dead link; the run ends on its own.
                code = await done;
            } finally {
                clearTimeout(timer);
                setLink(lab, cut, "up");
            }
            figures.rounds++;
            figures.faults += code === 0 ? 0 : 1;
            const why = readFileSync(path.join(root, "op.log"), "utf8").match(/error: .*/)?.[0] ?? "";
            await recoverAndCompare(stack, `${cut.name} cut off after ${delay} ms (the up exited ${code} ${why})`);
        });
    }

    for (let round = 1; round <= HANG_ROUNDS; round++) {
        it(`hang round ${round}: one host's ring change never returns; the up fails at commandTimeout with the command stopped on the host, then the same recovery`, async function () {
            const root = scratchDir("plt-faults-stack-");
            const limit = 10;
            const stack = await labStack("faults", faultProgram(lab, "full", limit), root);
            const stalled = lab.hosts[Math.floor(next() * lab.hosts.length)];
            const stall = path.join(lab.dir, "hosts", stalled.name, "hw", "stall-ring-change");
            writeFileSync(stall, "");
            let message: string;
            try {
                message = await expectFailure(stack.up());
                assert.doesNotMatch(onHost(lab, stalled, ["ps", "-eo", "args"]), /ethtool|pulumi-nic-apply/, "the stalled command is not left running on the host");
            } finally {
                rmSync(stall, { force: true });
            }
            const target = `root@${stalled.address.replace(/\./g, "\\.")}:${stalled.port}`;
            assert.match(message, new RegExp(`${target}: pulumi-nic-apply did not finish within ${limit} s \\(the connection's commandTimeout\\) and was stopped on the host`));
            figures.rounds++;
            figures.faults++;
            await recoverAndCompare(stack, `${stalled.name}'s ring change stalled`);
        });
    }

    /** The documented recovery, then every host must be exactly as it was before the suite. */
    async function recoverAndCompare(stack: Stack, what: string): Promise<void> {
        await stack.cancel().catch(() => undefined);
        await stack.refresh({ clearPendingCreates: true });
        await stack.up();
        const state = (await stack.exportStack()).deployment as { pending_operations?: unknown[] };
        assert.deepEqual(state.pending_operations ?? [], [], "no pending operations left after the converging up");
        await stack.destroy();

        const different = lab.hosts.filter((h) => hostState(lab, h) !== original.get(h.name));
        figures.hostsLeftDifferent += different.length;
        assert.deepEqual(
            different.map((h) => h.name),
            [],
            `${what}: ${different.map((h) => `${h.name}:\n${hostState(lab, h)}\nwas\n${original.get(h.name)}`).join("\n")}`,
        );
    }
});
