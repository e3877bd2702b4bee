/**
 * irqbalance rewrites IRQ affinity every 10 s unless told not to. Before any affinity write we
 * either ban our IRQs (`--banirq`, kept in IRQBALANCE_ARGS of its environment file, as tuned's
 * irqbalance plugin keeps its banned CPUs there) or stop it; delete puts it back as it was.
 */

import { FileData, bytesOf, fileFromBytes } from "../host/files";
import { PathContent, fileOf } from "../host/restore";

export const CONFIG_FILES = ["/etc/default/irqbalance", "/etc/sysconfig/irqbalance"];

/**
 * The environment file is edited, not replaced, and may hold bytes that are not UTF-8 (a Latin-1
 * comment): it is handled one character per byte (latin1), so editing its IRQBALANCE_ARGS line
 * keeps every other byte as it was.
 */
export const configBytes = (file: FileData): string => bytesOf(file).toString("latin1");

/** The environment file holding `bytes` (one character per byte), as its record keeps it. */
export const configContent = (bytes: string): PathContent => fileOf(fileFromBytes(Buffer.from(bytes, "latin1")));

export interface IrqbalanceState {
    running: boolean;
    pids: number[];
    /** argv of the running daemon. */
    cmdline: string[];
    /** Managed by a running systemd. */
    systemd: boolean;
    /** On a systemd host, the unit other than irqbalance.service whose cgroup the daemon runs in. */
    otherUnit?: string;
    configFile: string;
    /** The environment file's bytes, one character each (configBytes); null when absent. */
    configContent: string | null;
}

const ARGS_LINE = /^([ \t]*IRQBALANCE_ARGS[ \t]*=[ \t]*)(["']?)(.*?)\2([ \t]*)$/gm;

/** The IRQBALANCE_ARGS line that counts: systemd's EnvironmentFile, like a shell, takes the last. */
function argsLine(content: string): RegExpExecArray | undefined {
    return [...content.matchAll(ARGS_LINE)].pop() as RegExpExecArray | undefined;
}

function currentArgs(content: string): string[] {
    const match = argsLine(content);
    return match ? match[3].split(/\s+/).filter(Boolean) : [];
}

/** The IRQs the environment file's IRQBALANCE_ARGS bans. */
export function bannedIn(content: string | null): number[] {
    return currentArgs(content ?? "").flatMap((a) => (/^--banirq=\d+$/.test(a) ? [Number(a.slice("--banirq=".length))] : []));
}

/** The environment file with `--banirq=N` for each IRQ added to IRQBALANCE_ARGS. */
export function withBannedIrqs(content: string | null, irqs: number[]): string {
    const text = content ?? "";
    const args = currentArgs(text);
    const wanted = [...args, ...irqs.map((irq) => `--banirq=${irq}`).filter((a) => !args.includes(a))];
    const line = `IRQBALANCE_ARGS="${wanted.join(" ")}"`;
    const match = argsLine(text);
    if (match) {
        return text.slice(0, match.index) + line + text.slice(match.index + match[0].length);
    }
    return (text && !text.endsWith("\n") ? text + "\n" : text) + line + "\n";
}

/** Whether the environment file sets IRQBALANCE_ARGS (a commented-out line does not). */
export function setsArgs(content: string | null): boolean {
    return content !== null && argsLine(content) !== undefined;
}

/**
 * The environment file with exactly our `--banirq=N` flags taken out again, everything else on
 * the line as it is. `ourLine`: we added the line, so it goes too when nothing else is left on it.
 */
export function withoutBannedIrqs(content: string, irqs: number[], ourLine = false): string {
    const ours = new Set(banArgs(irqs));
    const match = argsLine(content);
    if (!match) {
        return content;
    }
    const args = match[3].split(/\s+/).filter(Boolean);
    const kept = args.filter((a) => !ours.has(a));
    if (kept.length === args.length) {
        return content;
    }
    if (ourLine && kept.length === 0) {
        const end = match.index + match[0].length;
        return content.slice(0, match.index) + content.slice(content[end] === "\n" ? end + 1 : end);
    }
    const quote = match[2] || (kept.length > 1 ? '"' : "");
    return content.slice(0, match.index) + `${match[1]}${quote}${kept.join(" ")}${quote}${match[4]}` + content.slice(match.index + match[0].length);
}

export function banArgs(irqs: number[]): string[] {
    return irqs.map((irq) => `--banirq=${irq}`);
}
