import { FleetConfig, FleetConfigInput, Selector, explicitWaveHosts, matches } from "./inventory";
import { stackOwnName } from "./stack-names";

type Hosts = FleetConfigInput["hosts"];

/** What Pulumi accepts as a stack name. */
const STACK_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/**
 * The fleet split by one label: stack `<stack>-<value>` per value, hosts in inventory order.
 * Every host must carry the label, and every value must make a stack name.
 */
export function shardsBy(hosts: Hosts, by: string, stack: string): Map<string, Hosts> {
    const shards = new Map<string, Hosts>();
    for (const host of hosts) {
        const value = host.labels?.[by];
        if (!value) {
            throw new Error(`${host.name} has no label ${by}: every host must belong to a shard`);
        }
        const name = `${stack}-${value}`;
        // An org-qualified `org/project/stack` keeps its prefix; the stack's own name is what Pulumi limits.
        if (!STACK_NAME.test(`${stackOwnName(stack)}-${value}`)) {
            throw new Error(`${host.name}: label ${by}=${JSON.stringify(value)} cannot name a stack (${JSON.stringify(name)}): stack names are at most 100 letters, digits, '.', '_' or '-'`);
        }
        shards.set(name, [...(shards.get(name) ?? []), host]);
    }
    return shards;
}

/** Stacks named like shards of `stack` that the current split does not make: an earlier split's, if `shard` made them. */
export function staleShards(existing: readonly string[], stack: string, current: Iterable<string>): string[] {
    const now = new Set([...current].map(stackOwnName));
    return existing.filter((name) => stackOwnName(name).startsWith(`${stackOwnName(stack)}-`) && !now.has(stackOwnName(name)));
}

/**
 * A shard's stack config: the fleet's, with the shard's hosts and only the assignments that
 * select one of them and the waves that take one of them (the others are other shards', and a
 * stack refuses a selector that matches none of its hosts, or a wave left with none an earlier
 * one does not take). A shard no wave takes a host of has a canary of its own, then the rest:
 * shards run side by side, so no other shard's canary holds it back.
 */
export function shardConfig(fleet: FleetConfig, declared: FleetConfigInput, hosts: Hosts): FleetConfigInput {
    const names = new Set(hosts.map((h) => h.name));
    const shardHosts = fleet.hosts.filter((h) => names.has(h.name));
    const selectsOne = (selector: Selector) => shardHosts.some((h) => matches(selector, h));
    const { waves, ...rollout } = fleet.rollout;
    const taking = waves && explicitWaveHosts(shardHosts, waves);
    const shardWaves = waves?.filter((_, i) => taking![i].length > 0);
    return {
        ...declared,
        hosts,
        assignments: declared.assignments.filter((_, i) => selectsOne(fleet.assignments[i].select)),
        rollout: !shardWaves ? fleet.rollout : shardWaves.length > 0 ? { ...rollout, waves: shardWaves } : { ...rollout, serial: [1, "100%"] },
    };
}

/** Shards holding no host of the fleet's first explicit wave (its canary): their rollouts, run beside the canary's shard, do not wait for it. */
export function shardsWithoutFirstWave(fleet: FleetConfig, shards: ReadonlyMap<string, Hosts>): string[] {
    const waves = fleet.rollout.waves;
    if (!waves) {
        return [];
    }
    const first = new Set(explicitWaveHosts(fleet.hosts, waves)[0].map((h) => h.name));
    return [...shards].filter(([, hosts]) => !hosts.some((h) => first.has(h.name))).map(([name]) => name);
}
