#!/usr/bin/env python3
"""The app of tests/net/tests_loss.sh, behind connbroker and behind a kernel
listener alike.  HTTP/1.1 with keep-alive and Content-Length bodies:

  GET|POST /r/ID/N   answers N bytes of response_body(ID, N), with
                     X-Req-Len and X-Req-Sha256: the length and sha256 of the
                     whole request it read (head and body, exactly the bytes
                     the client sent), and X-Body-Sha256 of what it answers

The connection stays open until the client closes it or sends
"Connection: close" (then the app answers, closes its side and waits for the
client's FIN).

usage: loss_app.py SOCKET APP         connections from connbroker
       loss_app.py --listen IP:PORT   an ordinary listener (the baseline)
(one thread per connection; prints one line per connection it could not serve)
"""
import hashlib
import socket
import sys
import threading

PATTERN = bytes(range(251)) * 1700      # 426,700 bytes: any offset < 251 plus 200 KB


def response_body(ident, n):
    off = ident % 251
    return PATTERN[off:off + n]


def read_request(conn, buf):
    """(method, path, headers, request bytes, leftover) or None at EOF."""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            if buf:
                raise ConnectionError("EOF inside a request head (%d bytes)" % len(buf))
            return None
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    lines = buf[:end - 4].decode("latin-1").split("\r\n")
    method, path = lines[0].split(" ")[:2]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    total = end + int(headers.get("content-length", "0"))
    while len(buf) < total:
        chunk = conn.recv(1 << 20)
        if not chunk:
            raise ConnectionError("EOF inside a body (%d of %d bytes)" % (len(buf), total))
        buf += chunk
    return method, path, headers, buf[:total], buf[total:]


def serve(conn, peer):
    conn.settimeout(60)
    buf = b""
    try:
        while True:
            req = read_request(conn, buf)
            if req is None:
                return
            method, path, headers, raw, buf = req
            parts = path.split("/")
            ident, n = int(parts[2]), int(parts[3])
            body = response_body(ident, n)
            close = headers.get("connection", "").lower() == "close"
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Req-Len: %d\r\n"
                         b"X-Req-Sha256: %s\r\nX-Body-Sha256: %s\r\n%s\r\n" % (
                             len(body), len(raw), hashlib.sha256(raw).hexdigest().encode(),
                             hashlib.sha256(body).hexdigest().encode(),
                             b"Connection: close\r\n" if close else b"") + body)
            if close:
                conn.shutdown(socket.SHUT_WR)
                conn.recv(1)
                return
    except (OSError, ValueError, IndexError) as e:
        print("connection %s: %s: %s" % (peer, type(e).__name__, e), flush=True)
    finally:
        conn.close()


def start(conn):
    try:
        peer = "%s:%d" % conn.getpeername()
    except OSError:
        peer = "?"
    threading.Thread(target=serve, args=(conn, peer), daemon=True).start()


def main():
    if sys.argv[1] == "--listen":
        ip, port = sys.argv[2].rsplit(":", 1)
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((ip, int(port)))
        srv.listen(1024)
        print("listening on %s" % sys.argv[2], flush=True)
        while True:
            start(srv.accept()[0])
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ctl.connect(sys.argv[1])
    ctl.send(b"REGISTER " + sys.argv[2].encode())
    if ctl.recv(256) != b"OK":
        sys.exit("register refused")
    print("registered as %s" % sys.argv[2], flush=True)
    while True:
        msg, fds, _, _ = socket.recv_fds(ctl, 512 + 1 + 4096, 1)
        if not msg:
            return
        for fd in fds:
            start(socket.socket(fileno=fd))


if __name__ == "__main__":
    main()
