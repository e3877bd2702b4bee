import { FILE_HELPERS, FileData, fileActionArg } from "../host/files";
import { LedgerAction, ledgerArgs, parseLedgerListing, throwIfLedgerUnwritten, withLedger, withLedgerListing } from "../host/ledger";
import { shProgram } from "../transport/argv";
import { RemoteCommandError, Transport } from "../transport/transport";
import { RuleSnapshot, parseRuleLine } from "../nic/rule-snapshot";

/**
 * One program reads `ethtool -k`, tx_queue_len (and its real path, the name a SysfsSet may use),
 * our udev rule and every host ledger; one applies changes, with this resource's ledger written
 * before its first write.
 */

const SHOW = `
show() {
  out=$(ethtool -k "$1" 2>&1); rc=$?
  printf 'features\\t%s\\t%s\\n' "$rc" "$(printf '%s' "$out" | base64 -w0)"
  printf 'txqueuelen\\t%s\\n' "$(cat "/sys/class/net/$1/tx_queue_len" 2>/dev/null)"
}
`;

const READ_PROGRAM = withLedgerListing(`${SHOW}
printf 'ethtool\\t%s\\n' "$(command -v ethtool)"
if [ -d "/sys/class/net/$1" ]; then
  show "$1"
  printf 'txqueuelen-file\\t%s\\n' "$(readlink -f "/sys/class/net/$1/tx_queue_len")"
else printf 'no-interface\\n'; fi
if [ -L "$2" ]; then printf 'own-link\\t%s\\n' "$(readlink "$2")"
elif [ -f "$2" ]; then printf 'own\\t%s\\n' "$(base64 -w0 < "$2")"; else printf 'own-absent\\n'; fi
exit 0
`);

// Arguments (after withLedger's two): IF, rule file, rule action ("" leave, w<bytes in base64> write,
// - remove), the number of directories to remove when empty and those directories, then features
// to set, their previous values, every feature the interface must show afterwards (each
// "NAME on|off ...", built from validated names only, so splitting them is safe), the originals
// put back (checked as requested, not as the states the kernel derives), and txqueuelen to set
// and its previous value.
const APPLY_PROGRAM = withLedger(`${SHOW}${FILE_HELPERS}
IF=$1 rule=$2 content=$3 ndirs=$4; shift 4
dirs=
while [ "$ndirs" -gt 0 ]; do dirs="$dirs$1
"; shift; ndirs=$((ndirs-1)); done
set_f=$1 undo_f=$2 expect_f=$3 expect_w=$4 set_q=$5 undo_q=$6
flat() { printf '%s' "$1" | tr '\\t\\n' '  '; }
# A driver may leave a feature as it was and still exit 0 (ethtool then lists "Actual changes"):
# what counts is what ethtool -k shows afterwards. Prints "NAME VALUE;" for each pair not shown.
# unmet active LIST: the state the NIC is in; unmet wanted LIST: the requested one where ethtool
# shows "[requested on|off]" (what a restore puts back), else the state.
unmet() {
  [ -n "$2" ] || return 0
  now=$(ethtool -k "$IF" 2>/dev/null | awk -F': ' -v mode="$1" 'NR > 1 && NF > 1 { sub(/^\\t/, "", $1); n = split($2, v, " "); s = v[1]; if (mode == "wanted" && n >= 3 && v[2] == "[requested") s = substr(v[3], 1, length(v[3]) - 1); print $1, s }')
  set -f; set -- $2; set +f
  while [ $# -ge 2 ]; do
    have=$(printf '%s\\n' "$now" | awk -v n="$1" '$1 == n { print $2; exit }')
    [ "$have" = "$2" ] || printf '%s %s; ' "$1" "\${have:-absent}"
    shift 2
  done
}
# iproute2's ip(8) first: rtnetlink asks CAP_NET_ADMIN in the device's network namespace only,
# the sysfs attribute in the initial user namespace (which an unprivileged container lacks); the
# attribute where ip is missing or fails (BusyBox's knows no txqueuelen), its error the one told.
set_qlen() {
  ip link set dev "$IF" txqueuelen "$1" 2>/dev/null || printf '%s\\n' "$1" | tee "/sys/class/net/$IF/tx_queue_len" >/dev/null
}
wrote_f= wrote_q=
rollback() {
  if [ -n "$wrote_q" ]; then
    { set_qlen "$undo_q" && [ "$(cat "/sys/class/net/$IF/tx_queue_len")" = "$undo_q" ]; } >/dev/null 2>&1 || printf 'rollback-failed\\ttxqueuelen %s;\\n' "$(cat "/sys/class/net/$IF/tx_queue_len")"
  fi
  if [ -n "$wrote_f" ]; then
    ethtool -K "$IF" $undo_f >/dev/null 2>&1
    left=$(unmet wanted "$undo_f"); [ -z "$left" ] || printf 'rollback-failed\\t%s\\n' "$left"
  fi
}
# fail WHAT UNMET MESSAGE
fail() { rollback; undo_files; printf 'failed\\t%s\\t%s\\t%s\\n' "$1" "$2" "$(flat "$3")"; exit 0; }
if [ -n "$set_f" ]; then
  wrote_f=1
  # ethtool exits 1 when no feature changed: so it does when a request is recorded but the kernel
  # holds the feature as it was (GSO asked on with sg off), which is what a restore may put back.
  # What ethtool -k then shows decides.
  out=$(ethtool -K "$IF" $set_f 2>&1) || case $out in
    *"Could not change any device features"*) ;;
    *) fail "ethtool -K" "" "$out" ;;
  esac
  left=$(unmet active "$expect_f")$(unmet wanted "$expect_w"); [ -z "$left" ] || fail "ethtool -K" "$left" "$out"
fi
if [ -n "$set_q" ]; then
  wrote_q=1
  out=$(set_qlen "$set_q" 2>&1) || fail txqueuelen "" "\${out#tee: }"
  now=$(cat "/sys/class/net/$IF/tx_queue_len" 2>&1)
  [ "$now" = "$set_q" ] || fail txqueuelen "txqueuelen $now;" ""
fi
# The rule is the last change, and no failure after it takes it back: a stop from here must not
# undo the NIC's values under a rule that would set them again at the next boot.
trap '' TERM INT HUP
case $content in
  -) err=$(rm -f "$rule" 2>&1) || fail "$rule" "" "$err" ;;
  w*) put_file "$rule" "\${content#w}" || fail "$rule" "" "$err" ;;
esac
(set -f; IFS='
'; rm_dirs $dirs)
show "$IF"
printf 'done\\n'
`);

