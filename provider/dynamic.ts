import * as pulumi from "@pulumi/pulumi";

/**
 * The dynamic provider as stored in state: every method loads `implementation` (a module under
 * bin/provider/) from the installed package at call time. State never holds a copy of the
 * code: refresh and destroy run the stored provider (pulumi/pulumi#6490), and a package
 * upgrade takes effect on the next run.
 */
export function delegatingProvider(implementation: string): pulumi.dynamic.ResourceProvider {
    const load = () => require(`pulumi-linux-tuning/bin/provider/${implementation}`);
    return {
        check: (olds, news) => load().check(olds, news),
        diff: (id, olds, news) => load().diff(id, olds, news),
        create: (news) => load().create(news),
        read: (id, props) => load().read(id, props),
        update: (id, olds, news) => load().update(id, olds, news),
        delete: (id, props) => load().remove(id, props),
    };
}
