import { createHash } from "crypto";
import { readFileSync } from "fs";
import { homedir } from "os";
import * as path from "path";
import { Client, ConnectConfig } from "ssh2";
import { sshCommand } from "./argv";
import { Connection, ProxyConnection, hostIdentity } from "./connection";
import { HostKeyEntry, hostKeyAlgorithms, knownHostsName, lookUpKnownHosts, parsePublicKey, verifyHostKey } from "./known-hosts";
import { CONTROLLER_GRACE_SECONDS, CommandResult, CommandTimeoutError, HostConnectError, isRefusedConnection, RunOptions, Transport, limitFor, signalStatus, stoppedAtLimit, underTimeLimit } from "./transport";

/** sshd allows 10 sessions per connection by default; stay under it. */
const MAX_CHANNELS_PER_CONNECTION = 8;

type Endpoint = ProxyConnection;

function describe(endpoint: Endpoint): string {
    return `${endpoint.user}@${endpoint.host}:${endpoint.port}`;
}

/**
 * Which host keys a login accepts: the pinned `hostKey`, else known_hosts' for the host, else,
 * under insecureSkipHostKeyCheck, any (`trusted` undefined). Whatever trusts it, a key known_hosts
 * marks `@revoked` is refused, as OpenSSH refuses it under any StrictHostKeyChecking: the mark
 * is how a leaked host key is withdrawn from a fleet. A known_hosts file named explicitly must be
 * there; the default one (~/.ssh/known_hosts) may be missing, and when only its revocations are
 * wanted (a pinned key, the check skipped), unreadable, as OpenSSH then goes on without it.
 */
export function hostKeyPolicy(endpoint: Endpoint, read: (file: string) => string = (file) => readFileSync(file, "utf8")): { trusted?: HostKeyEntry[]; revoked: HostKeyEntry[] } {
    const pinned = endpoint.hostKey ? endpoint.hostKey.split("\n").filter((line) => line.trim()).map(parsePublicKey) : undefined;
    const file = endpoint.knownHostsPath ?? path.join(homedir(), ".ssh", "known_hosts");
    let content = "";
    try {
        content = read(file);
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (endpoint.knownHostsPath !== undefined) {
            throw new Error(code === "ENOENT" ? `knownHostsPath ${file}: no such file` : `knownHostsPath ${file}: ${(e as Error).message}`);
        }
        if (code !== "ENOENT" && !pinned && !endpoint.insecureSkipHostKeyCheck) {
            throw e;
        }
    }
    const found = lookUpKnownHosts(content, knownHostsName(endpoint.host, endpoint.port));
    const trusted = pinned ?? (endpoint.insecureSkipHostKeyCheck ? undefined : found.accepted);
    return { trusted, revoked: found.revoked };
}

