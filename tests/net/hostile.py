#!/usr/bin/env python3
"""Hostile local users and clients of connbroker's side doors (tests/net/run.sh).

  hostile.py idle SOCK N          hold N connections to the app socket; print
                                  how many the controller closed at once
  hostile.py oneshot SOCK N       N connect-and-close, as fast as possible
  hostile.py register SOCK APP T  connect and REGISTER APP, retrying every
                                  0.1 s for T seconds; print the seconds it took
  hostile.py send SOCK HEX        send one message (hex) and print the answer
  hostile.py slowloris HOST PORT N SECS [SRC...]
                                  N HTTP connections sending one header byte
                                  every 0.5 s (from SRC addresses in turn);
                                  print the longest any stayed open
  hostile.py flood HOST PORT N SECS
                                  open N TCP connections and hold them SECS
Run the app-socket modes as another user (setpriv) to act as one.
"""
import json
import select
import socket
import sys
import time


def unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    return s


def idle(path, n):
    conns, refused = [], 0
    for _ in range(n):
        try:
            conns.append(unix(path))
        except OSError:
            refused += 1
    time.sleep(1.0)
    closed = 0
    for c in conns:
        r, _, _ = select.select([c], [], [], 0)
        if r and c.recv(64) == b"":
            closed += 1
    print(json.dumps({"opened": len(conns), "closed": closed, "refused": refused}), flush=True)
    time.sleep(3600)


def oneshot(path, n):
    ok = 0
    for _ in range(n):
        try:
            unix(path).close()
            ok += 1
        except OSError:
            pass
    print(json.dumps({"connected": ok}), flush=True)


def register(path, app, limit):
    t0 = time.monotonic()
    tries = 0
    while time.monotonic() - t0 < limit:
        tries += 1
        try:
            s = unix(path)
            s.settimeout(1.0)
            s.send(b"REGISTER " + app.encode())
            if s.recv(128) == b"OK":
                print(json.dumps({"seconds": round(time.monotonic() - t0, 3), "tries": tries}),
                      flush=True)
                return 0
        except OSError:
            pass
        time.sleep(0.1)
    print(json.dumps({"seconds": None, "tries": tries}), flush=True)
    return 1


def send(path, hexmsg):
    s = unix(path)
    s.settimeout(2.0)
    s.send(bytes.fromhex(hexmsg))
    try:
        print(s.recv(256).decode("latin-1"))
    except socket.timeout:
        print("(no answer)")


def slowloris(host, port, n, secs, srcs):
    conns = []
    for i in range(n):
        c = socket.socket()
        if srcs:
            c.bind((srcs[i % len(srcs)], 0))
        c.setblocking(False)
        c.connect_ex((host, port))
        conns.append([c, time.monotonic(), None])
    time.sleep(0.2)
    msg = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000
    t0 = time.monotonic()
    k = 0
    while time.monotonic() - t0 < secs:
        for e in conns:
            if e[2] is None:
                try:
                    e[0].send(msg[k:k + 1])
                except BlockingIOError:
                    pass
                except OSError:
                    e[2] = time.monotonic()
                    continue
                try:
                    if e[0].recv(1024) == b"":
                        e[2] = time.monotonic()
                except BlockingIOError:
                    pass
                except OSError:
                    e[2] = time.monotonic()
        k = (k + 1) % len(msg)
        time.sleep(0.5)
    now = time.monotonic()
    longest = max((e[2] or now) - e[1] for e in conns)
    print(json.dumps({"connections": n, "closed_by_server": sum(e[2] is not None for e in conns),
                      "longest_open_s": round(longest, 2)}), flush=True)


def flood(host, port, n, secs):
    conns = []
    for _ in range(n):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex((host, port))
        conns.append(c)
    print(json.dumps({"opened": len(conns)}), flush=True)
    time.sleep(secs)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "idle":
        idle(args[0], int(args[1]))
    elif mode == "oneshot":
        oneshot(args[0], int(args[1]))
    elif mode == "register":
        return register(args[0], args[1], float(args[2]))
    elif mode == "send":
        send(args[0], args[1])
    elif mode == "slowloris":
        slowloris(args[0], int(args[1]), int(args[2]), float(args[3]), args[4:])
    elif mode == "flood":
        flood(args[0], int(args[1]), int(args[2]), float(args[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
