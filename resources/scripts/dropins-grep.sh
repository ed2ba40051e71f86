# shellcheck shell=sh
# dropins-grep: prints, in one grep over every FILE (those dropins-list.sh listed), each line
# containing FIXED (every line when FIXED is "") as "PATH:LINE": one process however many files.
# Positional arguments: FIXED FILE...
F=$1
shift
if [ $# -gt 0 ]; then grep -a -H -F -e "$F" -- "$@" 2>/dev/null; fi
true
