# smoke-probe: what a smoke test needs to know of its server before it runs, in one exec.
# Arguments: FST HELP HELP_FALLBACK MARK -- PROGRAM [SUBCOMMAND]
#   FST            1: also check that the program's venv imports fastsafetensors (fst_check)
#   HELP           the flag asking for every option ("--help=all" for vLLM); HELP_FALLBACK the
#                  flag for releases that reject it ("" for none)
#   MARK           a random token: the sections are separated by "MARK version" and "MARK fst"
# Prints the help (at most 200000 bytes), the version and the fastsafetensors line.
# Exits 127 when PROGRAM is not on the host, 126 ("PATH<TAB>why" on stderr) when a non-root user
# could replace it (sf_untrusted): it runs as root.
fst=$1 help=$2 fallback=$3 mark=$4
shift 5
sp_b=$(command -v -- "$1" 2>/dev/null) || exit 127
case $sp_b in
/*) if sp_u=$(sf_untrusted "$sp_b") && [ -n "$sp_u" ]; then
  printf '%s' "$sp_u" >&2
  exit 126
fi ;;
*/*)
  # found through a relative entry of PATH: relative to wherever this runs, never checked
  printf '%s\tis found through a relative directory in PATH: not run' "$sp_b" >&2
  exit 126
  ;;
esac
# run what was checked, not what a second PATH search finds
shift
set -- "$sp_b" "$@"
{ "$@" "$help" 2>&1 || { [ -n "$fallback" ] && "$@" "$fallback" 2>&1; }; } </dev/null | head -c 200000
printf '\n%s version\n' "$mark"
"$1" --version 2>&1 </dev/null | head -c 2000
printf '\n%s fst\n' "$mark"
if [ "$fst" = 1 ]; then fst_check "$1"; fi
exit 0
