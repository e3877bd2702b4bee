import { SysfsSet } from "../../../provider";
import * as handlers from "../../../provider/sysfs/handlers";
import { Lab, LabHost, connectionTo, onHost } from "../lab";
import type { LedgerCase } from "./case";

const qos = (cpu: number) => `/sys/devices/system/cpu/cpu${cpu}/power/pm_qos_resume_latency_us`;

/** Each of `paths` with its value, and /etc/tmpfiles.d: every entry (type, mode, owner) and every file's hash. */
export function sysfsHostState(lab: Lab, host: LabHost, paths: readonly string[]): string {
    return onHost(lab, host, [
        "sh",
        "-c",
        'for p in "$@"; do printf "%s=%s\\n" "$p" "$(cat "$p")"; done; find /etc/tmpfiles.d -printf "%y %m %U:%G %p\\n" 2>/dev/null | sort; find /etc/tmpfiles.d -type f -exec sha256sum {} + 2>/dev/null | sort -k 2',
        "sh",
        ...paths,
    ]);
}

export const sysfsSetCase: LedgerCase = {
    name: "SysfsSet",
    kind: "sysfs",
    hardware: "server",
    args: (lab, host, variant) => ({
        connection: connectionTo(lab, host),
        settings: variant === "a" ? { [qos(1)]: 20, [qos(2)]: 40 } : { [qos(1)]: 30, [qos(2)]: 50 },
    }),
    fewer: (lab, host) => ({ connection: connectionTo(lab, host), settings: { [qos(1)]: 20 } }),
    declare: (name, args) => new SysfsSet(name, args as never),
    create: handlers.create,
    hostState: (lab, host) => sysfsHostState(lab, host, [qos(1), qos(2)]),
};
