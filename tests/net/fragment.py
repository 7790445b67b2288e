#!/usr/bin/env python3
"""Send one TCP segment as two IPv4 fragments (raw socket, kernel does ARP).
The broker's program passes fragments, so the director's kernel reassembles a
segment of a flow it has no socket for and answers with an RST: the TC egress
guard must drop that RST.  Test traffic only, from the client namespace.

usage: fragment.py IFNAME SRC_IP DST_IP SPORT DPORT SEQ ACK
"""
import socket
import struct
import sys

from synflood import csum


def main():
    ifname, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    sport, dport, seq, ack = (int(x) for x in sys.argv[4:8])
    payload = b"F" * 40
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x18, 502, 0, 0) + payload
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    for off, chunk, more in ((0, tcp[:32], 1), (4, tcp[32:], 0)):
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(chunk), 0x4242,
                         (more << 13) | off, 64, 6, 0, socket.inet_aton(src), socket.inet_aton(dst))
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        s.sendto(ip + chunk, (dst, 0))
    print("sent 2 fragments")


if __name__ == "__main__":
    main()
