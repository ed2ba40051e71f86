#!/usr/bin/env bash
# Benchmark: what apply pays after every step to record it, in a 100-host state (20 generations
# and 100 test results per host): the local file (state; also an apply's first persist, the one
# after Load) and the PostgreSQL backend (its own throwaway cluster, run as the postgres user
# when root), side by side in one run. Prints time per persist and, for PostgreSQL, round trips
# per persist. Usage: bench/state-persist.sh [-benchtime 50x]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
go test -run '^$' -bench 'Persist.*In100HostFleet' -benchtime "${1:-50x}" -timeout 20m ./state ./state/pgstate
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
