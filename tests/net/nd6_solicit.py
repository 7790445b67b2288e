#!/usr/bin/env python3
"""Send one IPv6 neighbour solicitation for TARGET to DST out of IFNAME.

DST is a unicast address (a solicitation straight to one host, as NUD sends)
or "snm" for TARGET's solicited-node multicast group (ff02::1:ffXX:XXXX, what
address resolution sends; a bridge without snooping floods it to every
port).  The NS carries this host's MAC as source link-layer address, hop
limit 255 (RFC 4861 7.1.1); the kernel computes the ICMPv6 checksum.
Answers are not read here: the tests capture them.

usage: nd6_solicit.py IFNAME TARGET DST|snm
"""
import fcntl
import ipaddress
import socket
import struct
import sys

SIOCGIFHWADDR = 0x8927


def main():
    ifname, target, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    t = ipaddress.IPv6Address(target).packed
    if dst == "snm":
        dst = str(ipaddress.IPv6Address(b"\xff\x02" + b"\0" * 9 + b"\x01\xff" + t[13:]))
    ifindex = socket.if_nametoindex(ifname)
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    # (not /sys/class/net: nsenter --net keeps the initial namespace's /sys)
    mac = fcntl.ioctl(s, SIOCGIFHWADDR, struct.pack("256s", ifname.encode()))[18:24]
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    # type 135, code 0, checksum (kernel), reserved, target, option 1 (SLLA)
    ns = bytes([135, 0, 0, 0, 0, 0, 0, 0]) + t + bytes([1, 1]) + mac
    s.sendto(ns, (dst, 0, 0, ifindex))
    print("NS for %s sent to %s on %s" % (target, dst, ifname), flush=True)


if __name__ == "__main__":
    main()
