# shellcheck shell=bash disable=SC2034
#
# Shared by the scripts in this folder (sourced, never run): where things live,
# logging, and the few checks every script needs. Kept small on purpose: each
# script reads top to bottom on its own, and only what two or more of them
# need is here.
#
# Everything the scripts make lives under .local/ in the repository root
# (git-ignored): the Kafka jars, the python venv, and one folder per
# environment (demo, test) with that environment's data, logs and pid files.

LEDGER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LEDGER_LOCAL="$LEDGER_ROOT/.local"
SCRIPT_NAME="$(basename "$0")"

# The Kafka version has one home, scripts/kafka/pom.xml; read it from there so
# the jars fetched and the folder they are looked for in always agree.
KAFKA_POM="$LEDGER_ROOT/scripts/kafka/pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")"
KAFKA_HOME="$LEDGER_LOCAL/kafka/$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_MARKER="$KAFKA_HOME/complete"

# The `ledger` binary that answers `admin ping` and `admin create-topics`;
# LEDGER_BIN overrides it (e.g. a binary from another build tree).
LEDGER_BIN="${LEDGER_BIN:-$LEDGER_ROOT/build/cli/ledger}"

log() {
    printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2
}

die() {
    printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
    exit 1
}

# The java that runs the broker: Java 17 from Debian when it is there (a
# machine may have several JDKs; the one on PATH may be another version).
java_bin() {
    local arch jvm
    arch="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
    jvm="/usr/lib/jvm/java-17-openjdk-$arch/bin/java"
    if [[ -x "$jvm" ]]; then
        printf '%s\n' "$jvm"
    else
        command -v java || die "no 'java' found: run scripts/deps first"
    fi
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() {
    local port="$1"
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# True when PID is alive and its command line contains NEEDLE (so a pid file
# left behind, whose number now belongs to another program, is not "ours").
pid_matches() {
    local pid="$1" needle="$2" cmdline
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *"$needle"* ]]
}

# True when PID is a live process (a zombie, ended but not yet reaped, is not).
pid_alive() {
    local pid="$1" stat
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    # The state follows the command name, which is in parentheses.
    stat="${stat##*) }"
    [[ "${stat%% *}" != Z ]]
}

# The pid stored in FILE, or nothing.
read_pid() {
    local file="$1"
    [[ -f "$file" ]] && tr -dc '0-9' <"$file"
    return 0
}
