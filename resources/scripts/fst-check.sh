# fst_check PROGRAM: can the venv PROGRAM lives in (VENV/bin/PROGRAM) import fastsafetensors?
# Prints one line: "fst ok B64(version)", "fst error B64(last lines)", "fst novenv" or
# "fst untrusted PATH". The venv's python runs only if root owns it and its directories and
# nobody else can write them: a check never runs a program a non-root user could replace.
fst_check() {
  fst_p=$1
  case $fst_p in
  /*) ;;
  *) fst_p=$(command -v -- "$fst_p") || {
    echo 'fst novenv'
    return 0
  } ;;
  esac
  fst_v=${fst_p%/bin/*}
  if [ "$fst_v" = "$fst_p" ] || [ ! -f "$fst_v/pyvenv.cfg" ] || [ ! -x "$fst_v/bin/python" ]; then
    echo 'fst novenv'
    return 0
  fi
  for fst_f in "$fst_v" "$fst_v/bin" "$fst_v/bin/python"; do
    fst_m=$(stat -L -c '%u %A' -- "$fst_f" 2>/dev/null)
    case $fst_m in
    "0 "?????w????* | "0 "????????w?*) ;;
    "0 "*) continue ;;
    esac
    echo "fst untrusted $fst_f"
    return 0
  done
  if fst_o=$(timeout 60 "$fst_v/bin/python" -I -B -c 'import fastsafetensors as f; print(getattr(f, "__version__", "unknown"))' 2>&1 </dev/null); then
    printf 'fst ok %s\n' "$(printf '%s\n' "$fst_o" | tail -n 1 | base64 -w0)"
  else
    printf 'fst error %s\n' "$(printf '%s\n' "$fst_o" | tail -n 3 | base64 -w0)"
  fi
}
