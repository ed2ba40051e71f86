package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
)

func selectionConfig() *config.Config {
	cfg := &config.Config{}
	for i, rack := range []string{"a", "a", "b", "b", "c"} {
		cfg.Hosts = append(cfg.Hosts, &config.Host{Name: "spark-0" + itoa(i+1), Labels: map[string]string{"rack": rack}})
	}
	cfg.Hosts = append(cfg.Hosts, &config.Host{Name: "spark-10", Labels: map[string]string{"rack": "c", "gpu": "gb10"}})
	cfg.Resources = []*config.Resource{{Type: "sysctl", Name: "loading"}, {Type: "kernel", Name: "nvidia"}}
	return cfg
}

func names(hosts []*config.Host) string {
	var out []string
	for _, h := range hosts {
		out = append(out, h.Name)
	}
	return strings.Join(out, ",")
}

func TestSelectHostsTakesGlobsCommaListsAndLabels(t *testing.T) {
	cfg := selectionConfig()
	for _, c := range []struct {
		name                  string
		only, exclude, labels []string
		want                  string
	}{
		{"no selection is every host", nil, nil, nil, "spark-01,spark-02,spark-03,spark-04,spark-05,spark-10"},
		{"a glob", []string{"spark-0*"}, nil, nil, "spark-01,spark-02,spark-03,spark-04,spark-05"},
		{"a comma list", []string{"spark-01,spark-10"}, nil, nil, "spark-01,spark-10"},
		{"repeated and mixed", []string{"spark-0[12]", "spark-10"}, nil, nil, "spark-01,spark-02,spark-10"},
		{"exclusion by glob", nil, []string{"spark-0?"}, nil, "spark-10"},
		{"one label", nil, nil, []string{"rack=b"}, "spark-03,spark-04"},
		{"labels must all match", nil, nil, []string{"rack=c", "gpu=gb10"}, "spark-10"},
		{"label value glob", nil, nil, []string{"rack=[ab]"}, "spark-01,spark-02,spark-03,spark-04"},
		{"hosts and labels intersect", []string{"spark-0*"}, nil, []string{"rack=c"}, "spark-05"},
	} {
		got, err := selectHosts(cfg, c.only, c.exclude, c.labels)
		if err != nil || names(got) != c.want {
			t.Errorf("%s: got %s, %v; want %s", c.name, names(got), err, c.want)
		}
	}
}

func TestSelectionThatMatchesNothingIsAnErrorWithAHint(t *testing.T) {
	cfg := selectionConfig()
	for _, c := range []struct {
		only, exclude, labels []string
		want                  string
	}{
		{[]string{"spark-1"}, nil, nil, "Did you mean spark-01?"},
		{[]string{"spark-01,sprak-02"}, nil, nil, "-host sprak-02: no host in the configuration matches it"},
		{nil, []string{"gpu-*"}, nil, "-exclude-host gpu-*: no host"},
		{nil, nil, []string{"rack=z"}, "labels in the configuration: gpu=gb10, rack=a, rack=b, rack=c"},
		{nil, nil, []string{"rack"}, "write key=value"},
		{[]string{"spark-[0"}, nil, nil, "bad pattern"},
		{nil, []string{"*"}, nil, "-exclude-host * excludes every selected host"},
		{[]string{"spark-01"}, []string{"spark-0?"}, nil, "-exclude-host spark-0? excludes every selected host"},
	} {
		_, err := selectHosts(cfg, c.only, c.exclude, c.labels)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v %v: error %v, want it to contain %q", c.only, c.exclude, c.labels, err, c.want)
		}
	}
}

func TestTargetKeepsTheResourceAndWhatItDependsOn(t *testing.T) {
	cfg := &config.Config{Resources: []*config.Resource{{Type: "a", Name: "x"}, {Type: "b", Name: "y"}, {Type: "c", Name: "z"}, {Type: "d", Name: "w"}}}
	st := state.New()
	set, err := resolveTargets(cfg, st, []string{"c.z"})
	if err != nil {
		t.Fatal(err)
	}
	ins := []resources.Instance{{Type: "a", Name: "x"}, {Type: "b", Name: "y"}, {Type: "c", Name: "z"}, {Type: "d", Name: "w"}}
	deps := map[string][]string{"c.z": {"b.y"}, "b.y": {"a.x"}}
	var got []string
	for _, in := range set.filter(ins, deps) {
		got = append(got, in.Addr())
	}
	if strings.Join(got, ",") != "a.x,b.y,c.z" {
		t.Errorf("kept %v, want a.x,b.y,c.z (d.w is not targeted)", got)
	}
	if _, err := resolveTargets(cfg, st, []string{"c.zz"}); err == nil || !strings.Contains(err.Error(), "Did you mean c.z?") {
		t.Errorf("unknown target: %v", err)
	}
	if all := targetSet(nil).filter(ins, deps); len(all) != 4 {
		t.Errorf("no -target keeps everything, got %d", len(all))
	}
}

func TestPendingWorkIsAResourceAppliedAfterTheLastGeneration(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 4, 0, 0, 0, time.UTC)
	hs := state.New().Host("h")
	if pendingWork(hs) != "" {
		t.Error("an empty host has nothing pending")
	}
	hs.Resources["sysctl.s"] = &state.Resource{Type: "sysctl", Name: "s", AppliedAt: t0}
	if pendingWork(hs) == "" {
		t.Error("resources and no generation: the apply that made them did not finish")
	}
	hs.AddGeneration(t0.Add(time.Second), "c", "")
	if got := pendingWork(hs); got != "" {
		t.Errorf("recorded in a generation: %q", got)
	}
	hs.Resources["readahead.r"] = &state.Resource{Type: "readahead", Name: "r", AppliedAt: t0.Add(time.Minute)}
	if got := pendingWork(hs); !strings.Contains(got, "2026-12-01 04:01:00 UTC, after its last generation") {
		t.Errorf("applied after the last generation: %q", got)
	}
}
