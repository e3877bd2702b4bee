import { FILE_HELPERS, FileData, fileActionArg, fileFromBase64 } from "../host/files";
import { HostLedger, LedgerAction, ledgerArgs, parseLedgerListing, throwIfLedgerUnwritten, withLedger, withLedgerListing } from "../host/ledger";
import { shProgram } from "../transport/argv";
import { parseModinfoParm } from "./parameter-types";
import { normaliseModuleName } from "./schema";
import { RemoteCommandError, Transport } from "../transport/transport";

/**
 * KernelModule's two fixed programs, one per phase. Loaded modules are read from /sys/module
 * (a directory with `initstate` is a loaded loadable module; `refcnt` and `holders/` are its
 * users), the same files kmod reads for a module's state; built-ins from
 * /lib/modules/$(uname -r)/modules.builtin; availability from `modprobe -n -v NAME` (which also
 * shows an `install` rule modprobe would run instead of loading), aliases from `modprobe -R NAME`.
 * Module names and parameters arrive as positional parameters, validated by grammar. The read
 * also lists every host ledger; the apply writes this resource's ledger before its first load
 * or file write (withLedger's two leading parameters), or removes it after a delete.
 */

// A drift check runs this on every host, with every loaded module listed: builtins only (read,
// globs) per module and per parameter, one stat per declared module for its parameters' modes.
const REPORT = `
flat() { printf '%s' "$1" | tr '\\t\\n' '  '; }
loaded_set() {
  for _f in /sys/module/*/initstate; do [ -f "$_f" ] || continue; _f=\${_f%/initstate}; printf '%s ' "\${_f##*/}"; done
}
# Other files' "options" and "blacklist" lines for the declared modules, with their paths, as kmod
# reads them: the directories' files as one list, a name in an earlier directory hiding it in the
# later ones (a link to /dev/null included; a dangling link, which kmod cannot stat, not), a
# backslash at a line's end joining it to the next line of its file.
other_options() {
  _want=$2 _seen="/\${1##*/}/"; set --
  for _f in /etc/modprobe.d/*.conf /run/modprobe.d/*.conf /usr/local/lib/modprobe.d/*.conf /usr/lib/modprobe.d/*.conf /lib/modprobe.d/*.conf; do
    [ -e "$_f" ] || continue
    case $_seen in *"/\${_f##*/}/"*) continue ;; esac
    _seen="$_seen\${_f##*/}/"
    [ -f "$_f" ] && set -- "$@" "$_f"
  done
  if [ $# -gt 0 ]; then
    awk -v want="$_want" '
      function emit(file, line,   f, n, m) {
        n = split(line, f); m = f[2]; gsub("-", "_", m)
        if (n < 2 || !index(want, " " m " ")) return
        if (f[1] == "options" && n > 2) { gsub(/\\t/, " ", line); print "options\\t" file "\\t" line }
        else if (f[1] == "blacklist") print "blacklist\\t" file "\\t" m
      }
      FNR == 1 && held != "" { emit(heldfile, held); held = "" }
      { line = held $0; held = "" }
      line ~ /\\\\$/ { held = substr(line, 1, length(line) - 1); heldfile = FILENAME; next }
      { emit(FILENAME, line) }
      END { if (held != "") emit(heldfile, held) }' "$@" 2>/dev/null
  fi
  return 0
}
# The modules other modules-load.d files load at boot, with their paths, as systemd-modules-load
# reads them: a name in an earlier directory hides it in the later ones; # and ; start comments;
# an alias (ip_conntrack) stands for the modules modprobe -R gives, asked only of a name no
# loaded module has.
other_loads() {
  _seen="/\${1##*/}/" _tab=$(printf '\\t'); set --
  for _f in /etc/modules-load.d/*.conf /run/modules-load.d/*.conf /usr/local/lib/modules-load.d/*.conf /usr/lib/modules-load.d/*.conf /lib/modules-load.d/*.conf; do
    [ -e "$_f" ] || continue
    case $_seen in *"/\${_f##*/}/"*) continue ;; esac
    _seen="$_seen\${_f##*/}/"
    [ -f "$_f" ] && set -- "$@" "$_f"
  done
  [ $# -gt 0 ] && awk '{ sub(/^[ \\t]+/, ""); sub(/[ \\t\\r]+$/, "") } $0 == "" || /^[#;]/ { next } { m = $1; gsub("-", "_", m); print FILENAME "\\t" m }' "$@" 2>/dev/null |
    while IFS="$_tab" read -r _f _m; do
      printf 'loads-elsewhere\\t%s\\t%s\\n' "$_f" "$_m"
      [ -d "/sys/module/$_m" ] && continue
      for _r in $(modprobe -R "$_m" 2>/dev/null); do [ "$_r" = "$_m" ] || printf 'loads-elsewhere\\t%s\\t%s\\n' "$_f" "$_r"; done
    done
  return 0
}
# Arguments: the two persistence files, then the module names.
report() {
  _load=$1 _opts=$2; shift 2
  _names=" $* "
  printf 'modprobe\\t%s\\n' "$(command -v modprobe)"
  rel=$(uname -r); printf 'release\\t%s\\n' "$rel"
  for _m in $(loaded_set); do
    _r=; read -r _r 2>/dev/null < "/sys/module/$_m/refcnt"
    _h=; for _x in "/sys/module/$_m/holders"/*; do [ -e "$_x" ] && _h="$_h\${_x##*/} "; done
    printf 'loaded\\t%s\\t%s\\t%s\\n' "$_m" "$_r" "$_h"
  done
  [ -f "/lib/modules/$rel/modules.builtin" ] && awk -F/ -v want=" $* " '{ n = $NF; sub(/\\.ko.*$/, "", n); gsub("-", "_", n); if (index(want, " " n " ")) print "builtin\\t" n }' "/lib/modules/$rel/modules.builtin"
  for _m in "$@"; do
    if command -v modprobe >/dev/null; then
      _out=$(modprobe -n -v "$_m" 2>&1); printf 'probe\\t%s\\t%s\\t%s\\n' "$_m" "$?" "$(flat "$_out")"
      printf 'resolves\\t%s\\t%s\\n' "$_m" "$(modprobe -R "$_m" 2>/dev/null | tr '\\n' ' ')"
    fi
    # NUL-separated: a description may span lines, and the type follows the whole of it.
    if command -v modinfo >/dev/null; then
      { modinfo -0 -F parm "$_m" 2>/dev/null; printf 'modinfo-exit=%s' "$?"; } | tr '\\n\\0' ' \\n' |
        awk -v m="$_m" '/^modinfo-exit=/ { if ($0 == "modinfo-exit=0") print "parms\\t" m; next } NF { gsub(/\\t/, " "); print "modinfo-parm\\t" m "\\t" $0 }'
    fi
    [ -d "/sys/module/$_m/parameters" ] || continue
    # The mode, not test -w: root passes test -w on a 0444 attribute the kernel still refuses to write.
    _modes="
$(stat -c '%n %a' "/sys/module/$_m/parameters"/* 2>/dev/null)
"
    for _p in "/sys/module/$_m/parameters"/*; do
      [ -f "$_p" ] || continue
      _v=; while IFS= read -r _l || [ -n "$_l" ]; do _v="$_v\${_v:+ }$_l"; done 2>/dev/null < "$_p"
      while :; do case $_v in *"\t"*) _v="\${_v%%"\t"*} \${_v#*"\t"}" ;; *) break ;; esac; done
      _a=\${_modes#*"
$_p "}; [ "$_a" = "$_modes" ] && _a= || _a=\${_a%%"
"*}
      printf 'param\\t%s\\t%s\\t%s\\t%s\\n' "$_m" "\${_p##*/}" "$_v" "$_a"
    done
  done
  for _f in "$_load" "$_opts"; do
    if [ -L "$_f" ]; then printf 'link\\t%s\\t%s\\n' "$_f" "$(readlink "$_f")"
    elif [ -f "$_f" ]; then printf 'file\\t%s\\t%s\\n' "$_f" "$(base64 -w0 < "$_f")"; else printf 'absent\\t%s\\n' "$_f"; fi
  done
  other_options "$_opts" "$_names"
  other_loads "$_load"
  # kmod takes MODULE.PARAM=VALUE and modprobe.blacklist= from here too, after every file.
  _c=; read -r _c 2>/dev/null < /proc/cmdline; printf 'cmdline\\t%s\\n' "$_c"
}
`;

