package main

import (
	"fmt"
	"os"
	"time"

	"github.com/sparkform/sparkform/internal/termsafe"
)

// show [-json] [PLANFILE | DIR]: a saved plan, or the state of DIR (default: the current directory).
func runShow(in *invocation, _ *noFlags) int {
	file, dir, stdout, stderr := in.arg, ".", in.stdout, in.stderr
	if fi, err := os.Stat(file); err == nil && fi.IsDir() {
		dir, file = file, ""
	}
	if file != "" {
		p, err := loadPlan(file)
		if err != nil {
			return in.fail(stderr, "%v", err)
		}
		if in.ui != nil {
			in.ui.plan(p, "plan")
		} else {
			renderPlan(stdout, p, styleFor(stdout, in.noColor))
		}
		return 0
	}
	path, st, err := readState(dir, in.state)
	if err != nil {
		return in.fail(stderr, "%v", err)
	}
	path.Close()
	if ui := in.ui; ui != nil {
		n := 0
		for _, host := range sortedKeysOf(st.Hosts) {
			hs := st.Hosts[host]
			for _, addr := range sortedKeysOf(hs.Resources) {
				r := hs.Resources[addr]
				ui.emit("info", "state_resource", host+": "+addr, map[string]any{"host": map[string]any{"name": host, "host_key": hs.HostKey},
					"resource": resourceRef(addr, r.Type, r.Name), "attributes": valueJSON(r.Attributes.Value),
					"original": valueJSON(r.Original.Value), "applied_at": r.AppliedAt.UTC().Format(time.RFC3339Nano)})
				n++
			}
		}
		ui.emit("info", "state_summary", fmt.Sprintf("%s on %s.", plural(n, "resource"), plural(len(st.Hosts), "host")),
			map[string]any{"state": map[string]any{"serial": st.Serial, "lineage": st.Lineage, "hosts": len(st.Hosts), "resources": n}})
		return 0
	}
	if len(st.Hosts) == 0 {
		fmt.Fprintf(stdout, "The state at %s holds no hosts.\n", path)
		return 0
	}
	for _, host := range sortedKeysOf(st.Hosts) {
		hs := st.Hosts[host]
		fmt.Fprintf(stdout, "%s\n", termsafe.Line(host))
		for _, addr := range sortedKeysOf(hs.Resources) {
			renderStateResource(stdout, "  ", addr, hs.Resources[addr])
		}
		fmt.Fprintln(stdout)
	}
	return 0
}
