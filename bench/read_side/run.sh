#!/usr/bin/env bash
#
# bench/read_side/run.sh: the read-side benchmarks in one run, on the `bench`
# services (scripts/services; LEDGER_BENCH_PORT_BASE moves them), with a
# fresh topic prefix and fresh Redis prefixes per run, and a summary table
# against the goals at the end. Figures, not tests: nothing here fails on a
# slow result. Needs a RelWithDebInfo build (BUILD, default build/) and, for
# the Python peer, .local/bench-venv (created here with pinned versions).
#
#   bench/read_side/run.sh                  1,000,000 events over 100,000 accounts
#   EVENTS=200000 ACCOUNTS=20000 bench/read_side/run.sh
#   CALLGRIND=0 PEER=0 bench/read_side/run.sh   skip the slow ones
#   KEEP_REDIS=1 bench/read_side/run.sh         do not empty the bench Redis first
#
# Steps: (gen) the log; (a) raw consume; (b) redis-benchmark HSET -P 64;
# (c) catch-up from zero per view (statements, fraud, then balance), each
# with (f) its VmHWM, Redis's CPU per event (from INFO cpu: a steadier
# figure than the rate on a shared machine) and the AOF rewrites and RDB
# saves Redis ran meanwhile (each forks a child that takes a core for
# seconds: later views catch up on a bigger Redis), each starting on a
# settled Redis (redis_settle: no rewrite or save left over from the step
# before); (g) the balance view's apply path fed from memory, just before
# the balance catch-up and on the same Redis, so that their ratio compares
# like with like; (d) a balance --rebuild beside the running balance
# projector; (h) the Python peer; (e) append-to-visible latency at RATE
# events/s; (i) callgrind of the balance projector over 50,000 events.
# The services are left running: scripts/services stop bench.

set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"
EVENTS="${EVENTS:-1000000}"
ACCOUNTS="${ACCOUNTS:-100000}"
RATE="${RATE:-2000}"
LAT_SECONDS="${LAT_SECONDS:-20}"
CG_EVENTS="${CG_EVENTS:-50000}"
CALLGRIND="${CALLGRIND:-1}"
PEER="${PEER:-1}"
BASE="${LEDGER_BENCH_PORT_BASE:-24000}"
KPORT=$((BASE + 92))
RPORT=$((BASE + 379))
BROKERS="127.0.0.1:$KPORT"
REDIS_URL="redis://127.0.0.1:$RPORT/0"
RUN="rb$(date +%s)"
TP="$RUN."
OUT="${OUT:-$ROOT/.local/bench-read-side/$RUN}"
BIN="$BUILD/bench"
PROJ="$BUILD/projectors/ledger-projector"
VENV="$ROOT/.local/bench-venv"
mkdir -p "$OUT"

