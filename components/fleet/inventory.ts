import { readFileSync } from "fs";
import { closest } from "fastest-levenshtein";
import { z } from "zod";
import { isCpuList } from "../../provider/cpus";
import { canonicalKey } from "../../provider/sysctl/keys";
import { interfaceName } from "../../provider/nic/schema";
import { DeclarationError } from "../profile/declaration-error";
import { connectionSchema } from "../../provider/transport/connection";
import { counterConditionSchema, failureBudgetSchema, healthCheckSchema } from "../../provider/wave-gate/schema";
import { longestRatedWindow } from "../../provider/counters/rates";

/** The profiles watch softnet.dropped, whose 32-bit per-CPU counts bound the evidence window. */
const SOFTNET_WINDOW = longestRatedWindow("softnet.dropped")!;
const SOFTNET_WINDOW_WHY = `must be at most ${SOFTNET_WINDOW} s: softnet's 32-bit counts per CPU, which the profiles watch, could wrap more than once in a longer window`;

/**
 * The fleet as declared: stack config for the default program, or a Fleet's args. Every shape is
 * checked here, before any host is contacted, and every error names its path
 * (`hosts[3].connection.host: must be a host name or an IP address`).
 */

/** The stack config namespace the default program reads. */
export const CONFIG_NAMESPACE = "pulumi-linux-tuning";

/** The secret config keys (in that namespace) that hold the fleet's key and its passphrase. */
export const FLEET_KEY_CONFIG = { privateKey: "sshPrivateKey", privateKeyPassword: "sshPrivateKeyPassword" } as const;

/** The config keys (in that namespace) that hold the fleet's config, each the field of that name. */
export const FLEET_CONFIG_KEYS = ["defaults", "hosts", "assignments", "rollout", "evidence"] as const;

/** The config key `shard` marks each shard stack with: the stack it was split from. */
export const SHARD_OF_KEY = "shardOf";

const KNOWN_CONFIG_KEYS: readonly string[] = [...FLEET_CONFIG_KEYS, ...Object.values(FLEET_KEY_CONFIG), SHARD_OF_KEY];

/**
 * Refuses a key in the namespace that nothing reads, naming the known key closest to it: a typo
 * (`rolout`, `default`) would otherwise switch off the gates or the connection defaults unseen.
 */
export function refuseUnknownConfigKeys(keys: readonly string[]): void {
    const prefix = `${CONFIG_NAMESPACE}:`;
    const unknown = keys.filter((key) => key.startsWith(prefix) && !KNOWN_CONFIG_KEYS.includes(key.slice(prefix.length)));
    if (unknown.length > 0) {
        const lines = unknown.map((key) => `  ${key}: not a key of the fleet's config; did you mean ${prefix}${closest(key.slice(prefix.length), KNOWN_CONFIG_KEYS)}?`);
        throw new FleetConfigError(`invalid fleet config:\n${lines.join("\n")}`);
    }
}

const hostName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "must be 1-63 letters, digits, '.', '_' or '-'");
const labelValue = z.string().min(1).max(63);
const labels = z
    .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,62}$/, "must be a label name"), labelValue)
    .superRefine((given, ctx) => {
        if ("name" in given) {
            ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["name"], message: "is the host's own name to a selector: use another label" });
        }
    });

/** How to reach hosts; the fleet-wide defaults and each host's own fields are merged, the host's winning. */
const connectionFieldSchemas = {
    host: z.string(),
    port: z.number(),
    user: z.string(),
    hostKey: z.string(),
    knownHostsPath: z.string(),
    insecureSkipHostKeyCheck: z.boolean(),
    sudo: z.boolean(),
    perDialTimeout: z.number(),
    dialErrorLimit: z.number(),
    commandTimeout: z.number(),
    agentSocketPath: z.string(),
    /** A private key file read by the program (the key itself goes into state only as a secret). */
    privateKeyPath: z.string().min(1),
    proxy: z.record(z.string(), z.unknown()),
};
const connectionDefaults = z.object(connectionFieldSchemas).partial().strict();
const hostConnection = z.object(connectionFieldSchemas).partial().required({ host: true }).strict();