/** A setting that fails before any packet is sent: the tunnel opened for the attempt is closed with it. */
function refusedBeforeConnecting(target: string, error: unknown, setting: string, sock: NodeJS.ReadableStream | undefined): Promise<never> {
    (sock as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    return Promise.reject(new HostConnectError(`${target}: ${(error as Error).message}`, setting));
}

function connectOnce(endpoint: Endpoint, sock?: NodeJS.ReadableStream): Promise<Client> {
    const target = describe(endpoint);
    let keys: ReturnType<typeof hostKeyPolicy>;
    try {
        // A pinned key is checked whatever insecureSkipHostKeyCheck says (a fleet default left on).
        keys = hostKeyPolicy(endpoint);
    } catch (e) {
        // An unreadable known_hosts file or a pinned key that does not decode.
        return refusedBeforeConnecting(target, e, endpoint.hostKey && !/^knownHostsPath /.test((e as Error).message) ? "hostKey" : "knownHostsPath", sock);
    }
    const algorithms = keys.trusted ? hostKeyAlgorithms(keys.trusted) : [];
    let refusal: string | undefined;
    const config: ConnectConfig = {
        host: endpoint.host,
        port: endpoint.port,
        username: endpoint.user,
        privateKey: endpoint.privateKey,
        passphrase: endpoint.privateKeyPassword,
        password: endpoint.password,
        agent: endpoint.agentSocketPath,
        readyTimeout: endpoint.perDialTimeout * 1000,
        keepaliveInterval: 15000,
        sock: sock as ConnectConfig["sock"],
        ...(algorithms.length > 0 ? { algorithms: { serverHostKey: algorithms as NonNullable<ConnectConfig["algorithms"]>["serverHostKey"] } } : {}),
        hostVerifier: (presented: Buffer) => {
            const verdict = verifyHostKey(presented, keys.trusted, keys.revoked, target);
            if (!verdict.ok) {
                refusal = verdict.reason;
            }
            return verdict.ok;
        },
    };
    const client = new Client();
    const connected = new Promise<Client>((resolve, reject) => {
        client
            .once("ready", () => resolve(client))
            .once("error", (err: Error & { level?: string }) => {
                client.end();
                // A refused host key or login fails the same way on every try: retrying only adds failed logins (fail2ban bans at 5).
                reject(new HostConnectError(refusal ?? `${target}: ${err.message}`, refusal !== undefined ? "hostKey" : err.level === "client-authentication" ? "user" : undefined));
            });
    });
    try {
        client.connect(config);
    } catch (e) {
        // A private key that cannot be read: encrypted without its passphrase, a wrong one, not a key.
        return refusedBeforeConnecting(target, e, /passphrase/.test((e as Error).message) ? "privateKeyPassword" : "privateKey", sock);
    }
    return connected;
}

/** A bastion its own tries could not reach: the target behind it fails with that, without trying again. */
class BastionUnreachableError extends Error {}

async function connectWithRetries(endpoint: Endpoint, sock?: () => Promise<NodeJS.ReadableStream>): Promise<Client> {
    let lastError: Error = new Error(`${describe(endpoint)}: no connection attempt made`);
    for (let attempt = 1; attempt <= endpoint.dialErrorLimit; attempt++) {
        try {
            return await connectOnce(endpoint, sock ? await sock() : undefined);
        } catch (e) {
            lastError = e as Error;
            if (isRefusedConnection(e) || e instanceof BastionUnreachableError) {
                break;
            }
            if (attempt < endpoint.dialErrorLimit) {
                await new Promise((r) => setTimeout(r, 500 * attempt));
            }
        }
    }
    throw lastError;
}

/**
 * A channel through the bastion to the target's SSH port, within the target's perDialTimeout: a
 * bastion whose own connect to a host that drops packets takes minutes would otherwise hold the
 * run that long, and one that never answers, for ever.
 */
export function tunnel(bastion: Pick<Client, "forwardOut">, proxy: Endpoint, connection: Connection): Promise<NodeJS.ReadableStream> {
    return new Promise((resolve, reject) => {
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            reject(new Error(`${describe(proxy)}: no tunnel to ${describe(connection)} within ${connection.perDialTimeout} s`));
        }, connection.perDialTimeout * 1000);
        const failed = (err: Error) => reject(new Error(`${describe(proxy)}: cannot tunnel to ${describe(connection)}: ${err.message}`));
        try {
            bastion.forwardOut("127.0.0.1", 0, connection.host, connection.port, (err, stream) => {
                clearTimeout(timer);
                if (timedOut) {
                    stream?.destroy();
                } else if (err) {
                    failed(err);
                } else {
                    resolve(stream);
                }
            });
        } catch (e) {
            // A bastion connection already gone ("Not connected") throws at once.
            clearTimeout(timer);
            failed(e as Error);
        }
    });
}

async function connect(connection: Connection): Promise<Client> {
    const proxy = connection.proxy;
    if (!proxy) {
        return connectWithRetries(connection);
    }
    // The bastion is pooled like any host: one connection for every target behind it (not one
    // login per target at once, which sshd's MaxStartups drops), closed with the others. Taken
    // again at each attempt: one that dropped meanwhile has left the pool, and the next is new.
    const bastion = () =>
        pooled(proxy as Connection).client.catch((e) => {
            // The bastion's dial made its own tries already: the target's are for its tunnel, not for more of them.
            throw isRefusedConnection(e) ? new HostConnectError(e.message, `proxy.${e.setting}`) : new BastionUnreachableError((e as Error).message);
        });
    return connectWithRetries(connection, async () => tunnel(await bastion(), proxy, connection));
}

