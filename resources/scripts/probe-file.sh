# shellcheck shell=sh
# probe-file: prints "file TAG", then "fl TAG LINE" for every line of file PATH and "flx TAG LINE"
# for a last line without a newline, or "nofile TAG" when there is no such file. Builtins only.
# Positional arguments: TAG PATH
if [ -f "$2" ]; then
  printf 'file %s\n' "$1"
  l=
  while IFS= read -r l; do printf 'fl %s %s\n' "$1" "$l"; done < "$2"
  if [ -n "$l" ]; then printf 'flx %s %s\n' "$1" "$l"; fi
else
  printf 'nofile %s\n' "$1"
fi
