// Package state is sparkform's memory of what it applied: the JSON format (version, serial,
// lineage, hosts → resources → attributes and originals, history), its lock, and atomic persistence.
package state

import (
	"time"

	"github.com/zclconf/go-cty/cty"
)

// FormatVersion is the version of the state file format this build writes.
const FormatVersion = 1

// State is the whole state file.
type State struct {
	Version int              `json:"version"`
	Serial  uint64           `json:"serial"`
	Lineage string           `json:"lineage"`
	Hosts   map[string]*Host `json:"hosts"`
}

// Host is what state remembers of one host.
type Host struct {
	// HostKey pinned for the host (authorized_keys format), recorded on first contact.
	HostKey   string               `json:"host_key,omitempty"`
	Resources map[string]*Resource `json:"resources"` // keyed by address "type.name"
}

// Resource is one applied resource on one host.
type Resource struct {
	Type       string    `json:"type"`
	Name       string    `json:"name"`
	Attributes Value     `json:"attributes"` // what sparkform applied
	Original   Value     `json:"original"`   // live values before sparkform first changed them
	AppliedAt  time.Time `json:"applied_at"`
}

// Value is a cty.Value that round-trips through JSON with its type.
type Value struct{ cty.Value }
