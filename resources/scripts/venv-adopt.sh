# shellcheck shell=sh
# venv-adopt: makes a plain venv at P generation 0 of G, P becoming a link to it (see
# PythonVenv.adopt). Positional arguments: P G L PY EXCHANGE E_ADOPT: the venv, its generations
# directory, the link target for generation 0 (relative), the base interpreter, the exchange
# script (venv-exchange.py) and the exit code when P cannot be taken over.
P=$1 G=$2 L=$3 PY=$4 EXCHANGE=$5 E_ADOPT=$6
# What is made here runs as root later: closed to others whatever root's umask on the host.
umask 022
[ -L "$P" ] && exit 0
if ! { [ -d "$P" ] && [ -f "$P/pyvenv.cfg" ]; }; then echo "sparkform: $P is not a plain venv any more" >&2; exit "$E_ADOPT"; fi
if [ -e "$G/0" ] || [ -L "$G/0" ]; then echo "sparkform: $G/0 exists: not adopting over it" >&2; exit "$E_ADOPT"; fi
mkdir -p "$G" || exit "$E_ADOPT"
if u=$(sf_untrusted "$G") && [ -n "$u" ]; then echo "sparkform: untrusted: not adopting into $G: ${u#*	}" >&2; exit "$E_ADOPT"; fi
ln -s "$L" "$G/0" || exit "$E_ADOPT"
if "$PY" -I -c "$EXCHANGE" "$G/0" "$P" 2>/dev/null && [ -L "$P" ] && [ -d "$G/0" ] && [ ! -L "$G/0" ]; then echo "sparkform: adopted $P as generation 0 (atomic exchange)"; exit 0; fi
rm -f "$G/0" "$P.sparkform-switch"
{ ln -s "$L" "$P.sparkform-switch" && mv -T "$P" "$G/0" && mv -T "$P.sparkform-switch" "$P"; } || { echo "sparkform: moving $P to $G/0 failed" >&2; exit "$E_ADOPT"; }
echo "sparkform: adopted $P as generation 0"
