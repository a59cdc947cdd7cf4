"""ledger_health: `ledger health`, the compose healthcheck, tells the three
outcomes apart with its exit code, against small local endpoints this test
serves itself: 0 for a 200 (with the JSON line), 1 for a 503 (not ready),
3 for a refused connection, a server that never answers (within --timeout)
and an answer that is not HTTP; 2 without a port. The port comes from
LEDGER_HTTP_PORT when --port is not given, as in the containers.

usage: ledger_health.py --ledger build/cli/ledger
"""

import argparse
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time


class Endpoint(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        ok = self.path == "/healthz" and self.status == 200
        body = b"ready\n" if ok else b"not ready: restoring 6 partitions\n"
        self.send_response(200 if ok else (self.status if self.path == "/healthz" else 404))
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(status):
    handler = type("H", (Endpoint,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def raw_server(reply):
    """A listener that accepts and then sends `reply` (None: says nothing)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    conns = []

    def loop():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conns.append(conn)
            if reply is not None:
                conn.recv(4096)
                conn.sendall(reply)
                conn.close()

    threading.Thread(target=loop, daemon=True).start()
    return sock, conns


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ledger", required=True)
    args = ap.parse_args()
    failures = []
    base_env = {k: v for k, v in os.environ.items() if k != "LEDGER_HTTP_PORT"}

    def run(argv, env_port=None, expect=0, what=""):
        env = dict(base_env)
        if env_port is not None:
            env["LEDGER_HTTP_PORT"] = str(env_port)
        start = time.monotonic()
        p = subprocess.run([args.ledger, "health"] + argv, env=env, capture_output=True,
                           text=True, timeout=30)
        took = time.monotonic() - start
        if p.returncode != expect:
            failures.append(f"{what}: exit {p.returncode}, expected {expect} "
                            f"(stdout {p.stdout!r}, stderr {p.stderr!r})")
        else:
            print(f"ok: {what}: exit {expect} in {took:.2f}s")
        return p, took

    ready = serve(200)
    p, _ = run([], env_port=ready.server_port, expect=0, what="200 via LEDGER_HTTP_PORT")
    if p.returncode == 0:
        line = json.loads(p.stdout)
        if line.get("status") != 200 or line.get("ready") is not True or line.get("body") != "ready":
            failures.append(f"200: unexpected line {p.stdout!r}")
        if not line.get("url", "").endswith(f":{ready.server_port}/healthz"):
            failures.append(f"200: url {line.get('url')!r} is not the endpoint asked")
    # The flag wins over the environment (which names a closed port here).
    run(["--port", str(ready.server_port)], env_port=free_port(), expect=0,
        what="200 via --port over LEDGER_HTTP_PORT")

    not_ready = serve(503)
    p, _ = run(["--port", str(not_ready.server_port)], expect=1, what="503")
    if p.returncode == 1:
        line = json.loads(p.stdout)
        if line.get("status") != 503 or line.get("ready") is not False:
            failures.append(f"503: unexpected line {p.stdout!r}")
        if not line.get("body", "").startswith("not ready"):
            failures.append(f"503: the body's reason is not passed on: {p.stdout!r}")

    run(["--port", str(free_port())], expect=3, what="connection refused")

    silent, conns = raw_server(None)
    _, took = run(["--port", str(silent.getsockname()[1]), "--timeout", "500ms"], expect=3,
                  what="a server that never answers")
    if took > 5:
        failures.append(f"a server that never answers: took {took:.1f}s despite --timeout 500ms")

    garbage, _ = raw_server(b"SSH-2.0-OpenSSH_9.2\r\n")
    run(["--port", str(garbage.getsockname()[1])], expect=3, what="an answer that is not HTTP")

    run([], expect=2, what="no port at all")
    run(["--port", "70000"], expect=2, what="a port out of range")

    for s in (silent, garbage):
        s.close()
    for c in conns:
        c.close()
    ready.shutdown()
    not_ready.shutdown()
    for f in failures:
        print(f"FAIL: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
