#!/usr/bin/env python3
"""A test app for bulk transfers: registers as APP and serves

  GET .../bytes/N     N bytes of a fixed pattern (sha256 of it in the X-Sha256 header)
  POST ...            the body's length and sha256 (uploads)
  GET .../hold/S      answers after S seconds (a slow app)
  GET .../reset       no answer: the connection is reset (SO_LINGER 0)
  anything else       "app=APP path=PATH node=NODE"

usage: bulk_app.py SOCKET APP NODE          connections from connbroker
       bulk_app.py --listen IP:PORT APP NODE  an ordinary listener (a baseline)
(one thread per connection)
"""
import hashlib
import socket
import struct
import sys
import threading
import time

PATTERN = bytes(range(256)) * 4096     # 1 MiB


def pattern(n):
    out = bytearray()
    while len(out) < n:
        out += PATTERN[:n - len(out)]
    return bytes(out)


def serve(conn, app, node):
    conn.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path = lines[0].split(" ")[:2]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(1 << 20)
        if not chunk:
            break
        body += chunk
    extra = b""
    if path.endswith("/reset"):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        return
    if method == "POST":
        reply = ("app=%s node=%s body=%d sha256=%s\n" % (app, node, len(body),
                 hashlib.sha256(body).hexdigest())).encode()
    elif "/bytes/" in path:
        reply = pattern(int(path.split("/bytes/")[1].split("/")[0]))
        extra = b"X-Sha256: %s\r\n" % hashlib.sha256(reply).hexdigest().encode()
    else:
        if "/hold/" in path:
            time.sleep(float(path.split("/hold/")[1].split("/")[0]))
        reply = ("app=%s path=%s node=%s\n" % (app, path, node)).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%sConnection: close\r\n\r\n" %
                 (len(reply), extra) + reply)
    conn.shutdown(socket.SHUT_WR)
    try:
        conn.recv(1)
    except OSError:
        pass
    conn.close()


def listen(addr, app, node):
    ip, port = addr.rsplit(":", 1)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ip, int(port)))
    srv.listen(256)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, app, node), daemon=True).start()


def main():
    if sys.argv[1] == "--listen":
        return listen(sys.argv[2], sys.argv[3], sys.argv[4])
    path, app, node = sys.argv[1], sys.argv[2], sys.argv[3]
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ctl.connect(path)
    ctl.send(b"REGISTER " + app.encode())
    if ctl.recv(256) != b"OK":
        sys.exit("register refused")
    print("registered", app, "on", node, flush=True)
    while True:
        msg, fds, _, _ = socket.recv_fds(ctl, 512, 1)
        if not msg:
            # the controller went away: the connections this app holds are
            # its own sockets and are served to the end (threads that are not
            # daemons: exiting now would close them with bytes unsent)
            return
        threading.Thread(target=serve, args=(socket.socket(fileno=fds[0]), app, node),
                         daemon=False).start()


if __name__ == "__main__":
    main()
