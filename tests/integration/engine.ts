import { execFileSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, PulumiFn, Stack } from "@pulumi/pulumi/automation";

const REPO = path.resolve(__dirname, "../..");

// Every inline program in this process dials a new engine on a new ephemeral port. grpc-js keeps
// subchannels in a process-wide pool keyed by address, so a port an earlier engine used can hand
// a new program that engine's dead subchannel ("14 UNAVAILABLE: No connection established", seen
// a few times per suite). Each program's clients get a pool of their own.
// The option objects are exported by the SDK's runtime but not in its typings.
const runtimeSettings = require("@pulumi/pulumi/runtime/settings") as Record<string, Record<string, unknown>>;
for (const options of [runtimeSettings.grpcChannelOptions, runtimeSettings.grpcClientOptions]) {
    options["grpc.use_local_subchannel_pool"] = 1;
}

let toolchainBin: string | undefined;

/** The real CLI, from PATH or the project's cache (built once by scripts/pulumi-toolchain.sh). */
export function pulumiBin(): string {
    toolchainBin ??= execFileSync("bash", [path.join(REPO, "scripts/pulumi-toolchain.sh")], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    })
        .trim()
        .split("\n")
        .pop()!;
    return toolchainBin;
}

export const PASSPHRASE = "lab passphrase, not a secret";

/**
 * A stack of an inline program on a local file:// backend in a fresh temp dir, run by the
 * real engine. The work dir links the repo's node_modules so the dynamic-provider process
 * resolves @pulumi/pulumi and this package.
 */
const backends = new WeakMap<Stack, string>();

/** Every byte the backend stored for a stack (checkpoints, history, backups): what is really on disk. */
export function storedStateText(stack: Stack): string {
    const walk = (dir: string): string[] =>
        readdirSync(dir).flatMap((name) => {
            const full = path.join(dir, name);
            return statSync(full).isDirectory() ? walk(full) : [readFileSync(full, "utf8")];
        });
    return walk(backends.get(stack)!).join("\n");
}

const scratch: string[] = [];
process.once("exit", () => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A fresh directory under the system's temp dir (a project, a backend), removed when the test process exits. */
export function scratchDir(prefix: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    scratch.push(dir);
    return dir;
}

/** `root`: reuse a stack's directory (another process's, to pick up after it was killed). */
export async function labStack(project: string, program: PulumiFn, root = scratchDir(`plt-${project}-`)): Promise<Stack> {
    const workDir = path.join(root, "work");
    const backend = path.join(root, "state");
    if (!existsSync(workDir)) {
        mkdirSync(workDir);
        mkdirSync(backend);
        symlinkSync(path.join(REPO, "node_modules"), path.join(workDir, "node_modules"));
    }
    const bin = pulumiBin();
    const pulumiCommand = await PulumiCommand.get({ root: path.dirname(bin), skipVersionCheck: true });
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: "lab", projectName: project, program },
        {
            workDir,
            pulumiHome: path.join(root, "home"),
            pulumiCommand,
            envVars: {
                PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
                PULUMI_BACKEND_URL: `file://${backend}`,
                PULUMI_SKIP_UPDATE_CHECK: "true",
                PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
                PATH: `${bin}:${process.env.PATH}`,
            },
            projectSettings: { name: project, runtime: "nodejs", backend: { url: `file://${backend}` } },
        },
    );
    backends.set(stack, backend);
    return stack;
}

/**
 * A project directory as a user has it (the repository's Pulumi.yaml, node_modules) with its own
 * file:// backend: for driving the `pulumi-linux-tuning` command as a separate process.
 */
export function labProject(name: string): { dir: string; env: NodeJS.ProcessEnv } {
    const root = scratchDir(`plt-${name}-`);
    const dir = path.join(root, "work");
    const backend = path.join(root, "state");
    mkdirSync(dir);
    mkdirSync(backend);
    mkdirSync(path.join(root, "home"));
    symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    // The command runs the fleet program inline; `main` would point into a checkout this dir is not.
    writeFileSync(path.join(dir, "Pulumi.yaml"), readFileSync(path.join(REPO, "Pulumi.yaml"), "utf8").replace(/^main:.*\n/m, ""));
    const env = {
        ...process.env,
        PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
        PULUMI_BACKEND_URL: `file://${backend}`,
        PULUMI_HOME: path.join(root, "home"),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PATH: `${pulumiBin()}:${process.env.PATH}`,
    };
    return { dir, env };
}
