// One operation of ours, as its own process so that everything it costs is counted: it joins the
// controller cgroup before loading anything, then loads the automation API and the package from
// bin/ (plain JS, nothing compiled on the way), selects the stack and runs the operation. The
// Pulumi CLI, the dynamic provider and every ssh they start are its descendants, in the cgroup too.
// Usage: ours-op.ts SPEC.json (written by harness.ts); prints {"setupCpuNs": ...} on stdout.
import { readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { cgroupUsageNs } from "./cgroup";

interface OpSpec {
    cgroup: string;
    op: "up" | "refresh-preview" | "preview" | "destroy";
    workDir: string;
    env: Record<string, string>;
    pulumiRoot: string;
    project: string;
    hosts: { name: string; connection: Record<string, unknown>; resourceName: string }[];
    settings: Record<string, number | number[]>;
}

const spec: OpSpec = JSON.parse(readFileSync(process.argv[2], "utf8"));
writeFileSync(path.join(spec.cgroup, "cgroup.procs"), String(process.pid));
const usage = () => cgroupUsageNs(spec.cgroup);

async function main(): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const auto = require("@pulumi/pulumi/automation") as typeof import("@pulumi/pulumi/automation");
    const pulumiCommand = await auto.PulumiCommand.get({ root: spec.pulumiRoot, skipVersionCheck: true });
    const program = async () => {
        const { SysctlSet } = require(path.resolve(__dirname, "../../bin/provider")) as typeof import("../../provider");
        for (const host of spec.hosts) {
            new SysctlSet(host.resourceName, { connection: host.connection as never, settings: spec.settings });
        }
    };
    const stack = await auto.LocalWorkspace.selectStack({ stackName: "bench", projectName: spec.project, program }, { workDir: spec.workDir, pulumiCommand, envVars: spec.env });
    const setupCpuNs = usage();
    if (spec.op === "up") await stack.up();
    else if (spec.op === "refresh-preview") await stack.preview({ refresh: true });
    else if (spec.op === "preview") await stack.preview();
    else await stack.destroy();
    process.stdout.write(JSON.stringify({ setupCpuNs }) + "\n");
}

main().then(
    () => process.exit(0),
    (e) => {
        console.error(e);
        process.exit(1);
    },
);
