#!/usr/bin/env bash
#
# bench/command_side.sh: the command side's figures, in one run, on one
# broker of its own (`scripts/services start bench`: Kafka on 24092, Redis on
# 24379, data under .local/bench/; LEDGER_BENCH_PORT_BASE moves them), so
# that running tests never share it. Prints the figures as they come and a
# summary table at the end; asserts nothing about speed (exit 1 only when a
# step fails: a missing result, a program that does not start).
#
#   (a) append   the raw rate of librdkafka's idempotent producer appending
#                event-sized records to a 6-partition topic: the ceiling
#                (bench_append)
#   (b) submit   commands/s through `ledger submit` with exactly-once
#                handling by ledger-producer: BENCH_ACCOUNTS accounts opened
#                first, then BENCH_COMMANDS deposits, withdrawals and
#                transfers (gen_commands.py), timed from the first line to
#                the last result; with the CPU each process spent per command
#   (c) latency  p50/p99 from send to result at a fixed offered rate of
#                BENCH_RATE commands/s (bench_latency, an open loop)
#   (d) memory   the RSS of a ledger-producer that has restored
#                BENCH_MEMORY_ACCOUNTS accounts (bench_seed writes their
#                AccountOpened events), minus that of one with none; once
#                without and once with a dedup window entry per account
#   (e) callgrind (BENCH_CALLGRIND=1) instructions per command of
#                ledger-producer (all its threads) over a fixed workload of
#                BENCH_CALLGRIND_COMMANDS commands: the steady figure on a
#                noisy machine
#
# Environment: LEDGER_BUILD_DIR (default build/, RelWithDebInfo), the BENCH_*
# above, BENCH_STEPS (default "a b c d", add e for callgrind),
# BENCH_LATENCY_ARGS (more flags for bench_latency in (c), e.g. "-X
# fetch.wait.max.ms=10" for its result consumer). Outputs and
# logs go to .local/bench/runs/<tag>/ (.local/bench-<base>/ with a moved
# LEDGER_BENCH_PORT_BASE; the generated commands and their
# results, hundreds of MB, are deleted unless BENCH_KEEP=1). Each run uses
# its own topics (bench-<time>-<pid>-*.), so runs never see each other's
# state; they stay on the bench broker (about 1 GB a run with the
# defaults): `scripts/services stop bench && rm -rf .local/bench` starts
# afresh.

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"

BUILD="${LEDGER_BUILD_DIR:-$LEDGER_ROOT/build}"
BENCH_ACCOUNTS="${BENCH_ACCOUNTS:-10000}"
BENCH_COMMANDS="${BENCH_COMMANDS:-2000000}"
BENCH_MIN_SECONDS="${BENCH_MIN_SECONDS:-30}"
BENCH_APPEND_RECORDS="${BENCH_APPEND_RECORDS:-4000000}"
BENCH_RATE="${BENCH_RATE:-2000}"
BENCH_LATENCY_SECONDS="${BENCH_LATENCY_SECONDS:-20}"
BENCH_MEMORY_ACCOUNTS="${BENCH_MEMORY_ACCOUNTS:-1000000}"
BENCH_CALLGRIND_COMMANDS="${BENCH_CALLGRIND_COMMANDS:-20000}"
BENCH_STEPS="${BENCH_STEPS:-a b c d}"
[[ "${BENCH_CALLGRIND:-0}" == 1 ]] && BENCH_STEPS="$BENCH_STEPS e"
PORT_BASE="${LEDGER_BENCH_PORT_BASE:-24000}"
BROKERS="127.0.0.1:$((PORT_BASE + 92))"
# scripts/services keeps a moved bench environment under .local/bench-<base>/.
BENCH_DIR="$LEDGER_LOCAL/bench"
[[ "$PORT_BASE" == 24000 ]] || BENCH_DIR="$LEDGER_LOCAL/bench-$PORT_BASE"
READY_SECONDS=300 # a producer restoring a million accounts takes a while

LEDGER="$BUILD/cli/ledger"
PRODUCER="$BUILD/producer/ledger-producer"
GEN="$LEDGER_ROOT/bench/producer/gen_commands.py"
TAG="bench-$(date +%s)-$$"
RUN_DIR="$BENCH_DIR/runs/$TAG"
declare -A RESULT=()
PRODUCER_PID=""

