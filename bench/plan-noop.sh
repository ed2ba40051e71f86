#!/usr/bin/env bash
# Benchmark: plan a no-op on 20 lab hosts (needs root: it starts its own lab on 127.0.33.x).
# Prints wall time per plan, exec round trips and controller CPU per host, and peak RSS. Usage: bench/plan-noop.sh [-benchtime 5x]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
go test -run '^$' -bench 'PlanNoop20Hosts' -benchtime "${1:-5x}" -timeout 20m ./cmd/sparkform