export interface FeatureState {
    on: boolean;
    fixed: boolean;
    /** "off [requested on]": what `ethtool -K` last asked, when the kernel holds it otherwise (a feature it depends on is off). */
    requested?: boolean;
    /** The member of a group (`tx-tcp6-segmentation` of `tcp-segmentation-offload`). */
    group?: string;
}

export interface FeatureTable {
    /** Every feature `ethtool -k` shows with a state of its own, by the name it shows. */
    features: Map<string, FeatureState>;
    /** Group (a legacy flag matching several kernel features) → its members, as `-k` lists them. */
    groups: Map<string, string[]>;
}

/**
 * `ethtool -k` output: "name: on", "name: off [fixed]", "name: off [requested on]" (the kernel
 * could not give what was asked; the active state is what the NIC does, the requested one what it
 * does once the feature's dependency is back); a group's line is a summary (on when any member
 * is), its members follow indented by a tab.
 */
export function parseFeatures(text: string): FeatureTable {
    const table: FeatureTable = { features: new Map(), groups: new Map() };
    let header: string | undefined;
    for (const line of text.split("\n")) {
        const match = /^(\t?)([a-z0-9_-]+): (on|off)(?: \[(fixed|requested on|requested off)\])?\s*$/.exec(line);
        if (!match) {
            continue;
        }
        const [, indent, name, value, note] = match;
        const state: FeatureState = { on: value === "on", fixed: note === "fixed", ...(note?.startsWith("requested") ? { requested: note === "requested on" } : {}) };
        if (!indent) {
            header = name;
            table.features.set(name, state);
        } else if (header !== undefined) {
            table.groups.set(header, [...(table.groups.get(header) ?? []), name]);
            table.features.set(name, { ...state, group: header });
        }
    }
    for (const group of table.groups.keys()) {
        table.features.delete(group);
    }
    return table;
}

export interface OffloadSnapshot extends RuleSnapshot {
    table: FeatureTable;
    /** Why `ethtool -k` gave no features (no ethtool, a driver without the operation). */
    featuresError?: string;
    txqueuelen?: number;
    /** tx_queue_len's real path (/sys/devices/…/tx_queue_len), as a read found it. */
    txqueuelenFile?: string;
}

export function parseOffloadOutput(stdout: string): OffloadSnapshot {
    const snapshot: OffloadSnapshot = {
        exists: true,
        ethtoolPath: "",
        table: { features: new Map(), groups: new Map() },
        featuresError: "not read",
        ownRule: null,
        ledgers: parseLedgerListing(stdout),
    };
    for (const line of stdout.split("\n")) {
        const [kind, a = "", b = ""] = line.split("\t");
        if (kind === "features") {
            const text = Buffer.from(b, "base64").toString("utf8");
            snapshot.table = parseFeatures(a === "0" ? text : "");
            snapshot.featuresError = a === "0" ? undefined : text.trim().split("\n").pop() || `ethtool exited with ${a}`;
        } else if (kind === "txqueuelen" && /^\d+$/.test(a.trim())) {
            snapshot.txqueuelen = Number(a.trim());
        } else if (kind === "txqueuelen-file" && a.startsWith("/")) {
            snapshot.txqueuelenFile = a;
        } else {
            parseRuleLine(snapshot, kind, a);
        }
    }
    return snapshot;
}

