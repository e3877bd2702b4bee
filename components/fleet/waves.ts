import type { FailureBudget } from "../../provider/wave-gate/schema";
import { FleetConfig, InventoryHost, explicitWaveHosts } from "./inventory";

export interface Wave {
    /** 1-based. */
    number: number;
    hosts: InventoryHost[];
    maxFailures: FailureBudget;
}

export const DEFAULT_SERIAL: (number | string)[] = [1, "100%"];

/**
 * Ansible's `serial`: each step is a count or a percentage of the whole fleet (rounded down, at
 * least 1), the last step repeating until every host has a wave.
 */
export function serialSizes(serial: readonly (number | string)[], total: number): number[] {
    const sizes: number[] = [];
    let placed = 0;
    for (let i = 0; placed < total; i++) {
        const step = serial[Math.min(i, serial.length - 1)];
        // As ansible's pct_to_int computes it, in floating point: 29% of 100 is 28 there, and so here.
        const size = typeof step === "number" ? step : Math.floor((Number(step.slice(0, -1)) / 100) * total) || 1;
        const taken = Math.min(size, total - placed);
        sizes.push(taken);
        placed += taken;
    }
    return sizes;
}

/** The rollout's waves, in order, in inventory order within each. */
export function planWaves(config: FleetConfig): Wave[] {
    const { hosts, rollout } = config;
    if (rollout.waves) {
        const specs = rollout.waves;
        const waves: Wave[] = explicitWaveHosts(hosts, specs)
            .map((members, i) => ({ members, maxFailures: specs[i].maxFailures ?? rollout.maxFailures }))
            .filter(({ members }) => members.length > 0)
            .map(({ members, maxFailures }, i) => ({ number: i + 1, hosts: members, maxFailures }));
        const placed = new Set(waves.flatMap((w) => w.hosts.map((h) => h.name)));
        const rest = hosts.filter((h) => !placed.has(h.name));
        if (rest.length > 0) {
            waves.push({ number: waves.length + 1, hosts: rest, maxFailures: rollout.maxFailures });
        }
        return waves;
    }
    let start = 0;
    return serialSizes(rollout.serial ?? DEFAULT_SERIAL, hosts.length).map((size, i) => {
        const wave = { number: i + 1, hosts: hosts.slice(start, start + size), maxFailures: rollout.maxFailures };
        start += size;
        return wave;
    });
}
