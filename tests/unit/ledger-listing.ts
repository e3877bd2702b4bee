/** The lines a read program's ledger listing prints for a ledger file at `path` holding `text`. */
export function ledgerListing(path: string, text: string): string[] {
    return text.replace(/\n$/, "").split("\n").map((line) => `ledger-line\t${path}\t${line}`);
}
