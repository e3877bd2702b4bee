import { Claimant, claimantName } from "../host/ledger";

/**
 * A NicRingConfig that resizes rings or channels, and an IrqAffinity or PacketSteering on the same
 * interface of one host, in one program, without `nic` (or the NIC in `dependsOn`): the engine
 * may apply them at once, and a ring or channel change reallocates queue IRQs (channels: creates
 * and removes queues) after the other applied, or puts back the affinity it saw before. Seen at
 * preview from either side. Module state lives for the provider process, as the ownership
 * claims' does.
 */
export type NicChange = "rings" | "channels";

interface Follower extends Claimant {
    /** The NIC changes that undo what it set. */
    undoneBy: readonly NicChange[];
}

const resizers = new Map<string, Claimant & { changes: readonly NicChange[] }>();
const unlinkedFollowers = new Map<string, Follower[]>();

const at = (hostId: string, iface: string) => `${hostId}\0${iface}`;

/** A NicRingConfig's check: the unlinked followers it would undo, each as a reason. */
export function nicResizes(hostId: string, iface: string, nic: Claimant, changes: readonly NicChange[]): string[] {
    if (changes.length === 0) {
        return [];
    }
    resizers.set(at(hostId, iface), { ...nic, changes });
    return (unlinkedFollowers.get(at(hostId, iface)) ?? [])
        .filter((f) => f.undoneBy.some((c) => changes.includes(c)))
        .map((f) => `${iface}'s ${changes.join(" and ")} change would undo what ${claimantName(f)} in this program sets on it; pass this NicRingConfig as its nic (or in its dependsOn), so it applies after every change`);
}

/** An IrqAffinity's or PacketSteering's check without `nic`: the reason, when a NicRingConfig of this run resizes the interface. */
export function unlinkedFollower(hostId: string, iface: string, follower: Follower): string | undefined {
    const key = at(hostId, iface);
    const others = (unlinkedFollowers.get(key) ?? []).filter((f) => f.kind !== follower.kind || f.owner !== follower.owner);
    unlinkedFollowers.set(key, [...others, follower]);
    const nic = resizers.get(key);
    const undoing = nic?.changes.filter((c) => follower.undoneBy.includes(c)) ?? [];
    return nic && undoing.length > 0
        ? `${claimantName(nic)} in this program changes ${iface}'s ${undoing.join(" and ")}, which undoes this; pass it as nic (or in dependsOn), so this applies after every change`
        : undefined;
}
