package resources

import (
	"fmt"
	"strings"
)

// trustLib defines sf_untrusted PATH, which prints why PATH may not be run as root, or nothing.
// A program sparkform did not install in this run is run only when it, every directory above
// it and every symlink on the way (targets followed) belong to root or to the login user (the
// one sudo ran for) and are not writable by group or others; a directory with the sticky bit
// (/tmp) may be writable by others, since they cannot replace what they do not own in it.
// Otherwise anyone who can write there could replace the program and get root.
//
// One namei (util-linux: it walks the whole chain, following symlinks) and one awk per program,
// whatever the depth of the path; no fork per directory.
const trustLib = `sf_untrusted() {
  command -v namei >/dev/null 2>&1 || { printf 'cannot check who may replace %s (namei is missing)' "$1"; return 0; }
  namei -l -- "$1" 2>&1 | awk -v me="${SUDO_USER:-${LOGNAME:-root}}" -v p="$1" '
    function fail(s) { if (why == "") why = s }
    /^f: / { next }
    {
      if (length($1) != 10 || $1 !~ /^[-dlcbpsD][-rwxsStT]+$/ || !match($0, /^[^ ]+ +[^ ]+ +[^ ]+ +/)) { fail("cannot check " p ": " $0); next }
      n++; mode[n] = $1; own[n] = $2; at[n] = RLENGTH; name[n] = substr($0, RLENGTH + 1)
      if (n == 1 || RLENGTH < col) col = RLENGTH
    }
    END {
      # namei aligns its columns and indents the components of a symlink target by two more.
      for (i = 1; i <= n; i++) {
        m = mode[i]; d = int((at[i] - col) / 2); nm = name[i]
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
      if (why != "") print why
    }'
}
`

// untrustedError turns what sf_untrusted printed into the error a resource fails with on that host.
func untrustedError(program, why string) error {
	return fmt.Errorf("untrusted: not running %s: %s (only root or the login user may be able to replace a program sparkform runs as root)", program, strings.TrimSpace(why))
}
