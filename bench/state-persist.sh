#!/usr/bin/env bash
# Benchmark: what apply pays after every step to record it, in a 100-host state (20 generations
# and 100 test results per host): the PostgreSQL backend (its own throwaway cluster, run as the
# postgres user when root) and the local file, side by side in one run. Prints time and, for
# PostgreSQL, round trips per persist. Usage: bench/state-persist.sh [-benchtime 50x]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
go test -run '^$' -bench 'PersistOneResourceIn100HostFleet' -benchtime "${1:-50x}" -timeout 20m ./state/pgstate
