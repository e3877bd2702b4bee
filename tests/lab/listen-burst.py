#!/usr/bin/env python3
"""A slow-accepting TCP listener and bursts of connections at it, on loopback, bounded in time.

  listen-burst.py --seconds 10 [--port 7070] [--backlog 4096] [--accept-per-second 100] [--burst 200]

The listener asks for --backlog in listen() (the kernel caps it at net.core.somaxconn) and accepts
--accept-per-second connections. Every second --burst clients connect and hold for a second, so
a small accept queue overflows (TcpExt ListenOverflows/ListenDrops) and a large one does not.
Run it inside a lab host (`lab.sh exec DIR h1 -- python3 listen-burst.py ...`): all traffic stays
on that host's loopback. Prints the number of connections accepted.
"""
import argparse
import resource
import socket
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--port", type=int, default=7070)
    parser.add_argument("--backlog", type=int, default=4096)
    parser.add_argument("--accept-per-second", type=int, default=100)
    parser.add_argument("--burst", type=int, default=200)
    args = parser.parse_args()
    # A large --burst holds that many sockets at once: lift the soft file limit to the hard one.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    deadline = time.monotonic() + args.seconds

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", args.port))
    server.listen(args.backlog)
    server.settimeout(0.05)
    accepted = 0

    def accept_slowly() -> None:
        nonlocal accepted
        while time.monotonic() < deadline:
            try:
                conn, _ = server.accept()
                conn.close()
                accepted += 1
            except OSError:
                pass
            time.sleep(1 / args.accept_per_second)

    acceptor = threading.Thread(target=accept_slowly, daemon=True)
    acceptor.start()
    while time.monotonic() < deadline:
        clients = []
        for _ in range(args.burst):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", args.port))
            except (BlockingIOError, OSError):
                pass
            clients.append(c)
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        for c in clients:
            c.close()
    acceptor.join()
    server.close()
    print(accepted)


if __name__ == "__main__":
    main()