export async function readOffloads(transport: Transport, iface: string, rule: string): Promise<OffloadSnapshot> {
    const result = await transport.run(shProgram(READ_PROGRAM, "pulumi-offload-read", [iface, rule]));
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "ethtool -k read", result);
    }
    return parseOffloadOutput(result.stdout);
}

/** Features and queue length as one operation writes them; `expect` is checked after the write. */
export interface OffloadChange {
    set: Record<string, boolean>;
    /** What the features set had, for rollback. */
    undo: Record<string, boolean>;
    /** Every declared feature the interface must show afterwards (those set and those already right). */
    expect: Record<string, boolean>;
    /** Originals put back: checked as the requests they are, not the states the kernel derives from them. */
    expectRequested: Record<string, boolean>;
    txqueuelen?: { to: number; from: number };
}

export class OffloadApplyError extends Error {}

const words = (values: Record<string, boolean>) => Object.entries(values).flatMap(([name, on]) => [name, on ? "on" : "off"]);

/** "name value; " pairs from the apply program → "tx-tcp-segmentation on (it is off)". */
function unmetText(unmet: string, expect: Record<string, boolean>, txqueuelen?: number): string {
    return unmet
        .split(";")
        .map((pair) => pair.trim().split(" "))
        .filter((pair) => pair.length === 2)
        .map(([name, have]) => `${name} ${name === "txqueuelen" ? txqueuelen : expect[name] ? "on" : "off"} (it is ${have})`)
        .join(", ");
}

/**
 * rule: content to write, null to remove, undefined to leave alone; rmdir: directories to remove
 * when empty, deepest first; ledger: written before the first change, or removed after a delete.
 */
export async function applyOffloads(
    transport: Transport,
    iface: string,
    change: OffloadChange = { set: {}, undo: {}, expect: {}, expectRequested: {} },
    rulePath: string,
    rule: FileData | null | undefined,
    rmdir: readonly string[],
    ledger: LedgerAction | undefined,
): Promise<OffloadSnapshot> {
    const [set, undo, expect, expectRequested] = [change.set, change.undo, change.expect, change.expectRequested].map((values) => words(values));
    for (const word of [...set, ...undo, ...expect, ...expectRequested]) {
        if (!/^[a-z0-9_-]+$/.test(word)) {
            throw new Error(`internal: unexpected ethtool word "${word}"`);
        }
    }
    const queue = change.txqueuelen ? [String(change.txqueuelen.to), String(change.txqueuelen.from)] : ["", ""];
    const args = [...ledgerArgs(ledger), iface, rulePath, fileActionArg(rule), String(rmdir.length), ...rmdir, set.join(" "), undo.join(" "), expect.join(" "), expectRequested.join(" "), ...queue];
    const result = await transport.run(shProgram(APPLY_PROGRAM, "pulumi-offload-apply", args));
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "ethtool -K apply", result);
    }
    throwIfLedgerUnwritten(transport.target, result.stdout);
    const failed = /^failed\t([^\t]*)\t([^\t]*)\t(.*)$/m.exec(result.stdout);
    if (failed) {
        const [, what, unmet, message] = failed;
        const notRestored = [...result.stdout.matchAll(/^rollback-failed\t(.*)$/gm)].map((m) => m[1]).join(" ");
        const restored = notRestored
            ? ` Could NOT put back ${unmetText(notRestored, change.undo, change.txqueuelen?.from)}: check the host.`
            : " Everything this operation had already changed was restored; the host is as it was.";
        const action = what === "ethtool -K" ? `ethtool -K ${iface}` : what === "txqueuelen" ? `setting ${iface} txqueuelen ${change.txqueuelen?.to}` : `writing ${what}`;
        const said = message.trim();
        const detail = unmet ? `the driver (or a feature it depends on) refused ${unmetText(unmet, { ...change.expect, ...change.expectRequested }, change.txqueuelen?.to)}${said ? `; ethtool said: ${said}` : ""}` : said || "failed";
        throw new OffloadApplyError(`${transport.target}: ${action}: ${detail}.${restored}`);
    }
    if (!/^done$/m.test(result.stdout)) {
        throw new OffloadApplyError(`${transport.target}: the ethtool -K apply program ended early: ${result.stdout.trim() || result.stderr.trim()}`);
    }
    return parseOffloadOutput(result.stdout);
}

/** The state `ethtool -K` sets, and a restore puts back: the requested one where the kernel holds the feature otherwise. */
export const wantedState = (state: FeatureState): boolean => state.requested ?? state.on;
