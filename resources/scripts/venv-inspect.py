# venv-inspect: run by a venv's interpreter (python -I -B -c SCRIPT MODULE...); see venvInspect.
import sys, os, json, base64, platform
out = sys.stdout
sys.stdout = sys.stderr
r = {"python": platform.python_version(), "dists": {}, "verify": {}, "verify_errors": {}}
try:
    import importlib.metadata as md
    for d in md.distributions():
        n = d.metadata["Name"]
        if n:
            r["dists"][n] = d.version
except Exception as e:
    r["dists_error"] = repr(e)
import importlib
for m in sys.argv[1:]:
    try:
        mod = importlib.import_module(m)
        r["verify"][m] = str(getattr(mod, "__version__", ""))
    except BaseException as e:
        r["verify_errors"][m] = (type(e).__name__ + ": " + str(e))[:400]
out.write(base64.b64encode(json.dumps(r).encode()).decode() + "\n")
if os.environ.get("SPARKFORM_VERIFY_STRICT") and r["verify_errors"]:
    for m, e in sorted(r["verify_errors"].items()):
        sys.stderr.write("import %s: %s\n" % (m, e))
    sys.exit(3)
