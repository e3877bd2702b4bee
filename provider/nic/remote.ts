import { FILE_HELPERS, FileData, fileActionArg } from "../host/files";
import { LedgerAction, ledgerArgs, parseLedgerListing, throwIfLedgerUnwritten, withLedger, withLedgerListing } from "../host/ledger";
import { shProgram } from "../transport/argv";
import { RemoteCommandError, Transport } from "../transport/transport";
import { MaxAndCurrent, SECTION_OPTIONS, Section, Values, parseCoalesce, parseMaxAndCurrent, CHANNEL_PARAMS, RING_PARAMS } from "./ethtool";
import { RuleSnapshot, parseRuleLine } from "./rule-snapshot";

/**
 * One program shows rings, channels and coalescing, our udev rule and every host ledger; one
 * applies changes, with this resource's ledger written before its first write.
 */

const SHOW = `
show() {
  for opt in -g -l -c; do
    out=$(ethtool "$opt" "$1" 2>&1); rc=$?
    printf 'section\\t%s\\t%s\\t%s\\n' "$opt" "$rc" "$(printf '%s' "$out" | base64 -w0)"
  done
}
`;

const READ_PROGRAM = withLedgerListing(`${SHOW}
printf 'ethtool\\t%s\\n' "$(command -v ethtool)"
if [ -d "/sys/class/net/$1" ]; then show "$1"; else printf 'no-interface\\n'; fi
if [ -L "$2" ]; then printf 'own-link\\t%s\\n' "$(readlink "$2")"
elif [ -f "$2" ]; then printf 'own\\t%s\\n' "$(base64 -w0 < "$2")"; else printf 'own-absent\\n'; fi
exit 0
`);

// Arguments (after withLedger's two): IF, rule file, rule action ("" leave, w<bytes in base64> write,
// - remove), the number of directories to remove when empty and those directories, then per
// section: option, new words, old words. The words are built from validated numbers and fixed
// keywords only, so splitting them is safe.
const APPLY_PROGRAM = withLedger(`${SHOW}${FILE_HELPERS}
IF=$1 rule=$2 content=$3 ndirs=$4; shift 4
dirs=
while [ "$ndirs" -gt 0 ]; do dirs="$dirs$1
"; shift; ndirs=$((ndirs-1)); done
# Drivers reallocate the queue IRQs on a ring or channel change, and their affinity is lost:
# each one's affinity is kept and put back after the change (IrqAffinity's, irqbalance's, or
# whatever the host had), so this resource changes nothing but the NIC's own parameters.
# A virtio NIC's vectors are its virtio device's (virtio0-input.0), and on its PCI function, not under device/.
saved=
dev=$(readlink "/sys/class/net/$IF/device" 2>/dev/null); dev=\${dev##*/}
for i in $({ ls "/sys/class/net/$IF/device/msi_irqs" 2>/dev/null
             awk -v p="$IF-" -v d="\${dev:+$dev-}" 'NR > 1 { for (i = 2; i <= NF; i++) if (index($i, p) == 1 || (d != "" && index($i, d) == 1)) { sub(":", "", $1); print $1; break } }' /proc/interrupts 2>/dev/null; } | sort -un); do
  a=$(cat "/proc/irq/$i/smp_affinity_list" 2>/dev/null) && saved="$saved $i=$a"
done
keep_affinity() {
  for s in $saved; do
    i=\${s%%=*} a=\${s#*=}
    [ -e "/proc/irq/$i/smp_affinity_list" ] || continue
    [ "$(cat "/proc/irq/$i/smp_affinity_list" 2>/dev/null)" = "$a" ] && continue
    printf '%s\\n' "$a" > "/proc/irq/$i/smp_affinity_list" 2>/dev/null || printf 'affinity-lost\\t%s\\t%s\\n' "$i" "$a"
  done
}
n=0
flat() { printf '%s' "$1" | tr '\\t\\n' '  '; }
# ethtool before netlink (RHEL 8) refuses a set that changes nothing, as the undo of a step the
# driver never took (or rounded back) is: the NIC already holds the old values.
rollback() {
  while [ "$n" -gt 0 ]; do
    eval "o=\\$opt_$n w=\\$old_$n"
    err=$(ethtool "$o" "$IF" $w 2>&1) || case $err in
      *" parameters changed, aborting"*) ;;
      *) printf 'rollback-failed\\t%s\\n' "$o" ;;
    esac
    n=$((n-1))
  done
}
fail() { rollback; undo_files; keep_affinity; printf 'failed\\t%s\\t%s\\n' "$1" "$(flat "$2")"; exit 0; }
while [ $# -ge 3 ]; do
  o=$1 new=$2 old=$3; shift 3
  # Registered before it runs: a stop while ethtool runs may find the change made.
  n=$((n+1)); eval "opt_$n=\\$o old_$n=\\$old"
  err=$(ethtool "$o" "$IF" $new 2>&1) || { n=$((n-1)); fail "$o" "$err"; }
done
keep_affinity
# The rule is the last change, and no failure after it takes it back: a stop from here must not
# undo the NIC's values under a rule that would set them again at the next boot.
trap '' TERM INT HUP
case $content in
  -) err=$(rm -f "$rule" 2>&1) || fail "$rule" "$err" ;;
  w*) put_file "$rule" "\${content#w}" || fail "$rule" "$err" ;;
esac
(set -f; IFS='
'; rm_dirs $dirs)
show "$IF"
printf 'done\\n'
`);

