#!/usr/bin/env python3
"""The client of stream_app.py: sends "GET PATH", then UP bytes of its own
numbered stream (byte i = (7 * i) % 253), paced, while it reads and checks
DOWN bytes of the server's (byte i = i % 251) until the server closes.

Prints one JSON line: bytes each way, whether every byte was right, the
longest gap between two arrivals once the stream had started (a stall after
a move shows here), how it ended (fin, reset, timeout) and how long after
the last arrival (tail_ms).  Exits 1 unless both streams are
complete and exact and the connection ended with a FIN.

usage: stream_client.py HOST PORT PATH DOWN UP TIMEOUT [GAPS_OVER_MS]
With GAPS_OVER_MS, every arrival gap longer than that is listed too ("gaps_ms").
"""
import json
import select
import socket
import sys
import time

from streams import down_first_bad, up_bytes


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    down, up, timeout = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    gaps_over = float(sys.argv[7]) / 1000 if len(sys.argv) > 7 else None
    gaps = []
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: stream\r\n\r\n" % path.encode())
    s.setblocking(False)
    got, sent, ok, end, gap, last, bad_at = 0, 0, True, "timeout", 0.0, None, -1
    deadline = time.monotonic() + timeout
    next_write = time.monotonic()
    while time.monotonic() < deadline:
        now = time.monotonic()
        want_w = sent < up and got > 0 and now >= next_write
        r, w, _ = select.select([s], [s] if want_w else [], [], 0.005)
        if r:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                end = "reset"
                break
            if not data:
                end = "fin"
                break
            now = time.monotonic()
            if last is not None:
                gap = max(gap, now - last)
                if gaps_over is not None and now - last > gaps_over:
                    gaps.append(round((now - last) * 1000, 2))
            last = now
            if ok:
                j = down_first_bad(data, got)
                if j >= 0:
                    ok, bad_at = False, got + j
                    sys.stderr.write("byte %d: got %d, want %d; next %s\n" % (
                        got + j, data[j], (got + j) % 251, list(data[j:j + 4])))
            got += len(data)
        if w:
            n = min(4096, up - sent)
            chunk = up_bytes(sent, n)
            try:
                sent += s.send(chunk)
            except BlockingIOError:
                pass
            next_write = now + 0.01
    tail = time.monotonic() - last if last is not None else -1
    res = {"down": got, "up": sent, "exact": ok, "first_bad": bad_at, "end": end,
           "max_gap_ms": round(gap * 1000, 1), "tail_ms": round(tail * 1000, 1)}
    if gaps_over is not None:
        res["gaps_ms"] = gaps
    print(json.dumps(res))
    sys.exit(0 if ok and end == "fin" and got == down and sent == up else 1)


if __name__ == "__main__":
    main()
