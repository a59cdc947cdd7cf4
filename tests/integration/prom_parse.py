#!/usr/bin/env python3
"""Reads a service's operations endpoint for the C tests.

    prom_parse.py URL             GET URL (a /metrics page) and parse the body
                                  with the official Python client's parser
                                  (prometheus_client.parser); print one JSON
                                  object {"samples": [{"name", "labels",
                                  "value"}, ...], "families": [{"name",
                                  "type", "help"}, ...]} and exit 0, or print
                                  the parse error on stderr and exit 1.
    prom_parse.py --healthz URL   GET URL and print the HTTP status code
                                  (200, 503, ...) on stdout, the body on
                                  stderr; exit 0 whenever a response came.

Exit 2 when no response came at all (connection refused, timeout): a test
polling a service that is still starting tells that apart from "not ready".

Why a real parser: a grep would accept a page that Prometheus rejects (a
missing TYPE line, a bad escape, an unordered histogram); the client's
parser is what scrapers of this format are tested against. A Content-Type
other than text/plain is also an error, since Prometheus picks its parser by
it.
"""

import json
import math
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

TIMEOUT_S = 5.0


def fetch(url):
    """(status, content type, body text); raises OSError when no answer."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode("utf-8")


def number(v):
    # JSON has no NaN or infinities: send those as the exposition format's text.
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return v


def check_histogram(family):
    """The parser takes buckets as they come; Prometheus's own rules are
    stricter: per series, cumulative buckets ending in le="+Inf", equal to
    _count."""
    series = {}
    for s in family.samples:
        labels = dict(s.labels)
        le = labels.pop("le", None)
        key = tuple(sorted(labels.items()))
        entry = series.setdefault(key, {"buckets": [], "count": None})
        if s.name == family.name + "_bucket":
            if le is None:
                raise ValueError(f"{s.name} without le")
            entry["buckets"].append((float(le), s.value))
        elif s.name == family.name + "_count":
            entry["count"] = s.value
    for key, entry in series.items():
        buckets = entry["buckets"]
        if not buckets or buckets[-1][0] != math.inf:
            raise ValueError(f"histogram {family.name}{dict(key)} has no le=\"+Inf\" bucket last")
        for (le_a, v_a), (le_b, v_b) in zip(buckets, buckets[1:]):
            if not le_a < le_b or v_b < v_a:
                raise ValueError(f"histogram {family.name}{dict(key)} buckets not cumulative")
        if entry["count"] != buckets[-1][1]:
            raise ValueError(f"histogram {family.name}{dict(key)} _count differs from +Inf bucket")


def parse(body):
    samples = []
    families = []
    for family in text_string_to_metric_families(body):
        if family.type == "histogram":
            check_histogram(family)
        families.append({"name": family.name, "type": family.type, "help": family.documentation})
        for s in family.samples:
            samples.append({"name": s.name, "labels": dict(s.labels), "value": number(s.value)})
    return {"samples": samples, "families": families}


def main(argv):
    healthz = len(argv) == 3 and argv[1] == "--healthz"
    if not healthz and len(argv) != 2:
        print("usage: prom_parse.py [--healthz] URL", file=sys.stderr)
        return 2
    url = argv[-1]
    try:
        status, ctype, body = fetch(url)
    except (OSError, urllib.error.URLError) as err:
        print(f"no answer from '{url}': {err}", file=sys.stderr)
        return 2
    if healthz:
        print(status)
        sys.stderr.write(body)
        return 0
    if status != 200:
        print(f"'{url}' answered {status}: {body.strip()}", file=sys.stderr)
        return 1
    if not ctype.startswith("text/plain"):
        print(f"'{url}' has Content-Type '{ctype}', expected text/plain", file=sys.stderr)
        return 1
    try:
        result = parse(body)
    except Exception as err:  # the parser raises ValueError, and others on odd input
        print(f"invalid Prometheus text from '{url}': {err!r}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
