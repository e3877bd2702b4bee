import { TransparentHugepages } from "../../../provider";
import * as handlers from "../../../provider/thp/handlers";
import { connectionTo } from "../lab";
import type { LedgerCase } from "./case";
import { sysfsHostState } from "./sysfs-set";

const THP = "/sys/kernel/mm/transparent_hugepage";

export const transparentHugepagesCase: LedgerCase = {
    name: "TransparentHugepages",
    kind: "thp",
    hardware: "server",
    args: (lab, host, variant) => ({
        connection: connectionTo(lab, host),
        ...(variant === "a" ? { enabled: "never", defrag: "defer+madvise" } : { enabled: "madvise", defrag: "never" }),
    }),
    fewer: (lab, host) => ({ connection: connectionTo(lab, host), enabled: "never" }),
    declare: (name, args) => new TransparentHugepages(name, args as never),
    create: handlers.create,
    hostState: (lab, host) => sysfsHostState(lab, host, [`${THP}/enabled`, `${THP}/defrag`]),
};
