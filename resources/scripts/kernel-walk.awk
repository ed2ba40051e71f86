# kernel-walk: the concrete linux-image-KVER package a package leads to (see kernelShellLib).
# Environment sf_re: the image name pattern; -v target=PKG, modes=MODE[,MODE...] (inst, cand,
# nopin, in the order given), held=METAPACKAGE (may be empty), packages=1 to also print what
# kernelImagesFact and aptHoldsFact read ("image PKG VERSION", "hold PKG" for linux-*: the same
# dpkg-query answers them). Prints "resolve MODE IMAGE" ("-" for none) per mode. It follows the Depends of each package and at every level prefers a
# dependency that is a concrete image, else one named linux-image-*, at most 6 levels. inst
# walks dpkg's records (one dpkg-query for every linux-* package); cand and nopin run one
# apt-cache show per level; nopin is walked only when cand found nothing, and neither when held
# is on hold and the target resolves as installed (resolveTarget then looks at neither). Names
# read from records are followed only when they are package names: nothing from a repository
# reaches a shell unchecked.
function record(m, pkg,    cmd, line, got, f, stop) {
  DEPS = ""
  if (m == "inst") { if (!(pkg in IDEP)) return 0; DEPS = IDEP[pkg]; return 1 }
  cmd = "exec apt-cache" ARCHOPTS " " (m == "nopin" ? "-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null " : "") "show --no-all-versions -- " pkg " 2>/dev/null"
  while ((cmd | getline line) > 0) {
    if (stop) continue
    if (line == "") { if (got) stop = 1; continue }
    if (line ~ /^Package:/) { got = 1; f = 0; continue }
    if (line ~ /^(Depends|Pre-Depends):/) { f = 1; sub(/^[^:]*:/, "", line); DEPS = DEPS "," line; continue }
    if (line ~ /^[ \t]/) { if (f) DEPS = DEPS line; continue }
    f = 0
  }
  close(cmd)
  return got
}
function walk(m, pkg,    n, k, i, a, s, img, any) {
  for (n = 0; n < 6; n++) {
    if (pkg !~ /^[a-z0-9][a-z0-9+.-]+$/ || !record(m, pkg)) return "-"
    if (pkg ~ re) return pkg
    img = ""; any = ""
    k = split(DEPS, a, /[,|]/)
    for (i = 1; i <= k; i++) {
      s = a[i]; sub(/\(.*/, "", s); gsub(/[ \t]/, "", s); sub(/:.*/, "", s)
      if (s !~ /^[a-z0-9][a-z0-9+.-]+$/) continue
      if (img == "" && s ~ re) img = s
      if (any == "" && s ~ /^linux-image-/) any = s
    }
    if (img == "") img = any
    if (img == "") return "-"
    pkg = img
  }
  return "-"
}
BEGIN {
  re = ENVIRON["sf_re"]
  # dpkg's architectures, as apt would ask dpkg --print-foreign-architectures for them at every
  # start: given to apt-cache, they save a process per level (absent file: apt asks dpkg)
  while ((getline a < "/var/lib/dpkg/arch") > 0) if (a ~ /^[a-z0-9-]+$/) ARCHOPTS = ARCHOPTS " -o APT::Architectures::=" a
  close("/var/lib/dpkg/arch")
  cmd = "exec dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Version}|${Depends}, ${Pre-Depends}\\n' 'linux-*' 2>/dev/null"
  while ((cmd | getline line) > 0) {
    split(line, f, "|")
    if (f[1] ~ /^h/) { HOLD[f[2]] = 1; if (packages) printf "hold %s\n", f[2] }
    if (f[1] !~ /^.[iWt]/) continue
    IDEP[f[2]] = f[4]
    if (packages && f[2] ~ /^linux-image-/) printf "image %s %s\n", f[2], f[3]
  }
  close(cmd)
  k = split(modes, M, ",")
  for (i = 1; i <= k; i++) {
    m = M[i]
    if (m == "nopin" && R["cand"] != "" && R["cand"] != "-") continue
    if (m != "inst" && held != "" && (held in HOLD) && R["inst"] != "" && R["inst"] != "-") continue
    R[m] = walk(m, target)
    printf "resolve %s %s\n", m, R[m]
  }
}
