import { cpuListProblem, parseCpuList } from "../cpus";
import { shProgram, shProgramWithHiddenArgs } from "../transport/argv";
import { RemoteCommandError, Transport } from "../transport/transport";
import { FILE_CHANGES, FILE_HELPERS, FileChanges, fileChangeArgs, fileFromBase64 } from "../host/files";
import { ABSENT, PathContent, fileOf, linkTo } from "../host/restore";
import { canonicalKey, isSecretKey, keyFromConfLine, procPath, shownValue } from "./keys";
import { ALL_LEDGERS, LEDGER_ROOT, LedgerWriteError } from "../host/ledger";
import { LEDGER_DIR, Ledger, parseLedgerLines } from "./ledger";
import { comparable } from "./values";

/**
 * The two fixed programs SysctlSet runs on a host, one per phase. User data (keys, values, file
 * content) only ever arrives as positional parameters; the apply's by stdin, since they may hold
 * secrets.
 */

const SYSCTL_CONF_FILES = "/etc/sysctl.conf /etc/sysctl.d/*.conf /run/sysctl.d/*.conf /usr/local/lib/sysctl.d/*.conf /usr/lib/sysctl.d/*.conf /lib/sysctl.d/*.conf";

// $1 with tabs and newlines as spaces, into $flat, without a fork: split by IFS in the function's own parameters.
const FLAT = "flat() { local IFS='\t\n'; set -f; set -- $1; set +f; IFS=' '; flat=$*; }";

// A drift check runs this on every host, so it forks a fixed handful of processes, none per key:
// one awk reads every key (a /proc/sys file must be read in one read(2): a shell's byte-wise
// `read` gets only the first byte), one awk lists the other sysctl files' lines and the ledgers.
// mawk stops at a read error (net.ipv6.conf.*.stable_secret unset: EIO), so then, and only then,
// each key is read again on its own with cat, which names the error.
const READ_PROGRAM = `
# The persistence file paths (counted): each one's exact bytes, a link's target, or its absence.
nown=$1; shift
own=
while [ "$nown" -gt 0 ]; do
  f=$1; shift; nown=$((nown-1)); own="$own
$f"
  if [ -L "$f" ]; then printf 'own-link\\t%s\\t%s\\n' "$f" "$(printf '%s' "$(readlink "$f")" | base64 -w0)"
  elif [ -f "$f" ]; then printf 'own\\t%s\\t%s\\t%s\\n' "$f" "$(base64 -w0 < "$f")" "$(stat -c %a "$f")"
  else printf 'own-absent\\t%s\\n' "$f"; fi
done
${FLAT}
# Only root's view tells a read-only key: every /proc/sys file is read-only to other users.
root=; [ "$(id -u)" = 0 ] && root=1
n=$# pages=
for p do
  f=/proc/sys/$p
  case $p in net/ipv4/tcp_mem|net/ipv4/udp_mem) pages=1 ;; esac
  if [ ! -e "$f" ]; then printf 'missing\\t%s\\n' "$p"
  elif [ -n "$root" ] && [ ! -w "$f" ] && [ -r "$f" ]; then set -- "$@" "readonly/$p"
  else set -- "$@" "value/$p"; fi
done
shift $n
if ! out=$(awk 'BEGIN {
  for (i = 1; i < ARGC; i++) {
    s = index(ARGV[i], "/"); f = "/proc/sys/" substr(ARGV[i], s + 1); v = ""; j = 0
    while ((r = (getline line < f)) > 0) v = v (j++ ? " " : "") line
    if (r < 0) exit 1
    close(f); gsub(/\\t/, " ", v)
    printf "%s\\t%s\\t%s\\n", substr(ARGV[i], 1, s - 1), substr(ARGV[i], s + 1), v
  }
}' "$@" 2>/dev/null); then
  out=
  for a do
    p=\${a#*/} f=/proc/sys/\${a#*/}
    if v=$(cat "$f" 2>&1); then flat "$v"; printf '%s\\t%s\\t%s\\n' "\${a%%/*}" "$p" "$flat"
    else flat "$v"; printf 'unreadable\\t%s\\t%s\\n' "$p" "$flat"; fi
  done
fi
[ -n "$out" ] && printf '%s\\n' "$out"
# The CPUs a CPU mask key may name (a builtin read: no fork).
read -r cpus 2>/dev/null < /sys/devices/system/cpu/possible && printf 'possible\\t%s\\n' "$cpus"
# RAM and the page size for keys counted in pages: the shell's own first mapping is of base pages.
if [ -n "$pages" ]; then
  while read -r a kib _; do [ "$a" = MemTotal: ] && break; done < /proc/meminfo
  while read -r a page _; do [ "$a" = KernelPageSize: ] && break; done 2>/dev/null < /proc/self/smaps
  printf 'memory\\t%s\\t%s\\n' "$kib" "$page"
fi
set --
# A sysctl.d name in an earlier directory hides it in the later ones (a link to /dev/null too), as
# systemd-sysctl reads them; /lib after /usr/lib is the same file on a merged-/usr host.
seen=/
for f in ${SYSCTL_CONF_FILES} ${ALL_LEDGERS}; do
  case $f in
    */sysctl.d/*)
      case $seen in *"/\${f##*/}/"*) continue ;; esac
      [ -e "$f" ] && seen="$seen\${f##*/}/" ;;
  esac
  case "$own
" in *"
$f
"*) continue ;; esac
  [ -f "$f" ] && [ -r "$f" ] && set -- "$@" "$f"
done
# Other resources' ledgers (PacketSteering's flow table): only who holds which /proc/sys file.
[ $# -gt 0 ] && awk -v ledgers="${LEDGER_DIR}/" -v others="${LEDGER_ROOT}/" '
  index(FILENAME, ledgers) == 1 { print "ledger\\t" FILENAME "\\t" $0; next }
  index(FILENAME, others) == 1 { if ($1 == "owner") o = substr($0, 7); else if ($1 == "item" && index($2, "/proc/sys/") == 1) print "claim\\t" substr($2, 11) "\\t" o; next }
  /=/ && !/^[[:space:]]*[#;]/ { gsub(/[\\t]/, " "); print "conf\\t" FILENAME "\\t" $0 }' "$@"
exit 0
`;