const READ_PROGRAM = withLedgerListing(`${REPORT}
report "$@"
exit 0
`);

// Arguments (after withLedger's two): the two persistence files, the action on each ("" leave,
// "-" remove, "w<bytes in base64>" write), the directories to remove when empty (counted), the modules to
// load (counted, each a name and its "p=v" words), the parameters to write at run time (counted,
// each a module, a parameter and its value), the modules to unload (counted), then the
// declared names for the closing report. The files are written before the loads, so that a module
// another declared module pulls in as a dependency is loaded with its options from the start
// (modprobe reads /etc/modprobe.d for dependencies; a later `modprobe NAME p=v` of an already
// loaded module ignores p=v). A failed load or file write unloads what this run loaded and puts
// back the files it had written.
const APPLY_PROGRAM = withLedger(`${REPORT}${FILE_HELPERS}
load=$1 opts=$2 load_action=$3 opts_action=$4 ndirs=$5; shift 5
dirs=
while [ "$ndirs" -gt 0 ]; do dirs="$dirs$1
"; shift; ndirs=$((ndirs-1)); done
[ "$(id -u)" = 0 ] || { printf 'not-root\\t%s\\n' "$(id -un)"; exit 0; }
# One KernelModule's loads and unloads at a time on this host: what a modprobe brought in is what
# appeared in /sys/module meanwhile, which another resource's load must not add to. The lock is
# the kind's ledger directory (no file left behind); a failed redirection would end this shell.
if command -v flock >/dev/null 2>&1 && [ -d "\${ledger_dir:-}" ]; then exec 7<"$ledger_dir" && flock 7; fi
# "MODULE IFNAME" for each interface in service that a module runs: a NIC's driver, and a link
# kind's (rtnl-link-KIND: bridge, bonding, vxlan). Their devices hold no reference rmmod sees,
# and rmmod deletes them: a host's bridge or bond, and its network with it. In service: up, or
# another's master; not the idle device a module makes as it loads (bonding's bond0, dummy0).
link_modules() {
  for _d in /sys/class/net/*/device/driver/module; do
    [ -e "$_d" ] || continue
    _n=\${_d#/sys/class/net/}; _n=\${_n%%/*}; _f=0; read -r _f 2>/dev/null < "/sys/class/net/$_n/flags"
    [ $((_f & 1)) = 1 ] || continue
    _t=$(readlink "$_d"); printf '%s %s\\n' "\${_t##*/}" "$_n"
  done
  command -v ip >/dev/null 2>&1 || return 0
  # ip -d -o: "N: NAME[@LINK]: <FLAGS> … [master M] … \\    link/… \\    KIND …", the kind opening the third part when there is one.
  _kinds=$(ip -d -o link show 2>/dev/null | awk -F'\\\\    ' '
    { split($1, h, ": "); n = h[2]; sub(/@.*/, "", n)
      if ($1 ~ /<([^>]*,)?UP[,>]/) live[n] = 1
      if (match($1, / master [^ ]+/)) live[substr($1, RSTART + 8, RLENGTH - 8)] = 1
      if (NF >= 3) { split($3, k, " "); kind[n] = k[1] } }
    END { for (n in kind) if (n in live) print kind[n], n }')
  for _k in $(printf '%s\\n' "$_kinds" | awk 'NF { print $1 }' | sort -u); do
    for _r in $(modprobe -R "rtnl-link-$_k" 2>/dev/null); do printf '%s\\n' "$_kinds" | awk -v k="$_k" -v r="$_r" '$1 == k { print r, $2 }'; done
  done
}
# Unloads exactly these modules (rmmod, never modprobe -r, which would also take out
# dependencies loaded before us), dependents before what they use; rmmod refuses a module in use,
# and one an interface runs on is left as in use.
unload() {
  _links=$(link_modules) _left=
  for _m in "$@"; do
    _on=$(printf '%s\\n' "$_links" | awk -v m="$_m" '$1 == m { printf " %s", $2 }')
    if [ -n "$_on" ] && [ -e "/sys/module/$_m/initstate" ]; then
      printf 'in-use\\t%s\\t%s\\n' "$_m" "interfaces$_on run on it, and unloading it would delete them"
      [ -z "$failing" ] || printf 'rollback-failed\\tmodule:%s\\n' "$_m"
    else
      _left="$_left $_m"
    fi
  done
  while [ -n "$_left" ]; do
    _next= _progress=
    for _m in $_left; do
      [ -e "/sys/module/$_m/initstate" ] || { unloaded "$_m"; continue; }
      if rmmod "$_m" >/dev/null 2>&1; then unloaded "$_m"; _progress=1; else _next="$_next $_m"; fi
    done
    _left=$_next
    [ -n "$_progress" ] || break
  done
  for _m in $_left; do
    if _e=$(rmmod "$_m" 2>&1); then unloaded "$_m"; else
      printf 'in-use\\t%s\\t%s\\n' "$_m" "$(flat "$_e")"
      # A failed run's load it could not take back stays in this run's ledger, for the next run.
      [ -z "$failing" ] || printf 'rollback-failed\\tmodule:%s\\n' "$_m"
    fi
  done
}
# Under withLedger, out of the ledger at once: a module this resource unloaded is no longer its own.
unloaded() {
  printf 'unloaded\\t%s\\n' "$1"
  [ -n "\${ledger_content:-}" ] || return 0
  grep -vxF "$(printf 'item\\tmodule:%s' "$1")" "$ledger" > "$ledger.tmp" && chmod 0600 "$ledger.tmp" && mv -f "$ledger.tmp" "$ledger"
}
added_all=
# Each file's bytes before this run, in base64 ("" when absent; an x tells an empty file from
# none), so a failure puts back the files already written as well as unloading what was loaded.
saved() { if [ -e "$1" ]; then base64 -w0 < "$1"; printf x; fi; }
load_before=$(saved "$load") opts_before=$(saved "$opts") written=
restore_files() {
  for _f in $written; do
    if [ "$_f" = "$load" ]; then _was=$load_before; else _was=$opts_before; fi
    if [ -n "$_was" ]; then put_file "$_f" "\${_was%x}"; else rm -f "$_f"; fi
  done
}
# Run-time parameter writes already made, put back newest first (before any unload).
pn=0
restore_parameters() {
  while [ "$pn" -gt 0 ]; do
    eval "_p=\\$param_path_$pn _v=\\$param_old_$pn"
    (printf '%s\\n' "$_v" > "$_p") 2>/dev/null || printf 'rollback-failed\\t%s\\n' "$_p"
    pn=$((pn-1))
  done
}
# Modules the modprobe under way loaded: new since $before, and among those it $brings (another
# loaded by something else meanwhile, a container runtime's br_netfilter, is not this resource's).
newly_loaded() { for x in $(loaded_set); do case "$before" in *" $x "*) ;; *) case " $brings " in *" $x "*) printf ' %s' "$x" ;; esac ;; esac; done; }
# A stop while modprobe runs may find the module loaded: what it brought in goes too.
loading= failing=
fail() {
  failing=1
  [ -z "$loading" ] || added_all="$(newly_loaded) $added_all"
  restore_parameters; restore_files; undo_files; unload $added_all; printf 'failed\\t%s\\t%s\\n' "$1" "$(flat "$2")"; exit 0
}
apply_file() {
  case $2 in
    -) err=$(rm -f "$1" 2>&1) || fail "$1" "$err" ;;
    w*) put_file "$1" "\${2#w}" || fail "$1" "$err" ;;
    *) return 0 ;;
  esac
  written="$written $1"
}
apply_file "$load" "$load_action"
apply_file "$opts" "$opts_action"
count=$1; shift
while [ "$count" -gt 0 ]; do
  m=$1 words=$2 ours=$3 brings=$4; shift 4; count=$((count-1))
  before=" $(loaded_set) " loading=1
  # Without the lock's descriptor: an install rule that leaves a process behind must not hold it.
  err=$(modprobe "$m" $words 2>&1 7<&-); code=$?
  added=$(newly_loaded)
  # A failed load can leave its dependencies loaded; an install rule can exit 0 without loading it.
  added_all="$added $added_all" loading=
  [ "$code" = 0 ] || fail "$m" "$err"
  if [ ! -e "/sys/module/$m/initstate" ]; then
    rule=$(modprobe -n -v "$m" 2>/dev/null | grep '^install ' | head -n 1)
    fail "$m" "modprobe exited 0 but the kernel has not loaded it\${rule:+ (modprobe.d has modprobe run this instead: $rule)}"
  fi
  printf 'new\\t%s\\t%s\\n' "$m" "$added"
  # Under withLedger, into the ledger at once: what the load brought in is this resource's from now on
  # (not when it loads again a module that was there before it: that stays the host's).
  if [ "$ours" = 1 ] && [ -n "\${ledger_content:-}" ]; then for x in $added; do printf 'item\\tmodule:%s\\n' "$x" >> "$ledger"; done; fi
done
count=$1; shift
while [ "$count" -gt 0 ]; do
  m=$1 p=$2 v=$3; shift 3; count=$((count-1))
  path=/sys/module/$m/parameters/$p
  old=$(cat "$path" 2>&1) || fail "$m.$p" "$old"
  pn=$((pn+1)); eval "param_path_$pn=\\$path param_old_$pn=\\$old"
  err=$( (printf '%s\\n' "$v" > "$path") 2>&1) || fail "$m.$p" "$err"
done
count=$1; shift
unloads=
while [ "$count" -gt 0 ]; do unloads="$unloads $1"; shift; count=$((count-1)); done
unload $unloads
(set -f; IFS='
'; rm_dirs $dirs)
report "$load" "$opts" "$@"
printf 'done\\n'
`);

