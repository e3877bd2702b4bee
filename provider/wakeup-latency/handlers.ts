import { formatCpuList, parseCpuList } from "../cpus";
import { sysfsHandlers } from "../sysfs/handlers";
import { CpuWakeupLatencyInputs, LEDGER_KIND, TMPFILES_KIND, cpuWakeupLatencyInputsSchema } from "./schema";

const CPU_ROOT = "/sys/devices/system/cpu";
const ONLINE = `${CPU_ROOT}/online`;

/** SysfsSet's handlers on /sys/devices/system/cpu/cpuN/power/pm_qos_resume_latency_us, one path per CPU. */
export const { check, diff, create, update, read, remove, liveDrift } = sysfsHandlers<CpuWakeupLatencyInputs>({
    name: TMPFILES_KIND,
    ledgerKind: LEDGER_KIND,
    schema: cpuWakeupLatencyInputsSchema,
    inputFields: ["connection", "cpus", "latencyUs", "persist", "restoreOnDelete", "resourceName", "owner"],
    fields: ["cpus", "latencyUs", "persist", "restoreOnDelete"],
    settings: (inputs) => Object.fromEntries(parseCpuList(inputs.cpus).map((cpu) => [`${CPU_ROOT}/cpu${cpu}/power/pm_qos_resume_latency_us`, String(inputs.latencyUs)])),
    property: () => "latencyUs",
    pathProperty: () => "cpus",
    mainProperty: () => "cpus",
    onMissing: () => "fail",
    extraReads: [ONLINE],
    // An offline CPU keeps its request but runs nothing: declaring it is a mistake about the host.
    hostProblems: (inputs, snapshot) => {
        const state = snapshot.get(ONLINE);
        const online = parseCpuList(state?.kind === "file" ? state.content : "");
        const offline = parseCpuList(inputs.cpus).filter((cpu) => !online.includes(cpu));
        return offline.length > 0 ? [{ property: "cpus", why: `CPU ${formatCpuList(offline)} ${offline.length === 1 ? "is" : "are"} not online (online: ${formatCpuList(online)})` }] : [];
    },
});
