import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import { createHmac, randomBytes } from "crypto";
import { COMMAND_LINE_FROM_STDIN, MAX_COMMAND_BYTES, shProgram, shProgramWithHiddenArgs, shellQuote, sshCommand, toCommandLine } from "../../provider/transport/argv";
import { fingerprint, hostKeyAlgorithms, knownHostsName, lookUpKnownHosts, verifyHostKey } from "../../provider/transport/known-hosts";
import { LocalTransport } from "../../provider/transport/local";
import { connectionSchema } from "../../provider/transport/connection";
import { SshTransport, hostKeyPolicy, tunnel } from "../../provider/transport/ssh";
import { closeAllConnections } from "../../provider/transport";
import { AddressInfo, createServer } from "net";

describe("command lines", function () {
    it("quotes every argument so a shell sees exactly the original words", function () {
        const nasty = ["printf", "%s|", "a b", "it's", "$(touch /tmp/pwned)", "`id`", "x;y", "new\nline", "", "*"];
        const out = execFileSync("sh", ["-c", toCommandLine(nasty)], { encoding: "utf8" });
        assert.equal(out, "a b|it's|$(touch /tmp/pwned)|`id`|x;y|new\nline||*|");
    });

    it("leaves plain words alone and refuses NUL", function () {
        assert.equal(shellQuote("net/core/somaxconn"), "net/core/somaxconn");
        assert.equal(shellQuote("numdummies=2"), "numdummies=2");
        assert.equal(shellQuote("=ls"), "'=ls'", "zsh would read a leading = as a command's path");
        assert.throws(() => shellQuote("a\0b"), /NUL/);
    });

    it("passes user data to fixed sh programs only as positional parameters", async function () {
        const argv = shProgram('printf "%s\\n" "$@"', "t", ["$(echo injected)", "two words"]);
        const result = await new LocalTransport(false).run(argv);
        assert.equal(result.stdout, "$(echo injected)\ntwo words\n");
    });

    it("can pass a program's arguments on its stdin instead, where no other user of the host sees them, intact whatever they hold", async function () {
        const args = ["$(echo injected)", "two words", "", "it's\nmultiline\t", "-x", "x".repeat(200_000)];
        const { argv, stdin } = shProgramWithHiddenArgs('printf "%s|%s|%s|" "$0" "$#" "${#6}"; printf "%s\\n" "$1" "$2" "$3" "$4" "$5"; printf "[%s]" "$(cat)"', "named", args);
        for (const arg of args.filter((a) => a.length > 2)) {
            assert.ok(!argv.some((word) => word.includes(arg)), `${arg.slice(0, 20)} not in the argument list`);
        }
        const result = await new LocalTransport(false).run(argv, stdin);
        assert.equal(result.stdout, "named|6|200000|$(echo injected)\ntwo words\n\nit's\nmultiline\t\n-x\n[]", "every word as it was, above the one-argument limit too; the program's stdin empty");
        const none = shProgramWithHiddenArgs('printf "%s" "$#"', "t", []);
        assert.equal((await new LocalTransport(false).run(none.argv, none.stdin)).stdout, "0");
        const count = shProgramWithHiddenArgs('printf "%s" "$1"', "t", ["4096"]);
        const cut = await new LocalTransport(false).run(count.argv, count.stdin.slice(0, 2));
        assert.deepEqual([cut.code, cut.stdout], [125, ""], "4096 cut to 40 by a closed connection is not written");
    });

    it("refuses, before running anything, an argument the kernel would refuse as too long", async function () {
        const big = shProgram(': "$1"', "t", ["x".repeat(131072)]);
        assert.throws(() => execFileSync("sh", ["-c", ': "$1"', "t", "x".repeat(131072)]), /E2BIG/, "the kernel's own limit");
        await assert.rejects(new LocalTransport(false).run(big), /^Error: local: this operation would pass the host 131072 bytes in one argument, .* split it into several\.$/);
        assert.equal((await new LocalTransport(false).run(shProgram(': "$1"', "t", ["x".repeat(131071)]))).code, 0);
        // Over SSH the whole command line is one argument of the remote shell: refused before connecting.
        const ssh = new SshTransport({ host: "192.0.2.1", port: 22, user: "root", insecureSkipHostKeyCheck: true } as never);
        await assert.rejects(ssh.run(shProgram(': "$1"', "t", ["x".repeat(131100)])), /root@192\.0\.2\.1:22: this operation would pass the host 1311\d\d bytes/);
        const many = shProgram(': "$@"', "t", Array.from({ length: 20 }, () => "x".repeat(60_000)));
        await assert.rejects(new LocalTransport(false).run(many), new RegExp(`^Error: local: this operation would pass the host \\d+ bytes of arguments, above the ${MAX_COMMAND_BYTES - 1} one command is given`));
    });

    it("over SSH sends a command line too long for the remote shell's one argument on stdin, where only each word must fit", function () {
        const short = shProgram('printf "%s" "$1"', "t", ["a b"]);
        assert.deepEqual(sshCommand("h", short, undefined), { command: toCommandLine(short), stdin: "" });
        assert.deepEqual(sshCommand("h", short, "input"), { command: toCommandLine(short), stdin: "input" });
        // Each word fits, the line (over 140,000 bytes) does not: it travels on stdin.
        const long = shProgram('cat; printf "%s %s %s\\n" "${#1}" "${#2}" "$3"', "t", ["x".repeat(70_000), "y'z ".repeat(17_500), "$(id)"]);
        const request = sshCommand("h", long, undefined);
        assert.equal(request.command, COMMAND_LINE_FROM_STDIN);
        assert.ok(request.stdin.startsWith(toCommandLine(long)));
        // What the remote login shell then runs: the words arrive intact, and nothing reads the line twice.
        assert.equal(execFileSync("sh", ["-c", request.command], { input: request.stdin, encoding: "utf8" }), "70000 70000 $(id)\n");
        // A connection cut between two words closes stdin as cleanly as the end: the shorter command does not run.
        const cut = spawnSync("sh", ["-c", request.command], { input: request.stdin.slice(0, request.stdin.lastIndexOf(" '$(id)'")), encoding: "utf8" });
        assert.deepEqual([cut.status, cut.stdout], [125, ""]);
        assert.match(cut.stderr, /^incomplete input: the connection ended before the whole command arrived; nothing was run$/m);
        assert.throws(() => sshCommand("h", long, "input"), /^Error: h: this operation would pass the host 1\d{5} bytes in one argument/, "a command that takes input cannot also take its line there");
        assert.throws(() => sshCommand("h", shProgram(":", "t", ["x".repeat(131_072)]), undefined), /131072 bytes in one argument/);
    });
});

