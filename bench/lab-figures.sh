#!/usr/bin/env bash
# Benchmark: the figures of internal/lab/README.md (needs root: it builds an image and starts labs).
# The cost of a fork+exec on this machine; the image built from nothing in a fresh temporary cache
# directory (the shared /var/cache/sparkform-lab is left alone); 3 and 20 hosts up from the shared
# cache and one reboot. Each figure is printed with the load average at the time it was taken.
# Usage: bench/lab-figures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
go test -run '^$' -bench '^BenchmarkForkExec$' -benchtime 200x ./internal/lab
go test -run '^$' -bench '^BenchmarkLab(ImageFromNothing|Up3|Up20)$' -benchtime 1x -timeout 30m ./internal/lab
