# shellcheck shell=sh
# kernel-resolve: functions that resolve an apt package to the concrete kernel image it leads to.
# Sourced into a probe after sf_re (the image name pattern) is set; see kernelShellLib.
#   sf_resolve MODE PKG  prints the linux-image-KVER package PKG leads to, or nothing
#   sf_report MODE PKG   prints "resolve MODE IMAGE" ("-" for none)
# MODE cand: apt's candidates; nopin: candidates ignoring apt preferences; inst: dpkg's installed.
: "${sf_re:?the image name pattern}"
sf_deps() {
  case "$1" in
    cand) apt-cache show --no-all-versions -- "$2" 2>/dev/null ;;
    nopin) apt-cache -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null show --no-all-versions -- "$2" 2>/dev/null ;;
    inst) dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Depends}, ${Pre-Depends}\n' -- "$2" 2>/dev/null |
      awk -F'|' '$1 ~ /^.[iWt]/ { print "Package: " $2; print "Depends: " $3; exit }' ;;
  esac | awk '
    /^$/ { if (seen) exit }
    /^Package:/ { if (!seen) print "=" $2; seen = 1; next }
    /^(Depends|Pre-Depends):/ { f = 1; sub(/^[^:]*:/, ""); deps = deps "," $0; next }
    /^[ \t]/ { if (f) deps = deps $0; next }
    { f = 0 }
    END { n = split(deps, a, /[,|]/); for (i = 1; i <= n; i++) { s = a[i]; sub(/\(.*/, "", s); gsub(/[ \t]/, "", s); sub(/:.*/, "", s); if (s != "") print s } }'
}
sf_resolve() {
  sf_cur=$2
  sf_n=0
  while [ "$sf_n" -lt 6 ]; do
    sf_d=$(sf_deps "$1" "$sf_cur")
    case "$sf_d" in "="*) ;; *) return 0 ;; esac
    if printf '%s\n' "$sf_cur" | grep -Eq "$sf_re"; then printf '%s\n' "$sf_cur"; return 0; fi
    sf_next=$(printf '%s\n' "$sf_d" | sed 1d | grep -E "$sf_re" | head -n 1)
    [ -n "$sf_next" ] || sf_next=$(printf '%s\n' "$sf_d" | sed 1d | grep -E '^linux-image-' | head -n 1)
    [ -n "$sf_next" ] || return 0
    sf_cur=$sf_next
    sf_n=$((sf_n + 1))
  done
}
sf_report() { r=$(sf_resolve "$1" "$2"); printf 'resolve %s %s\n' "$1" "${r:--}"; }