for bin in "$LEDGER" "$PRODUCER" "$BUILD/bench/bench_append" "$BUILD/bench/bench_latency" \
    "$BUILD/bench/bench_seed"; do
    [[ -x "$bin" ]] || die "'$bin' not found: build first (LEDGER_BUILD_DIR=$BUILD)"
done
if [[ " $BENCH_STEPS " == *" e "* ]]; then
    command -v valgrind >/dev/null ||
        die "BENCH_CALLGRIND=1 needs valgrind: sudo scripts/deps --bench installs it"
fi
for n in "$BENCH_ACCOUNTS" "$BENCH_COMMANDS" "$BENCH_RATE" "$BENCH_LATENCY_SECONDS" \
    "$BENCH_MEMORY_ACCOUNTS" "$BENCH_APPEND_RECORDS" "$BENCH_CALLGRIND_COMMANDS"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "invalid BENCH_* value '$n': expected a positive number"
done

# ---- helpers -----------------------------------------------------------------

now_s() {
    date +%s.%N
}

# CPU seconds (user + system) a process has used so far.
cpu_s() {
    awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"
}

calc() {
    python3 -c "print($1)"
}

# start_producer PREFIX LOG [ARGS...]: runs ledger-producer on PREFIX (its
# own group) in the background and waits for its "ready" line.
start_producer() {
    local prefix="$1" logfile="$2"
    shift 2
    LEDGER_BROKERS="$BROKERS" LEDGER_TOPIC_PREFIX="$prefix" \
        LEDGER_PRODUCER_GROUP_ID="${prefix}producer" "$@" "$PRODUCER" >"$logfile" 2>&1 &
    PRODUCER_PID=$!
    local deadline=$((SECONDS + READY_SECONDS))
    until grep -q "ledger-producer: ready" "$logfile"; do
        kill -0 "$PRODUCER_PID" 2>/dev/null || {
            tail -n 20 "$logfile" >&2
            die "ledger-producer ended before it was ready (log: $logfile)"
        }
        ((SECONDS < deadline)) || die "ledger-producer not ready within ${READY_SECONDS}s"
        sleep 0.2
    done
}

stop_producer() {
    if [[ -n "$PRODUCER_PID" ]]; then
        kill -TERM "$PRODUCER_PID" 2>/dev/null || true
        wait "$PRODUCER_PID" 2>/dev/null || true
        PRODUCER_PID=""
    fi
}

# Waits until a process is idle: under 2% of a CPU over a second (the
# producer has drained its backlog, e.g. the credit steps of transfers whose
# results are already out). Gives up after 120 s.
wait_idle() {
    local pid="$1" before after deadline=$((SECONDS + 120))
    before="$(cpu_s "$pid")"
    while ((SECONDS < deadline)); do
        sleep 1
        after="$(cpu_s "$pid")"
        [[ "$(calc "int($after - $before < 0.02)")" == 1 ]] && return 0
        before="$after"
    done
    log "note: pid $pid still busy after 120 s"
}

ledger() {
    LEDGER_BROKERS="$BROKERS" "$LEDGER" "$@"
}

# The RSS of a process in KiB.
rss_kib() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

cleanup() {
    local rc=$?
    stop_producer
    exit "$rc"
}
trap cleanup EXIT

# ---- the steps ---------------------------------------------------------------

step_append() {
    log "(a) appending $BENCH_APPEND_RECORDS event-sized records with an idempotent producer"
    local out
    out="$("$BUILD/bench/bench_append" --brokers "$BROKERS" --count "$BENCH_APPEND_RECORDS" \
        --topic "$TAG-append")"
    printf '%s\n' "$out"
    RESULT[a_rate]="$(sed -n 's/.*s: \([0-9]*\) records\/s.*/\1/p' <<<"$out")"
    RESULT[a_bytes]="$(sed -n 's/.* records of \([0-9]*\) bytes.*/\1/p' <<<"$out")"
}

