#!/usr/bin/env bash
# Fresh-machine check of the quickstart's set-up (not in CI: it takes minutes and downloads a few
# hundred MB). In a clean Debian 12 made with mmdebstrap (minbase, nothing added) and a clean clone
# of this repository's HEAD, it checks what a new user meets:
#   1. as a non-root user, examples/quickstart.sh and scripts/install-deps.sh say what to run;
#   2. as root, scripts/install-deps.sh installs everything (apt packages, Go from the module
#      proxy checked against its pinned hash), and `--check` then says "all set-up present";
#   3. the toolchain it installed builds sparkform, which runs.
# The lab itself (namespaces, a nested mmdebstrap) is not started in the chroot; CI runs it on a
# clean clone. Ubuntu 24.04 cannot be checked here: only Debian's apt is reachable.
#
#   sudo scripts/fresh-machine-check.sh [MIRROR]    (default http://deb.debian.org/debian)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "fresh-machine-check: mmdebstrap and chroot need root. Run:" >&2
  echo "    sudo $0" >&2
  exit 1
fi
for c in mmdebstrap unshare chroot git; do
  command -v "$c" >/dev/null || { echo "fresh-machine-check: needs $c (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
mirror=${1:-http://deb.debian.org/debian}
work=$(mktemp -d /var/tmp/sparkform-fresh.XXXXXX)
# The chroot's mounts live in a private mount namespace that ends with the check, so nothing is
# mounted under $work when it is removed (--one-file-system: never cross into a mount anyway).
trap 'rm -rf --one-file-system "$work"' EXIT
root=$work/root
start=$SECONDS

echo "== clean Debian 12: mmdebstrap --variant=minbase bookworm ($mirror)"
mmdebstrap --quiet --variant=minbase bookworm "$root" "deb $mirror bookworm main" "deb $mirror bookworm-updates main"
git clone -q --no-hardlinks "$PWD" "$root/srv/sparkform"
chmod -R a+rX "$root/srv/sparkform"

unshare --mount --propagation private bash -euo pipefail -s "$root" <<'EOF'
root=$1
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# This machine's own local CAs (a TLS-inspecting egress proxy's, say) go in as any machine on the
# same network has them; ca-certificates, installed below, adds them to the system store.
mkdir -p "$root/usr/local/share/ca-certificates"
find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' -exec cp {} "$root/usr/local/share/ca-certificates/" \;
# As in any chroot, package scripts start no daemons (the lab starts its own sshd processes).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
in_chroot() { chroot "$@"; }
clean_env=(/usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8)

echo "== 1. a non-root user is told what to run"
for script in examples/quickstart.sh scripts/install-deps.sh; do
  if out=$(in_chroot --userspec=nobody:nogroup "$root" "${clean_env[@]}" HOME=/tmp bash -c "cd /srv/sparkform && $script" 2>&1); then
    echo "FAIL: $script as nobody succeeded:"; echo "$out"; exit 1
  fi
  case $out in
    *"sudo "*) echo "ok: $script as nobody: $(echo "$out" | head -n1)" ;;
    *) echo "FAIL: $script as nobody does not say what to run:"; echo "$out"; exit 1 ;;
  esac
done

echo "== 2. scripts/install-deps.sh as root, then --check"
in_chroot "$root" "${clean_env[@]}" bash -c 'cd /srv/sparkform && scripts/install-deps.sh'
check=$(in_chroot "$root" "${clean_env[@]}" bash -c 'cd /srv/sparkform && scripts/install-deps.sh --check')
[ "$check" = "all set-up present" ] || { echo "FAIL: --check after install: $check"; exit 1; }
echo "ok: $check"

echo "== 3. the installed toolchain builds sparkform"
in_chroot "$root" "${clean_env[@]}" bash -c 'cd /srv/sparkform && export PATH=$PATH:/usr/local/go/bin && go version && go build -o /tmp/sparkform ./cmd/sparkform && /tmp/sparkform version'
EOF
echo "== fresh-machine check passed in $((SECONDS - start)) s"