/** What profiles need to know about a host (and any profile's own facts, checked per profile). */
export const hostFactsSchema = z
    .object({
        interface: interfaceName.optional(),
        applicationCpus: z.string().refine(isCpuList, 'must be a CPU list such as "2-5"').optional(),
        missingKeys: z.enum(["skip", "fail"]).optional(),
        cpuFrequency: z.enum(["skip", "fail", "unmanaged"]).optional(),
        irqbalance: z.enum(["ban", "stop", "leave"]).optional(),
        persist: z.boolean().optional(),
        // Profile facts
        busyPollMicros: z.number().int().min(1).max(1_000_000).optional(),
        wakeupLatencyUs: z.number().int().min(1).max(2_000_000_000).optional(),
        rxQueues: z.number().int().min(1).max(4096).optional(),
        cpus: z.number().int().min(1).max(8192).optional(),
        linkGbps: z.number().positive().max(1600).optional(),
        rttMs: z.number().positive().max(10_000).optional(),
        jumboFrames: z.boolean().optional(),
        memoryGiB: z.number().positive().max(1 << 20).optional(),
        pageSizeKiB: z.union([z.literal(4), z.literal(16), z.literal(64)]).optional(),
        highAvailabilityVip: z.boolean().optional(),
        sipPorts: z.string().regex(/^[0-9]{1,5}(-[0-9]{1,5})?(,[0-9]{1,5}(-[0-9]{1,5})?)*$/, 'must be a port list such as "5060-5061"').optional(),
        connectionsPerSecond: z.number().positive().max(100_000_000).optional(),
        acceptStallMs: z.number().positive().max(60_000).optional(),
        handshakeMs: z.number().positive().max(60_000).optional(),
    })
    .strict();

export type HostFactsConfig = z.infer<typeof hostFactsSchema>;

const rawPart = z.record(z.string(), z.unknown()).optional();

/** A sysctl record names each setting once: `net/core/somaxconn` is `net.core.somaxconn`. */
const sysctlRecord = z.record(z.string().max(256), z.unknown()).superRefine((record, ctx) => {
    const seen = new Map<string, string>();
    for (const key of Object.keys(record)) {
        const other = seen.get(canonicalKey(key));
        if (other !== undefined) {
            ctx.addIssue({ code: "custom", path: [key], message: `is the same setting as ${other}` });
        }
        seen.set(canonicalKey(key), key);
    }
});

export const hostSchema = z
    .object({
        name: hostName,
        connection: hostConnection,
        labels: labels.default({}),
        facts: hostFactsSchema.default({}),
        /** Wins over every assignment: the way to settle a conflict on one host. */
        sysctlOverrides: sysctlRecord.optional(),
        /** The other parts' fields this host sets itself, over every assignment's (`irqs: { cpus: "2-3" }`): Ansible's host_vars over group_vars. */
        overrides: z
            .object({ modules: rawPart, nic: rawPart, offloads: rawPart, steering: rawPart, irqs: rawPart, governor: rawPart, thp: rawPart, wakeup: rawPart })
            .strict()
            .optional(),
    })
    .strict();

/** Matches hosts whose labels (and `name`) have these values; a list means any of them. Empty: every host. */
export const selectorSchema = z.record(z.string(), z.union([labelValue, z.array(labelValue).min(1)]));

/** What an assignment can set without a profile, as HostTuning's parts. */
export const RAW_PARTS = ["modules", "sysctls", "nic", "offloads", "steering", "irqs", "governor", "thp", "wakeup"] as const;

export const PROFILE_NAMES = ["low-latency", "high-throughput", "sip-router", "high-connection-rate"] as const;

