// What the high-connection-rate profile would change on the machine running Pulumi. No
// connection: the local machine. `pulumi preview` works as any user and changes nothing;
// `pulumi up` writes /proc/sys, and as a non-root user fails saying so before writing anything.
import { readFileSync } from "fs";
import * as pulumi from "@pulumi/pulumi";
import { HighConnectionRateProfile, describeDesired, highConnectionRatePlan, normalise, satisfies, sysctlValues } from "pulumi-linux-tuning";

const config = new pulumi.Config();
const facts = { connectionsPerSecond: config.getNumber("connectionsPerSecond") ?? 50000 };

// A new resource only shows "+ create" in a preview, so the per-key answer is computed here,
// read-only, from /proc/sys (readable by every user), with SysctlSet's own comparison.
function readLive(key: string): string | undefined {
    try {
        return normalise(readFileSync(`/proc/sys/${key.replace(/\./g, "/")}`, "utf8"));
    } catch {
        return undefined; // the profile skips keys this machine lacks
    }
}

const planned = Object.entries(sysctlValues(highConnectionRatePlan(facts))).map(([key, value]) => ({ key, value, live: readLive(key) }));
const changes = planned.filter((p) => p.live !== undefined && !satisfies(p.value, p.live));
for (const { key, value, live } of changes) {
    pulumi.log.info(`would change ${key}: ${live} -> ${describeDesired(value)}`);
}

/** Keys `pulumi up` would write, with this machine's value now and the profile's. */
export const wouldChange = Object.fromEntries(changes.map(({ key, value, live }) => [key, { live, planned: describeDesired(value) }]));
/** Keys this machine already has as the profile wants (absent keys, which the profile skips, in neither list). */
export const alreadyMet = planned.filter((p) => p.live !== undefined && !(p.key in wouldChange)).map((p) => p.key);

// persist: false: nothing goes to /etc/sysctl.d, so a reboot also undoes a trial `pulumi up`.
new HighConnectionRateProfile("local", { ...facts, persist: false });
