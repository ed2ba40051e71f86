# shellcheck shell=sh
# llama-switch: points D/current at build I and keeps the K builds used most recently (failed
# builds go). With VERIFY=1 the build's llama-server is checked first (sf_untrusted, defined
# before this file) and run (--version, --help). Positional arguments: D I K VERIFY M (M: the
# manifest's file name, which marks a finished build).
D=$1 I=$2 K=$3 VERIFY=$4 M=$5
# What is made here runs as root later: closed to others whatever root's umask on the host.
umask 022
# The link is switched and old builds removed as root: nobody else may be able to write D.
if u=$(sf_untrusted "$D/builds") && [ -n "$u" ]; then echo "sparkform: untrusted: not switching builds in $D: ${u#*	}" >&2; exit 3; fi
if [ "$VERIFY" = 1 ]; then
  if u=$(sf_untrusted "$D/builds/$I/bin/llama-server") && [ -n "$u" ]; then echo "sparkform: untrusted: not running $D/builds/$I/bin/llama-server: ${u#*	}" >&2; exit 4; fi
  "$D/builds/$I/bin/llama-server" --version >/dev/null 2>&1 || { echo "sparkform: $D/builds/$I/bin/llama-server does not run" >&2; exit 2; }
  printf 'help %s\n' "$("$D/builds/$I/bin/llama-server" --help 2>&1 | base64 -w0)"
fi
rm -f "$D/.current.sparkform-switch"
{ ln -sfn "builds/$I" "$D/.current.sparkform-switch" && mv -T "$D/.current.sparkform-switch" "$D/current"; } || exit 3
touch "$D/builds/$I/.sparkform-used"
cd "$D/builds" || exit 0
# keep the current build and the K-1 builds used most recently; failed builds go
for b in *; do
  { [ -d "$b" ] && [ "$b" != "$I" ]; } || continue
  # names go through a pipe one per line: one with other characters (a newline) is not ours
  case $b in *[!A-Za-z0-9._-]*) continue ;; esac
  if [ -f "$b/$M" ]; then
    u="$b/.sparkform-used"; [ -f "$u" ] || u="$b/$M"
    printf '%s %s\n' "$(stat -c %Y "$u")" "$b"
  else rm -rf "$b"; fi
done | sort -rn | tail -n +"$K" | while read -r _ b; do rm -rf "$b"; done
exit 0
