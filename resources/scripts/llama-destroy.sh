# shellcheck shell=sh
# llama-destroy: removes what sparkform made in D (the current link, builds, source); D itself
# only when nothing else is left in it. Positional arguments: D M (M: the manifest's file name).
# Only a D holding a build with sparkform's manifest is sparkform's: else nothing is removed,
# and it exits 3 when there is something it would have removed (a state file may name any dir).
D=$1 M=$2
made=
if [ -d "$D/builds" ] && [ ! -L "$D/builds" ]; then
  for b in "$D"/builds/*/"$M"; do
    if [ -f "$b" ]; then made=1 && break; fi
  done
fi
if [ -z "$made" ]; then
  if [ -e "$D/builds" ] || [ -L "$D/builds" ] || [ -e "$D/src" ] || [ -L "$D/src" ] || [ -L "$D/current" ]; then exit 3; fi
  exit 0
fi
if [ -L "$D/current" ]; then rm -f "$D/current" || exit 1; fi
rm -rf "$D/builds" "$D/src" "$D/src.sparkform-tmp" "$D/.current.sparkform-switch" || exit 1
rmdir "$D" 2>/dev/null
exit 0
