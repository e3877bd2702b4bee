import type * as dynamic from "@pulumi/pulumi/dynamic";
import { parseChecked, withoutEngineKeys } from "./check";
import { Connection, hostIdentity, optionalConnectionSchema } from "./transport/connection";
import { isRefusedConnection, transportFor } from "./transport";
import { containsUnknown } from "./unknowns";
import { ledgerDiffers } from "./host/ledger";

/** The declared inputs out of a property bag (state outputs carry them alongside computed values). */
export function pickInputs(fields: readonly string[], props: Record<string, unknown>): Record<string, unknown> {
    return Object.fromEntries(fields.filter((f) => props[f] !== undefined).map((f) => [f, props[f]]));
}

export interface DiffSpec<I extends { connection?: Connection }> {
    olds: Record<string, unknown>;
    /** New inputs, engine keys removed. */
    news: Record<string, unknown>;
    parse: (props: Record<string, unknown>) => I;
    /** Inputs besides the connection that name a different thing to tune (an interface). */
    identity?: (keyof I & string)[];
    /** Inputs whose change means an update. */
    fields: (keyof I & string)[];
    /** Drift already recorded in state by a refresh (or a declared value the state does not meet); a ledger a refresh found differing from state counts too, for every kind. */
    recordedDrift: (inputs: I) => boolean;
    /** Reads the host; returns drift descriptions (empty when the host is as declared). */
    probe: (inputs: I) => Promise<string[]>;
}

/** A persistence file (sysctl.d, udev rule, unit, tmpfiles.d) deleted or edited behind our back, or one an earlier version wrote differently, is drift; so is a boot unit disabled. */
export const persistenceDrifted = (status: unknown): boolean => status === "missing" || status === "edited" || status === "outdated" || status === "disabled";

/**
 * A different host, port or proxy replaces the resource; the old one is deleted first. A new route
 * to the same machine (an IP becoming a name, a bastion added) would otherwise create the new
 * resource over the tuned host — recording tuned values as originals — and then let the old one's
 * delete undo it.
 */
export const REPLACE_HOST: dynamic.DiffResult = { changes: true, replaces: ["connection"], deleteBeforeReplace: true };

/** The fields of a connection that say which machine it reaches. */
function machineOf(connection: unknown): unknown {
    if (!connection || typeof connection !== "object") {
        return connection;
    }
    const { host, port, proxy } = connection as Record<string, unknown>;
    const via = proxy && typeof proxy === "object" ? { host: (proxy as Record<string, unknown>).host, port: (proxy as Record<string, unknown>).port } : proxy;
    return { host, port, ...(via !== undefined ? { proxy: via } : {}) };
}

/**
 * How a connection logs in: all of it but commandTimeout, a limit the controller keeps, which
 * changes nothing on the host and reaches state with the next update.
 */
function loginOf(connection: Connection | undefined): Omit<Connection, "commandTimeout"> | undefined {
    if (!connection) {
        return undefined;
    }
    const { commandTimeout: _limit, ...login } = connection;
    return login;
}

/**
 * For a connection with a value not known yet: a replace when it is which machine (host, port,
 * bastion) that is unknown or changed, else an update (a key another resource makes). Undefined
 * when every value is known.
 */
export function connectionChange(olds: unknown, news: unknown): dynamic.DiffResult | undefined {
    if (!containsUnknown(news)) {
        return undefined;
    }
    const machine = machineOf(news);
    if (containsUnknown(machine)) {
        return REPLACE_HOST;
    }
    const same = hostIdentity(parseChecked(optionalConnectionSchema, machineOf(olds))) === hostIdentity(parseChecked(optionalConnectionSchema, machine));
    return same ? { changes: true } : REPLACE_HOST;
}

/**
 * New inputs under the name the resource's host files (and their headers) were written under. A
 * rename through aliases is a refactoring of the program, not a change on the host: under the new
 * name an update would write a second persistence file and leave the old one setting the values at
 * every boot, and outliving destroy.
 */
export function keepingName(olds: Record<string, unknown>, news: Record<string, unknown>): Record<string, unknown> {
    return typeof olds.resourceName === "string" ? { ...news, resourceName: olds.resourceName } : news;
}

/**
 * Every resource's diff: a different host (or interface) replaces; changed inputs or drift seen
 * by a refresh update; otherwise one live read, so plain `pulumi preview` flags a host that
 * drifted and prints how (the provider's output shows as a diagnostic).
 */
