#!/usr/bin/env bash
# Benchmark: the figures of internal/lab/README.md (needs root: it builds an image and starts labs).
# The image is built from nothing in a fresh temporary cache directory (the shared
# /var/cache/sparkform-lab is left alone); hosts-up times use the shared cache. Each figure is
# printed with the load average at the time it was taken. Usage: bench/lab-figures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
go test -run '^$' -bench '^BenchmarkLab(ImageFromNothing|Up3|Up20)$' -benchtime 1x -timeout 30m ./internal/lab
