#!/usr/bin/env python3
"""The client of tests/net/tests_loss.sh: a fixed list of HTTP requests
(GET and POST, bodies of 1 byte to 200 KB, log-uniform), over a mix of new
connections (one request each: 80 % of the connections) and keep-alive
connections (2-6 requests each, the last one "Connection: close"), WORKERS
connections at a time, no pipelining.

Every answer is checked: status 200, the app's X-Req-Len and X-Req-Sha256
must be those of the exact request bytes sent (head and body), the body must
have the length asked for and the sha256 of loss_app.response_body().  No
request is retried.  A request is
  ok      checked and right
  hung    no complete answer within its DEADLINE seconds (bounded: nothing
          waits longer)
  failed  anything else: reset, refused, EOF, a wrong byte, or not sent
          because an earlier request of its keep-alive connection failed

usage: loss_client.py HOST PORT REQUESTS SEED WORKERS DEADLINE OUT_JSON
Prints one JSON line (also written to OUT_JSON) with the counts, the
latencies, the failures (each with its client port, for the capture) and
the slowest requests.
"""
import concurrent.futures
import hashlib
import json
import math
import random
import socket
import sys
import time

from loss_app import response_body

MAX = 200 * 1024


def plan(requests, seed):
    """Connections, each a list of (ident, method, body_len, resp_len)."""
    rnd = random.Random(seed)

    def size():
        return max(1, min(MAX, int(round(math.exp(rnd.uniform(0, math.log(MAX)))))))
    # the extremes, each on a new connection, first
    jobs = [[(0, "POST", 1, 1)], [(1, "POST", MAX, 1)], [(2, "GET", 0, 1)], [(3, "GET", 0, MAX)],
            [(4, "POST", MAX, MAX)]]
    ident = 5
    while ident < requests:
        k = 1 if rnd.random() < 0.8 else rnd.randint(2, 6)
        job = []
        for _ in range(min(k, requests - ident)):
            if rnd.random() < 0.5:
                job.append((ident, "GET", 0, size()))
            else:
                job.append((ident, "POST", size(), size()))
            ident += 1
        jobs.append(job)
    rnd.shuffle(jobs)
    return jobs


def request_bytes(seed, ident, method, body_len, resp_len, close):
    body = random.Random(seed * 1000003 + ident).randbytes(body_len) if method == "POST" else b""
    head = "%s /r/%d/%d HTTP/1.1\r\nHost: loss.test\r\nX-Id: %d\r\n" % (method, ident, resp_len, ident)
    if method == "POST":
        head += "Content-Length: %d\r\nContent-Type: application/octet-stream\r\n" % body_len
    if close:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode() + body


class Hung(Exception):
    pass


def recv_some(sock, deadline, n):
    left = deadline - time.monotonic()
    if left <= 0:
        raise Hung("deadline")
    sock.settimeout(left)
    try:
        return sock.recv(n)
    except socket.timeout:
        raise Hung("deadline")


def read_response(sock, deadline):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = recv_some(sock, deadline, 65536)
        if not chunk:
            raise ConnectionError("EOF after %d bytes of the response head" % len(buf))
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    lines = buf[:end - 4].decode("latin-1").split("\r\n")
    status = lines[0]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    if length < 0:
        raise ValueError("no Content-Length: %r" % status)
    body = buf[end:]
    while len(body) < length:
        chunk = recv_some(sock, deadline, 1 << 20)
        if not chunk:
            raise ConnectionError("EOF after %d of %d body bytes" % (len(body), length))
        body += chunk
    if len(body) > length:
        raise ValueError("%d bytes beyond the body" % (len(body) - length))
    return status, headers, body


