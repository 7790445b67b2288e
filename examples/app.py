#!/usr/bin/env python3
"""A connbroker application in plain Python (no library needed).

It registers for an app name on the controller's unix socket, then receives
each connection as a file descriptor (SCM_RIGHTS) with one line of metadata,
and answers HTTP requests on it.  The request bytes are already in the
socket: the app just reads, as if it had accepted the connection itself.

usage: app.py SOCKET_PATH APP_NAME [CERT KEY]
With CERT and KEY the app terminates TLS itself: the socket's receive queue
starts with the client's ClientHello, which connbroker read (for SNI/ALPN)
but never answered.
"""
import hashlib
import socket
import ssl
import sys


def serve(conn, meta):
    conn.settimeout(5)
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
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    reply = ("app=%s method=%s path=%s body=%d sha256=%s %s\n" % (
        sys.argv[2], method, path, len(body), hashlib.sha256(body).hexdigest(), meta)).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(reply) + reply)
    if isinstance(conn, ssl.SSLSocket):
        conn.unwrap()
    else:
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)


def main():
    path, app = sys.argv[1], sys.argv[2]
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ctl.connect(path)
    ctl.send(b"REGISTER " + app.encode())
    answer = ctl.recv(256)
    if answer != b"OK":
        sys.exit("register %s: %s" % (app, answer.decode()))
    tls = None
    if len(sys.argv) > 4:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[3], sys.argv[4])
    print("registered as %s" % app, flush=True)
    while True:
        msg, fds, _, _ = socket.recv_fds(ctl, 512, 1)
        if not msg:
            return
        for fd in fds:
            with socket.socket(fileno=fd) as conn:
                try:
                    if tls:
                        conn = tls.wrap_socket(conn, server_side=True)
                    serve(conn, msg.decode())
                except OSError as e:
                    print("connection failed: %s" % e, flush=True)


if __name__ == "__main__":
    main()
