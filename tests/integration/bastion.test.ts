import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync } from "fs";
import * as os from "os";
import * as path from "path";
import type { Stack } from "@pulumi/pulumi/automation";
import { SysctlSet } from "../../provider";
import { assertNoChanges, expectFailure } from "./support";
import { fleetProgram } from "../../components/fleet";
import { labFleetConfig } from "../lab/stack-config";
import { labStack, storedStateText } from "./engine";
import { Bastion, Lab, LabHost, connectionTo, labDown, labUp, sshConnectionCount, startBastion, sysctlOn } from "./lab";

const KEY = "net.ipv4.tcp_fin_timeout";

describe("SSH transport on lab hosts: a bastion (connection.proxy), and one pooled login per credentials", function () {
    this.timeout(5 * 60 * 1000);
    let lab: Lab;
    let bastion: Bastion;
    let targets: LabHost[];
    const viaBastion = () => ({ proxy: { host: bastion.host, port: bastion.port, user: "root", privateKey: readFileSync(lab.privateKeyPath, "utf8"), hostKey: bastion.hostKey } });

    before(async function () {
        lab = labUp(2);
        targets = lab.hosts;
        bastion = await startBastion(lab);
    });
    after(function () {
        bastion?.stop();
        if (lab) {
            labDown(lab);
        }
    });

    it("tunes two hosts behind one bastion login: up, a clean preview, destroy, each target reached from the bastion", async function () {
        const before = targets.map((t) => sysctlOn(lab, t, KEY));
        const stack: Stack = await labStack("bastion", async () => {
            for (const target of targets) {
                new SysctlSet(`fin-${target.name}`, { connection: connectionTo(lab, target, viaBastion()), settings: { [KEY]: 23 } });
            }
        });
        try {
            const logins = bastion.connections();
            const reached = targets.map((t) => sshConnectionCount(lab, t));
            await stack.up();
            assert.deepEqual(targets.map((t) => sysctlOn(lab, t, KEY)), ["23", "23"]);
            // One engine run, one provider process: one bastion login carries both targets.
            assert.equal(bastion.connections() - logins, 1);
            assert.deepEqual(targets.map((t, i) => sshConnectionCount(lab, t) - reached[i]), [1, 1]);
            assertNoChanges((await stack.preview()).changeSummary);
        } finally {
            await stack.destroy();
        }
        assert.deepEqual(targets.map((t) => sysctlOn(lab, t, KEY)), before);
    });

    /** A fleet of the lab's hosts with `defaults`, behind the bastion (no credential of its own), rolled out, checked and destroyed; `checkState` sees the stack while it is up. */
    async function rollOutBehindBastion(name: string, defaults: NonNullable<ReturnType<typeof labFleetConfig>["defaults"]>, checkState: (stack: Stack) => void = () => undefined): Promise<void> {
        const config = { ...labFleetConfig(lab), evidence: false };
        config.defaults = { ...defaults, proxy: { host: bastion.host, port: bastion.port, user: "root", hostKey: bastion.hostKey } };
        const stack = await labStack(name, async () => fleetProgram());
        await stack.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`pulumi-linux-tuning:${k}`, { value: JSON.stringify(v) }])));
        const before = targets.map((t) => sysctlOn(lab, t, KEY));
        try {
            const logins = bastion.connections();
            await stack.up();
            assert.ok(bastion.connections() > logins, "the hosts were reached through the bastion");
            assert.deepEqual(targets.map((t) => sysctlOn(lab, t, KEY)), ["30", "30"]);
            checkState(stack);
        } finally {
            await stack.destroy();
        }
        assert.deepEqual(targets.map((t) => sysctlOn(lab, t, KEY)), before);
    }

    it("a fleet whose defaults name a bastion with no key of its own: the bastion logs in with the hosts' key file, kept secret", async function () {
        await rollOutBehindBastion("bastion-fleet", labFleetConfig(lab).defaults!, (stack) => {
            const key = readFileSync(lab.privateKeyPath, "utf8").split("\n")[1];
            assert.ok(!storedStateText(stack).includes(key), "the key is in state only as a secret");
        });
    });

    it("a fleet on an SSH agent alone, with a bastion of no credential of its own: the agent is offered to the bastion too, as ssh -J does", async function () {
        const dir = mkdtempSync(path.join(os.tmpdir(), "plt-agent-"));
        const socket = path.join(dir, "agent.sock");
        const agent = spawnSync("ssh-agent", ["-a", socket, "-s"], { encoding: "utf8" });
        const agentPid = /SSH_AGENT_PID=(\d+)/.exec(agent.stdout)?.[1];
        assert.ok(agentPid, agent.stderr);
        try {
            const { privateKeyPath, ...noKey } = labFleetConfig(lab).defaults!;
            execFileSync("ssh-add", ["-q", privateKeyPath as string], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: "pipe" });
            await rollOutBehindBastion("bastion-agent", { ...noKey, agentSocketPath: socket });
        } finally {
            process.kill(Number(agentPid));
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("a bastion pinned by its RSA key (it has an Ed25519 one too) is reached, and a login it refuses is tried once, not dialErrorLimit times", async function () {
        const [target] = targets;
        const before = sysctlOn(lab, target, KEY);
        let proxy = { ...viaBastion().proxy, hostKey: bastion.rsaHostKey };
        const stack = await labStack("bastion-rsa", async () => {
            new SysctlSet("fin", { connection: connectionTo(lab, target, { proxy, dialErrorLimit: 3 }), settings: { [KEY]: 26 }, persist: false });
        });
        try {
            await stack.up();
            assert.equal(sysctlOn(lab, target, KEY), "26");
            const dir = mkdtempSync(path.join(os.tmpdir(), "plt-refused-"));
            execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "key")]);
            proxy = { ...proxy, privateKey: readFileSync(path.join(dir, "key"), "utf8") };
            rmSync(dir, { recursive: true });
            // The preview's read (new credentials are an update, so diff reads nothing more) meets the refusal, and fails on it.
            const logins = bastion.connections();
            assert.match(await expectFailure(stack.preview()), /property connection\.proxy\.user value .* has a problem: root@127\.0\.0\.1:\d+: All configured authentication methods failed/);
            assert.equal(bastion.connections() - logins, 1, "one refused login, not one per dialErrorLimit try");
        } finally {
            proxy = { ...proxy, privateKey: readFileSync(lab.privateKeyPath, "utf8") };
            await stack.destroy();
        }
        assert.equal(sysctlOn(lab, target, KEY), before);
    });

    it("a resource with a key the host refuses fails, even while another logged in to the same host with its own", async function () {
        const dir = mkdtempSync(path.join(os.tmpdir(), "plt-wrong-key-"));
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "key")]);
        const wrongKey = readFileSync(path.join(dir, "key"), "utf8");
        rmSync(dir, { recursive: true });
        const [target] = targets;
        const before = sysctlOn(lab, target, "net.ipv4.tcp_keepalive_time");
        const stack = await labStack("pool-credentials", async () => {
            const right = new SysctlSet("right", { connection: connectionTo(lab, target), settings: { [KEY]: 24 } });
            // After it: the pooled connection is open, and the only one to this user@host:port.
            new SysctlSet("wrong", { connection: connectionTo(lab, target, { privateKey: wrongKey }), settings: { "net.ipv4.tcp_keepalive_time": 600 } }, { dependsOn: right });
        });
        try {
            const message = await expectFailure(stack.up());
            assert.match(message, /SysctlSet wrong .*All configured authentication methods failed/);
            assert.equal(sysctlOn(lab, target, KEY), "24");
            assert.equal(sysctlOn(lab, target, "net.ipv4.tcp_keepalive_time"), before, "nothing ran with a login the key could not make");
        } finally {
            await stack.destroy();
        }
    });

    it("a target the bastion cannot reach fails naming both, and a command-line process that used it still exits", function () {
        // What `pulumi-linux-tuning drift` or `diagnose` does: run, then close every connection and return.
        const transport = path.resolve(__dirname, "../../bin/provider/transport");
        const script = `
            const { connectionSchema, transportFor, closeAllConnections } = require(${JSON.stringify(transport)});
            const connection = connectionSchema.parse(JSON.parse(process.argv[1]));
            transportFor(connection).run(["true"]).then(() => console.log("ran"), (e) => console.log(e.message)).finally(closeAllConnections);
        `;
        const unreachable = { ...connectionTo(lab, targets[0], viaBastion()), port: 1, perDialTimeout: 5, dialErrorLimit: 1 };
        const run = spawnSync("node", ["-e", script, JSON.stringify(unreachable)], { encoding: "utf8", timeout: 30_000 });
        assert.equal(run.signal, null, `the process had to be killed: a connection kept it alive (${run.stdout}${run.stderr})`);
        assert.match(run.stdout, new RegExp(`root@127\\.0\\.0\\.1:${bastion.port}: cannot tunnel to root@${targets[0].address.replace(/\./g, "\\.")}:1: `));
    });
});
