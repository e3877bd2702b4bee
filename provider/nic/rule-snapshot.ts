import { FileData, fileFromBase64 } from "../host/files";
import type { HostLedger } from "../host/ledger";
import { ManagedFiles, withCreatedDirs } from "../host/restore";

/**
 * What every interface resource persisted by a udev rule (NicRingConfig, NicOffloads) reads
 * besides its own values: where ethtool is, whether the interface exists, this resource's rule,
 * the directories an apply created, and every host ledger (a read's; an apply lists none).
 */
export interface RuleSnapshot {
    exists: boolean;
    ethtoolPath: string;
    ownRule: FileData | null;
    /** The rule's path is a symbolic link, to this target: never written through, nor replaced. */
    ownLink?: string;
    ledgers: ReadonlyMap<string, HostLedger>;
    /** Directories an apply created (they did not exist before), outermost first. */
    createdDirs?: string[];
}

/** Takes one line of a read or apply program's output into `snapshot`; false when it is not one of these. */
export function parseRuleLine(snapshot: RuleSnapshot, kind: string, value: string): boolean {
    if (kind === "ethtool") {
        snapshot.ethtoolPath = value.trim();
    } else if (kind === "no-interface") {
        snapshot.exists = false;
    } else if (kind === "created") {
        (snapshot.createdDirs ??= []).push(value);
    } else if (kind === "own") {
        snapshot.ownRule = fileFromBase64(value);
    } else if (kind === "own-link") {
        snapshot.ownLink = value;
    } else {
        return false;
    }
    return true;
}

/**
 * After an apply: the record learns the directories it created (removed on delete when empty),
 * and the snapshot shows the rule as now on the host.
 */
/** `rule`: what the apply wrote (null: removed it; undefined: left it). */
export function afterRuleWrite(record: { managedFiles?: ManagedFiles }, before: RuleSnapshot, after: RuleSnapshot, rule: FileData | null | undefined): void {
    if (record.managedFiles && after.createdDirs) {
        record.managedFiles = withCreatedDirs(record.managedFiles, after.createdDirs);
    }
    after.ownRule = rule === undefined ? before.ownRule : rule;
    after.ethtoolPath ||= before.ethtoolPath;
}