step_submit() {
    local prefix="$TAG-b." plog="$RUN_DIR/producer-b.log"
    ledger admin create-topics --topic-prefix "$prefix" >/dev/null
    start_producer "$prefix" "$plog"
    log "(b) opening $BENCH_ACCOUNTS accounts"
    python3 "$GEN" open --accounts "$BENCH_ACCOUNTS" --tag "$TAG" >"$RUN_DIR/open.jsonl"
    ledger submit --topic-prefix "$prefix" <"$RUN_DIR/open.jsonl" >"$RUN_DIR/open.out"
    local opened
    opened="$(grep -c '"accepted"' "$RUN_DIR/open.out" || true)"
    ((opened == BENCH_ACCOUNTS)) || die "only $opened of $BENCH_ACCOUNTS accounts opened"

    python3 "$GEN" mix --accounts "$BENCH_ACCOUNTS" --count "$BENCH_COMMANDS" --tag "$TAG-m" \
        >"$RUN_DIR/mix.jsonl"
    log "(b) submitting $BENCH_COMMANDS commands (deposits, withdrawals, transfers)"
    local broker_pid p0 b0 t0 t1 p1 b1
    broker_pid="$(read_pid "$BENCH_DIR/kafka.pid")"
    p0="$(cpu_s "$PRODUCER_PID")"
    b0="$(cpu_s "$broker_pid")"
    t0="$(now_s)"
    /usr/bin/time -f "%U %S" -o "$RUN_DIR/submit.time" "$LEDGER" submit --brokers "$BROKERS" \
        --topic-prefix "$prefix" <"$RUN_DIR/mix.jsonl" >"$RUN_DIR/mix.out"
    t1="$(now_s)"
    p1="$(cpu_s "$PRODUCER_PID")"
    b1="$(cpu_s "$broker_pid")"
    local lines accepted rejected elapsed submit_cpu
    lines="$(wc -l <"$RUN_DIR/mix.out")"
    ((lines == BENCH_COMMANDS)) || die "$lines result lines for $BENCH_COMMANDS commands"
    accepted="$(grep -c '"accepted"' "$RUN_DIR/mix.out" || true)"
    rejected="$(grep -c '"rejected"' "$RUN_DIR/mix.out" || true)"
    elapsed="$(calc "round($t1 - $t0, 2)")"
    submit_cpu="$(awk '{print $1 + $2}' "$RUN_DIR/submit.time")"
    RESULT[b_rate]="$(calc "round($BENCH_COMMANDS / ($t1 - $t0))")"
    RESULT[b_seconds]="$elapsed s"
    RESULT[b_cpu]="$(calc "'producer %.1f, broker %.1f, submit %.1f' % (($p1 - $p0) / $BENCH_COMMANDS * 1e6, ($b1 - $b0) / $BENCH_COMMANDS * 1e6, $submit_cpu / $BENCH_COMMANDS * 1e6)")"
    printf 'submit: %s commands in %s s: %s commands/s (%s accepted, %s rejected)\n' \
        "$BENCH_COMMANDS" "$elapsed" "${RESULT[b_rate]}" "$accepted" "$rejected"
    printf 'submit: CPU per command (us): %s\n' "${RESULT[b_cpu]}"
    [[ "${BENCH_KEEP:-0}" == 1 ]] || rm -f "$RUN_DIR/mix.jsonl" "$RUN_DIR/mix.out"
    if [[ "$(calc "int($elapsed < $BENCH_MIN_SECONDS)")" == 1 ]]; then
        log "(b) note: the run lasted ${elapsed}s, under ${BENCH_MIN_SECONDS}s: raise BENCH_COMMANDS"
        RESULT[b_seconds]="$elapsed s (short of ${BENCH_MIN_SECONDS} s)"
    fi
}

