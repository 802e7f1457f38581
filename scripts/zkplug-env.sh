# zkplug-env.sh: the environment of zkplug.sh and zkplug-cleanup.sh (the
# counterpart of ZooKeeper's zkEnv.sh). Sourced, never run: the caller sets
# ZKPLUG_BINDIR to its own folder first and passes its arguments, so that a
# leading "--config DIR" is taken here, as zkEnv.sh does.
#
# Where things are, by layout (found from ZKPLUG_BINDIR):
#   install  PREFIX/bin/zkplug.sh beside PREFIX/bin/zkplug; this file in
#            PREFIX/libexec; plugins in PREFIX/lib*/zkplug/plugins, Lua scripts
#            in PREFIX/share/zkplug/lua, configuration in PREFIX/etc/zkplug
#            (or PREFIX/conf when present; /etc/zkplug for a /usr prefix
#            without usr/etc/zkplug), logs in PREFIX/logs.
#   source   SRC/scripts/zkplug.sh: binary and plugins from the build folder
#            ZKPLUG_BUILD_DIR (default SRC/build), Lua scripts in SRC/lua,
#            configuration in SRC/conf, logs in SRC/logs.
#
# Every variable below may be set in the environment or in
# ZOOCFGDIR/zookeeper-env.sh or ZOOCFGDIR/zkplug.env (read in that order,
# after ZOOCFGDIR is known):
#   ZOOCFGDIR          configuration folder
#   ZOOCFG             configuration file name in it (zoo.cfg)
#   ZOO_LOG_DIR        log folder (created when missing)
#   ZOO_LOG_FILE       log file name (zkplug-USER-server-HOST.log)
#   ZOO_LOG_LEVEL      ERROR, WARN, INFO (default) or DEBUG; without it the
#                      level of ZOO_LOG4J_PROP ("INFO,ROLLINGFILE") is used
#   ZOOPIDFILE         pid file (DATADIR/zookeeper_server.pid)
#   ZKPLUG_BIN         the zkplug executable
#   ZKPLUG_PLUGIN_DIR  the plugin folder
#   ZKPLUG_LUA_DIR     the built-in Lua scripts
#   ZKPLUG_TOOLS_DIR   folder of zkplug-purge and the other data tools
#   ZKPLUG_FLAGS       more zkplug arguments (SERVER_JVMFLAGS' role)
#   METRICSDISABLE     true: start without the metrics bus (JMXDISABLE's role)
#   ZKPLUG_START_TIMEOUT, ZKPLUG_STOP_TIMEOUT  seconds start waits for the
#                      client port and stop waits for the exit (30 each)
# shellcheck shell=bash

ZKPLUG_BINDIR="${ZKPLUG_BINDIR:-/usr/bin}"
ZKPLUG_PREFIX="$(cd "$ZKPLUG_BINDIR/.." && pwd)"

if [ $# -gt 1 ] && [ "$1" = "--config" ]; then
    shift
    ZOOCFGDIR="$1"
    shift
fi

if [ -e "$ZKPLUG_PREFIX/core/main.c" ] && [ -e "$ZKPLUG_PREFIX/lua/fourlw.lua" ]; then
    ZKPLUG_LAYOUT=source
    ZKPLUG_BUILD_DIR="${ZKPLUG_BUILD_DIR:-$ZKPLUG_PREFIX/build}"
    ZKPLUG_BIN="${ZKPLUG_BIN:-$ZKPLUG_BUILD_DIR/core/zkplug}"
    ZKPLUG_PLUGIN_DIR="${ZKPLUG_PLUGIN_DIR:-$ZKPLUG_BUILD_DIR/plugins}"
    ZKPLUG_TOOLS_DIR="${ZKPLUG_TOOLS_DIR:-$ZKPLUG_BUILD_DIR/tools}"
    ZKPLUG_LUA_DIR="${ZKPLUG_LUA_DIR:-$ZKPLUG_PREFIX/lua}"
    ZOOCFGDIR="${ZOOCFGDIR:-$ZKPLUG_PREFIX/conf}"
else
    ZKPLUG_LAYOUT=install
    ZKPLUG_BIN="${ZKPLUG_BIN:-$ZKPLUG_PREFIX/bin/zkplug}"
    ZKPLUG_TOOLS_DIR="${ZKPLUG_TOOLS_DIR:-$ZKPLUG_PREFIX/bin}"
    if [ -z "${ZKPLUG_PLUGIN_DIR:-}" ]; then
        for d in "$ZKPLUG_PREFIX"/lib/zkplug/plugins "$ZKPLUG_PREFIX"/lib64/zkplug/plugins \
                 "$ZKPLUG_PREFIX"/lib/*/zkplug/plugins; do
            if [ -d "$d" ]; then
                ZKPLUG_PLUGIN_DIR="$d"
                break
            fi
        done
        ZKPLUG_PLUGIN_DIR="${ZKPLUG_PLUGIN_DIR:-$ZKPLUG_PREFIX/lib/zkplug/plugins}"
    fi
    ZKPLUG_LUA_DIR="${ZKPLUG_LUA_DIR:-$ZKPLUG_PREFIX/share/zkplug/lua}"
    if [ -z "${ZOOCFGDIR:-}" ]; then
        if [ -e "$ZKPLUG_PREFIX/conf" ]; then
            ZOOCFGDIR="$ZKPLUG_PREFIX/conf"
        elif [ ! -e "$ZKPLUG_PREFIX/etc/zkplug" ] && [ "$ZKPLUG_PREFIX" = "/usr" ]; then
            ZOOCFGDIR=/etc/zkplug
        else
            ZOOCFGDIR="$ZKPLUG_PREFIX/etc/zkplug"
        fi
    fi
fi

if [ -f "$ZOOCFGDIR/zookeeper-env.sh" ]; then
    . "$ZOOCFGDIR/zookeeper-env.sh"
fi
if [ -f "$ZOOCFGDIR/zkplug.env" ]; then
    . "$ZOOCFGDIR/zkplug.env"
fi

ZOOCFG="${ZOOCFG:-zoo.cfg}"
case "$ZOOCFG" in
    /*) ;;
    *) ZOOCFG="$ZOOCFGDIR/$ZOOCFG" ;;
esac

ZOO_LOG_DIR="${ZOO_LOG_DIR:-$ZKPLUG_PREFIX/logs}"
if [ -z "${ZOO_LOG_LEVEL:-}" ]; then
    ZOO_LOG_LEVEL="${ZOO_LOG4J_PROP:-INFO}"
    ZOO_LOG_LEVEL="${ZOO_LOG_LEVEL%%,*}"
fi
ZKPLUG_USER="${USER:-$(id -un 2>/dev/null || echo zkplug)}"
ZKPLUG_HOST="${HOSTNAME:-$(uname -n)}"
ZOO_LOG_FILE="${ZOO_LOG_FILE:-zkplug-$ZKPLUG_USER-server-$ZKPLUG_HOST.log}"
ZKPLUG_FLAGS="${ZKPLUG_FLAGS:-}"
METRICSDISABLE="${METRICSDISABLE:-false}"
ZKPLUG_START_TIMEOUT="${ZKPLUG_START_TIMEOUT:-30}"
ZKPLUG_STOP_TIMEOUT="${ZKPLUG_STOP_TIMEOUT:-30}"

export ZOOCFGDIR ZOOCFG ZOO_LOG_DIR ZOO_LOG_FILE ZOO_LOG_LEVEL ZKPLUG_LAYOUT ZKPLUG_BIN \
    ZKPLUG_PLUGIN_DIR ZKPLUG_LUA_DIR ZKPLUG_TOOLS_DIR
