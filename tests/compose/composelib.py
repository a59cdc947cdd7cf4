"""What the compose tests share: the compose file as compose itself resolves
it, and the facts the file must state.

The file is read through Debian's docker-compose (v1): `docker-compose config`
resolves the YAML anchors and merge keys, ${VAR:-default} interpolation and
the defaults exactly as `docker compose up` would, so the tests see the
services compose would run rather than a second reading of the YAML. It runs
with a clean environment, so a LEDGER_BROKERS exported in the caller's shell
cannot change what the file says. `config` needs no Docker engine.
"""

import os
import shlex
import shutil
import subprocess
import tempfile

import yaml

# The services the deployment issue names, and the one-shot that creates the
# topics. kafka and redis come from their official images; the others are
# built from compose/Dockerfile.
INFRA_SERVICES = ("kafka", "redis")
APP_SERVICES = (
    "topics",
    "producer",
    "projector-balance",
    "projector-statements",
    "projector-fraud",
)
VIEWS = ("balance", "statements", "fraud")
IMAGE_BIN = "/usr/local/bin/"
PROGRAMS = ("ledger", "ledger-producer", "ledger-projector")


class ComposeError(Exception):
    pass


def docker_compose():
    exe = shutil.which("docker-compose")
    if exe is None:
        raise ComposeError(
            "docker-compose not found: scripts/deps --test installs Debian's docker-compose"
        )
    return exe


def run_config(compose_file):
    """Runs `docker-compose -f FILE config` with a clean environment.
    Returns (exit code, stdout, stderr)."""
    with tempfile.TemporaryDirectory(prefix="compose-home-") as home:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home}
        proc = subprocess.run(
            [docker_compose(), "-f", compose_file, "config"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    return proc.returncode, proc.stdout, proc.stderr


def resolved_config(compose_file):
    """The compose file as compose resolves it (a dict), or ComposeError."""
    rc, out, err = run_config(compose_file)
    if rc != 0:
        raise ComposeError(f"docker-compose config failed ({rc}) on {compose_file}:\n{err}")
    return yaml.safe_load(out)


def as_list(value):
    """entrypoint/command/healthcheck test as a list (compose also takes a
    string, which it splits like a shell would; the file uses lists)."""
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def environment(service):
    """A service's environment as a dict of strings (compose allows a list of
    KEY=VALUE too)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            key, _, value = item.partition("=")
            out[key] = value
        return out
    return {k: "" if v is None else str(v) for k, v in env.items()}


def restart_policy(service):
    """The restart policy; YAML 1.1 reads a bare `no` as false."""
    r = service.get("restart", "no")
    return "no" if r is False or r is None else str(r)


def is_app_service(service):
    """Built from our image (compose/Dockerfile)."""
    build = service.get("build")
    if not isinstance(build, dict):
        return False
    return str(build.get("dockerfile", "")).endswith("compose/Dockerfile")


def contract_problems(cfg):
    """What the compose file gets wrong against the deployment contract, as a
    list of messages (empty when all is well). The checks are the promises
    the README makes about the file."""
    problems = []
    services = cfg.get("services") or {}
    expected = set(INFRA_SERVICES) | set(APP_SERVICES)
    if set(services) != expected:
        problems.append(
            f"services are {sorted(services)}, expected {sorted(expected)}"
        )
        return problems
    for name in APP_SERVICES:
        svc = services[name]
        if not is_app_service(svc):
            problems.append(f"{name}: not built from compose/Dockerfile")
        entry = as_list(svc.get("entrypoint"))
        if len(entry) != 1 or not entry[0].startswith(IMAGE_BIN):
            problems.append(f"{name}: entrypoint {entry} is not one program of {IMAGE_BIN}")
        env = environment(svc)
        for key in ("LEDGER_BROKERS", "LEDGER_REDIS_URL"):
            if key not in env:
                problems.append(f"{name}: no {key} in its environment")
        if not env.get("LEDGER_BROKERS", "").startswith("kafka:"):
            problems.append(f"{name}: LEDGER_BROKERS does not name the kafka service")
    for name in APP_SERVICES[1:]:
        svc = services[name]
        if restart_policy(svc) != "unless-stopped":
            problems.append(f"{name}: restart is {restart_policy(svc)!r}, not unless-stopped")
        test = as_list((svc.get("healthcheck") or {}).get("test"))
        if test[:3] != ["CMD", IMAGE_BIN + "ledger", "health"]:
            problems.append(f"{name}: healthcheck {test} is not `ledger health`")
        if "LEDGER_HTTP_PORT" not in environment(svc):
            problems.append(f"{name}: no LEDGER_HTTP_PORT, so no /healthz to check")
        deps = svc.get("depends_on") or {}
        if (deps.get("topics") or {}).get("condition") != "service_completed_successfully":
            problems.append(f"{name}: does not wait for the topics one-shot to succeed")
    topics = services["topics"]
    if restart_policy(topics) != "no":
        problems.append(f"topics: restart is {restart_policy(topics)!r}, not no")
    if as_list(topics.get("entrypoint")) + as_list(topics.get("command")) != [
        IMAGE_BIN + "ledger",
        "admin",
        "create-topics",
    ]:
        problems.append("topics: does not run `ledger admin create-topics`")
    if ((topics.get("depends_on") or {}).get("kafka") or {}).get("condition") != "service_healthy":
        problems.append("topics: does not wait for a healthy kafka")
    for view in VIEWS:
        name = f"projector-{view}"
        svc = services[name]
        if as_list(svc.get("entrypoint")) != [IMAGE_BIN + "ledger-projector"]:
            problems.append(f"{name}: entrypoint is not ledger-projector")
        # `docker compose run --rm projector-balance --rebuild` replaces the
        # command: a --view there would be lost, so the view must come from
        # the environment.
        if as_list(svc.get("command")):
            problems.append(f"{name}: has a command {svc.get('command')}; the view must come from LEDGER_VIEW")
        if environment(svc).get("LEDGER_VIEW") != view:
            problems.append(f"{name}: LEDGER_VIEW is not {view!r}")
        if ((svc.get("depends_on") or {}).get("redis") or {}).get("condition") != "service_healthy":
            problems.append(f"{name}: does not wait for a healthy redis")
    if as_list(services["producer"].get("entrypoint")) != [IMAGE_BIN + "ledger-producer"]:
        problems.append("producer: entrypoint is not ledger-producer")
    kafka, redis = services["kafka"], services["redis"]
    if not str(kafka.get("image", "")).startswith("apache/kafka:"):
        problems.append("kafka: not the official apache/kafka image")
    if not str(redis.get("image", "")).startswith("redis:"):
        problems.append("redis: not the official redis image")
    if "broker,controller" not in environment(kafka).get("KAFKA_PROCESS_ROLES", ""):
        problems.append("kafka: not a single-node KRaft broker and controller")
    redis_cmd = as_list(redis.get("command"))
    if "--appendonly" not in redis_cmd or redis_cmd[redis_cmd.index("--appendonly") + 1 :][:1] != ["yes"]:
        problems.append("redis: append-only file not on")
    volumes = cfg.get("volumes") or {}
    for name, path in (("kafka", "/var/lib/kafka/data"), ("redis", "/data")):
        mounts = [str(v) for v in services[name].get("volumes") or []]
        named = [m for m in mounts if m.split(":")[0] in volumes and m.split(":")[1] == path]
        if not named:
            problems.append(f"{name}: no named volume at {path}")
        if not (services[name].get("healthcheck") or {}).get("test"):
            problems.append(f"{name}: no healthcheck")
    return problems
