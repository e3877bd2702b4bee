import * as pulumi from "@pulumi/pulumi";
import { ConnectionArgs, SECRET_CONNECTION_FIELDS } from "./transport/connection";

const providers = new Map<string, pulumi.dynamic.ResourceProvider>();

/**
 * The dynamic provider as stored in state: every method loads `implementation` (a module under
 * bin/provider/) from the installed package at call time. State never holds a copy of the
 * code: refresh and destroy run the stored provider (pulumi/pulumi#6490), and a package
 * upgrade takes effect on the next run. One object per implementation: the SDK serializes a
 * provider once per object (about 14 ms of CPU each), so a fleet of 200 HostTunings pays once.
 */
export function delegatingProvider(implementation: string): pulumi.dynamic.ResourceProvider {
    const known = providers.get(implementation);
    if (known) {
        return known;
    }
    const load = () => require(`pulumi-linux-tuning/bin/provider/${implementation}`);
    const provider: pulumi.dynamic.ResourceProvider = {
        check: (olds, news) => load().check(olds, news),
        diff: (id, olds, news) => load().diff(id, olds, news),
        create: (news) => load().create(news),
        read: (id, props) => load().read(id, props),
        update: (id, olds, news) => load().update(id, olds, news),
        delete: (id, props) => load().remove(id, props),
    };
    providers.set(implementation, provider);
    return provider;
}

/**
 * Marks the secret fields of a connection as Pulumi secrets, so they are encrypted in state
 * even when the user passed plain strings. A plain object keeps its other fields visible (the
 * host shows in previews); a connection that is itself an Output can only be marked as a whole.
 */
export function secretConnection(
    connection: pulumi.Input<ConnectionArgs> | undefined,
): pulumi.Input<ConnectionArgs> | undefined {
    if (connection === undefined) {
        return undefined;
    }
    if (pulumi.Output.isInstance(connection) || connection instanceof Promise) {
        return pulumi.secret(connection);
    }
    const marked: Record<string, unknown> = { ...connection };
    for (const field of SECRET_CONNECTION_FIELDS) {
        if (connection[field] !== undefined) {
            marked[field] = pulumi.secret(connection[field]);
        }
    }
    if (connection.proxy !== undefined) {
        marked.proxy = secretConnection(connection.proxy as pulumi.Input<ConnectionArgs>);
    }
    return marked as unknown as ConnectionArgs;
}