describe("a command's time limit", function () {
    this.timeout(30_000);
    const running = (marker: string) => execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n").filter((line) => line.includes(marker));

    it("stops a command still running at commandTimeout, with everything it started, and names the program and the host", async function () {
        const marker = `plt-limit-${randomBytes(4).toString("hex")}`;
        const started = Date.now();
        const hung = shProgram('sleep 60 & exec sleep 61', marker, []);
        await assert.rejects(new LocalTransport(false, 1).run(hung), new RegExp(`^Error: local: ${marker} did not finish within 1 s \\(the connection's commandTimeout\\) and was stopped on the host\\.`));
        assert.ok(Date.now() - started < 8000, "stopped at the limit, not after the sleep");
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(running("sleep 6"), [], "nothing the command started is left running");
    });

    it("kills a command that ignores TERM once its few seconds to clean up are over", async function () {
        const ignoresTerm = shProgram('trap "" TERM; sleep 30; sleep 30', "plt-stubborn", []);
        await assert.rejects(new LocalTransport(false, 1).run(ignoresTerm), /plt-stubborn did not finish within 1 s/);
    });

    it("tells a command that exits 124 itself, even just before the limit, from one stopped at it, and lets a long check ask for more time", async function () {
        assert.equal((await new LocalTransport(false, 5).run(["sh", "-c", "exit 124"])).code, 124);
        assert.equal((await new LocalTransport(false, 1).run(["sh", "-c", "sleep 0.95; exit 124"])).code, 124);
        const slowCheck = await new LocalTransport(false, 1).run(["sh", "-c", "sleep 2; echo done"], undefined, { minimumLimitSeconds: 10 });
        assert.deepEqual([slowCheck.code, slowCheck.stdout], [0, "done\n"]);
        await assert.rejects(new LocalTransport(false, 1).run(shProgram("sleep 30", "plt-asked", []), undefined, { minimumLimitSeconds: 2 }), /plt-asked did not finish within 2 s \(the time it asked for\) and was stopped on the host\.$/);
    });

    it("stops waiting for a command whose output a process it left behind holds open, and names the program when it cannot run", async function () {
        const marker = `sleep 60.${randomBytes(3).readUIntBE(0, 3)}`;
        try {
            // setsid: out of the command's process group, so `timeout` cannot stop it, and it keeps stdout open.
            const held = shProgram(`setsid ${marker} & exit 0`, "plt-leaves-one", []);
            await assert.rejects(new LocalTransport(false, 1).run(held), /plt-leaves-one did not finish within 1 s \(the connection's commandTimeout\) and had not ended 15 s later/);
            assert.equal(running(marker).length, 1, "the process that held it open was out of reach, as intended");
        } finally {
            spawnSync("pkill", ["-f", marker]);
        }
        await assert.rejects(new LocalTransport(false).run(shProgram("head -c 70000000 /dev/zero", "plt-talkative", [])), /^Error: local: cannot run plt-talkative: stdout maxBuffer length exceeded/);
    });

    it("tells apart one address behind two bastions (two VPCs' 10.0.0.5), which share a target's words", function () {
        const via = (bastion: string) => new SshTransport(connectionSchema.parse({ host: "10.0.0.5", user: "root", proxy: { host: bastion, user: "jump" } }));
        const [a, b] = [via("bastion-a"), via("bastion-b")];
        assert.equal(a.target, b.target);
        assert.notEqual(a.identity, b.identity, "a read kept for one is not the other's");
        assert.notEqual(new SshTransport(connectionSchema.parse({ host: "10.0.0.5", user: "root" })).identity, new SshTransport(connectionSchema.parse({ host: "10.0.0.5", user: "root", sudo: true })).identity);
    });

    it("is a connection setting with a default, validated like the others", function () {
        assert.equal(connectionSchema.parse({ host: "h" }).commandTimeout, 300);
        assert.equal(connectionSchema.parse({ host: "h", commandTimeout: 20 }).commandTimeout, 20);
        assert.equal(connectionSchema.safeParse({ host: "h", commandTimeout: 0 }).success, false);
        assert.equal(connectionSchema.safeParse({ host: "h", proxy: { host: "b", commandTimeout: 20 } }).success, false, "a bastion runs no commands");
    });
});

describe("host key verification", function () {
    const key = randomBytes(51);
    const other = randomBytes(51);
    const b64 = key.toString("base64");

    it("finds plain, bracketed-port, wildcard and hashed known_hosts entries", function () {
        const salt = randomBytes(20);
        const hashed = `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update("10.0.0.9").digest("base64")}`;
        const file = [
            `10.0.0.5,web1 ssh-ed25519 ${b64}`,
            `[10.0.0.6]:2222 ssh-ed25519 ${b64}`,
            `*.lab,!bad.lab ssh-ed25519 ${b64}`,
            `${hashed} ssh-ed25519 ${b64}`,
            `@revoked 10.0.0.7 ssh-ed25519 ${b64}`,
        ].join("\n");
        assert.equal(lookUpKnownHosts(file, "10.0.0.5").accepted.length, 1);
        assert.equal(lookUpKnownHosts(file, knownHostsName("10.0.0.6", 2222)).accepted.length, 1);
        assert.equal(lookUpKnownHosts(file, "10.0.0.6").accepted.length, 0);
        assert.equal(lookUpKnownHosts(file, "x.lab").accepted.length, 1);
        assert.equal(lookUpKnownHosts(file, "bad.lab").accepted.length, 0);
        assert.equal(lookUpKnownHosts(file, "10.0.0.9").accepted.length, 1);
        assert.equal(lookUpKnownHosts(file, "10.0.0.7").revoked.length, 1);
        for (const typo of ["@revoke", "@Revoked", "@cert-authority"]) {
            assert.deepEqual(lookUpKnownHosts(`${typo} 10.0.0.8 ssh-ed25519 ${b64}`, "10.0.0.8"), { accepted: [], revoked: [] }, `${typo}: a line OpenSSH ignores grants no trust`);
        }
    });

    it("accepts the pinned key and refuses others with both fingerprints", function () {
        const trusted = [{ keyType: "ssh-ed25519", key: b64 }];
        assert.deepEqual(verifyHostKey(key, trusted, [], "h"), { ok: true });
        const mismatch = verifyHostKey(other, trusted, [], "h");
        assert.ok(!mismatch.ok && mismatch.reason.includes("MISMATCH") && mismatch.reason.includes(fingerprint(key)) && mismatch.reason.includes(fingerprint(other)));
        const unknown = verifyHostKey(other, [], [], "h");
        assert.ok(!unknown.ok && /unknown host key/.test(unknown.reason));
        const revoked = verifyHostKey(key, trusted, trusted, "h");
        assert.ok(!revoked.ok && /revoked/.test(revoked.reason));
    });
});

describe("which host keys a login accepts", function () {
    const key = randomBytes(51).toString("base64");
    const pinned = `ssh-ed25519 ${key}`;
    const knownHosts = `@revoked 10.0.0.5 ${pinned}\n10.0.0.6 ${pinned}\n`;
    const files = (content: string | NodeJS.ErrnoException) => (file: string) => {
        if (typeof content !== "string") {
            throw content;
        }
        return file === "/k" || file.endsWith("/.ssh/known_hosts") ? content : "";
    };
    const endpoint = (fields: Record<string, unknown>) => connectionSchema.parse({ host: "10.0.0.5", ...fields });
    const missing = Object.assign(new Error("ENOENT: no such file or directory"), { code: "ENOENT" });
    const denied = Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });

    it("refuses a key known_hosts marks @revoked whatever trusts it: a pinned key, or the check skipped", function () {
        const revoked = [{ keyType: "ssh-ed25519", key }];
        assert.deepEqual(hostKeyPolicy(endpoint({ insecureSkipHostKeyCheck: true, knownHostsPath: "/k" }), files(knownHosts)), { trusted: undefined, revoked });
        assert.deepEqual(hostKeyPolicy(endpoint({ hostKey: pinned, knownHostsPath: "/k" }), files(knownHosts)), { trusted: revoked, revoked });
        const skipped = hostKeyPolicy(endpoint({ insecureSkipHostKeyCheck: true, knownHostsPath: "/k" }), files(knownHosts));
        assert.match((verifyHostKey(Buffer.from(key, "base64"), skipped.trusted, skipped.revoked, "h") as { reason: string }).reason, /marked @revoked/);
        assert.deepEqual(verifyHostKey(randomBytes(51), skipped.trusted, skipped.revoked, "h"), { ok: true }, "any other key, as the flag says");
        assert.deepEqual(hostKeyPolicy(endpoint({ host: "10.0.0.6", knownHostsPath: "/k" }), files(knownHosts)).trusted, revoked);
    });

    it("needs a known_hosts file named explicitly; the default one may be missing, or unreadable when only its revocations count", function () {
        assert.throws(() => hostKeyPolicy(endpoint({ knownHostsPath: "/k" }), files(missing)), /^Error: knownHostsPath \/k: no such file$/);
        assert.throws(() => hostKeyPolicy(endpoint({ hostKey: pinned, knownHostsPath: "/k" }), files(missing)), /knownHostsPath \/k: no such file/, "a typo is said, not read as an empty file");
        assert.deepEqual(hostKeyPolicy(endpoint({}), files(missing)), { trusted: [], revoked: [] });
        assert.throws(() => hostKeyPolicy(endpoint({}), files(denied)), /EACCES/, "the default file decides trust: unreadable is refused");
        assert.deepEqual(hostKeyPolicy(endpoint({ hostKey: pinned }), files(denied)).revoked, []);
        assert.deepEqual(hostKeyPolicy(endpoint({ insecureSkipHostKeyCheck: true }), files(denied)), { trusted: undefined, revoked: [] });
    });
});