const APPLY_PROGRAM = `
ledger=$1 record=$2 takeover=$3 dir=$4 nwrites=$5; shift 5
[ "$(id -u)" = 0 ] || { printf 'not-root\\t%s\\n' "$(id -un)"; exit 0; }
n=0 made=
${FLAT}
${FILE_HELPERS}
# sysctl -w, for the kernel's reason in its message; an empty value (ip_local_reserved_ports'
# default) straight to the file, since procps before 4 refuses "key=" as malformed; a secret by
# the shell's own printf, so that it is in no process's arguments.
write_key() {
  if [ "$3" = secret ]; then
    { printf '%s\\n' "$2" > "/proc/sys/$1"; } 2>/dev/null || { echo "the kernel refused the value (a secret, not shown)" >&2; return 1; }
  elif [ -n "$2" ]; then sysctl -q -w "$1=$2"; else printf '\\n' > "/proc/sys/$1"; fi
}
rollback() {
  _refused=
  while [ "$n" -gt 0 ]; do
    eval "k=\\$key_$n v=\\$old_$n s=\\$kind_$n"
    write_key "$k" "$v" "$s" >/dev/null 2>&1 || _refused="$_refused $n"
    n=$((n-1))
  done
  # A key the kernel would not take back (vm.dirty_bytes to 0) may be back all the same, once its
  # partner written earlier went back too: only one still not as it was failed.
  for _i in $_refused; do
    eval "k=\\$key_$_i v=\\$old_$_i"
    [ "$(cat "/proc/sys/$k" 2>/dev/null)" = "$v" ] || { printf 'rollback-failed\\t%s\\n' "$k"; stuck=1; }
  done
  # Something still changed has its original only in our new ledger (a failed create leaves no
  # state): it stays, as the other ledgers stay without the keys it took over.
  if [ -n "$stuck" ]; then rm -f "${LEDGER_DIR}"/*.ledger.prev; return 0; fi
  # Ledgers back as they were: ours (or none), and any whose keys a takeover moved.
  for b in "${LEDGER_DIR}"/*.ledger.prev; do [ -f "$b" ] && mv -f "$b" "\${b%.prev}"; done
  [ -n "$created" ] && rm -f "$ledger" && tidy
  [ -z "$made" ] || rm_dirs $(printf '%s\\n' "$made" | cut -f2 | sort -r) >/dev/null
}
# With no ledger left, the directories we made go too: the host as it was, byte for byte.
# (.lock: the lock file of versions before the one host-wide lock.)
tidy() {
  ls "${LEDGER_DIR}"/*.ledger >/dev/null 2>&1 && return 0
  rm -f "${LEDGER_DIR}/.lock"
  rmdir "${LEDGER_DIR}" 2>/dev/null && rmdir "${LEDGER_ROOT}" 2>/dev/null
  return 0
}
fail() { trap '' TERM INT HUP; undo_files; rollback; flat "$2"; printf 'failed\\t%s\\t%s\\n' "$1" "$flat"; exit 0; }
# Stopped by the command's time limit (timeout's TERM, then KILL 5 s later) or a dropped session:
# what was written goes back before the end, as on any failure.
trap 'fail "-" "stopped by a signal (the command time limit?) before it finished"' TERM INT HUP
created=
if [ "$ledger" != - ]; then
  # The host-wide lock every kind's apply takes (withLedger's): the ledger root itself, held to
  # the end, and taken again if a delete removed that directory while this waited for it.
  unlocked() { flat "$1"; printf 'ledger-failed\\t%s\\t%s\\n' "$ledger" "$flat"; tidy; exit 0; }
  tries=0
  while :; do
    err=$( { mkdir -p "${LEDGER_DIR}" && chmod 0700 "${LEDGER_ROOT}" "${LEDGER_DIR}"; } 2>&1 ) || unlocked "$err"
    exec 9<"${LEDGER_ROOT}" || unlocked "cannot open ${LEDGER_ROOT}"
    if command -v flock >/dev/null; then flock -w 120 9 || unlocked "another apply held the host's ledger lock for 120 s"; fi
    [ "/proc/$$/fd/9" -ef "${LEDGER_ROOT}" ] && [ -d "${LEDGER_DIR}" ] && break
    exec 9<&-
    tries=$((tries+1)); [ "$tries" -lt 5 ] || unlocked "${LEDGER_ROOT} kept disappearing"
  done
  rm -f "${LEDGER_DIR}"/*.ledger.prev
  keys=$(printf '%s' "$record" | awk -F '\\t' '$1 == "key" { print $2 }')
  # Keys another kind's ledger holds as /proc/sys files (PacketSteering's flow table): refused, never taken over.
  claimed=$(for f in "${LEDGER_ROOT}"/*/*.ledger; do
    [ -f "$f" ] && [ "\${f%/*}" != "${LEDGER_DIR}" ] || continue
    awk -F '\\t' -v keys="$keys" 'BEGIN { n = split(keys, k, "\\n"); for (i = 1; i <= n; i++) want["/proc/sys/" k[i]] = 1 } $1 == "owner" { o = substr($0, 7) } $1 == "item" && (substr($0, 6) in want) { print substr($0, 16) "\\t" o }' "$f"
  done)
  if [ -n "$claimed" ]; then
    printf '%s\\n' "$claimed" | while IFS= read -r line; do printf 'claimed\\t%s\\n' "$line"; done
    tidy; exit 0
  fi
  # Keys another ledger holds: refused, or (takeover) moved out of it.
  owned=$(for f in "${LEDGER_DIR}"/*.ledger; do
    [ -f "$f" ] && [ "$f" != "$ledger" ] && awk -F '\\t' -v f="$f" -v keys="$keys" 'BEGIN { n = split(keys, k, "\\n"); for (i = 1; i <= n; i++) want[k[i]] = 1 } $1 == "owner" { o = $2 } $1 == "key" && ($2 in want) { print $2 "\\t" o "\\t" f }' "$f"
  done)
  if [ -n "$owned" ]; then
    if [ "$takeover" != 1 ]; then
      printf '%s\\n' "$owned" | while IFS= read -r line; do printf 'owned\\t%s\\n' "$line"; done
      exit 0
    fi
    for f in $(printf '%s\\n' "$owned" | cut -f3 | sort -u); do
      cp -p "$f" "$f.prev" && awk -F '\\t' -v keys="$keys" 'BEGIN { n = split(keys, k, "\\n"); for (i = 1; i <= n; i++) want[k[i]] = 1 } !($1 == "key" && ($2 in want))' "$f.prev" > "$f.tmp" && mv -f "$f.tmp" "$f" || fail "$f" "cannot take the keys over"
    done
  fi
  if [ -n "$record" ]; then
    if [ -f "$ledger" ]; then cp -p "$ledger" "$ledger.prev" || fail "$ledger" "cannot keep its previous copy"; else created=1; fi
    err=$( { printf '%s' "$record" > "$ledger.tmp" && chmod 0600 "$ledger.tmp" && mv -f "$ledger.tmp" "$ledger"; } 2>&1 ) || fail "$ledger" "$err"
  fi
fi
while [ "$nwrites" -gt 0 ]; do
  k=$1 v=$2 s=$3; shift 3; nwrites=$((nwrites-1))
  [ -e "/proc/sys/$k" ] || fail "$k" "No such file or directory: the key does not exist on this kernel or in this network namespace"
  old=$(cat "/proc/sys/$k" 2>&1) || fail "$k" "$old"
  n=$((n+1)); eval "key_$n=\\$k old_$n=\\$old kind_$n=\\$s"
  err=$(write_key "$k" "$v" "$s" 2>&1 >/dev/null); rc=$?
  if [ $rc -ne 0 ] || [ -n "$err" ]; then fail "$k" "$err"; fi
  now=$(cat "/proc/sys/$k" 2>&1)
  flat "$old"; was=$flat; flat "$now"
  printf 'set\\t%s\\t%s\\t%s\\n' "$k" "$was" "$flat"
done
# The persistence file's directory, and each one made for it in the ledger at once: a run killed
# from here on still removes them on destroy.
if [ "$dir" != - ]; then
  out=$(mkdirs "$dir" || { printf '%s' "$err"; exit 1; }) || fail "$dir" "$out"
  made=$out
  if [ -n "$made" ]; then
    printf '%s\\n' "$made"
    [ "$ledger" != - ] && [ -n "$record" ] && printf '%s\\n' "$made" >> "$ledger"
  fi
fi
${FILE_CHANGES}if [ "$ledger" != - ]; then
  # Everything is in: the previous ledgers are no longer needed; a delete removes ours last.
  rm -f "${LEDGER_DIR}"/*.ledger.prev
  [ -z "$record" ] && rm -f "$ledger" && tidy
fi
printf 'done\\n'
`;

