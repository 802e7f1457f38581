#!/usr/bin/env bash
# zkplug-cleanup.sh: removes old snapshots and transaction logs from the
# dataDir (and dataLogDir) of a zkplug configuration, keeping the newest
# COUNT snapshots (at least 3) and the logs they need: zkCleanup.sh for
# zkplug. Safe while the server runs. Runs zkplug-purge.
#
#   zkplug-cleanup.sh [--config CONFDIR] [-n COUNT]     (COUNT defaults to 3)
set -eu

ZKPLUG_SCRIPT="${BASH_SOURCE-$0}"
ZKPLUG_BINDIR="$(cd "$(dirname "$ZKPLUG_SCRIPT")" && pwd)"
if [ -e "$ZKPLUG_BINDIR/../libexec/zkplug-env.sh" ]; then
    . "$ZKPLUG_BINDIR/../libexec/zkplug-env.sh"
elif [ -e "$ZKPLUG_BINDIR/zkplug-env.sh" ]; then
    . "$ZKPLUG_BINDIR/zkplug-env.sh"
else
    echo "zkplug-cleanup.sh: zkplug-env.sh is neither in $ZKPLUG_BINDIR/../libexec nor in $ZKPLUG_BINDIR" >&2
    exit 1
fi

count=3
if [ $# -ge 2 ] && [ "$1" = "-n" ]; then
    count="$2"
elif [ $# -ne 0 ]; then
    echo "Usage: $0 [--config <conf-dir>] [-n <count>]" >&2
    exit 2
fi

[ -f "$ZOOCFG" ] || { echo "zkplug-cleanup.sh: configuration file $ZOOCFG not found" >&2; exit 1; }
value() {
    awk -v key="$1" -F '[=:]' '
        /^[[:space:]]*[#!]/ { next }
        { k = $1; gsub(/[[:space:]]/, "", k); sub(/^zookeeper\./, "", k) }
        k == key { v = substr($0, index($0, $2)); sub(/^[[:space:]]+/, "", v); sub(/[[:space:]]+$/, "", v) }
        END { print v }' "$ZOOCFG"
}
data_dir="$(value dataDir)"
log_dir="$(value dataLogDir)"
[ -n "$data_dir" ] || { echo "zkplug-cleanup.sh: dataDir is not set in $ZOOCFG" >&2; exit 1; }
purge="$ZKPLUG_TOOLS_DIR/zkplug-purge"
[ -x "$purge" ] || { echo "zkplug-cleanup.sh: $purge not found; set ZKPLUG_TOOLS_DIR" >&2; exit 1; }
if [ -n "$log_dir" ]; then
    exec "$purge" "$data_dir" "$log_dir" -n "$count"
fi
exec "$purge" "$data_dir" -n "$count"