export const assignmentSchema = z
    .object({
        select: selectorSchema.default({}),
        /** A profile by name, with its facts (the host's own facts win) and overrides. */
        profile: z.enum(PROFILE_NAMES).optional(),
        facts: hostFactsSchema.default({}),
        sysctlOverrides: sysctlRecord.optional(),
        /** Raw resource specs: SysctlSet's `settings`, and what each other resource takes (less the connection). */
        sysctls: sysctlRecord.refine((settings) => Object.keys(settings).length > 0, "must name at least one sysctl").optional(),
        modules: rawPart,
        nic: rawPart,
        offloads: rawPart,
        steering: rawPart,
        irqs: rawPart,
        governor: rawPart,
        thp: rawPart,
        wakeup: rawPart,
    })
    .strict()
    .refine((a) => a.profile || RAW_PARTS.some((p) => a[p]), `names a profile or at least one of ${RAW_PARTS.join(", ")}`);

const serialStep = z.union([z.number().int().min(1), z.string().regex(/^(100|[1-9]?[0-9])%$/, 'must be a count or a percentage such as "25%"')]);

export const rolloutSchema = z
    .object({
        /** Ansible's `serial`: wave sizes as counts or percentages of the fleet, the last repeating. Default [1, "100%"]: a canary, then the rest. */
        serial: z.array(serialStep).min(1).optional(),
        /** Explicit waves by label, in order; hosts no wave selects form a last wave. */
        waves: z.array(z.object({ select: selectorSchema, maxFailures: failureBudgetSchema.optional() }).strict()).min(1).optional(),
        /** Failed hosts a wave may have before later waves are held: a count of hosts, or a percentage string such as "25%" (Ansible's max_fail_percentage: 25). Default 0. */
        maxFailures: failureBudgetSchema.default(0),
        healthCheck: healthCheckSchema.optional(),
        /** Kernel counters each host of a wave must keep down after its apply: `[{ counter: "Udp.RcvbufErrors", maxPerSecond: 10, windowSeconds: 60 }]`; `IF` in a name is the host's NIC. */
        counterConditions: z.array(counterConditionSchema).max(64).optional(),
    })
    .strict()
    .refine((r) => !(r.serial && r.waves), { message: "set serial or waves, not both", path: ["waves"] });

export const fleetConfigSchema = z
    .object({
        defaults: connectionDefaults.default({}),
        hosts: z.array(hostSchema).min(1, "must list at least one host"),
        assignments: z.array(assignmentSchema).min(1, "must assign at least one profile or spec"),
        rollout: rolloutSchema.default({ maxFailures: 0 }),
        /**
         * Before and after on each host: the counters its profiles are meant to bring down,
         * measured over `windowSeconds` (default 3) before its first write and at every refresh.
         * `false` to skip.
         */
        evidence: z.union([z.literal(false), z.object({ windowSeconds: z.number().positive().max(SOFTNET_WINDOW, SOFTNET_WINDOW_WHY).optional() }).strict()]).default({}),
    })
    .strict()
    // Run even when some hosts fail their own grammar, so one preview names every host's problems.
    .superRefine((config, ctx) => checkHosts(config, ctx), { when: (payload) => Array.isArray((payload.value as { hosts?: unknown } | undefined)?.hosts) })
    .superRefine((config, ctx) => {
        unmatchedSelectors(config).forEach((path) => ctx.addIssue({ code: "custom", path, message: `matches no host (${labelsInUse(config.hosts)})` }));
        overlappedWaves(config).forEach((path) => ctx.addIssue({ code: "custom", path, message: "matches only hosts an earlier wave takes: it would roll out nothing (a canary listed after its rack goes with the rack)" }));
    });

