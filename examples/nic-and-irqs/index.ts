// Rings at the NIC's maximum, adaptive coalescing, GRO on and LRO off with a 10000-packet transmit
// queue (OSG's value below 40G), queue IRQs spread over the NIC's NUMA node away from the
// application cores, RPS/RFS/XPS over the same CPUs, and the performance governor, on one host.
//
//   pulumi config set host 10.0.0.5
//   pulumi config set hostKey "$(ssh-keyscan -t ed25519 10.0.0.5 | cut -d' ' -f2-)"
//   pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519
//   pulumi config set interface ens1f0
import * as pulumi from "@pulumi/pulumi";
import { CpuGovernor, IrqAffinity, NicOffloads, NicRingConfig, PacketSteering } from "pulumi-linux-tuning";

const config = new pulumi.Config();
const connection = { host: config.require("host"), hostKey: config.require("hostKey"), privateKey: config.requireSecret("sshPrivateKey") };
const iface = config.get("interface") ?? "eth1";

const nic = new NicRingConfig("nic", {
    connection,
    interface: iface,
    rings: { rx: "max", tx: "max" },
    coalesce: { adaptiveRx: true, adaptiveTx: true },
    onUnsupported: "skip",
});

// After the ring change: some drivers reset the device for it.
const offloads = new NicOffloads("offloads", { connection, interface: iface, features: { gro: true, lro: false }, txqueuelen: 10000, onUnsupported: "skip" }, { dependsOn: nic });

// `nic` orders this after the ring change and re-applies it whenever the rings change.
const irqs = new IrqAffinity("irqs", { connection, nic, numaLocal: true, exclude: config.get("applicationCpus"), irqbalance: "ban" });

// Receive and transmit steering on the same CPUs (scaling.html); the global RFS table is skipped,
// and reported, on a host that is a network namespace (a container), which does not have it.
const steering = new PacketSteering("steering", {
    connection,
    nic,
    rps: { numaLocal: true, exclude: config.get("applicationCpus") },
    rfs: { flowEntries: 32768 },
    xps: { numaLocal: true, exclude: config.get("applicationCpus") },
    onMissing: "skip",
});

const cpu = new CpuGovernor("cpu", { connection, governor: ["performance"], onUnsupported: "skip" });

export const rings = nic.desired;
export const maximums = nic.maximums;
export const offloadFeatures = offloads.live;
export const irqPlacement = irqs.assignment;
export const steeringMasks = steering.live;
export const governors = cpu.governors;