export interface LoadedModule {
    refcnt: number;
    holders: string[];
}

export interface ModuleSnapshot {
    /** modprobe's path ("" when the host has none). */
    modprobe: string;
    release: string;
    /** Every loaded loadable module, by name. */
    loaded: Map<string, LoadedModule>;
    /** Declared modules built into the kernel. */
    builtin: Set<string>;
    /** `modprobe -n -v NAME` for each declared module: exit code 0 = loadable (or loaded, or built in); what it would do. */
    probe: Map<string, { ok: boolean; message: string }>;
    /** The modules `modprobe -n -v NAME` would insert for a declared module not loaded (its dependencies, then itself), by name. */
    inserts: Map<string, string[]>;
    /** `modprobe -R NAME`: the modules a declared name stands for (itself, unless it is an alias); none where modprobe cannot say. */
    resolvesTo: Map<string, string[]>;
    /** `modinfo -F parm NAME`: the parameters each declared module takes, where modinfo could say. */
    parameterNames: Map<string, Set<string>>;
    /** The type modinfo gives each of them ("int", "bool", "array of ushort"), where it gives one. */
    parameterTypes: Map<string, Map<string, string>>;
    /** Live parameter values of declared modules that are loaded. */
    parameters: Map<string, Record<string, string>>;
    /** The parameters of each, by name, the kernel lets a write change at run time (owner-writable mode). */
    writableParameters: Map<string, Set<string>>;
    /** Content of each persistence file, null when absent. */
    files: Map<string, FileData | null>;
    /** Persistence file paths that are symbolic links, to these targets: never written through, nor replaced. */
    links: Map<string, string>;
    /**
     * Other modprobe.d files' `options` lines for the declared modules, as found (every directory
     * kmod reads), then the kernel command line's MODULE.PARAM=VALUE words (file /proc/cmdline).
     */
    otherOptions: ModuleOptionsLine[];
    /** Where a declared module is blacklisted: a modprobe.d `blacklist` line, or the command line's modprobe.blacklist=. */
    blacklist: { module: string; file: string }[];
    /** Modules another modules-load.d file (or the command line's modules_load=) loads at boot, with that file: something on the host relies on them. */
    loadedElsewhere: Map<string, string>;
    /** Every resource's ledger on the host, by path (none after an apply). */
    ledgers: Map<string, HostLedger>;
}