export async function diffResource<I extends { connection?: Connection }>(spec: DiffSpec<I>): Promise<dynamic.DiffResult> {
    const unknownLogin = connectionChange(spec.olds.connection, spec.news.connection);
    if (unknownLogin === REPLACE_HOST) {
        return REPLACE_HOST;
    }
    // The same machine with a login value not known yet (a key another resource makes) goes on to
    // the interface: one changed beside it replaces, at preview as at up.
    if (unknownLogin === undefined && hostIdentity(parseChecked(optionalConnectionSchema, spec.olds.connection)) !== hostIdentity(parseChecked(optionalConnectionSchema, spec.news.connection))) {
        return REPLACE_HOST;
    }
    if (containsUnknown(spec.news)) {
        // Not parsed: the engine's placeholder is no value. What is known decides replace or update.
        const unsure = (spec.identity ?? []).filter((f) => containsUnknown(spec.news[f]) || JSON.stringify(spec.news[f]) !== JSON.stringify(spec.olds[f]));
        return unsure.length > 0 ? { changes: true, replaces: unsure, deleteBeforeReplace: true } : { changes: true };
    }
    const inputs = spec.parse(keepingName(spec.olds, spec.news));
    const old = spec.parse(spec.olds);
    const renamed = (spec.identity ?? []).filter((f) => JSON.stringify(old[f]) !== JSON.stringify(inputs[f]));
    if (renamed.length > 0) {
        return { changes: true, replaces: renamed, deleteBeforeReplace: true };
    }
    // New credentials (a rotated key, another user, sudo) reach state only through an update; the
    // engine keeps the old outputs otherwise, and a later refresh or destroy would log in with them.
    const [oldLogin, newLogin] = [spec.olds.connection, spec.news.connection].map((c) => loginOf(parseChecked(optionalConnectionSchema, c)));
    const newCredentials = JSON.stringify(oldLogin) !== JSON.stringify(newLogin);
    if (newCredentials || spec.recordedDrift(inputs) || ledgerDiffers(spec.olds.ledgerStatus) || spec.fields.some((f) => JSON.stringify(old[f]) !== JSON.stringify(inputs[f]))) {
        return { changes: true };
    }
    try {
        const drift = await spec.probe(inputs);
        if (drift.length > 0) {
            console.log(`${transportFor(inputs.connection).target}: drift: ${drift.join("; ")}`);
            return { changes: true };
        }
    } catch (e) {
        if (isRefusedConnection(e)) {
            // The same at every try: the preview fails naming it, rather than "no changes" for a host nothing can reach.
            throw e;
        }
        console.log(`${transportFor(inputs.connection).target}: could not compare with live values: ${(e as Error).message}`);
    }
    return { changes: false };
}

/** A stable id: the host, then what on it (interface, resource name). */
export function resourceId(outs: { hostId: string }, ...parts: unknown[]): string {
    return [outs.hostId, ...parts.map(String)].join("#");
}

/**
 * State as the engine's protobuf Struct accepts it: `undefined` anywhere (an optional field left
 * out of a nested record) makes the whole response fail with "Unexpected struct type".
 */
export function plainState<T>(state: T): T {
    return JSON.parse(JSON.stringify(state)) as T;
}

/**
 * How many applies (create, updates) have written this resource: a dependent that must act after
 * every apply, a drift fix too, watches it (a profile's health gate). A refresh keeps it.
 */
export const APPLY_COUNT = "applyCount";

/**
 * create, update and read for a resource whose create is an update from nothing: create and
 * update run `apply` (with the previous record on update) and count the apply; all three return
 * plain state; the id names the host and `idFields` (interface, resource name).
 */
export function applyEntryPoints<R>(
    apply: (raw: Record<string, unknown>, previous?: R) => Promise<{ hostId: string }>,
    recordOf: (olds: Record<string, unknown>) => R,
    idFields: string[],
    refresh: (id: string, props: Record<string, unknown>) => Promise<dynamic.ReadResult>,
) {
    const counted = (outs: { hostId: string }, previous?: Record<string, unknown>) => plainState({ ...outs, [APPLY_COUNT]: Number(previous?.[APPLY_COUNT] ?? 0) + 1 });
    return {
        create: async (news: Record<string, unknown>): Promise<dynamic.CreateResult> => {
            const raw = withoutEngineKeys(news);
            const outs = counted(await apply(raw));
            return { id: resourceId(outs, ...idFields.map((f) => raw[f])), outs };
        },
        update: async (_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.UpdateResult> => ({
            outs: counted(await apply(keepingName(olds, withoutEngineKeys(news)), recordOf(olds)), olds),
        }),
        read: async (id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> => {
            const result = await refresh(id, props);
            return { ...result, props: plainState({ ...result.props, [APPLY_COUNT]: props[APPLY_COUNT] }) };
        },
    };
}
