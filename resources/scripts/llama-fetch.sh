# shellcheck shell=sh
# llama-fetch: clones or fetches the llama.cpp source into D/src and prints "commit C", the
# commit REF resolves to (a tag, a branch of origin, or a commit). Positional arguments:
# D SRC REF E_FETCH E_REF: the block's dir, the source URL, the ref, and the exit codes when
# fetching fails or the ref resolves to nothing. Needs sf_untrusted (trustLib) defined first.
D=$1 SRC=$2 REF=$3 E_FETCH=$4 E_REF=$5
# What is made here runs as root later: closed to others whatever root's umask on the host.
umask 022
S="$D/src"
export GIT_TERMINAL_PROMPT=0
# A source on this host (a path or file://) is code root configures and runs: nobody but root or
# the login user may be able to write it, nor a directory above it.
case $SRC in
/*) L=$SRC ;;
file://*) L=${SRC#file://} ;;
*) L= ;;
esac
if [ -n "$L" ]; then
  case $L in /*) u=$(sf_untrusted_input "$L") ;; *) u="$L	is not an absolute path" ;; esac
  if [ -n "$u" ]; then echo "sparkform: untrusted: not building from $L: ${u#*	}" >&2; exit "$E_FETCH"; fi
fi
mkdir -p "$D/builds" || exit "$E_FETCH"
# Nobody but root (or the login user) may be able to write where the source is checked out,
# configured and built as root: checked now that D exists, it stays so (sf_untrusted: trustLib).
if u=$(sf_untrusted "$D/builds") && [ -n "$u" ]; then echo "sparkform: untrusted: not building in $D: ${u#*	}" >&2; exit "$E_FETCH"; fi
if [ ! -d "$S/.git" ]; then
  rm -rf "$S.sparkform-tmp"
  git clone --quiet --no-checkout -- "$SRC" "$S.sparkform-tmp" >&2 || { rm -rf "$S.sparkform-tmp"; exit "$E_FETCH"; }
  mv -T "$S.sparkform-tmp" "$S" || exit "$E_FETCH"
else
  git -C "$S" remote set-url -- origin "$SRC" || exit "$E_FETCH"
  if ! git -C "$S" rev-parse -q --verify "refs/tags/$REF^{commit}" >/dev/null; then
    git -C "$S" fetch --quiet --tags --force --prune origin '+refs/heads/*:refs/remotes/origin/*' >&2 || exit "$E_FETCH"
  fi
fi
c=$(git -C "$S" rev-parse -q --verify "refs/tags/$REF^{commit}" || git -C "$S" rev-parse -q --verify "refs/remotes/origin/$REF^{commit}" || git -C "$S" rev-parse -q --verify --end-of-options "$REF^{commit}") || exit "$E_REF"
printf 'commit %s\n' "$c"