/** "readonly": present but not writable here (a read-only /proc/sys, as in containers). */
export type LiveValue =
    | { state: "value"; value: string }
    | { state: "readonly"; value: string }
    | { state: "missing" }
    | { state: "unreadable"; message: string };

export interface OtherWriter {
    file: string;
    key: string;
    value: string;
}

export interface HostSnapshot {
    /** By canonical key. */
    values: Map<string, LiveValue>;
    /** Text of the first persistence file asked for; null when it is absent or not a regular file, undefined when none was asked for. */
    ownFile: string | null | undefined;
    /** Exactly what each persistence file path asked for holds. */
    ownPaths: Map<string, PathContent>;
    /** key = value lines in other sysctl.d/sysctl.conf files. */
    otherWriters: OtherWriter[];
    /** Every SysctlSet ledger on the host, by file. */
    ledgers: Map<string, Ledger>;
    /** Keys another kind of resource's ledger holds (PacketSteering's rps_sock_flow_entries), with its owner. */
    otherOwners?: Map<string, string>;
    /** The CPUs this host can have (/sys/devices/system/cpu/possible), when readable. */
    possibleCpus?: number[];
    /** MemTotal and the page size, both in KiB, when a key counted in pages was read. */
    memory?: { totalKiB: number; pageKiB: number };
}

