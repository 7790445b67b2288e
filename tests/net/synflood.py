#!/usr/bin/env python3
"""Send N crafted TCP segments through a raw IPv4 socket (the kernel
resolves ARP).  Test traffic only: run inside the client namespace.

usage: synflood.py IFNAME SRC_IP DST_IP DST_PORT COUNT [syn|ack|rst] [SPORT SEQ ACK]
  syn (default)  SYNs with Linux's options from distinct source ports
  ack            bare ACKs (forged: no handshake) from distinct source ports
  rst            RSTs on one tuple (SPORT, SEQ, ACK given): in-window RSTs
                 for challenge-ACK tests; 54-byte frames, no options
"""
import socket
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn(src, dst, sport, dport, seq):
    opts = struct.pack("!BBH", 2, 4, 1460) + b"\x04\x02\x01\x03\x03\x07" + b"\x01\x01"
    thl = 20 + len(opts)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, (thl // 4) << 4, 0x02, 64240, 0, 0) + opts
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, thl)
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + thl, 0, 0x4000, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def bare(src, dst, sport, dport, seq, ack, flags):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, 20)
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def main():
    ifname, src, dst, dport, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    kind = sys.argv[6] if len(sys.argv) > 6 else "syn"
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    for i in range(count):
        sport = 10000 + (i % 50000)
        if kind == "syn":
            pkt = syn(src, dst, sport, dport, 0x10000000 + i)
        elif kind == "ack":
            pkt = bare(src, dst, sport, dport, 0x20000000 + i, 0x30000000 + 7 * i, 0x10)
        else:
            pkt = bare(src, dst, int(sys.argv[7]), dport, int(sys.argv[8]), int(sys.argv[9]), 0x04)
        s.sendto(pkt, (dst, 0))
    print("sent %d %s segments" % (count, kind))


if __name__ == "__main__":
    main()
