import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { DEFAULT_COMMAND_TIMEOUT_SECONDS } from "./transport";

/**
 * How to reach a host. Field names follow @pulumi/command's `remote.ConnectionArgs` so a user
 * can pass the same object to both, plus `sudo` and the host-key options.
 */
export interface ConnectionArgs {
    host: pulumi.Input<string>;
    /** Default 22. */
    port?: pulumi.Input<number>;
    /** Default "root". */
    user?: pulumi.Input<string>;
    privateKey?: pulumi.Input<string>;
    privateKeyPassword?: pulumi.Input<string>;
    password?: pulumi.Input<string>;
    agentSocketPath?: pulumi.Input<string>;
    /** Expected host public key, as in known_hosts/authorized_keys: "ssh-ed25519 AAAA...". */
    hostKey?: pulumi.Input<string>;
    /** known_hosts file consulted when `hostKey` is not given. Default ~/.ssh/known_hosts. */
    knownHostsPath?: pulumi.Input<string>;
    /** Accept any host key. Off by default; only for throwaway hosts. */
    insecureSkipHostKeyCheck?: pulumi.Input<boolean>;
    /** Wrap every command in `sudo -n` (for non-root users with passwordless sudo). */
    sudo?: pulumi.Input<boolean>;
    /** Seconds to wait for each connection attempt. Default 15. */
    perDialTimeout?: pulumi.Input<number>;
    /** Connection attempts before giving up. Default 3. */
    dialErrorLimit?: pulumi.Input<number>;
    /**
     * Seconds any one command may run on the host before it is stopped there and the operation
     * fails naming the host. Default 300. A host that hangs then fails alone instead of holding
     * the whole run (and a fleet's wave) open.
     */
    commandTimeout?: pulumi.Input<number>;
    /** A bastion to tunnel through. */
    proxy?: pulumi.Input<ProxyConnectionArgs>;
}

export type ProxyConnectionArgs = Omit<ConnectionArgs, "proxy" | "sudo" | "commandTimeout">;

/** The plain values a provider works with. `local` means the machine running Pulumi. */
export type Connection = z.infer<typeof connectionSchema>;
export type ProxyConnection = z.infer<typeof proxySchema>;

const hostName = z
    .string()
    .min(1, "must not be empty")
    .max(253)
    .regex(/^[A-Za-z0-9_.:%-]+$/, "must be a host name or an IP address");
const noControlChars = z.string().refine((s) => !/[\0\r\n]/.test(s), "must not contain NUL or newlines");

const PUBLIC_KEY = /^\s*(ssh|ecdsa|sk)-[A-Za-z0-9@.-]+[ \t]+[A-Za-z0-9+/=]+([ \t].*)?$/;

const sshFields = {
    host: hostName,
    port: z.number().int().min(1).max(65535).default(22),
    user: z
        .string()
        .regex(/^[a-z_][a-z0-9_.-]*\$?$/i, "must be a valid user name")
        .default("root"),
    privateKey: z.string().optional(),
    privateKeyPassword: z.string().optional(),
    password: z.string().optional(),
    agentSocketPath: noControlChars.optional(),
    /** One public key, or several one per line (a host known by its Ed25519 and its RSA key). */
    hostKey: z
        .string()
        .refine((keys) => keys.split("\n").some((line) => line.trim()) && keys.split("\n").every((line) => !line.trim() || PUBLIC_KEY.test(line)), 'must look like "ssh-ed25519 AAAA...", one key per line')
        .optional(),
    knownHostsPath: noControlChars.optional(),
    insecureSkipHostKeyCheck: z.boolean().default(false),
    perDialTimeout: z.number().positive().max(600).default(15),
    dialErrorLimit: z.number().int().min(1).max(100).default(3),
};

const proxySchema = z.object(sshFields).strict();

export const connectionSchema = z
    .object({
        ...sshFields,
        sudo: z.boolean().default(false),
        commandTimeout: z.number().positive().max(86400).default(DEFAULT_COMMAND_TIMEOUT_SECONDS),
        proxy: proxySchema.optional(),
    })
    .strict();

/** `undefined` connection = the local machine. */
export const optionalConnectionSchema = connectionSchema.optional();

export const SECRET_CONNECTION_FIELDS = ["privateKey", "privateKeyPassword", "password"] as const;

/** Stable identity of the target: a change of it means a different host, so a replacement. */
export function hostIdentity(connection: Connection | undefined): string {
    if (!connection) {
        return "local";
    }
    const via = connection.proxy ? ` via ${connection.proxy.host}:${connection.proxy.port}` : "";
    return `${connection.host}:${connection.port}${via}`;
}

export function describeTarget(connection: Connection | undefined): string {
    return connection ? `${connection.user}@${connection.host}:${connection.port}` : "local";
}
