# shellcheck shell=sh
# llama-probe: what a llama_cpp block needs to know of D: the current build, every build's
# manifest, the source checkout, the current llama-server's version and help, nvcc, git and
# cmake. llama-server and nvcc run only when sf_untrusted (defined before this file, one call
# for both) finds nobody but root (or the login user) could have put them there; the same call
# checks D, where apply builds as root ("untrusteddir"). Positional arguments: D M (M: the
# manifest's file name).
D=$1 M=$2
if [ -L "$D/current" ]; then printf 'current %s\n' "$(readlink "$D/current" | base64 -w0)"; else printf 'nocurrent\n'; fi
if [ -d "$D/builds" ]; then for b in "$D"/builds/*; do
  [ -d "$b" ] || continue
  # printed raw: a name with other characters (a newline) could pass for another report
  case ${b##*/} in *[!A-Za-z0-9._-]*) continue ;; esac
  if [ -f "$b/$M" ]; then printf 'build %s %s\n' "${b##*/}" "$(base64 -w0 < "$b/$M")"; else printf 'failedbuild %s\n' "${b##*/}"; fi
done; fi
[ -d "$D/src/.git" ] && printf 'src\n'
s=
[ -x "$D/current/bin/llama-server" ] && s="$D/current/bin/llama-server"
# nvcc as command -v finds it, with builtins (a $(command -v) would start a subshell); its path
# is printed raw only when plain: a name with other characters could pass for another line
n=
sf_ifs=$IFS; IFS=:; set -f
for d in $PATH; do if [ -n "$d" ] && [ -f "$d/nvcc" ] && [ -x "$d/nvcc" ]; then n=$d/nvcc; break; fi; done
set +f; IFS=$sf_ifs
w=path
if [ -z "$n" ] && [ -x /usr/local/cuda/bin/nvcc ]; then n=/usr/local/cuda/bin/nvcc; w=cuda; fi
case $n in '') ;; *[!A-Za-z0-9._/@+-]*) printf 'nvcc%sodd\n' "$w" ;; *) printf 'nvcc%s %s\n' "$w" "$n" ;; esac
case $n in /*) ;; *) n= ;; esac
# D too (or the nearest directory above it that exists): apply builds and runs there as root.
if sf_trusted "$D" ${s:+"$s"} ${n:+"$n"}; then
  if [ -n "$s" ]; then
    printf 'version %s\n' "$(timeout 20 "$s" --version 2>&1 | head -n 1 | base64 -w0)"
    printf 'help %s\n' "$(timeout 20 "$s" --help 2>&1 | base64 -w0)"
  fi
  if [ -n "$n" ]; then
    v=$("$n" --version 2>/dev/null); r=
    case $v in *"release "[0-9]*) r=${v#*release }; r=${r%%[!0-9.]*} ;; esac
    printf 'nvccversion %s\n' "$r"
  fi
fi
for t in git cmake; do command -v "$t" >/dev/null 2>&1 || printf 'notool %s\n' "$t"; done
exit 0
