# fst_check PROGRAM: can the venv PROGRAM lives in (VENV/bin/PROGRAM) import fastsafetensors?
# Prints one line: "fst ok B64(version)", "fst error B64(last lines)", "fst novenv" or
# "fst untrusted PATH". The venv's python runs only if nobody but root or the login user could
# have put it there: a check never runs a program a non-root user could replace.
fst_check() {
  fst_p=$1
  case $fst_p in
  /*) ;;
  *) fst_p=$(command -v -- "$fst_p") || {
    echo 'fst novenv'
    return 0
  } ;;
  esac
  case $fst_p in
  /*) ;;
  */*)
    # found through a relative entry of PATH: never checked, never run
    echo "fst untrusted $fst_p"
    return 0
    ;;
  esac
  fst_v=${fst_p%/bin/*}
  if [ "$fst_v" = "$fst_p" ] || [ ! -f "$fst_v/pyvenv.cfg" ] || [ ! -x "$fst_v/bin/python" ]; then
    echo 'fst novenv'
    return 0
  fi
  # sf_untrusted (needs trustLib): the python, every directory above it and every symlink on the
  # way belong to root or the login user and nobody else can write them.
  if fst_u=$(sf_untrusted "$fst_v/bin/python") && [ -n "$fst_u" ]; then
    echo "fst untrusted $fst_v/bin/python"
    return 0
  fi
  if fst_o=$(timeout 60 "$fst_v/bin/python" -I -B -c 'import fastsafetensors as f; print(getattr(f, "__version__", "unknown"))' 2>&1 </dev/null); then
    printf 'fst ok %s\n' "$(printf '%s\n' "$fst_o" | tail -n 1 | base64 -w0)"
  else
    printf 'fst error %s\n' "$(printf '%s\n' "$fst_o" | tail -n 3 | base64 -w0)"
  fi
}
