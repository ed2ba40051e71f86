package main

import (
	"os"
	"path/filepath"
	"testing"
)

// Every example validates (with two stand-in hosts labelled like a fleet) and is formatted.
func TestExamplesValidateAndAreFormatted(t *testing.T) {
	dirs, err := filepath.Glob("../../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	hosts := `host "spark-01" {
  address = "192.0.2.1"
  labels  = { rack = "a" }
}

host "spark-02" {
  address = "192.0.2.2"
  labels  = { rack = "b" }
}
`
	n := 0
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		n++
		t.Run(filepath.Base(d), func(t *testing.T) {
			if code, out, stderr := cli(t, "fmt", "-check", d); code != 0 {
				t.Fatalf("fmt -check: %d\n%s%s", code, out, stderr)
			}
			work := t.TempDir()
			files, _ := filepath.Glob(filepath.Join(d, "*.hcl"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(work, filepath.Base(f)), b, 0o644)
			}
			os.WriteFile(filepath.Join(work, "hosts.hcl"), []byte(hosts), 0o644)
			if code, out, stderr := cli(t, "validate", work); code != 0 {
				t.Fatalf("validate: %d\n%s%s", code, out, stderr)
			}
		})
	}
	if n < 3 {
		t.Fatalf("found %d example directories, want at least 3", n)
	}
}