export function parseReadOutput(stdout: string): HostSnapshot {
    const snapshot: HostSnapshot = { values: new Map(), ownFile: undefined, ownPaths: new Map(), otherWriters: [], ledgers: new Map(), otherOwners: new Map() };
    const own = (path: string | undefined, content: PathContent) => {
        if (path) {
            if (snapshot.ownPaths.size === 0) {
                snapshot.ownFile = content.kind === "file" ? content.content : null;
            }
            snapshot.ownPaths.set(path, content);
        }
    };
    const ledgerLines: string[][] = [];
    for (const line of stdout.split("\n")) {
        const [kind, ...fields] = line.split("\t");
        switch (kind) {
            case "value":
                snapshot.values.set(canonicalKey(fields[0]), { state: "value", value: comparable(canonicalKey(fields[0]), fields.slice(1).join("\t").trim().split(/\s+/).join(" ")) });
                break;
            case "readonly":
                snapshot.values.set(canonicalKey(fields[0]), { state: "readonly", value: fields.slice(1).join("\t").trim().split(/\s+/).join(" ") });
                break;
            case "missing":
                snapshot.values.set(canonicalKey(fields[0]), { state: "missing" });
                break;
            case "unreadable":
                snapshot.values.set(canonicalKey(fields[0]), { state: "unreadable", message: fields.slice(1).join(" ").trim() });
                break;
            case "own": {
                const mode = fields[2] ?? "";
                own(fields[0], { ...fileOf(fileFromBase64(fields[1] ?? "")), ...(/^[0-7]{3,4}$/.test(mode) && { mode }) });
                break;
            }
            case "own-link":
                own(fields[0], linkTo(Buffer.from(fields[1] ?? "", "base64").toString("utf8")));
                break;
            case "own-absent":
                own(fields[0], ABSENT);
                break;
            case "ledger":
                ledgerLines.push(fields);
                break;
            case "possible":
                if (!cpuListProblem(fields[0] ?? "")) {
                    snapshot.possibleCpus = parseCpuList(fields[0]);
                }
                break;
            case "memory": {
                const [totalKiB, pageKiB] = fields.map(Number);
                if (totalKiB > 0 && pageKiB > 0) {
                    snapshot.memory = { totalKiB, pageKiB };
                }
                break;
            }
            case "claim":
                snapshot.otherOwners!.set(canonicalKey(fields[0]), fields.slice(1).join("\t"));
                break;
            case "conf": {
                const [file, ...rest] = fields;
                const text = rest.join("\t");
                const eq = text.indexOf("=");
                if (eq > 0) {
                    snapshot.otherWriters.push({
                        file,
                        key: keyFromConfLine(text.slice(0, eq)),
                        value: text.slice(eq + 1).trim().split(/\s+/).join(" "),
                    });
                }
                break;
            }
        }
    }
    snapshot.ledgers = parseLedgerLines(ledgerLines);
    return snapshot;
}

