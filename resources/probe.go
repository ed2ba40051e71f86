package resources

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// Probe output is line-oriented: "<tag> <rest>". Anything that may hold arbitrary bytes
// (file contents, command output) is base64-encoded by the probe, so a value on the host can
// never be mistaken for a tag.

// probeFile prints "file <path-tag> <base64>" for an existing file and "nofile <path-tag>" otherwise.
func probeFile(tag, path string) string {
	p := provider.Quote(path)
	return fmt.Sprintf("if [ -f %s ]; then printf 'file %s %%s\\n' \"$(base64 -w0 < %s)\"; else printf 'nofile %s\\n'; fi\n", p, tag, p, tag)
}

// probeLine is one parsed line of probe output.
type probeLine struct {
	tag  string
	args []string
}

func parseProbe(out []byte) []probeLine {
	var lines []probeLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 3)
		if f[0] == "" {
			continue
		}
		lines = append(lines, probeLine{tag: f[0], args: f[1:]})
	}
	return lines
}

// fileFromProbe finds the file reported under tag: its content, or null when absent.
func fileFromProbe(lines []probeLine, tag string) (cty.Value, error) {
	for _, l := range lines {
		switch {
		case l.tag == "nofile" && len(l.args) >= 1 && l.args[0] == tag:
			return cty.NullVal(cty.String), nil
		case l.tag == "file" && len(l.args) >= 1 && l.args[0] == tag:
			enc := ""
			if len(l.args) == 2 {
				enc = l.args[1]
			}
			b, err := base64.StdEncoding.DecodeString(enc)
			if err != nil {
				return cty.NilVal, fmt.Errorf("probe: file %s: bad encoding: %v", tag, err)
			}
			return cty.StringVal(string(b)), nil
		}
	}
	return cty.NilVal, fmt.Errorf("probe: no report for file %s (was the probe cut short?)", tag)
}

// managedHeader is the first line of every file sparkform writes, so a person reading the host
// knows who owns the file and how to change it.
func managedHeader(addr string) string {
	return fmt.Sprintf("# Managed by sparkform (%s). Local edits are reverted on the next apply;\n# remove the block from the configuration to remove this file.\n", addr)
}

// shortContent renders file content for a one-line plan field.
func describeFile(v cty.Value) string {
	if v.IsNull() {
		return "(absent)"
	}
	n := strings.Count(v.AsString(), "\n")
	return fmt.Sprintf("(%d lines)", n)
}

func decodeB64(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}

// confFile is one configuration file read from a host.
type confFile struct{ Path, Content string }

// effectiveDropIns applies the drop-in rule systemd-sysctl and udev share: of the files ending
// in suffix, one per file name, the one in the earliest of dirs winning; returned in file-name
// order. The file at skip is left out.
func effectiveDropIns(files []confFile, dirs []string, suffix, skip string) []confFile {
	prio := func(p string) int {
		for i, d := range dirs {
			if strings.HasPrefix(p, d+"/") {
				return i
			}
		}
		return len(dirs)
	}
	chosen := map[string]confFile{}
	for _, f := range files {
		if f.Path == skip || !strings.HasSuffix(f.Path, suffix) {
			continue
		}
		base := path.Base(f.Path)
		if cur, ok := chosen[base]; !ok || prio(f.Path) < prio(cur.Path) {
			chosen[base] = f
		}
	}
	names := make([]string, 0, len(chosen))
	for n := range chosen {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]confFile, len(names))
	for i, n := range names {
		out[i] = chosen[n]
	}
	return out
}
