#!/usr/bin/env python3
"""A test app: registers, takes connections, and answers each one only after
HOLD seconds (a slow app still serving when something happens meanwhile).

usage: hold_app.py SOCKET APP HOLD_SECONDS [COUNT]
Answers "held app=APP after=HOLD bytes=N" and closes cleanly (FIN).
"""
import socket
import sys
import threading
import time


def serve(conn, app, hold):
    data = b""
    conn.settimeout(10)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    time.sleep(hold)
    body = ("held app=%s after=%s bytes=%d\n" % (app, hold, len(data))).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    conn.shutdown(socket.SHUT_WR)
    try:
        conn.recv(1)
    except OSError:
        pass
    conn.close()


def main():
    path, app, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 1 << 30
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ctl.connect(path)
    ctl.send(b"REGISTER " + app.encode())
    if ctl.recv(256) != b"OK":
        sys.exit("register refused")
    print("registered", flush=True)
    threads = []
    while count:
        msg, fds, _, _ = socket.recv_fds(ctl, 512, 1)
        if not msg:
            break               # the controller went away: keep serving what we have
        print(msg.decode(), flush=True)
        conn = socket.socket(fileno=fds[0])
        t = threading.Thread(target=serve, args=(conn, app, hold))
        t.start()
        threads.append(t)
        count -= 1
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
