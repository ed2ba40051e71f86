# shellcheck shell=sh
# venv-destroy: removes what sparkform made of a venv (see PythonVenv.destroy). Positional
# arguments: P G GBASE MANIFEST_FILE: the venv, its generations directory, that directory's
# name (links sparkform made point into it) and the manifest's file name.
P=$1 G=$2 GBASE=$3 MANIFEST_FILE=$4
# Only the link sparkform made (pointing into its generations) and the generations go.
if [ -L "$P" ]; then case "$(readlink "$P")" in "$GBASE"/*|"$G"/*) rm -f "$P" || exit 1;; esac; fi
# A plain venv sparkform adopted (generation 0, no manifest of sparkform's) goes back to its place.
if [ ! -e "$P" ] && [ ! -L "$P" ] && [ -d "$G/0" ] && [ ! -L "$G/0" ] && [ ! -f "$G/0/$MANIFEST_FILE" ] && [ -f "$G/0/pyvenv.cfg" ]; then mv -T "$G/0" "$P" || exit 1; fi
rm -rf "$G"
