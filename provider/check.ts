import { z } from "zod";
import { isRefusedConnection } from "./transport/transport";
import { containsUnknown, unknownAlong } from "./unknowns";

export interface CheckFailure {
    property: string;
    reason: string;
}

/** Pulumi property path syntax: `settings["net.core.somaxconn"]`, `connection.port`. */
export function propertyPath(path: readonly PropertyKey[]): string {
    let out = "";
    for (const part of path) {
        if (typeof part === "number") {
            out += `[${part}]`;
        } else if (typeof part === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) {
            out += out ? `.${part}` : part;
        } else {
            out += `[${JSON.stringify(String(part))}]`;
        }
    }
    return out;
}

/**
 * Validation failures as Pulumi check failures naming the property. A value computed by another
 * resource (unknown during preview) is validated once it is known.
 */
export function checkFailures(schema: z.ZodType, inputs: unknown): CheckFailure[] {
    const parsed = schema.safeParse(inputs);
    if (parsed.success) {
        return [];
    }
    return parsed.error.issues
        .filter((issue) => !unknownAlong(inputs, issue.path))
        .map((issue) => ({ property: propertyPath(issue.path) || "(inputs)", reason: issue.message }));
}

/** Parses inputs that passed check; a failure here means a value that was unknown at check time is bad. */
export function parseChecked<S extends z.ZodType>(schema: S, inputs: unknown): z.infer<S> {
    const parsed = schema.safeParse(inputs);
    if (!parsed.success) {
        const detail = parsed.error.issues.map((i) => `${propertyPath(i.path)}: ${i.message}`).join("; ");
        throw new Error(`invalid inputs: ${detail}`);
    }
    return parsed.data;
}

/** Removes the keys the dynamic-provider machinery adds to every property bag. */
export function withoutEngineKeys(props: Record<string, unknown>): Record<string, unknown> {
    const { __provider, ...rest } = props;
    void __provider;
    return rest;
}

/**
 * What a check makes of a host it could not read: a connection its own settings doom (a host key
 * that does not match, a refused login, a key it cannot use) fails on `connection`, since `up`
 * would fail the same way; a host that cannot be reached now is not judged: create/update will
 * connect and report.
 */
export function unreadHostFailures(error: unknown): CheckFailure[] {
    return isRefusedConnection(error) ? [{ property: `connection.${error.setting}`, reason: error.message }] : [];
}

/** A check's read-only look at the host: `judge` turns what `read` found into failures. */
export async function hostFailures<S>(read: () => Promise<S>, judge: (snapshot: S) => CheckFailure[]): Promise<CheckFailure[]> {
    let snapshot: S;
    try {
        snapshot = await read();
    } catch (e) {
        return unreadHostFailures(e);
    }
    return judge(snapshot);
}

/**
 * check for a resource that reads its host: the schema first; then, once every input except
 * `knownLater` (a linked resource's state, unknown in preview) is known, the host read-only,
 * so what the host cannot take fails in preview naming the property and the host.
 */
export async function checkAgainstHost<S extends z.ZodType, T>(
    schema: S,
    raw: Record<string, unknown>,
    read: (inputs: z.infer<S>) => Promise<T>,
    judge: (inputs: z.infer<S>, snapshot: T) => CheckFailure[],
    knownLater: readonly string[] = [],
): Promise<CheckFailure[]> {
    const failures = checkFailures(schema, raw);
    const needed = Object.fromEntries(Object.entries(raw).filter(([key]) => !knownLater.includes(key)));
    if (failures.length > 0 || containsUnknown(needed)) {
        return failures;
    }
    const inputs = parseChecked(schema, raw);
    return hostFailures(() => read(inputs), (snapshot) => judge(inputs, snapshot));
}

/** Linux NAME_MAX: a longer file name (one path component) fails with ENAMETOOLONG. */
export const NAME_MAX = 255;

/** The length in bytes of the longest file name in `path` when it is above NAME_MAX; undefined when all fit. */
export function overlongFileName(path: string): number | undefined {
    const longest = Math.max(...path.split("/").map((name) => Buffer.byteLength(name)));
    return longest > NAME_MAX ? longest : undefined;
}

/**
 * A refinement for a resource that persists into files named after itself (`filesOf` its name):
 * refuses, on resourceName, a name that makes one of them too long a file name, which preview
 * would pass and `up` would fail to write.
 */
export function persistFileNamesFit(filesOf: (resourceName: string) => readonly string[]) {
    return (inputs: { persist: boolean; resourceName: string }, ctx: z.RefinementCtx): void => {
        if (!inputs.persist) {
            return;
        }
        for (const file of filesOf(inputs.resourceName)) {
            const bytes = overlongFileName(file);
            if (bytes !== undefined) {
                const name = file.slice(file.lastIndexOf("/") + 1);
                ctx.addIssue({
                    code: "custom",
                    path: ["resourceName"],
                    message: `makes the file name ${name.slice(0, 32)}… ${bytes} characters long, above Linux's limit of ${NAME_MAX} (NAME_MAX): use a shorter resource name`,
                });
                return;
            }
        }
    };
}