step_latency() {
    local prefix="$TAG-b."
    if [[ -z "$PRODUCER_PID" ]]; then # (c) without (b): its own ledger
        prefix="$TAG-c."
        ledger admin create-topics --topic-prefix "$prefix" >/dev/null
            start_producer "$prefix" "$RUN_DIR/producer-c.log"
        python3 "$GEN" open --accounts "$BENCH_ACCOUNTS" --tag "$TAG-c" |
            ledger submit --topic-prefix "$prefix" >/dev/null
    fi
    wait_idle "$PRODUCER_PID"
    log "(c) offering $BENCH_RATE commands/s for ${BENCH_LATENCY_SECONDS}s (after a 5 s warm-up)"
    local out
    out="$("$BUILD/bench/bench_latency" --brokers "$BROKERS" --topic-prefix "$prefix" \
        --rate "$BENCH_RATE" --duration "${BENCH_LATENCY_SECONDS}s" --warmup 5s \
        --accounts "$BENCH_ACCOUNTS" --tag "$TAG-lat" ${BENCH_LATENCY_ARGS:-})"
    printf '%s\n' "$out"
    RESULT[c_p50]="$(sed -n 's/^latency: p50 \([0-9.]*\) ms.*/\1/p' <<<"$out")"
    RESULT[c_p99]="$(sed -n 's/^latency: p50 .* p99 \([0-9.]*\) ms,.*/\1/p' <<<"$out")"
    RESULT[c_max]="$(sed -n 's/^latency: p50 .* max \([0-9.]*\) ms.*/\1/p' <<<"$out")"
    RESULT[c_split]="$(sed -n 's/^latency: of which \(.*\) (.*/\1/p' <<<"$out")"
    stop_producer
}

# memory_rss PREFIX LOG: the RSS (KiB) of a producer once it has restored.
memory_rss() {
    start_producer "$1" "$2"
    local rss
    rss="$(rss_kib "$PRODUCER_PID")"
    stop_producer
    printf '%s\n' "$rss"
}

step_memory() {
    local n="$BENCH_MEMORY_ACCOUNTS" empty="$TAG-d0." plain="$TAG-d1." window="$TAG-d2."
    for prefix in "$empty" "$plain" "$window"; do
        ledger admin create-topics --topic-prefix "$prefix" >/dev/null
    done
    log "(d) seeding $n accounts (AccountOpened events), twice"
    "$BUILD/bench/bench_seed" --brokers "$BROKERS" --topic-prefix "$plain" --accounts "$n"
    "$BUILD/bench/bench_seed" --brokers "$BROKERS" --topic-prefix "$window" --accounts "$n" \
        --command-ids
    local rss0 rss1 rss2
    rss0="$(memory_rss "$empty" "$RUN_DIR/producer-d0.log")"
    rss1="$(memory_rss "$plain" "$RUN_DIR/producer-d1.log")"
    rss2="$(memory_rss "$window" "$RUN_DIR/producer-d2.log")"
    RESULT[d_empty]="$(calc "round($rss0 / 1024, 1)")"
    RESULT[d_accounts]="$(calc "round($rss1 / 1024, 1)")"
    RESULT[d_per_account]="$(calc "round(($rss1 - $rss0) * 1024 / $n)")"
    RESULT[d_window]="$(calc "round($rss2 / 1024, 1)")"
    RESULT[d_per_window]="$(calc "round(($rss2 - $rss0) * 1024 / $n)")"
    printf 'memory: empty producer %s MB; with %s accounts restored %s MB (+%s bytes/account); ' \
        "${RESULT[d_empty]}" "$n" "${RESULT[d_accounts]}" "${RESULT[d_per_account]}"
    printf 'with a dedup entry each too %s MB (+%s bytes/account)\n' "${RESULT[d_window]}" \
        "${RESULT[d_per_window]}"
}

