#!/usr/bin/env bash
# Install what building sparkform, its lab and its tests need on a fresh Debian 12 or Ubuntu
# 24.04 machine: the apt packages below and, when no Go >= the go.mod version is found, the Go
# toolchain from the Go module proxy (checked against a hash pinned here). Shared by
# examples/quickstart.sh and .ci/run; safe to rerun (present packages are not fetched again).
#
#   scripts/install-deps.sh           install what is missing (root)
#   scripts/install-deps.sh --check   list what is missing; exit 1 if anything is (any user)
set -euo pipefail

# The apt packages, one per line with why. Add yours here; nothing else holds this list.
packages=(
  git              # lab: llama.cpp stand-in repository; tests: clean clones
  openssh-server   # lab: every host is a real sshd
  openssh-client   # tests: the real ssh client, ssh-keygen
  mmdebstrap       # lab: builds the host image
  nftables         # lab: the partition fault
  zstd             # lab: image cache compression
  dpkg-dev         # lab: stand-in kernel packages (dpkg-scanpackages)
  gcc              # lab: the host boot program
  libc6-dev        # lab: the host boot program
  util-linux       # lab: unshare, setsid, nsenter
  iproute2         # lab: each host's network namespace, veth pair and the lab bridge
  iptables         # lab: lab up -latency queues packets to the delaying program (no netem here)
  ca-certificates  # apt and the Go module proxy over https
  curl             # fetching the Go toolchain when Go is missing
  unzip            # unpacking the Go toolchain when Go is missing
  shellcheck       # tests: shell scripts are shellcheck-clean
  postgresql       # tests: the pg state backend's real clusters (initdb, pg_ctl; run as postgres)
  python3          # tests: venv reports and the smoke test's fastsafetensors check run in a local python
  zsh              # tests: the generated zsh completion is loaded and run in a real zsh
)

# The Go toolchain fetched when no recent enough go is installed, with its go.sum hash (h1, from
# sum.golang.org). Changing go.mod's go line means updating these three lines.
go_version=1.26.8
declare -A go_h1=(
  [amd64]="h1:ZOmGe1OnfREDMIdb1Qi4G9JSuDPBLGExZMQ4nis1RXM="
  [arm64]="h1:sYL/O6MqS68ML0kjsQ36WoYIpJqkw60TxizWUYUKQMc="
)
go_root=/usr/local/go

cd "$(dirname "$0")/.."

missing_packages() {
  local p
  for p in "${packages[@]}"; do
    if [ "$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
      echo "$p"
    fi
  done
}

# go_ok: a go command at least as new as go.mod asks for (on PATH or in $go_root).
go_ok() {
  local want have g
  want=$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
  for g in "$(command -v go || true)" "$go_root/bin/go"; do
    [ -x "$g" ] || continue
    have=$("$g" env GOVERSION 2>/dev/null) || continue
    have=${have#go}
    if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" = "$want" ]; then
      return 0
    fi
  done
  return 1
}

# dirhash prints the go.sum "h1:" hash of the module tree under the current directory: the
# sha256 of the sorted "sha256  name" lines of every file (golang.org/x/mod/sumdb/dirhash.Hash1).
dirhash() {
  local sum
  sum=$(find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
  local i bytes=
  for ((i = 0; i < ${#sum}; i += 2)); do bytes+="\x${sum:i:2}"; done
  printf '%b' "$bytes" | base64 | sed 's/^/h1:/'
}

install_go() {
  local arch mod proxy tmp got
  arch=$(dpkg --print-architecture)
  [ -n "${go_h1[$arch]:-}" ] || { echo "install-deps: no pinned Go toolchain for $arch; install Go $go_version from https://go.dev/dl" >&2; exit 1; }
  mod="golang.org/toolchain@v0.0.1-go$go_version.linux-$arch"
  proxy=${GOPROXY:-https://proxy.golang.org}
  proxy=${proxy%%,*}
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "== Go $go_version from $proxy"
  curl -fsSL -o "$tmp/go.zip" "$proxy/golang.org/toolchain/@v/v0.0.1-go$go_version.linux-$arch.zip"
  mkdir "$tmp/x"
  unzip -q "$tmp/go.zip" -d "$tmp/x"
  got=$(cd "$tmp/x" && dirhash)
  # dirhash names files relative to the zip root, which is "$mod/..." as go.sum expects.
  if [ "$got" != "${go_h1[$arch]}" ]; then
    echo "install-deps: $mod hash $got, want ${go_h1[$arch]}: refusing it" >&2
    exit 1
  fi
  # Module zips keep no file modes: make the programs executable, as the go command does.
  chmod -R a+rX "$tmp/x/$mod"
  chmod a+x "$tmp/x/$mod"/bin/* "$tmp/x/$mod"/pkg/tool/*/*
  rm -rf "$go_root"
  mv "$tmp/x/$mod" "$go_root"
  echo "installed $("$go_root/bin/go" version) in $go_root (add $go_root/bin to PATH)"
}

mapfile -t need < <(missing_packages)
if [ "${1:-}" = --check ]; then
  status=0
  if [ ${#need[@]} -gt 0 ]; then
    echo "missing apt packages: ${need[*]}"
    status=1
  fi
  if ! go_ok; then
    echo "missing: Go >= $(sed -n 's/^go //p' go.mod)"
    status=1
  fi
  [ $status -eq 0 ] && echo "all set-up present"
  exit $status
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: installing packages needs root. Run:" >&2
  echo "    sudo $0" >&2
  echo "(or '$0 --check' to list what is missing; the lab itself also needs root)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if [ ${#need[@]} -gt 0 ]; then
  echo "== apt packages: ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The distribution's own sshd must not run: lab hosts listen on loopback port 22.
service ssh stop >/dev/null 2>&1 || true
go_ok || install_go
