#!/usr/bin/env python3
"""Cross-checks the C codec against fastavro, an independent Avro implementation.

For every schema in schemas/: the C codec's Parsing Canonical Form and
CRC-64-AVRO fingerprint must equal fastavro's. For records of every kind and
event type (values defined here, not by the C code):
  - the bytes the C codec writes (codec_vectors encode) must equal the bytes
    fastavro writes, framed as Avro single-object encoding, and fastavro must
    read them back to the same value;
  - the C codec must read fastavro's bytes (codec_vectors decode) to the same
    value, resolved into the current schema (for ledger.Event.v1: memo null,
    the reason string mapped to the ReturnReason symbol by the upgrader).

Run by ctest as codec_crosscheck_fastavro:
    crosscheck.py --tool build/tests/codec_vectors --schemas schemas
Exit status 0 when everything matches, 1 otherwise (differences on stderr).
"""
import argparse
import copy
import glob
import io
import json
import os
import subprocess
import sys

import fastavro
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

T0 = 1795687200000  # 2026-11-26T10:00:00Z
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
I32_MIN, I32_MAX = -(2**31), 2**31 - 1


def uuid(n):
    return "5f0c8e8a-3f57-4c1e-9a53-%012x" % n


def event(account, seq, kind, payload, at=T0, command="cmd-1", n=1):
    return {
        "event_id": uuid(n),
        "account": account,
        "seq": seq,
        "at": at,
        "command_id": command,
        "payload": ("ledger." + kind, payload),
    }


def events_v2():
    return [
        event("alice", 1, "AccountOpened", {"overdraft": 5000}),
        event("alice", 2, "MoneyDeposited", {"amount": 10000, "memo": None}, n=2),
        event("alice", 3, "MoneyDeposited", {"amount": 1, "memo": "rent \u00e9\u20ac\u2615"}, n=3),
        event("alice", 4, "MoneyDeposited", {"amount": 2, "memo": "m" * 140}, n=4),
        event("alice", 5, "MoneyWithdrawn", {"amount": 2550}, n=5),
        event("alice", 6, "TransferSent", {"transfer_id": uuid(100), "to": "bob", "amount": 1500}),
        event("bob", 2, "TransferReceived", {"transfer_id": uuid(100), "from": "alice", "amount": 1500}),
        event("alice", 7, "TransferReturned",
              {"transfer_id": uuid(101), "to": "carol", "amount": 700, "reason": "no_such_account"}),
        event("alice", 8, "TransferReturned",
              {"transfer_id": uuid(102), "to": "dave", "amount": 1, "reason": "account_closed"}),
        event("bob", 3, "AccountClosed", {}),
        # extremes of the encoding: 10-byte varints, negative times, long ids
        event("A" * 64, I64_MAX, "MoneyWithdrawn", {"amount": I64_MIN}, at=-1,
              command="~" * 128, n=9),
        event("z.Z-_9", I64_MIN, "AccountOpened", {"overdraft": I64_MAX}, at=I64_MIN),
    ]


def events_v1():
    out = []
    for e in events_v2():
        e = copy.deepcopy(e)
        name, p = e["payload"]
        if name == "ledger.MoneyDeposited":
            if p.pop("memo") is not None:
                continue  # v1 has no memo
        out.append(e)
    return out


def upgraded(e):
    """What the current reader must make of a v1 event."""
    e = copy.deepcopy(e)
    name, p = e["payload"]
    if name == "ledger.MoneyDeposited":
        p["memo"] = None
    return e


def commands():
    def cmd(i, kind, account, amount, to=None, at=None):
        return {"id": i, "type": kind, "account": account, "to": to, "amount": amount, "at": at}

    return [
        cmd("c-open", "open", "alice", 0),
        cmd("c-open-od", "open", "bob", 50000, at=T0),
        cmd("c-dep", "deposit", "alice", 10000, at=T0 + 1),
        cmd("c-wd", "withdraw", "alice", 2550),
        cmd("c-tr", "transfer", "alice", 1500, to="bob", at=I64_MIN),
        cmd("c-close", "close", "bob", 0),
        cmd(" " * 128, "deposit", "a" * 64, I64_MAX, at=I64_MAX),
    ]


def results():
    sent = event("alice", 6, "TransferSent", {"transfer_id": uuid(100), "to": "bob", "amount": 1500})
    deposit = event("alice", 2, "MoneyDeposited", {"amount": 10000, "memo": "pay"}, n=2)

    def res(cid, status, reason=None, duplicate=False, ev=None, position=None):
        return {"command_id": cid, "status": status, "reason": reason, "duplicate": duplicate,
                "event": ev, "position": position}

    return [
        res("c-tr", "accepted", ev=sent, position={"partition": 3, "offset": 12345}),
        res("c-dep", "accepted", ev=deposit, position={"partition": I32_MAX, "offset": I64_MAX}),
        res("c-dep", "accepted", duplicate=True, ev=deposit,
            position={"partition": I32_MIN, "offset": 0}),
        res("c-wd", "rejected", reason="insufficient_funds"),
        res("c-x", "rejected", reason="malformed_command", duplicate=True),
        res("c-open", "accepted"),
    ]


