#!/usr/bin/env node
// pulumi-linux-tuning: the fleet's command line, over the Automation API (the real CLI runs underneath).
//   rollout --stack S   `pulumi up` of the default program, then the per-host table; exit 1 if a wave halted (and nothing else failed), 3 if hosts failed within the budget
//   drift --stack S     host × key: desired, live, persisted copy; --json; exit 1 on drift
//   drift --merge F...  one report from the shards' --json reports
//   shard --stack S --by LABEL   one stack per label value (S-<value>), printed as a CI matrix
//   diagnose --stack S | --local [-i NIC]   rising drop/overflow counters and the knob each points at
import { execFile } from "child_process";
import { existsSync, readFileSync } from "fs";
import * as path from "path";
import { promisify } from "util";
import { Command, CommanderError, Option } from "commander";
import Table from "cli-table3";
import type { ConfigMap, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { closeAllConnections, transportFor } from "../../provider/transport";
import { HostDiagnosis, checkWindow, diagnoseHost, diagnosisText } from "../evidence";
import { assignHost } from "./assign";
import { DriftReport, connectionFor, mergeReports, readFleetDrift, recordedHosts, report } from "./drift";
import { CONFIG_NAMESPACE, FLEET_CONFIG_KEYS, FLEET_KEY_CONFIG, FleetConfig, FleetConfigInput, FleetKey, InventoryHost, SHARD_OF_KEY, fleetConfigJson, parseFleetConfig, refuseUnknownConfigKeys } from "./inventory";
import { shardCanaryNote, shardConfig, shardsBy, staleShards } from "./shards";
import { listedStack, sameStack, stackConfigFile } from "./stack-names";
import { HostRecord, evidenceCell } from "./report";

/** Marks a stack `shard` made, with the stack it was split from. */
const SHARD_OF = `${CONFIG_NAMESPACE}:${SHARD_OF_KEY}`;

function projectName(dir: string): string {
    const yaml = readFileSync(path.join(dir, "Pulumi.yaml"), "utf8");
    const name = /^name:\s*(\S+)/m.exec(yaml)?.[1];
    if (!name) {
        throw new Error(`${dir}/Pulumi.yaml has no project name`);
    }
    return name;
}

// The Automation API's workspace and the fleet program load Pulumi's whole program runtime
// (about 0.5 CPU-s): only rollout and shard need them; drift and diagnose run the CLI alone.
async function workspaceIn(dir: string): Promise<LocalWorkspace> {
    const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
    return LocalWorkspace.create({ workDir: dir });
}

/**
 * The fleet program as the commands run it: a halted wave recorded in the `halted` output rather
 * than failing the engine run, so the run still restores the hosts taken out of the inventory.
 */
async function fleetStack(stackName: string, dir: string): Promise<Stack> {
    const [{ LocalWorkspace }, { fleetProgram }] = await Promise.all([import("@pulumi/pulumi/automation"), import("./program")]);
    return LocalWorkspace.createOrSelectStack({ stackName, projectName: projectName(dir), program: async () => fleetProgram({ haltFailsRun: false }) }, { workDir: dir });
}

/** A stack to roll out: one that exists, or one whose Pulumi.<stack>.yaml is here; a mistyped name creates nothing. */
async function existingFleetStack(stackName: string, dir: string): Promise<Stack> {
    const workspace = await workspaceIn(dir);
    const configFile = stackConfigFile(stackName);
    if (!listedStack((await workspace.listStacks()).map((s) => s.name), stackName) && !existsSync(path.join(dir, configFile))) {
        throw new Error(`no stack ${stackName}, and no ${configFile} in ${dir} to create it from`);
    }
    return fleetStack(stackName, dir);
}

/**
 * Runs the rest from the project directory, as `pulumi up` runs a program: a relative
 * `privateKeyPath` in the stack's config means the same file here as there.
 */
function enterProject(dir: string): string {
    const absolute = path.resolve(dir);
    process.chdir(absolute);
    return absolute;
}

/** A `pulumi` command's JSON output, run as `LocalWorkspace` runs it (from PATH, non-interactive). */
async function pulumiJson<T>(args: string[], dir: string): Promise<T> {
    if (!existsSync(path.join(dir, "Pulumi.yaml"))) {
        throw new Error(`no Pulumi.yaml in ${dir}: run in the project directory or pass --cwd`);
    }
    try {
        const { stdout } = await promisify(execFile)("pulumi", [...args, "--non-interactive"], { cwd: dir, maxBuffer: 1 << 30 });
        return JSON.parse(stdout) as T;
    } catch (e) {
        const stderr = (e as { stderr?: string }).stderr?.trim();
        throw new Error(`pulumi ${args.join(" ")}: ${stderr || (e as Error).message}`);
    }
}

/** What `LocalWorkspace.getAllConfig` returns, from the same command. */
function stackConfig(stackName: string, dir: string): Promise<ConfigMap> {
    return pulumiJson(["config", "--show-secrets", "--json", "--stack", stackName], dir);
}

/** The deployment `LocalWorkspace.exportStack` returns, from the same command. */
async function stackDeployment(stackName: string, dir: string): Promise<Record<string, unknown>> {
    return (await pulumiJson<{ deployment?: Record<string, unknown> }>(["stack", "export", "--show-secrets", "--stack", stackName], dir)).deployment ?? {};
}

/** JSON text from `where`, or an error naming it and what it should hold. */
function parseJson(text: string, where: string, expected: string): unknown {
    try {
        return JSON.parse(text);
    } catch (e) {
        throw new Error(`${where}: not JSON (${(e as Error).message}); it should be ${expected}`);
    }
}

/** The stack's fleet config, secrets decrypted: what the default program would see, and refuse. */
export function fleetConfigOf(all: ConfigMap): { config: FleetConfigInput; fleetKey: FleetKey<string>; secret: Set<string> } {
    refuseUnknownConfigKeys(Object.keys(all));
    const config: Record<string, unknown> = {};
    const secret = new Set<string>();
    for (const key of FLEET_CONFIG_KEYS) {
        const entry = all[`${CONFIG_NAMESPACE}:${key}`];
        if (entry) {
            config[key] = fleetConfigJson(key, entry.value);
            if (entry.secret) {
                secret.add(key);
            }
        }
    }
    const fleetKey = { privateKey: all[`${CONFIG_NAMESPACE}:${FLEET_KEY_CONFIG.privateKey}`]?.value, privateKeyPassword: all[`${CONFIG_NAMESPACE}:${FLEET_KEY_CONFIG.privateKeyPassword}`]?.value };
    return { config: config as FleetConfigInput, fleetKey, secret };
}

/** No colour codes: the tables go to logs and CI output as often as to a terminal. */
const PLAIN = { head: [], border: [] };

function hostTable(hosts: Record<string, HostRecord>): string {
    const table = new Table({ head: ["host", "wave", "status", "drifted", "skipped", "counters (before → now)"], style: PLAIN, wordWrap: true, colWidths: [null, null, 60, null, null, null] });
    for (const [name, h] of Object.entries(hosts)) {
        table.push([name, h.wave, h.status, h.drifted.length, h.skipped.length, evidenceCell(h.evidence)]);
    }
    return table.toString();
}

function driftTable(r: DriftReport): string {
    const table = new Table({ head: ["host", "key", "desired", "live", "persisted", "status"], style: PLAIN });
    for (const row of r.rows) {
        table.push([row.host, row.key, row.desired, row.live, row.persisted, row.status]);
    }
    return `${table.toString()}\n${r.drifted === 0 ? "no drift" : `${r.drifted} drifted`} across ${new Set(r.rows.map((x) => x.host)).size} host(s) in ${r.stacks.join(", ")}`;
}

async function rollout(opts: { stack: string; cwd: string; preview?: boolean; refresh?: boolean }): Promise<number> {
    const stack = await existingFleetStack(opts.stack, enterProject(opts.cwd));
    const onOutput = (s: string) => process.stdout.write(s);
    if (opts.preview) {
        await stack.preview({ onOutput, diff: true, refresh: opts.refresh });
        return 0;
    }
    // A halt is the rollout's verdict, in the outputs; a failed run (a bad config, a crash, a
    // resource's error) is an error, with no table, since the outputs may be the previous run's.
    await stack.up({ onOutput, refresh: opts.refresh });
    const outputs = await stack.outputs();
    const hosts = (outputs.hosts?.value ?? {}) as Record<string, HostRecord>;
    if (outputs.hosts) {
        console.log(hostTable(hosts));
    }
    const halted = outputs.halted?.value as string | undefined;
    if (halted) {
        console.error(halted);
        return 1;
    }
    // As ansible-playbook exits non-zero for a host that failed under max_fail_percentage: the run went on, the host is not tuned.
    const failed = Object.entries(hosts).filter(([, h]) => h.status.startsWith("failed")).map(([name]) => name);
    if (failed.length > 0) {
        console.error(`${failed.length} host(s) failed within the failure budget, and the rollout went on: ${failed.join(", ")}`);
        return 3;
    }
    return 0;
}

async function drift(opts: { stack?: string; cwd: string; json?: boolean; merge?: string[] }): Promise<number> {
    let result: DriftReport;
    if (opts.merge) {
        result = mergeReports(opts.merge.map((f) => parseJson(readFileSync(f, "utf8"), f, "a report of `drift --stack S --json`") as DriftReport));
    } else if (opts.stack) {
        const cwd = enterProject(opts.cwd);
        const { config, fleetKey } = fleetConfigOf(await stackConfig(opts.stack, cwd));
        const fleet = parseFleetConfig(config);
        const recorded = recordedHosts(await stackDeployment(opts.stack, cwd));
        // The parts' reads speak to the engine with console.log ("…: skipped: no cpufreq"); here
        // that is a note for stderr, and stdout stays the report alone (`--json > f` for --merge).
        const log = console.log;
        console.log = console.error;
        try {
            result = report([opts.stack], await readFleetDrift(fleet, fleetKey, recorded));
        } finally {
            console.log = log;
        }
    } else {
        throw new Error("drift needs --stack or --merge");
    }
    console.log(opts.json ? JSON.stringify(result, null, 2) : driftTable(result));
    return result.drifted === 0 ? 0 : 1;
}

async function shard(opts: { stack: string; by: string; cwd: string }): Promise<number> {
    const cwd = enterProject(opts.cwd);
    const workspace = await workspaceIn(cwd);
    const { config, fleetKey, secret } = fleetConfigOf(await workspace.getAllConfig(opts.stack));
    const fleet = parseFleetConfig(config);
    const shards = shardsBy(config.hosts, opts.by, opts.stack);
    const existing = (await workspace.listStacks()).map((s) => s.name);
    // The mark alone, not the stack's whole config: a stack that is not ours may hold secrets this passphrase cannot open.
    const shardOf = (name: string) => workspace.getConfig(name, SHARD_OF).then((v) => v.value, () => undefined);
    const notOurs: string[] = [];
    for (const name of shards.keys()) {
        if (listedStack(existing, name) && !sameStack(await shardOf(name), opts.stack)) {
            notOurs.push(name);
        }
    }
    if (notOurs.length > 0) {
        throw new Error(`${notOurs.join(", ")}: a stack of that name exists and \`shard --stack ${opts.stack}\` did not make it; nothing was written (rename the stack or the label's value)`);
    }
    for (const candidate of staleShards(existing, opts.stack, shards.keys())) {
        if (sameStack(await shardOf(candidate), opts.stack)) {
            console.error(`note: no host belongs to shard stack ${candidate} any more; its tuning stays on its hosts until \`pulumi destroy --stack ${candidate}\``);
        }
    }
    const include: { stack: string; hosts: number }[] = [];
    for (const [name, hosts] of shards) {
        const stack = await fleetStack(name, cwd);
        const values: Record<string, { value: string; secret?: boolean }> = {};
        const own = shardConfig(fleet, config, hosts);
        for (const key of FLEET_CONFIG_KEYS) {
            const v = own[key];
            if (v !== undefined) {
                values[`${CONFIG_NAMESPACE}:${key}`] = { value: JSON.stringify(v), secret: secret.has(key) };
            }
        }
        for (const [field, key] of Object.entries(FLEET_KEY_CONFIG)) {
            const value = fleetKey[field as keyof FleetKey<string>];
            if (value) {
                values[`${CONFIG_NAMESPACE}:${key}`] = { value, secret: true };
            }
        }
        values[SHARD_OF] = { value: opts.stack };
        // setAllConfig only adds: a key since removed from the fleet's stack must go from its shards too.
        const removed = Object.keys(await stack.getAllConfig()).filter((key) => key.startsWith(`${CONFIG_NAMESPACE}:`) && !(key in values));
        if (removed.length > 0) {
            await stack.removeAllConfig(removed);
        }
        await stack.setAllConfig(values);
        include.push({ stack: name, hosts: hosts.length });
    }
    const note = shardCanaryNote(fleet, shards);
    if (note) {
        console.error(`note: ${note}`);
    }
    console.log(JSON.stringify({ include }));
    return 0;
}

/** The NIC `diagnose --stack` reads on a host: the one given, else the one its rollout's gates sample (its facts' or its assignments'). */
export function interfaceToDiagnose(fleet: FleetConfig, host: InventoryHost, given?: string): string | undefined {
    return given ?? assignHost(fleet, host).interface;
}

/** A host `diagnose --stack` could not read: its own entry, the others still diagnosed. */
interface Undiagnosed {
    target: string;
    error: string;
}

async function diagnoseCommand(opts: { stack?: string; local?: boolean; host?: string; interface?: string; window: string; cwd: string; json?: boolean }): Promise<number> {
    const window = Number(opts.window);
    checkWindow(window);
    let diagnoses: (HostDiagnosis | Undiagnosed)[];
    if (opts.local) {
        diagnoses = [await diagnoseHost(transportFor(undefined), opts.interface, window)];
    } else if (opts.stack) {
        const { config, fleetKey } = fleetConfigOf(await stackConfig(opts.stack, enterProject(opts.cwd)));
        const fleet = parseFleetConfig(config);
        const hosts = fleet.hosts.filter((h) => !opts.host || h.name === opts.host);
        if (hosts.length === 0) {
            throw new Error(`no host ${opts.host} in ${opts.stack}`);
        }
        // One host down or without its interface is that host's entry, not the end of the fleet's diagnosis.
        const settled = await Promise.allSettled(hosts.map(async (h) => diagnoseHost(transportFor(connectionFor(fleet, h, fleetKey)), interfaceToDiagnose(fleet, h, opts.interface), window)));
        diagnoses = settled.map((r, i) => (r.status === "fulfilled" ? { ...r.value, target: hosts[i].name } : { target: hosts[i].name, error: (r.reason as Error).message }));
    } else {
        throw new Error("diagnose needs --stack or --local");
    }
    const text = (d: HostDiagnosis | Undiagnosed) => ("error" in d ? `${d.target}: could not diagnose: ${d.error}` : diagnosisText(d));
    console.log(opts.json ? JSON.stringify(diagnoses, null, 2) : diagnoses.map(text).join("\n"));
    // A host whose judged counters could not all be rated has no all-clear to give: 3, not 0.
    const judged = (d: HostDiagnosis | Undiagnosed): d is HostDiagnosis => "findings" in d;
    return diagnoses.some((d) => "error" in d) ? 2 : diagnoses.some((d) => judged(d) && d.findings.length > 0) ? 1 : diagnoses.some((d) => judged(d) && d.unjudged.length > 0) ? 3 : 0;
}

function run<O>(action: (opts: O) => Promise<number>) {
    return async (opts: O) => {
        try {
            process.exitCode = await action(opts);
        } catch (e) {
            console.error(`error: ${(e as Error).message}`);
            process.exitCode = 2;
        } finally {
            await closeAllConnections();
        }
    };
}

export const program = new Command("pulumi-linux-tuning").description("Roll out, check and shard a fleet declared in stack config (see README, Fleet).");
// Before the commands: they inherit it. A usage error exits 2 like any other error, as 1 means drift or a halted wave.
program.exitOverride();
program
    .command("rollout")
    .description("pulumi up of the fleet program on a stack, then the per-host report; exit 1 if a wave halted and nothing else failed, 3 if every wave passed with hosts failed within the budget")
    .requiredOption("-s, --stack <name>", "stack")
    .option("-C, --cwd <dir>", "project directory (Pulumi.yaml)", process.cwd())
    .option("--preview", "preview only")
    .option("--refresh", "read every host first (and measure the evidence counters again)")
    .action(run(rollout));
program
    .command("drift")
    .description("host × key table of desired, live and persisted values; exit 1 on drift")
    .option("-s, --stack <name>", "stack")
    .option("-C, --cwd <dir>", "project directory (Pulumi.yaml)", process.cwd())
    .option("--json", "machine-readable report")
    .addOption(new Option("--merge <reports...>", "merge --json reports of several shards (instead of reading a stack)").conflicts("stack"))
    .action(run(drift));
program
    .command("shard")
    .description("one stack per value of a host label, named <stack>-<value>; prints a CI matrix")
    .requiredOption("-s, --stack <name>", "stack holding the whole fleet's config")
    .requiredOption("--by <label>", "host label to shard by")
    .option("-C, --cwd <dir>", "project directory (Pulumi.yaml)", process.cwd())
    .action(run(shard));

program
    .command("diagnose")
    .description("sample the kernel's drop and overflow counters twice and name the knob behind each rising one; read-only; exit 1 on findings, 3 when counters it reads could not be rated (a reboot in the window) and nothing was found")
    .option("-s, --stack <name>", "every host of this stack")
    .option("--host <name>", "only this host of the stack")
    .addOption(new Option("--local", "the machine this runs on (no root needed)").conflicts(["stack", "host"]))
    .option("-i, --interface <name>", "the NIC whose drops and interrupts to read (with --stack: instead of the one each host's facts or assignments name)")
    .option("-w, --window <seconds>", "time between the two samples", "5")
    .option("-C, --cwd <dir>", "project directory (Pulumi.yaml)", process.cwd())
    .option("--json", "machine-readable")
    .action(run(diagnoseCommand));

if (require.main === module) {
    program.parseAsync(process.argv).catch((e: unknown) => {
        process.exitCode = e instanceof CommanderError && e.exitCode === 0 ? 0 : 2;
    });
}
