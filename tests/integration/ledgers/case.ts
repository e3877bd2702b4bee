import type * as pulumi from "@pulumi/pulumi";
import type { Lab, LabHost } from "../lab";

/**
 * One resource kind in the host-ledger suite (resource-ledgers.test.ts): how to declare it on a
 * lab host, its handlers (to create it as a killed run would have), and everything it can touch
 * on the host, compared byte for byte before and after.
 */
export interface LedgerCase {
    /** The resource's class name, for test titles. */
    name: string;
    /** Its ledger directory under /var/lib/pulumi-linux-tuning. */
    kind: string;
    /** Its inputs on `host`; `variant` "b" differs in values, not in what it touches (a second owner). */
    args(lab: Lab, host: LabHost, variant: "a" | "b"): Record<string, unknown>;
    /** Inputs on `host` that touch only part of what variant "a" touches: an update to "a" adds items. */
    fewer(lab: Lab, host: LabHost): Record<string, unknown>;
    /** Declares the resource (in a Pulumi program). */
    declare(name: string, args: Record<string, unknown>): pulumi.CustomResource & { ledgerStatus: pulumi.Output<string | undefined> };
    /** The provider's create, as the dynamic provider calls it. */
    create(news: Record<string, unknown>): Promise<unknown>;
    /** Every value and file the resource can change on `host`, as one comparable text. */
    hostState(lab: Lab, host: LabHost): string;
    /** The lab host kind it needs ("server": emulated NIC, cpufreq, IRQs). */
    hardware?: "server" | "vm";
}
