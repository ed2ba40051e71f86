# smoke-probe: what a smoke test needs to know of its server before it runs, in one exec.
# Arguments: FST HELP HELP_FALLBACK MARK WORDS -- PROGRAM [SUBCOMMAND] [MODEL...]
#   FST            1: also check that the program's venv imports fastsafetensors (fst_check)
#   HELP           the flag asking for every option ("--help=all" for vLLM); HELP_FALLBACK the
#                  flag for releases that reject it ("" for none)
#   MARK           a random token: the sections are separated by "MARK version" and "MARK fst"
#   WORDS          how many words name the server (1: PROGRAM, 2: PROGRAM SUBCOMMAND)
#   MODEL...       the files and directories the command has the server load
# Prints the help (at most 200000 bytes), the version and the fastsafetensors line.
# Exits 127 when PROGRAM is not on the host, 126 ("PATH<TAB>why" on stderr) when a non-root user
# could replace it (sf_untrusted): it runs as root; 125 ("PATH<TAB>why") when a non-root user
# other than the login user could write a MODEL, a directory above it or anything in it: a root
# server would parse what they put there (a crafted GGUF; with --trust-remote-code, Python).
fst=$1 help=$2 fallback=$3 mark=$4 words=$5
shift 6
sp_b=$(command -v -- "$1" 2>/dev/null) || exit 127
case $sp_b in
*/*) ;;
*) sp_b= ;; # a builtin or function of this shell: nothing to check
esac
case $sp_b in
/* | '') ;;
*)
  # found through a relative entry of PATH: relative to wherever this runs, never checked
  printf '%s\tis found through a relative directory in PATH: not run' "$sp_b" >&2
  exit 126
  ;;
esac
sp_p=$1 sp_sub=
[ "$words" != 2 ] || sp_sub=$2
shift "$words"
# The models that exist here, absolute: a relative path is relative to where the server runs
# (here); what does not exist is a hub id (fetched into root's own cache) or a mistake the
# server reports. The program and the models are checked by one namei.
sp_n=$#
for sp_m do
  case $sp_m in /*) ;; *) sp_m=$PWD/$sp_m ;; esac
  if [ -e "$sp_m" ] || [ -L "$sp_m" ]; then set -- "$@" "$sp_m"; fi
done
shift "$sp_n"
sp_u=
if [ -n "$sp_b" ] || [ $# -gt 0 ]; then sp_u=$(sf_untrusted ${sp_b:+"$sp_b"} "$@"); fi
if [ -z "$sp_u" ]; then
  for sp_m do
    if [ -d "$sp_m" ]; then
      sp_u=$(sf_untrusted_tree "$sp_m" "$sp_m")
      [ -z "$sp_u" ] || break
    fi
  done
fi
case $sp_u in
'') ;;
"$sp_b	"*)
  printf '%s' "$sp_u" >&2
  exit 126
  ;;
*)
  printf '%s' "$sp_u" >&2
  exit 125
  ;;
esac
[ -n "$sp_b" ] || sp_b=$sp_p
# run what was checked, not what a second PATH search finds
if [ "$words" = 2 ]; then set -- "$sp_b" "$sp_sub"; else set -- "$sp_b"; fi
{ "$@" "$help" 2>&1 || { [ -n "$fallback" ] && "$@" "$fallback" 2>&1; }; } </dev/null | head -c 200000
printf '\n%s version\n' "$mark"
"$1" --version 2>&1 </dev/null | head -c 2000
printf '\n%s fst\n' "$mark"
if [ "$fst" = 1 ]; then fst_check "$1"; fi
exit 0