/** A counting semaphore: at most `limit` channels open at once on one connection. */
class Slots {
    private free: number;
    private readonly waiting: (() => void)[] = [];
    constructor(limit: number) {
        this.free = limit;
    }
    async acquire(): Promise<void> {
        if (this.free > 0) {
            this.free--;
            return;
        }
        await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    release(): void {
        const next = this.waiting.shift();
        if (next) {
            next();
        } else {
            this.free++;
        }
    }
}

interface PooledConnection {
    client: Promise<Client>;
    slots: Slots;
}

/**
 * One SSH connection per host for the life of the provider process (one engine run), shared by
 * every resource that targets the host.
 */
const pool = new Map<string, PooledConnection>();

/**
 * Everything that decides the connection, credentials included, as a digest (the key lives in
 * memory only, but need not hold them): two resources reaching one host with different keys or
 * passwords must each log in with their own, not ride on whichever connected first.
 */
function poolKey(endpoint: Endpoint & { proxy?: Endpoint; commandTimeout?: number }): string {
    // The commands' time limit is each command's own, not the login's.
    const { privateKey, password, privateKeyPassword, proxy, commandTimeout: _limit, ...rest } = endpoint;
    const credentials = createHash("sha256").update(JSON.stringify([privateKey ?? null, password ?? null, privateKeyPassword ?? null])).digest("hex");
    return JSON.stringify({ ...rest, credentials, proxy: proxy && poolKey(proxy) });
}

function pooled(connection: Connection): PooledConnection {
    const key = poolKey(connection);
    let entry = pool.get(key);
    if (!entry) {
        const client = connect(connection);
        entry = { client, slots: new Slots(MAX_CHANNELS_PER_CONNECTION) };
        pool.set(key, entry);
        const forget = () => pool.get(key) === entry && pool.delete(key);
        client.then(
            (c) => {
                c.once("close", forget);
                // A connection lost later (a reset) errors, then closes: the next command connects again.
                c.on("error", forget);
                // The provider process must be free to exit while connections are idle.
                (c as unknown as { _sock?: { unref?: () => void } })._sock?.unref?.();
            },
            // A refused key or login stays refused for this run: every later phase fails at once, without another login.
            (e) => isRefusedConnection(e) || forget(),
        );
    }
    return entry;
}

export class SshTransport implements Transport {
    readonly target: string;
    readonly identity: string;

    constructor(private readonly connection: Connection) {
        this.target = describe(connection);
        this.identity = `${connection.user}${connection.sudo ? " (sudo)" : ""}@${hostIdentity(connection)}`;
    }

    async run(argv: readonly string[], stdin?: string, options?: RunOptions): Promise<CommandResult> {
        const limit = limitFor(this.connection.commandTimeout, options);
        const limited = underTimeLimit(argv, limit.seconds);
        const request = sshCommand(this.target, this.connection.sudo ? ["sudo", "-n", "--", ...limited] : limited, stdin);
        const entry = pooled(this.connection);
        const client = await entry.client;
        await entry.slots.acquire();
        try {
            const started = Date.now();
            const result = await new Promise<CommandResult>((resolve, reject) => {
                client.exec(request.command, (err, stream) => {
                    if (err) {
                        reject(new Error(`${this.target}: cannot start ${argv[0]}: ${err.message}`));
                        return;
                    }
                    const backstop = setTimeout(() => {
                        reject(new CommandTimeoutError(this.target, argv, limit, true));
                        stream.close();
                    }, (limit.seconds + CONTROLLER_GRACE_SECONDS) * 1000);
                    const stdout: Buffer[] = [];
                    const stderr: Buffer[] = [];
                    stream.on("data", (d: Buffer) => stdout.push(d));
                    stream.stderr.on("data", (d: Buffer) => stderr.push(d));
                    stream.end(request.stdin);
                    stream.on("close", (code: number | null, signal?: string) => {
                        clearTimeout(backstop);
                        resolve({
                            code: code ?? (signal ? signalStatus(signal) : 255),
                            stdout: Buffer.concat(stdout).toString("utf8"),
                            stderr: Buffer.concat(stderr).toString("utf8"),
                        });
                    });
                });
            });
            if (stoppedAtLimit(result, Date.now() - started, limit.seconds)) {
                throw new CommandTimeoutError(this.target, argv, limit, false);
            }
            return result;
        } finally {
            entry.slots.release();
        }
    }
}

/** Ends every pooled connection: for a command-line process, which must exit when it is done. */
export async function closeAllConnections(): Promise<void> {
    const entries = [...pool.values()];
    pool.clear();
    await Promise.all(entries.map((e) => e.client.then((c) => c.end(), () => undefined)));
}