/**
 * Reads that report drift, kept for this provider process (one engine run) by host: under
 * `preview --refresh` the refresh's read, check's drift read and one more drift read of a resource
 * were three reads of the same host and keys. A read that plans a write (apply, delete,
 * ownership at create) never uses them, and a write to a host drops that host's.
 */
const hostKeyOf = (transport: Transport): string => transport.identity ?? transport.target;
const driftReads = new Map<string, { keys: Set<string>; ownFiles: string; snapshot: Promise<HostSnapshot> }[]>();

/** A drift read: of the host now, or one kept from earlier in this engine run. */
export type HostReads = "fresh" | "reuse";

/**
 * `ownFiles`: persistence file paths to read exactly (the first one's text is `ownFile`).
 * `fresh` (default) reads the host; `remember` reads it and keeps the read for drift reports;
 * `reuse` takes a kept read of the same files covering these keys, else reads and keeps.
 */
export async function readHost(transport: Transport, keys: readonly string[], ownFiles: readonly string[], memo: HostReads | "remember" = "fresh"): Promise<HostSnapshot> {
    const kept = driftReads.get(hostKeyOf(transport)) ?? [];
    const files = ownFiles.join("\n");
    const hit = memo === "reuse" ? kept.find((r) => r.ownFiles === files && keys.every((k) => r.keys.has(k))) : undefined;
    if (hit) {
        return hit.snapshot;
    }
    const snapshot = (async () => {
        const result = await transport.run(shProgram(READ_PROGRAM, "pulumi-sysctl-read", [String(ownFiles.length), ...ownFiles, ...keys.map(procPath)]));
        if (result.code !== 0) {
            throw new RemoteCommandError(transport.target, "sysctl read", result);
        }
        return parseReadOutput(result.stdout);
    })();
    if (memo !== "fresh") {
        const entry = { keys: new Set(keys), ownFiles: files, snapshot };
        driftReads.set(hostKeyOf(transport), [...kept, entry]);
        snapshot.catch(() => driftReads.set(hostKeyOf(transport), (driftReads.get(hostKeyOf(transport)) ?? []).filter((r) => r !== entry)));
    }
    return snapshot;
}

export interface Write {
    key: string;
    value: string;
}

/**
 * The persistence files' changes, after every value is in: the file written (atomically), paths
 * put back as they were, directories removed when empty. `dir`: the written file's directory,
 * made first, each directory made for it noted in the ledger at once.
 */
export interface FileAction {
    changes: FileChanges;
    dir?: string;
}

/**
 * The resource's ledger: written before the first value with `record`, removed after the last
 * restore when `record` is absent. `takeOver` moves keys another ledger holds into this one.
 */
export interface LedgerAction {
    path: string;
    record?: string;
    takeOver?: boolean;
}

