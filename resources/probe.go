package resources

import (
	_ "embed"
	"encoding/base64"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Probe output is line-oriented: "<tag> <rest>". Probes are made of shell builtins (read,
// printf, case, test, for) wherever those do the job, because on a host a process start costs
// milliseconds and a plan should start a handful, not one per key or file. Host text (file
// lines, values) is printed after a tag on a line of its own, so a value on the host can never
// be mistaken for another tag or section; what may hold a newline is read line by line.

// probeFile prints "file TAG", then "fl TAG LINE" for every line of the file and "flx TAG LINE"
// for a last line without a newline, or "nofile TAG" when there is no such file
// (scripts/probe-file.sh; builtins only). It sets the positional parameters.
func probeFile(tag, path string) string {
	return shellArgs(tag, path) + probeFileSh
}

// dropInProbe lists the readable files DIR/*SUFFIX of dirs (a path of dirs that is a file is
// listed itself), in the shell's (C locale) order, as "dfile TAG PATH", and adds them to the
// positional parameters for grepDropIns; a name with other characters than [A-Za-z0-9._/@+-]
// is reported as "dodd TAG" and not read (scripts/dropins-list.sh; builtins only). The first
// dropInProbe of a probe follows a "set --".
func dropInProbe(tag string, dirs []string, suffix string) string {
	return shellArgsBefore(append([]string{tag, suffix, strconv.Itoa(len(dirs))}, dirs...)...) + dropinsListSh
}

// grepDropIns prints, in one grep over every file dropInProbe listed, each line containing fixed
// (every line when fixed is "") as "PATH:LINE": one process however many files there are
// (scripts/dropins-grep.sh).
func grepDropIns(fixed string) string {
	return shellArgsBefore(fixed) + dropinsGrepSh
}

var (
	//go:embed scripts/probe-file.sh
	probeFileSh string
	//go:embed scripts/dropins-list.sh
	dropinsListSh string
	//go:embed scripts/dropins-grep.sh
	dropinsGrepSh string
)

// dropInsFromProbe gathers the files listed under tag and their lines from grepDropIns.
func dropInsFromProbe(lines []probeLine, tag string) ([]confFile, error) {
	var files []confFile
	idx := map[string]int{}
	for _, l := range lines {
		switch {
		case l.tag == "dodd" && len(l.args) >= 1 && l.args[0] == tag:
			return nil, fmt.Errorf("a file in a %s directory has a name with unusual characters (outside A-Z a-z 0-9 . _ / @ + -); sparkform does not read it, so it cannot judge what it sets: rename it", tag)
		case l.tag == "dfile" && len(l.args) == 2 && l.args[0] == tag:
			idx[l.args[1]] = len(files)
			files = append(files, confFile{Path: l.args[1]})
		}
	}
	var content = make([]strings.Builder, len(files))
	for _, l := range lines {
		if !strings.HasPrefix(l.tag, "/") {
			continue
		}
		raw := strings.Join(append([]string{l.tag}, l.args...), " ")
		p, line, ok := strings.Cut(raw, ":") // listed names hold no ':'
		if i, listed := idx[p]; ok && listed {
			content[i].WriteString(line)
			content[i].WriteString("\n")
		}
	}
	for i := range files {
		files[i].Content = content[i].String()
	}
	return files, nil
}

// probeLine is one parsed line of probe output.
type probeLine struct {
	tag  string
	args []string
}

// firstTagged is the first of lines tagged tag (one without arguments when there is none).
func firstTagged(lines []probeLine, tag string) probeLine {
	for _, l := range lines {
		if l.tag == tag {
			return l
		}
	}
	return probeLine{}
}

// rest is the line's text after its tag and first argument ("" when there is none).
func (l probeLine) rest() string {
	if len(l.args) == 2 {
		return l.args[1]
	}
	return ""
}

// index reads the line's first argument as an index below n (which of the blocks a capture
// probe covers the line is about): false when it is missing, not a number or out of range.
func (l probeLine) index(n int) (int, bool) {
	if len(l.args) < 1 {
		return 0, false
	}
	i, err := strconv.Atoi(l.args[0])
	if err != nil || i < 0 || i >= n {
		return 0, false
	}
	return i, true
}

// parseProbe splits a probe's output at '\n' into lines, in linear time and without a line length limit:
// the output is already bounded by the host's max_output, and a limit here (bufio.Scanner's) once
// ended parsing silently at a long line, dropping every report after it.
func parseProbe(out []byte) []probeLine {
	var lines []probeLine
	for _, text := range strings.Split(string(out), "\n") {
		f := strings.SplitN(text, " ", 3) // a '\r' is part of a file's line: kept
		if f[0] == "" {
			continue
		}
		lines = append(lines, probeLine{tag: f[0], args: f[1:]})
	}
	return lines
}

// fileFromProbe finds the file reported under tag: its content, or null when absent.
func fileFromProbe(lines []probeLine, tag string) (cty.Value, error) {
	found := false
	var b strings.Builder
	for _, l := range lines {
		if len(l.args) < 1 || l.args[0] != tag {
			continue
		}
		rest := l.rest()
		switch l.tag {
		case "nofile":
			return cty.NullVal(cty.String), nil
		case "file":
			found = true
		case "fl":
			b.WriteString(rest)
			b.WriteByte('\n')
		case "flx":
			b.WriteString(rest)
		}
	}
	if !found {
		return cty.NilVal, fmt.Errorf("probe: no report for file %s (was the probe cut short?)", tag)
	}
	return cty.StringVal(b.String()), nil
}

// managedHeader is the first line of every file sparkform writes, so a person reading the host
// knows who owns the file and how to change it.
func managedHeader(addr string) string {
	return fmt.Sprintf("# Managed by sparkform (%s). Local edits are reverted on the next apply;\n# remove the block from the configuration to remove this file.\n", addr)
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
