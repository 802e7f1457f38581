#!/usr/bin/env bash
# Measures what the audit log (audit.enable=true) costs zkplug: two servers
# with the same zoo.cfg except audit.enable (false / true) run side by side,
# and zkbench drives them in alternating rounds (off, on, off, on, ...), one
# server loaded at a time, so that both see the same machine state. Prints
# every round (ops/s, the server's CPU time per write, the txn log's mean
# fdatasync time), the averages, the on/off ratio and the cost in percent,
# and checks that the audit log holds one line per audited write (no record
# lost). Not a test: it prints figures. Every run is time-bounded and every
# server it starts is stopped (by PID) on exit. See docs/benchmarks.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
ROUNDS=5
SECONDS_PER_RUN=10
WORKLOAD="-w write -s 8 -o 32"
WORKDIR=${TMPDIR:-/tmp}
FORCE_SYNC=yes
NO_BUILD=0
EXTRA_ON=""

usage() {
    cat <<EOF
usage: $0 [options]
  -b DIR        build directory (default $ROOT/build); zkplug, its plugins and
                zkbench are built there first (targets zkplug, tcp, disk, zkbench)
  -r ROUNDS     rounds per setting (default $ROUNDS; each round runs off then on)
  -t SECONDS    length of each zkbench run (default $SECONDS_PER_RUN)
  -w "ARGS"     zkbench workload (default "$WORKLOAD")
  -f yes|no     forceSync for both servers (default $FORCE_SYNC)
  -d DIR        where the temporary dataDirs go (default $WORKDIR)
  -c "K=V ..."  extra zoo.cfg lines for the audited server (e.g.
                "audit.logFile=/other/disk/audit.log"); the line count check
                is skipped when audit.logFile is set
  -N            do not build; use the binaries already in the build directory
EOF
}

while getopts "b:r:t:w:f:d:c:Nh" opt; do
    case $opt in
    b) BUILD=$(cd "$OPTARG" && pwd) ;;
    r) ROUNDS=$OPTARG ;;
    t) SECONDS_PER_RUN=$OPTARG ;;
    w) WORKLOAD=$OPTARG ;;
    f) FORCE_SYNC=$OPTARG ;;
    d) WORKDIR=$OPTARG ;;
    c) EXTRA_ON=$OPTARG ;;
    N) NO_BUILD=1 ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

PY=/usr/bin/python3
ZKSTORE=$ROOT/tests/storage/zkstore.py
ZKBENCH=$BUILD/tests/zkbench

if [ "$NO_BUILD" = 0 ]; then
    echo "building zkplug and zkbench in $BUILD" >&2
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        cmake -S "$ROOT" -B "$BUILD" >/dev/null
    fi
    cmake --build "$BUILD" -j"$(nproc)" --target zkplug tcp disk zkbench >/dev/null
fi
for f in "$BUILD/core/zkplug" "$BUILD/plugins/tcp.so" "$BUILD/plugins/disk.so" "$ZKBENCH"; do
    [ -e "$f" ] || { echo "$f is missing: build it first (or drop -N)" >&2; exit 1; }
done

RUNDIR=$(mktemp -d "$WORKDIR/zkplug-bench-audit-XXXXXX")
declare -A PID PORT