export interface ApplyOutcome {
    /** Value read back after each write, by canonical key. */
    readBack: Map<string, string>;
    /** Previous value of each key written. */
    previous: Map<string, string>;
    /** Directories this apply created (they did not exist before), outermost first. */
    createdDirs: string[];
}

export class ApplyError extends Error {}

/** A key another SysctlSet owns, found by the apply program under the ledger lock. */
export class OwnedKeyError extends ApplyError {}

export function parseApplyOutput(target: string, stdout: string): ApplyOutcome {
    const outcome: ApplyOutcome = { readBack: new Map(), previous: new Map(), createdDirs: [] };
    const rollbackFailures: string[] = [];
    const owned: string[] = [];
    const claimed: string[] = [];
    let failure: string | undefined;
    let done = false;
    for (const line of stdout.split("\n")) {
        const [kind, ...fields] = line.split("\t");
        if (kind === "set") {
            const key = canonicalKey(fields[0]);
            outcome.previous.set(key, comparable(key, fields[1].trim()));
            outcome.readBack.set(key, comparable(key, fields[2].trim()));
        } else if (kind === "created") {
            outcome.createdDirs.push(fields[0]);
        } else if (kind === "rollback-failed") {
            rollbackFailures.push(canonicalKey(fields[0]));
        } else if (kind === "failed") {
            const subject = fields[0].startsWith("/") ? fields[0] : canonicalKey(fields[0]);
            failure = `${subject}: ${fields.slice(1).join(" ").trim() || "rejected"}`;
        } else if (kind === "owned") {
            owned.push(`${canonicalKey(fields[0])} (owned by ${fields[1]})`);
        } else if (kind === "claimed") {
            claimed.push(`${canonicalKey(fields[0])} is managed by ${fields[1]} (its ledger on the host); remove it there first`);
        } else if (kind === "ledger-failed") {
            throw new LedgerWriteError(`${target}: cannot write the ledger ${fields[0]}: ${fields.slice(1).join(" ").trim() || "failed"}. Nothing was changed.`);
        } else if (kind === "not-root") {
            throw new ApplyError(`${target}: changing kernel settings needs root, and this runs as ${fields[0]}: run as root, or set the connection's sudo: true (passwordless sudo). Nothing was changed.`);
        } else if (kind === "done") {
            done = true;
        }
    }
    if (claimed.length > 0) {
        throw new OwnedKeyError(`${target}: ${claimed.join("; ")}. Nothing was changed.`);
    }
    if (owned.length > 0) {
        throw new OwnedKeyError(`${target}: ${owned.join(", ")}: another SysctlSet manages ${owned.length === 1 ? "this key" : "these keys"}; remove it there, or set takeOver: true to take ${owned.length === 1 ? "it" : "them"} over (its original value comes along). Nothing was changed.`);
    }
    if (failure) {
        const restored = rollbackFailures.length
            ? ` Could NOT restore ${rollbackFailures.map((key) => (outcome.previous.has(key) ? `${key} (it held ${shownValue(key, outcome.previous.get(key)!)})` : key)).join(", ")}: check the host.`
            : " Every value this operation had already written was restored; the host is as it was.";
        throw new ApplyError(`${target}: the kernel refused ${failure}.${restored}`);
    }
    if (!done) {
        throw new ApplyError(`${target}: the apply program ended early; output: ${stdout.trim() || "(none)"}`);
    }
    return outcome;
}

/** Writes values in order and the persistence files last; on any failure restores the values and reports. */
export async function applyToHost(transport: Transport, writes: readonly Write[], file: FileAction, ledger?: LedgerAction): Promise<ApplyOutcome> {
    const ledgerArgs = [ledger?.path ?? "-", ledger?.record ?? "", ledger?.takeOver ? "1" : "0"];
    const triples = writes.flatMap((w) => [procPath(w.key), w.value, isSecretKey(w.key) ? "secret" : "-"]);
    driftReads.delete(hostKeyOf(transport));
    const args = [...ledgerArgs, file.dir ?? "-", String(writes.length), ...triples, ...fileChangeArgs(file.changes)];
    // On stdin: secret keys' values and originals, in the ledger's record and the persisted file too.
    const program = shProgramWithHiddenArgs(APPLY_PROGRAM, "pulumi-sysctl-apply", args);
    const result = await transport.run(program.argv, program.stdin);
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "sysctl apply", result);
    }
    return parseApplyOutput(transport.target, result.stdout);
}