/** One `options NAME p=v …` line of a modprobe.d file, or a module's words on the kernel command line. */
export interface ModuleOptionsLine {
    file: string;
    module: string;
    parameters: Record<string, string>;
}

export const KERNEL_COMMAND_LINE = "/proc/cmdline";

/** Words as the kernel's parser and kmod split them: a value may be quoted, spaces and all. */
const quotedWords = (text: string): string[] => (text.match(/(?:[^\s"]|"[^"]*")+/g) ?? []).map((w) => w.replace(/"/g, ""));

/**
 * What kmod takes from the kernel command line: MODULE.PARAM=VALUE as options, modprobe.blacklist=A,B;
 * and what systemd-modules-load loads from it: modules_load=A,B (rd.modules_load= in the initrd).
 */
export function parseKernelCommandLine(text: string): { options: ModuleOptionsLine[]; blacklisted: string[]; loads: string[] } {
    const options: ModuleOptionsLine[] = [];
    const blacklisted: string[] = [];
    const loads: string[] = [];
    for (const word of quotedWords(text.split(" -- ")[0])) {
        const bootLoads = /^(?:rd\.)?modules_load=(.*)$/.exec(word);
        const match = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_.-]+?)(?:=(.*))?$/.exec(word);
        if (bootLoads) {
            loads.push(...bootLoads[1].split(",").filter(Boolean).map(normaliseModuleName));
        } else if (match && match[1] === "modprobe" && match[2] === "blacklist") {
            blacklisted.push(...(match[3] ?? "").split(",").filter(Boolean).map(normaliseModuleName));
        } else if (match) {
            options.push({ file: KERNEL_COMMAND_LINE, module: normaliseModuleName(match[1]), parameters: { [normaliseModuleName(match[2])]: match[3] ?? "" } });
        }
    }
    return { options, blacklisted, loads };
}

export function parseModuleSnapshot(stdout: string): ModuleSnapshot {
    const snapshot: ModuleSnapshot = { modprobe: "", release: "", loaded: new Map(), builtin: new Set(), probe: new Map(), inserts: new Map(), resolvesTo: new Map(), parameterNames: new Map(), parameterTypes: new Map(), parameters: new Map(), writableParameters: new Map(), files: new Map(), links: new Map(), otherOptions: [], blacklist: [], loadedElsewhere: new Map(), ledgers: parseLedgerListing(stdout) };
    let commandLine: ReturnType<typeof parseKernelCommandLine> | undefined;
    for (const line of stdout.split("\n")) {
        const [kind, a = "", b = "", c = "", d = ""] = line.split("\t");
        if (kind === "modprobe") {
            snapshot.modprobe = a.trim();
        } else if (kind === "release") {
            snapshot.release = a.trim();
        } else if (kind === "loaded") {
            snapshot.loaded.set(a, { refcnt: Number(b) || 0, holders: c.split(" ").filter(Boolean) });
        } else if (kind === "builtin") {
            snapshot.builtin.add(a);
        } else if (kind === "probe") {
            snapshot.probe.set(a, { ok: b === "0", message: c.trim() });
            snapshot.inserts.set(a, [...c.matchAll(/(?:^|\s)insmod\s+\S*?([^/\s]+)\.ko(?:\.\w+)?(?=\s|$)/g)].map((m) => m[1].replace(/-/g, "_")));
        } else if (kind === "resolves") {
            snapshot.resolvesTo.set(a, b.split(" ").filter(Boolean));
        } else if (kind === "parms") {
            snapshot.parameterNames.set(a, snapshot.parameterNames.get(a) ?? new Set());
        } else if (kind === "modinfo-parm") {
            const parm = parseModinfoParm(line.split("\t").slice(2).join(" "));
            if (parm) {
                snapshot.parameterNames.set(a, new Set([...(snapshot.parameterNames.get(a) ?? []), parm.name]));
                if (parm.type) {
                    snapshot.parameterTypes.set(a, new Map([...(snapshot.parameterTypes.get(a) ?? []), [parm.name, parm.type]]));
                }
            }
        } else if (kind === "param") {
            snapshot.parameters.set(a, { ...(snapshot.parameters.get(a) ?? {}), [b]: c.trim() });
            if (/^[0-7]*[2367][0-7]{2}$/.test(d.trim())) {
                snapshot.writableParameters.set(a, new Set([...(snapshot.writableParameters.get(a) ?? []), b]));
            }
        } else if (kind === "options") {
            const [, module = "", ...words] = quotedWords(b);
            const parameters = Object.fromEntries(words.map((w) => [normaliseModuleName(w.split("=")[0]), w.includes("=") ? w.slice(w.indexOf("=") + 1) : ""]));
            snapshot.otherOptions.push({ file: a, module: normaliseModuleName(module), parameters });
        } else if (kind === "blacklist") {
            snapshot.blacklist.push({ module: b, file: a });
        } else if (kind === "loads-elsewhere") {
            snapshot.loadedElsewhere.set(b, snapshot.loadedElsewhere.get(b) ?? a);
        } else if (kind === "cmdline") {
            commandLine = parseKernelCommandLine(line.slice(kind.length + 1));
        } else if (kind === "file") {
            snapshot.files.set(a, fileFromBase64(b));
        } else if (kind === "absent") {
            snapshot.files.set(a, null);
        } else if (kind === "link") {
            snapshot.links.set(a, b);
        }
    }
    // After every file: kmod reads the command line last.
    snapshot.otherOptions.push(...(commandLine?.options ?? []));
    snapshot.blacklist.push(...(commandLine?.blacklisted ?? []).map((module) => ({ module, file: KERNEL_COMMAND_LINE })));
    for (const module of commandLine?.loads ?? []) {
        snapshot.loadedElsewhere.set(module, snapshot.loadedElsewhere.get(module) ?? KERNEL_COMMAND_LINE);
    }
    return snapshot;
}

export async function readModules(transport: Transport, files: { load: string; options: string }, names: readonly string[]): Promise<ModuleSnapshot> {
    const result = await transport.run(shProgram(READ_PROGRAM, "pulumi-modules-read", [files.load, files.options, ...names]));
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "module read", result);
    }
    return parseModuleSnapshot(result.stdout);
}

