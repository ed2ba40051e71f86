# shellcheck shell=sh
# llama-destroy: removes what sparkform made in D (the current link, builds, source); D itself
# only when nothing else is left in it. Positional argument: D.
D=$1
if [ -L "$D/current" ]; then rm -f "$D/current" || exit 1; fi
rm -rf "$D/builds" "$D/src" "$D/src.sparkform-tmp" "$D/.current.sparkform-switch" || exit 1
rmdir "$D" 2>/dev/null
exit 0
