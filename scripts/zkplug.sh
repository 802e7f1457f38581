#!/usr/bin/env bash
# zkplug.sh: start, stop and query a zkplug server the way zkServer.sh does
# for Apache ZooKeeper, with the same verbs, arguments and exit codes:
#
#   zkplug.sh [--config CONFDIR] {start|start-foreground|stop|restart|status|print-cmd|version} [CFG]
#
# CFG is a file name in CONFDIR, or a path. The environment (folders, log
# settings, pid file) comes from zkplug-env.sh: PREFIX/libexec/zkplug-env.sh
# in an install, else the one beside this script. See docs/operations.md.
#
# start runs the server in the background (nohup, output to
# ZOO_LOG_DIR/zkplug-USER-server-HOST.out, log to ZOO_LOG_FILE there), and
# reports STARTED only once the client port answers (a standalone server with
# its Mode; an ensemble member with anything, as it serves only once a
# majority runs); it refuses when the pid file names a live process. stop
# sends SIGTERM and waits for the exit. status finds the client address as
# zkServer.sh does (clientPort, else this server's server.N line by myid),
# asks srvr and prints its Mode line (standalone, leader, follower, observer,
# read-only): exit 0, or 1 when the server cannot be reached or does not serve.
set -eu

ZKPLUG_SCRIPT="${BASH_SOURCE-$0}"
ZKPLUG_BINDIR="$(cd "$(dirname "$ZKPLUG_SCRIPT")" && pwd)"
if [ -e "$ZKPLUG_BINDIR/../libexec/zkplug-env.sh" ]; then
    . "$ZKPLUG_BINDIR/../libexec/zkplug-env.sh"
elif [ -e "$ZKPLUG_BINDIR/zkplug-env.sh" ]; then
    . "$ZKPLUG_BINDIR/zkplug-env.sh"
else
    echo "zkplug.sh: zkplug-env.sh is neither in $ZKPLUG_BINDIR/../libexec nor in $ZKPLUG_BINDIR" >&2
    exit 1
fi

ZKPLUG_VERB="${1:-}"
usage() {
    echo "Usage: $0 [--config <conf-dir>] {start|start-foreground|stop|version|restart|status|print-cmd} [<cfg>]" >&2
    exit 1
}

if [ -n "${2:-}" ]; then
    case "$2" in
        */*) ZOOCFG="$2" ;;
        *) ZOOCFG="$ZOOCFGDIR/$2" ;;
    esac
fi

# ------------------------------------------------------------ helpers

fail() {
    echo "$*" >&2
    exit 1
}

# cfg_get_in FILE KEY: the value of KEY in FILE (the last line wins, as
# zkplug reads it; "key=value", "key: value" and a "zookeeper." prefix
# accepted). cfg_get KEY: the same in ZOOCFG.
cfg_get_in() {
    [ -r "$1" ] || return 0
    awk -v key="$2" '
        /^[[:space:]]*[#!]/ { next }
        {
            line = $0
            sub(/^[[:space:]]+/, "", line)
            if (index(line, "zookeeper.") == 1) line = substr(line, 11)
            n = length(key)
            if (substr(line, 1, n) != key) next
            rest = substr(line, n + 1)
            if (rest !~ /^[[:space:]]*[=:]/) next
            sub(/^[[:space:]]*[=:][[:space:]]*/, "", rest)
            sub(/[[:space:]]+$/, "", rest)
            value = rest; found = 1
        }
        END { if (found) print value }' "$1"
}

cfg_get() {
    cfg_get_in "$ZOOCFG" "$1"
}

# is_ensemble: ZOOCFG names ensemble members (server.N lines, or a
# dynamicConfigFile that holds them).
is_ensemble() {
    [ -n "$(cfg_get dynamicConfigFile)" ] && return 0
    grep -Eq '^[[:space:]]*(zookeeper\.)?server\.[0-9]+[[:space:]]*[=:]' "$ZOOCFG"
}

