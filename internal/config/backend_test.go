package config

import (
	"strings"
	"testing"
)

const oneHost = `host "spark-01" { address = "10.0.0.1" }
`

func TestBackendBlockSelectsPostgresWithSchemaAndName(t *testing.T) {
	files := map[string]string{"main.hcl": oneHost + `backend "pg" {
  schema = "fleet"
  name   = "lab-a"
}
`}
	cfg := mustLoad(t, files, Vars{})
	if b := cfg.Backend; b == nil || b.Type != "pg" || b.Schema != "fleet" || b.Name != "lab-a" {
		t.Fatalf("Backend = %+v", cfg.Backend)
	}
	b, diags := LoadBackend(writeDir(t, files))
	if diags.HasErrors() || b == nil || b.Schema != "fleet" || b.Name != "lab-a" {
		t.Fatalf("LoadBackend = %+v, %v", b, diags)
	}
}

func TestNoBackendBlockMeansTheLocalDefault(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"main.hcl": oneHost}, Vars{})
	if cfg.Backend != nil {
		t.Fatalf("Backend = %+v, want nil", cfg.Backend)
	}
	if b, diags := LoadBackend(t.TempDir()); b != nil || diags.HasErrors() {
		t.Fatalf("empty directory: %+v, %v", b, diags)
	}
}

func TestBadBackendBlocksAreRefusedAtTheirPosition(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"a connection string in configuration", `backend "pg" {
  conn_str = "postgres://u:secret@db/x"
}`, "main.hcl:2,3-11: Connection settings do not belong in configuration"},
		{"a variable in a backend argument", `variable "s" { default = "x" }
backend "pg" {
  schema = var.s
}`, "Backend arguments are literals"},
		{"an unknown backend type", `backend "s3" {}`, `main.hcl:1,9-13: Unknown backend type`},
		{"an invalid schema name", `backend "pg" {
  schema = "Robert'); DROP"
}`, "Invalid schema name"},
		{"two backend blocks", `backend "pg" {}
backend "local" {}`, "Duplicate backend block"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"main.hcl": c.src + "\n"})
			_, diags := LoadBackend(dir)
			if !diags.HasErrors() || !strings.Contains(diagString(diags), c.want) {
				t.Fatalf("LoadBackend diagnostics %q, want %q", diagString(diags), c.want)
			}
			_, diags = Load(dir, Vars{})
			if !diags.HasErrors() || !strings.Contains(diagString(diags), c.want) {
				t.Fatalf("Load diagnostics %q, want %q", diagString(diags), c.want)
			}
		})
	}
}

func diagString(diags interface{ Error() string }) string { return diags.Error() }
