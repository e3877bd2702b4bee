import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { createHmac, randomBytes } from "crypto";
import { shProgram, shellQuote, toCommandLine } from "../../provider/transport/argv";
import { fingerprint, knownHostsName, lookUpKnownHosts, verifyHostKey } from "../../provider/transport/known-hosts";
import { LocalTransport } from "../../provider/transport/local";
import { SshTransport } from "../../provider/transport/ssh";

describe("command lines", function () {
    it("quotes every argument so a shell sees exactly the original words", function () {
        const nasty = ["printf", "%s|", "a b", "it's", "$(touch /tmp/pwned)", "`id`", "x;y", "new\nline", "", "*"];
        const out = execFileSync("sh", ["-c", toCommandLine(nasty)], { encoding: "utf8" });
        assert.equal(out, "a b|it's|$(touch /tmp/pwned)|`id`|x;y|new\nline||*|");
    });

    it("leaves plain words alone and refuses NUL", function () {
        assert.equal(shellQuote("net/core/somaxconn"), "net/core/somaxconn");
        assert.throws(() => shellQuote("a\0b"), /NUL/);
    });

    it("passes user data to fixed sh programs only as positional parameters", async function () {
        const argv = shProgram('printf "%s\\n" "$@"', "t", ["$(echo injected)", "two words"]);
        const result = await new LocalTransport(false).run(argv);
        assert.equal(result.stdout, "$(echo injected)\ntwo words\n");
    });

    it("refuses, before running anything, an argument the kernel would refuse as too long", async function () {
        const big = shProgram(': "$1"', "t", ["x".repeat(131072)]);
        assert.throws(() => execFileSync("sh", ["-c", ': "$1"', "t", "x".repeat(131072)]), /E2BIG/, "the kernel's own limit");
        await assert.rejects(new LocalTransport(false).run(big), /^Error: local: this operation would pass the host 131072 bytes in one argument, .* split it into several\.$/);
        assert.equal((await new LocalTransport(false).run(shProgram(': "$1"', "t", ["x".repeat(131071)]))).code, 0);
        // Over SSH the whole command line is one argument of the remote shell: refused before connecting.
        const ssh = new SshTransport({ host: "192.0.2.1", port: 22, user: "root", insecureSkipHostKeyCheck: true } as never);
        await assert.rejects(ssh.run(shProgram(': "$1"', "t", ["x".repeat(131100)])), /root@192\.0\.2\.1:22: this operation would pass the host 1311\d\d bytes/);
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
