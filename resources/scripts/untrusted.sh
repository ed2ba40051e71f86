# shellcheck shell=sh
# untrusted: defines sf_untrusted PATH..., which prints "PATH<TAB>why" for the first PATH that
# may not be run as root, or nothing (see trustLib in trusted.go for the rule); sf_untrusted_tree
# (below) for a whole tree; sf_existing PATH, which sets sf_e to PATH or the nearest directory
# above it that exists (builtins only); sf_trusted DIR PROG..., the probes' check before they
# run PROGs and apply builds in DIR; and sf_untrusted_input PATH for a directory root reads code
# from (a local source, a wheel directory).
sf_existing() {
  sf_e=$1
  while [ ! -e "$sf_e" ] && [ ! -L "$sf_e" ]; do
    case $sf_e in
    /*/*) sf_e=${sf_e%/*} ;;
    *) sf_e=/ ;;
    esac
  done
}
sf_untrusted() {
  command -v namei >/dev/null 2>&1 || { printf '%s\tcannot check who may replace it (namei is missing)' "$1"; return 0; }
  sf_me=${SUDO_USER:-${LOGNAME:-root}}
  # The path of each program: awk exits 1 after printing the first finding.
  namei -l -- "$@" 2>&1 | awk -v me="$sf_me" -v first="$1" '
    function fail(s) { if (why == "") why = s }
    /^f: / { b++; path[b] = substr($0, 4); next }
    {
      if (b == 0) b = 1
      if (length($1) != 10 || $1 !~ /^[-dlcbpsD][-rwxsStT]+$/ || !match($0, /^[^ ]+ +[^ ]+ +[^ ]+ +/)) {
        if (!(b in bad)) bad[b] = "cannot check: " $0
        next
      }
      n++; blk[n] = b; mode[n] = $1; own[n] = $2; at[n] = RLENGTH; name[n] = substr($0, RLENGTH + 1)
      if (!(b in col) || RLENGTH < col[b]) col[b] = RLENGTH
    }
    END {
      if (!(1 in path)) path[1] = first
      i = 1
      for (k = 1; k <= b || k == 1; k++) {
        # namei aligns its columns and indents the components of a symlink target by two more.
        split("", dir); why = ""
        for (; i <= n && blk[i] == k; i++) {
          m = mode[i]; d = int((at[i] - col[k]) / 2); nm = name[i]
          if (m ~ /^l/) sub(/ -> .*$/, "", nm)
          if (nm == "/") cur = "/"
          else { base = (d in dir) ? dir[d] : (d > 0 ? dir[d-1] : ""); cur = (base == "/" ? "" : base) "/" nm }
          dir[d] = cur
          if (own[i] != "root" && own[i] != me) fail(cur " is owned by " own[i])
          if (m ~ /^l/) { sub(/\/[^\/]*$/, "", cur); dir[d+1] = (cur == "" ? "/" : cur); delete dir[d+2]; continue }
          sticky = m ~ /^d/ && substr(m, 10, 1) ~ /[tT]/
          if (!sticky && substr(m, 6, 1) == "w") fail(cur " is writable by its group")
          if (!sticky && substr(m, 9, 1) == "w") fail(cur " is writable by others")
        }
        if (why == "" && (k in bad)) why = bad[k]
        if (why != "") { printf "%s\t%s\n", path[k], why; exit 1 }
      }
    }' || return 0
  # What the program runs besides itself: a venv's python runs the .pth files and modules of its
  # site-packages, a program in a CMake build tree loads the libraries built beside it. So in
  # the tree of a program at TREE/bin/NAME that is a venv (pyvenv.cfg), a conda environment
  # (conda-meta/) or a build tree (CMakeCache.txt), every file, directory and symlink must
  # belong to root or the login user and nothing may be writable by group or others (a sticky
  # bit does not help: adding a .pth is enough). One find per tree.
  for sf_p do
    sf_t=${sf_p%/bin/*}
    { [ -n "$sf_t" ] && [ "$sf_t" != "$sf_p" ]; } || continue
    { [ -f "$sf_t/pyvenv.cfg" ] || [ -d "$sf_t/conda-meta" ] || [ -f "$sf_t/CMakeCache.txt" ]; } || continue
    sf_untrusted_tree "$sf_p" "$sf_t"
    [ -z "$sf_r" ] || return 0
  done
}
# sf_untrusted_tree PATH TREE prints "PATH<TAB>why" (and sets sf_r to it) for the first entry of
# TREE (a link at TREE itself followed) that belongs to neither root nor the login user, or that
# group or others can write (not a symlink); else nothing.
sf_untrusted_tree() {
  if sf_r=$(find -H "$2" \( ! -user root ! -user "${SUDO_USER:-${LOGNAME:-root}}" -printf '%p is owned by %u\n' -quit \) \
    -o \( ! -type l -perm -020 -printf '%p is writable by its group\n' -quit \) \
    -o \( ! -type l -perm -002 -printf '%p is writable by others\n' -quit \) 2>&1); then
    [ -z "$sf_r" ] || sf_r=$(printf '%s\t%s' "$1" "$sf_r")
  else
    sf_r=$(printf '%s\tcannot check who may write %s: %s' "$1" "$2" "$sf_r")
  fi
  [ -z "$sf_r" ] || printf '%s\n' "$sf_r"
}
# sf_trusted DIR PROG...: returns 0, printing nothing, when every PROG may be run as root and
# DIR (or the nearest directory above it that exists) may be built in as root; otherwise prints
# "untrusted B64(PROG<TAB>why)" or "untrusteddir B64(DIR<TAB>why)" and returns 1.
sf_trusted() {
  sf_d=$1
  shift
  sf_existing "$sf_d"
  sf_u=$(sf_untrusted "$@" "$sf_e")
  case $sf_u in
  '') return 0 ;;
  "$sf_e	"*) printf 'untrusteddir %s\n' "$(printf '%s\t%s' "$sf_d" "${sf_u#*	}" | base64 -w0)" ;;
  *) printf 'untrusted %s\n' "$(printf '%s' "$sf_u" | base64 -w0)" ;;
  esac
  return 1
}
# sf_untrusted_input PATH prints "PATH<TAB>why" when PATH, a directory root reads code from (a
# source repository, a wheel directory), or anything in it or a directory above it, may be
# written by someone else; a PATH that does not exist yet is judged by the nearest directory
# above it that does (then nobody else can create it). Else nothing.
sf_untrusted_input() {
  sf_existing "$1"
  if [ "$sf_e" != "$1" ]; then
    sf_r=$(sf_untrusted "$sf_e")
    [ -z "$sf_r" ] || printf '%s\t%s\n' "$1" "${sf_r#*	}"
    return 0
  fi
  sf_r=$(sf_untrusted "$1")
  if [ -n "$sf_r" ]; then printf '%s\n' "$sf_r"; else sf_untrusted_tree "$1" "$1"; fi
}
