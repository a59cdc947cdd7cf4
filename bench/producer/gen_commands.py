#!/usr/bin/env python3
"""gen_commands.py - JSON command lines for `ledger submit`, for benchmarks.

Why a generator and not a file: the workload is sized per run (how many
commands, how many accounts) and its command ids carry a run tag, so a rerun
against the same topics is new work, never a run of duplicates (which the
producer answers from its window, far more cheaply).

    gen_commands.py open --accounts N --tag T          N open lines
    gen_commands.py mix --accounts N --count M --tag T  M deposits, withdrawals
                                                        and transfers

Accounts are acct-00000 ... (N of them); opens give each an overdraft of
5000.00 so that the random walk of the mix is rarely refused. The mix is 40%
deposits, 30% withdrawals and 30% transfers (to another random account) of
1.00 to 99.99, seeded (--seed) so two runs send the same amounts.
"""
import argparse
import random
import sys


def account(i):
    return "acct-%05d" % i


def gen_open(args, out):
    for i in range(args.accounts):
        out.write('{"id":"%s-o%d","type":"open","account":"%s","overdraft":"5000.00"}\n'
                  % (args.tag, i, account(i)))


def gen_mix(args, out):
    rnd = random.Random(args.seed)
    n = args.accounts
    write = out.write
    for k in range(args.count):
        a = rnd.randrange(n)
        cents = rnd.randrange(100, 10000)
        amount = "%d.%02d" % (cents // 100, cents % 100)
        roll = rnd.randrange(10)
        if roll < 4:
            write('{"id":"%s-%d","type":"deposit","account":"%s","amount":"%s"}\n'
                  % (args.tag, k, account(a), amount))
        elif roll < 7:
            write('{"id":"%s-%d","type":"withdraw","account":"%s","amount":"%s"}\n'
                  % (args.tag, k, account(a), amount))
        else:
            b = rnd.randrange(n - 1)
            if b >= a:
                b += 1
            write('{"id":"%s-%d","type":"transfer","account":"%s","to":"%s","amount":"%s"}\n'
                  % (args.tag, k, account(a), account(b), amount))


def main():
    parser = argparse.ArgumentParser(description="JSON command lines for ledger submit")
    parser.add_argument("what", choices=["open", "mix"])
    parser.add_argument("--accounts", type=int, default=10000)
    parser.add_argument("--count", type=int, default=600000)
    parser.add_argument("--tag", default="bench")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.accounts < 2:
        parser.error("invalid --accounts '%d': at least 2" % args.accounts)
    out = sys.stdout
    if args.what == "open":
        gen_open(args, out)
    else:
        gen_mix(args, out)
    out.flush()


if __name__ == "__main__":
    main()
