#!/usr/bin/env bash
# The fleet report from a lab: apply examples/fleet-report (llama.cpp and vLLM smoke tests),
# then add read-ahead 8192 and apply again; print the report by configuration, per host, the
# comparison of the two generations, and write the SVG chart. Needs a lab (sparkform lab up -n N;
# LAB=DIR for another lab directory) and ./sparkform (go build -o sparkform ./cmd/sparkform).
# The lab's servers are stand-ins: the figures show the report, not a Spark's load times.
set -euo pipefail
cd "$(dirname "$0")/.."
lab=${LAB:-.sparkform-lab}
work=$(mktemp -d /tmp/sparkform-fleet-report.XXXXXX)
cp "$lab/hosts.hcl" examples/fleet-report/main.hcl "$work"/
./sparkform apply -auto-approve "$work"
cat >"$work/readahead.hcl" <<'HCL'
readahead "nvme" {
  device = "nvme0n1"
  kb     = 8192
}
HCL
./sparkform apply -auto-approve "$work"
./sparkform report "$work"
./sparkform report "$work" -compare 1
./sparkform report "$work" -by host -host spark-01
./sparkform report "$work" -format svg -o "$work/fleet.svg"
echo "configuration: $work"