/** A file's new content, null to remove it, undefined to leave it. */
export type FileAction = FileData | null | undefined;

export interface ModuleChanges {
    /**
     * `ours`: loaded by this resource (its original is "not loaded"); what it brings in goes into the
     * ledger. `brings`: the modules its load may insert (itself, and what `modprobe -n -v` lists):
     * only those count as brought in, not a module something else loads meanwhile.
     */
    load: { name: string; parameters: Record<string, string>; ours: boolean; brings: string[] }[];
    /** Run-time writes to /sys/module/NAME/parameters/P of modules this resource loaded, after the loads. */
    parameters: { name: string; parameter: string; value: string }[];
    unload: string[];
    files: { load: FileAction; options: FileAction };
    rmdir: string[];
}

export interface ApplyOutcome {
    snapshot: ModuleSnapshot;
    /** Declared module → the modules its load brought in (itself and dependencies). */
    added: Record<string, string[]>;
    unloaded: string[];
    /** Modules rmmod refused (in use), with its message. */
    inUse: { name: string; message: string }[];
    createdDirs: string[];
}

export class ModuleApplyError extends Error {}

export function parseApplyOutput(target: string, stdout: string): ApplyOutcome {
    throwIfLedgerUnwritten(target, stdout);
    const outcome: ApplyOutcome = { snapshot: parseModuleSnapshot(stdout), added: {}, unloaded: [], inUse: [], createdDirs: [] };
    const notRestored: string[] = [];
    let failure: string | undefined;
    for (const line of stdout.split("\n")) {
        const [kind, a = "", b = ""] = line.split("\t");
        if (kind === "new") {
            outcome.added[a] = b.split(" ").filter(Boolean);
        } else if (kind === "unloaded") {
            outcome.unloaded.push(a);
        } else if (kind === "in-use") {
            outcome.inUse.push({ name: a, message: b.trim() });
        } else if (kind === "created") {
            outcome.createdDirs.push(a);
        } else if (kind === "rollback-failed" && !a.startsWith("module:")) {
            notRestored.push(a.replace(/^\/sys\/module\/([^/]+)\/parameters\//, "$1."));
        } else if (kind === "failed") {
            failure = `${a}: ${b.trim() || "failed"}`;
        } else if (kind === "not-root") {
            throw new ModuleApplyError(`${target}: loading kernel modules needs root, and this runs as ${a}: run as root, or set the connection's sudo: true (passwordless sudo). Nothing was changed.`);
        }
    }
    if (failure) {
        const stuck = [
            ...(outcome.inUse.length ? [`Could NOT unload ${outcome.inUse.map((m) => `${m.name} (${m.message})`).join(", ")}, which the host-side ledger keeps as this resource's for the next up or destroy`] : []),
            ...(notRestored.length ? [`Could NOT put back parameter ${notRestored.join(", ")}`] : []),
        ];
        const kept = stuck.length ? ` ${stuck.join("; ")}: check the host.` : " Every module this operation had loaded was unloaded again, every parameter it had written is back, and the files are as they were.";
        throw new ModuleApplyError(`${target}: ${failure}.${kept}`);
    }
    if (!/^done$/m.test(stdout)) {
        throw new ModuleApplyError(`${target}: the module apply program ended early: ${stdout.trim() || "(no output)"}`);
    }
    return outcome;
}

export async function applyModules(transport: Transport, files: { load: string; options: string }, changes: ModuleChanges, names: readonly string[], ledger: LedgerAction | undefined): Promise<ApplyOutcome> {
    const args = [
        ...ledgerArgs(ledger),
        files.load,
        files.options,
        fileActionArg(changes.files.load),
        fileActionArg(changes.files.options),
        String(changes.rmdir.length),
        ...changes.rmdir,
        String(changes.load.length),
        ...changes.load.flatMap((m) => [m.name, Object.entries(m.parameters).map(([p, v]) => `${p}=${v}`).join(" "), m.ours ? "1" : "0", m.brings.join(" ")]),
        String(changes.parameters.length),
        ...changes.parameters.flatMap((w) => [w.name, w.parameter, w.value]),
        String(changes.unload.length),
        ...changes.unload,
        ...names,
    ];
    const result = await transport.run(shProgram(APPLY_PROGRAM, "pulumi-modules-apply", args));
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "module apply", result);
    }
    return parseApplyOutput(transport.target, result.stdout);
}
