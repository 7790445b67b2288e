#!/usr/bin/env python3
"""The delay line of tests/net/impair.bpf.c: frames cloned to the delay
interface are read here (AF_PACKET), held, and sent out of the bridge port
towards their destination with SO_MARK = the impairment's mark (so its egress
program lets them through once).

Hold times: 80 % uniform in [2, 30] ms, 20 % in [60, 250] ms (seeded: the
same frames in the same order get the same holds).

usage: loss_delay.py IN_IF CLIENT_IP TO_CLIENT_IF TO_SERVER_IF STATS_JSON [SEED]
Runs until SIGTERM, then sends nothing more and writes its counts.
"""
import heapq
import json
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
MARK = 0xcb1055
SO_MARK = 36


def main():
    in_if, client, to_client, to_server, stats_path = sys.argv[1:6]
    rnd = random.Random(int(sys.argv[6]) if len(sys.argv) > 6 else 1)
    client = socket.inet_aton(client)
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    rx.bind((in_if, 0))
    rx.setblocking(False)
    tx = {}
    for name in (to_client, to_server):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        s.setsockopt(socket.SOL_SOCKET, SO_MARK, MARK)
        s.bind((name, 0))
        tx[name] = s
    held = []
    n = 0
    stats = {"received": 0, "sent": 0, "send_errors": 0, "to_client": 0, "to_server": 0,
             "held_at_exit": 0, "max_hold_ms": 0.0, "late_ms_max": 0.0}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    print("delay line on %s" % in_if, flush=True)
    while not stop:
        now = time.monotonic()
        timeout = max(0.0, held[0][0] - now) if held else 0.5
        try:
            r, _, _ = select.select([rx], [], [], timeout)
        except InterruptedError:
            continue
        if r:
            while True:
                try:
                    frame, addr = rx.recvfrom(65536)
                except BlockingIOError:
                    break
                if addr[2] == socket.PACKET_OUTGOING:
                    continue
                stats["received"] += 1
                hold = rnd.uniform(0.002, 0.030) if rnd.random() < 0.8 else rnd.uniform(0.060, 0.250)
                stats["max_hold_ms"] = max(stats["max_hold_ms"], hold * 1000)
                n += 1
                heapq.heappush(held, (time.monotonic() + hold, n, frame))
        now = time.monotonic()
        while held and held[0][0] <= now:
            due, _, frame = heapq.heappop(held)
            stats["late_ms_max"] = max(stats["late_ms_max"], (now - due) * 1000)
            to = to_client if frame[30:34] == client else to_server
            try:
                tx[to].send(frame)
                stats["sent"] += 1
                stats["to_client" if to == to_client else "to_server"] += 1
            except OSError:
                stats["send_errors"] += 1
    stats["held_at_exit"] = len(held)
    with open(stats_path, "w") as f:
        json.dump(stats, f)


if __name__ == "__main__":
    main()
