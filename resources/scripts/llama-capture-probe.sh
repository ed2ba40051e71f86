# shellcheck shell=sh
# llama-capture-probe: defines llama_capture I D, which reads a llama.cpp directory D for
# capture (tagged with its index I): sparkform's current build and manifest M, the source
# checkout (D/src or D: exact tag, commit, origin URL) and the CMake cache's GGML_* and
# CMAKE_CUDA_ARCHITECTURES lines. Only reads: git describe/rev-parse/remote get-url write
# nothing; git runs only in a .git that root or the login user alone can write, and never reaches
# the network. Needs trustLib first. Positional argument: M.
M=$1
llama_capture() {
  I=$1 D=$2
  [ -d "$D" ] || printf 'llnodir %s\n' "$I"
  if [ -L "$D/current" ]; then printf 'llcur %s %s\n' "$I" "$(readlink "$D/current" | base64 -w0)"; fi
  if [ -f "$D/current/$M" ]; then printf 'llman %s %s\n' "$I" "$(base64 -w0 < "$D/current/$M")"; fi
  S=
  for s in "$D/src" "$D"; do if [ -e "$s/.git" ]; then S=$s; break; fi; done
  if [ -n "$S" ] && command -v git >/dev/null 2>&1; then
    printf 'llsrc %s %s\n' "$I" "$(printf %s "$S" | base64 -w0)"
    # A repository's config can make git run programs (core.sshCommand, core.fsmonitor): git
    # reads only a .git directory nobody but root or the login user can write (sf_untrusted and
    # sf_untrusted_tree, trustLib), and never reaches the network (llama_git).
    if [ ! -d "$S/.git" ]; then u=$(printf '%s\tis not a directory (a worktree or submodule): not read' "$S/.git")
    else u=$(sf_untrusted "$S/.git"); [ -n "$u" ] || u=$(sf_untrusted_tree "$S/.git" "$S/.git"); fi
    if [ -n "$u" ]; then printf 'lluntrusted %s %s\n' "$I" "$(printf '%s' "$u" | base64 -w0)"; S=; fi
  fi
  if [ -n "$S" ] && command -v git >/dev/null 2>&1; then
    if r=$(llama_git describe --tags --exact-match HEAD); then printf 'lltag %s %s\n' "$I" "$(printf %s "$r" | base64 -w0)"; fi
    if c=$(llama_git rev-parse HEAD); then printf 'llcommit %s %s\n' "$I" "$(printf %s "$c" | base64 -w0)"; fi
    if u=$(llama_git remote get-url origin); then printf 'llorigin %s %s\n' "$I" "$(printf %s "$u" | base64 -w0)"; fi
  fi
  for c in "$D/current/CMakeCache.txt" "$D/build/CMakeCache.txt" "$D/CMakeCache.txt" "$D/src/build/CMakeCache.txt"; do
    if [ -f "$c" ]; then printf 'llcache %s %s\n' "$I" "$({ printf '# %s\n' "$c"; grep -E '^(GGML_[A-Z0-9_]*|CMAKE_CUDA_ARCHITECTURES):' "$c"; } | base64 -w0)"; break; fi
  done
}
llama_git() { GIT_NO_LAZY_FETCH=1 git -c safe.directory='*' -c protocol.allow=never -c core.fsmonitor=false -C "$S" "$@" 2>/dev/null; }