export type SectionState = { supported: true; max: Values; current: Values } | { supported: false; reason: string };

export interface NicSnapshot extends RuleSnapshot {
    sections: Record<Section, SectionState>;
}

const OPTION_SECTION: Record<string, Section> = { "-g": "rings", "-l": "channels", "-c": "coalesce" };

function parseSection(section: Section, code: number, text: string): SectionState {
    if (code !== 0) {
        return { supported: false, reason: text.trim().split("\n").pop() || `ethtool exited with ${code}` };
    }
    if (section === "coalesce") {
        return { supported: true, max: {}, current: parseCoalesce(text) };
    }
    const parsed: MaxAndCurrent = parseMaxAndCurrent(text, section === "rings" ? RING_PARAMS : CHANNEL_PARAMS);
    return { supported: true, ...parsed };
}

export function parseNicOutput(stdout: string): NicSnapshot {
    const unsupported: SectionState = { supported: false, reason: "not read" };
    const snapshot: NicSnapshot = {
        exists: true,
        ethtoolPath: "",
        sections: { rings: unsupported, channels: unsupported, coalesce: unsupported },
        ownRule: null,
        ledgers: parseLedgerListing(stdout),
    };
    for (const line of stdout.split("\n")) {
        const [kind, a = "", b = "", c = ""] = line.split("\t");
        if (kind === "section" && OPTION_SECTION[a]) {
            snapshot.sections[OPTION_SECTION[a]] = parseSection(OPTION_SECTION[a], Number(b), Buffer.from(c, "base64").toString("utf8"));
        } else {
            parseRuleLine(snapshot, kind, a);
        }
    }
    return snapshot;
}

export async function readNic(transport: Transport, iface: string, rule: string): Promise<NicSnapshot> {
    const result = await transport.run(shProgram(READ_PROGRAM, "pulumi-nic-read", [iface, rule]));
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "ethtool read", result);
    }
    return parseNicOutput(result.stdout);
}

export interface SectionChange {
    section: Section;
    words: string[];
    /** Words that put back what was there, for rollback. */
    undo: string[];
}

export class NicApplyError extends Error {}

/**
 * rule: content to write, null to remove, undefined to leave alone; rmdir: directories to remove
 * when empty, deepest first; ledger: written before the first change, or removed after a delete.
 */
export async function applyNic(
    transport: Transport,
    iface: string,
    changes: SectionChange[],
    rulePath: string,
    rule: FileData | null | undefined,
    rmdir: readonly string[],
    ledger: LedgerAction | undefined,
): Promise<NicSnapshot> {
    for (const word of changes.flatMap((c) => [...c.words, ...c.undo])) {
        if (!/^[a-z0-9-]+$/.test(word)) {
            throw new Error(`internal: unexpected ethtool word "${word}"`);
        }
    }
    const args = [...ledgerArgs(ledger), iface, rulePath, fileActionArg(rule), String(rmdir.length), ...rmdir, ...changes.flatMap((c) => [SECTION_OPTIONS[c.section].set, c.words.join(" "), c.undo.join(" ")])];
    const result = await transport.run(shProgram(APPLY_PROGRAM, "pulumi-nic-apply", args));
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "ethtool apply", result);
    }
    throwIfLedgerUnwritten(transport.target, result.stdout);
    const failed = /^failed\t([^\t]*)\t(.*)$/m.exec(result.stdout);
    if (failed) {
        const notRestored = [...result.stdout.matchAll(/^rollback-failed\t(.*)$/gm)].map((m) => `ethtool ${m[1]}`);
        const restored = notRestored.length
            ? ` Could NOT restore ${notRestored.join(", ")}: check the host.`
            : " Everything this operation had already changed was restored; the host is as it was.";
        throw new NicApplyError(`${transport.target}: ethtool ${failed[1]} ${iface} failed: ${failed[2].trim()}.${restored}`);
    }
    for (const [, irq, cpus] of result.stdout.matchAll(/^affinity-lost\t(\d+)\t(.*)$/gm)) {
        console.log(`${transport.target}: could not put IRQ ${irq}'s affinity back to ${cpus} after changing ${iface}'s rings or channels`);
    }
    if (!/^done$/m.test(result.stdout)) {
        throw new NicApplyError(`${transport.target}: the ethtool apply program ended early: ${result.stdout.trim() || result.stderr.trim()}`);
    }
    return parseNicOutput(result.stdout);
}