stop_server() {
    # SIGTERM to one server this script started, SIGKILL after 120 s; its
    # process group (pgid = pid) goes with it.
    local kind=$1 pid i
    pid=${PID[$kind]:-}
    [ -n "$pid" ] || return 0
    PID[$kind]=""
    if kill -TERM "$pid" 2>/dev/null; then
        for ((i = 0; i < 12000; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.01
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "server $pid ignored SIGTERM for 120 s, sending SIGKILL" >&2
        fi
    fi
    kill -KILL -- "-$pid" 2>/dev/null || true
}

cleanup() {
    stop_server off
    stop_server on
    rm -rf "$RUNDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start KIND AUDIT: a server with audit.enable=AUDIT in $RUNDIR/KIND.
start() {
    local kind=$1 audit=$2 dir=$RUNDIR/$1 port out
    port=$(free_port)
    mkdir -p "$dir/data"
    cat >"$dir/zoo.cfg" <<EOF
tickTime=2000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=$FORCE_SYNC
admin.enableServer=false
4lw.commands.whitelist=*
audit.enable=$audit
EOF
    if [ "$audit" = true ] && [ -n "$EXTRA_ON" ]; then
        printf '%s\n' $EXTRA_ON >>"$dir/zoo.cfg"
    fi
    if ! out=$($PY "$ZKSTORE" launch "$port" 60 "$dir/server.log" -- \
                 "$BUILD/core/zkplug" -c "$dir/zoo.cfg" -p "$BUILD/plugins"); then
        echo "zkplug (audit.enable=$audit) did not start on port $port; log tail:" >&2
        tail -n 30 "$dir/server.log" >&2
        exit 1
    fi
    PID[$kind]=${out% *}
    PORT[$kind]=$port
    echo "audit $kind: pid ${PID[$kind]}, port $port, $dir" >&2
}

# Audited operations sent to the "on" server: every setData / create, plus
# the create of each session's own znode (it fails with NodeExists after the
# first run: still one audit line).
SESSIONS=$(echo "$WORKLOAD" | sed -n 's/.*-s \([0-9]*\).*/\1/p')
SESSIONS=${SESSIONS:-8}
AUDITED=0

# cpu_ticks PID: user + system CPU of the process (all threads), in clock ticks.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}
TCK=$(getconf CLK_TCK)

# fsyncs PORT: "count total_us" of the txn log's fdatasyncs (mntr).
fsyncs() {
    $PY - "$1" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"mntr")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
m = dict(l.split("\t", 1) for l in data.decode().splitlines() if "\t" in l)
print(m.get("zk_disk_fsync_count", "0"), m.get("zk_disk_fsync_total_us", "0"))
PYEOF
}

# run KIND SECONDS: one zkbench run; sets OPS_S to its ops/s, CPU_US to
# the server's CPU time per operation (µs) and FSYNC_US to the mean
# fdatasync time of the txn log (µs), and counts the audited operations.
run() {
    local kind=$1 secs=$2 line ops t0 t1 f0 f1
    f0=$(fsyncs "${PORT[$kind]}")
    t0=$(cpu_ticks "${PID[$kind]}")
    # shellcheck disable=SC2086
    line=$("$ZKBENCH" -p "${PORT[$kind]}" $WORKLOAD -n $((400000 * secs / SESSIONS + 1000)) -t "$secs" -d 100) || true
    t1=$(cpu_ticks "${PID[$kind]}")
    f1=$(fsyncs "${PORT[$kind]}")
    FSYNC_US=$(echo "$f0 $f1" | awk '{ n = $3 - $1; if (n > 0) printf "%.0f", ($4 - $2) / n; else print "-" }')
    echo "  audit $kind: $line" >&2
    ops=$(echo "$line" | sed -n 's/.* ops=\([0-9]*\) .*/\1/p')
    CPU_US=$(awk -v t=$((t1 - t0)) -v hz="$TCK" -v n="${ops:-0}" 'BEGIN { if (n > 0) printf "%.2f", t * 1e6 / hz / n; else print "" }')
    if [ "$kind" = on ]; then
        AUDITED=$((AUDITED + ${ops:-0} + SESSIONS))
    fi
    OPS_S=$(echo "$line" | sed -n 's/.*ops\/s=\([0-9]*\) .*/\1/p')
}

start off false
start on true
echo "warm-up: 3 s on each" >&2
run off 3
run on 3

declare -a OFF ON CPU_OFF CPU_ON FS_OFF FS_ON
for ((r = 1; r <= ROUNDS; r++)); do
    run off "$SECONDS_PER_RUN"
    OFF+=("$OPS_S")
    CPU_OFF+=("$CPU_US")
    FS_OFF+=("$FSYNC_US")
    run on "$SECONDS_PER_RUN"
    ON+=("$OPS_S")
    CPU_ON+=("$CPU_US")
    FS_ON+=("$FSYNC_US")
done

# Wait until the "on" server's audit log holds every line (the event thread
# writes behind the replies), at most 30 s, then count.
AUDIT_LOG=$RUNDIR/on/data/zookeeper_audit.log
EXPECTED=$((AUDITED + 1)) # + serverStart
LINES=0
[[ "$EXTRA_ON" == *audit.logFile=* ]] && EXPECTED=0
for ((i = 0; i < 300; i++)); do
    LINES=$(grep -c 'audit.Slf4jAuditLogger' "$AUDIT_LOG" 2>/dev/null || true)
    [ "${LINES:-0}" -ge "$EXPECTED" ] && break
    sleep 0.1
done

stop_server off
stop_server on

avg() { printf '%s\n' "$@" | awk '$1 != "-" && $1 != "" { s += $1; n++ } END { if (n) printf "%.0f", s / n; else print "-" }'; }
sd() { printf '%s\n' "$@" | awk '{ s += $1; q += $1 * $1; n++ } END { if (n > 1) { m = s / n; v = (q - n * m * m) / (n - 1); printf "%.0f", (v > 0 ? sqrt(v) : 0) } else print "-" }'; }

AVG_OFF=$(avg "${OFF[@]}")
AVG_ON=$(avg "${ON[@]}")
echo
echo "zkplug audit cost: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), $(uname -r), dataDir on $(df -T "$WORKDIR" | awk 'NR == 2 { print $2 }')"
echo "zkbench $WORKLOAD -d 100, ${SECONDS_PER_RUN} s per run, forceSync=$FORCE_SYNC, $ROUNDS rounds of off then on${EXTRA_ON:+; audited server: $EXTRA_ON}"
echo
div() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b + 0 == 0) print "-"; else printf "%.3f", a / b }'; }
avg2() { printf '%s\n' "$@" | awk '{ s += $1; n++ } END { if (n) printf "%.2f", s / n; else print "-" }'; }
AVG_CPU_OFF=$(avg2 "${CPU_OFF[@]}")
AVG_CPU_ON=$(avg2 "${CPU_ON[@]}")
ROW='%-6s %12s %12s %7s   %9s %9s   %9s %9s\n'
printf "$ROW" "" "ops/s" "ops/s" "" "CPU us/op" "CPU us/op" "fsync us" "fsync us"
printf "$ROW" "round" "audit off" "audit on" "on/off" "off" "on" "off" "on"
for ((r = 0; r < ROUNDS; r++)); do
    printf "$ROW" "$((r + 1))" "${OFF[$r]:--}" "${ON[$r]:--}" "$(div "${ON[$r]:-}" "${OFF[$r]:-}")" \
        "${CPU_OFF[$r]:--}" "${CPU_ON[$r]:--}" "${FS_OFF[$r]:--}" "${FS_ON[$r]:--}"
