import { NicOffloads } from "../../../provider";
import * as handlers from "../../../provider/nic-offload/handlers";
import { connectionTo } from "../lab";
import type { LedgerCase } from "./case";
import { nicHostState } from "./nic-ring-config";

export const nicOffloadsCase: LedgerCase = {
    name: "NicOffloads",
    kind: "nic-offload",
    hardware: "server",
    args: (lab, host, variant) => ({
        connection: connectionTo(lab, host),
        interface: "eth1",
        features: variant === "a" ? { gro: true, tso: false } : { gro: false, tso: true },
        txqueuelen: variant === "a" ? 5000 : 2000,
    }),
    fewer: (lab, host) => ({ connection: connectionTo(lab, host), interface: "eth1", features: { gro: true } }),
    declare: (name, args) => new NicOffloads(name, args as never),
    create: handlers.create,
    hostState: nicHostState,
};
