#!/usr/bin/env python3
"""Compare a socket connbroker materialized with one the kernel accepted.

  tcpinfo.py listen IP PORT            a plain listener (the kernel accepts)
  tcpinfo.py app SOCKET APP            a connbroker app (the socket is materialized)
  tcpinfo.py client IP PORT [BODY]     two exchanges, prints JSON {server, client, first_ms}
  tcpinfo.py compare A.json B.json     A accepted, B materialized: every field that
                                       differs, and exit 1 on any not documented below

Both servers run the same code: answer the first request with BODY bytes (so
a test can drop that first response segment and time its retransmission),
then answer a second request with their own tcp_info, read when the second
request arrived, that is after the client acknowledged the first answer.
The client reports its own side too.
"""
import json
import socket
import struct
import sys
import time

# struct tcp_info (include/uapi/linux/tcp.h, kernel 6.18), in order
FIELDS = ("state ca_state retransmits probes backoff options wscale flags "
          "rto ato snd_mss rcv_mss unacked sacked lost retrans fackets "
          "last_data_sent last_ack_sent last_data_recv last_ack_recv "
          "pmtu rcv_ssthresh rtt rttvar snd_ssthresh snd_cwnd advmss reordering "
          "rcv_rtt rcv_space total_retrans "
          "pacing_rate max_pacing_rate bytes_acked bytes_received "
          "segs_out segs_in notsent_bytes min_rtt data_segs_in data_segs_out "
          "delivery_rate busy_time rwnd_limited sndbuf_limited delivered delivered_ce "
          "bytes_sent bytes_retrans dsack_dups reord_seen rcv_ooopack snd_wnd rcv_wnd "
          "rehash total_rto total_rto_recoveries total_rto_time").split()
FORMAT = "<8B24I4Q6IQ3Q2I2Q2I4I2HI"
USEC_TS = 64

# Differences between an accepted and a materialized socket that are expected,
# each with its reason (docs/architecture.md, "The materialized socket").
# kind: "any" = may differ; ("delta", n) = may differ by at most n;
# ("close", x) = within a factor x of each other (measured times).
DOCUMENTED = {
    # the accepted socket counted the handshake; the materialized one counts the
    # one-byte RTT probe below the window and the client's answer to it instead
    "segs_out": (("delta", 2), "handshake segments vs the RTT probe"),
    "segs_in": (("delta", 2), "handshake segments vs the answer to the RTT probe"),
    "bytes_sent": (("delta", 1), "the RTT probe's byte (already acknowledged by the client)"),
    "bytes_acked": (("delta", 1), "the RTT probe's byte"),
    "data_segs_out": (("delta", 1), "the RTT probe carries one byte"),
    "delivered": (("delta", 2), "the handshake's SYN-ACK / the RTT probe"),
    "dsack_dups": (("delta", 1), "the client reports the RTT probe's old byte as a D-SACK"),
    # the second answer is the server's tcp_info as JSON: its length follows the values
    "bytes_received": (("delta", 16), "the JSON answer's length varies with its numbers"),
    # measured times: equal in kind, not in value
    "rtt": (("close", 20), "measured round-trip time"),
    "rttvar": (("close", 20), "measured"),
    "min_rtt": (("close", 20), "measured"),
    "rcv_rtt": (("any",), "receiver RTT estimate: needs a full window of data"),
    "pacing_rate": (("any",), "derived from cwnd / srtt"),
    "max_pacing_rate": (("any",), "unlimited on both"),
    "delivery_rate": (("any",), "measured"),
    "busy_time": (("any",), "measured"),
    "last_data_sent": (("any",), "timestamps of this run"),
    "last_ack_sent": (("any",), "timestamps of this run"),
    "last_data_recv": (("any",), "timestamps of this run"),
    "last_ack_recv": (("any",), "timestamps of this run"),
    "rto": (("close", 1.2), "RTO_min + 4 x rttvar: both from a real RTT sample"),
    # the RTT probe: one more data segment each way, one more ACK in slow start
    "data_segs_in": (("delta", 1), "the client counts the RTT probe (one old byte) as a data segment"),
    "snd_cwnd": (("delta", 1), "slow start grew by the ACK of the RTT probe"),
    # vary between two accepted connections as much (the A/A comparison shows it):
    # receive-window growth follows skb sizes and the timing of the reads
    "rcv_ssthresh": (("any",), "varies between two accepted connections (window growth)"),
    "rcv_wnd": (("any",), "varies between two accepted connections (window growth)"),
    "snd_wnd": (("any",), "the client's receive window: varies between accepted connections"),
    # what the kernel's repair path does differently, and cannot be set
    "advmss": (("delta", 12), "the kernel takes the 12-byte timestamp option off advmss when it "
               "negotiates timestamps; TCP_REPAIR_OPTIONS turns them on without doing so, and "
               "TCP_MAXSEG before connect() would lower the send MSS with it"),
    "snd_mss": (("delta", 12), "without timestamps: the repair connect() sizes its header for the "
                "host's tcp_timestamps sysctl (on), and nothing tells it timestamps were not "
                "negotiated; segments still go out full-sized (tcp_current_mss corrects per "
                "segment: the client's rcv_mss is equal), only the cached value reads 12 less"),
    "rcv_space": (("delta", 120), "first receive-autotuning estimate, 10 x advmss (see advmss)"),
    "rcv_mss": (("any",), "estimate of the client's segment size: the repair connect() skips "
                "tcp_initialize_rcv_mss(), so it starts at 88 (TCP_MIN_MSS), not 536; the first "
                "client segment at least that large sets it"),
    "ato": (("any",), "delayed-ACK timer: follows the interarrival of the client's segments"),
}


