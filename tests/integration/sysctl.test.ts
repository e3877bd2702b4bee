import { strict as assert } from "assert";
import { createHash } from "crypto";
import { execFileSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { Stack } from "@pulumi/pulumi/automation";
import { SysctlSet } from "../../provider";
import { connectionSchema, shProgram, transportFor } from "../../provider/transport";
import { assertNoChanges, collect, expectFailure } from "./support";
import { labStack, storedStateText } from "./engine";
import { Lab, LabHost, connectionTo, fileOn, labDown, labUp, onHost, setSysctlOn, sshCommandCount, sshConnectionCount, sshdLog, sysctlOn, traceProgramsStartedOn } from "./lab";

describe("SysctlSet through the real engine on lab hosts", function () {
    this.timeout(10 * 60 * 1000);
    let lab: Lab;
    let h1: LabHost;
    let h2: LabHost;

    before(function () {
        lab = labUp(2);
        [h1, h2] = lab.hosts;
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
    });

    /** `value` as an output of a SysctlSet the program creates beside: unknown in a preview that creates it. */
    function knownAfterCreate<T>(host: LabHost, value: T): pulumi.Output<T> {
        const marker = new SysctlSet("marker", { connection: connectionTo(lab, host), settings: { "net.ipv4.tcp_keepalive_probes": 7 }, persist: false });
        return marker.originals.apply(() => value);
    }

    /** Runs `body` on `stack`, destroys it whatever happened, and checks `key` on `host` is back to what it was. */
    async function thenRestored(host: LabHost, key: string, stack: Stack, body: () => Promise<void>): Promise<void> {
        const before = sysctlOn(lab, host, key);
        try {
            await body();
        } finally {
            await stack.destroy();
        }
        assert.equal(sysctlOn(lab, host, key), before);
    }

    describe("a two-host stack", function () {
        let stack: Stack;
        const keys = ["net.core.somaxconn", "net.ipv4.tcp_rmem", "net.ipv4.tcp_fin_timeout"];
        const initial = new Map<string, string>();
        const persistFile = (host: LabHost) => `/etc/sysctl.d/90-pulumi-tune-${host.name}.conf`;
        const somaxconn = (host: LabHost) => (host === h1 ? 8192 : 9001);

        before(async function () {
            for (const host of [h1, h2]) {
                for (const key of keys) {
                    initial.set(`${host.name}/${key}`, sysctlOn(lab, host, key));
                }
            }
            // The VM's own fin_timeout default (60) is above the bound, so the bound must lower it.
            assert.ok(Number(initial.get(`${h1.name}/net.ipv4.tcp_fin_timeout`)) > 20);
            stack = await labStack("sysctl-two-hosts", async () => {
                const sets = [h1, h2].map(
                    (host) =>
                        new SysctlSet(`tune-${host.name}`, {
                            connection: connectionTo(lab, host),
                            settings: {
                                "net.core.somaxconn": somaxconn(host),
                                "net.ipv4.tcp_rmem": [4096, 131072, 8388608],
                                "net.ipv4.tcp_fin_timeout": { atMost: 20 },
                            },
                        }),
                );
                return { settings: sets.map((s) => s.settings), originals: sets.map((s) => s.originals) };
            });
        });

        after(async function () {
            if (stack) {
                await stack.destroy().catch(() => undefined);
                await stack.workspace.removeStack("lab").catch(() => undefined);
            }
        });

        it("up sets every value on both hosts and writes the persistence file", async function () {
            const result = await stack.up();
            assert.equal(result.summary.result, "succeeded");
            for (const host of [h1, h2]) {
                assert.equal(sysctlOn(lab, host, "net.core.somaxconn"), String(somaxconn(host)));
                assert.equal(sysctlOn(lab, host, "net.ipv4.tcp_rmem"), "4096 131072 8388608");
                assert.equal(sysctlOn(lab, host, "net.ipv4.tcp_fin_timeout"), "20");
                const file = fileOn(lab, host, persistFile(host));
                assert.ok(file, `${persistFile(host)} exists on ${host.name}`);
                assert.match(file!, new RegExp(`^net\\.core\\.somaxconn = ${somaxconn(host)}$`, "m"));
                assert.match(file!, /^net\.ipv4\.tcp_rmem = 4096 131072 8388608$/m);
                assert.match(file!, /^net\.ipv4\.tcp_fin_timeout = 20$/m);
            }
            assert.ok(!existsSync(persistFile(h1)), "the lab host's file is not on the real machine");
            const originals = result.outputs.originals.value as Record<string, string>[];
            assert.equal(originals[0]["net.core.somaxconn"], initial.get(`${h1.name}/net.core.somaxconn`));
        });

        it("a second preview shows no changes", async function () {
            const preview = await stack.preview();
            assert.deepEqual(Object.keys(preview.changeSummary).sort(), ["same"]);
        });

        it("keeps private keys out of the state in plain text", async function () {
            const state = storedStateText(stack);
            const keyBody = readFileSync(lab.privateKeyPath, "utf8").split("\n")[1];
            assert.ok(keyBody.length > 20);
            assert.ok(!state.includes(keyBody), "a line of the private key appears in the exported state");
            assert.ok(state.includes("ciphertext"), "the connection secrets are stored encrypted");
        });

        it("shows a value changed behind Pulumi's back as per-key drift, and up converges", async function () {
            setSysctlOn(lab, h1, "net.core.somaxconn", "4096");

            const plain = collect();
            const flagged = await stack.preview({ onOutput: plain.onOutput });
            assert.equal(flagged.changeSummary.update, 1, "plain preview flags the drifted host");
            assert.match(plain.text(), /drift: net\.core\.somaxconn live 4096, desired 8192/);
            assert.match(plain.text(), /SysctlSet tune-h1 update \[diff: \+liveDrift\]/, "the update line itself says why");

            // --diff shows the resources' inputs but not the provider's messages: the drift is an input there.
            const withDiff = collect();
            await stack.preview({ diff: true, onOutput: withDiff.onOutput });
            assert.match(withDiff.text(), /\+ liveDrift\s*: \[\s*\+\s*\[0\]: "net\.core\.somaxconn live 4096, desired 8192"/);
            assert.doesNotMatch(withDiff.text(), /tune-h2[\s\S]*liveDrift/, "h2 did not drift");

            const refreshed = collect();
            const withRefresh = await stack.preview({ refresh: true, diff: true, onOutput: refreshed.onOutput });
            assert.equal(withRefresh.changeSummary.update, 1);
            assert.match(refreshed.text(), /net\.core\.somaxconn"?\s*:\s*4096\s*=>\s*8192/);

            await stack.up();
            assert.equal(sysctlOn(lab, h1, "net.core.somaxconn"), "8192");
            const after = await stack.preview({ refresh: true });
            assert.deepEqual(Object.keys(after.changeSummary).sort(), ["same"]);
        });

        it("a bound's value moved within the bound behind Pulumi's back is no drift, and its persistence file stays as written", async function () {
            const written = fileOn(lab, h2, persistFile(h2));
            setSysctlOn(lab, h2, "net.ipv4.tcp_fin_timeout", "15");
            const { onOutput, text } = collect();
            const preview = await stack.preview({ diff: true, onOutput });
            assert.deepEqual(Object.keys(preview.changeSummary), ["same"], text());
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            await stack.up();
            assert.equal(sysctlOn(lab, h2, "net.ipv4.tcp_fin_timeout"), "15", "within the bound: left as it is");
            assert.equal(fileOn(lab, h2, persistFile(h2)), written);
        });

        it("notices a deleted persistence file and puts it back", async function () {
            const { onOutput, text } = collect();
            onHost(lab, h2, ["rm", "-f", persistFile(h2)]);
            const preview = await stack.preview({ onOutput });
            assert.equal(preview.changeSummary.update, 1);
            assert.match(text(), new RegExp(`${persistFile(h2).replace(/\./g, "\\.")} is missing`));
            await stack.up();
            assert.match(fileOn(lab, h2, persistFile(h2)) ?? "", /net\.core\.somaxconn = 9001/);
        });

        it("destroy restores every original value and removes the files", async function () {
            await stack.destroy();
            for (const host of [h1, h2]) {
                for (const key of keys) {
                    assert.equal(sysctlOn(lab, host, key), initial.get(`${host.name}/${key}`), `${host.name} ${key}`);
                }
                assert.equal(fileOn(lab, host, persistFile(host)), null);
            }
        });
    });

    describe("the persistence file's path, byte for byte (issue 8)", function () {
        const KEY = "net.ipv4.tcp_fin_timeout";
        const sha = (host: LabHost, file: string) => onHost(lab, host, ["sh", "-c", 'if [ -e "$1" ]; then sha256sum "$1"; stat -c "%a %u:%g" "$1"; else echo absent; fi', "sh", file]);

        it("a file already at persistFile (bytes that are not UTF-8, no final newline) is back byte for byte after up + destroy, and after persist is turned off", async function () {
            const file = "/etc/sysctl.d/99-custom.conf";
            // \351 is é in Latin-1; \377\376 is no UTF-8 at all; no newline at the end.
            onHost(lab, h1, ["sh", "-c", 'printf "# r\\351glage admin\\nvm.swappiness = 30\\n# \\377\\376 end" > "$1" && chmod 0600 "$1"', "sh", file]);
            const before = sha(h1, file);
            const value = sysctlOn(lab, h1, KEY);
            let persist = true;
            const stack = await labStack("sysctl-own-file", async () => {
                new SysctlSet("custom", { connection: connectionTo(lab, h1), settings: { [KEY]: 27 }, persistFile: file, persist });
            });
            try {
                await stack.up();
                assert.match(fileOn(lab, h1, file) ?? "", /^net\.ipv4\.tcp_fin_timeout = 27$/m, "up wrote ours over it");
                persist = false;
                await stack.up();
                assert.equal(sha(h1, file), before, "persist turned off: the admin's file is back");
                persist = true;
                await stack.up();
                await stack.destroy();
                assert.equal(sha(h1, file), before, "sha256, mode and owner, read on the host");
                assert.equal(sysctlOn(lab, h1, KEY), value);
            } finally {
                await stack.destroy().catch(() => undefined);
                onHost(lab, h1, ["rm", "-f", file]);
            }
        });

        it("an admin's 0644 file at persistFile holds a secret key's value 0600 while it is ours, and is back with its bytes and its mode after destroy", async function () {
            const file = "/etc/sysctl.d/99-admin.conf";
            const key = "net.ipv4.tcp_fastopen_key";
            onHost(lab, h2, ["sh", "-c", 'printf "# admin\\nvm.swappiness = 30\\n" > "$1" && chmod 0644 "$1"', "sh", file]);
            const before = sha(h2, file);
            assert.match(before, /^644 0:0$/m);
            const original = sysctlOn(lab, h2, key);
            const stack = await labStack("sysctl-admin-file-secret", async () => {
                new SysctlSet("admin", { connection: connectionTo(lab, h2), settings: { [key]: "0123abcd-4567ef01-89abcdef-01234567" }, persistFile: file });
            });
            try {
                await stack.up();
                assert.match(sha(h2, file), /^600 0:0$/m, "only root reads the secret");
                await stack.destroy();
                assert.equal(sha(h2, file), before, "sha256, mode and owner, read on the host");
                assert.equal(sysctlOn(lab, h2, key), original);
            } finally {
                await stack.destroy().catch(() => undefined);
                onHost(lab, h2, ["rm", "-f", file]);
            }
        });

        it("refuses at preview, and at up, a persistFile that is a symbolic link (Debian's 99-sysctl.conf → ../sysctl.conf), with the file it points to untouched", async function () {
            const link = "/etc/sysctl.d/99-linked.conf";
            onHost(lab, h1, ["ln", "-sfn", "../sysctl.conf", link]);
            const before = [sha(h1, "/etc/sysctl.conf"), onHost(lab, h1, ["readlink", link])];
            const value = sysctlOn(lab, h1, KEY);
            const stack = await labStack("sysctl-linked-file", async () => {
                new SysctlSet("linked", { connection: connectionTo(lab, h1), settings: { [KEY]: 26 }, persistFile: link });
            });
            try {
                const refused = /property persistFile value .* has a problem: root@[\d.]+:\d+: \/etc\/sysctl\.d\/99-linked\.conf is a symbolic link to \.\.\/sysctl\.conf: writing it would change that file/;
                assert.match(await expectFailure(stack.preview()), refused);
                assert.match(await expectFailure(stack.up()), /99-linked\.conf is a symbolic link/);
                assert.deepEqual([sha(h1, "/etc/sysctl.conf"), onHost(lab, h1, ["readlink", link])], before);
                assert.equal(sysctlOn(lab, h1, KEY), value, "nothing written");
            } finally {
                await stack.destroy().catch(() => undefined);
                onHost(lab, h1, ["rm", "-f", link]);
            }
        });

        it("a host without /etc/sysctl.d ends without it after destroy", async function () {
            const saved = "/root/sysctl.d.saved-by-test";
            onHost(lab, h2, ["sh", "-c", 'rm -rf "$2" && if [ -d /etc/sysctl.d ]; then cp -a /etc/sysctl.d "$2"; fi && rm -rf /etc/sysctl.d', "sh", "/etc/sysctl.d", saved]);
            const stack = await labStack("sysctl-no-dir", async () => {
                new SysctlSet("nodir", { connection: connectionTo(lab, h2), settings: { [KEY]: 28 } });
            });
            try {
                await stack.up();
                assert.match(fileOn(lab, h2, "/etc/sysctl.d/90-pulumi-nodir.conf") ?? "", /tcp_fin_timeout = 28/);
                await stack.destroy();
                assert.equal(sha(h2, "/etc/sysctl.d"), "absent\n", "the directory the apply made is gone");
            } finally {
                await stack.destroy().catch(() => undefined);
                onHost(lab, h2, ["sh", "-c", 'rm -rf /etc/sysctl.d && if [ -d "$1" ]; then cp -a "$1" /etc/sysctl.d && rm -rf "$1"; fi', "sh", saved]);
            }
        });
    });

    describe("refusals", function () {
        it("fails check on a bad key or value, naming the property, without contacting the host", async function () {
            const connectionsBefore = sshConnectionCount(lab, h1);
            const stack = await labStack("sysctl-bad-input", async () => {
                new SysctlSet("bad", {
                    connection: connectionTo(lab, h1),
                    settings: {
                        "net.ipv4.tcp_tw_recycle": 1,
                        "net.core.somaxconn": "lots",
                        "net.ipv4.conf.eth0.100.rp_filter": 1,
                    },
                });
            });
            const message = await expectFailure(stack.up());
            assert.match(message, /settings\["net\.ipv4\.tcp_tw_recycle"\].*removed in Linux 4\.12/);
            assert.match(message, /settings\["net\.core\.somaxconn"\].*takes numbers/);
            assert.match(message, /net\/ipv4\/conf\/eth0\.100\/rp_filter/);
            assert.equal(sshConnectionCount(lab, h1), connectionsBefore, "no SSH connection was made");
        });

        it("a kernel rejection in the middle of a multi-key set leaves the host as it was", async function () {
            const keys = ["net.core.somaxconn", "net.ipv4.tcp_syn_retries", "net.ipv4.tcp_fin_timeout"];
            const before = keys.map((k) => sysctlOn(lab, h1, k));
            const stack = await labStack("sysctl-rollback", async () => {
                new SysctlSet("rejected", {
                    connection: connectionTo(lab, h1),
                    settings: {
                        "net.core.somaxconn": 5000,
                        // Passes check, but the kernel refuses more than 127 SYN retries (MAX_TCP_SYNCNT): EINVAL.
                        "net.ipv4.tcp_syn_retries": 200,
                        "net.ipv4.tcp_fin_timeout": 33,
                    },
                });
            });
            const message = await expectFailure(stack.up());
            assert.match(message, /refused net\.ipv4\.tcp_syn_retries: .*Invalid argument/);
            assert.match(message, /the host is as it was/);
            assert.deepEqual(keys.map((k) => sysctlOn(lab, h1, k)), before);
            assert.equal(fileOn(lab, h1, "/etc/sysctl.d/90-pulumi-rejected.conf"), null);
        });

        it("refuses at preview a port range starting below the host's ip_unprivileged_port_start, naming it and the host", async function () {
            const before = sysctlOn(lab, h1, "net.ipv4.ip_local_port_range");
            const stack = await labStack("sysctl-port-range", async () => {
                new SysctlSet("range", { connection: connectionTo(lab, h1), settings: { "net.ipv4.ip_local_port_range": [512, 61000] } });
            });
            const message = await expectFailure(stack.preview());
            assert.match(message, /settings\["net\.ipv4\.ip_local_port_range"\].*root@[\d.]+:\d+: starts at 512, below net\.ipv4\.ip_unprivileged_port_start \(1024\) there/);
            assert.equal(sysctlOn(lab, h1, "net.ipv4.ip_local_port_range"), before);
        });

        it("refuses at preview a CPU mask naming a CPU the host lacks, which the kernel would half-write before refusing", async function () {
            const key = "net.core.rps_default_mask";
            const before = sysctlOn(lab, h2, key);
            const stack = await labStack("sysctl-mask-beyond", async () => {
                new SysctlSet("mask", { connection: connectionTo(lab, h2), settings: { [key]: "5" }, persist: false });
            });
            const message = await expectFailure(stack.preview());
            assert.match(message, /settings\["net\.core\.rps_default_mask"\].*root@[\d.]+:\d+: names CPU 2, but this host's CPUs are 0-1; the kernel refuses it/);
            const diagnostics = message.split("Diagnostics:")[1]?.split("Resources:")[0] ?? "";
            assert.equal(diagnostics.match(/names CPU 2/g)?.length, 1, `named once: ${message}`);
            assert.equal(sysctlOn(lab, h2, key), before);
            // The kernel's own answer on the host: refused, after keeping the bit that fits.
            assert.throws(() => setSysctlOn(lab, h2, key, "5"), /Value too large/);
            assert.equal(sysctlOn(lab, h2, key), "1");
            setSysctlOn(lab, h2, key, before);
        });

        it("refuses a global key that is read-only inside a network namespace, naming it, before writing anything", async function () {
            const before = sysctlOn(lab, h1, "net.core.somaxconn");
            const stack = await labStack("sysctl-readonly", async () => {
                new SysctlSet("readonly", { connection: connectionTo(lab, h1), settings: { "net.core.somaxconn": 5004, "net.core.rmem_max": 33554432 } });
            });
            assert.match(await expectFailure(stack.up()), /net\.core\.rmem_max is read-only here/);
            assert.equal(sysctlOn(lab, h1, "net.core.somaxconn"), before);
        });

        it("fails on a global-only key inside a network namespace under onMissing: fail", async function () {
            const before = sysctlOn(lab, h2, "net.core.somaxconn");
            const stack = await labStack("sysctl-missing-fail", async () => {
                new SysctlSet("global-only", {
                    connection: connectionTo(lab, h2),
                    settings: { "net.core.somaxconn": 5001, "net.core.netdev_max_backlog": 5000 },
                });
            });
            const message = await expectFailure(stack.up());
            assert.match(message, /net\.core\.netdev_max_backlog does not exist on this host/);
            assert.match(message, /onMissing: "skip"/);
            assert.equal(sysctlOn(lab, h2, "net.core.somaxconn"), before);
        });

        it("skips and reports a global-only key under onMissing: skip", async function () {
            const before = sysctlOn(lab, h2, "net.core.somaxconn");
            const stack = await labStack("sysctl-missing-skip", async () => {
                const set = new SysctlSet("global-only", {
                    connection: connectionTo(lab, h2),
                    settings: { "net.core.somaxconn": 5001, "net.core.netdev_max_backlog": 5000 },
                    onMissing: "skip",
                });
                return { skipped: set.skipped };
            });
            const { onOutput, text } = collect();
            const result = await stack.up({ onOutput });
            assert.deepEqual(result.outputs.skipped.value, ["net.core.netdev_max_backlog"]);
            assert.match(text(), /skipped net\.core\.netdev_max_backlog/);
            assert.equal(sysctlOn(lab, h2, "net.core.somaxconn"), "5001");
            const preview = await stack.preview({ refresh: true });
            assert.deepEqual(Object.keys(preview.changeSummary).sort(), ["same"]);
            await stack.destroy();
            assert.equal(sysctlOn(lab, h2, "net.core.somaxconn"), before);
        });

        it("refuses a host whose key does not match the pinned hostKey, even beside insecureSkipHostKeyCheck (a default left on)", async function () {
            const stack = await labStack("sysctl-wrong-hostkey", async () => {
                new SysctlSet("mitm", {
                    connection: connectionTo(lab, h1, { hostKey: h2.hostKey, insecureSkipHostKeyCheck: true }),
                    settings: { "net.core.somaxconn": 5002 },
                });
            });
            // At preview already, on the setting that dooms every try.
            assert.match(await expectFailure(stack.preview()), /property connection\.hostKey value .* has a problem: .*HOST KEY MISMATCH/);
            const message = await expectFailure(stack.up());
            assert.match(message, /HOST KEY MISMATCH/);
            assert.notEqual(sysctlOn(lab, h1, "net.core.somaxconn"), "5002");
        });

        it("refuses at preview an encrypted private key without its passphrase, and logs in with it given", async function () {
            const dir = mkdtempSync(path.join(os.tmpdir(), "plt-encrypted-key-"));
            const keyFile = path.join(dir, "key");
            writeFileSync(keyFile, readFileSync(lab.privateKeyPath), { mode: 0o600 });
            execFileSync("ssh-keygen", ["-q", "-p", "-P", "", "-N", "lab key passphrase", "-f", keyFile]);
            const encrypted = readFileSync(keyFile, "utf8");
            rmSync(dir, { recursive: true });
            let passphrase: string | undefined;
            const stack = await labStack("sysctl-encrypted-key", async () => {
                new SysctlSet("encrypted", {
                    connection: connectionTo(lab, h1, { privateKey: encrypted, ...(passphrase ? { privateKeyPassword: passphrase } : {}) }),
                    settings: { "net.core.somaxconn": 5004 },
                    persist: false,
                });
            });
            const hostName = `root@${h1.address.replace(/\./g, "\\.")}:${h1.port}`;
            assert.match(await expectFailure(stack.preview()), new RegExp(`property connection\\.privateKeyPassword value .* has a problem: ${hostName}: Cannot parse privateKey: Encrypted private OpenSSH key detected, but no passphrase given`));
            passphrase = "not the passphrase";
            assert.match(await expectFailure(stack.preview()), /property connection\.privateKeyPassword value .* has a problem: .*bad passphrase/);
            passphrase = "lab key passphrase";
            await thenRestored(h1, "net.core.somaxconn", stack, async () => {
                await stack.up();
                assert.equal(sysctlOn(lab, h1, "net.core.somaxconn"), "5004");
                assert.ok(!storedStateText(stack).includes("lab key passphrase"), "the passphrase is not in the state in plain text");
            });
        });

        it("refuses a host key known_hosts marks @revoked even under insecureSkipHostKeyCheck, and a knownHostsPath that is not there by its name", async function () {
            const dir = mkdtempSync(path.join(os.tmpdir(), "plt-known-hosts-"));
            const knownHosts = path.join(dir, "known_hosts");
            const name = h1.port === 22 ? h1.address : `[${h1.address}]:${h1.port}`;
            writeFileSync(knownHosts, `@revoked ${name} ${h1.hostKey}\n`);
            let connection = { ...connectionTo(lab, h1), hostKey: undefined, insecureSkipHostKeyCheck: true, knownHostsPath: knownHosts };
            const stack = await labStack("sysctl-revoked-host-key", async () => {
                new SysctlSet("revoked", { connection, settings: { "net.core.somaxconn": 5005 }, persist: false });
            });
            try {
                const before = sshdLog(lab, h1).length;
                assert.match(await expectFailure(stack.preview()), /property connection\.hostKey value .* has a problem: .*host key SHA256:\S+ is marked @revoked in known_hosts/);
                assert.match(await expectFailure(stack.up()), /is marked @revoked in known_hosts/);
                assert.doesNotMatch(sshdLog(lab, h1).slice(before), /Accepted publickey/, "never logged in");
                assert.notEqual(sysctlOn(lab, h1, "net.core.somaxconn"), "5005");
                connection = { ...connection, knownHostsPath: path.join(dir, "known_host") };
                assert.match(await expectFailure(stack.preview()), /property connection\.knownHostsPath value .* has a problem: .*knownHostsPath \S+\/known_host: no such file/);
            } finally {
                rmSync(dir, { recursive: true });
            }
        });

        it("refuses an unknown host when no hostKey is pinned and known_hosts lacks it", async function () {
            const stack = await labStack("sysctl-unknown-host", async () => {
                new SysctlSet("unknown", {
                    connection: { ...connectionTo(lab, h1), hostKey: undefined, knownHostsPath: "/dev/null" },
                    settings: { "net.core.somaxconn": 5003 },
                });
            });
            assert.match(await expectFailure(stack.preview()), /property connection\.hostKey value .* has a problem: .*unknown host key SHA256:/);
        });
    });

    it("shares one SSH connection per host per engine run, with a bounded number of commands per resource per phase", async function () {
        const names = ["somaxconn", "fin", "rmem"];
        const stack = await labStack("sysctl-one-connection", async () => {
            new SysctlSet("somaxconn", { connection: connectionTo(lab, h2), settings: { "net.core.somaxconn": 6001 } });
            new SysctlSet("fin", { connection: connectionTo(lab, h2), settings: { "net.ipv4.tcp_fin_timeout": 31 } });
            new SysctlSet("rmem", { connection: connectionTo(lab, h2), settings: { "net.ipv4.tcp_rmem": [4096, 87380, 4194304] } });
        });
        const connections = sshConnectionCount(lab, h2);
        const commands = sshCommandCount(lab, h2);
        try {
            await stack.up();
            assert.equal(sshConnectionCount(lab, h2) - connections, 1, "one connection for the whole run");
            assert.equal(sshCommandCount(lab, h2) - commands, 3 * names.length, "a new resource: the ledgers read at check (ownership), then a read and a write");
            const beforePreview = sshCommandCount(lab, h2);
            await stack.preview();
            assert.equal(sshCommandCount(lab, h2) - beforePreview, names.length, "one read per resource in preview");
            const beforeUpdate = sshCommandCount(lab, h2);
            setSysctlOn(lab, h2, "net.ipv4.tcp_fin_timeout", "40");
            await stack.up();
            assert.equal(sshCommandCount(lab, h2) - beforeUpdate, names.length + 2, "an existing resource: one read each in diff, then a read and a write for the drifted one");
        } finally {
            await stack.destroy();
        }
    });

    it("a value not known until another resource is created previews as an update of the existing set, and up writes it", async function () {
        const key = "net.ipv4.tcp_fin_timeout";
        let fromMarker = false;
        const stack = await labStack("sysctl-unknown-input", async () => {
            new SysctlSet("fin", { connection: connectionTo(lab, h1), settings: { [key]: fromMarker ? knownAfterCreate(h1, 21) : 22 }, persist: false });
        });
        await thenRestored(h1, key, stack, async () => {
            await stack.up();
            fromMarker = true;
            const preview = await stack.preview();
            assert.deepEqual([preview.changeSummary.create, preview.changeSummary.update], [1, 1], "fin's value is unknown at preview: an update");
            await stack.up();
            assert.equal(sysctlOn(lab, h1, key), "21");
        });
    });

    it("a secret key (TCP Fast Open's) is persisted in a file only root reads, kept out of state and out of every message", async function () {
        const key = "net.ipv4.tcp_fastopen_key";
        const ours = "0123abcd-4567ef01-89abcdef-01234567";
        const original = sysctlOn(lab, h2, key);
        const file = "/etc/sysctl.d/90-pulumi-tfo.conf";
        const stack = await labStack("sysctl-secret-key", async () => {
            // Computed, as from another resource: not known when declared, so kept secret in case, originals included.
            new SysctlSet("tfo", { connection: connectionTo(lab, h2), settings: pulumi.output({ [key]: ours }) });
        });
        await thenRestored(h2, key, stack, async () => {
            const up = collect();
            await stack.up({ onOutput: up.onOutput });
            assert.equal(sysctlOn(lab, h2, key), ours);
            assert.equal(onHost(lab, h2, ["stat", "-c", "%a %U", file]).trim(), "600 root");
            assertNoChanges((await stack.preview()).changeSummary);
            onHost(lab, h2, ["sysctl", "-qw", `${key}=89abcdef-89abcdef-89abcdef-89abcdef`]);
            const drift = collect();
            assert.equal((await stack.preview({ onOutput: drift.onOutput, diff: true })).changeSummary.update, 1);
            const plainPreview = collect();
            await stack.preview({ onOutput: plainPreview.onOutput });
            assert.match(plainPreview.text(), /net\.ipv4\.tcp_fastopen_key differs from the declared value \(a secret, not shown\)/);
            await stack.up({ onOutput: up.onOutput });
            assert.equal(sysctlOn(lab, h2, key), ours);
            const everything = [up.text(), drift.text(), plainPreview.text(), storedStateText(stack)].join("\n");
            for (const secret of [ours, original, "89abcdef-89abcdef-89abcdef-89abcdef"]) {
                assert.ok(!everything.includes(secret), `${secret.slice(0, 8)}… never in output or state in plain text`);
            }
        });
        assert.equal(fileOn(lab, h2, file), null);
    });

    it("a secret key's values, ours and the host's, are in no program's arguments on the host, through sudo too (strace of its sshd)", async function () {
        const key = "net.ipv4.tcp_fastopen_key";
        const ours = "fedcba98-76543210-fedcba98-76543210";
        const behindOurBack = "13572468-13572468-13572468-13572468";
        onHost(lab, h1, ["sysctl", "-qw", `${key}=24681357-24681357-24681357-24681357`]);
        const original = sysctlOn(lab, h1, key);
        const stack = await labStack("sysctl-secret-argv", async () => {
            new SysctlSet("tfo", { connection: { ...connectionTo(lab, h1, { user: "pltuser", sudo: true }), hostKey: undefined, knownHostsPath: lab.knownHostsPath }, settings: { [key]: ours } });
        });
        const stopTrace = await traceProgramsStartedOn(h1);
        let trace = "";
        try {
            await stack.up();
            assert.equal(sysctlOn(lab, h1, key), ours);
            onHost(lab, h1, ["sysctl", "-qw", `${key}=${behindOurBack}`]);
            await stack.up({ refresh: true });
            assert.equal(sysctlOn(lab, h1, key), ours, "the drift put right: a second apply, its original the value found");
            await stack.destroy();
            assert.equal(sysctlOn(lab, h1, key), original);
        } finally {
            trace = await stopTrace();
            await stack.destroy().catch(() => undefined);
        }
        assert.ok((trace.match(/execve\("\/usr\/bin\/sudo".*pulumi-sysctl-apply/g) ?? []).length >= 3, "the trace saw the three applies through sudo");
        // Plain, or inside the persisted file as the apply carries it: base64, at any of its three alignments.
        const encoded = (secret: string) => [0, 1, 2].map((pad) => Buffer.from("x".repeat(pad) + secret).toString("base64").slice(pad ? 4 : 0, -4));
        for (const secret of [ours, original, behindOurBack]) {
            for (const form of [secret, ...encoded(secret)]) {
                assert.ok(!trace.includes(form), `${secret.slice(0, 8)}… in no process's arguments (as ${form.slice(0, 12)}…)`);
            }
        }
    });

    it("a reserved port list written in any order is no drift once the kernel prints it back merged", async function () {
        const key = "net.ipv4.ip_local_reserved_ports";
        const stack = await labStack("sysctl-reserved-ports", async () => {
            new SysctlSet("ports", { connection: connectionTo(lab, h2), settings: { [key]: "8080,5061,5060" }, persist: false });
        });
        await thenRestored(h2, key, stack, async () => {
            await stack.up();
            assert.equal(sysctlOn(lab, h2, key), "5060-5061,8080");
            assertNoChanges((await stack.preview()).changeSummary);
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
        });
    });

    it("a covering port range keeps a host's wider ends, widens a narrower range to it, and a range narrowed behind Pulumi's back is drift", async function () {
        const key = "net.ipv4.ip_local_port_range";
        const original = sysctlOn(lab, h2, key);
        const stack = await labStack("sysctl-port-range-covers", async () => {
            new SysctlSet("ports", { connection: connectionTo(lab, h2), settings: { [key]: { covers: [10240, 65535] } }, persist: false });
        });
        setSysctlOn(lab, h2, key, "1024 65535");
        try {
            await thenRestored(h2, key, stack, async () => {
                await stack.up();
                assert.equal(sysctlOn(lab, h2, key), "1024 65535", "already covers 10240-65535: kept");
                setSysctlOn(lab, h2, key, "32768 60999");
                const drifted = collect();
                const preview = await stack.preview({ onOutput: drifted.onOutput });
                assert.equal(preview.changeSummary.update, 1, "a plain preview reads the host and finds the narrower range");
                assert.match(drifted.text(), /net\.ipv4\.ip_local_port_range live 32768 60999, desired covering 10240 65535/);
                await stack.up();
                assert.equal(sysctlOn(lab, h2, key), "10240 65535", "widened to the declared range");
                assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            });
        } finally {
            setSysctlOn(lab, h2, key, original);
        }
    });

    it("a key emptied behind Pulumi's back (its kernel default, no value one may declare) shows as drift after a refresh; up converges, and destroy works straight after a refresh", async function () {
        const key = "net.ipv4.ip_local_reserved_ports";
        const stack = await labStack("sysctl-emptied", async () => {
            new SysctlSet("ports", { connection: connectionTo(lab, h2), settings: { [key]: "5060-5061" }, persist: false });
        });
        await thenRestored(h2, key, stack, async () => {
            await stack.up();
            setSysctlOn(lab, h2, key, "");
            await stack.refresh();
            await stack.refresh();
            const drift = collect();
            const preview = await stack.preview({ onOutput: drift.onOutput });
            assert.equal(preview.changeSummary.update, 1, drift.text());
            assert.match(drift.text(), /drift: net\.ipv4\.ip_local_reserved_ports live , desired 5060-5061/);
            await stack.up();
            assert.equal(sysctlOn(lab, h2, key), "5060-5061");
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            setSysctlOn(lab, h2, key, "");
            await stack.refresh();
        });
    });

    it("a CPU mask padded as another machine prints it is no drift; one changed behind Pulumi's back is, and up converges", async function () {
        const key = "net.core.rps_default_mask";
        const stack = await labStack("sysctl-cpu-mask", async () => {
            new SysctlSet("mask", { connection: connectionTo(lab, h2), settings: { [key]: "00000000,00000002" }, persist: false });
        });
        await thenRestored(h2, key, stack, async () => {
            await stack.up();
            assert.equal(sysctlOn(lab, h2, key), "2");
            assertNoChanges((await stack.preview()).changeSummary);
            setSysctlOn(lab, h2, key, "1");
            const drift = collect();
            const preview = await stack.preview({ refresh: true, diff: true, onOutput: drift.onOutput });
            assert.equal(preview.changeSummary.update, 1, drift.text());
            assert.match(drift.text(), /rps_default_mask/);
            await stack.up();
            assert.equal(sysctlOn(lab, h2, key), "2");
        });
    });

    it("renamed through aliases, a SysctlSet is the same resource on the host: previews and ups stay clean, its file kept", async function () {
        const key = "net.ipv4.tcp_fin_timeout";
        let name = "fin";
        const stack = await labStack("sysctl-renamed", async () => {
            new SysctlSet(name, { connection: connectionTo(lab, h1), settings: { [key]: 24 } }, name === "fin" ? {} : { aliases: [{ name: "fin" }] });
        });
        await thenRestored(h1, key, stack, async () => {
            await stack.up();
            const file = fileOn(lab, h1, "/etc/sysctl.d/90-pulumi-fin.conf");
            assert.ok(file);
            name = "fin-renamed";
            assertNoChanges((await stack.preview()).changeSummary);
            const upOut = collect();
            await stack.up({ onOutput: upOut.onOutput });
            assert.match(upOut.text(), /^\s*2 unchanged$/m, "nothing written on the host");
            assertNoChanges((await stack.preview({ diff: true })).changeSummary);
            assert.equal(fileOn(lab, h1, "/etc/sysctl.d/90-pulumi-fin-renamed.conf"), null);
            assert.equal(fileOn(lab, h1, "/etc/sysctl.d/90-pulumi-fin.conf"), file);
        });
        assert.equal(fileOn(lab, h1, "/etc/sysctl.d/90-pulumi-fin.conf"), null);
    });

    it("a key not known until another resource is created previews as an update, never a replace that would undo the tuning first", async function () {
        const key = "net.ipv4.tcp_fin_timeout";
        let keyFromMarker = false;
        const stack = await labStack("sysctl-unknown-key", async () => {
            const privateKey = readFileSync(lab.privateKeyPath, "utf8");
            new SysctlSet("fin", { connection: connectionTo(lab, h2, keyFromMarker ? { privateKey: knownAfterCreate(h2, privateKey) } : {}), settings: { [key]: 27 }, persist: false });
        });
        await thenRestored(h2, key, stack, async () => {
            await stack.up();
            keyFromMarker = true;
            const preview = await stack.preview();
            assert.deepEqual([preview.changeSummary.create, preview.changeSummary.update, preview.changeSummary.replace], [1, 1, undefined], JSON.stringify(preview.changeSummary));
        });
    });

    it("a rotated SSH key reaches state through an update, so destroy logs in with it after the old key is revoked", async function () {
        const authorized = path.join(lab.dir, "authorized_keys");
        const original = readFileSync(authorized, "utf8");
        const dir = mkdtempSync(path.join(os.tmpdir(), "plt-rotated-"));
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "key")]);
        const rotated = readFileSync(path.join(dir, "key"), "utf8");
        writeFileSync(authorized, original + readFileSync(path.join(dir, "key.pub"), "utf8"));
        const key = "net.ipv4.tcp_fin_timeout";
        const before = sysctlOn(lab, h2, key);
        let privateKey: string | undefined;
        const stack = await labStack("sysctl-rotated-key", async () => {
            new SysctlSet("fin", { connection: connectionTo(lab, h2, privateKey ? { privateKey } : {}), settings: { [key]: 23 }, persist: false });
        });
        try {
            await stack.up();
            privateKey = rotated;
            assert.equal((await stack.up()).summary.resourceChanges?.update, 1, "the new key is an update");
            writeFileSync(authorized, readFileSync(path.join(dir, "key.pub"), "utf8"));
            await stack.destroy();
            assert.equal(sysctlOn(lab, h2, key), before);
        } finally {
            writeFileSync(authorized, original);
            rmSync(dir, { recursive: true, force: true });
            await stack.destroy();
        }
    });

    it("moved to another host, it is judged there as a new one at preview: a key another stack owns there fails it, with the first host left as it is", async function () {
        const key = "net.ipv4.tcp_fin_timeout";
        const owner = await labStack("sysctl-owner-h2", async () => {
            new SysctlSet("owner", { connection: connectionTo(lab, h2), settings: { [key]: 33 }, persist: false });
        });
        let on = h1;
        const moving = await labStack("sysctl-moving", async () => {
            new SysctlSet("moving", { connection: connectionTo(lab, on), settings: { [key]: 44 }, persist: false });
        });
        const before = sysctlOn(lab, h1, key);
        try {
            await owner.up();
            await moving.up();
            assert.equal(sysctlOn(lab, h1, key), "44");
            on = h2;
            const message = await expectFailure(moving.preview());
            assert.match(message, /net\.ipv4\.tcp_fin_timeout is managed by sysctl-owner-h2\/lab\/owner \(its ledger on the host\)/);
            assert.equal(sysctlOn(lab, h1, key), "44", "the preview touched neither host");
            assert.equal(sysctlOn(lab, h2, key), "33");
            on = h1;
        } finally {
            await moving.destroy();
            await owner.destroy();
        }
        assert.equal(sysctlOn(lab, h1, key), before);
    });

    it("works as a non-root user through sudo, trusting the lab's known_hosts file", async function () {
        const before = sysctlOn(lab, h2, "net.ipv4.tcp_fin_timeout");
        const stack = await labStack("sysctl-sudo", async () => {
            new SysctlSet("sudo", {
                connection: pulumi.output({
                    ...connectionTo(lab, h2, { user: "pltuser", sudo: true }),
                    hostKey: undefined,
                    knownHostsPath: lab.knownHostsPath,
                }),
                settings: { "net.ipv4.tcp_fin_timeout": 41 },
            });
        });
        const pltuserLogins = () => (sshdLog(lab, h2).match(/Accepted publickey for pltuser /g) ?? []).length;
        const logins = pltuserLogins();
        try {
            await stack.up();
            assert.equal(sysctlOn(lab, h2, "net.ipv4.tcp_fin_timeout"), "41");
        } finally {
            await stack.destroy();
        }
        assert.equal(sysctlOn(lab, h2, "net.ipv4.tcp_fin_timeout"), before);
        assert.ok(pltuserLogins() > logins, "sshd logged the logins as pltuser, not root");
    });

    it("a command line longer than the remote login shell takes travels on stdin, as root and through sudo, every word intact", async function () {
        const sudo = { ...connectionTo(lab, h2, { user: "pltuser", sudo: true }), hostKey: undefined, knownHostsPath: lab.knownHostsPath };
        const words = ["x".repeat(100_000), "y'z ".repeat(20_000), "$(touch /tmp/pwned)"];
        for (const connection of [connectionTo(lab, h1), sudo]) {
            const transport = transportFor(connectionSchema.parse(connection));
            const result = await transport.run(shProgram('cat; printf "%s %s %s %s\\n" "$(id -u)" "${#1}" "$(printf %s "$2" | sha256sum)" "$3"', "t", words));
            assert.equal(result.stdout, `0 100000 ${createHash("sha256").update(words[1]).digest("hex")}  - $(touch /tmp/pwned)\n`, transport.target);
        }
        for (const host of [h1, h2]) {
            assert.equal(onHost(lab, host, ["sh", "-c", "[ -e /tmp/pwned ] && echo yes || echo no"]).trim(), "no", host.name);
        }
    });

    it("knows a sysctl.d line for a VLAN-style interface in dotted spelling (vl/100 for vl.100) as the key it declares, and says that file wins at boot", async function () {
        const iface = "vl.100";
        const key = `net/ipv4/conf/${iface}/rp_filter`;
        const admin = "/etc/sysctl.d/99-vlan.conf";
        onHost(lab, h1, ["ip", "link", "add", iface, "type", "veth", "peer", "name", "vl.101"]);
        onHost(lab, h1, ["sh", "-c", 'printf "net.ipv4.conf.vl/100.rp_filter = 2\n" > "$1"', "sh", admin]);
        const stack = await labStack("sysctl-vlan-spelling", async () => {
            const set = new SysctlSet("vlan", { connection: connectionTo(lab, h1), settings: { [key]: 1 } });
            return { warnings: set.warnings };
        });
        try {
            const out = collect();
            const result = await stack.up({ onOutput: out.onOutput });
            const warning = `${admin} also sets ${key} = 2 (we set 1); it sorts after /etc/sysctl.d/90-pulumi-vlan.conf, so at boot it is applied last and wins`;
            assert.ok(out.text().includes(warning), out.text());
            assert.ok(JSON.stringify(result.outputs.warnings.value).includes(warning));
            assert.equal(onHost(lab, h1, ["cat", `/proc/sys/${key}`]).trim(), "1");
            // What boot would do with that file, by the host's own sysctl: it is vl.100's rp_filter.
            onHost(lab, h1, ["sysctl", "-q", "-p", admin]);
            assert.equal(onHost(lab, h1, ["cat", `/proc/sys/${key}`]).trim(), "2");
        } finally {
            await stack.destroy().catch(() => undefined);
            onHost(lab, h1, ["rm", "-f", admin]);
        }
        onHost(lab, h1, ["ip", "link", "del", iface]);
    });
});

describe("SysctlSet on this machine (local transport): the allowed congestion controls, a set the kernel prints in its own order", function () {
    this.timeout(5 * 60 * 1000);
    const file = "/proc/sys/net/ipv4/tcp_allowed_congestion_control";

    it("written in another order is no drift, and destroy gives the list back byte for byte", async function () {
        const before = readFileSync(file, "utf8");
        const reversed = before.trim().split(/\s+/).reverse().join(" ");
        if (reversed === before.trim()) {
            this.skip();
        }
        const stack = await labStack("sysctl-allowed-cc", async () => {
            new SysctlSet("allowed", { settings: { "net.ipv4.tcp_allowed_congestion_control": reversed }, persist: false });
        });
        try {
            await stack.up();
            assertNoChanges((await stack.preview()).changeSummary);
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
        } finally {
            await stack.destroy();
        }
        assert.equal(readFileSync(file, "utf8"), before);
    });
});

describe("SysctlSet on this machine (local transport): a writeback byte count, which the kernel will not set back to 0", function () {
    this.timeout(5 * 60 * 1000);
    const keys = ["vm.dirty_bytes", "vm.dirty_ratio"];
    const raw = () => keys.map((k) => readFileSync(`/proc/sys/${k.replace(/\./g, "/")}`, "utf8"));

    it("sets vm.dirty_bytes (the kernel zeroes vm.dirty_ratio), and destroy puts both back through the ratio", async function () {
        const before = raw();
        if (before[0].trim() !== "0") {
            this.skip();
        }
        const stack = await labStack("sysctl-dirty-bytes", async () => {
            new SysctlSet("writeback", { settings: { "vm.dirty_bytes": 268435456 }, persist: false });
        });
        try {
            await stack.up();
            assert.deepEqual(raw(), ["268435456\n", "0\n"]);
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
        } finally {
            await stack.destroy();
        }
        assert.deepEqual(raw(), before, "byte for byte");
    });

    it("refuses at preview vm.dirty_ratio and vm.dirty_bytes in two SysctlSets of one program, since each write zeroes the other", async function () {
        const before = raw();
        const stack = await labStack("sysctl-dirty-pair", async () => {
            new SysctlSet("writeback-bytes", { settings: { "vm.dirty_bytes": 268435456 }, persist: false });
            new SysctlSet("writeback-ratio", { settings: { "vm.dirty_ratio": 15 }, persist: false });
        });
        const out = collect();
        const message = (await expectFailure(stack.preview({ onOutput: out.onOutput }))) + out.text();
        assert.match(message, /settings\["vm\.dirty_(ratio|bytes)"\]\S* value .* has a problem: local: writing vm\.dirty_(ratio|bytes) sets vm\.dirty_(bytes|ratio) to 0 \(the kernel keeps one of the two\), and \S+\/writeback-(bytes|ratio) \(SysctlSet\) in this program declares the pair too; declare both in one SysctlSet/);
        assert.deepEqual(raw(), before, "a preview writes nothing");
    });
});

describe("SysctlSet on this machine (local transport): udp_mem and tcp_mem count pages of the machine's size", function () {
    this.timeout(5 * 60 * 1000);
    const file = "/proc/sys/net/ipv4/udp_mem";

    it("refuses at preview a maximum that reaches the machine's RAM (a value copied from a bigger host), and takes one below it", async function () {
        const before = readFileSync(file, "utf8");
        const pageSize = Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "utf8" }));
        const ramPages = Math.floor((Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024) / pageSize);
        let udpMem = [ramPages, ramPages, ramPages];
        const stack = await labStack("sysctl-udp-mem-pages", async () => {
            new SysctlSet("udp", { settings: { "net.ipv4.udp_mem": udpMem }, persist: false });
        });
        const out = collect();
        const message = (await expectFailure(stack.preview({ onOutput: out.onOutput }))) + out.text();
        const reason = new RegExp(String.raw`settings\["net\.ipv4\.udp_mem"\]\S* value .* has a problem: local: allows UDP buffers \d+ pages, [\d.]+ GiB at this host's ${pageSize / 1024} KiB pages, not less than its [\d.]+ GiB of RAM`);
        assert.match(message, reason);
        const printed = out.text();
        const diagnostics = printed.slice(printed.indexOf("\nDiagnostics:"), printed.indexOf("\nResources:") < 0 ? undefined : printed.indexOf("\nResources:"));
        assert.equal(diagnostics.split("not less than its").length - 1, 1, `said once in the Diagnostics section:\n${diagnostics}`);
        udpMem = [Math.floor(ramPages / 8), Math.floor(ramPages / 6), Math.floor(ramPages / 4)];
        await stack.preview();
        assert.equal(readFileSync(file, "utf8"), before, "a preview writes nothing");
    });
});