/** Across hosts: names are unique, and each host's connection, its own fields over the defaults, is one the resources accept. */
function checkHosts(config: { defaults?: unknown; hosts: unknown[] }, ctx: z.RefinementCtx): void {
    const defaults = connectionDefaults.default({}).safeParse(config.defaults);
    const seen = new Map<string, number>();
    config.hosts.forEach((raw, i) => {
        const parsed = hostSchema.safeParse(raw);
        if (!parsed.success) {
            return; // its own issues are reported already
        }
        const h = parsed.data;
        const first = seen.get(h.name);
        if (first !== undefined) {
            ctx.addIssue({ code: "custom", path: ["hosts", i, "name"], message: `${h.name} is also hosts[${first}]'s name` });
        }
        seen.set(h.name, i);
        if (!defaults.success) {
            return;
        }
        // The connection each host really gets, checked as the resources will check it.
        const merged = connectionFields(defaults.data, h.connection, {}, () => "a key read from privateKeyPath");
        for (const issue of connectionSchema.safeParse(merged).error?.issues ?? []) {
            const field = issue.path[0];
            const fromHost = field === undefined || field in h.connection;
            const path = fromHost ? ["hosts", i, "connection", ...issue.path] : ["defaults", ...issue.path];
            ctx.addIssue({ code: "custom", path, message: fromHost ? issue.message : `${issue.message} (for hosts[${i}], ${h.name})` });
        }
    });
}

/**
 * The selectors, of assignments and of waves, that match no host: a mistyped label or value, which
 * would otherwise leave an assignment unapplied or a wave empty (its hosts rolled out with the rest).
 */
export function unmatchedSelectors(config: Pick<FleetConfig, "hosts" | "assignments" | "rollout">): (string | number)[][] {
    const matchesNone = (selector: Selector) => !config.hosts.some((h) => matches(selector, h));
    return [
        ...config.assignments.flatMap((a, i) => (matchesNone(a.select) ? [["assignments", i, "select"]] : [])),
        ...(config.rollout.waves ?? []).flatMap((w, i) => (matchesNone(w.select) ? [["rollout", "waves", i, "select"]] : [])),
    ];
}

/** Each explicit wave's hosts, in inventory order: those its selector matches that no earlier wave takes. */
export function explicitWaveHosts(hosts: readonly InventoryHost[], waves: readonly { select: Selector }[]): InventoryHost[][] {
    const placed = new Set<string>();
    return waves.map((wave) => {
        const members = hosts.filter((h) => !placed.has(h.name) && matches(wave.select, h));
        members.forEach((h) => placed.add(h.name));
        return members;
    });
}

/** The waves whose selector matches hosts, every one of them taken by an earlier wave. */
function overlappedWaves(config: Pick<FleetConfig, "hosts" | "rollout">): (string | number)[][] {
    const waves = config.rollout.waves ?? [];
    return explicitWaveHosts(config.hosts, waves).flatMap((members, i) => (members.length === 0 && config.hosts.some((h) => matches(waves[i].select, h)) ? [["rollout", "waves", i, "select"]] : []));
}

function labelsInUse(hosts: readonly InventoryHost[]): string {
    const names = [...new Set(hosts.flatMap((h) => Object.keys(h.labels)))].sort();
    return names.length > 0 ? `labels in use: ${names.join(", ")}` : "no host has labels";
}

export type FleetConfig = z.infer<typeof fleetConfigSchema>;
export type FleetConfigInput = z.input<typeof fleetConfigSchema>;
export type InventoryHost = FleetConfig["hosts"][number];
export type Assignment = FleetConfig["assignments"][number];
export type Selector = z.infer<typeof selectorSchema>;

/** Path syntax of config errors: `hosts[3].connection.host`. */
export function configPath(path: readonly PropertyKey[]): string {
    return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : /^[A-Za-z_][A-Za-z0-9_]*$/.test(String(p)) ? `.${String(p)}` : `[${JSON.stringify(String(p))}]`)).join("");
}

export class FleetConfigError extends DeclarationError {}

/**
 * A fleet key's config text as JSON, or an error naming the key, without the parser's words: they
 * quote the text, and a secret's is no less secret for being malformed.
 */
export function fleetConfigJson(key: string, text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        throw new FleetConfigError(`invalid fleet config:\n  ${CONFIG_NAMESPACE}:${key}: not JSON; it should be a mapping or list in Pulumi.<stack>.yaml, as the README shows`);
    }
}

