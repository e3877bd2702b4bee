/** Where each profile value comes from. Keys are cited next to every value. */
export const SOURCES = {
    TUNED: { title: "tuned profiles (network-latency, latency-performance, network-throughput)", url: "https://github.com/redhat-performance/tuned/tree/master/profiles" },
    MLNX: { title: "mlnx_tune and set_irq_affinity (Mellanox/NVIDIA)", url: "https://github.com/Mellanox/mlnx-tools" },
    OSG: { title: "OSG/perfSONAR fasterdata host tuning", url: "https://osg-htc.org/networking/perfsonar/tools_scripts/fasterdata-tuning" },
    "FD-100G": { title: "ESnet fasterdata: 100G tuning", url: "https://fasterdata.es.net/host-tuning/linux/100g-tuning/" },
    "FD-IRQ": { title: "ESnet fasterdata: interrupt binding", url: "https://fasterdata.es.net/host-tuning/linux/100g-tuning/interrupt-binding/" },
    "FD-PACE": { title: "ESnet fasterdata: packet pacing", url: "https://fasterdata.es.net/host-tuning/linux/packet-pacing/" },
    "RH-RT": { title: "Red Hat Enterprise Linux 9 for Real Time: binding interrupts and processes", url: "https://access.redhat.com/documentation/en-us/red_hat_enterprise_linux_for_real_time/9" },
    "RH9-RING": { title: "Red Hat Enterprise Linux 9: increasing the ring buffers to reduce a high packet drop rate", url: "https://access.redhat.com/documentation/en-us/red_hat_enterprise_linux/9/html/configuring_and_managing_networking/increasing-the-ring-buffers-to-reduce-a-high-packet-drop-rate_configuring-and-managing-networking" },
    CF: { title: "Cloudflare: optimizing TCP for high throughput and low latency", url: "https://blog.cloudflare.com/optimizing-tcp-for-high-throughput-and-low-latency/" },
    IPS: { title: "Linux kernel: ip-sysctl", url: "https://docs.kernel.org/networking/ip-sysctl.html" },
    NETS: { title: "Linux kernel: /proc/sys/net", url: "https://docs.kernel.org/admin-guide/sysctl/net.html" },
    SCAL: { title: "Linux kernel: scaling in the networking stack", url: "https://docs.kernel.org/networking/scaling.html" },
    SIPCONF: { title: "Linux tuning for SIP servers", url: "https://github.com/oussamahammami/Linux-Tuning-SIP-Servers" },
    KAM: { title: "Kamailio: TCP tuning notes (doc/tcp_tunning.txt)", url: "https://github.com/kamailio/kamailio/blob/master/doc/tcp_tunning.txt" },
    VOIP1: { title: "Linux tuning for SIP routers, part 1", url: "https://voipmagazine.wordpress.com/" },
    VOIP4: { title: "Linux tuning for SIP routers, part 4 (queue lengths)", url: "https://voipmagazine.wordpress.com/" },
    MAJEK: { title: "Marek Majkowski: lessons from defending the indefensible (SYN/accept queues)", url: "https://speakerdeck.com/majek04/lessons-from-defending-the-indefensible" },
    NDUDP: { title: "Netdata: Udp_RcvbufErrors, tuning kernel receive buffers", url: "https://www.netdata.cloud/guides/network/network-udp-rcvbuf-errors/" },
    NDUDPSND: { title: "Netdata: 1m_ipv4_udp_send_buffer_errors (wmem_default, wmem_max, udp_mem)", url: "https://community.netdata.cloud/t/1m-ipv4-udp-send-buffer-errors/2106" },
    KMEMERR: { title: "Linux commit a3ce2b109a59: udp: introduce UDP_MIB_MEMERRORS for udp_mem (drops at the udp_mem limit)", url: "https://git.kernel.org/torvalds/c/a3ce2b109a59ee9670706ae8126dcc04cfe261cd" },
    KCSUM: { title: "Linux commit 6a5dc9e598fe: net: Add MIB counters for checksum errors", url: "https://git.kernel.org/torvalds/c/6a5dc9e598fe90160fee7de098fa319665f5253e" },
    KVM: { title: "Linux kernel: /proc/sys/vm", url: "https://docs.kernel.org/admin-guide/sysctl/vm.html" },
    CLR: { title: "Clear Linux: CPU power and performance (C-state latency limits)", url: "https://www.clearlinux.org/clear-linux-documentation/guides/maintenance/cpu-performance.html" },
    derived: { title: "Derived: arithmetic from the declared facts, explained next to the value", url: "" },
} as const;

export type SourceKey = keyof typeof SOURCES;
