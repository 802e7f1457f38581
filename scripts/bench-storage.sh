#!/usr/bin/env bash
# Storage benchmark: RSS idle and with N znodes of 100 bytes, dataDir size,
# stop and recovery time, for zkplug and Apache ZooKeeper 3.8 side by side.
# The storage part of scripts/bench-throughput.sh; takes the same options
# (e.g. -n 200000 for fewer znodes). See docs/benchmarks.md.
exec "$(dirname "${BASH_SOURCE[0]}")/bench-throughput.sh" -p storage "$@"