/** The validated fleet, or one error listing every problem by its path. */
export function parseFleetConfig(raw: unknown): FleetConfig {
    const parsed = fleetConfigSchema.safeParse(raw);
    if (!parsed.success) {
        const lines = parsed.error.issues.map((i) => `  ${configPath(i.path) || "(config)"}: ${i.message}`);
        throw new FleetConfigError(`invalid fleet config:\n${lines.join("\n")}`);
    }
    return parsed.data;
}

export function matches(selector: Selector, host: InventoryHost): boolean {
    const labelsOf: Record<string, string> = { ...host.labels, name: host.name };
    return Object.entries(selector).every(([label, wanted]) => (Array.isArray(wanted) ? wanted : [wanted]).includes(labelsOf[label]));
}

const PROXY_CREDENTIALS = ["privateKey", "password", "agentSocketPath"];

/** The fleet's own key and the passphrase of the keys it reads: secrets, from stack config or a Fleet's args. */
export interface FleetKey<Key> {
    privateKey?: Key;
    privateKeyPassword?: Key;
}

/**
 * A host's connection from the config: the fleet's defaults under its own fields, each
 * `privateKeyPath` read with `readKey` (else the fleet's key), which is told where in the config
 * the path was set (`connection.privateKeyPath` of the host, or `defaults.privateKeyPath`), every
 * key with the fleet's passphrase; a bastion with no credential of its own logs in with the
 * host's key and agent, as `ssh -J` would.
 */
export function connectionFields<Key>(defaults: FleetConfig["defaults"], own: InventoryHost["connection"], fleet: FleetKey<Key>, readKey: (file: string, setting: string) => Key): Record<string, unknown> {
    const { privateKeyPath, proxy, ...fields } = { ...defaults, ...own };
    const setIn = (field: "privateKeyPath" | "proxy") => (own !== undefined && field in own && own[field] !== undefined ? "connection" : "defaults");
    const withPassphrase = (key: Key | undefined) =>
        key === undefined ? {} : { privateKey: key, ...(fleet.privateKeyPassword !== undefined ? { privateKeyPassword: fleet.privateKeyPassword } : {}) };
    const key = privateKeyPath !== undefined ? readKey(privateKeyPath, `${setIn("privateKeyPath")}.privateKeyPath`) : fleet.privateKey;
    const withKey = { ...fields, ...withPassphrase(key) };
    if (!proxy) {
        return withKey;
    }
    const { privateKeyPath: proxyKeyFile, ...proxyFields } = proxy;
    if (proxyKeyFile !== undefined && typeof proxyKeyFile !== "string") {
        // Left in, for the connection's own check to name it.
        return { ...withKey, proxy };
    }
    if (proxyKeyFile !== undefined) {
        return { ...withKey, proxy: { ...proxyFields, ...withPassphrase(readKey(proxyKeyFile, `${setIn("proxy")}.proxy.privateKeyPath`)) } };
    }
    if (PROXY_CREDENTIALS.some((c) => c in proxyFields)) {
        return { ...withKey, proxy: proxyFields };
    }
    const agent = typeof fields.agentSocketPath === "string" ? { agentSocketPath: fields.agentSocketPath } : {};
    return { ...withKey, proxy: { ...proxyFields, ...agent, ...withPassphrase(key) } };
}

/** A key file named at `setting` (as connectionFields says where) for `host`: one it cannot read fails naming the config path, as every config error does. */
export function readPrivateKey(file: string, config: FleetConfig, host: InventoryHost, setting: string): string {
    try {
        return readFileSync(file, "utf8");
    } catch (e) {
        const path = setting.startsWith("connection.") ? `hosts[${config.hosts.indexOf(host)}].${setting}` : setting;
        throw new FleetConfigError(`invalid fleet config (for ${host.name}):\n  ${path}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
}
