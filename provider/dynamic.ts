import * as pulumi from "@pulumi/pulumi";

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
