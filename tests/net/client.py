#!/usr/bin/env python3
"""A real TCP client for the integration tests.

Connects to VIP:PORT (on which nothing listens; IPv6 when VIP has a colon),
sends the request in the given number of segments, checks that the kernel
reports the connection ESTABLISHED and every byte acknowledged (TCP_INFO),
then prints one JSON line and closes with an RST (SO_LINGER 0) so no FIN
reaches the broker.
"""
import json
import socket
import struct
import sys
import time


def tcp_info(sock):
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    state = raw[0]
    options = raw[5]
    wscale = raw[6]
    # struct tcp_info: tcpi_bytes_acked is a u64 at offset 120 (linux/tcp.h)
    bytes_acked = struct.unpack_from("Q", raw, 120)[0] if len(raw) >= 128 else -1
    # tcpi_snd_wscale:4 (the peer's shift) is the low nibble, tcpi_rcv_wscale:4 ours
    return {"state": state, "options": options, "snd_wscale": wscale & 0xF,
            "rcv_wscale": wscale >> 4, "bytes_acked": bytes_acked}


def main():
    host, port, size, segments = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    prefix = sys.argv[5].encode() if len(sys.argv) > 5 else b"POST /upload HTTP/1.1\r\n\r\n"
    body = bytes((i * 7 + 13) % 251 for i in range(max(0, size - len(prefix))))
    payload = (prefix + body)[:size]
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(5)
    t0 = time.monotonic()
    s.connect((host, port))
    connect_ms = (time.monotonic() - t0) * 1000
    step = max(1, (len(payload) + segments - 1) // segments)
    for off in range(0, len(payload), step):
        s.sendall(payload[off:off + step])
        time.sleep(0.02)
    info = {}
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        info = tcp_info(s)
        if info["bytes_acked"] == len(payload) + 1:
            break
        time.sleep(0.02)
    info.update({"sport": s.getsockname()[1], "sent": len(payload),
                 "payload_hex": payload.hex(), "connect_ms": round(connect_ms, 3)})
    print(json.dumps(info), flush=True)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


if __name__ == "__main__":
    main()
