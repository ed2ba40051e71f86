# shellcheck shell=sh
# llama-build: checks out commit C in D/src and builds it in B within a time limit, logging to
# B/LOG; with VERIFY=1 it then runs the built llama-server (--version, --help). Positional
# arguments: D B C J LOG E_BUILD TIMEOUT TIMEOUT_TEXT E_TIMEOUT E_RUN VERIFY INNER TARGETS
# CMAKE_ARG...: J jobs ("" for nproc), TIMEOUT in seconds, INNER the configure-and-build script
# (llama-build-inner.sh), TARGETS the targets separated by blanks, E_* the exit codes.
D=$1 B=$2 C=$3 J=$4 LOG=$5 E_BUILD=$6 TIMEOUT=$7 TIMEOUT_TEXT=$8 E_TIMEOUT=$9
# What is made here runs as root later: closed to others whatever root's umask on the host.
umask 022
shift 9
E_RUN=$1 VERIFY=$2 INNER=$3 TARGETS=$4
shift 4
S="$D/src"
[ -n "$J" ] || J=$(nproc)
L="$B/$LOG"
if ! { rm -rf "$B" && mkdir -p "$B"; }; then exit "$E_BUILD"; fi
{ git -C "$S" -c advice.detachedHead=false checkout --quiet --force --detach "$C" && git -C "$S" clean -q -f -d -x; } >"$L" 2>&1 || { tail -n 30 "$L" >&2; exit "$E_BUILD"; }
( timeout -k 10 "$TIMEOUT" sh -c "$INNER" sparkform-build "$S" "$B" "$J" "$TARGETS" "$@"; echo $? > "$B/.sparkform-rc" ) 2>&1 | tee -a "$L"
rc=$(cat "$B/.sparkform-rc" 2>/dev/null || echo 1)
rm -f "$B/.sparkform-rc"
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "sparkform: build timed out after $TIMEOUT_TEXT" >> "$L"; tail -n 30 "$L" >&2; exit "$E_TIMEOUT"; fi
if [ "$rc" != 0 ]; then tail -n 30 "$L" >&2; exit "$E_BUILD"; fi
if [ "$VERIFY" = 1 ]; then
  v=$("$B/bin/llama-server" --version 2>&1 | head -n 1)
  if [ -z "$v" ]; then echo "sparkform: the built $B/bin/llama-server does not run" >&2; exit "$E_RUN"; fi
  printf 'version %s\n' "$v"
  printf 'help %s\n' "$("$B/bin/llama-server" --help 2>&1 | base64 -w0)"
fi
