import { FileData, fileFromBase64 } from "../host/files";
import { HostLedger, parseLedgerListing, withLedgerListing } from "../host/ledger";
import { shProgram } from "../transport/argv";
import { RemoteCommandError, Transport } from "../transport/transport";

/**
 * Reads attributes and files in one command: content, and whether the attribute takes writes.
 * A sysfs attribute without a store method is 0444 and refuses opening for write (EACCES) even
 * for root, and a read-only /sys (a container) refuses every write: both are read-only here. A
 * preview as another user judges by the mode alone (writing needs root either way). A file reached
 * through a symlink (/sys/class/net/IF → /sys/devices/…) is reported with its real path too, so
 * ownership holds whichever way a path is spelt; a path that is itself a link (dangling too),
 * with the link's own target. Every ledger on the host follows.
 *
 * A drift check runs this on every host, for every CPU's attribute on a many-core one, so each
 * path costs one fork (its content's base64): the real path comes from a builtin `cd -P` (a
 * `readlink -f` only when the path itself is a link) and every file's mode from one `stat`.
 */
const READ_PROGRAM = withLedgerListing(`
u=$(id -u)
n=$#
for p do
  [ -L "$p" ] && printf 'symlink\t%s\t%s\n' "$p" "$(readlink "$p")"
  if [ ! -e "$p" ]; then printf 'absent\\t%s\\n' "$p"; continue; fi
  if [ -d "$p" ]; then printf 'dir\\t%s\\n' "$p"; continue; fi
  w=r; { [ "$u" -ne 0 ] || [ -w "$p" ]; } && w=w
  real=$p
  if [ -L "$p" ]; then real=$(readlink -f "$p")
  elif cd -P "\${p%/*}/" 2>/dev/null; then real=\${PWD%/}/\${p##*/}; fi
  if c=$(base64 -w0 < "$p" 2>/dev/null); then printf 'file\\t%s\\t%s\\t%s\\t%s\\n' "$p" "$w" "$c" "$real"; set -- "$@" "$p"
  else printf 'unreadable\\t%s\\t%s\\n' "$p" "$(cat "$p" 2>&1 >/dev/null | tr '\\t\\n' '  ')"; fi
done
shift $n
[ $# -gt 0 ] && stat -L -c '%a %n' -- "$@" 2>/dev/null | while read -r mode path; do printf 'mode\\t%s\\t%s\\n' "$mode" "$path"; done
exit 0
`);

export type PathState = { kind: "absent" } | { kind: "dir" } | { kind: "unreadable"; why: string } | ({ kind: "file"; writable: boolean; realPath?: string } & FileData);

/** What each requested path held. */
export type SysfsSnapshot = Map<string, PathState>;

export function parseSysfsSnapshot(stdout: string): SysfsSnapshot {
    const snapshot: SysfsSnapshot = new Map();
    const lines = stdout.split("\n").map((line) => line.split("\t"));
    // A file takes writes when its mode has a write bit and (for root) access(2) agrees.
    const modes = new Map(lines.filter(([kind]) => kind === "mode").map(([, mode, path]) => [path, parseInt(mode, 8)]));
    for (const [kind, path, a = "", b = "", real = ""] of lines) {
        if (kind === "absent" || kind === "dir") {
            snapshot.set(path, { kind });
        } else if (kind === "unreadable") {
            snapshot.set(path, { kind, why: a.trim() });
        } else if (kind === "file") {
            const file = fileFromBase64(b);
            const writable = a === "w" && ((modes.get(path) ?? 0) & 0o222) !== 0;
            snapshot.set(path, real && real !== path ? { kind, writable, ...file, realPath: real } : { kind, writable, ...file });
        }
    }
    return snapshot;
}

/** Each read path that is itself a symbolic link → the link's target, as stored. */
export function parseSymlinks(stdout: string): Map<string, string> {
    return new Map(
        stdout
            .split("\n")
            .map((line) => line.split("\t"))
            .filter(([kind]) => kind === "symlink")
            .map(([, path, target = ""]) => [path, target]),
    );
}

/** The paths' states, which of them are links, and every ledger on the host, in one command. */
export async function readSysfs(transport: Transport, paths: readonly string[]): Promise<{ snapshot: SysfsSnapshot; links: Map<string, string>; ledgers: Map<string, HostLedger> }> {
    const result = await transport.run(shProgram(READ_PROGRAM, "pulumi-tuning-sysfs-read", [...new Set(paths)]));
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "read", result);
    }
    return { snapshot: parseSysfsSnapshot(result.stdout), links: parseSymlinks(result.stdout), ledgers: parseLedgerListing(result.stdout) };
}

