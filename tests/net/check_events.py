#!/usr/bin/env python3
"""Check that `connbroker -j events` saw a client's bytes exactly once, in order.

usage: check_events.py EVENTS.jsonl CLIENT_JSON_LINE|--prefix SPORT HEXPREFIX
Exit 0 when the data records of that client port, ordered by sequence number,
are contiguous and concatenate to the payload the client sent (or start with
HEXPREFIX); prints the reason otherwise.
"""
import json
import sys


def records(path, sport):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            ev = json.loads(line)
            if ev["type"] == "data" and ev["client"].endswith(":%d" % sport):
                out.append(ev)
    return out


def assemble(evs):
    evs = sorted(evs, key=lambda e: e["seq"])
    data = b""
    for i, e in enumerate(evs):
        if i and e["seq"] != evs[i - 1]["seq"] + evs[i - 1]["len"]:
            raise SystemExit("gap or overlap at seq %d" % e["seq"])
        chunk = bytes.fromhex(e["data_hex"])
        if len(chunk) != e["len"]:
            raise SystemExit("record length mismatch")
        data += chunk
    return data


def main():
    path = sys.argv[1]
    if sys.argv[2] == "--prefix":
        sport, want = int(sys.argv[3]), bytes.fromhex(sys.argv[4])
        got = assemble(records(path, sport))
        if not got.startswith(want):
            raise SystemExit("bytes differ: got %r" % got[:80])
        print("ok: %d bytes from port %d start with the expected request" % (len(got), sport))
        return
    client = json.loads(sys.argv[2])
    want = bytes.fromhex(client["payload_hex"])
    got = assemble(records(path, client["sport"]))
    if got != want:
        raise SystemExit("bytes differ: got %d bytes, want %d" % (len(got), len(want)))
    print("ok: %d bytes byte-exact in %d records" % (len(got), len(records(path, client["sport"]))))


if __name__ == "__main__":
    main()
