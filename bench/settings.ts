/** The 16 per-network-namespace sysctls every benchmark applies (values from the tuning guides' high-connection-rate rows). */
export const SETTINGS: Record<string, number | number[]> = {
    "net.core.somaxconn": 8192,
    "net.ipv4.tcp_fin_timeout": 20,
    "net.ipv4.tcp_keepalive_time": 600,
    "net.ipv4.tcp_keepalive_intvl": 30,
    "net.ipv4.tcp_keepalive_probes": 5,
    "net.ipv4.tcp_max_syn_backlog": 8192,
    "net.ipv4.tcp_syn_retries": 4,
    "net.ipv4.tcp_synack_retries": 4,
    "net.ipv4.tcp_retries2": 8,
    "net.ipv4.tcp_rmem": [4096, 131072, 16777216],
    "net.ipv4.tcp_wmem": [4096, 16384, 16777216],
    "net.ipv4.ip_local_port_range": [10240, 65535],
    "net.ipv4.tcp_slow_start_after_idle": 0,
    "net.ipv4.tcp_mtu_probing": 1,
    "net.ipv4.tcp_fastopen": 3,
    "net.ipv4.tcp_notsent_lowat": 131072,
};
