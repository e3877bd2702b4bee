import { createHash } from "crypto";
import { canonicalKey, procPath } from "./keys";

/**
 * The host-side ledger: one small root-owned file per SysctlSet, written (atomically, under a
 * lock) in the same remote command as the values and before the first of them. It holds what
 * each key had before the resource first changed it, and who owns the key. A run killed after
 * the host changed but before state was saved leaves the ledger behind: the next create takes
 * the true originals from it instead of the already-tuned live values. It is also how a second
 * owner of a key — in this stack or another — is seen and refused.
 */
export const LEDGER_DIR = "/var/lib/pulumi-linux-tuning/sysctl";

export interface Ledger {
    owner: string;
    /** Original value by canonical key. */
    originals: Record<string, string>;
}

/** Who owns a SysctlSet: project/stack/resource name, as the program that declares it says. */
export function ledgerPath(owner: string): string {
    let name = owner.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^[.-]+/, "");
    if (name.length > 200) {
        name = `${name.slice(0, 150)}-${createHash("sha256").update(owner).digest("hex").slice(0, 16)}`;
    }
    return `${LEDGER_DIR}/${name || "sysctl"}.ledger`;
}

export function renderLedger(ledger: Ledger): string {
    const lines = [
        "# pulumi-linux-tuning: the values these keys had before the owner below first changed them.",
        "# Restored and removed by `pulumi destroy`; do not edit.",
        `owner\t${ledger.owner.replace(/[\t\r\n]/g, " ")}`,
        ...Object.entries(ledger.originals).map(([key, value]) => `key\t${procPath(key)}\t${value}`),
    ];
    return lines.join("\n") + "\n";
}

/** `ledger\t<file>\t<line>` lines of the read program, by file. */
export function parseLedgerLines(lines: readonly string[][]): Map<string, Ledger> {
    const ledgers = new Map<string, Ledger>();
    for (const [file, kind, ...rest] of lines) {
        const ledger = ledgers.get(file) ?? { owner: "", originals: {} };
        if (kind === "owner") {
            ledger.owner = rest.join("\t");
        } else if (kind === "key" && rest.length >= 2) {
            ledger.originals[canonicalKey(rest[0])] = rest.slice(1).join("\t");
        }
        ledgers.set(file, ledger);
    }
    return ledgers;
}

/** Keys another ledger on the host holds, with its owner. */
export function foreignOwners(ledgers: Map<string, Ledger>, ownPath: string, keys: readonly string[]): Map<string, Ledger> {
    const owners = new Map<string, Ledger>();
    for (const [file, ledger] of ledgers) {
        if (file === ownPath) {
            continue;
        }
        for (const key of keys) {
            if (key in ledger.originals) {
                owners.set(key, ledger);
            }
        }
    }
    return owners;
}

/**
 * A key declared by two SysctlSets of one engine run on one host: seen as their checks run (both
 * are new, so neither host ledger exists yet). Module state lives for the provider process.
 */
const declared = new Map<string, string>();

export function claimInRun(hostId: string, key: string, owner: string): string | undefined {
    const id = `${hostId}\0${key}`;
    const holder = declared.get(id);
    if (holder !== undefined && holder !== owner) {
        return holder;
    }
    declared.set(id, owner);
    return undefined;
}
