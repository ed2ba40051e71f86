#!/usr/bin/env bash
# Quickstart: bring up a 3-host lab of real OpenSSH hosts on this machine (needs root), then
# plan and apply examples/spark-known-good to it (kernel 6.17 with reboots, sysctl, read-ahead,
# fastsafetensors venv, llama.cpp CUDA build, model-load smoke test), then show that a second
# plan has nothing to do and print the load-time report. Stop the hosts with: ./sparkform lab down
# (their disks and the demo state stay; remove .sparkform-lab after it to start from fresh hosts)
# It first installs what the lab needs (scripts/install-deps.sh, as CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart: the lab runs hosts in namespaces and needs root. Run:" >&2
  echo "    sudo $0" >&2
  echo "(scripts/install-deps.sh --check lists what this machine still lacks)" >&2
  exit 1
fi
scripts/install-deps.sh
export PATH="$PATH:/usr/local/go/bin"
go build -o sparkform ./cmd/sparkform
./sparkform lab up -n 3
work=.sparkform-lab/demo
mkdir -p "$work"
cp .sparkform-lab/hosts.hcl examples/spark-known-good/*.hcl "$work"/
./sparkform plan "$work" -var-file examples/lab.sfvars
./sparkform apply -auto-approve "$work" -var-file examples/lab.sfvars
./sparkform plan -detailed-exitcode "$work" -var-file examples/lab.sfvars
./sparkform report "$work"