done
printf "$ROW" "avg" "$AVG_OFF" "$AVG_ON" "$(div "$AVG_ON" "$AVG_OFF")" "$AVG_CPU_OFF" "$AVG_CPU_ON" \
    "$(avg "${FS_OFF[@]}")" "$(avg "${FS_ON[@]}")"
printf '%-6s %12s %12s\n' "stdev" "$(sd "${OFF[@]}")" "$(sd "${ON[@]}")"
echo
awk -v a="$AVG_ON" -v b="$AVG_OFF" 'BEGIN { if (b + 0 > 0) printf "audit cost: %.1f%% of write throughput (ops/s with audit / without = %.3f)\n", (1 - a / b) * 100, a / b }'
# The median of the per-round ratios: a round's two runs are 2 x SECONDS
# apart, so it is less sensitive to load that comes and goes on the machine.
for ((r = 0; r < ROUNDS; r++)); do echo "$(div "${ON[$r]:-}" "${OFF[$r]:-}")"; done | grep -v '^-$' | sort -n |
    awk '{ v[NR] = $1 } END { if (NR) { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "median of the per-round on/off ratios: %.3f\n", m } }'
awk -v a="$AVG_CPU_ON" -v b="$AVG_CPU_OFF" 'BEGIN { if (b + 0 > 0) printf "server CPU per write: %.2f us with audit, %.2f us without (+%.1f%%)\n", a, b, (a / b - 1) * 100 }'
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ "$EXTRA_ON" == *audit.logFile=* ]]; then
    echo "audit log: elsewhere ($EXTRA_ON), not counted"
else
    echo "audit log: $LINES lines for $EXPECTED audited operations$([ "$LINES" -ge "$EXPECTED" ] && echo " (none lost)" || echo " (MISSING LINES)")"
fi