need_config() {
    [ -f "$ZOOCFG" ] || fail "zkplug.sh: configuration file $ZOOCFG not found (set ZOOCFGDIR/ZOOCFG, use --config DIR, or name the file after the verb)"
    [ -r "$ZOOCFG" ] || fail "zkplug.sh: configuration file $ZOOCFG is not readable by $ZKPLUG_USER"
}

need_binary() {
    [ -x "$ZKPLUG_BIN" ] || fail "zkplug.sh: the zkplug executable $ZKPLUG_BIN was not found; build it (cmake --build build) or set ZKPLUG_BIN"
    [ -d "$ZKPLUG_PLUGIN_DIR" ] || fail "zkplug.sh: the plugin folder $ZKPLUG_PLUGIN_DIR was not found; set ZKPLUG_PLUGIN_DIR"
    [ -e "$ZKPLUG_LUA_DIR/fourlw.lua" ] || fail "zkplug.sh: the Lua scripts were not found in $ZKPLUG_LUA_DIR; set ZKPLUG_LUA_DIR"
}

# writable_dir WHAT DIR: create DIR and prove that a file can be written there.
writable_dir() {
    local what="$1" dir="$2"
    if ! mkdir -p -- "$dir" 2>/dev/null || [ ! -d "$dir" ]; then
        fail "zkplug.sh: cannot create $what $dir (as $ZKPLUG_USER)"
    fi
    local probe="$dir/.zkplug-write-test.$$"
    if ! ( : > "$probe" ) 2>/dev/null; then
        fail "zkplug.sh: $what $dir is not writable by $ZKPLUG_USER"
    fi
    rm -f -- "$probe"
}

find_datadirs() {
    ZOO_DATADIR="$(cfg_get dataDir)"
    ZOO_DATALOGDIR="$(cfg_get dataLogDir)"
    [ -n "$ZOO_DATADIR" ] || fail "zkplug.sh: dataDir is not set in $ZOOCFG"
    ZOOPIDFILE="${ZOOPIDFILE:-$ZOO_DATADIR/zookeeper_server.pid}"
}

