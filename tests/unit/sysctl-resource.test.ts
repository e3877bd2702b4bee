import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";

describe("SysctlSet registration (mocks)", function () {
    const registered: pulumi.runtime.MockResourceArgs[] = [];
    let SysctlSet: typeof import("../../provider").SysctlSet;

    before(async function () {
        await pulumi.runtime.setMocks(
            {
                newResource: (args) => {
                    registered.push(args);
                    return { id: `${args.name}-id`, state: args.inputs };
                },
                call: (args) => args.inputs,
            },
            "project",
            "stack",
            false,
        );
        ({ SysctlSet } = await import("../../provider"));
    });

    function outputOf<T>(o: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
        return new Promise((resolve) =>
            (o as any).isSecret.then((secret: boolean) => o.apply((value) => resolve({ value, secret }))),
        );
    }

    it("marks the private key secret even when given as a plain string, and records its own name", async function () {
        const set = new SysctlSet("web", {
            connection: { host: "10.0.0.5", privateKey: "-----BEGIN KEY-----" },
            settings: { "net.core.somaxconn": 65535 },
        });
        await outputOf(set.urn);
        const args = registered.find((r) => r.name === "web")!;
        assert.equal(args.type, "pulumi-nodejs:dynamic/linux-tuning:SysctlSet");
        assert.equal(args.inputs.resourceName, "web");
        const stored: string = args.inputs.__provider;
        assert.match(stored, /require\(`pulumi-linux-tuning\/bin\/provider\/\$\{implementation\}`\)/);
        assert.match(stored, /"sysctl\/handlers"/);
        assert.ok(stored.length < 5000, "only the delegating object is serialized, not the implementation");
        // A secret travels to the engine inside the secret envelope (signature key below).
        const envelope = args.inputs.connection;
        assert.equal(envelope["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270");
        assert.equal(envelope.value.privateKey, "-----BEGIN KEY-----");
    });

    it("refuses oversized settings in the constructor, before registration, naming resource and property", function () {
        const key = `net.core.${"a".repeat(100000)}`;
        assert.throws(
            () => new SysctlSet("huge", { settings: { [key]: 1 } }),
            (e: Error) => pulumi.RunError.isInstance(e) && /^SysctlSet "huge": settings\["net\.core\.a+…"\]: the key is 100009 characters; a sysctl key is at most 255$/.test(e.message),
        );
        assert.throws(() => new SysctlSet("long-value", { settings: { "kernel.x": "v".repeat(5000) } }), /SysctlSet "long-value": settings\["kernel\.x"\]: the value is 5000 characters/);
        assert.ok(!registered.some((r) => r.name === "huge" || r.name === "long-value"), "nothing was registered");
    });

    it("sends a secret key's settings in the secret envelope, and only those", async function () {
        const key = "0123abcd-0123abcd-0123abcd-0123abcd";
        const tfo = new SysctlSet("tfo", { settings: { "net.ipv4.tcp_fastopen_key": key } });
        await outputOf(tfo.urn);
        const args = registered.find((r) => r.name === "tfo")!;
        assert.equal(args.inputs.settings["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270", "the settings travel in the secret envelope");
        assert.deepEqual(args.inputs.settings.value, { "net.ipv4.tcp_fastopen_key": key });
        const plain = new SysctlSet("plain", { settings: { "net.core.somaxconn": 4096 } });
        await outputOf(plain.urn);
        assert.deepEqual(registered.find((r) => r.name === "plain")!.inputs.settings, { "net.core.somaxconn": 4096 }, "others stay readable in previews");
    });

    it("keeps settings not known when declared (an Output) secret in case they hold a secret key", async function () {
        const { declaresSecretKey, declaresSecretSysctl } = await import("../../provider/sysctl/resource");
        const computed = pulumi.output({ "net.ipv4.tcp_fastopen_key": "0123abcd-0123abcd-0123abcd-0123abcd" });
        assert.equal(declaresSecretKey(computed), true);
        assert.equal(declaresSecretKey(Promise.resolve({})), true);
        assert.equal(declaresSecretKey({ "net.core.somaxconn": pulumi.output(4096) }), false, "keys known: known not secret");
        assert.equal(declaresSecretKey(undefined), false);
        assert.equal(declaresSecretSysctl({ settings: computed }), true);
        assert.equal(declaresSecretSysctl(pulumi.output({ settings: {} })), true);
        assert.equal(declaresSecretSysctl({ settings: { "vm.swappiness": 10 } }), false);
        assert.equal(declaresSecretSysctl(undefined), false);
        const fromOutput = new SysctlSet("computed", { settings: computed });
        await outputOf(fromOutput.urn);
        const args = registered.find((r) => r.name === "computed")!;
        assert.equal(args.inputs.settings["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270");
    });

    it("wraps only the secret connection fields, so the host stays readable in previews", async function () {
        const { secretConnection } = await import("../../provider/dynamic");
        const marked = secretConnection({ host: "h", privateKey: "k", proxy: { host: "b", password: "p" } }) as any;
        assert.equal((await outputOf(marked.privateKey)).secret, true);
        assert.equal((await outputOf(marked.proxy.password)).secret, true);
        assert.equal(marked.host, "h");
    });
});
