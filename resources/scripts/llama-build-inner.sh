# shellcheck shell=sh
# llama-build-inner: configures and builds llama.cpp (run by llama-build.sh under timeout).
# Arguments: S B J TARGETS CMAKE_ARG...: source, build directory, jobs, the targets separated
# by blanks (CMake target names: no blanks or globs), the cmake configure arguments.
S=$1 B=$2 J=$3 TARGETS=$4
shift 4
echo "sparkform: configuring"
cmake -S "$S" -B "$B" "$@" || exit 1
printf 'sparkform: building %s with %s jobs\n' "$TARGETS" "$J"
set -f
set --
for t in $TARGETS; do set -- "$@" "$t"; done
cmake --build "$B" --config Release --target "$@" -j "$J"
