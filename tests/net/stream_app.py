#!/usr/bin/env python3
"""A test app for live migration: a numbered byte stream each way.

It registers as APP on node NODE.  For each connection it writes the
server's stream (byte i = i % 251), paced, and reads the client's (byte i =
(7 * i) % 253), checking every byte; after HOLD seconds it gives the
connection back, live, for the same app on node NEXT (RELEASE to=APP@NEXT),
with its position in both streams as the state blob ("sent=N recv=M
moves=K"); the app on NEXT continues from there.  Once DOWN bytes are sent
and UP bytes received it closes the connection.  A wrong byte resets it
(SO_LINGER 0), so the client sees any corruption.

usage: stream_app.py SOCKET APP NODE NEXT DOWN UP HOLD [PACE_S [CHUNK]]
(PACE_S: one CHUNK every PACE_S seconds, default 0.01 and 8192)
"""
import select
import socket
import struct
import sys
import time

from streams import down_bytes, up_ok

CHUNK = 8192
PACE = 0.01                         # one chunk every 10 ms

def parse(meta):
    text, _, blob = meta.partition(b"\n")
    fields = dict(w.split("=", 1) for w in text.decode().split()[1:] if "=" in w)
    state = dict(w.split("=", 1) for w in blob.decode().split()) if int(fields.get("blob", "0")) else {}
    return int(state.get("sent", 0)), int(state.get("recv", 0)), int(state.get("moves", 0))


def serve(ctl, conn, meta, app, nxt, down, up, hold):
    sent, recv, moves = parse(meta)
    conn.setblocking(False)
    if moves == 0 and sent == 0 and recv == 0:
        # a new connection: the request head first ("GET /stream ...")
        head = b""
        while b"\r\n\r\n" not in head:
            select.select([conn], [], [], 5)
            head += conn.recv(1)
    until = time.monotonic() + hold
    next_write = 0.0
    while True:
        now = time.monotonic()
        if sent >= down and recv >= up:
            print("done sent=%d recv=%d moves=%d" % (sent, recv, moves), flush=True)
            conn.shutdown(socket.SHUT_WR)
            conn.setblocking(True)
            conn.settimeout(5)
            conn.recv(1)
            return
        if now >= until:
            state = ("sent=%d recv=%d moves=%d" % (sent, recv, moves + 1)).encode()
            socket.send_fds(ctl, [b"RELEASE to=%s@%s blob=%d\n" % (app.encode(), nxt.encode(),
                                                                   len(state)) + state],
                            [conn.fileno()])
            print("released at sent=%d recv=%d" % (sent, recv), flush=True)
            return
        r, w, _ = select.select([conn], [conn] if sent < down and now >= next_write else [],
                                [], min(PACE, until - now))
        if r:
            data = conn.recv(65536)
            if not data:
                print("client closed early at recv=%d" % recv, flush=True)
                return
            if not up_ok(data, recv):
                print("BAD client byte near %d" % recv, flush=True)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            recv += len(data)
        if w:
            n = conn.send(down_bytes(sent, min(CHUNK, down - sent)))
            sent += n
            next_write = now + PACE


def main():
    path, app, node, nxt = sys.argv[1:5]
    global PACE, CHUNK
    down, up, hold = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
    if len(sys.argv) > 8:
        PACE = float(sys.argv[8])
    if len(sys.argv) > 9:
        CHUNK = int(sys.argv[9])
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ctl.connect(path)
    ctl.send(b"REGISTER " + app.encode())
    if ctl.recv(256) != b"OK":
        sys.exit("register refused")
    print("registered as %s on %s" % (app, node), flush=True)
    while True:
        msg, fds, _, _ = socket.recv_fds(ctl, 512 + 1 + 4096, 1)
        if not msg:
            return
        for fd in fds:
            with socket.socket(fileno=fd) as conn:
                try:
                    serve(ctl, conn, msg, app, nxt, down, up, hold)
                except OSError as e:
                    print("connection failed: %s" % e, flush=True)


if __name__ == "__main__":
    main()
