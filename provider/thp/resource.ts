import * as pulumi from "@pulumi/pulumi";
import { SysfsBaseArgs, SysfsResource } from "../sysfs/resource";

export interface TransparentHugepagesArgs extends SysfsBaseArgs {
    /** /sys/kernel/mm/transparent_hugepage/enabled: "never" for low latency (tuned network-latency, Mellanox). */
    enabled?: pulumi.Input<"always" | "madvise" | "never">;
    /** /sys/kernel/mm/transparent_hugepage/defrag. */
    defrag?: pulumi.Input<"always" | "defer" | "defer+madvise" | "madvise" | "never">;
}

/** Transparent huge pages on one host: a SysfsSet of the two THP files, with their words checked at preview. */
export class TransparentHugepages extends SysfsResource {
    constructor(name: string, args: TransparentHugepagesArgs, opts?: pulumi.CustomResourceOptions) {
        super("thp/handlers", "TransparentHugepages", name, args, opts);
    }
}