# dynamic_config_path: the dynamicConfigFile of ZOOCFG, found as the server
# finds it (a relative name beside ZOOCFG, else from the working folder).
dynamic_config_path() {
    local name
    name="$(cfg_get dynamicConfigFile)"
    [ -n "$name" ] || return 0
    case "$name" in
        /*) echo "$name" ;;
        *)
            if [ -e "$(dirname "$ZOOCFG")/$name" ] || [ ! -e "$name" ]; then
                echo "$(dirname "$ZOOCFG")/$name"
            else
                echo "$name"
            fi
            ;;
    esac
}

# server_client_part FILE MYID: the client address of line server.MYID in
# FILE (what follows its last ";"), empty when the line has none.
server_client_part() {
    local line
    line="$(cfg_get_in "$1" "server.$2")"
    [[ "$line" == *";"* ]] || return 0
    line="${line##*;}"
    line="${line#"${line%%[![:space:]]*}"}"
    echo "$line"
}

# client_address [report]: sets CLIENT_HOST, CLIENT_PORT and CLIENT_SSL as
# zkServer.sh status finds them: clientPort (with clientPortAddress, else
# localhost); without it, the client part ";[host:]port" of this server's
# server.N line (N from dataDir/myid) in ZOOCFG, then in the
# dynamicConfigFile; without that, secureClientPort (with
# secureClientPortAddress). CLIENT_PORT is empty when nothing was found.
# With "report", zkServer.sh's messages about the search are printed.
# CONNECT_HOST is CLIENT_HOST with a wildcard address made a loopback one.
client_address() {
    local report="${1:-}"
    CLIENT_SSL=false
    CLIENT_HOST="$(cfg_get clientPortAddress)"
    [ -n "$CLIENT_HOST" ] || CLIENT_HOST=localhost
    CLIENT_PORT="$(cfg_get clientPort)"
    if ! [[ "$CLIENT_PORT" =~ ^[0-9]+$ ]]; then
        CLIENT_PORT=""
        local myid part dyn secure
        myid="$(head -n 1 "$(cfg_get dataDir)/myid" 2>/dev/null | tr -d '[:space:]' || true)"
        if ! [[ "$myid" =~ ^[0-9]+$ ]]; then
            [ -z "$report" ] || echo "myid could not be determined, will not able to locate clientPort in the server configs."
        else
            part="$(server_client_part "$ZOOCFG" "$myid")"
            if [ -z "$part" ]; then
                [ -z "$report" ] || echo "Client port not found in static config file. Looking in dynamic config file."
                dyn="$(dynamic_config_path)"
                [ -z "$dyn" ] || part="$(server_client_part "$dyn" "$myid")"
            fi
            if [ -z "$part" ]; then
                [ -z "$report" ] || echo "Client port not found in the server configs"
            elif [[ "$part" =~ ^\[(.*)\]:([0-9]+)$ ]]; then
                CLIENT_HOST="${BASH_REMATCH[1]}"
                CLIENT_PORT="${BASH_REMATCH[2]}"
            elif [[ "$part" =~ ^([^:]*):([0-9]+)$ ]]; then
                CLIENT_HOST="${BASH_REMATCH[1]}"
                CLIENT_PORT="${BASH_REMATCH[2]}"
            else
                CLIENT_PORT="$part"
            fi
        fi
        if [ -z "$CLIENT_PORT" ]; then
            [ -z "$report" ] || echo "Client port not found. Looking for secureClientPort in the static config."
            secure="$(cfg_get secureClientPort)"
            if [ -n "$secure" ]; then
                CLIENT_SSL=true
                CLIENT_PORT="$secure"
                CLIENT_HOST="$(cfg_get secureClientPortAddress)"
                [ -n "$CLIENT_HOST" ] || CLIENT_HOST=localhost
            fi
        fi
    fi
    case "$CLIENT_HOST" in
        0.0.0.0) CONNECT_HOST=127.0.0.1 ;;
        ::|"[::]") CONNECT_HOST=::1 ;;
        *) CONNECT_HOST="$CLIENT_HOST" ;;
    esac
}

# four_letter WORD: the server's answer to WORD on the client port (bounded).
four_letter() {
    timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1; printf "%s" "$3" >&3; cat <&3' \
        four_letter "$CONNECT_HOST" "$CLIENT_PORT" "$1" 2>/dev/null
}

port_answers() {
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' port_answers "$CONNECT_HOST" "$CLIENT_PORT" 2>/dev/null
}

# is_zkplug PID: that process runs the zkplug executable.
is_zkplug() {
    local exe
    exe="$(readlink "/proc/$1/exe" 2>/dev/null || true)"
    [ "${exe##*/}" = "zkplug" ] || [ "${exe##*/}" = "zkplug (deleted)" ]
}

pid_from_file() {
    local pid=""
    [ -f "$ZOOPIDFILE" ] && pid="$(tr -d '[:space:]' < "$ZOOPIDFILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] && echo "$pid"
    return 0
}

server_command() {
    ZKPLUG_CMD=("$ZKPLUG_BIN" -c "$ZOOCFG" -p "$ZKPLUG_PLUGIN_DIR" -s "$ZKPLUG_LUA_DIR"
        -L "$ZOO_LOG_LEVEL" -P "$ZOOPIDFILE")
    if [ "${1:-}" = "file" ]; then
        ZKPLUG_CMD+=(-l "$ZOO_LOG_DIR/$ZOO_LOG_FILE")
    fi
    # Word-split on purpose: ZKPLUG_FLAGS holds extra arguments, as JVMFLAGS does.
    # shellcheck disable=SC2206
    ZKPLUG_CMD+=($ZKPLUG_FLAGS)
}

