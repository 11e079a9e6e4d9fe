"""Decodes rtnetlink messages with pyroute2, an independent implementation, for second-opinion tests.

Reads JSON lines {"kind": "link", "hex": "..."} on stdin, writes one JSON line per message:
{"header": {...fixed header fields...}, "attrs": {"IFLA_IFNAME": "v1", "IFLA_LINKINFO": {"attrs": {...}}}}
A repeated attribute becomes a list. Runs under Debian's /usr/bin/python3 (python3-pyroute2).
"""
import json
import sys

from pyroute2.netlink.rtnl.fibmsg import fibmsg
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.ndmsg import ndmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg
from pyroute2.netlink.rtnl.tcmsg import tcmsg

KINDS = {
    "link": ifinfmsg,
    "address": ifaddrmsg,
    "route": rtmsg,
    "neighbour": ndmsg,
    "rule": fibmsg,
    "tc": tcmsg,
}


def plain(value):
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            if key == "attrs":
                out["attrs"] = attrs(inner)
            elif key not in ("header", "__align"):
                out[key] = plain(inner)
        return out
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def attrs(pairs):
    out = {}
    for pair in pairs:
        name, value = pair[0], pair[1]
        if name == "UNKNOWN":
            continue
        value = plain(value)
        if name in out:
            if not isinstance(out[name], list) or not out.get("__multi__" + name):
                out[name] = [out[name]]
                out["__multi__" + name] = True
            out[name].append(value)
        else:
            out[name] = value
    return {k: v for k, v in out.items() if not k.startswith("__multi__")}


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    req = json.loads(line)
    msg = KINDS[req["kind"]](bytes.fromhex(req["hex"]))
    msg.decode()
    dumped = msg.dump()
    header = {k: plain(v) for k, v in dumped.items() if k not in ("attrs", "header", "__align")}
    print(json.dumps({"header": header, "attrs": attrs(dumped.get("attrs", []))}, default=str))
