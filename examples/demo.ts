// Drives examples/sysctl-basic against lab hosts with the Automation API: the same engine and
// program `pulumi up` would run, with a throwaway file:// backend.
import { execFileSync } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import { labStack } from "../tests/integration/engine";
import { Lab } from "../tests/integration/lab";

const lab: Lab = JSON.parse(readFileSync(process.argv[2], "utf8"));
const show = (s: string) => process.stdout.write(s);
const step = (title: string) => console.log(`\n=== ${title}\n`);

async function main() {
    const program = path.join(__dirname, "sysctl-basic");
    // Each engine run evaluates the program afresh, as `pulumi up` would in a new process.
    const stack = await labStack("sysctl-demo", async () => {
        delete require.cache[require.resolve(program)];
        return require(program);
    });
    await stack.setAllConfig({
        hosts: { value: JSON.stringify(lab.hosts.map((h) => ({ host: h.address, hostKey: h.hostKey }))) },
        sshPrivateKey: { value: readFileSync(lab.privateKeyPath, "utf8"), secret: true },
    });
    try {
        step("pulumi up: tune both lab hosts");
        await stack.up({ onOutput: show });

        step("pulumi preview: nothing to do");
        await stack.preview({ onOutput: show });

        const h1 = lab.hosts[0];
        step(`someone runs 'sysctl -w net.ipv4.tcp_fin_timeout=60' on ${h1.address}`);
        execFileSync("bash", ["tests/lab/lab.sh", "exec", lab.dir, h1.name, "--", "sysctl", "-w", "net.ipv4.tcp_fin_timeout=60"], { stdio: "inherit" });

        step("pulumi preview --refresh --diff: per-key drift");
        await stack.preview({ refresh: true, diff: true, onOutput: show });

        step("pulumi up: converge");
        await stack.up({ onOutput: show });
    } finally {
        step("pulumi destroy: every original value restored");
        await stack.destroy({ onOutput: show });
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
