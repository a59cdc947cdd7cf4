#!/usr/bin/env python3
"""The peer for figure (h): a straightforward Python projector of the balance
view, written as the libraries' docs recommend (confluent-kafka's batch
consume(num_messages=...), fastavro's schemaless_reader, redis-py pipelines),
so the C projector's rate has a yardstick.

Same input and same Redis layout as `ledger-projector --view balance`:
single-object Avro frames (2 magic bytes + 8-byte schema fingerprint, then
the body, read with the writer schema from schemas/), one hash per account
<ns>:balance:g1:{<account>}:state (balance, version, status, overdraft), and
the checkpoint hash <ns>:balance:g1:checkpoints (partition -> next offset)
written in the same MULTI/EXEC as the batch's data. Per batch and partition:
one pipelined HMGET per account, the fold in Python, one transaction with an
HSET per account and the checkpoint. No DLQ, no generation check, no
fencing: it is the simple version, which is the point of the comparison.

    py_balance_projector.py BROKERS TOPIC REDIS_URL NS GROUP_ID
"""
import json
import os
import signal
import sys
from io import BytesIO

import fastavro
import redis
from confluent_kafka import Consumer, KafkaError

SCHEMAS = os.path.join(os.path.dirname(__file__), "..", "..", "schemas")
FIELDS = ("balance", "version", "status", "overdraft")


def load_schemas():
    """the frame's 8 fingerprint bytes -> parsed schema (fastavro gives the
    CRC-64-AVRO fingerprint as the hex of those bytes, little-endian)"""
    by_fp = {}
    for name in ("ledger.Event.v1.avsc", "ledger.Event.v2.avsc"):
        with open(os.path.join(SCHEMAS, name)) as f:
            parsed = fastavro.parse_schema(json.load(f))
        canonical = fastavro.schema.to_parsing_canonical_form(parsed)
        by_fp[bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))] = parsed
    return by_fp


def apply(state, ev):
    """account_apply: returns False on a duplicate, raises on a gap"""
    seq = ev["seq"]
    if seq <= state[1]:
        return False
    if seq != state[1] + 1:
        raise ValueError(f"seq gap in account '{ev['account']}'")
    kind, p = ev["payload"]
    kind = kind.rsplit(".", 1)[-1]
    if kind == "AccountOpened":
        state[2], state[3] = "open", p["overdraft"]
    elif kind in ("MoneyDeposited", "TransferReceived", "TransferReturned"):
        state[0] += p["amount"]
    elif kind in ("MoneyWithdrawn", "TransferSent"):
        state[0] -= p["amount"]
    elif kind == "AccountClosed":
        state[2] = "closed"
    state[1] = seq
    return True


def main():
    brokers, topic, redis_url, ns, group = sys.argv[1:6]
    schemas = load_schemas()
    r = redis.Redis.from_url(redis_url)
    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": group,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    cp_key = f"{ns}:balance:g1:checkpoints"
    while not stop:
        msgs = consumer.consume(num_messages=10000, timeout=0.05)
        by_part = {}
        for m in msgs:
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    print(f"py_balance_projector: {m.error()}", file=sys.stderr)
                continue
            by_part.setdefault(m.partition(), []).append(m)
        for part, pmsgs in by_part.items():
            by_acct = {}
            for m in pmsgs:
                v = m.value()
                ev = fastavro.schemaless_reader(BytesIO(v[10:]), schemas[v[2:10]],
                                                return_record_name=True)
                by_acct.setdefault(ev["account"], []).append(ev)
            keys = [f"{ns}:balance:g1:{{{a}}}:state" for a in by_acct]
            pipe = r.pipeline(transaction=False)
            for k in keys:
                pipe.hmget(k, FIELDS)
            stored = pipe.execute()
            pipe = r.pipeline(transaction=True)
            for k, evs, got in zip(keys, by_acct.values(), stored):
                if got[1] is None:
                    state = [0, 0, "none", 0]
                else:
                    state = [int(got[0]), int(got[1]), got[2].decode(), int(got[3])]
                changed = False
                for ev in evs:
                    changed |= apply(state, ev)
                if changed:
                    pipe.hset(k, mapping=dict(zip(FIELDS, state)))
            pipe.hset(cp_key, part, pmsgs[-1].offset() + 1)
            pipe.execute()
    consumer.close()


if __name__ == "__main__":
    main()
