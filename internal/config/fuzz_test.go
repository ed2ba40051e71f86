package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: any main.hcl (beside a valid host block) loads or fails with diagnostics, never
// panics, and a failed load returns no half-loaded configuration; an error names its file.
// Seed corpus: testdata/fuzz/FuzzLoad (the examples); `.ci/fuzz` runs it briefly.
func FuzzLoad(f *testing.F) {
	for _, ex := range []string{"spark-known-good", "fleet-rollout", "kernel-rollback"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "examples", ex, "main.hcl")); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("sysctl \"x\" {\n  values = { \"vm.swappiness\" = 10 }\n}\n")
	f.Add("variable \"v\" {\n  default = \"${file(\\\"/etc/shadow\\\")}\"\n}\n")
	f.Fuzz(func(t *testing.T, src string) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "hosts.hcl"), []byte("host \"h\" {\n  address = \"127.0.0.1\"\n}\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644)
		cfg, diags := Load(dir, Vars{})
		if !diags.HasErrors() {
			return
		}
		if cfg.Hosts != nil || cfg.Resources != nil {
			t.Fatalf("a failed load returned a half-loaded configuration")
		}
		for _, d := range diags.Errs() {
			_ = d.Error() // formatting a diagnostic must not panic either
		}
	})
}
