#!/usr/bin/env bash
# Benchmarks zkplug against Apache ZooKeeper 3.8 on this machine, one server
# at a time, both with forceSync=yes and the same zoo.cfg, and prints every
# figure with the zkplug/ZooKeeper ratio:
#   throughput  zkbench read / write / create (8 sessions x 32 outstanding),
#               write with 1 / 8 / 32 sessions (1 outstanding each), and
#               write with 1 and 32 sessions x 32 outstanding;
#   storage     RSS idle, RSS after creating N znodes of 100 bytes, dataDir
#               size, stop time, recovery time (start until a session
#               handshake succeeds) on that dataDir and RSS after recovery.
# Not a test: it prints figures. Every run is time-bounded and every server it
# starts is stopped (by PID) on exit. scripts/bench-storage.sh runs the storage
# part only. See docs/benchmarks.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
PARTS="throughput storage"
SERVERS="zkplug zookeeper"
SECONDS_PER_RUN=10
ZNODES=1000000
POPULATE_LIMIT=900
RECOVERY_LIMIT=600
ZK_HEAP=2g
WORKDIR=${TMPDIR:-/tmp}
CP=${ZKPLUG_ZK_CLASSPATH:-/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar}

usage() {
    cat <<EOF
usage: $0 [options]
  -b DIR        build directory (default $ROOT/build); zkplug, its plugins and
                zkbench are built there first (cmake --build, targets zkplug,
                tcp, disk, zkbench)
  -p PARTS      "throughput", "storage" or "throughput storage" (default)
  -s SERVERS    "zkplug", "zookeeper" or "zkplug zookeeper" (default)
  -t SECONDS    length of each zkbench run (default $SECONDS_PER_RUN)
  -n ZNODES     znodes created for the RSS / recovery figures (default $ZNODES)
  -l SECONDS    time limit for creating them (default $POPULATE_LIMIT)
  -H HEAP       ZooKeeper's -Xmx (default $ZK_HEAP)
  -d DIR        where the temporary dataDirs go (default $WORKDIR)
  -N            do not build; use the binaries already in the build directory
EOF
}

NO_BUILD=0
while getopts "b:p:s:t:n:l:H:d:Nh" opt; do
    case $opt in
    b) BUILD=$(cd "$OPTARG" && pwd) ;;
    p) PARTS=$OPTARG ;;
    s) SERVERS=$OPTARG ;;
    t) SECONDS_PER_RUN=$OPTARG ;;
    n) ZNODES=$OPTARG ;;
    l) POPULATE_LIMIT=$OPTARG ;;
    H) ZK_HEAP=$OPTARG ;;
    d) WORKDIR=$OPTARG ;;
    N) NO_BUILD=1 ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

PY=/usr/bin/python3
ZKSTORE=$ROOT/tests/storage/zkstore.py
ZKBENCH=$BUILD/tests/zkbench

