import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import { chmodSync, chownSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { PASSPHRASE, labStack, pulumiBin } from "./engine";
import { Lab, LabHost, fileOn, labDown, labUp, sysctlOn } from "./lab";

const REPO = path.resolve(__dirname, "../..");

/** Runs a program from examples/ as `pulumi up` would: evaluated afresh on every engine run. */
function exampleProgram(dir: string) {
    const entry = path.resolve(REPO, "examples", dir);
    return async () => {
        delete require.cache[require.resolve(entry)];
        return require(entry);
    };
}

type Config = Record<string, { value: string; secret?: boolean }>;

/** A value an example sets on a lab host: checked after `up`, and back to the host's own after `destroy`. */
interface Touch {
    host: (lab: Lab) => LabHost;
    /** A sysctl key, or an absolute path such as a sysfs attribute. */
    key: string;
    applied: string;
}

function touched(lab: Lab, t: Touch): string | null {
    const host = t.host(lab);
    return t.key.startsWith("/") ? (fileOn(lab, host, t.key)?.trimEnd() ?? null) : sysctlOn(lab, host, t.key);
}

interface Example {
    dir: string;
    config: (lab: Lab) => Config;
    touches?: Touch[];
    /** Checks on the stack outputs after `up`. */
    outputs?: (outputs: Record<string, unknown>) => void;
}

/** The Fleet inventory the fleet examples read from config `hosts`. */
function inventory(hosts: LabHost[], extra: (h: LabHost, i: number) => object = () => ({})): string {
    return JSON.stringify(hosts.map((h, i) => ({ name: h.name, connection: { host: h.address, port: h.port, hostKey: h.hostKey }, ...extra(h, i) })));
}

describe("examples run against lab hosts", function () {
    this.timeout(10 * 60 * 1000);
    let lab: Lab;

    before(function () {
        // Four hosts for the fleet examples; the single-host examples use the first.
        lab = labUp(4);
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
    });

    const key = (lab: Lab) => ({ value: readFileSync(lab.privateKeyPath, "utf8"), secret: true });
    const single = (lab: Lab, extra: Record<string, string> = {}): Config => ({
        host: { value: lab.hosts[0].address },
        hostKey: { value: lab.hosts[0].hostKey },
        sshPrivateKey: key(lab),
        ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, { value: v }])),
    });
    const everyHost = (key: string, applied: string): Touch[] => [0, 1, 2, 3].map((i) => ({ host: (lab) => lab.hosts[i], key, applied }));

    const examples: Example[] = [
        {
            dir: "sysctl-basic",
            config: (lab) => ({ hosts: { value: JSON.stringify([{ host: lab.hosts[0].address, hostKey: lab.hosts[0].hostKey }]) }, sshPrivateKey: key(lab) }),
            touches: [{ host: (lab) => lab.hosts[0], key: "net.ipv4.tcp_fin_timeout", applied: "15" }],
        },
        {
            dir: "nic-and-irqs",
            config: (lab) => single(lab, { applicationCpus: "0" }),
            touches: [{ host: (lab) => lab.hosts[0], key: "/sys/class/net/eth1/tx_queue_len", applied: "10000" }],
        },
        {
            dir: "sip-router-profile",
            config: (lab) => single(lab, { memoryGiB: "8", gateWindowSeconds: "2", healthCheck: "sysctl -n net.ipv4.ip_local_reserved_ports | grep -qx 5060-5061" }),
            touches: [
                { host: (lab) => lab.hosts[0], key: "net.ipv4.ip_local_reserved_ports", applied: "5060-5061" },
                { host: (lab) => lab.hosts[0], key: "net.ipv4.tcp_keepalive_time", applied: "60" },
            ],
            outputs: (out) => {
                const [verdict] = out.health as { status: string; counters: Record<string, number>; check: { exitCode: number } }[];
                assert.equal(verdict.status, "applied");
                assert.ok("Udp.RcvbufErrors" in verdict.counters, JSON.stringify(verdict));
                assert.equal(verdict.check.exitCode, 0);
            },
        },
        { dir: "low-latency-composed", config: (lab) => single(lab), touches: [{ host: (lab) => lab.hosts[0], key: "net.ipv4.tcp_fastopen", applied: "3" }] },
        {
            dir: "bbr-and-idle",
            config: (lab) => single(lab, { applicationCpus: "2-3" }),
            touches: [{ host: (lab) => lab.hosts[0], key: "net.ipv4.tcp_congestion_control", applied: "bbr" }],
            outputs: (out) => {
                assert.deepEqual(out.modules, { tcp_bbr: "loaded" });
                assert.deepEqual(out.loadedByUs, { tcp_bbr: ["tcp_bbr"] });
                assert.deepEqual(Object.values(out.transparentHugepages as object), ["never"]);
                assert.deepEqual(Object.values(out.wakeupLatency as object), ["3", "3"]);
            },
        },
        {
            dir: "napi-irq-deferral",
            config: (lab) => single(lab),
            touches: [
                { host: (lab) => lab.hosts[0], key: "/sys/class/net/eth1/gro_flush_timeout", applied: "20000" },
                { host: (lab) => lab.hosts[0], key: "/sys/class/net/eth1/napi_defer_hard_irqs", applied: "10" },
            ],
            outputs: (out) => {
                assert.deepEqual(out.originals, { "/sys/class/net/eth1/gro_flush_timeout": "0", "/sys/class/net/eth1/napi_defer_hard_irqs": "0" });
                assert.equal(out.persistedFile, "/etc/tmpfiles.d/90-pulumi-sysfs-napi.conf");
            },
        },
        {
            dir: "fleet-sip-router",
            // Global-only keys (rmem_max, netdev_max_backlog, fs.file-max) are absent or read-only
            // in a lab host's namespace: the profile skips them and lists them per host.
            // One receive queue for four CPUs at 10G: RPS/RFS and a long transmit queue as well.
            config: (lab) => ({ hosts: { value: inventory(lab.hosts, () => ({ facts: { interface: "eth1", linkGbps: 10, rxQueues: 1, cpus: 4 } })) }, memoryGiB: { value: "8" }, sshPrivateKey: key(lab) }),
            touches: everyHost("net.ipv4.ip_local_reserved_ports", "5060-5061"),
            outputs: (out) => {
                const waves = out.waveSummaries as { hosts: string[]; passed: boolean }[];
                assert.deepEqual(
                    waves.map((w) => w.hosts),
                    [["h1"], ["h2"], ["h3", "h4"]],
                    "serial [1, 25%, 100%] of 4 hosts",
                );
                assert.ok(waves.every((w) => w.passed));
                const records = out.hostRecords as Record<string, { status: string; skipped: string[]; check?: { exitCode: number; output: string } }>;
                for (const name of ["h1", "h2", "h3", "h4"]) {
                    assert.equal(records[name].status, "applied", name);
                    assert.equal(records[name].check?.output, "5060 is reserved (5060-5061)");
                    assert.ok(records[name].skipped.includes("net.core.netdev_max_backlog"), `${name} skipped the global-only key`);
                    assert.ok(records[name].skipped.some((s) => /^steering: .*rps_sock_flow_entries/.test(s)), `${name} set RPS/RFS per queue and skipped the machine's flow table: ${records[name].skipped}`);
                }
            },
        },
        {
            dir: "data-transfer-nodes",
            // h1, h2 regional (10 ms), h3, h4 long-haul (80 ms); h4's own rttMs (150) wins over its path's.
            config: (lab) => ({
                hosts: { value: inventory(lab.hosts, (_h, i) => ({ labels: { path: i < 2 ? "regional" : "long-haul" }, facts: { interface: "eth1", ...(i === 3 ? { rttMs: 150 } : {}) } })) },
                // A path no node serves yet is no assignment (one that selects no host is refused).
                paths: { value: JSON.stringify({ regional: { linkGbps: 100, rttMs: 10 }, "long-haul": { linkGbps: 100, rttMs: 80 }, transatlantic: { linkGbps: 400, rttMs: 90 } }) },
                sshPrivateKey: key(lab),
            }),
            touches: [
                // 100 Gbit/s x 10 ms / 8 = 125000000 bytes; x 2 = 250000000, rounded up to 239 MiB.
                { host: (lab) => lab.hosts[0], key: "net.ipv4.tcp_rmem", applied: "4096 131072 250609664" },
                // 100 Gbit/s x 80 ms / 8 = 1000000000 bytes; x 2 rounded up to 1908 MiB.
                { host: (lab) => lab.hosts[2], key: "net.ipv4.tcp_wmem", applied: "4096 16384 2000683008" },
                // 100 Gbit/s x 150 ms: 2 x BDP is above INT_MAX, so INT_MAX.
                { host: (lab) => lab.hosts[3], key: "net.ipv4.tcp_rmem", applied: "4096 131072 2147483647" },
            ],
            outputs: (out) => {
                const buffers = out.buffers as Record<string, { bdpBytes: number; bufferBytes: number }>;
                assert.deepEqual(
                    Object.values(buffers).map((b) => [b.bdpBytes, b.bufferBytes]),
                    [
                        [125000000, 250609664],
                        [125000000, 250609664],
                        [1000000000, 2000683008],
                        [1875000000, 2147483647],
                    ],
                );
            },
        },
    ];

    for (const example of examples) {
        it(`examples/${example.dir}: up, a clean preview, destroy`, async function () {
            const touches = example.touches ?? [];
            const originals = touches.map((t) => touched(lab, t));
            touches.forEach((t, i) => assert.notEqual(originals[i], t.applied, `${t.host(lab).name} ${t.key} must start different`));
            const stack = await labStack(`example-${example.dir}`, exampleProgram(example.dir));
            await stack.setAllConfig(example.config(lab));
            try {
                const up = await stack.up();
                assert.equal(up.summary.result, "succeeded");
                assert.ok(Object.keys(up.outputs).length > 0, "the example exports what it did");
                example.outputs?.(Object.fromEntries(Object.entries(up.outputs).map(([k, v]) => [k, v.value])));
                for (const t of touches) {
                    assert.equal(touched(lab, t), t.applied, `${t.host(lab).name} ${t.key} after up`);
                }
                const preview = await stack.preview();
                assert.deepEqual(Object.keys(preview.changeSummary).sort(), ["same"], JSON.stringify(preview.changeSummary));
            } catch (e) {
                // The lab hosts are shared by the examples: a failed one must not leave its tuning (and ledgers) to the next.
                await stack.destroy().catch(() => undefined);
                throw e;
            }
            const destroy = await stack.destroy();
            assert.equal(destroy.summary.result, "succeeded");
            touches.forEach((t, i) => assert.equal(touched(lab, t), originals[i], `${t.host(lab).name} ${t.key} restored`));
        });
    }

    describe("examples/local-preview on this machine, as the non-root user pltuser", function () {
        // The example's program runs in the process that drives the engine, so it is run here in
        // a child process as pltuser (created by the lab), with its own backend and CLI copy (the
        // cached CLI lives under /root), and this checkout bound at ROOT/repo in a mount namespace
        // of its own: a clone under /root (0700) is out of pltuser's reach at its own path. Its
        // `up` is never run as root: that would tune this machine.
        let root: string;
        const repoView = () => path.join(root, "repo");
        const uid = () => Number(execFileSync("id", ["-u", "pltuser"], { encoding: "utf8" }).trim());
        const KEYS = ["net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_syncookies", "net.ipv4.tcp_abort_on_overflow", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_fin_timeout"];
        const machine = () => KEYS.map((k) => readFileSync(`/proc/sys/${k.replace(/\./g, "/")}`, "utf8"));

        before(function () {
            root = mkdtempSync(path.join(tmpdir(), "plt-example-local-preview-"));
            const bin = path.join(root, "cli", "bin");
            mkdirSync(bin, { recursive: true });
            for (const file of ["pulumi", "pulumi-resource-pulumi-nodejs"]) {
                const source = realpathSync(path.join(pulumiBin(), file));
                try {
                    linkSync(source, path.join(bin, file));
                } catch {
                    copyFileSync(source, path.join(bin, file));
                    chmodSync(path.join(bin, file), 0o755);
                }
            }
            for (const dir of ["work", "state", "home"]) {
                mkdirSync(path.join(root, dir));
                chownSync(path.join(root, dir), uid(), uid());
            }
            mkdirSync(repoView());
            symlinkSync(path.join(repoView(), "node_modules"), path.join(root, "work", "node_modules"));
            chmodSync(root, 0o755);
        });
        after(function () {
            if (root) {
                rmSync(root, { recursive: true, force: true });
            }
        });

        /** `pulumi preview` or `up` of the example through the Automation API, as pltuser. */
        function runAsPltuser(op: "preview" | "up"): { status: number | null; output: string } {
            const script = `
const { LocalWorkspace, PulumiCommand } = require("@pulumi/pulumi/automation");
const [root, entry, op, passphrase] = process.argv.slice(1);
(async () => {
  const pulumiCommand = await PulumiCommand.get({ root: root + "/cli", skipVersionCheck: true });
  const backend = "file://" + root + "/state";
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: "dev", projectName: "local-preview", program: async () => require(entry) },
    { workDir: root + "/work", pulumiHome: root + "/home", pulumiCommand,
      envVars: { PULUMI_CONFIG_PASSPHRASE: passphrase, PULUMI_BACKEND_URL: backend, PULUMI_SKIP_UPDATE_CHECK: "true",
                 PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true", PATH: root + "/cli/bin:" + process.env.PATH },
      projectSettings: { name: "local-preview", runtime: "nodejs", backend: { url: backend } } });
  await stack.setConfig("connectionsPerSecond", { value: "50000" });
  const result = await stack[op]({ onOutput: (s) => process.stdout.write(s) });
  console.log("\\nRESULT " + JSON.stringify(result.changeSummary ?? result.summary.resourceChanges));
})().catch((e) => { console.log("\\nFAILED " + e.message); process.exit(1); });`;
            const asPltuser = 'mount --bind "$1" "$2" && cd "$2" && shift 2 && exec runuser -u pltuser -- "$@"';
            const run = spawnSync(
                "unshare",
                ["--mount", "--propagation", "private", "sh", "-c", asPltuser, "sh", REPO, repoView(), "node", "-r", "ts-node/register", "-e", script, root, path.join(repoView(), "examples/local-preview"), op, PASSPHRASE],
                { encoding: "utf8", env: { ...process.env, HOME: path.join(root, "home"), TS_NODE_PROJECT: path.join(repoView(), "tests/tsconfig.json") }, timeout: 5 * 60 * 1000 },
            );
            return { status: run.status, output: run.stdout + run.stderr };
        }

        it("preview lists what would change and changes nothing; up fails saying it needs root", function () {
            const before = machine();
            const finTimeout = Number(before[KEYS.indexOf("net.ipv4.tcp_fin_timeout")]);

            const preview = runAsPltuser("preview");
            assert.equal(preview.status, 0, preview.output);
            assert.match(preview.output, /RESULT \{"create":\d+\}/);
            // The profile's bound is tcp_fin_timeout <= 30.
            const line = `would change net.ipv4.tcp_fin_timeout: ${finTimeout} -> <= 30`;
            assert.equal(preview.output.includes(line), finTimeout > 30, `"${line}" iff the machine has more than 30:\n${preview.output}`);
            assert.deepEqual(machine(), before, "preview changed nothing");

            const up = runAsPltuser("up");
            assert.notEqual(up.status, 0);
            assert.match(up.output, /local: changing kernel settings needs root, and this runs as pltuser: run as root, or set the connection's sudo: true \(passwordless sudo\)\. Nothing was changed\./);
            assert.doesNotMatch(up.output, /Unhandled exception|at Object\./, "the reason, not a stack trace");
            assert.deepEqual(machine(), before, "up changed nothing");
        });
    });
});
