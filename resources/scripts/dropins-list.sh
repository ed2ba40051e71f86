# shellcheck shell=sh
# dropins-list: lists the readable files DIR/*SUFFIX of each DIR (a DIR that is itself a regular
# file is listed as it is), in the shell's (C locale) order, as "dfile TAG PATH"; a name with
# other characters than [A-Za-z0-9._/@+-] is reported as "dodd TAG" and not listed. Leaves the
# files listed before (the FILEs) and then the ones listed here as the positional parameters,
# for dropins-grep.sh. Builtins only.
# Positional arguments: TAG SUFFIX N DIR1..DIRN FILE...
T=$1 S=$2 N=$3
shift 3
while [ "$N" -gt 0 ]; do
  d=$1
  shift
  N=$((N - 1))
  # "$d" itself counts only when it is a file; a pattern matching nothing fails the -f test
  for f in "$d" "$d"/*"$S"; do
    if [ ! -f "$f" ] || [ ! -r "$f" ]; then continue; fi
    case $f in *[!A-Za-z0-9._/@+-]*) printf 'dodd %s\n' "$T"; continue ;; esac
    printf 'dfile %s %s\n' "$T" "$f"
    set -- "$@" "$f"
  done
done
