import { strict as assert } from "assert";
import fc from "fast-check";
import { AddressInfo, Server, createServer } from "net";
import * as cpuGovernor from "../../provider/cpu-governor/handlers";
import * as irq from "../../provider/irq/handlers";
import * as nic from "../../provider/nic/handlers";
import * as steering from "../../provider/packet-steering/handlers";
import * as sysctl from "../../provider/sysctl/handlers";
import * as offloads from "../../provider/nic-offload/handlers";
import * as modules from "../../provider/kernel-module/handlers";
import * as sysfs from "../../provider/sysfs/handlers";
import * as thp from "../../provider/thp/handlers";
import * as wakeup from "../../provider/wakeup-latency/handlers";

/**
 * Property: whatever a user writes, an input that check refuses never opens a connection to the
 * host. The "host" is a TCP listener on loopback that counts connections and hangs up at once.
 */
describe("check fuzz: nothing refused ever opens a connection", function () {
    this.timeout(120_000);
    let server: Server;
    let connections = 0;
    let connection: Record<string, unknown>;

    before(async function () {
        server = createServer((socket) => {
            connections++;
            socket.destroy();
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const { port } = server.address() as AddressInfo;
        connection = { host: "127.0.0.1", port, user: "root", password: "not a password", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", perDialTimeout: 1, dialErrorLimit: 1 };
    });
    after(function () {
        server?.close();
    });

    const nasty = fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.constantFrom("cubic; touch x", "$(touch x)", "`id`", "a\nb", "0-99999999999", "3-0", "-1", "", " ", "eth0; reboot", "../../etc/passwd", "\u0000"),
        fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
        fc.double(),
        fc.array(fc.integer({ min: -5, max: 70000 }), { maxLength: 4 }),
        fc.record({ atLeast: fc.integer({ min: -10, max: 10 }) }),
        fc.constant(null),
    );
    const key = fc.oneof(
        fc.constantFrom("net.core.somaxconn", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_congestion_control", "net.ipv4.ip_local_reserved_ports", "net.core.default_qdisc", "net.ipv4.tcp_rmem", "net.ipv4.tcp_tw_recycle", "vm.swappiness"),
        fc.string({ maxLength: 30 }),
    );

    async function refusedWithoutContact(check: (o: Record<string, unknown>, n: Record<string, unknown>) => Promise<{ failures?: unknown[] }>, inputs: Record<string, unknown>): Promise<void> {
        const before = connections;
        const result = await check({}, { connection, resourceName: "fuzz", ...inputs });
        if ((result.failures ?? []).length > 0) {
            assert.equal(connections, before, `refused ${JSON.stringify(inputs)} but connected`);
        }
    }

    it("the counting host does see a check that passes the grammar (the control)", async function () {
        const before = connections;
        const result = await sysctl.check({}, { connection, resourceName: "fuzz", settings: { "net.core.somaxconn": 8192 } });
        assert.deepEqual(result.failures, []);
        assert.equal(connections, before + 1, "a valid new SysctlSet reads the host's ledgers at check");
    });

    it("SysctlSet settings", async function () {
        await fc.assert(fc.asyncProperty(fc.dictionary(key, nasty, { maxKeys: 4 }), fc.oneof(fc.constant(undefined), nasty), async (settings, persistFile) => refusedWithoutContact(sysctl.check, { settings, ...(persistFile === undefined ? {} : { persistFile }) })), { numRuns: 150 });
    });

    it("IrqAffinity CPU lists and policies", async function () {
        const policy = fc.oneof(fc.record({ cpus: nasty }), fc.record({ spread: nasty }), fc.record({ numaLocal: fc.oneof(fc.boolean(), nasty) }), fc.record({ perIrq: fc.dictionary(fc.string({ maxLength: 10 }), nasty, { maxKeys: 2 }) }));
        await fc.assert(fc.asyncProperty(fc.oneof(fc.constant("eth1"), nasty), policy, fc.oneof(fc.constant(undefined), nasty), async (iface, placement, exclude) => refusedWithoutContact(irq.check, { interface: iface, ...placement, ...(exclude === undefined ? {} : { exclude }) })), { numRuns: 150 });
    });

    it("PacketSteering policies and flow entries", async function () {
        const policy = fc.oneof(fc.record({ cpus: nasty }), fc.record({ spread: nasty }), fc.record({ numaLocal: fc.oneof(fc.boolean(), nasty) }), fc.record({ cpus: fc.constant("0"), exclude: nasty }));
        const part = fc.record({ rps: policy, xps: policy, rfs: fc.record({ flowEntries: fc.oneof(nasty, fc.integer()) }) }, { requiredKeys: [] });
        await fc.assert(fc.asyncProperty(fc.oneof(fc.constant("eth1"), nasty), part, async (iface, parts) => refusedWithoutContact(steering.check, { interface: iface, ...parts })), { numRuns: 150 });
    });

    it("NicOffloads features and queue length", async function () {
        const features = fc.dictionary(fc.oneof(fc.constantFrom("gro", "rx-gro", "tso", "lro; reboot", "$(id)", "GRO"), fc.string({ maxLength: 20 })), fc.oneof(fc.boolean(), nasty), { maxKeys: 3 });
        await fc.assert(fc.asyncProperty(fc.oneof(fc.constant("eth1"), nasty), features, fc.oneof(fc.constant(undefined), nasty), async (iface, f, txqueuelen) => refusedWithoutContact(offloads.check, { interface: iface, features: f, ...(txqueuelen === undefined ? {} : { txqueuelen }) })), { numRuns: 120 });
    });

    it("KernelModule names and parameters", async function () {
        const spec = fc.oneof(nasty, fc.record({ name: fc.oneof(fc.constantFrom("tcp_bbr", "tcp-bbr", "a b", "x;y"), nasty), parameters: fc.dictionary(fc.string({ maxLength: 12 }), nasty, { maxKeys: 2 }) }, { requiredKeys: ["name"] }));
        await fc.assert(fc.asyncProperty(fc.oneof(nasty, fc.array(spec, { maxLength: 3 })), async (list) => refusedWithoutContact(modules.check, { modules: list })), { numRuns: 120 });
    });

    it("SysfsSet paths and values, THP words, wake-up latencies", async function () {
        const path = fc.oneof(fc.constantFrom("/sys/kernel/mm/transparent_hugepage/enabled", "/sys/../etc/passwd", "/sys/kernel/*/enabled", "/proc/sys/vm/swappiness", "/sys/a b", "/sys/x;reboot"), fc.string({ maxLength: 40 }));
        await fc.assert(fc.asyncProperty(fc.dictionary(path, nasty, { maxKeys: 3 }), async (settings) => refusedWithoutContact(sysfs.check, { settings })), { numRuns: 120 });
        await fc.assert(fc.asyncProperty(fc.oneof(fc.constant(undefined), nasty), fc.oneof(fc.constant(undefined), nasty), async (enabled, defrag) => refusedWithoutContact(thp.check, { enabled, defrag })), { numRuns: 80 });
        await fc.assert(fc.asyncProperty(nasty, fc.oneof(nasty, fc.constant("n/a")), async (cpus, latencyUs) => refusedWithoutContact(wakeup.check, { cpus, latencyUs })), { numRuns: 80 });
    });

    it("CpuGovernor and NicRingConfig fields", async function () {
        await fc.assert(fc.asyncProperty(fc.oneof(nasty, fc.array(nasty, { maxLength: 3 })), fc.oneof(fc.constant(undefined), nasty), async (governor, cpus) => refusedWithoutContact(cpuGovernor.check, { governor, ...(cpus === undefined ? {} : { cpus }) })), { numRuns: 100 });
        await fc.assert(fc.asyncProperty(fc.oneof(fc.constant("eth1"), nasty), fc.record({ rx: nasty, tx: nasty }, { requiredKeys: [] }), async (iface, rings) => refusedWithoutContact(nic.check, { interface: iface, rings })), { numRuns: 100 });
    });
});