def tcp_info(sock):
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512)
    size = struct.calcsize(FORMAT)
    vals = struct.unpack_from(FORMAT, raw.ljust(size, b"\0"))
    info = dict(zip(FIELDS, vals))
    info["snd_wscale"] = info["wscale"] & 0xF
    info["rcv_wscale"] = info["wscale"] >> 4
    info["usec_ts"] = int(bool(info["options"] & USEC_TS))
    del info["wscale"]
    return info


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data


def serve(conn, body_len):
    conn.settimeout(10)
    if read_request(conn) is None:
        return
    body = b"x" * body_len
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    if read_request(conn) is None:
        return
    info = json.dumps(tcp_info(conn)).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(info) + info)
    # the client closes first, after reading its own tcp_info (an early FIN
    # from here would change its state)
    try:
        conn.recv(1)
    except OSError:
        pass
    conn.close()


def listen(ip, port, body_len):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ip, port))
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        serve(conn, body_len)


def app(path, name, body_len):
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ctl.connect(path)
    ctl.send(b"REGISTER " + name.encode())
    if ctl.recv(256) != b"OK":
        sys.exit("register refused")
    while True:
        msg, fds, _, _ = socket.recv_fds(ctl, 512, 1)
        if not msg:
            return
        serve(socket.socket(fileno=fds[0]), body_len)


def read_response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("connection closed early")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("short body")
        rest += chunk
    return rest


def client(ip, port):
    s = socket.create_connection((ip, port), timeout=10)
    t0 = time.monotonic()
    s.sendall(b"GET /one HTTP/1.1\r\nHost: t\r\n\r\n")
    read_response(s)
    first_ms = (time.monotonic() - t0) * 1000
    s.sendall(b"GET /info HTTP/1.1\r\nHost: t\r\n\r\n")
    server = json.loads(read_response(s))
    mine = tcp_info(s)
    s.close()
    print(json.dumps({"server": server, "client": mine, "first_ms": round(first_ms, 1)}))


def allowed(rule, a, b):
    kind = rule[0]
    if kind == "any":
        return True
    if kind == "delta":
        return abs(a - b) <= rule[1]
    lo, hi = min(a, b), max(a, b)
    return lo > 0 and hi <= lo * rule[1] or hi - lo <= 1000   # 1 ms of slack on times


def compare(path_a, path_b):
    a, b = json.load(open(path_a)), json.load(open(path_b))
    bad = 0
    print("%-8s %-22s %14s %14s  %s" % ("side", "field", "accepted", "materialized", "verdict"))
    for side in ("server", "client"):
        for field in sorted(a[side]):
            va, vb = a[side][field], b[side][field]
            if va == vb:
                continue
            rule, why = DOCUMENTED.get(field, (None, None))
            ok = rule is not None and allowed(rule, va, vb)
            bad += not ok
            print("%-8s %-22s %14s %14s  %s" % (side, field, va, vb,
                  ("documented: " + why) if ok else "NOT DOCUMENTED"))
    print("%d undocumented difference(s)" % bad)
    sys.exit(1 if bad else 0)


def main():
    cmd = sys.argv[1]
    if cmd == "listen":
        listen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 1000)
    elif cmd == "app":
        app(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 1000)
    elif cmd == "client":
        client(sys.argv[2], int(sys.argv[3]))
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
