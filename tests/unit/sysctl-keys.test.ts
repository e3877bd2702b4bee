import { strict as assert } from "assert";
import { canonicalKey, keyFromConfLine, keyProblem, procPath } from "../../provider/sysctl/keys";

describe("sysctl keys", function () {
    it("accepts dotted and slash-form keys", function () {
        assert.equal(keyProblem("net.core.somaxconn"), undefined);
        assert.equal(keyProblem("net/ipv4/conf/eth0.100/rp_filter"), undefined);
        assert.equal(keyProblem("fs.file-max"), undefined);
    });

    it("refuses malformed keys", function () {
        for (const key of ["", "net..core", "net.core.somaxconn ", "net.core.x=1", "net/../etc/passwd", ".net.core", "net\ncore", "$(reboot)"]) {
            assert.ok(keyProblem(key), `"${key}" should be refused`);
        }
    });

    it("refuses dotted keys whose interface name contains a dot, suggesting the slash form", function () {
        const problem = keyProblem("net.ipv4.conf.eth0.100.rp_filter");
        assert.match(problem ?? "", /interface "eth0\.100"/);
        assert.match(problem ?? "", /net\/ipv4\/conf\/eth0\.100\/rp_filter/);
        assert.equal(keyProblem("net.ipv4.conf.eth0.rp_filter"), undefined);
    });

    it("refuses removed and no-op keys with the reason", function () {
        assert.match(keyProblem("net.ipv4.tcp_tw_recycle") ?? "", /removed in Linux 4\.12/);
        assert.match(keyProblem("net/ipv4/tcp_low_latency") ?? "", /no effect/);
    });

    it("maps keys to /proc/sys paths and one canonical spelling", function () {
        assert.equal(procPath("net.core.somaxconn"), "net/core/somaxconn");
        assert.equal(procPath("net/ipv4/conf/eth0.100/rp_filter"), "net/ipv4/conf/eth0.100/rp_filter");
        assert.equal(canonicalKey("net/core/somaxconn"), "net.core.somaxconn");
        assert.equal(canonicalKey("net/ipv4/conf/eth0.100/rp_filter"), "net/ipv4/conf/eth0.100/rp_filter");
        assert.equal(keyFromConfLine(" -net/core/somaxconn "), "net.core.somaxconn");
        assert.equal(keyFromConfLine("net.ipv4.conf.eth0/100.rp_filter"), "net/ipv4/conf/eth0.100/rp_filter", "a slash in a dotted key is a dot in the interface name");
        assert.equal(keyFromConfLine("net.ipv4.conf.eth0.rp_filter"), "net.ipv4.conf.eth0.rp_filter");
    });
});
