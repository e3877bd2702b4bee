import { bytesOf, fileFromBase64 } from "../host/files";
import { LEDGER_ROOT, ledgerFileIn } from "../host/ledger";
import { ABSENT, PathContent, fileOf, linkTo } from "../host/restore";
import { canonicalKey, procPath } from "./keys";

/**
 * The host-side ledger: one small root-owned file per SysctlSet, written (atomically, under a
 * lock) in the same remote command as the values and before the first of them. It holds what
 * each key had before the resource first changed it, and who owns the key. A run killed after
 * the host changed but before state was saved leaves the ledger behind: the next create takes
 * the true originals from it instead of the already-tuned live values. It is also how a second
 * owner of a key — in this stack or another — is seen and refused. It also holds what the
 * persistence file's path held before the resource first wrote it (`file` lines: absent, its
 * bytes, or a link), and the directories the apply made for it (`created` lines, appended by the
 * apply program as it makes them), so a create after a killed run still puts them back.
 */
export const LEDGER_KIND = "sysctl";
export const LEDGER_DIR = `${LEDGER_ROOT}/${LEDGER_KIND}`;

export interface Ledger {
    owner: string;
    /** Original value by canonical key. */
    originals: Record<string, string>;
    /** What each persistence file path held before the owner first wrote it. */
    files?: Record<string, PathContent>;
    /** Directories the owner's applies created. */
    createdDirs?: string[];
}

/** Who owns a SysctlSet: project/stack/resource name, as the program that declares it says. */
export function ledgerPath(owner: string): string {
    return ledgerFileIn(LEDGER_DIR, owner, LEDGER_KIND);
}

export function renderLedger(ledger: Ledger): string {
    const lines = [
        "# pulumi-linux-tuning: the values these keys had before the owner below first changed them.",
        "# Restored and removed by `pulumi destroy`; do not edit.",
        `owner\t${ledger.owner.replace(/[\t\r\n]/g, " ")}`,
        ...Object.entries(ledger.originals).map(([key, value]) => `key\t${procPath(key)}\t${value}`),
        ...Object.entries(ledger.files ?? {}).map(([path, content]) => `file\t${path}\t${fileLine(content)}`),
        ...(ledger.createdDirs ?? []).map((dir) => `created\t${dir}`),
    ];
    return lines.join("\n") + "\n";
}

/** A `file` line's content: `absent`, `bytes<TAB>BASE64`, or `link<TAB>BASE64 of the target`. */
function fileLine(content: PathContent): string {
    if (content.kind === "file") {
        return `bytes\t${bytesOf(content).toString("base64")}`;
    }
    return content.kind === "link" ? `link\t${Buffer.from(content.target).toString("base64")}` : "absent";
}

function parseFileLine([kind, data = ""]: string[]): PathContent | undefined {
    if (kind === "bytes") {
        return fileOf(fileFromBase64(data));
    }
    return kind === "link" ? linkTo(Buffer.from(data, "base64").toString("utf8")) : kind === "absent" ? ABSENT : undefined;
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
        } else if (kind === "file" && rest.length >= 2) {
            const content = parseFileLine(rest.slice(1));
            if (content) {
                ledger.files = { ...ledger.files, [rest[0]]: content };
            }
        } else if (kind === "created" && rest[0]) {
            ledger.createdDirs = [...new Set([...(ledger.createdDirs ?? []), rest[0]])];
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
