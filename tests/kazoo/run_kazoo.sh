#!/bin/sh
# Runs kazoo's own test suite against zkplug with the shared runner
# (../shared/compat/kazoo/run.sh beside the project) and checks that every test
# that passes on Apache ZooKeeper 3.8.0 in the same mode passes on zkplug,
# except those listed in expected-differences.txt with a reason.
#   run_kazoo.sh MODE ZKPLUG_BIN PLUGIN_DIR RESULTS_PARENT      (MODE: standalone or ensemble)
set -eu
mode=$1 bin=$2 plugins=$3 results_parent=$4
here=$(cd "$(dirname "$0")" && pwd)
shared=$(cd "$here/../../.." && pwd)/shared/compat/kazoo
[ -x "$shared/run.sh" ] || { echo "kazoo runner not found at $shared/run.sh" >&2; exit 1; }

case "$mode" in
    standalone) export ZOOKEEPER_CLUSTER_SIZE=1; baseline=$shared/baseline-zk-3.8.0-standalone.tsv ;;
    ensemble) unset ZOOKEEPER_CLUSTER_SIZE; baseline=$shared/baseline-zk-3.8.0.tsv ;; # the runner's default cluster
    *) echo "unknown mode $mode" >&2; exit 2 ;;
esac

mkdir -p "$results_parent"
results=$results_parent/$mode-$(date +%Y%m%d-%H%M%S)-$$
"$shared/run.sh" --server zkplug --bin "$bin" --plugins "$plugins" --results "$results" \
    --test-timeout 60 --total-timeout 1200 > "$results.log" 2>&1 || true
tail -n 1 "$results.log"
[ -f "$results/outcomes-final.tsv" ] || { echo "no outcomes written; see $results.log" >&2; tail -n 30 "$results.log" >&2; exit 1; }

/usr/bin/python3 - "$baseline" "$results/outcomes-final.tsv" "$here/expected-differences.txt" <<'PY'
import sys
def load(p):
    out = {}
    for line in open(p):
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 2 and not line.startswith("#"):
            out[parts[0]] = parts[1]
    return out
base, ours = load(sys.argv[1]), load(sys.argv[2])
allowed = {}
for line in open(sys.argv[3]):
    line = line.strip()
    if line and not line.startswith("#"):
        test, _, why = line.partition(" ")
        allowed[test] = why.strip()
regressions, excused = [], []
for test, outcome in sorted(base.items()):
    if outcome != "passed":
        continue
    got = ours.get(test, "absent")
    if got == "passed":
        continue
    (excused if test in allowed else regressions).append((test, got))
counts = {}
for o in ours.values():
    counts[o] = counts.get(o, 0) + 1
print("zkplug: %d passed, %d failed, %d skipped" % (counts.get("passed", 0), counts.get("failed", 0), counts.get("skipped", 0)))
for test, got in excused:
    print("expected difference: %s -> %s (%s)" % (test, got, allowed[test]))
for test, got in regressions:
    print("REGRESSION: passes on ZooKeeper 3.8.0, %s on zkplug: %s" % (got, test))
better = [t for t, o in ours.items() if o == "passed" and base.get(t) == "failed"]
for t in better:
    print("passes on zkplug, fails on ZooKeeper 3.8.0: %s" % t)
sys.exit(1 if regressions else 0)
PY
