package main

// Failures at fleet scale: hosts that failed the same way are one error block, headed by their
// compact host list and count, showing one host's message; different failures stay apart.

import (
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
)

// maxFailureGroups is how many kinds of failure a view writes out; the rest are counted, with
// their hosts, and left to the logs (100 distinct errors would bury the summary).
const maxFailureGroups = 5

// failure is one host's error as a view shows it. address is the host's configured address
// ("" if unknown).
type failure struct {
	host, address, msg string
}

// failureKey is the failure's message with the host's own name and addresses taken out, and
// nothing else: hosts whose keys are equal failed the same way. The addresses are the configured
// one and the endpoint the connection's label names ("spark-02 (198.18.131.102:22)", resolved
// through ssh_config, so it may differ). A name or address counts only as a whole word
// (spark-1 is not masked in spark-10, 10.0.0.1 not in 10.0.0.12), and the key is built so no
// message text can pass for a masked name: two different errors never share a key.
func failureKey(f failure) string {
	type token struct{ text, mark string }
	toks := []token{{f.host, "n"}, {f.address, "a"}}
	for _, ep := range labelEndpoints(f.host, f.msg) {
		toks = append(toks, token{ep, "e"})
		if h, _, err := net.SplitHostPort(ep); err == nil {
			toks = append(toks, token{h, "a"})
		}
	}
	// Longest first, so an endpoint is masked whole before its address.
	sort.SliceStable(toks, func(i, j int) bool { return len(toks[i].text) > len(toks[j].text) })
	var b strings.Builder
	msg := f.msg
	for i := 0; i < len(msg); {
		masked := false
		for _, t := range toks {
			if t.text != "" && strings.HasPrefix(msg[i:], t.text) && wordAt(msg, i, i+len(t.text)) {
				b.WriteString("\x00" + t.mark)
				i += len(t.text)
				masked = true
				break
			}
		}
		if !masked {
			if msg[i] == 0 {
				b.WriteByte(0) // a NUL of the message is written twice: never a mark
			}
			b.WriteByte(msg[i])
			i++
		}
	}
	return b.String()
}

// labelEndpoints are the endpoints ("10.0.0.1:22", "[fd00::1]:22") the provider's connection
// label puts in parentheses after the host's name: "spark-02 (198.18.131.102:22): ...". Each
// distinct one once; a message is host text, so the search is bounded (a DNS name is at most
// 253 bytes) and so is the number kept.
func labelEndpoints(host, msg string) []string {
	var out []string
	for from := 0; host != "" && len(out) < 4; {
		i := strings.Index(msg[from:], host+" (")
		if i < 0 {
			break
		}
		i += from
		from = i + len(host)
		rest := msg[from+2:]
		end := strings.IndexByte(rest[:min(len(rest), 270)], ')')
		if !wordAt(msg, i, from) || end < 0 || slices.Contains(out, rest[:end]) {
			continue
		}
		if _, port, err := net.SplitHostPort(rest[:end]); err == nil && port != "" && strings.Trim(port, "0123456789") == "" {
			out = append(out, rest[:end])
		}
	}
	return out
}

// wordAt reports whether msg[i:j] is a whole word: not inside a longer name or address. A full
// stop after it ends a sentence, not a name.
func wordAt(msg string, i, j int) bool {
	name := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	if i > 0 && (name(msg[i-1]) || msg[i-1] == ':') {
		return false
	}
	if j < len(msg) && name(msg[j]) {
		return msg[j] == '.' && (j+1 == len(msg) || !name(msg[j+1]))
	}
	return true
}

// failureTemplate writes a key for people: the host's name as <host>, its addresses as <address>.
func failureTemplate(key string) string {
	return strings.NewReplacer("\x00\x00", "\x00", "\x00n", "<host>", "\x00a", "<address>", "\x00e", "<address>").Replace(key)
}

// groupFailures puts hosts that failed the same way together, in the order of their first host.
func groupFailures(fs []failure) []*group[failure] { return groupBy(fs, failureKey) }

// planFailures are the plan's hosts that could not be planned.
func planFailures(p *engine.Plan) []failure {
	var out []failure
	for _, h := range p.Failed() {
		out = append(out, failure{h.Name, h.Address, h.Error})
	}
	return out
}

// failureHosts are the names of a group's hosts.
func failureHosts(fs []failure) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.host
	}
	return out
}

// failureView writes failures as "Error:" blocks. With tails, a block shows the last lines
// of its first host's log and where the others' logs are; spaced blocks are set apart by blank
// lines (an apply's end), else they follow one another (errors on stderr).
type failureView struct {
	st            style
	logs          *runLogs
	tails, spaced bool
}

// write writes one block per kind of failure, at most maxFailureGroups: the hosts (one by name,
// several as a compact list and a count) and the first host's message.
func (v failureView) write(w io.Writer, fs []failure) {
	groups := groupFailures(fs)
	gap := ""
	if v.spaced {
		gap = "\n"
	}
	for i, g := range groups {
		if i == maxFailureGroups {
			writeMoreFailures(w, groups[i:], v.logs, gap)
			return
		}
		f, n := g.items[0], len(g.items)
		label, msg, note := "", f.msg, ""
		switch {
		case n == 1: // named once: a connection error starts with it ("spark-13 (198.18.0.113:22): ...")
			if !strings.HasPrefix(msg, f.host+" ") && !strings.HasPrefix(msg, f.host+":") {
				label = countedHosts([]string{f.host}) + ": "
			}
		default:
			label = countedHosts(failureHosts(g.items)) + ": "
			if g.key != failureKey(failure{msg: f.msg}) {
				note = fmt.Sprintf("  (as %s reported it; the others' messages name their own host)\n", termsafe.Line(f.host))
			}
		}
		fmt.Fprintf(w, "%s%s %s%s\n%s", gap, v.st.red(v.st.bold("Error:")), label, termsafe.Text(msg), note)
		if !v.tails {
			continue
		}
		if tail := v.logs.tail(f.host, 10); len(tail) > 0 {
			others := ""
			if n > 1 {
				others = " (the others' logs are beside it)"
			}
			fmt.Fprintf(w, "  last lines of %s%s:\n", termsafe.Line(v.logs.path(f.host)), others)
			for _, l := range tail {
				fmt.Fprintf(w, "  │ %s\n", l)
			}
		}
	}
}

// writeMoreFailures counts the kinds of failure beyond maxFailureGroups and names their hosts.
func writeMoreFailures(w io.Writer, rest []*group[failure], logs *runLogs, gap string) {
	var hosts []string
	for _, g := range rest {
		hosts = append(hosts, failureHosts(g.items)...)
	}
	kinds := plural(len(rest), "more kind")
	fmt.Fprintf(w, "%s… and %s of failure, on %s: %s", gap, kinds, plural(len(hosts), "host"), termsafe.Line(shortHosts(hosts)))
	if logs.written() {
		fmt.Fprintf(w, "; their logs are in %s/", termsafe.Line(logs.dir))
	}
	fmt.Fprintln(w)
}