if [[ " $SERVERS " == *" zookeeper "* ]]; then
    command -v java >/dev/null || { echo "java is not installed (needed for ZooKeeper)" >&2; exit 1; }
    for jar in ${CP//:/ }; do
        [ -e "$jar" ] || { echo "$jar is missing (Apache ZooKeeper 3.8)" >&2; exit 1; }
    done
fi

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

RUNDIR=$(mktemp -d "$WORKDIR/zkplug-bench-XXXXXX")
SERVER_PID=""

stop_server() {
    # SIGTERM to the one server this script started, SIGKILL after 120 s.
    # It runs in its own process group (pgid = pid); whatever it forked and
    # left behind is killed with the group once it has exited.
    [ -n "$SERVER_PID" ] || return 0
    local pid=$SERVER_PID i
    SERVER_PID=""
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
    stop_server
    rm -rf "$RUNDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# new_config KIND DIR PORT: zoo.cfg shared by both servers.
new_config() {
    local kind=$1 dir=$2 port=$3
    mkdir -p "$dir/data"
    cat >"$dir/zoo.cfg" <<EOF
tickTime=2000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=yes
admin.enableServer=false
4lw.commands.whitelist=*
EOF
}

# start_server KIND DIR PORT: sets SERVER_PID and START_MS.
start_server() {
    local kind=$1 dir=$2 port=$3 out
    local -a argv
    if [ "$kind" = zkplug ]; then
        argv=("$BUILD/core/zkplug" -c "$dir/zoo.cfg" -p "$BUILD/plugins")
    else
        argv=(java "-Xmx$ZK_HEAP" -cp "$CP" -Dzookeeper.forceSync=yes
              org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg")
    fi
    if ! out=$($PY "$ZKSTORE" launch "$port" "$RECOVERY_LIMIT" "$dir/server.log" -- "${argv[@]}"); then
        echo "$kind did not start on port $port; log tail:" >&2
        tail -n 30 "$dir/server.log" >&2
        exit 1
    fi
    SERVER_PID=${out% *}
    START_MS=${out#* }
}

rss_mib() {
    awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# bench KIND LABEL ZKBENCH-ARGS...: one run; stores "ops p50 p99 p999".
declare -A RESULT
bench() {
    local kind=$1 label=$2 line
    shift 2
    line=$("$ZKBENCH" -p "$PORT" "$@" -t "$SECONDS_PER_RUN" -d 100) || true
    echo "  $kind $label: $line" >&2
    RESULT[$kind/$label]=$(echo "$line" | sed -n 's/.*ops\/s=\([0-9]*\) p50_us=\([0-9]*\) p99_us=\([0-9]*\) p999_us=\([0-9]*\).*/\1 \2 \3 \4/p')
}

# requests per session: enough for SECONDS_PER_RUN at 400k ops/s overall.
per_session() {
    echo $((400000 * SECONDS_PER_RUN / $1 + 1000))
}

WORKLOADS=(
    "read 8x32|-w read -s 8 -o 32"
    "write 8x32|-w write -s 8 -o 32"
    "create 8x32|-w create -s 8 -o 32"
    "write 1x1|-w write -s 1 -o 1"
    "write 8x1|-w write -s 8 -o 1"
    "write 32x1|-w write -s 32 -o 1"
    "write 1x32|-w write -s 1 -o 32"
    "write 32x32|-w write -s 32 -o 32"
)

run_throughput() {
    local kind=$1 dir=$RUNDIR/$1-throughput w label args sessions
    PORT=$(free_port)
    new_config "$kind" "$dir" "$PORT"
    start_server "$kind" "$dir" "$PORT"
    echo "$kind: throughput runs of ${SECONDS_PER_RUN} s (pid $SERVER_PID, port $PORT)" >&2
    # Warm-up (JIT for ZooKeeper, page cache and log preallocation for both).
    "$ZKBENCH" -p "$PORT" -w write -s 8 -o 32 -n 100000 -t 3 -d 100 >/dev/null || true
    "$ZKBENCH" -p "$PORT" -w read -s 8 -o 32 -n 200000 -t 3 -d 100 >/dev/null || true
    for w in "${WORKLOADS[@]}"; do
        label=${w%%|*}
        args=${w#*|}
        sessions=$(echo "$args" | sed 's/.*-s \([0-9]*\).*/\1/')
        # shellcheck disable=SC2086
        bench "$kind" "$label" $args -n "$(per_session "$sessions")"
    done
    stop_server
    rm -rf "$dir"
}

run_storage() {
    local kind=$1 dir=$RUNDIR/$1-storage per line t0 t1
    PORT=$(free_port)
    new_config "$kind" "$dir" "$PORT"
    start_server "$kind" "$dir" "$PORT"
    sleep 2
    RESULT[$kind/start_ms]=$START_MS
    RESULT[$kind/rss_idle]=$(rss_mib "$SERVER_PID")
    echo "$kind: creating $ZNODES znodes of 100 bytes (limit ${POPULATE_LIMIT} s)" >&2
    per=$(((ZNODES + 7) / 8))
    line=$("$ZKBENCH" -p "$PORT" -w create -s 8 -o 32 -n "$per" -d 100 -t "$POPULATE_LIMIT") || true
    echo "  $kind populate: $line" >&2
    RESULT[$kind/created]=$(echo "$line" | sed -n 's/.* ops=\([0-9]*\) .*/\1/p')
    RESULT[$kind/create_rate]=$(echo "$line" | sed -n 's/.*ops\/s=\([0-9]*\) .*/\1/p')
    sleep 2
    RESULT[$kind/rss_full]=$(rss_mib "$SERVER_PID")
    t0=$(date +%s%N)
    stop_server
    t1=$(date +%s%N)
    RESULT[$kind/stop_ms]=$(((t1 - t0) / 1000000))
    RESULT[$kind/disk_mib]=$(du -sm "$dir/data" | cut -f1)
    echo "$kind: recovery on $(ls "$dir/data/version-2" | tr '\n' ' ')" >&2
    start_server "$kind" "$dir" "$PORT"
    RESULT[$kind/recovery_ms]=$START_MS
    sleep 2
    RESULT[$kind/rss_recovered]=$(rss_mib "$SERVER_PID")
    stop_server
    rm -rf "$dir"
}

ratio() {
    # ratio A B: A/B to 2 decimals, "-" when either is missing or B is 0.
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

field() { # field KEY N: the Nth number of RESULT[KEY]
    local v=${RESULT[$1]:-}
    [ -n "$v" ] && echo "$v" | awk -v n="$2" '{ print $n }' || echo ""
}

for kind in $SERVERS; do
    [[ " $PARTS " == *" throughput "* ]] && run_throughput "$kind"
    [[ " $PARTS " == *" storage "* ]] && run_storage "$kind"
done

mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
echo
SRC=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
echo "zkplug $(git -C "${SRC:-$ROOT}" describe --always --dirty 2>/dev/null || echo "built from ${SRC:-?}") vs Apache ZooKeeper 3.8.0 (java $(java -version 2>&1 | awk -F'"' 'NR == 1 { print $2 }'), -Xmx$ZK_HEAP)"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), memory $mem, $(uname -r), dataDir on $(df -T "$WORKDIR" | awk 'NR == 2 { print $2 }')"
echo "forceSync=yes on both; zkbench runs of ${SECONDS_PER_RUN} s, 100-byte data, 127.0.0.1; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ " $PARTS " == *" throughput "* ]]; then
    echo
    printf '%-13s %12s %22s %12s %22s %7s\n' "workload" "zkplug ops/s" "p50/p99/p999 us" "ZK ops/s" "p50/p99/p999 us" "ratio"
    for w in "${WORKLOADS[@]}"; do
        label=${w%%|*}
        a=$(field "zkplug/$label" 1)
        b=$(field "zookeeper/$label" 1)
        la="$(field "zkplug/$label" 2)/$(field "zkplug/$label" 3)/$(field "zkplug/$label" 4)"
        lb="$(field "zookeeper/$label" 2)/$(field "zookeeper/$label" 3)/$(field "zookeeper/$label" 4)"
        printf '%-13s %12s %22s %12s %22s %7s\n' "$label" "${a:--}" "$la" "${b:--}" "$lb" "$(ratio "$a" "$b")"
    done
    echo "(sessions x outstanding requests per session)"
fi
if [[ " $PARTS " == *" storage "* ]]; then
    echo
    printf '%-34s %12s %12s %7s\n' "storage ($ZNODES znodes of 100 B)" "zkplug" "ZooKeeper" "ratio"
    for row in "start, empty dataDir (ms)|start_ms" "RSS idle (MiB)|rss_idle" "znodes created|created" \
               "create rate (ops/s)|create_rate" "RSS with the znodes (MiB)|rss_full" \
               "dataDir size (MiB)|disk_mib" "stop, SIGTERM to exit (ms)|stop_ms" \
               "recovery, start to handshake (ms)|recovery_ms" "RSS after recovery (MiB)|rss_recovered"; do
        label=${row%%|*}
        key=${row#*|}
        a=${RESULT[zkplug/$key]:-}
        b=${RESULT[zookeeper/$key]:-}
        printf '%-34s %12s %12s %7s\n' "$label" "${a:--}" "${b:--}" "$(ratio "$a" "$b")"
    done
fi
