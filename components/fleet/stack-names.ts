/** A stack's own name, without the `org/` or `org/project/` that `pulumi stack ls` leaves out for the default org. */
export const stackOwnName = (name: string): string => name.slice(name.lastIndexOf("/") + 1);

/** Whether two names, each written with its org or without, are one stack. */
export const sameStack = (a: string | undefined, b: string): boolean => a !== undefined && stackOwnName(a) === stackOwnName(b);

/** Whether a stack of this name is among those listed, written with its org or without. */
export const listedStack = (existing: readonly string[], name: string): boolean => existing.some((e) => sameStack(e, name));

/** The file Pulumi keeps a stack's config in: named by the stack's own name, whatever org is written before it. */
export const stackConfigFile = (name: string): string => `Pulumi.${stackOwnName(name)}.yaml`;
