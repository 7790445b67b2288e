#!/usr/bin/env python3
"""What the impaired path delivered, from captures of what the bridge sent
to each end (tcpdump -Q out on its ports; headers are enough: the TCP
checksum stands for the payload).  Per server port and direction, counts:

  packets     TCP segments delivered
  dup         byte-identical (IP and TCP headers, checksums included) to an
              earlier one of the same connection: a late duplicate
  reordered   not a duplicate, and its TSval is older than one delivered
              before it in the same direction of the connection: overtaken
  retrans     not a duplicate nor reordered, carries sequence space (data,
              SYN or FIN) starting below the highest already delivered: the
              sender sent it again (its loss or a spurious timeout)
  probes      connbroker's RTT probe (one byte at the server's ISN), not
              counted as retrans
  conns       connections (the client's first SYN)

usage: loss_pcap.py CLIENT_IP PORT[,PORT...] PCAP...   prints one JSON object:
       {"PORT": {"to_server": {...}, "to_client": {...}}, ...}
       loss_pcap.py --trace CLIENT_IP PORT CLIENT_PORT T_END PCAP...
           the connection of that client port that started last before
           T_END (epoch seconds: when its request failed), both directions
           merged in time, sequence numbers relative to each side's ISN, and
           what ended it (a diagnosis line)
"""
import json
import socket
import struct
import sys


def packets(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xa1b2c3d4, 0xa1b23c4d):
            end = "<"
        elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
            end = ">"
        else:
            raise SystemExit("%s: not a pcap file" % path)
        linktype = struct.unpack(end + "I", hdr[20:24])[0]
        if linktype != 1:
            raise SystemExit("%s: link type %d, want Ethernet" % (path, linktype))
        rec = struct.Struct(end + "IIII")
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, usec, caplen, _ = rec.unpack(h)
            yield sec + usec / 1e6, f.read(caplen)


def tsval(tcp, doff):
    opts, i = tcp[20:doff], 0
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            return None
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(opts):
            return None
        ln = opts[i + 1]
        if kind == 8 and ln == 10 and i + 6 <= len(opts):
            return struct.unpack("!I", opts[i + 2:i + 6])[0]
        if ln < 2:
            return None
        i += ln
    return None


def after(a, b):
    """a > b in 32-bit sequence space."""
    return 0 < ((a - b) & 0xffffffff) < 0x80000000


def main():
    client = socket.inet_aton(sys.argv[1])
    ports = [int(p) for p in sys.argv[2].split(",")]
    keys = ("packets", "dup", "reordered", "retrans", "probes", "conns")
    out = {str(p): {d: dict.fromkeys(keys, 0) for d in ("to_server", "to_client")} for p in ports}
    flows = {}
    for path in sys.argv[3:]:
        for _, frame in packets(path):
            if len(frame) < 34 or frame[12:14] != b"\x08\x00":
                continue
            ip = frame[14:]
            ihl = (ip[0] & 15) * 4
            if ip[9] != 6 or len(ip) < ihl + 20:
                continue
            tot = struct.unpack("!H", ip[2:4])[0]
            tcp = ip[ihl:]
            sport, dport, seq, _ = struct.unpack("!HHII", tcp[:12])
            doff = (tcp[12] >> 4) * 4
            flags = tcp[13]
            syn, fin = flags & 2, flags & 1
            payload = tot - ihl - doff
            if ip[12:16] == client and dport in ports:
                d, port, flow = "to_server", dport, (sport, dport, 0)
            elif ip[16:20] == client and sport in ports:
                d, port, flow = "to_client", sport, (dport, sport, 1)
            else:
                continue
            c = out[str(port)][d]
            c["packets"] += 1
            st = flows.get(flow)
            if st is None or (syn and not (flags & 16) and flow[2] == 0 and st["isn"] != seq):
                # a new connection on this tuple (a client SYN with a new ISN)
                st = flows[flow] = {"seen": set(), "ts": None, "end": None, "isn": None}
                rev = (flow[0], flow[1], 1 - flow[2])
                if flow[2] == 0:
                    flows.pop(rev, None)
            key = bytes(ip[:ihl + doff])
            if key in st["seen"]:
                c["dup"] += 1
                continue
            st["seen"].add(key)
            if syn:
                if st["isn"] is None and flow[2] == 0 and not (flags & 16):
                    c["conns"] += 1
                st["isn"] = seq
            ts = tsval(tcp, doff) if doff > 20 else None
            if ts is not None and st["ts"] is not None and after(st["ts"], ts):
                c["reordered"] += 1
                continue
            if ts is not None:
                st["ts"] = ts
            span = payload + (1 if syn else 0) + (1 if fin else 0)
            if span == 0:
                continue
            if flow[2] == 1 and payload == 1 and not syn and st["isn"] == seq:
                c["probes"] += 1
                continue
            end = (seq + span) & 0xffffffff
            if st["end"] is not None and after(st["end"], seq):
                c["retrans"] += 1
            if st["end"] is None or after(end, st["end"]):
                st["end"] = end
    print(json.dumps(out))


