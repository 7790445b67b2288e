#!/usr/bin/env python3
"""Requests over ONE keep-alive connection, for per-request routing tests.

usage: keepalive_client.py HOST PORT PATH[:BYTES][+PATH...] ...
Each argument is sent as one write: PATH alone is a GET, PATH:BYTES a POST
of that many random bytes, and several joined by '+' are pipelined in one
write.  Every response is read whole (Content-Length) and printed as one
JSON line: {"path", "status", "body", "sha256"} with the sha256 of the
request body sent, so that the test can check each was answered by the
app its path routes to and byte-exact.  Exits 1 if the connection closes
early or an answer is missing; the connection is used for every request
(one local port, printed last as {"port": N}).
"""
import hashlib
import json
import os
import socket
import sys


def request(path):
    path, _, size = path.partition(":")
    body = os.urandom(int(size)) if size else b""
    head = "%s %s HTTP/1.1\r\nHost: shop.example\r\n" % ("POST" if size else "GET", path)
    if size:
        head += "Content-Length: %d\r\n" % len(body)
    return (head + "\r\n").encode() + body, path, hashlib.sha256(body).hexdigest()


def read_response(f):
    status = f.readline()
    if not status:
        return None
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status.split()[1].decode(), f.read(length).decode("latin-1")


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    s = socket.create_connection((host, port), timeout=10)
    f = s.makefile("rb")
    for arg in sys.argv[3:]:
        reqs = [request(p) for p in arg.split("+")]
        s.sendall(b"".join(r[0] for r in reqs))
        for _, path, digest in reqs:
            resp = read_response(f)
            if resp is None:
                print(json.dumps({"path": path, "error": "connection closed"}))
                sys.exit(1)
            print(json.dumps({"path": path, "status": resp[0], "body": resp[1].strip(),
                              "sha256": digest}), flush=True)
    print(json.dumps({"port": s.getsockname()[1]}))
    s.close()


if __name__ == "__main__":
    main()
