# venv-capture: run by a venv's interpreter (python -I -B -c SCRIPT); see venvCaptureScript.
import sys, json, base64, platform
out = sys.stdout
sys.stdout = sys.stderr
r = {"python": platform.python_version(), "dists": {}, "base": getattr(sys, "_base_executable", "")}
import importlib.metadata as md
for d in md.distributions():
    n = d.metadata["Name"]
    if n:
        r["dists"][n] = d.version
out.write(base64.b64encode(json.dumps(r).encode()).decode() + "\n")
