// Any sysfs attribute, as tuned's [sysfs] plugin sets them: here the NIC's NAPI hard-IRQ deferral
// (kernel commit 6f8b12d661d0, Linux 5.7, "net: napi: add hard irqs deferral feature"), which
// trades a little latency for fewer interrupts on busy receive queues.
//
//   pulumi config set host 10.0.0.5
//   pulumi config set hostKey "$(ssh-keyscan -t ed25519 10.0.0.5 2>/dev/null | cut -d' ' -f2-)"
//   pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519
//   pulumi config set interface ens1f0
import * as pulumi from "@pulumi/pulumi";
import { SysfsSet } from "pulumi-linux-tuning";

const config = new pulumi.Config();
const connection = { host: config.require("host"), hostKey: config.require("hostKey"), privateKey: config.requireSecret("sshPrivateKey") };
const device = `/sys/class/net/${config.get("interface") ?? "eth1"}`;

// The commit's own example: after a poll that found packets, poll again from a 20 µs timer up to
// 10 times while the queue stays busy, instead of re-arming the NIC's interrupt each time.
const napi = new SysfsSet("napi", {
    connection,
    settings: {
        [`${device}/gro_flush_timeout`]: config.getNumber("groFlushTimeoutNs") ?? 20000,
        [`${device}/napi_defer_hard_irqs`]: config.getNumber("deferHardIrqs") ?? 10,
    },
});

/** Path → what the host holds now, and what each held before (written back by destroy). */
export const live = napi.live;
export const originals = napi.originals;
export const persistedFile = napi.persistedFile;
