import { FleetConfig, FleetConfigInput, Selector, explicitWaveHosts, matches } from "./inventory";
import { stackOwnName } from "./stack-names";
import { DEFAULT_SERIAL, serialSizes } from "./waves";

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

/**
 * What `shard` tells the user about canaries: shards run side by side, so a shard holding no host
 * of the fleet's first explicit wave does not wait for it, and `serial`, taken of each shard's own
 * hosts, starts more hosts at once than the whole fleet's first wave would.
 */
export function shardCanaryNote(fleet: FleetConfig, shards: ReadonlyMap<string, Hosts>): string | undefined {
    const { waves, serial } = fleet.rollout;
    if (waves) {
        const first = new Set(explicitWaveHosts(fleet.hosts, waves)[0].map((h) => h.name));
        const ungated = [...shards].filter(([, hosts]) => !hosts.some((h) => first.has(h.name))).map(([name]) => name);
        return ungated.length === 0
            ? undefined
            : `no host of the fleet's first wave is in ${ungated.join(", ")}: run side by side with the shard that has one, they do not wait for it; ` +
                  "roll that shard out first, or give each shard a first wave of its own";
    }
    const steps = serial ?? DEFAULT_SERIAL;
    const firstWaves = [...shards.values()].reduce((sum, hosts) => sum + serialSizes(steps, hosts.length)[0], 0);
    const fleetFirstWave = serialSizes(steps, fleet.hosts.length)[0];
    return firstWaves <= fleetFirstWave
        ? undefined
        : `serial ${JSON.stringify(steps)} is taken of each shard's own hosts: the first waves of the ${shards.size} shards start ${firstWaves} hosts at once, ` +
              `where the whole fleet's would start ${fleetFirstWave}; for one canary, roll one shard out first`;
}
