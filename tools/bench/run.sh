#!/bin/sh
# make bench: runs every tools/bench/bench_*.sh in name order (each part prints its own figures
# and ratios against a peer measured in the same run). Fails if any part fails.
# Parts measure CPU time on a shared 2-core box: they run under flock /tmp/loadscope-cpu.lock.
cd "$(dirname "$0")/../.." || exit 1
status=0
for part in tools/bench/bench_*.sh; do
    [ -e "$part" ] || continue
    echo "== $part"
    # each part runs with the interpreter its #! line names (bash parts need bash)
    interp=$(head -n 1 "$part" | sed -n 's/^#! *//p')
    if ! flock /tmp/loadscope-cpu.lock ${interp:-sh} "$part"; then
        echo "bench: $part failed" >&2
        status=1
    fi
done
exit $status
