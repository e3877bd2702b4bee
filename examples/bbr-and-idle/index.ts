// One host, the pieces the low-latency and long-haul guides ask for besides sysctls: tcp_bbr
// loaded (and persisted) before bbr is set, transparent huge pages off, and the application cores
// kept out of deep C-states.
//
//   pulumi config set host 10.0.0.5
//   pulumi config set hostKey "$(ssh-keyscan -t ed25519 10.0.0.5 2>/dev/null | cut -d' ' -f2-)"
//   pulumi config set applicationCpus 2-3
//   pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519
//   pulumi up
import * as pulumi from "@pulumi/pulumi";
import { CpuWakeupLatency, KernelModule, SysctlSet, TransparentHugepages } from "pulumi-linux-tuning";

const config = new pulumi.Config();
const connection = { host: config.require("host"), hostKey: config.require("hostKey"), privateKey: config.requireSecret("sshPrivateKey") };

// bbr is a module on most distribution kernels. Passing `names` to the SysctlSet orders it after
// the load, and lets its preview accept bbr before the module is there.
const bbr = new KernelModule("bbr", { connection, modules: ["tcp_bbr"] });
const congestion = new SysctlSet("congestion", {
    connection,
    modules: bbr.names,
    settings: { "net.ipv4.tcp_congestion_control": "bbr" },
    // Global-only keys such as net.core.default_qdisc are absent in a container: listed in `skipped`.
    onMissing: "skip",
});

const thp = new TransparentHugepages("thp", { connection, enabled: "never" });

// At most 3 us to wake up (tuned's network-latency fallback): deeper C-states are skipped on these
// cores only, so the others still save power.
const wakeup = new CpuWakeupLatency("app-cores", { connection, cpus: config.get("applicationCpus") ?? "0", latencyUs: config.getNumber("wakeupLatencyUs") ?? 3 });

/** Per module: "loaded", "built-in" or "not loaded"; and what delete would unload. */
export const modules = bbr.loaded;
export const loadedByUs = bbr.loadedByUs;
export const congestionControl = congestion.settings;
export const transparentHugepages = thp.live;
export const wakeupLatency = wakeup.live;
