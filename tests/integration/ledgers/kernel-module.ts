import { KernelModule } from "../../../provider";
import * as handlers from "../../../provider/kernel-module/handlers";
import { connectionTo, onHost } from "../lab";
import type { LedgerCase } from "./case";

/** The emulated kernel's lsmod (names, use counts, holders), and /etc/modules-load.d and /etc/modprobe.d: entries and each file's hash. */
const MODULE_STATE = String.raw`
lsmod
for d in /etc/modules-load.d /etc/modprobe.d; do [ -e "$d" ] || echo "$d absent"; done
find /etc/modules-load.d /etc/modprobe.d -printf '%y %m %U:%G %p %l\n' 2>/dev/null | sort
find /etc/modules-load.d /etc/modprobe.d -type f -exec sha256sum {} + 2>/dev/null | sort -k 2
`;

export const kernelModuleCase: LedgerCase = {
    name: "KernelModule",
    kind: "kernel-module",
    hardware: "server",
    args: (lab, host, variant) => ({
        connection: connectionTo(lab, host),
        // tcp_diag brings in inet_diag: what an interrupted load brought in must go on destroy too.
        modules: ["tcp_diag", { name: "dummy", parameters: { numdummies: variant === "a" ? 3 : 2 } }],
    }),
    fewer: (lab, host) => ({ connection: connectionTo(lab, host), modules: ["tcp_diag"] }),
    declare: (name, args) => new KernelModule(name, args as never),
    create: handlers.create,
    hostState: (lab, host) => onHost(lab, host, ["sh", "-c", MODULE_STATE]),
};