# Callgrind over a fixed workload: instructions (Ir) counted from after the
# accounts are opened to when the producer has gone quiet (credit steps of
# transfers included; idle, it still polls: about 1% of a CPU under
# valgrind, counted too).
step_callgrind() {
    local prefix="$TAG-e." plog="$RUN_DIR/producer-e.log" out="$RUN_DIR/callgrind.out"
    ledger admin create-topics --topic-prefix "$prefix" >/dev/null
    start_producer "$prefix" "$plog" valgrind --tool=callgrind --callgrind-out-file="$out"
    python3 "$GEN" open --accounts "$BENCH_ACCOUNTS" --tag "$TAG-e" |
        ledger submit --topic-prefix "$prefix" --timeout 300 >/dev/null
    python3 "$GEN" mix --accounts "$BENCH_ACCOUNTS" --count "$BENCH_CALLGRIND_COMMANDS" \
        --tag "$TAG-em" >"$RUN_DIR/callgrind.jsonl"
    log "(e) $BENCH_CALLGRIND_COMMANDS commands through a producer under callgrind"
    callgrind_control -z "$PRODUCER_PID" >/dev/null
    ledger submit --topic-prefix "$prefix" --timeout 300 <"$RUN_DIR/callgrind.jsonl" >/dev/null
    wait_idle "$PRODUCER_PID" # the credit steps of the last transfers
    callgrind_control -d "$PRODUCER_PID" >/dev/null
    local dump ir
    dump="$(ls -t "$out".* 2>/dev/null | head -n 1)"
    [[ -n "$dump" ]] || dump="$out"
    ir="$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$dump" | head -n 1)"
    [[ -n "$ir" ]] || ir="$(sed -n 's/^totals: \([0-9]*\).*/\1/p' "$dump" | head -n 1)"
    stop_producer
    RESULT[e_ir]="$(calc "round($ir / $BENCH_CALLGRIND_COMMANDS)")"
    printf 'callgrind: %s instructions for %s commands: %s per command (%s)\n' "$ir" \
        "$BENCH_CALLGRIND_COMMANDS" "${RESULT[e_ir]}" "${dump#"$LEDGER_ROOT"/}"
}

summary() {
    local share="-"
    if [[ -n "${RESULT[a_rate]:-}" && -n "${RESULT[b_rate]:-}" ]]; then
        share="$(calc "round(100 * ${RESULT[b_rate]} / ${RESULT[a_rate]}, 1)")%"
    fi
    printf '\n## Command side, %s (%s CPUs, load %s)\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" \
        "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '| figure | measured | goal |\n| --- | --- | --- |\n'
    printf '| (a) idempotent appends, %s-byte events, 6 partitions | %s records/s | the ceiling |\n' \
        "${RESULT[a_bytes]:--}" "${RESULT[a_rate]:--}"
    printf '| (b) `ledger submit`, exactly once, %s commands over %s accounts | %s commands/s over %s (%s of (a)) | >= 20,000/s and >= 25%% of (a) |\n' \
        "$BENCH_COMMANDS" "$BENCH_ACCOUNTS" "${RESULT[b_rate]:--}" "${RESULT[b_seconds]:--}" "$share"
    printf '| (b) CPU per command, us | %s | |\n' "${RESULT[b_cpu]:--}"
    printf '| (c) send to result at %s commands/s | p50 %s ms, p99 %s ms, max %s ms | p99 <= 50 ms |\n' \
        "$BENCH_RATE" "${RESULT[c_p50]:--}" "${RESULT[c_p99]:--}" "${RESULT[c_max]:--}"
    printf '| (c) where the time goes (accepted commands) | %s | |\n' "${RESULT[c_split]:--}"
    printf '| (d) producer RSS, %s accounts restored | %s MB (empty: %s MB): %s bytes/account | <= 200 bytes/account |\n' \
        "$BENCH_MEMORY_ACCOUNTS" "${RESULT[d_accounts]:--}" "${RESULT[d_empty]:--}" "${RESULT[d_per_account]:--}"
    printf '| (d) the same, plus a dedup entry per account | %s MB: %s bytes/account | |\n' \
        "${RESULT[d_window]:--}" "${RESULT[d_per_window]:--}"
    printf '| (e) callgrind, ledger-producer, %s commands | %s instructions/command | |\n' \
        "$BENCH_CALLGRIND_COMMANDS" "${RESULT[e_ir]:--}"
}

main() {
    mkdir -p "$RUN_DIR"
    log "services (bench): starting what is not running"
    LEDGER_BIN="$LEDGER" "$LEDGER_ROOT/scripts/services" start bench >"$RUN_DIR/services.log" 2>&1 ||
        { cat "$RUN_DIR/services.log" >&2; die "the bench services did not start"; }
    log "run $TAG on $BROKERS; outputs in ${RUN_DIR#"$LEDGER_ROOT"/}"
    for step in $BENCH_STEPS; do
        case "$step" in
            a) step_append ;;
            b) step_submit ;;
            c) step_latency ;;
            d) step_memory ;;
            e) step_callgrind ;;
            *) die "unknown step '$step' in BENCH_STEPS: expected a, b, c, d or e" ;;
        esac
    done
    stop_producer
    summary | tee "$RUN_DIR/summary.md"
}

main "$@"