say() { printf '== %s\n' "$*" >&2; }
# Redis's own CPU seconds (user + sys): per event, a steadier figure than rates
# on a shared machine
redis_cpu() { redis-cli -p "$RPORT" info cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.3f", s }'; }
# Redis's background AOF rewrites and RDB saves done so far, plus the one
# running: each forks a child that takes a core for seconds, so a catch-up
# that overlaps one is slower
redis_forks() { redis-cli -p "$RPORT" info persistence | tr -d '\r' | awk -F: '/^(aof_rewrites|rdb_saves|aof_rewrite_in_progress|rdb_bgsave_in_progress):/ { s += $2 } END { print s + 0 }'; }
# Waits (up to 10 minutes) until Redis runs no AOF rewrite and no RDB save.
redis_idle() {
    local i
    for ((i = 0; i < 6000; i++)); do
        [[ "$(redis-cli -p "$RPORT" info persistence | tr -d '\r' | awk -F: '/^(aof_rewrite_in_progress|rdb_bgsave_in_progress|aof_rewrite_scheduled):/ { s += $2 } END { print s + 0 }')" == 0 ]] && return 0
        sleep 0.1
    done
    echo "run.sh: Redis on port $RPORT still persisting after 10 minutes" >&2
    return 1
}
# Before each catch-up, the state a long-running Redis is in: no background
# save left over from the step before, an AOF rewritten down to the data it
# holds (so the catch-up's own writes, not the previous step's, decide
# whether a rewrite comes) and a fresh RDB save (so the save points do not
# fall due in the middle). The catch-up's own rewrites and saves still run,
# and are counted.
redis_settle() {
    local t0=$SECONDS
    redis_idle
    redis-cli -p "$RPORT" bgrewriteaof >/dev/null
    sleep 0.2
    redis_idle
    redis-cli -p "$RPORT" bgsave >/dev/null
    sleep 0.2
    redis_idle
    say "Redis settled (AOF rewritten, RDB saved) in $((SECONDS - t0)) s"
}
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" "$2" | tail -n 1; }
proj_args() { # VIEW NS
    printf '%s\n' --view "$1" --brokers "$BROKERS" --topic-prefix "$TP" --redis-url "$REDIS_URL" \
        --redis-prefix "$2" --group-id "$2-$1" --log-level warn
}

for b in rbench_gen rbench_consume rbench_watch rbench_apply rbench_latency; do
    [[ -x "$BIN/$b" ]] || { echo "run.sh: '$BIN/$b' not found: build first (BUILD=$BUILD)" >&2; exit 2; }
done
if [[ "$CALLGRIND" == 1 ]] && ! command -v valgrind >/dev/null; then
    echo "run.sh: CALLGRIND=1 (the default) needs valgrind: sudo scripts/deps --bench installs it, CALLGRIND=0 skips the count" >&2
    exit 2
fi
if [[ "$PEER" == 1 ]] && ! python3 -c 'import ensurepip' 2>/dev/null; then
    echo "run.sh: PEER=1 (the default) makes a python venv: sudo scripts/deps --bench installs python3-venv, PEER=0 skips the peer" >&2
    exit 2
fi
export LEDGER_BIN="$BUILD/cli/ledger"
LEDGER_BENCH_PORT_BASE="$BASE" "$ROOT/scripts/services" start bench >&2
# Every run starts on an empty bench Redis: earlier runs' views (about 0.5 GB
# each) made Redis slower and its persistence forks longer, run after run.
if [[ "${KEEP_REDIS:-0}" != 1 ]]; then
    say "emptying the bench Redis on port $RPORT (KEEP_REDIS=1 keeps it)"
    redis-cli -p "$RPORT" flushall >/dev/null
fi
"$LEDGER_BIN" admin create-topics --brokers "$BROKERS" --topic-prefix "$TP" --partitions 6 >/dev/null

say "gen: $EVENTS events over $ACCOUNTS accounts to ${TP}events"
"$BIN/rbench_gen" --brokers "$BROKERS" --topic-prefix "$TP" --events "$EVENTS" --accounts "$ACCOUNTS" | tee "$OUT/gen.txt" >&2

say "(a) raw consume"
"$BIN/rbench_consume" "$BROKERS" "${TP}events" | tee "$OUT/consume.txt" >&2
A=$(field consume_rate "$OUT/consume.txt")

say "(b) redis-benchmark hset -P 64"
redis-benchmark -p "$RPORT" -t hset -P 64 -n 1000000 -q 2>/dev/null | tr '\r' '\n' | grep -i hset | tail -n 1 | tee "$OUT/redis.txt" >&2
B=$(sed -n 's/.*HSET: \([0-9.]*\) requests.*/\1/p' "$OUT/redis.txt" | cut -d. -f1)
redis-cli -p "$RPORT" del key:__rand_int__ myhash >/dev/null || true

declare -A RATE_OF STEADY_OF HWM_OF FIRST_OF RCPU_OF FORKS_OF
for view in statements fraud balance; do
    say "(c) catch-up from zero: $view"
    keep=()
    [[ "$view" == balance ]] && keep=(-k)
    mapfile -t args < <(proj_args "$view" "$RUN-$view")
    if [[ "$view" == balance ]]; then
        # (g) right before the balance catch-up, on the same Redis (holding
        # the other views by then), so that the ratio of the two compares
        # like with like; its keys go before the catch-up.
        redis_settle
        say "(g) balance apply path from memory (no Kafka)"
        "$BIN/rbench_apply" "$REDIS_URL" "$RUN-apply" "$EVENTS" "$ACCOUNTS" | tee "$OUT/apply.txt" >&2
        G=$(field apply_rate "$OUT/apply.txt")
        redis-cli -p "$RPORT" --scan --pattern "$RUN-apply:*" | xargs -r -n 1000 redis-cli -p "$RPORT" unlink >/dev/null
    fi
    redis_settle
    cpu0=$(redis_cpu)
    forks0=$(redis_forks)
    "$BIN/rbench_watch" "${keep[@]}" "$BROKERS" "${TP}events" "$RPORT" "$RUN-$view" "$view" -- \
        "$PROJ" "${args[@]}" | tee "$OUT/catchup-$view.txt" >&2
    RATE_OF[$view]=$(field rate "$OUT/catchup-$view.txt")
    FORKS_OF[$view]=$(($(redis_forks) - forks0))
    RCPU_OF[$view]=$(awk -v a="$cpu0" -v b="$(redis_cpu)" -v n="$(field events "$OUT/catchup-$view.txt")" 'BEGIN{ if (n > 0) printf "%.2f", (b - a) * 1e6 / n }')
    STEADY_OF[$view]=$(field steady "$OUT/catchup-$view.txt")
    FIRST_OF[$view]=$(field first "$OUT/catchup-$view.txt")
    HWM_OF[$view]=$(field hwm_kb "$OUT/catchup-$view.txt")
done
BAL_PID=$(field pid "$OUT/catchup-balance.txt")
trap 'kill "$BAL_PID" 2>/dev/null || true' EXIT

say "(d) rebuild of balance while its projector runs (pid $BAL_PID)"
mapfile -t args < <(proj_args balance "$RUN-balance")
t0=$(date +%s%N)
"$PROJ" "${args[@]}" --rebuild 2>"$OUT/rebuild.log"
D=$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN{printf "%.2f", ns/1e9}')
echo "rebuild: ${D} s" | tee "$OUT/rebuild.txt" >&2

say "(e) append-to-visible latency at $RATE events/s for $LAT_SECONDS s (balance projector pid $BAL_PID)"
"$BIN/rbench_latency" "$BROKERS" "$TP" "$RPORT" "$RUN-balance" "${RUN}lat" "$RATE" "$LAT_SECONDS" | tee "$OUT/latency.txt" >&2
P50=$(field p50_ms "$OUT/latency.txt")
P99=$(field p99_ms "$OUT/latency.txt")
kill "$BAL_PID" 2>/dev/null || true
trap - EXIT

PY=""
if [[ "$PEER" == 1 ]]; then
    say "(h) the Python peer (confluent-kafka, fastavro, redis-py) catching up"
    if [[ ! -x "$VENV/bin/python" ]]; then
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q confluent-kafka==2.16.1 fastavro==1.13.1 redis==7.0.1
    fi
    # the topic now also holds the latency events: the rate is over what it applied
    "$BIN/rbench_watch" "$BROKERS" "${TP}events" "$RPORT" "$RUN-py" balance -- \
        "$VENV/bin/python" "$ROOT/bench/read_side/py_balance_projector.py" "$BROKERS" "${TP}events" \
        "$REDIS_URL" "$RUN-py" "$RUN-py-balance" | tee "$OUT/peer.txt" >&2
    PY=$(field rate "$OUT/peer.txt")
fi

CG_IR=""
if [[ "$CALLGRIND" == 1 ]]; then
    say "(i) callgrind: balance projector over $CG_EVENTS events"
    "$LEDGER_BIN" admin create-topics --brokers "$BROKERS" --topic-prefix "${RUN}cg." --partitions 6 >/dev/null
    "$BIN/rbench_gen" --brokers "$BROKERS" --topic-prefix "${RUN}cg." --events "$CG_EVENTS" \
        --accounts $((CG_EVENTS / 10)) >&2
    "$BIN/rbench_watch" "$BROKERS" "${RUN}cg.events" "$RPORT" "$RUN-cg" balance -- \
        valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" "$PROJ" \
        --view balance --brokers "$BROKERS" --topic-prefix "${RUN}cg." --redis-url "$REDIS_URL" \
        --redis-prefix "$RUN-cg" --group-id "$RUN-cg" --log-level warn 2>"$OUT/callgrind.log" | tee "$OUT/callgrind.txt" >&2
    callgrind_annotate "$OUT/callgrind.out" 2>/dev/null >"$OUT/callgrind_annotate.txt" || true
    total_ir=$(sed -n 's/^\([0-9,]*\) (100.0%).*PROGRAM TOTALS.*/\1/p' "$OUT/callgrind_annotate.txt" | tr -d ,)
    [[ -n "$total_ir" ]] && CG_IR=$((total_ir / CG_EVENTS))
fi

# ---- summary -----------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN{ print (a < b ? a : b) }'; }
{
    echo
    echo "read side, $EVENTS events over $ACCOUNTS accounts, 6 partitions, run $RUN ($(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg))"
    printf '%-44s %14s %12s %10s\n' "figure" "value" "goal" "ratio"
    printf '%-44s %14s %12s %10s\n' "(a) raw consume, records/s" "$A" "" ""
    printf '%-44s %14s %12s %10s\n' "(b) redis-benchmark HSET -P 64, req/s" "$B" "" ""
    printf '%-44s %14s %12s %10s\n' "(g) balance apply from memory, events/s" "$G" "" ""
    for v in balance statements fraud; do
        case $v in balance) goal=300000 ;; statements) goal=150000 ;; fraud) goal=200000 ;; esac
        printf '%-44s %14s %12s %10s\n' "(c) $v catch-up, events/s" "${RATE_OF[$v]}" ">= $goal" "$(ratio "${RATE_OF[$v]}" $goal)"
        printf '%-44s %14s %12s %10s\n' "    $v steady (after first checkpoint)" "${STEADY_OF[$v]}" "" "(start ${FIRST_OF[$v]} s)"
        printf '%-44s %14s %12s %10s\n' "    $v Redis CPU per event, us" "${RCPU_OF[$v]}" "" ""
        printf '%-44s %14s %12s %10s\n' "    $v Redis AOF rewrites + RDB saves run" "${FORKS_OF[$v]}" "" ""
        printf '%-44s %14s %12s %10s\n' "    $v / (a) raw consume" "$(ratio "${RATE_OF[$v]}" "$A")" "" ""
        printf '%-44s %14s %12s %10s\n' "    $v / (b) redis HSET" "$(ratio "${RATE_OF[$v]}" "$B")" "" ""
        printf '%-44s %14s %12s %10s\n' "(f) $v VmHWM, MB" "$(awk -v k="${HWM_OF[$v]}" 'BEGIN{printf "%.1f", k/1024}')" "<= 100" "$(ratio "$(awk -v k="${HWM_OF[$v]}" 'BEGIN{print k/1024}')" 100)"
    done
    printf '%-44s %14s %12s %10s\n' "balance / min((a),(g))" "$(ratio "${RATE_OF[balance]}" "$(min "$A" "$G")")" ">= 0.7" ""
    printf '%-44s %14s %12s %10s\n' "(d) balance rebuild beside the live one, s" "$D" "" ""
    printf '%-44s %14s %12s %10s\n' "(e) append-to-visible p50 at $RATE/s, ms" "$P50" "" ""
    printf '%-44s %14s %12s %10s\n' "(e) append-to-visible p99 at $RATE/s, ms" "$P99" "<= 20" "$(ratio "$P99" 20)"
    if [[ -n "$PY" ]]; then
        printf '%-44s %14s %12s %10s\n' "(h) Python peer catch-up, events/s" "$PY" "" ""
        printf '%-44s %14s %12s %10s\n' "    balance / Python peer" "$(ratio "${RATE_OF[balance]}" "$PY")" ">= 4" ""
    fi
    if [[ -n "$CG_IR" ]]; then
        printf '%-44s %14s %12s %10s\n' "(i) callgrind Ir/event (whole run, incl. start)" "$CG_IR" "" ""
        echo "(i) top 5 functions by Ir:"
        awk '/^ *[0-9,]+ \([ 0-9.]+%\) / && !/PROGRAM TOTALS/ && n < 5 { print; n++ }' "$OUT/callgrind_annotate.txt"
    fi
    echo "raw outputs: $OUT"
} | tee "$OUT/summary.txt"
