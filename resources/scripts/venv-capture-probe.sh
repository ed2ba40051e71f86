# shellcheck shell=sh
# venv-capture-probe: defines venv_capture I P, which reads the venv at P for capture (tagged
# with its index I): the report of CAPTURE (venv-capture.py) run by the venv's python when
# sf_untrusted (defined before this file) allows, pyvenv.cfg and sparkform's manifest M.
# Positional arguments: CAPTURE M.
CAPTURE=$1 M=$2
venv_capture() {
  I=$1 P=$2
  if [ -x "$P/bin/python" ]; then
    if u=$(sf_untrusted "$P/bin/python") && [ -n "$u" ]; then printf 'venvuntrusted %s %s\n' "$I" "$(printf '%s' "$u" | base64 -w0)"
    elif o=$(timeout 60 "$P/bin/python" -I -B -c "$CAPTURE" 2>&1); then printf 'venvcap %s %s\n' "$I" "$(printf '%s\n' "$o" | tail -n 1)"; else printf 'venvfail %s %s\n' "$I" "$(printf '%s' "$o" | tail -n 5 | base64 -w0)"; fi
  else printf 'novenv %s\n' "$I"; fi
  if [ -f "$P/pyvenv.cfg" ]; then printf 'venvcfg %s %s\n' "$I" "$(base64 -w0 < "$P/pyvenv.cfg")"; fi
  if [ -f "$P/$M" ]; then printf 'venvman %s %s\n' "$I" "$(base64 -w0 < "$P/$M")"; fi
}
