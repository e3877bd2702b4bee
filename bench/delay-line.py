#!/usr/bin/env python3
"""A long-delay path between two network namespaces, in user space (this kernel has no sch_netem).

  delay-line.py --ns-a NS --ns-b NS --delay-ms 100 [--rate-mbit 1000] [--mtu 9000] [--prefix 172.31.255]

Creates a TUN device `dl0` in each namespace (PREFIX.1 in A, PREFIX.2 in B, point to point) and
forwards every IP packet from one to the other unchanged, each held for exactly --delay-ms (one
way; the round trip is twice that). FIFO per direction, no loss, no reordering, no rate limit of
its own: with --rate-mbit, a token bucket (tc tbf) on each end's egress makes the path that fast.
What limits a TCP flow across it is then the window against the delay, the rate, and this
process's CPU. Prints "ready" once both ends are up; runs until SIGTERM/SIGINT (the devices go with it).
"""
import argparse
import collections
import ctypes
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL("libc.so.6", use_errno=True)


def enter(ns_file: str) -> None:
    fd = os.open(ns_file, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {ns_file}")
    finally:
        os.close(fd)


def tun_in(ns: str, name: str) -> int:
    """A TUN device created inside `ns`; its fd keeps working from any namespace."""
    enter(f"/run/netns/{ns}")
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ns-a", required=True)
    parser.add_argument("--ns-b", required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--rate-mbit", type=int)
    parser.add_argument("--mtu", type=int, default=9000)
    parser.add_argument("--prefix", default="172.31.255")
    args = parser.parse_args()
    delay = args.delay_ms / 1000

    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    a = tun_in(args.ns_a, "dl0")
    b = tun_in(args.ns_b, "dl0")
    libc.setns(home, CLONE_NEWNET)
    for ns, me, peer in ((args.ns_a, 1, 2), (args.ns_b, 2, 1)):
        ip = ["ip", "-n", ns]
        subprocess.run([*ip, "addr", "add", f"{args.prefix}.{me}", "peer", f"{args.prefix}.{peer}", "dev", "dl0"], check=True)
        subprocess.run([*ip, "link", "set", "dl0", "mtu", str(args.mtu), "txqueuelen", "10000", "up"], check=True)
        if args.rate_mbit:
            tbf = ["rate", f"{args.rate_mbit}mbit", "burst", "512kb", "latency", "50ms"]
            subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "dl0", "root", "tbf", *tbf], check=True)

    running = True

    def stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Packets read from a wait to be written to the other end: (due time, packet), oldest first.
    queues = {a: collections.deque(), b: collections.deque()}
    other = {a: b, b: a}
    print("ready", flush=True)
    while running:
        now = time.monotonic()
        for src, queue in queues.items():
            while queue and queue[0][0] <= now:
                try:
                    os.write(other[src], queue.popleft()[1])
                except OSError:
                    pass  # the far end's device is down: the packet is lost, as on a wire
        due = [q[0][0] for q in queues.values() if q]
        timeout = max(0.0, min(due) - time.monotonic()) if due else 0.5
        try:
            readable, _, _ = select.select([a, b], [], [], timeout)
        except InterruptedError:
            continue
        arrived = time.monotonic() + delay
        for fd in readable:
            for _ in range(256):
                try:
                    queues[fd].append((arrived, os.read(fd, 65536)))
                except BlockingIOError:
                    break
    sys.exit(0)


if __name__ == "__main__":
    main()
