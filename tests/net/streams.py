"""The two numbered streams of the live-migration tests (stream_app.py,
stream_client.py): the server's byte i is i % 251, the client's (7 * i) % 253.
Both are periodic, so they are cut from a precomputed buffer."""

_DOWN = bytes(i % 251 for i in range(251 * 600))
_UP = bytes((7 * i) % 253 for i in range(253 * 600))


def _piece(pat, period, start, n):
    out, o = bytearray(), start % period
    while len(out) < n:
        take = min(n - len(out), len(pat) - o)
        out += pat[o:o + take]
        o = 0
    return bytes(out)


def down_bytes(start, n):
    """n bytes of the server's stream from offset start."""
    return _piece(_DOWN, 251, start, n)


def up_bytes(start, n):
    """n bytes of the client's stream from offset start."""
    return _piece(_UP, 253, start, n)


def down_first_bad(data, start):
    """Offset in data of the first byte that is not the server's stream, or -1."""
    want = down_bytes(start, len(data))
    if data == want:
        return -1
    return next(j for j in range(len(data)) if data[j] != want[j])


def up_ok(data, start):
    """data is the client's stream from offset start."""
    return data == up_bytes(start, len(data))