def parse(frame):
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 6 or len(ip) < ihl + 20:
        return None
    tot = struct.unpack("!H", ip[2:4])[0]
    tcp = ip[ihl:]
    sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
    doff = (tcp[12] >> 4) * 4
    return {"src": ip[12:16], "dst": ip[16:20], "sport": sport, "dport": dport, "seq": seq,
            "ack": ack, "flags": tcp[13], "len": tot - ihl - doff, "ts": tsval(tcp, doff) if doff > 20 else None}


def trace():
    client = socket.inet_aton(sys.argv[2])
    port, cport, t_end = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    pkts = []
    for path in sys.argv[6:]:
        for t, frame in packets(path):
            p = parse(frame)
            if p is None:
                continue
            if p["src"] == client and (p["sport"], p["dport"]) == (cport, port):
                p["dir"] = ">"
            elif p["dst"] == client and (p["sport"], p["dport"]) == (port, cport):
                p["dir"] = "<"
            else:
                continue
            p["t"] = t
            pkts.append(p)
    pkts.sort(key=lambda p: p["t"])
    # the connection: from the last client SYN with a new ISN before t_end,
    # up to the next one
    start, isn = 0, {}
    for i, p in enumerate(pkts):
        if p["dir"] == ">" and p["flags"] & 0x12 == 0x02 and p["seq"] != isn.get(">"):
            if p["t"] > t_end:
                pkts = pkts[:i]
                break
            start, isn = i, {">": p["seq"]}
        elif p["dir"] == "<" and p["flags"] & 0x12 == 0x12 and "<" not in isn:
            isn["<"] = p["seq"]
    conn = pkts[start:]
    names = "FSRPAU"
    t0 = conn[0]["t"] if conn else 0
    print("client port %d -> %d: %d segments delivered (%d in its last connection), relative to each ISN:"
          % (cport, port, len(pkts), len(conn)))
    for p in conn[:60]:
        me, peer = isn.get(p["dir"]), isn.get("<" if p["dir"] == ">" else ">")
        rel = lambda v, base: (v - base) & 0xffffffff if base is not None else v
        fl = "".join(n for b, n in enumerate(names) if p["flags"] & (1 << b))
        print("  %+9.1f ms %s %-4s seq %d len %d ack %s ts %s" % (
            (p["t"] - t0) * 1000, "client>vip" if p["dir"] == ">" else "vip>client", fl,
            rel(p["seq"], me), p["len"], rel(p["ack"], peer) if p["flags"] & 16 else "-", p["ts"]))
    if len(conn) > 60:
        print("  ... %d more" % (len(conn) - 60))
    # what the server first saw after the SYN, and whether the VIP reset it
    first = next((p for p in conn if p["dir"] == ">" and not p["flags"] & 2), None)
    rst = next((p for p in conn if p["dir"] == "<" and p["flags"] & 4), None)
    if first and rst and ">" in isn and first["seq"] != (isn[">"] + 1) & 0xffffffff and \
            not any(p["dir"] == ">" and p["seq"] == (isn[">"] + 1) & 0xffffffff and p["t"] < rst["t"] for p in conn):
        print("diagnosis: cookie-gap: the first segment after the handshake that reached the VIP was at client "
              "seq ISN+%d, not ISN+1 (the handshake ACK and the first data before it were lost or delayed); "
              "the VIP answered it with an RST (a cookie needs seq - 1 = the client's ISN)"
              % ((first["seq"] - isn[">"]) & 0xffffffff))
    elif rst:
        print("diagnosis: the VIP reset the connection %.1f ms after its SYN" % ((rst["t"] - t0) * 1000))
    else:
        print("diagnosis: no RST from the VIP")


if __name__ == "__main__":
    if sys.argv[1] == "--trace":
        trace()
    else:
        main()
