"""compose_processes: compose/compose.yaml run as local processes.

No Docker engine runs here, so this test does what compose would do with the
file, with processes instead of containers:

  - it reads the file as compose resolves it (`docker-compose config`), and
    starts every application service (built from compose/Dockerfile) as a
    separate process with exactly its entrypoint + command and its
    environment. The only changes are those a container gives for free or
    that sharing one broker with other tests needs, and each is named here:
      * image paths /usr/local/bin/X are the build tree's X;
      * the service host names (kafka:9092, redis://redis:6379/0) are the
        test's broker and Redis (LEDGER_TEST_BROKERS, LEDGER_TEST_REDIS_URL);
      * LEDGER_HTTP_PORT gets a free port per process (containers each have
        their own network namespace, processes share one);
      * a unique LEDGER_TOPIC_PREFIX, LEDGER_REDIS_PREFIX and group and
        transactional id prefixes, so no other test shares its topics, keys
        or consumer groups;
      * the environment starts empty but for PATH and HOME, as an image's
        would, so nothing reaches a service except through the file;
  - services start in depends_on order and wait on the conditions it names:
    the topics one-shot must exit 0 (service_completed_successfully) before
    the producer and projectors start, and a service is up once its own
    healthcheck command (`ledger health`, run with the service's
    environment, as compose runs it inside the container) exits 0, within
    the time its start_period, interval and retries allow;
  - a workload goes through `ledger submit` (opens, deposits, withdrawals
    into an overdraft and past it, transfers, one returned, a refused and an
    accepted close, a fraud pattern), in phases separated by `ledger wait`
    so that each account's log order is known; then every view is checked:
    balances against `ledger history` (folded from the log) and against the
    test's own fold of what it submitted, statements and fraud flags (and
    `ledger flagged`) against that fold;
  - a second projector-balance is started the way `--scale
    projector-balance=2` would (same command and environment, its own ops
    port), then the one-off `docker compose run --rm projector-balance
    --rebuild` exactly as the README gives it: the service's entrypoint +
    ["--rebuild"] with the service's environment, which must exit 0; the
    balance view is checked again, both scaled processes must still be
    healthy, and they must carry on (new deposits reach the view);
  - finally every service gets SIGTERM (what `docker compose stop` sends) and
    must exit 0 within its stop_grace_period.

usage: compose_processes.py --compose compose/compose.yaml
           --bin ledger=PATH --bin ledger-producer=PATH --bin ledger-projector=PATH
       (LEDGER_TEST_BROKERS and LEDGER_TEST_REDIS_URL name the broker and Redis)
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import composelib

CLI_TIMEOUT = 60  # seconds for any one `ledger` command
WAIT_TIMEOUT = "60s"  # `ledger wait --timeout`
REBUILD_TIMEOUT = 120


class Fail(Exception):
    pass


def duration_s(text, default):
    """Compose durations ("30s", "1m30s", "2m") in seconds."""
    if text is None:
        return default
    total = 0.0
    for value, unit in re.findall(r"([0-9.]+)(us|ms|s|m|h)", str(text)):
        total += float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cents(text):
    sign = -1 if text.startswith("-") else 1
    whole, _, frac = text.lstrip("-").partition(".")
    return sign * (int(whole) * 100 + int((frac + "00")[:2]))


def money(c):
    sign = "-" if c < 0 else ""
    return f"{sign}{abs(c) // 100}.{abs(c) % 100:02d}"


def at_ms(text):
    t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(t.timestamp() * 1000)


# ---- the test's own fold of what it submitted (SPEC sections 5 and 7) -------


class Account:
    def __init__(self, overdraft):
        self.overdraft = overdraft
        self.balance = 0
        self.seq = 1  # AccountOpened
        self.closed = False
        self.entries = []
        self.debit_times = []
        self.payees = set()
        self.flags = []


class Model:
    LARGE_DEBIT = 1_000_000
    NEW_PAYEE = 100_000
    VELOCITY_COUNT = 5
    VELOCITY_WINDOW_MS = 60_000

    def __init__(self):
        self.accounts = {}
        self.submitted = []  # the commands sent, in order

    def _entry(self, acc, at, kind, amount, **extra):
        acc.seq += 1
        acc.balance += amount
        entry = {"at": at, "seq": acc.seq, "type": kind, "amount": money(amount),
                 "balance_after": money(acc.balance)}
        entry.update(extra)
        acc.entries.append(entry)
        return acc.seq

    def _debit(self, acc, at, amount, seq, payee=None):
        t = at_ms(at)
        flags = []
        if amount >= self.LARGE_DEBIT:
            flags.append("large_debit")
        acc.debit_times.append(t)
        if sum(1 for d in acc.debit_times if t - self.VELOCITY_WINDOW_MS <= d <= t) >= self.VELOCITY_COUNT:
            flags.append("velocity")
        if payee is not None:
            if amount >= self.NEW_PAYEE and payee not in acc.payees:
                flags.append("new_payee")
            acc.payees.add(payee)
        for rule in flags:
            acc.flags.append({"rule": rule, "seq": seq, "at": at, "amount": money(-amount)})

    def expect(self, cmd):
        """(status, reason) the ledger must give `cmd`, from the state so far."""
        kind, a = cmd["type"], cmd["account"]
        acc = self.accounts.get(a)
        if kind == "open":
            return ("rejected", "account_exists") if acc else ("accepted", None)
        if acc is None:
            return "rejected", "no_such_account"
        if kind == "transfer" and cmd["to"] == a:
            return "rejected", "same_account"
        if acc.closed:
            return "rejected", "account_closed"
        if kind in ("withdraw", "transfer") and acc.balance - cents(cmd["amount"]) < -acc.overdraft:
            return "rejected", "insufficient_funds"
        if kind == "close" and acc.balance != 0:
            return "rejected", "nonzero_balance"
        return "accepted", None

    def apply(self, cmd, result):
        """Folds an accepted command (its credit side included, which the
        phases make land before the account's next event)."""
        kind, a, at = cmd["type"], cmd["account"], cmd["at"]
        if kind == "open":
            self.accounts[a] = Account(cents(cmd.get("overdraft", "0")))
            return 1
        acc = self.accounts[a]
        if kind == "deposit":
            return self._entry(acc, at, "deposit", cents(cmd["amount"]))
        if kind == "withdraw":
            amount = cents(cmd["amount"])
            seq = self._entry(acc, at, "withdrawal", -amount)
            self._debit(acc, at, amount, seq)
            return seq
        if kind == "close":
            acc.seq += 1
            acc.closed = True
            return acc.seq
        # transfer
        amount, to, tid = cents(cmd["amount"]), cmd["to"], result.get("transfer_id")
        seq = self._entry(acc, at, "transfer_sent", -amount, counterparty=to, transfer_id=tid)
        self._debit(acc, at, amount, seq, payee=to)
        dest = self.accounts.get(to)
        if dest is not None and not dest.closed:
            self._entry(dest, at, "transfer_received", amount, counterparty=a, transfer_id=tid)
        else:
            self._entry(acc, at, "transfer_returned", amount, counterparty=to, transfer_id=tid)
        return seq

    def statements(self, a):
        """{month: statement} for the months with entries."""
        acc = self.accounts[a]
        months = {}
        for e in acc.entries:
            months.setdefault(e["at"][:7], []).append(e)
        out, carried = {}, 0
        for month in sorted(months):
            amounts = [cents(e["amount"]) for e in months[month]]
            closing = carried + sum(amounts)
            out[month] = {
                "account": a, "month": month, "opening_balance": money(carried),
                "closing_balance": money(closing),
                "total_in": money(sum(x for x in amounts if x > 0)),
                "total_out": money(-sum(x for x in amounts if x < 0)),
                "entries": months[month],
            }
            carried = closing
        return out


# ---- the workload: phases whose per-account log order is known --------------


def workload(run):
    a = [f"{run}-a{i}" for i in range(8)]
    ghost = f"{run}-ghost"
    phase1 = []
    for i in range(8):
        cmd = {"type": "open", "account": a[i], "at": f"2026-10-01T08:0{i}:00Z"}
        if i % 2 == 0:
            cmd["overdraft"] = "100"
        phase1.append(cmd)
    phase1.append({"type": "open", "account": a[2], "at": "2026-10-01T09:00:00Z"})  # account_exists
    for i in range(8):
        phase1.append({"type": "deposit", "account": a[i], "amount": f"{100 * (i + 1)}.50",
                       "at": "2026-10-05T10:00:00Z"})
        phase1.append({"type": "withdraw", "account": a[i], "amount": "30.25",
                       "at": "2026-10-20T10:00:00Z"})
    phase1.append({"type": "withdraw", "account": a[1], "amount": "1000",
                   "at": "2026-10-21T10:00:00Z"})  # insufficient_funds
    phase1.append({"type": "withdraw", "account": a[0], "amount": "150",
                   "at": "2026-10-31T23:59:59Z"})  # into the overdraft
    for i in range(1, 8, 2):
        phase1.append({"type": "deposit", "account": a[i], "amount": "12.34",
                       "at": "2026-11-02T09:00:00Z"})
    # Transfers: each receiver has one sender and no command of its own in
    # the phase, so its entries' order is known.
    phase2 = [
        {"type": "transfer", "account": a[1], "to": a[0], "amount": "50", "at": "2026-11-03T10:00:00Z"},
        {"type": "transfer", "account": a[1], "to": a[0], "amount": "5.5", "at": "2026-11-03T10:01:00Z"},
        {"type": "transfer", "account": a[3], "to": a[2], "amount": "100", "at": "2026-11-04T10:00:00Z"},
        {"type": "transfer", "account": a[5], "to": a[4], "amount": "300", "at": "2026-11-04T11:00:00Z"},
        {"type": "transfer", "account": a[6], "to": ghost, "amount": "7.77", "at": "2026-11-05T12:00:00Z"},
    ]
    # Fraud: a large debit, five debits within a minute, a large transfer to
    # a new payee and one to the same payee; a refused and an accepted close.
    phase3 = [
        {"type": "deposit", "account": a[7], "amount": "50000", "at": "2026-11-10T09:00:00Z"},
        {"type": "withdraw", "account": a[7], "amount": "12000", "at": "2026-11-10T09:01:00Z"},
    ]
    for s in (10, 20, 30, 40):
        phase3.append({"type": "withdraw", "account": a[7], "amount": "10",
                       "at": f"2026-11-10T09:01:{s}Z"})
    phase3 += [
        {"type": "transfer", "account": a[7], "to": a[3], "amount": "1500", "at": "2026-11-10T10:00:00Z"},
        {"type": "transfer", "account": a[7], "to": a[3], "amount": "2000", "at": "2026-11-10T10:30:00Z"},
        {"type": "close", "account": a[6], "at": "2026-11-11T09:00:00Z"},  # nonzero_balance
        {"type": "withdraw", "account": a[6], "amount": "670.25", "at": "2026-11-11T09:01:00Z"},
        {"type": "close", "account": a[6], "at": "2026-11-11T09:02:00Z"},
    ]
    phase4 = [{"type": "deposit", "account": a[i], "amount": "1", "at": "2026-11-20T09:00:00Z"}
              for i in range(4)]
    return a, [phase1, phase2, phase3], phase4


# ---- processes --------------------------------------------------------------


def die_with_parent():
    """In the child: SIGTERM when the test dies, even by SIGKILL (a ctest
    timeout), so no service outlives it."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Service:
    def __init__(self, name, argv, env, log_path):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=die_with_parent)

    def tail(self, n=25):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""


class Harness:
    def __init__(self, args, workdir):
        self.cfg = composelib.resolved_config(args.compose)
        self.services = self.cfg["services"]
        self.bins = dict(b.split("=", 1) for b in args.bin)
        self.brokers = os.environ["LEDGER_TEST_BROKERS"]
        self.redis_url = os.environ["LEDGER_TEST_REDIS_URL"]
        self.workdir = workdir
        self.run = f"cmp{os.getpid()}-{secrets.token_hex(3)}"
        self.running = []  # every Service started, for the final cleanup
        self.failures = []
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)

    # -- what compose gives a container, mapped to processes --

    def map_argv(self, argv):
        out = []
        for arg in argv:
            if arg.startswith(composelib.IMAGE_BIN):
                prog = arg[len(composelib.IMAGE_BIN):]
                if prog not in self.bins:
                    raise Fail(f"the file runs {arg}, which is not one of our programs")
                arg = self.bins[prog]
            out.append(arg)
        return out

    def map_env(self, name):
        """The service's environment from the file, mapped (see the top)."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.workdir}
        for key, value in composelib.environment(self.services[name]).items():
            if key == "LEDGER_BROKERS":
                hosts = []
                for hp in value.split(","):
                    host = hp.rsplit(":", 1)[0]
                    if host not in self.services:
                        raise Fail(f"{name}: LEDGER_BROKERS names '{host}', not a compose service")
                    hosts.append(self.brokers)
                value = ",".join(dict.fromkeys(hosts))
            elif key == "LEDGER_REDIS_URL":
                host = urllib.parse.urlparse(value).hostname
                if host not in self.services:
                    raise Fail(f"{name}: LEDGER_REDIS_URL names '{host}', not a compose service")
                value = self.redis_url
            elif key == "LEDGER_HTTP_PORT":
                value = str(free_port())
            env[key] = value
        env["LEDGER_TOPIC_PREFIX"] = f"{self.run}."
        env["LEDGER_REDIS_PREFIX"] = self.run
        env["LEDGER_PRODUCER_GROUP_ID"] = f"{self.run}-producer"
        env["LEDGER_PRODUCER_TRANSACTIONAL_ID_PREFIX"] = f"{self.run}-producer"
        if "LEDGER_VIEW" in env:
            env["LEDGER_GROUP_ID"] = f"{self.run}-projector-{env['LEDGER_VIEW']}"
        return env

    def start(self, name, extra_args=None, label=None):
        svc = self.services[name]
        argv = composelib.as_list(svc.get("entrypoint")) + (
            extra_args if extra_args is not None else composelib.as_list(svc.get("command")))
        label = label or name
        s = Service(label, self.map_argv(argv), self.map_env(name),
                    os.path.join(self.workdir, f"{label}.log"))
        self.running.append(s)
        print(f"started {label}: {' '.join(argv)} (pid {s.proc.pid}, LEDGER_HTTP_PORT="
              f"{s.env.get('LEDGER_HTTP_PORT', '-')})", flush=True)
        return s

    def healthcheck(self, name, s):
        """One run of the service's healthcheck command with its environment."""
        test = composelib.as_list(self.services[name]["healthcheck"]["test"])
        if test[0] != "CMD":
            raise Fail(f"{name}: healthcheck {test} is not an exec form")
        timeout = duration_s(self.services[name]["healthcheck"].get("timeout"), 30)
        try:
            p = subprocess.run(self.map_argv(test[1:]), env=s.env, capture_output=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return p.returncode == 0

    def wait_healthy(self, name, s):
        hc = self.services[name]["healthcheck"]
        # Compose marks a service unhealthy after start_period plus `retries`
        # failed checks `interval` apart: the same time is allowed here, the
        # checks just run more often.
        limit = duration_s(hc.get("start_period"), 0) + duration_s(
            hc.get("interval"), 30) * int(hc.get("retries", 3))
        start = time.monotonic()
        while not self.healthcheck(name, s):
            if s.proc.poll() is not None:
                raise Fail(f"{s.name} exited {s.proc.returncode} before it was healthy:\n{s.tail()}")
            if time.monotonic() - start > limit:
                raise Fail(f"{s.name} not healthy within {limit:.0f}s:\n{s.tail()}")
            time.sleep(0.2)
        print(f"{s.name}: healthy after {time.monotonic() - start:.1f}s", flush=True)

    def wait_exit(self, s, limit):
        try:
            return s.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            raise Fail(f"{s.name} still running after {limit:.0f}s:\n{s.tail()}")

    def infra_ready(self, name):
        """kafka and redis are the test's own; check they answer."""
        env = self.cli_env()
        if name == "kafka":
            p = subprocess.run([self.bins["ledger"], "admin", "ping"], env=env,
                               capture_output=True, timeout=CLI_TIMEOUT)
            if p.returncode != 0:
                raise Fail(f"the test broker {self.brokers} does not answer")
        elif name == "redis":
            u = urllib.parse.urlparse(self.redis_url)
            with socket.create_connection((u.hostname, u.port or 6379), timeout=5) as c:
                c.sendall(b"PING\r\n")
                if not c.recv(64).startswith(b"+PONG"):
                    raise Fail(f"the test redis {self.redis_url} does not answer PING")

    # -- compose up --

    def up(self):
        apps = [n for n, s in self.services.items() if composelib.is_app_service(s)]
        order, seen = [], set()

        def visit(n, path=()):
            if n in path:
                raise Fail(f"depends_on cycle through {n}")
            if n in seen:
                return
            for dep in self.services[n].get("depends_on") or {}:
                if dep in apps:
                    visit(dep, path + (n,))
            seen.add(n)
            order.append(n)

        for n in apps:
            visit(n)
        started = {}
        for n in order:
            for dep, spec in (self.services[n].get("depends_on") or {}).items():
                cond = (spec or {}).get("condition", "service_started")
                if dep not in apps:
                    self.infra_ready(dep)
                elif cond == "service_completed_successfully":
                    rc = self.wait_exit(started[dep], 120)
                    if rc != 0:
                        raise Fail(f"{dep} exited {rc}:\n{started[dep].tail()}")
                    print(f"{dep}: exited 0, as {n} requires", flush=True)
                elif cond == "service_healthy":
                    self.wait_healthy(dep, started[dep])
            started[n] = self.start(n)
        long_running = {n: s for n, s in started.items()
                        if composelib.restart_policy(self.services[n]) != "no"}
        for n, s in long_running.items():
            self.wait_healthy(n, s)
        return long_running

    # -- the CLI, as `docker compose exec producer ledger ...` --

    def cli_env(self):
        return self.map_env("producer")

    def ledger(self, *argv, stdin=None, ok=(0,)):
        p = subprocess.run([self.bins["ledger"], *argv], env=self.cli_env(), input=stdin,
                           capture_output=True, text=True, timeout=CLI_TIMEOUT)
        if p.returncode not in ok:
            raise Fail(f"ledger {' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()}")
        return p

    def ledger_json(self, *argv):
        return json.loads(self.ledger(*argv).stdout)

    def submit(self, model, commands):
        for i, c in enumerate(commands):
            c["id"] = f"{self.run}-{len(model.submitted) + i}"
        text = "".join(json.dumps(c) + "\n" for c in commands)
        out = self.ledger("submit", stdin=text).stdout.splitlines()
        if len(out) != len(commands):
            raise Fail(f"ledger submit printed {len(out)} lines for {len(commands)} commands")
        for c, line in zip(commands, out):
            r = json.loads(line)
            status, reason = model.expect(c)
            if r.get("command_id") != c["id"] or r.get("status") != status or r.get("reason") != reason:
                self.failures.append(f"{c}: result {r}, expected {status} {reason or ''}")
                continue
            if status == "accepted":
                seq = model.apply(c, r)
                if r["events"][0].get("seq") != seq:
                    self.failures.append(f"{c}: first event seq {r['events'][0].get('seq')}, "
                                         f"the fold says {seq}")
            model.submitted.append(c)
        self.ledger("wait", "--timeout", WAIT_TIMEOUT)

    # -- the checks --

    def check_balances(self, model, accounts, what):
        def one(a):
            view = self.ledger_json("balance", a)
            log = self.ledger_json("history", a)
            acc = model.accounts[a]
            want = {"balance": money(acc.balance), "version": acc.seq,
                    "status": "closed" if acc.closed else "open"}
            got_view = {k: view.get(k) for k in want}
            got_log = {k: log.get(k) for k in want}
            problems = []
            if got_view != got_log:
                problems.append(f"{what}: balance view of {a} {got_view} != history {got_log}")
            if got_log != want:
                problems.append(f"{what}: history of {a} {got_log} != the test's fold {want}")
            if view.get("stale"):
                problems.append(f"{what}: {a} is stale (quarantined)")
            return problems

        for problems in self.pool.map(one, accounts):
            self.failures.extend(problems)
        print(f"checked balances ({what}): {len(accounts)} accounts", flush=True)

    def check_statements(self, model, accounts):
        def norm(st):
            st = dict(st)
            st["entries"] = [dict(e, at=at_ms(e["at"])) for e in st.get("entries", [])]
            return st

        jobs = []
        for a in accounts:
            for month, want in model.statements(a).items():
                jobs.append((a, month, want))

        def one(job):
            a, month, want = job
            got = self.ledger_json("statement", a, month)
            got = {k: got.get(k) for k in want}
            if norm(got) != norm(want):
                return [f"statement {a} {month}:\n  view {json.dumps(got)}\n  fold {json.dumps(want)}"]
            return []

        for problems in self.pool.map(one, jobs):
            self.failures.extend(problems)
        print(f"checked statements: {len(jobs)} account-months", flush=True)

    def check_flags(self, model, accounts):
        def key(f):
            return (f["rule"], f["seq"], at_ms(f["at"]), f["amount"])

        def one(a):
            got = self.ledger_json("flags", a)
            want = model.accounts[a].flags
            if sorted(map(key, got.get("flags", []))) != sorted(map(key, want)):
                return [f"flags of {a}: view {got.get('flags')}, fold {want}"]
            return []

        for problems in self.pool.map(one, accounts):
            self.failures.extend(problems)
        flagged = self.ledger_json("flagged").get("accounts")
        want = sorted(a for a in accounts if model.accounts[a].flags)
        if flagged != want:
            self.failures.append(f"ledger flagged: {flagged}, fold {want}")
        if not want:
            self.failures.append("the workload raised no fraud flag: the check proves nothing")
        print(f"checked flags: {len(accounts)} accounts, flagged {want}", flush=True)

    def stop_all(self, services):
        """SIGTERM, as `docker compose stop`; each must exit 0 within its
        stop_grace_period."""
        for name, s in services:
            s.proc.send_signal(signal.SIGTERM)
        for name, s in services:
            grace = duration_s(self.services[name].get("stop_grace_period"), 10)
            rc = self.wait_exit(s, grace)
            if rc != 0:
                self.failures.append(f"{s.name}: exit {rc} after SIGTERM:\n{s.tail()}")
            else:
                print(f"{s.name}: exit 0 after SIGTERM", flush=True)

    def cleanup(self):
        for s in self.running:
            if s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()
            s.log.close()
        self.pool.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compose", required=True)
    ap.add_argument("--bin", action="append", default=[], help="PROGRAM=PATH")
    args = ap.parse_args()
    for var in ("LEDGER_TEST_BROKERS", "LEDGER_TEST_REDIS_URL"):
        if not os.environ.get(var):
            print(f"FAIL: {var} is not set (scripts/test sets it)", file=sys.stderr)
            return 1
    # A SIGTERM (scripts/test interrupted) ends the test through its cleanup.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = tempfile.mkdtemp(prefix="compose-processes-")
    h = None
    ok = False
    try:
        h = Harness(args, workdir)
        problems = composelib.contract_problems(h.cfg)
        if problems:
            raise Fail("the compose file breaks its contract: " + "; ".join(problems))
        started = time.monotonic()
        services = h.up()
        print(f"up: {sorted(services)} healthy after {time.monotonic() - started:.1f}s", flush=True)

        model = Model()
        accounts, phases, phase4 = workload(h.run)
        for phase in phases:
            h.submit(model, phase)
        print(f"submitted {len(model.submitted)} commands in {len(phases)} phases", flush=True)
        h.check_balances(model, accounts, "after the workload")
        h.check_statements(model, accounts)
        h.check_flags(model, accounts)

        # --scale projector-balance=2: one more process of the service, same
        # command and environment (its own ops port).
        second = h.start("projector-balance", label="projector-balance-2")
        h.wait_healthy("projector-balance", second)

        # docker compose run --rm projector-balance --rebuild
        before = h.ledger_json("status", "--view", "balance").get("generation")
        rebuild = h.start("projector-balance", extra_args=["--rebuild"], label="rebuild")
        rc = h.wait_exit(rebuild, REBUILD_TIMEOUT)
        if rc != 0:
            raise Fail(f"the rebuild exited {rc}:\n{rebuild.tail()}")
        after = h.ledger_json("status", "--view", "balance").get("generation")
        if not (isinstance(before, int) and isinstance(after, int) and after > before):
            h.failures.append(f"the rebuild did not switch generations: {before} then {after}")
        print(f"rebuild: exit 0, balance view generation {before} -> {after}", flush=True)
        h.check_balances(model, accounts, "after the rebuild")
        for label, s in (("projector-balance", services["projector-balance"]),
                         ("projector-balance-2", second)):
            if not h.healthcheck("projector-balance", s):
                h.failures.append(f"{label} is not healthy after the rebuild:\n{s.tail()}")
        # The scaled projectors carry on with the new generation.
        h.submit(model, phase4)
        h.check_balances(model, accounts, "after the rebuild and new deposits")

        h.stop_all([(n, s) for n, s in services.items()] + [("projector-balance", second)])
        ok = not h.failures
    except (Fail, composelib.ComposeError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
    finally:
        if h is not None:
            for f in h.failures:
                print(f"FAIL: {f}", file=sys.stderr)
            h.cleanup()
            if not ok:
                for s in h.running:
                    print(f"--- {s.name} (exit {s.proc.returncode}), last lines:\n{s.tail(15)}",
                          file=sys.stderr)
    if ok:
        shutil.rmtree(workdir, ignore_errors=True)
        print("ok: compose.yaml runs as processes; every view equals the fold")
        return 0
    print(f"logs kept in {workdir}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