def run_job(host, port, seed, job, deadline_s):
    """One connection: a result dict per request."""
    results = []
    sock = None
    lport = 0
    broken = None
    try:
        for i, (ident, method, body_len, resp_len) in enumerate(job):
            t0 = time.monotonic()
            deadline = t0 + deadline_s
            res = {"id": ident, "method": method, "req_len": body_len, "resp_len": resp_len,
                   "new_conn": i == 0, "t": time.time()}
            results.append(res)
            if broken:
                res.update(kind="failed", error="not sent: " + broken, port=lport)
                continue
            req = request_bytes(seed, ident, method, body_len, resp_len, i == len(job) - 1)
            try:
                if sock is None:
                    sock = socket.socket()
                    sock.settimeout(deadline_s)
                    try:
                        sock.connect((host, port))
                    except OSError as e:
                        try:
                            lport = sock.getsockname()[1]   # for the capture, if it has one
                        except OSError:
                            pass
                        res["port"] = lport
                        raise Hung("connect") if isinstance(e, socket.timeout) else e
                    lport = sock.getsockname()[1]
                res["port"] = lport
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                try:
                    sock.sendall(req)
                except socket.timeout:
                    raise Hung("send")
                status, headers, body = read_response(sock, deadline)
                want = hashlib.sha256(response_body(ident, resp_len)).hexdigest()
                errors = []
                if not status.startswith("HTTP/1.1 200"):
                    errors.append("status %r" % status)
                if headers.get("x-req-len") != str(len(req)):
                    errors.append("app read %s request bytes, sent %d" % (headers.get("x-req-len"), len(req)))
                if headers.get("x-req-sha256") != hashlib.sha256(req).hexdigest():
                    errors.append("request sha256 differs at the app")
                if len(body) != resp_len:
                    errors.append("body %d bytes, want %d" % (len(body), resp_len))
                if hashlib.sha256(body).hexdigest() != want:
                    errors.append("response body sha256 differs")
                if headers.get("x-body-sha256") != want:
                    errors.append("X-Body-Sha256 differs")
                if errors:
                    raise ValueError("; ".join(errors))
                res.update(kind="ok")
            except Hung as e:
                res.update(kind="hung", error="no answer within %.0f s (%s)" % (deadline_s, e))
                broken = "request %d hung" % ident
            except (OSError, ValueError) as e:
                res.update(kind="failed", error="%s: %s" % (type(e).__name__, e))
                broken = "request %d failed" % ident
            res["ms"] = round((time.monotonic() - t0) * 1000, 1)
    finally:
        if sock is not None:
            sock.close()
    return results


def main():
    host, port, requests, seed, workers, deadline, out = sys.argv[1:8]
    port, requests, seed, workers, deadline = int(port), int(requests), int(seed), int(workers), float(deadline)
    jobs = plan(requests, seed)
    t0 = time.monotonic()
    results = []
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for r in pool.map(lambda j: run_job(host, port, seed, j, deadline), jobs):
            results.extend(r)
    seconds = time.monotonic() - t0
    ms = sorted(r["ms"] for r in results if "ms" in r)
    summary = {
        "target": "%s:%d" % (host, port), "requests": len(results), "connections": len(jobs),
        "ok": sum(r["kind"] == "ok" for r in results),
        "failed": sum(r["kind"] == "failed" for r in results),
        "hung": sum(r["kind"] == "hung" for r in results),
        "seconds": round(seconds, 1),
        "get": sum(r["method"] == "GET" for r in results),
        "post": sum(r["method"] == "POST" for r in results),
        "bytes_up": sum(r["req_len"] for r in results), "bytes_down": sum(r["resp_len"] for r in results),
        "ms_p50": ms[len(ms) // 2] if ms else None, "ms_p99": ms[len(ms) * 99 // 100] if ms else None,
        "ms_max": ms[-1] if ms else None,
        "over_ms": {str(b): sum(m > b for m in ms) for b in (200, 1000, 2000, 3000)},
        "failures": [r for r in results if r["kind"] != "ok"],
        "slowest": sorted((r for r in results if "ms" in r), key=lambda r: -r["ms"])[:5],
    }
    text = json.dumps(summary)
    with open(out, "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
