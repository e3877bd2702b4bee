import { FILE_HELPERS, FileChanges, TRANSACTION_BODY, TransactionOutcome, ValueWrite, parseTransactionOutput, transactionArgs } from "../host/files";
import { LedgerAction, ledgerArgs, withLedger } from "../host/ledger";
import { shProgram } from "../transport/argv";
import { RemoteCommandError, Transport } from "../transport/transport";
import { ServiceAction } from "./plan";

/**
 * Deals with irqbalance first, then writes affinities transactionally; a failure reverts the
 * writes and then irqbalance. The resource's ledger is written before any of it (withLedger's
 * two leading parameters), or removed after a delete's restore. argv lists travel
 * newline-separated and are split with globbing off, so they are never re-parsed as shell.
 */
const APPLY_PROGRAM = withLedger(`${FILE_HELPERS}
conf=$1; shift
run_action() { # config ("" leave, w<bytes in base64> write, r remove) systemctl-verb kill pids start
  case $1 in
    w*) put_file "$conf" "\${1#w}" || return 1 ;;
    r) rm -f "$conf" || return 1 ;;
  esac
  if [ -n "$2" ]; then systemctl "$2" irqbalance >/dev/null 2>&1 || return 1; fi
  case $3 in
    pids) victims=$(printf '%s' "$4" | tr ',' ' ') ;;
    all) victims=$(pidof -x irqbalance) ;;
    *) victims= ;;
  esac
  if [ -n "$victims" ]; then
    kill $victims 2>/dev/null
    i=0; while [ $i -lt 50 ] && kill -0 $victims 2>/dev/null; do sleep 0.1; i=$((i+1)); done
    # A daemon still alive would go on moving the IRQs we are about to pin.
    if kill -0 $victims 2>/dev/null; then
      kill -KILL $victims 2>/dev/null
      i=0; while [ $i -lt 20 ] && kill -0 $victims 2>/dev/null; do sleep 0.1; i=$((i+1)); done
    fi
  fi
  if [ -n "$5" ]; then
    (set -f; IFS='
'; set -- $5; setsid "$@" </dev/null >/dev/null 2>&1 &)
  fi
}
do_conf=$1 do_ctl=$2 do_kill=$3 do_pids=$4 do_start=$5
un_conf=$6 un_ctl=$7 un_kill=$8 un_pids=$9; shift 9; un_start=$1; shift
undo_extra() { run_action "$un_conf" "$un_ctl" "$un_kill" "$un_pids" "$un_start" || printf 'rollback-failed\\tirqbalance\\n'; }
# Until the transaction's own: a stop while irqbalance is reconfigured puts it back too.
fail() { undo_extra; printf 'failed\\t%s\\t%s\\n' "$1" "$2"; exit 0; }
run_action "$do_conf" "$do_ctl" "$do_kill" "$do_pids" "$do_start" || fail irqbalance "could not reconfigure irqbalance"
${TRANSACTION_BODY}`);

function actionArgs(action: ServiceAction): string[] {
    const config = action.config === undefined ? "" : action.config === null ? "r" : `w${Buffer.from(action.config, "latin1").toString("base64")}`;
    return [config, action.systemctl ?? "", action.kill ?? "", (action.pids ?? []).join(","), (action.start ?? []).join("\n")];
}

export async function applyIrq(
    transport: Transport,
    configFile: string,
    action: ServiceAction,
    undo: ServiceAction,
    writes: readonly ValueWrite[],
    changes: FileChanges,
    ledger: LedgerAction | undefined,
): Promise<TransactionOutcome> {
    for (const word of [...(action.start ?? []), ...(undo.start ?? [])]) {
        if (word.includes("\n")) {
            throw new Error("irqbalance's command line contains a newline; refusing to restart it");
        }
    }
    const args = [
        ...ledgerArgs(ledger),
        configFile,
        ...actionArgs(action),
        ...actionArgs(undo),
        ...transactionArgs(writes, changes),
    ];
    const result = await transport.run(shProgram(APPLY_PROGRAM, "pulumi-irq-apply", args));
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "irq apply", result);
    }
    return parseTransactionOutput(transport.target, result.stdout, describeIrqPath);
}

/** "/proc/irq/45/smp_affinity_list" → "IRQ 45 affinity". */
export function describeIrqPath(path: string): string {
    const match = /^\/proc\/irq\/(\d+)\/smp_affinity_list$/.exec(path);
    return match ? `IRQ ${match[1]} affinity` : path;
}