def snapshots():
    accounts = [
        {"account": "alice", "status": "open", "balance": -2500, "overdraft": 5000, "seq": 8},
        {"account": "bob", "status": "closed", "balance": 0, "overdraft": 0, "seq": 3},
        {"account": "ghost", "status": "none", "balance": 0, "overdraft": 0, "seq": 0},
    ]
    handled = [
        {"handled_at": T0, "result": r} for r in results()
    ]
    return [
        {"partition": 0, "events_offset": 0, "accounts": [], "commands": []},
        {"partition": 5, "events_offset": 987654321, "accounts": accounts, "commands": handled},
    ]


def strip_logical(schema):
    """The schema without logicalType, so that fastavro reads timestamps as the
    longs they are on the wire (the bytes and the canonical form do not change)."""
    if isinstance(schema, dict):
        return {k: strip_logical(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [strip_logical(v) for v in schema]
    return schema


def normal(value):
    """Tuples (fastavro's union notation) as lists, as in JSON."""
    return json.loads(json.dumps(value))


def run_tool(tool, mode, lines):
    out = subprocess.run([tool, mode], input="".join(l + "\n" for l in lines),
                         capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


class Check:
    def __init__(self):
        self.failures = 0
        self.passed = 0

    def equal(self, what, got, want):
        if got == want:
            self.passed += 1
            return True
        self.failures += 1
        print("MISMATCH %s\n  got:  %s\n  want: %s" % (what, got, want), file=sys.stderr)
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True, help="path of the codec_vectors program")
    ap.add_argument("--schemas", required=True, help="the schemas/ directory")
    args = ap.parse_args()
    check = Check()

    # 1. canonical forms and fingerprints, for every schema file
    c_schemas = {}
    for line in run_tool(args.tool, "schemas", []):
        s = json.loads(line)
        c_schemas[s["id"]] = s
    parsed = {}
    fps = {}
    files = sorted(glob.glob(os.path.join(args.schemas, "*.avsc")))
    check.equal("schema ids", sorted(c_schemas),
                sorted(os.path.basename(f)[: -len(".avsc")] for f in files))
    for path in files:
        sid = os.path.basename(path)[: -len(".avsc")]
        with open(path) as f:
            text = json.load(f)
        pcf = to_parsing_canonical_form(parse_schema(text, named_schemas={}))
        fp = int.from_bytes(bytes.fromhex(fingerprint(pcf, "CRC-64-AVRO")), "little")
        c = c_schemas.get(sid, {})
        check.equal(sid + " canonical form", c.get("canonical"), pcf)
        check.equal(sid + " fingerprint", c.get("fingerprint"), "%016x" % fp)
        parsed[sid] = parse_schema(strip_logical(text), named_schemas={})
        fps[sid] = fp

    # 2. values: (writer schema, value, what the C decoder must return)
    cases = [("ledger.Event.v2", e, e) for e in events_v2()]
    cases += [("ledger.Event.v1", e, upgraded(e)) for e in events_v1()]
    cases += [("ledger.Command.v1", c, c) for c in commands()]
    cases += [("ledger.CommandResult.v1", r, r) for r in results()]
    cases += [("ledger.Snapshot.v1", s, s) for s in snapshots()]

    py_frames = []
    for sid, value, _ in cases:
        body = io.BytesIO()
        fastavro.schemaless_writer(body, parsed[sid], value)
        py_frames.append(b"\xc3\x01" + fps[sid].to_bytes(8, "little") + body.getvalue())

    # C writes: same bytes as fastavro, and fastavro reads them back
    c_hex = run_tool(args.tool, "encode",
                     [json.dumps({"schema": sid, "value": normal(v)}) for sid, v, _ in cases])
    check.equal("number of encoded records", len(c_hex), len(cases))
    for (sid, value, _), frame, line in zip(cases, py_frames, c_hex):
        what = "%s %s" % (sid, json.dumps(normal(value))[:90])
        if line.startswith("{"):
            check.equal(what + " C encode", line, "hex bytes")
            continue
        c_bytes = bytes.fromhex(line)
        check.equal(what + " bytes C vs fastavro", c_bytes.hex(), frame.hex())
        back = fastavro.schemaless_reader(io.BytesIO(c_bytes[10:]), parsed[sid],
                                          return_record_name=True,
                                          return_record_name_override=True)
        check.equal(what + " fastavro reads C bytes", normal(back), normal(value))

    # fastavro writes: C reads the same value, in the current schema's shape
    c_json = run_tool(args.tool, "decode", [f.hex() for f in py_frames])
    check.equal("number of decoded records", len(c_json), len(cases))
    for (sid, value, expected), line in zip(cases, c_json):
        what = "%s %s" % (sid, json.dumps(normal(value))[:90])
        got = json.loads(line)
        check.equal(what + " C reads fastavro bytes", got, {"schema": sid, "value": normal(expected)})

    print("crosscheck: %d schemas, %d records, %d checks passed, %d failed"
          % (len(files), len(cases), check.passed, check.failures))
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
