import { z } from "zod";
import { sysfsBaseShape, tmpfilesNameFits } from "../sysfs/schema";

/** The ledger directory's name: /var/lib/pulumi-linux-tuning/thp. */
export const LEDGER_KIND = "thp";

/** Names its tmpfiles.d file: /etc/tmpfiles.d/90-pulumi-thp-<resource name>.conf. */
export const TMPFILES_KIND = "thp";

export const THP_ROOT = "/sys/kernel/mm/transparent_hugepage";

/** The words mm/huge_memory.c takes for each file (docs.kernel.org admin-guide/mm/transhuge). */
export const THP_WORDS = {
    enabled: ["always", "madvise", "never"],
    defrag: ["always", "defer", "defer+madvise", "madvise", "never"],
} as const;

export const THP_FILES = ["enabled", "defrag"] as const;

export const transparentHugepagesInputsSchema = z
    .object({
        ...sysfsBaseShape,
        enabled: z.enum(THP_WORDS.enabled).optional(),
        defrag: z.enum(THP_WORDS.defrag).optional(),
    })
    .strict()
    .refine((i) => i.enabled !== undefined || i.defrag !== undefined, { message: "set enabled, defrag or both", path: ["enabled"] })
    .superRefine(tmpfilesNameFits(TMPFILES_KIND));

export type TransparentHugepagesInputs = z.infer<typeof transparentHugepagesInputsSchema>;
