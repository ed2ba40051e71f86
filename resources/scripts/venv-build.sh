# shellcheck shell=sh
# venv-build: builds a new generation of a venv and points the venv's link at it (see
# PythonVenv.Apply). Positional arguments, set before this file:
#   P G N PY GEN LINK MANIFEST MANIFEST_FILE INSPECT E_VENV E_PIP E_VERIFY E_SWITCH
# the venv's path, its generations directory, the new generation's directory, the base
# interpreter, the generation's number, the link target (relative), the manifest JSON and its
# file name, the inspection script (venv-inspect.py), and the exit codes of each failing step.
# Needs trustLib first. Then the steps run in order: venv_create; venv_pip PIP_ARG...; venv_verify MODULE...;
# venv_switch; venv_prune GENERATION... A failed step removes the new generation: the venv is
# unchanged.
P=$1 G=$2 N=$3 PY=$4 GEN=$5 LINK=$6 MANIFEST=$7 MANIFEST_FILE=$8 INSPECT=$9
# What is made here runs as root later: closed to others whatever root's umask on the host.
umask 022
shift 9
E_VENV=$1 E_PIP=$2 E_VERIFY=$3 E_SWITCH=$4
shift 4

fail() { rc=$1; shift; printf 'sparkform: %s\n' "$*" >&2; rm -rf "$N"; exit "$rc"; }

venv_create() {
  mkdir -p "$G" || exit "$E_VENV"
  # The venv is built, pip run in it and P switched beside G as root: nobody but root (or the
  # login user) may be able to write G or a directory above it (sf_untrusted: trustLib).
  if u=$(sf_untrusted "$G") && [ -n "$u" ]; then echo "sparkform: untrusted: not building in $G: ${u#*	}" >&2; exit "$E_VENV"; fi
  rm -rf "$N"
  echo "sparkform: creating venv $N"
  "$PY" -m venv "$N" || fail "$E_VENV" "$PY -m venv $N failed"
}

venv_pip() {
  # pip takes wheels (and runs the builds of sdists) from a --find-links directory as root into
  # a venv that plan and the smoke tests then run as root: nobody but root or the login user may
  # be able to write one (the directory, what is in it, every directory above it).
  sf_next=
  for a do
    if [ "$sf_next" = 1 ]; then
      case $a in /*)
        u=$(sf_untrusted_input "$a")
        [ -z "$u" ] || fail "$E_PIP" "untrusted: not installing from $a: ${u#*	}"
        ;;
      esac
    fi
    sf_next=
    [ "$a" != --find-links ] || sf_next=1
  done
  echo "sparkform: pip install"
  "$N/bin/python" -m pip install --no-input --disable-pip-version-check --no-cache-dir "$@" || fail "$E_PIP" "pip install failed"
}

venv_verify() {
  echo "sparkform: verifying imports"
  SPARKFORM_VERIFY_STRICT=1 "$N/bin/python" -I -c "$INSPECT" "$@" || fail "$E_VERIFY" "verify imports failed"
}

venv_switch() {
  (umask 077 && printf '%s\n' "$MANIFEST" > "$N/$MANIFEST_FILE") || fail "$E_SWITCH" "writing the manifest failed"
  rm -f "$P.sparkform-switch"
  { ln -sfn "$LINK" "$P.sparkform-switch" && mv -T "$P.sparkform-switch" "$P"; } || { rm -f "$P.sparkform-switch"; fail "$E_SWITCH" "switching $P to $N failed"; }
  echo "sparkform: $P now points at generation $GEN"
}

# venv_prune GENERATION...: removes older generations (the new one and the one it replaced stay).
venv_prune() {
  for g do rm -rf "${G:?}/$g"; done
}
