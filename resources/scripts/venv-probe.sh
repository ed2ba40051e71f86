# shellcheck shell=sh
# venv-probe: what a python_venv block needs to know of path P: whether it is sparkform's link,
# a plain venv or something else, the generations in G, and (unless the block is being removed,
# PY "") the base interpreter PY and the venv's report (INSPECT, venv-inspect.py, importing each
# MODULE). Neither interpreter runs unless sf_untrusted (defined before this file, one call for
# both) finds only root (or the login user) could have put it there. -B writes no .pyc.
# Positional arguments: P G PY INSPECT MODULE...
P=$1 G=$2 PY=$3 INSPECT=$4
shift 4
if [ -L "$P" ]; then printf 'kind link %s\n' "$(readlink "$P" | base64 -w0)"; elif [ -e "$P" ]; then printf 'kind other\n'; if [ -f "$P/pyvenv.cfg" ]; then printf 'plainvenv\n'; fi; else printf 'kind absent\n'; fi
# generations are numbers; another name (one with a newline) could pass for another report
if [ -d "$G" ]; then for d in "$G"/*; do
  case ${d##*/} in '' | *[!0-9]*) continue ;; esac
  [ -d "$d" ] && printf 'gen %s\n' "${d##*/}"
done; fi
if [ -n "$PY" ]; then
  b=
  # what command -v prints, found with builtins (a $(command -v) would start a subshell)
  case $PY in
  */*) if [ -f "$PY" ] && [ -x "$PY" ]; then b=$PY; fi ;;
  *) sf_ifs=$IFS; IFS=:; set -f
    for d in $PATH; do if [ -n "$d" ] && [ -f "$d/$PY" ] && [ -x "$d/$PY" ]; then b=$d/$PY; break; fi; done
    set +f; IFS=$sf_ifs ;;
  esac
  # printed raw only when plain: a name with other characters could pass for another line
  case $b in '') ;; *[!A-Za-z0-9._/@+-]*) printf 'baseodd\n' ;; *) printf 'base %s\n' "$b" ;; esac
  case $b in /*) ;; *) b= ;; esac
  # A venv sparkform made (the link) or a plain one someone made (pyvenv.cfg).
  v=
  if { [ -L "$P" ] || [ -f "$P/pyvenv.cfg" ]; } && [ -e "$P/bin/python" ]; then v="$P/bin/python"; fi
  # G too (or the nearest directory above it that exists): apply builds there and switches P
  # beside it as root.
  if sf_trusted "$G" ${b:+"$b"} ${v:+"$v"}; then
    if [ -n "$b" ] && "$b" -c 'import venv, ensurepip' >/dev/null 2>&1; then printf 'basevenv\n'; fi
    if [ -n "$v" ]; then
      if o=$(timeout 60 "$v" -I -B -c "$INSPECT" "$@" 2>&1); then printf 'venv %s\n' "$(printf '%s\n' "$o" | tail -n 1)"; else printf 'venvbroken %s\n' "$(printf '%s' "$o" | tail -n 5 | base64 -w0)"; fi
    fi
  fi
fi
