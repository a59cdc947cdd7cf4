"""compose_config: compose/compose.yaml is a valid compose file, as Debian's
docker-compose validates it, and states what the README promises (service
names, entrypoints without a --view, environment-only configuration,
healthchecks on `ledger health`, depends_on conditions, restart policies,
named volumes, AOF).

So that the test can fail, it also runs both checks on broken copies of the
file (each made by one edit of the real text, in a temporary folder laid out
like the repository) and requires each to be refused: a depends_on condition
compose does not know, a misspelt service key, and a projector that takes its
view from `command:` (valid compose, refused by the contract check).

usage: compose_config.py --compose compose/compose.yaml
"""

import argparse
import os
import sys
import tempfile

import yaml

import composelib

# (what the copy breaks, text to replace, its replacement, which check must refuse it)
BROKEN_COPIES = [
    (
        "an unknown depends_on condition",
        "condition: service_completed_successfully",
        "condition: service_finished",
        "compose",
    ),
    (
        "a misspelt service key",
        "    restart: \"no\"\n",
        "    restarts: \"no\"\n",
        "compose",
    ),
    (
        "the view of projector-balance in command:",
        "      LEDGER_VIEW: balance\n",
        "      LEDGER_VIEW: balance\n    command: [\"--view\", \"balance\"]\n",
        "contract",
    ),
]


def check(path):
    """Returns (compose accepted it, contract problems or None)."""
    rc, out, err = composelib.run_config(path)
    if rc != 0:
        return False, err.strip()
    return True, composelib.contract_problems(yaml.safe_load(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compose", required=True)
    args = ap.parse_args()
    failures = []

    ok, problems = check(args.compose)
    if not ok:
        failures.append(f"docker-compose config refused {args.compose}:\n{problems}")
    elif problems:
        failures.extend(f"{args.compose}: {p}" for p in problems)
    else:
        print(f"ok: docker-compose config accepts {args.compose} and it states the contract")

    text = open(args.compose, encoding="utf-8").read()
    for what, old, new, refused_by in BROKEN_COPIES:
        if text.count(old) < 1:
            failures.append(f"broken copy '{what}': '{old.strip()}' is not in the file any more")
            continue
        with tempfile.TemporaryDirectory(prefix="compose-broken-") as root:
            # compose/compose.yaml under a root, so the build context '..' exists.
            os.mkdir(os.path.join(root, "compose"))
            copy = os.path.join(root, "compose", "compose.yaml")
            with open(copy, "w", encoding="utf-8") as f:
                f.write(text.replace(old, new, 1))
            ok, problems = check(copy)
        if refused_by == "compose":
            if ok:
                failures.append(f"broken copy '{what}': docker-compose config accepted it")
            else:
                print(f"ok: broken copy '{what}' refused by docker-compose: {problems.splitlines()[-1]}")
        else:
            if not ok:
                failures.append(f"broken copy '{what}': docker-compose refused it ({problems})")
            elif not problems:
                failures.append(f"broken copy '{what}': the contract check did not see it")
            else:
                print(f"ok: broken copy '{what}' refused by the contract check: {problems[0]}")

    for f in failures:
        print(f"FAIL: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except composelib.ComposeError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
