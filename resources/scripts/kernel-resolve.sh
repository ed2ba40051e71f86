# shellcheck shell=sh
# kernel-resolve: functions that resolve an apt package to the concrete kernel image it leads to.
# Sourced into a probe after sf_re (the image name pattern) and sf_awk (kernel-walk.awk) are set;
# see kernelShellLib. One awk and one dpkg-query per call, plus one apt-cache per level walked.
#   sf_walk PKG MODES [HELD [1]]  prints "resolve MODE IMAGE" ("-" for none) for each MODE of
#                             the comma list (see kernel-walk.awk for HELD, the modes it skips
#                             and the installed images and holds it prints with 1)
#   sf_report MODE PKG        sf_walk for one mode
#   sf_resolve MODE PKG       prints the linux-image-KVER package PKG leads to, or nothing
# MODE cand: apt's candidates; nopin: candidates ignoring apt preferences; inst: dpkg's installed.
: "${sf_re:?the image name pattern}" "${sf_awk:?the walk program}"
sf_walk() { sf_re=$sf_re awk -v target="$1" -v modes="$2" -v held="${3:-}" -v packages="${4:-}" "$sf_awk" </dev/null; }
sf_report() { sf_walk "$2" "$1"; }
sf_resolve() {
  sf_r=$(sf_walk "$2" "$1")
  sf_r=${sf_r##* }
  [ "$sf_r" = - ] || [ -z "$sf_r" ] || printf '%s\n' "$sf_r"
}
