// Package config loads a configuration directory (parses every *.hcl file, evaluates variables,
// locals and references in dependency order, decodes host and resource blocks through the resource
// registry, validates them with hcl diagnostics at file:line:column) and formats its files.
package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Config is a loaded, validated configuration.
type Config struct {
	Dir       string
	Files     map[string]*hcl.File // by filename, for diagnostic snippets
	Hosts     []*Host              // sorted by name
	Resources []*Resource          // in declaration order (files sorted by name)
	Variables map[string]cty.Value // input variables after precedence and conversion
	// Rollout is the rollout block, or nil when there is none.
	Rollout *Rollout
	// Backend is the backend block (where the state lives), or nil: the local file.
	Backend *Backend
	// Hash identifies the configuration's effective content (after evaluation), hex sha256.
	Hash string
}

// Host is one `host "NAME" { ... }` block.
type Host struct {
	Name           string
	Address        string
	Port           int    // 0: not set (ssh_config, then 22)
	User           string // "": not set (ssh_config, then current user)
	IdentityFile   string
	KnownHosts     string // "": ~/.ssh/known_hosts
	HostKeyPolicy  string // "strict" (default) | "accept-new"
	Sudo           bool
	Labels         map[string]string
	ConnectTimeout string // optional duration, e.g. "10s"
	MaxOutput      int64  // max_output in bytes: one command's output, one file read (0: provider.DefaultMaxOutput)
	DeclRange      hcl.Range
}

// Resource is one resource block, e.g. `sysctl "loading" { ... }`.
type Resource struct {
	Type      string
	Name      string
	Body      cty.Value // decoded with the type's Spec; meta-arguments removed
	Hosts     []string  // names of the hosts it applies to, sorted (after hosts/labels selection)
	DependsOn []string  // addresses "type.name"
	DeclRange hcl.Range
}

// Addr is the resource's address, "type.name".
func (r *Resource) Addr() string { return r.Type + "." + r.Name }

// Host returns the host of that name, or nil.
func (c *Config) Host(name string) *Host {
	for _, h := range c.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Vars are variable values from outside the files, in the order Terraform applies them:
// environment (SPARKFORM_VAR_name), then -var-file files in order, then -var flags in order;
// a later source wins. Within Files, *.auto.sfvars / sparkform.sfvars conventions are not used.
type Vars struct {
	Env   map[string]string // name → raw value (already stripped of the SPARKFORM_VAR_ prefix)
	Files []string          // -var-file paths
	Flags []string          // raw "name=value" from -var, in order
}
