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

On a service that routes per request (the FLOW line says route=per-request)
it reads exactly one request, answers it keeping the connection open, and
gives the connection back (RELEASE, with the socket and a small state blob):
connbroker routes the next request, perhaps to another app, which gets the
blob with the socket.  The answer names the blob it was given (prev=...).

When the controller goes away (killed, restarted), the app connects and
registers again by itself, as libconnbroker does: at once, then after 50 ms,
doubling up to 1 s between attempts; connections it holds are its own and
are not affected.  A registration the new controller refuses ends it.
"""
import hashlib
import socket
import ssl
import sys
import time

RETRY_FIRST, RETRY_MAX = 0.05, 1.0


class Controller:
    """The registration for one app, made again whenever the controller
    goes away."""

    def __init__(self, path, app):
        self.path, self.app = path, app
        self.sock, self.up_since, self.delay, self.reconnects = None, 0.0, 0.0, 0

    def register(self):
        """One attempt: True when registered, False when no controller
        answered; exits when one refuses the app."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(self.path)
            s.send(b"REGISTER " + self.app.encode())
            answer = s.recv(256)
        except OSError:
            answer = b""
        if answer != b"OK":
            s.close()
            if answer:
                sys.exit("register %s: %s" % (self.app, answer.decode("latin-1")))
            return False
        self.sock, self.up_since = s, time.monotonic()
        return True

    def next_delay(self):
        return min(self.delay * 2, RETRY_MAX) if self.delay else RETRY_FIRST

    def drop(self):
        if self.sock:
            self.sock.close()
        self.sock = None

    def registered_again(self):
        self.reconnects += 1
        print("registered again as %s (reconnect %d)" % (self.app, self.reconnects), flush=True)

    def away(self):
        """The controller went away: register again, however long it takes.
        A registration that lasted starts at once, one dropped at once goes
        on backing off (a controller that drops every one is not hammered)."""
        self.drop()
        lasted = time.monotonic() - self.up_since >= RETRY_MAX
        self.delay = 0.0 if lasted else self.next_delay()
        print("the controller went away; registering %s again" % self.app, flush=True)
        while True:
            time.sleep(self.delay)
            if self.register():
                break
            self.delay = self.next_delay()
        self.registered_again()

    def recv(self):
        """The next message and its fds, across controller restarts."""
        while True:
            msg, fds = b"", []
            if self.sock:
                try:
                    msg, fds, _, _ = socket.recv_fds(self.sock, 512 + 1 + 4096, 1)
                except ConnectionError:
                    pass
            if msg or fds:
                return msg, fds
            self.away()

    def release(self, data, fd):
        """RELEASE with the socket.  The controller gone: one attempt to
        register again, and the message sent on the new registration."""
        if self.sock:
            try:
                socket.send_fds(self.sock, [data], [fd])
                return
            except ConnectionError:
                self.drop()
        if not self.register():
            raise ConnectionResetError("release: the controller went away")
        self.registered_again()
        socket.send_fds(self.sock, [data], [fd])


def read_request(conn, exact):
    """One request: (method, path, body), or None if the client closed.
    exact: read nothing beyond it, so that the next request stays in the
    socket for connbroker to route (peek, and wait for more with
    SO_RCVLOWAT instead of spinning)."""
    data = b""
    while b"\r\n\r\n" not in data:
        if exact:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, len(data) + 1)
            chunk = conn.recv(65536, socket.MSG_PEEK)
            if len(chunk) <= len(data):
                return None
            data = chunk
        else:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if exact:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
        conn.recv(len(head) + 4, socket.MSG_WAITALL)
        body = b""
    lines = head.decode("latin-1").split("\r\n")
    method, path = lines[0].split(" ")[:2]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(length - len(body) if exact else 65536)
        if not chunk:
            break
        body += chunk
    return method, path, body


def flow_fields(meta):
    text = meta.split(b"\n", 1)[0].decode()
    fields = dict(w.split("=", 1) for w in text.split()[1:] if "=" in w)
    blob = meta.split(b"\n", 1)[1] if int(fields.get("blob", "0")) else b""
    return text, fields, blob


def serve(conn, meta, ctl):
    """Answer; True when the connection was given back to connbroker."""
    text, fields, blob = flow_fields(meta)
    per_request = fields.get("route") == "per-request"
    conn.settimeout(5)
    req = read_request(conn, per_request)
    if req is None:
        return False
    method, path, body = req
    reply = ("app=%s method=%s path=%s body=%d sha256=%s prev=%s %s\n" % (
        sys.argv[2], method, path, len(body), hashlib.sha256(body).hexdigest(),
        blob.decode("latin-1") or "-", text)).encode()
    keep = per_request and not isinstance(conn, ssl.SSLSocket)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (
        len(reply), b"" if keep else b"Connection: close\r\n") + reply)
    if keep:
        # the state the next app gets with the connection
        state = ("served-by=%s" % sys.argv[2]).encode()
        ctl.release(b"RELEASE blob=%d\n" % len(state) + state, conn.fileno())
        return True
    if isinstance(conn, ssl.SSLSocket):
        conn.unwrap()
    else:
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)
    return False


def main():
    path, app = sys.argv[1], sys.argv[2]
    ctl = Controller(path, app)
    if not ctl.register():
        sys.exit("register %s: no controller at %s" % (app, path))
    tls = None
    if len(sys.argv) > 4:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[3], sys.argv[4])
    print("registered as %s" % app, flush=True)
    while True:
        msg, fds = ctl.recv()
        for fd in fds:
            with socket.socket(fileno=fd) as conn:
                try:
                    if tls:
                        conn = tls.wrap_socket(conn, server_side=True)
                    serve(conn, msg, ctl)
                except OSError as e:
                    print("connection failed: %s" % e, flush=True)


if __name__ == "__main__":
    main()