metrics_env() {
    if [ "$METRICSDISABLE" = "true" ]; then
        echo "zkplug metrics bus disabled by user request" >&2
        export METRICSDISABLE
    fi
}

# server_answers PID: the server just started as PID is up. A standalone
# server has to answer srvr with its Mode (it serves at once); an ensemble
# member only has to answer on its client port, since it serves clients only
# once a majority of the ensemble runs, and its peers may start later. A
# server without a plain client port (none, or only secureClientPort) counts
# as up when it is still alive a second after writing its pid file, which is
# zkServer.sh's whole test.
server_answers() {
    if [ -z "$CLIENT_PORT" ] || [ "$CLIENT_SSL" = true ]; then
        sleep 1
        kill -0 "$1" 2>/dev/null
    elif [ -n "$ENSEMBLE" ]; then
        [ -n "$(four_letter srvr)" ]
    else
        four_letter srvr | grep -q '^Mode: '
    fi
}

# ------------------------------------------------------------- verbs

do_start() {
    need_config
    need_binary
    echo "Using config: $ZOOCFG" >&2
    find_datadirs
    writable_dir dataDir "$ZOO_DATADIR"
    [ -z "$ZOO_DATALOGDIR" ] || writable_dir dataLogDir "$ZOO_DATALOGDIR"
    writable_dir "pid file folder" "$(dirname "$ZOOPIDFILE")"
    writable_dir "log folder" "$ZOO_LOG_DIR"
    local out="$ZOO_LOG_DIR/zkplug-$ZKPLUG_USER-server-$ZKPLUG_HOST.out"
    local log="$ZOO_LOG_DIR/$ZOO_LOG_FILE"
    echo -n "Starting zkplug ... "
    local pid
    pid="$(pid_from_file)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        if is_zkplug "$pid"; then
            echo "zkplug already running as process $pid."
        else
            echo "process $pid named in $ZOOPIDFILE is running and is not zkplug (another server on this dataDir?); not starting."
        fi
        exit 1
    fi
    client_address
    ENSEMBLE=""
    if is_ensemble; then
        ENSEMBLE=1
    fi
    if [ -n "$CLIENT_PORT" ] && port_answers; then
        echo "FAILED TO START"
        fail "zkplug.sh: client port $CLIENT_PORT on $CLIENT_HOST is already in use by another process"
    fi
    metrics_env
    server_command file
    local log_lines=0
    [ -f "$log" ] && log_lines="$(wc -l < "$log")"
    nohup "${ZKPLUG_CMD[@]}" > "$out" 2>&1 < /dev/null &
    pid=$!
    local waited=0 limit=$((ZKPLUG_START_TIMEOUT * 10))
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "FAILED TO START"
            {
                [ -s "$out" ] && sed -e 's/^/  /' "$out"
                [ -f "$log" ] && tail -n +"$((log_lines + 1))" "$log" | grep -E ' (ERROR|WARN) ' | sed -e 's/^/  /'
            } >&2 || true
            echo "See $log" >&2
            exit 1
        fi
        if [ "$(pid_from_file)" = "$pid" ] && server_answers "$pid"; then
            break
        fi
        if [ "$waited" -ge "$limit" ]; then
            echo "FAILED TO START"
            echo "zkplug (process $pid) does not answer on $CLIENT_HOST:$CLIENT_PORT after $ZKPLUG_START_TIMEOUT s; it is left running. See $log" >&2
            exit 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    echo STARTED
}

do_start_foreground() {
    need_config
    need_binary
    echo "Using config: $ZOOCFG" >&2
    find_datadirs
    writable_dir dataDir "$ZOO_DATADIR"
    writable_dir "pid file folder" "$(dirname "$ZOOPIDFILE")"
    metrics_env
    server_command console
    if [ -n "${ZOO_NOEXEC:-}" ]; then
        "${ZKPLUG_CMD[@]}"
    else
        exec "${ZKPLUG_CMD[@]}"
    fi
}

