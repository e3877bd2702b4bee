import { sysfsHandlers } from "../sysfs/handlers";
import { LEDGER_KIND, THP_FILES, THP_ROOT, TMPFILES_KIND, TransparentHugepagesInputs, transparentHugepagesInputsSchema } from "./schema";

/** SysfsSet's handlers on /sys/kernel/mm/transparent_hugepage/{enabled,defrag}. */
export const { check, diff, create, update, read, remove, liveDrift } = sysfsHandlers<TransparentHugepagesInputs>({
    name: TMPFILES_KIND,
    ledgerKind: LEDGER_KIND,
    schema: transparentHugepagesInputsSchema,
    inputFields: ["connection", "enabled", "defrag", "persist", "restoreOnDelete", "resourceName", "owner"],
    fields: ["enabled", "defrag", "persist", "restoreOnDelete"],
    settings: (inputs) => Object.fromEntries(THP_FILES.filter((f) => inputs[f] !== undefined).map((f) => [`${THP_ROOT}/${f}`, inputs[f]!])),
    property: (_inputs, path) => path.slice(THP_ROOT.length + 1),
    mainProperty: (inputs) => (inputs.enabled !== undefined ? "enabled" : "defrag"),
    // A kernel without THP (CONFIG_TRANSPARENT_HUGEPAGE=n) has no such files: a preview failure, not a silent skip.
    onMissing: () => "fail",
    refreshed: (inputs, live) => {
        const refreshed = { ...inputs };
        for (const file of THP_FILES) {
            const value = live[`${THP_ROOT}/${file}`];
            if (inputs[file] !== undefined && value !== undefined) {
                refreshed[file] = value;
            }
        }
        return refreshed;
    },
});
