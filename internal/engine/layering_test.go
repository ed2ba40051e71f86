package engine

import (
	"go/build"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/resources"
)

const module = "github.com/sparkform/sparkform/"

// projectImports are the packages of this module that the package in dir imports (tests aside).
func projectImports(t *testing.T, dir string) []string {
	t.Helper()
	p, err := build.ImportDir(filepath.Join("..", "..", dir), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, imp := range p.Imports {
		if rest, ok := strings.CutPrefix(imp, module); ok {
			out = append(out, rest)
		}
	}
	return out
}

// The layering the architecture keeps: provider and state import nothing of the project;
// resources imports provider, and otherwise only leaf helpers (packages that import nothing of
// the project, as internal/english); the engine reaches resources through the registry only.
func TestLayeringProviderAndStateImportNothingResourcesOnlyProviderAndLeaves(t *testing.T) {
	for _, dir := range []string{"provider", "state"} {
		if imps := projectImports(t, dir); len(imps) > 0 {
			t.Errorf("%s imports %v; it imports nothing of the project", dir, imps)
		}
	}
	for _, imp := range projectImports(t, "resources") {
		if imp != "provider" && len(projectImports(t, imp)) > 0 {
			t.Errorf("resources imports %s, which is neither provider nor a leaf (it imports %v)", imp, projectImports(t, imp))
		}
	}
}

// The engine knows no resource type: it finds types in the registry. It cannot name a concrete
// type of package resources, as none is exported (checked here), and no address of a type
// ("sysctl.loading") appears in its code.
func TestTheEngineNamesNoResourceType(t *testing.T) {
	var types []string
	for _, name := range []string{"kernel", "sysctl", "readahead", "python_venv", "llama_cpp", "smoke_test"} {
		r, ok := resources.Lookup(name)
		if !ok {
			t.Fatalf("resource type %s is not registered: update this list", name)
		}
		rt := reflect.TypeOf(r)
		if rt.Kind() == reflect.Pointer {
			rt = rt.Elem()
		}
		if rt.PkgPath() != module+"resources" || token.IsExported(rt.Name()) {
			t.Errorf("resource type %s is implemented by %s.%s: a concrete resource type is unexported in package resources, so no other package can name it", name, rt.PkgPath(), rt.Name())
		}
		types = append(types, regexp.QuoteMeta(name))
	}
	addr := regexp.MustCompile(`"(` + strings.Join(types, "|") + `)[."]`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			// The engine's own host facts are tagged "kernel" and "boot_id" (hostFacts.Kernel).
			if m := addr.FindString(line); m != "" && !(m == `"kernel"` && slices.Contains([]string{"probe.go"}, f)) {
				t.Errorf("%s:%d names a resource type: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}
