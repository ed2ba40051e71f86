# shellcheck shell=sh
# untrusted: defines sf_untrusted PATH..., which prints "PATH<TAB>why" for the first PATH that
# may not be run as root, or nothing (see trustLib in trusted.go for the rule).
sf_untrusted() {
  command -v namei >/dev/null 2>&1 || { printf '%s\tcannot check who may replace it (namei is missing)' "$1"; return 0; }
  namei -l -- "$@" 2>&1 | awk -v me="${SUDO_USER:-${LOGNAME:-root}}" -v first="$1" '
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
        if (why != "") { printf "%s\t%s\n", path[k], why; exit }
      }
    }'
}
