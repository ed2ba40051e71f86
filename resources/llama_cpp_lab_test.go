package resources

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

const llamaLabDir = "/opt/sparkform/llama.cpp"

func llamaLabBody(ref string, flags map[string]string) cty.Value {
	f := map[string]cty.Value{}
	for k, v := range flags {
		f[k] = cty.StringVal(v)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"source":        cty.StringVal("/srv/git/llama.cpp.git"),
		"ref":           cty.StringVal(ref),
		"dir":           cty.StringVal(llamaLabDir),
		"cmake_flags":   cty.MapVal(f),
		"targets":       cty.ListVal([]cty.Value{cty.StringVal("llama-server")}),
		"jobs":          cty.NumberIntVal(0),
		"keep":          cty.NumberIntVal(3),
		"build_timeout": cty.StringVal("5m"),
	})
}

var labCUDA = map[string]string{"GGML_CUDA": "ON", "CMAKE_CUDA_ARCHITECTURES": "121a-real"}

// serverVersion is the first line `llama-server --version` prints through the exported bin_dir.
func serverVersion(t *testing.T, h labHost) string {
	t.Helper()
	return h.sh(t, llamaLabDir+"/current/bin/llama-server --version 2>&1 | head -n 1")
}

// The scenario on two hosts with nvcc, plus the host without it; each step builds on
// the previous ones.
func TestLlamaCppLab(t *testing.T) {
	l := needResLab(t)
	hosts := []labHost{dialLabHost(t, l, "spark-01"), dialLabHost(t, l, "spark-02")}
	r := llamaCpp{}
	cuda := newLabInstance("llama_cpp", "cuda")
	inst := func(h labHost, ref string, flags map[string]string) Instance {
		return cuda.with(h, llamaLabBody(ref, flags))
	}
	remember := cuda.remember
	step := labSteps(t)
	firstBuild := map[string]string{} // host -> build id of b6800
	var firstMu sync.Mutex

	step("builds b6800 with CUDA on two hosts and llama-server reports that build", func(t *testing.T) {
		onEveryHost(t, hosts, func(t *testing.T, h labHost) {
			a := planApply(t, h, r, inst(h, "b6800", labCUDA), 5*time.Minute)
			if a.Err != nil {
				t.Fatalf("apply: %v", a.Err)
			}
			if a.Diff.Action != Create {
				t.Fatalf("plan = %+v, want create", a.Diff)
			}
			remember(h, a.Prior)
			if v := serverVersion(t, h); !strings.HasPrefix(v, "version: 6800 (") {
				t.Fatalf("llama-server --version = %q, want build 6800", v)
			}
			var progress bool
			for _, line := range a.Log {
				progress = progress || llamaProgressRe.MatchString(line)
			}
			if !progress {
				t.Errorf("no cmake [ NN%%] progress reached the log: %q", a.Log)
			}
			attrs := a.Prior.Attributes
			if sup := strings.Join(stringList(attrs.GetAttr("supports")), " "); sup != "--no-mmap --mlock" {
				t.Errorf("state supports = %q, want the old load flags", sup)
			}
			if !strings.Contains(attrs.GetAttr("version").AsString(), "6800") {
				t.Errorf("state version = %q", attrs.GetAttr("version").AsString())
			}
			id := attrs.GetAttr("build").AsString()
			firstMu.Lock()
			firstBuild[h.Name()] = id
			firstMu.Unlock()
			// cmake got the nvcc of /usr/local/cuda/bin (not on PATH) and the manifest records it.
			man := h.sh(t, "cat "+llamaLabDir+"/builds/"+id+"/"+llamaManifestFile)
			if !strings.Contains(man, "-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc") || !strings.Contains(man, `"ref": "b6800"`) {
				t.Errorf("manifest = %s", man)
			}
			if got := h.sh(t, "grep -c 'CUDA 13.0, archs 121a-real' "+llamaLabDir+"/builds/"+id+"/"+llamaBuildLog+" "+llamaLabDir+"/current/bin/llama-server || true"); got == "" {
				t.Errorf("the build did not use CUDA")
			}
		})
	})

	step("a second plan shows no changes", func(t *testing.T) {
		onEveryHost(t, hosts, func(t *testing.T, h labHost) {
			obs, d, err := plan(t, h, r, inst(h, "b6800", labCUDA))
			if err != nil || d.Action != NoOp {
				t.Fatalf("re-plan = %+v, %v; want no-op", d, err)
			}
			if obs.GetAttr("nvcc_version").AsString() != "13.0" {
				t.Errorf("observed nvcc_version = %q", obs.GetAttr("nvcc_version").AsString())
			}
		})
	})

	step("another tag is rebuilt and its new load flags are seen", func(t *testing.T) {
		onEveryHost(t, hosts, func(t *testing.T, h labHost) {
			a := planApply(t, h, r, inst(h, "b10900", labCUDA), 5*time.Minute)
			if a.Err != nil {
				t.Fatalf("apply: %v", a.Err)
			}
			if !hasField(a.Diff, "ref", "b6800", "b10900") || !strings.HasPrefix(a.Diff.Summary, "build b10900") {
				t.Fatalf("plan = %+v", a.Diff)
			}
			remember(h, a.Prior)
			if v := serverVersion(t, h); !strings.Contains(v, "build 10900,") {
				t.Fatalf("llama-server --version = %q, want build 10900", v)
			}
			if sup := strings.Join(stringList(a.Prior.Attributes.GetAttr("supports")), " "); sup != "-lm --load-mode" {
				t.Errorf("state supports = %q, want -lm --load-mode", sup)
			}
		})
	})

	step("going back to the first tag switches without rebuilding", func(t *testing.T) {
		onEveryHost(t, hosts, func(t *testing.T, h labHost) {
			firstMu.Lock()
			id := firstBuild[h.Name()]
			firstMu.Unlock()
			b := llamaLabDir + "/builds/" + id
			stamp := "stat -c '%Y.%y' " + b + "/" + llamaManifestFile + " " + b + "/" + llamaBuildLog + " " + b + "/CMakeCache.txt " + b + "/bin/llama-server; md5sum " + b + "/" + llamaManifestFile
			before := h.sh(t, stamp)
			a := planApply(t, h, r, inst(h, "b6800", labCUDA), time.Minute)
			if a.Err != nil {
				t.Fatalf("apply: %v", a.Err)
			}
			if !strings.Contains(a.Diff.Summary, "no rebuild") {
				t.Fatalf("plan = %+v, want a switch", a.Diff)
			}
			remember(h, a.Prior)
			if after := h.sh(t, stamp); after != before {
				t.Fatalf("the build directory changed (cmake ran?):\nbefore %s\nafter  %s", before, after)
			}
			if a.Elapsed > 3*time.Second {
				t.Errorf("switching back took %s", a.Elapsed)
			}
			if v := serverVersion(t, h); !strings.HasPrefix(v, "version: 6800 (") {
				t.Fatalf("llama-server --version = %q after switching back", v)
			}
			if link := h.sh(t, "readlink "+llamaLabDir+"/current"); link != "builds/"+id {
				t.Fatalf("current -> %s, want builds/%s", link, id)
			}
		})
	})

	step("a bad cmake flag fails with the log tail and current keeps working", func(t *testing.T) {
		onEveryHost(t, hosts, func(t *testing.T, h labHost) {
			bad := map[string]string{"GGML_CUDA": "ON", "CMAKE_CUDA_ARCHITECTURES": "bogus"}
			in := inst(h, "b6800", bad)
			a := planApply(t, h, r, in, 5*time.Minute)
			if a.Err == nil {
				t.Fatal("a build with CMAKE_CUDA_ARCHITECTURES=bogus succeeded")
			}
			msg := a.Err.Error()
			if !strings.Contains(msg, "CMAKE_CUDA_ARCHITECTURES") || !strings.Contains(msg, "current is unchanged") || !strings.Contains(msg, llamaBuildLog) {
				t.Fatalf("error lacks the log tail or the log's place: %s", msg)
			}
			if !a.Prior.Attributes.RawEquals(in.Prior.Attributes) {
				t.Error("a failed build changed what state remembers")
			}
			if v := serverVersion(t, h); !strings.HasPrefix(v, "version: 6800 (") {
				t.Fatalf("llama-server --version = %q after the failed build", v)
			}
			// The failed build's log stays on the host.
			if n := h.sh(t, "ls "+llamaLabDir+"/builds/*/"+llamaBuildLog+" | wc -l"); n != "3" {
				t.Errorf("%s build logs on the host, want 3 (two builds and the failed one)", n)
			}
			if h.Name() == "spark-01" {
				t.Logf("error shown for the failed build:\n%s", msg)
			}
		})
	})

	step("CUDA on the host without nvcc is a plan error for that host only", func(t *testing.T) {
		h3 := dialLabHost(t, l, "spark-03")
		_, _, err := plan(t, h3, r, Instance{Type: "llama_cpp", Name: "cuda", Desired: llamaLabBody("b6800", labCUDA)})
		if err == nil || !strings.Contains(err.Error(), "GGML_CUDA=ON needs nvcc; none in PATH or /usr/local/cuda/bin on this host") {
			t.Fatalf("plan on spark-03 = %v, want the nvcc error", err)
		}
		if _, d, err := plan(t, hosts[0], r, inst(hosts[0], "b6800", labCUDA)); err != nil || d.Action != NoOp {
			t.Fatalf("spark-01 with nvcc plans %+v, %v", d, err)
		}
		// Without CUDA the same host plans a build.
		if _, d, err := plan(t, h3, r, Instance{Type: "llama_cpp", Name: "cuda", Desired: llamaLabBody("b6800", map[string]string{"GGML_CUDA": "OFF"})}); err != nil || d.Action != Create {
			t.Fatalf("CPU build on spark-03 plans %+v, %v", d, err)
		}
	})

	step("a ref that does not exist is a clear error", func(t *testing.T) {
		h := hosts[0]
		a := planApply(t, h, r, inst(h, "b99999", labCUDA), time.Minute)
		if a.Err == nil || !strings.Contains(a.Err.Error(), `ref "b99999" does not resolve`) {
			t.Fatalf("apply of a missing tag: %v", a.Err)
		}
		if v := serverVersion(t, h); !strings.HasPrefix(v, "version: 6800 (") {
			t.Fatalf("llama-server --version = %q", v)
		}
	})

	step("destroy removes what sparkform built", func(t *testing.T) {
		onEveryHost(t, hosts, func(t *testing.T, h labHost) {
			a := planApply(t, h, r, cuda.removed(h), time.Minute)
			if a.Err != nil || a.Diff.Action != Delete || a.Prior.Exists() {
				t.Fatalf("destroy: %+v %v", a.Diff, a.Err)
			}
			if got := h.sh(t, "ls -d "+llamaLabDir+" 2>/dev/null || true"); got != "" {
				t.Fatalf("left behind: %s", got)
			}
		})
	})
}
