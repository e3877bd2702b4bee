import * as pulumi from "@pulumi/pulumi";
import { SECRET_CONNECTION_FIELDS } from "./transport/connection";

/**
 * The engine copies every input into its state and diffs it; a string of ~100,000 characters
 * makes it panic ("string exceeded max length") before a provider's check could refuse it. So
 * every resource refuses oversized plain inputs in its constructor, naming the property. These
 * limits are far above any tuning input; check applies each resource's own, smaller ones.
 * Values not known yet (Outputs, promises) are left to check.
 */
export const MAX_STRING_LENGTH = 8192;
export const MAX_ENTRIES = 4096;

const shortened = (s: string) => (s.length > 40 ? `${s.slice(0, 40)}…` : s);

function isPlainObject(value: unknown): value is Record<string, unknown> {
    if (typeof value !== "object" || value === null) {
        return false;
    }
    const proto = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
}

/** Each oversized string, key, object or array in `value`, by its property path. */
export function oversizedInputs(value: unknown, path: string): string[] {
    if (typeof value === "string") {
        return value.length > MAX_STRING_LENGTH ? [`${path}: ${value.length} characters; at most ${MAX_STRING_LENGTH}`] : [];
    }
    if (Array.isArray(value)) {
        if (value.length > MAX_ENTRIES) {
            return [`${path}: ${value.length} entries; at most ${MAX_ENTRIES}`];
        }
        return value.flatMap((item, i) => oversizedInputs(item, `${path}[${i}]`));
    }
    if (!isPlainObject(value)) {
        return [];
    }
    const keys = Object.keys(value);
    if (keys.length > MAX_ENTRIES) {
        return [`${path}: ${keys.length} entries; at most ${MAX_ENTRIES}`];
    }
    return keys.flatMap((key) => {
        const plainName = /^[A-Za-z_][A-Za-z0-9_]{0,39}$/.test(key);
        const property = plainName ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(shortened(key))}]`;
        if (key.length > MAX_STRING_LENGTH) {
            return [`${property}: the name is ${key.length} characters; at most ${MAX_STRING_LENGTH}`];
        }
        return oversizedInputs(value[key], property);
    });
}

/**
 * A connection as withinEngineLimits measures it: without the secret fields, which
 * secretConnection makes secrets and whose size is the key's own business (a long RSA key).
 */
function withoutSecrets(connection: unknown): unknown {
    if (!isPlainObject(connection)) {
        return connection;
    }
    const plain: Record<string, unknown> = Object.fromEntries(Object.entries(connection).filter(([field]) => !(SECRET_CONNECTION_FIELDS as readonly string[]).includes(field)));
    if (plain.proxy !== undefined) {
        plain.proxy = withoutSecrets(plain.proxy);
    }
    return plain;
}

/**
 * The inputs, once no plain value in them is too large for the engine; otherwise a RunError
 * naming the resource and each property (the connection's too, but for its secret fields).
 */
export function withinEngineLimits<T extends object>(type: string, name: string, inputs: T): T {
    const { connection, ...rest } = inputs as Record<string, unknown>;
    const problems = oversizedInputs({ connection: withoutSecrets(connection), ...rest }, "");
    if (problems.length > 0) {
        throw new pulumi.RunError(`${type} "${name}": ${problems.slice(0, 5).join("; ")}`);
    }
    return inputs;
}