do_print_cmd() {
    need_config
    echo "Using config: $ZOOCFG" >&2
    find_datadirs
    server_command file
    local q=()
    local a
    for a in "${ZKPLUG_CMD[@]}"; do
        q+=("$(printf '%q' "$a")")
    done
    echo "${q[*]} > $(printf '%q' "$ZOO_LOG_DIR/zkplug-$ZKPLUG_USER-server-$ZKPLUG_HOST.out") 2>&1 < /dev/null"
}

do_stop() {
    need_config
    echo "Using config: $ZOOCFG" >&2
    find_datadirs
    echo -n "Stopping zkplug ... "
    local pid
    pid="$(pid_from_file)"
    if [ -z "$pid" ]; then
        echo "no zkplug to stop (could not find file $ZOOPIDFILE)"
        return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        rm -f -- "$ZOOPIDFILE"
        echo "no zkplug to stop (process $pid from $ZOOPIDFILE is not running; stale pid file removed)"
        return 0
    fi
    if ! is_zkplug "$pid"; then
        echo "FAILED"
        fail "zkplug.sh: process $pid named in $ZOOPIDFILE is not zkplug; not stopping it"
    fi
    kill -TERM "$pid"
    local waited=0 limit=$((ZKPLUG_STOP_TIMEOUT * 10))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$waited" -ge "$limit" ]; then
            echo "FAILED"
            fail "zkplug (process $pid) did not stop within $ZKPLUG_STOP_TIMEOUT s of SIGTERM; a second SIGTERM makes it exit at once"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    # The server removes its pid file; a file left behind names a dead process.
    if [ "$(pid_from_file)" = "$pid" ]; then
        rm -f -- "$ZOOPIDFILE"
    fi
    echo STOPPED
}

# status: zkServer.sh 3.8's status, line for line: the search for the client
# address (client_address report), "Client port found: ...", then the Mode
# line of srvr and exit 0, or "Error contacting service. It is probably not
# running." and exit 1 (also for a server that runs but does not serve: an
# ensemble member without a quorum answers srvr without a Mode line).
do_status() {
    need_config
    echo "Using config: $ZOOCFG" >&2
    client_address report
    if [ -z "$CLIENT_PORT" ]; then
        echo "Unable to find either secure or unsecure client port in any configs. Terminating."
        exit 1
    fi
    echo "Client port found: $CLIENT_PORT. Client address: $CLIENT_HOST. Client SSL: $CLIENT_SSL."
    local stat=""
    if [ "$CLIENT_SSL" = true ]; then
        echo " "
        echo "Note: We used secureClientPort ($CLIENT_PORT) to establish connection, but zkplug does not serve"
        echo "  TLS client connections yet (secureClientPort is read, not served), so the 'status' command"
        echo "  cannot reach the server there. Give the server a clientPort to query it."
        echo " "
    else
        stat="$(four_letter srvr | grep Mode || true)"
    fi
    if [ -z "$stat" ]; then
        echo "Error contacting service. It is probably not running."
        exit 1
    fi
    # Unquoted, as zkServer.sh echoes it: one line, spaces squeezed.
    # shellcheck disable=SC2086
    echo $stat
    exit 0
}

case "$ZKPLUG_VERB" in
    start) do_start ;;
    start-foreground) do_start_foreground ;;
    stop) do_stop ;;
    restart)
        shift
        "$ZKPLUG_SCRIPT" --config "$ZOOCFGDIR" stop "$@"
        "$ZKPLUG_SCRIPT" --config "$ZOOCFGDIR" start "$@"
        ;;
    status) do_status ;;
    print-cmd) do_print_cmd ;;
    version)
        need_binary
        "$ZKPLUG_BIN" -V
        ;;
    *) usage ;;
esac
