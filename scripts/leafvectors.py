#!/usr/bin/env python3
"""Independent implementation of docs/LEAF-ENCODING.md's leaf encoding.

Recomputes the leaf input and leaf hash of every vector in
testdata/TestLeafVectors/vectors.json and exits 1 on a mismatch.
Usage: python3 scripts/leafvectors.py [vectors.json]
"""
import datetime
import hashlib
import json
import struct
import sys


class Num(str):
    """A JSON number kept as its text."""


def canon(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, Num):
        return str(v)
    if isinstance(v, str):
        out = ['"']
        for ch in v:
            if ch in '"\\':
                out.append("\\" + ch)
            elif ord(ch) < 0x20:
                out.append("\\u%04x" % ord(ch))
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)
    if isinstance(v, list):
        return "[" + ",".join(canon(e) for e in v) + "]"
    keys = sorted(v, key=lambda k: k.encode())
    return "{" + ",".join(canon(k) + ":" + canon(v[k]) for k in keys) + "}"


def reject(name):
    raise ValueError(name)


def json_field(text):
    v = None
    if text is not None and text.strip(" \t\n\r"):
        try:
            v = json.loads(text, parse_float=Num, parse_int=Num, parse_constant=reject)
        except ValueError:  # not valid JSON: the marker and the text as stored
            return struct.pack(">I", 0xFFFFFFFF) + text_field(text)
    if isinstance(v, dict) and not v:
        v = None
    b = canon(v).encode()
    return struct.pack(">I", len(b)) + b


def text_field(s):
    b = s.encode()
    return struct.pack(">I", len(b)) + b


def created_at(s):
    # RFC 3339 with up to nine fractional digits, UTC ("Z").
    main, _, frac = s.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    secs = (t - epoch) // datetime.timedelta(seconds=1)
    nanos = int((frac + "000000000")[:9])
    return struct.pack(">qI", secs, nanos)


def leaf_input(e):
    parent = e.get("parent_table", "") or e.get("parent_pk", "")
    b = (b"\x02" if parent else b"\x01") + struct.pack(">q", e["id"])
    for k in ("table_name", "object_pk", "object_repr", "action"):
        b += text_field(e[k])
    b += json_field(e["changes"])
    for k in ("actor_id", "remote_addr", "cid"):
        b += text_field(e[k])
    b += json_field(e["data"]) + json_field(e["snapshot"])
    b += created_at(e["created_at"])
    if parent:  # version 2: the parent table and key follow
        b += text_field(e.get("parent_table", "")) + text_field(e.get("parent_pk", ""))
    return b


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "testdata/TestLeafVectors/vectors.json"
    bad = 0
    for e in json.load(open(path)):
        inp = leaf_input(e)
        h = hashlib.sha256(b"\x00" + inp).hexdigest()
        ok = inp.hex() == e["leaf_input_hex"] and h == e["leaf_hash_hex"]
        print(("ok  " if ok else "FAIL"), e["name"])
        bad += not ok
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
