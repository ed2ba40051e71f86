package engine

import "github.com/sparkform/sparkform/resources"

// DriftReport is a plan read as drift: per host, where the host differs from the configuration
// and whether from what sparkform last applied too. It is `sparkform drift -json`'s shape.
type DriftReport struct {
	Hosts []DriftHost `json:"hosts"`
}

// DriftHost is one host's drift; Error when the host could not be read.
type DriftHost struct {
	Name  string      `json:"name"`
	Error string      `json:"error,omitempty"`
	Items []DriftItem `json:"drift"`
}

// DriftItem is one attribute (or, for a change without fields, one resource) that differs.
type DriftItem struct {
	Addr   string `json:"addr"`
	Path   string `json:"path"`
	Live   string `json:"live"`
	Wanted string `json:"wanted"`
	// Outside is true when the live value also differs from what sparkform last applied:
	// someone changed the host. False means the configuration moved on (a pending change).
	Outside bool   `json:"changed_outside_sparkform"`
	Kind    string `json:"kind"` // "changed", "missing" (not yet applied), "orphaned" (in state, not in configuration)
}

// Drift classifies a plan's changes: a create is "missing" (never applied), a delete
// "orphaned" (in state, no longer configured), anything else "changed"; absent values read
// "(absent)".
func Drift(p *Plan) DriftReport {
	rep := DriftReport{Hosts: []DriftHost{}}
	for _, h := range p.Hosts {
		dh := DriftHost{Name: h.Name, Error: h.Error, Items: []DriftItem{}}
		for _, c := range h.Changes {
			kind := "changed"
			switch c.Action {
			case resources.Create:
				kind = "missing"
			case resources.Delete:
				kind = "orphaned"
			}
			for _, f := range c.Fields {
				live, wanted := f.Before, f.After
				if f.BeforeNull {
					live = "(absent)"
				}
				if f.AfterNull {
					wanted = "(absent)"
				}
				dh.Items = append(dh.Items, DriftItem{Addr: c.Addr, Path: f.Path, Live: live, Wanted: wanted, Outside: f.Drift, Kind: kind})
			}
			if len(c.Fields) == 0 && c.Action != resources.NoOp {
				dh.Items = append(dh.Items, DriftItem{Addr: c.Addr, Kind: kind, Live: c.Summary})
			}
		}
		rep.Hosts = append(rep.Hosts, dh)
	}
	return rep
}

// Counts are the hosts that drifted and the hosts that could not be read.
func (r DriftReport) Counts() (drifted, failed int) {
	for _, h := range r.Hosts {
		if h.Error != "" {
			failed++
		}
		if len(h.Items) > 0 {
			drifted++
		}
	}
	return drifted, failed
}
