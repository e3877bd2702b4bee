// What the high-connection-rate profile would change on the machine running Pulumi. No
// connection: the local machine. `pulumi preview` works as any user and changes nothing;
// `pulumi up` writes /proc/sys and so needs root.
import { readFileSync } from "fs";
import * as pulumi from "@pulumi/pulumi";
import { HighConnectionRateProfile, SettingValue, highConnectionRatePlan, sysctlValues } from "pulumi-linux-tuning";

const config = new pulumi.Config();
const facts = { connectionsPerSecond: config.getNumber("connectionsPerSecond") ?? 50000 };

// A new resource only shows "+ create" in a preview, so the per-key answer is computed here,
// read-only, from /proc/sys (readable by every user), with the rule SysctlSet applies: plain
// values exact (whitespace aside), bounds element by element.
const words = (v: SettingValue | string) => (Array.isArray(v) ? v.join(" ") : String(v)).trim().split(/\s+/);
function met(desired: SettingValue, live: string): boolean {
    if (typeof desired !== "object" || Array.isArray(desired)) {
        return words(desired).join(" ") === words(live).join(" ");
    }
    const atLeast = "atLeast" in desired;
    const limits = words(atLeast ? desired.atLeast : desired.atMost).map(Number);
    const have = words(live).map(Number);
    return have.length === limits.length && have.every((n, i) => (atLeast ? n >= limits[i] : n <= limits[i]));
}
const describe = (v: SettingValue) =>
    typeof v === "object" && !Array.isArray(v) ? ("atLeast" in v ? `>= ${words(v.atLeast).join(" ")}` : `<= ${words(v.atMost).join(" ")}`) : words(v).join(" ");
function readLive(key: string): string {
    try {
        return words(readFileSync(`/proc/sys/${key.replace(/\./g, "/")}`, "utf8")).join(" ");
    } catch {
        return "absent"; // the profile skips keys this machine lacks
    }
}

const planned = sysctlValues(highConnectionRatePlan(facts));
const live = Object.fromEntries(Object.keys(planned).map((key) => [key, readLive(key)]));
const changes = Object.entries(planned).filter(([key, value]) => live[key] !== "absent" && !met(value, live[key]));
for (const [key, value] of changes) {
    pulumi.log.info(`would change ${key}: ${live[key]} -> ${describe(value)}`);
}

/** Keys `pulumi up` would write, with this machine's value now and the profile's. */
export const wouldChange = Object.fromEntries(changes.map(([key, value]) => [key, { live: live[key], planned: describe(value) }]));
/** Keys this machine already has as the profile wants (absent keys, which the profile skips, in neither list). */
export const alreadyMet = Object.keys(planned).filter((key) => live[key] !== "absent" && !(key in wouldChange));

if (!pulumi.runtime.isDryRun() && process.getuid?.() !== 0) {
    throw new pulumi.RunError(
        `pulumi up writes this machine's /proc/sys, which needs root; you are uid ${process.getuid?.()}. ` +
            'Run `pulumi preview` as any user to see what would change, and `pulumi up` as root: sudo -E "$(command -v pulumi)" up',
    );
}

// persist: false: nothing goes to /etc/sysctl.d, so a reboot also undoes a trial `pulumi up`.
new HighConnectionRateProfile("local", { ...facts, persist: false });
