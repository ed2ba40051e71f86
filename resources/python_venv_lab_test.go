package resources

import (
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

func venvLabBody(p, pkg string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"path":       cty.StringVal(p),
		"python":     cty.StringVal("python3"),
		"packages":   cty.ListVal([]cty.Value{cty.StringVal(pkg)}),
		"find_links": cty.ListVal([]cty.Value{cty.StringVal("/srv/wheels")}),
		"index_url":  cty.NullVal(cty.String),
		"verify":     cty.ListVal([]cty.Value{cty.StringVal("fastsafetensors")}),
	})
}

const venvLabPath = "/opt/sparkform/vllm"

// fstVersion is what a user gets importing fastsafetensors with the venv's interpreter.
func fstVersion(t *testing.T, h labHost) string {
	t.Helper()
	return h.sh(t, venvLabPath+"/bin/python -c 'import fastsafetensors; print(fastsafetensors.__version__)'")
}

// The scenario on the lab's three hosts, each step named for what it proves; a step
// builds on the previous ones.
func TestPythonVenvLab(t *testing.T) {
	l := needResLab(t)
	var hosts []labHost
	for _, n := range []string{"spark-01", "spark-02", "spark-03"} {
		hosts = append(hosts, dialLabHost(t, l, n))
	}
	r := pythonVenv{}
	vllm := newLabInstance("python_venv", "vllm")
	inst := func(h labHost, pkg string) Instance { return vllm.with(h, venvLabBody(venvLabPath, pkg)) }
	remember := vllm.remember
	step := labSteps(t)

	step("installs fastsafetensors 0.3.2 from the wheelhouse on three hosts", func(t *testing.T) {
		onEveryHost(t, hosts, func(t *testing.T, h labHost) {
			in := inst(h, "fastsafetensors==0.3.2")
			a := planApply(t, h, r, in, 3*time.Minute)
			if a.Err != nil {
				t.Fatalf("apply: %v", a.Err)
			}
			if a.Diff.Action != Create {
				t.Fatalf("plan of a missing venv = %s, want create (%+v)", a.Diff.Action, a.Diff)
			}
			if !hasField(a.Diff, `packages["fastsafetensors"]`, "", "0.3.2") {
				t.Fatalf("plan does not show the package: %+v", a.Diff.Fields)
			}
			if len(a.Log) == 0 {
				t.Error("no progress lines were logged while pip ran")
			}
			remember(h, a.Prior)
			if got := fstVersion(t, h); got != "0.3.2" {
				t.Fatalf("import fastsafetensors gives %q, want 0.3.2", got)
			}
			if v := stringMap(a.Prior.Attributes.GetAttr("versions"))["fastsafetensors"]; v != "0.3.2" {
				t.Fatalf("state versions = %q, want 0.3.2", v)
			}
			if link := h.sh(t, "readlink "+venvLabPath); link != "vllm.sparkform-gens/1" {
				t.Fatalf("%s -> %q, want the first generation", venvLabPath, link)
			}
		})
	})

	step("a second plan shows no changes", func(t *testing.T) {
		onEveryHost(t, hosts, func(t *testing.T, h labHost) {
			obs, d, err := plan(t, h, r, inst(h, "fastsafetensors==0.3.2"))
			if err != nil || d.Action != NoOp {
				t.Fatalf("re-plan = %+v, %v; want no-op", d, err)
			}
			if v := stringMap(obs.GetAttr("verify"))["fastsafetensors"]; v != "0.3.2" {
				t.Fatalf("observed verify version %q, want 0.3.2", v)
			}
			if !strings.HasPrefix(obs.GetAttr("python_version").AsString(), "3.") {
				t.Fatalf("observed python_version %s", obs.GetAttr("python_version").GoString())
			}
		})
	})

	step("changing the pin to 0.1.10 shows in the plan and apply switches the venv", func(t *testing.T) {
		onEveryHost(t, hosts, func(t *testing.T, h labHost) {
			a := planApply(t, h, r, inst(h, "fastsafetensors==0.1.10"), 3*time.Minute)
			if a.Err != nil {
				t.Fatalf("apply: %v", a.Err)
			}
			if a.Diff.Action != Update || !hasField(a.Diff, `packages["fastsafetensors"]`, "0.3.2", "0.1.10") {
				t.Fatalf("plan = %+v, want update packages[\"fastsafetensors\"] 0.3.2 -> 0.1.10", a.Diff)
			}
			remember(h, a.Prior)
			if got := fstVersion(t, h); got != "0.1.10" {
				t.Fatalf("import fastsafetensors gives %q after the switch, want 0.1.10", got)
			}
			// The previous generation is kept for rollback and still works.
			if got := h.sh(t, venvLabPath+".sparkform-gens/1/bin/python -c 'import fastsafetensors as f; print(f.__version__)'"); got != "0.3.2" {
				t.Fatalf("previous generation imports %q, want 0.3.2", got)
			}
		})
	})

	step("a version that does not exist fails with pip's reason and the working venv stays", func(t *testing.T) {
		onEveryHost(t, hosts, func(t *testing.T, h labHost) {
			before := h.sh(t, "readlink "+venvLabPath)
			in := inst(h, "fastsafetensors==9.9.9")
			a := planApply(t, h, r, in, 3*time.Minute)
			if a.Err == nil {
				t.Fatal("apply of a version the wheelhouse lacks succeeded")
			}
			msg := a.Err.Error()
			if !strings.Contains(msg, "No matching distribution found for fastsafetensors==9.9.9") || !strings.Contains(msg, "pip install failed") {
				t.Fatalf("error lacks pip's reason: %v", msg)
			}
			if !a.Prior.Attributes.RawEquals(in.Prior.Attributes) {
				t.Fatal("a failed apply changed what state remembers")
			}
			if got := fstVersion(t, h); got != "0.1.10" {
				t.Fatalf("after the failed install the venv imports %q, want 0.1.10", got)
			}
			if after := h.sh(t, "readlink "+venvLabPath); after != before {
				t.Fatalf("link moved from %s to %s", before, after)
			}
			if left := h.sh(t, "ls "+venvLabPath+".sparkform-gens"); left != "1\n2" {
				t.Fatalf("generations left after the failure: %q, want 1 and 2", left)
			}
		})
	})

	step("later applies prune generations beyond the current and previous one", func(t *testing.T) {
		h := hosts[0]
		a := planApply(t, h, r, inst(h, "fastsafetensors==0.3.2"), 3*time.Minute)
		if a.Err != nil {
			t.Fatalf("apply: %v", a.Err)
		}
		remember(h, a.Prior)
		if left := h.sh(t, "ls "+venvLabPath+".sparkform-gens"); left != "2\n3" {
			t.Fatalf("generations after the third build: %q, want 2 (previous) and 3 (current; the failed one was removed)", left)
		}
		if got := fstVersion(t, h); got != "0.3.2" {
			t.Fatalf("import gives %q, want 0.3.2", got)
		}
	})

	step("destroy removes the link and every generation sparkform built", func(t *testing.T) {
		onEveryHost(t, hosts, func(t *testing.T, h labHost) {
			in := vllm.removed(h)
			a := planApply(t, h, r, in, time.Minute)
			if a.Err != nil || a.Diff.Action != Delete {
				t.Fatalf("destroy: %+v %v", a.Diff, a.Err)
			}
			if a.Prior.Exists() {
				t.Fatal("state still holds the venv after destroy")
			}
			if got := h.sh(t, "ls -d "+venvLabPath+"* 2>/dev/null || true"); got != "" {
				t.Fatalf("left behind: %s", got)
			}
			in.Prior = a.Prior
			if _, d, _ := plan(t, h, r, in); d.Action != NoOp {
				t.Fatalf("second destroy plan = %s, want no-op", d.Action)
			}
		})
	})
}

// hasField reports whether d changes path from before to after ("" matches anything).
func hasField(d Diff, path, before, after string) bool {
	for _, f := range d.Fields {
		if f.Path == path && (before == "" || f.Before == before) && (after == "" || f.After == after) {
			return true
		}
	}
	return false
}