describe("which host key to ask for", function () {
    it("offers the algorithms of the trusted keys, an RSA key's SHA-2 signatures first", function () {
        assert.deepEqual(hostKeyAlgorithms([{ keyType: "ssh-rsa", key: "x" }, { keyType: "ecdsa-sha2-nistp256", key: "y" }]), ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa", "ecdsa-sha2-nistp256"]);
        assert.deepEqual(hostKeyAlgorithms([{ keyType: "sk-ssh-ed25519@openssh.com", key: "z" }]), [], "one ssh2 cannot check: its default list, and the check refuses");
    });

    it("looks a host up in known_hosts by its lowercased name, as ssh writes it, hashed entries too", function () {
        const salt = randomBytes(20);
        const hashed = `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update("db1.example.com").digest("base64")}`;
        assert.equal(lookUpKnownHosts(`${hashed} ssh-ed25519 AAAA`, knownHostsName("Db1.Example.com", 22)).accepted.length, 1);
        assert.equal(knownHostsName("Db1.Example.com", 2222), "[db1.example.com]:2222");
    });

    it("takes several pinned keys one per line, and nothing else on a line", function () {
        const parse = (hostKey: string) => connectionSchema.safeParse({ host: "h", hostKey }).success;
        assert.ok(parse("ssh-ed25519 AAAA\nssh-rsa BBBB comment"));
        assert.ok(!parse("ssh-ed25519 AAAA\nnot a key"));
        assert.ok(!parse("\n"));
    });
});

describe("a tunnel through a bastion", function () {
    const proxy = connectionSchema.parse({ host: "bastion", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" });
    const target = connectionSchema.parse({ host: "10.0.0.9", perDialTimeout: 0.05, insecureSkipHostKeyCheck: true });

    it("gives up after the target's perDialTimeout when the bastion never answers, and drops a channel that opens too late", async function () {
        let late: ((err: Error | undefined, stream: { destroy(): void }) => void) | undefined;
        const silent = { forwardOut: (_a: string, _b: number, _c: string, _d: number, callback: typeof late) => void (late = callback) };
        await assert.rejects(tunnel(silent as never, proxy, target), /root@bastion:22: no tunnel to root@10\.0\.0\.9:22 within 0\.05 s/);
        let destroyed = false;
        late!(undefined, { destroy: () => void (destroyed = true) });
        assert.ok(destroyed);
    });

    it("a bastion its own tries cannot reach fails the target behind it: dialErrorLimit dials of the bastion, not their square", async function () {
        let dials = 0;
        const dropping = createServer((socket) => {
            dials++;
            socket.destroy();
        });
        await new Promise<void>((resolve) => dropping.listen(0, "127.0.0.1", resolve));
        const port = (dropping.address() as AddressInfo).port;
        try {
            const behind = new SshTransport(connectionSchema.parse({ host: "10.0.0.9", insecureSkipHostKeyCheck: true, dialErrorLimit: 3, proxy: { host: "127.0.0.1", port, insecureSkipHostKeyCheck: true, dialErrorLimit: 2 } }));
            await assert.rejects(behind.run(["true"]), /127\.0\.0\.1:\d+/);
            assert.equal(dials, 2, "the bastion's own two tries; the target's three were for a tunnel, which never got that far");
        } finally {
            await closeAllConnections();
            dropping.close();
        }
    });

    it("names the bastion and the target when the bastion's connection is already gone, and leaves no timer behind", async function () {
        const gone = {
            forwardOut: () => {
                throw new Error("Not connected");
            },
        };
        const timers = () => (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo().filter((r) => r === "Timeout").length;
        await new Promise((r) => setImmediate(r)); // after mocha has armed its own timeout for this test
        const before = timers();
        await assert.rejects(tunnel(gone as never, proxy, { ...target, perDialTimeout: 30 }), /root@bastion:22: cannot tunnel to root@10\.0\.0\.9:22: Not connected/);
        assert.equal(timers(), before, "its 30 s timer was cleared: a command-line tool exits when done");
    });

    it("names the bastion and the target when the bastion refuses the channel", async function () {
        const refusing = { forwardOut: (_a: string, _b: number, _c: string, _d: number, callback: (err: Error) => void) => callback(new Error("(SSH) Channel open failure: Connection refused")) };
        await assert.rejects(tunnel(refusing as never, proxy, target), /root@bastion:22: cannot tunnel to root@10\.0\.0\.9:22: \(SSH\) Channel open failure: Connection refused/);
    });
});
