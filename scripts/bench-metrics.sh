#!/usr/bin/env bash
# Measures what the metrics cost: zkbench throughput against one standalone
# zkplug with metrics on (latency summaries recorded on every request, the bus
# publishing every interval to a live zkplug-metrics subscriber, /metrics
# served) and with metrics off (METRICSDISABLE=true: no recording, no bus),
# same zoo.cfg otherwise. Rounds alternate on/off so drift hits both; the
# median of the rounds is reported, with the ratio on/off. Not a test: it
# prints figures. Every server and subscriber it starts is stopped by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
SECONDS_PER_RUN=5
ROUNDS=5
WORKLOADS="read write"
STORAGE=mem
SESSIONS=8
OUTSTANDING=32

usage() {
    cat <<USAGE
usage: $0 [-b BUILD_DIR] [-t SECONDS] [-r ROUNDS] [-w "read write create"] [-s mem|disk]
  -b DIR   build directory with zkplug, its plugins, zkplug-metrics and zkbench
           (built there first; default $ROOT/build)
  -t SEC   length of each zkbench run (default $SECONDS_PER_RUN)
  -r N     rounds per setting (default $ROUNDS)
  -w LIST  workloads (default "$WORKLOADS")
  -s NAME  storage plugin (default $STORAGE: measures CPU, not fsync)
USAGE
}

while getopts "b:t:r:w:s:h" opt; do
    case $opt in
    b) BUILD=$(cd "$OPTARG" && pwd) ;;
    t) SECONDS_PER_RUN=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    w) WORKLOADS=$OPTARG ;;
    s) STORAGE=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage; exit 2 ;;
    esac
done

cmake --build "$BUILD" -j"$(nproc)" --target zkplug tcp "$STORAGE" zkbench zkplug-metrics >/dev/null

WORK=$(mktemp -d "${TMPDIR:-/tmp}/zkplug-bench-metrics.XXXXXX")
SERVER_PID=""
WATCH_PID=""
cleanup() {
    [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null && wait "$WATCH_PID" 2>/dev/null || true
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server on|off: sets SERVER_PID, PORT (and WATCH_PID when on).
start_server() {
    local mode=$1
    rm -rf "$WORK/data" && mkdir -p "$WORK/data"
    PORT=$(free_port)
    PUB=$(free_port)
    REP=$(free_port)
    HTTP=$(free_port)
    cat >"$WORK/zoo.cfg" <<CFG
tickTime=2000
dataDir=$WORK/data
clientPort=$PORT
clientPortAddress=127.0.0.1
plugin.storage=$STORAGE
admin.enableServer=false
maxClientCnxns=0
metrics.bus.publishAddress=tcp://127.0.0.1:$PUB
metrics.bus.queryAddress=tcp://127.0.0.1:$REP
metrics.bus.interval=1000
metricsProvider.httpPort=$HTTP
CFG
    if [ "$mode" = off ]; then
        METRICSDISABLE=true "$BUILD/core/zkplug" -c "$WORK/zoo.cfg" -p "$BUILD/plugins" >"$WORK/server.log" 2>&1 &
    else
        env -u METRICSDISABLE "$BUILD/core/zkplug" -c "$WORK/zoo.cfg" -p "$BUILD/plugins" >"$WORK/server.log" 2>&1 &
    fi
    SERVER_PID=$!
    for _ in $(seq 100); do
        if (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; then break; fi
        sleep 0.05
    done
    if [ "$mode" = on ]; then
        "$BUILD/metrics/zkplug-metrics" -s "tcp://127.0.0.1:$PUB" watch >/dev/null 2>&1 &
        WATCH_PID=$!
        sleep 0.3
    fi
}

stop_server() {
    if [ -n "$WATCH_PID" ]; then kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null || true; WATCH_PID=""; fi
    kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

run_bench() {
    "$BUILD/tests/zkbench" -p "$PORT" -s "$SESSIONS" -o "$OUTSTANDING" -w "$1" -t "$SECONDS_PER_RUN" \
        -n 100000000 | sed -n 's/.*ops\/s=\([0-9]*\).*/\1/p'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

echo "zkbench $SESSIONS sessions x $OUTSTANDING outstanding, ${SECONDS_PER_RUN}s runs, $ROUNDS rounds, storage $STORAGE"
for w in $WORKLOADS; do
    : >"$WORK/on" && : >"$WORK/off"
    for r in $(seq "$ROUNDS"); do
        for mode in on off; do
            start_server "$mode"
            run_bench "$w" >>"$WORK/$mode"
            stop_server
        done
    done
    on=$(median <"$WORK/on")
    off=$(median <"$WORK/off")
    ratio=$(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.3f", a / b}')
    printf "%-6s metrics on %8s ops/s   metrics off %8s ops/s   on/off %s   (rounds on: %s; off: %s)\n" \
        "$w" "$on" "$off" "$ratio" "$(paste -sd' ' "$WORK/on")" "$(paste -sd' ' "$WORK/off")"
done
