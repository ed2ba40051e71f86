# shellcheck shell=sh
# kernel-capture-lines: for each NVIDIA kernel line NAME, prints "lineimage NAME IMAGE", the image
# its installed metapackage META leads to ("-" for none). Needs sf_resolve (kernel-resolve.sh).
# Positional arguments: NAME META [NAME META]...
while [ $# -ge 2 ]; do
  r=$(sf_resolve inst "$2")
  printf 'lineimage %s %s\n' "$1" "${r:--}"
  shift 2
done
