#!/usr/bin/env python3
"""A burst of UDP datagrams at a reader that is busy while they arrive, on loopback.

  udp-burst.py [--count 10000] [--size 1000] [--port 7071] [--address 127.0.0.1 | ::1] [--repeat-for SECONDS]

The reader keeps the kernel's default receive buffer (net.core.rmem_default) and does not read
during the burst, so datagrams that do not fit are dropped and counted in Udp RcvbufErrors (over
--address ::1, Udp6RcvbufErrors in /proc/net/snmp6). With
--repeat-for, bursts repeat for that long (bounded). Prints datagrams received. Loopback only.
"""
import argparse
import socket
import time


def burst(count: int, size: int, port: int, address: str) -> int:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    reader = socket.socket(family, socket.SOCK_DGRAM)
    reader.bind((address, port))
    writer = socket.socket(family, socket.SOCK_DGRAM)
    payload = b"x" * size
    for _ in range(count):
        try:
            writer.sendto(payload, (address, port))
        except OSError:
            pass
    reader.setblocking(False)
    received = 0
    while True:
        try:
            reader.recv(size)
            received += 1
        except BlockingIOError:
            break
    reader.close()
    writer.close()
    return received


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--address", choices=["127.0.0.1", "::1"], default="127.0.0.1")
    parser.add_argument("--repeat-for", type=float, default=0)
    args = parser.parse_args()
    deadline = time.monotonic() + args.repeat_for
    received = burst(args.count, args.size, args.port, args.address)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        received += burst(args.count, args.size, args.port, args.address)
    print(received)


if __name__ == "__main__":
    main()
