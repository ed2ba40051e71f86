package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/resources"
)

// hostFacts are read from every host in the same round trip as the resources' probes.
type hostFacts struct {
	Kernel string // uname -r
	BootID string // /proc/sys/kernel/random/boot_id
}

// The facts every plan shows; the boot_id shape is checked because an error message is not a boot_id.
// Read with builtins (the kernel's osrelease is what uname -r prints): no process is started.
// inlineFragment starts a fragment that runs in the script's own shell, not a subshell: only
// the engine's facts, which are builtins that neither exit nor read stdin.
const inlineFragment = "# inline\n"

const factsProbe = inlineFragment + `k=; IFS= read -r k < /proc/sys/kernel/osrelease; printf 'kernel %s\n' "$k"
b=; IFS= read -r b < /proc/sys/kernel/random/boot_id; printf 'boot_id %s\n' "$b"
`

var bootIDRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// section is one probe's share of the round trip's output.
type section struct {
	stdout []byte
	status int
}

func (s section) text() string { return strings.TrimSpace(string(s.stdout)) }

// probeScript joins fragments into one script. Each runs in its own subshell with stdin from
// /dev/null (the script itself arrives on stdin, so a probe reading stdin would eat it), framed by
// markers carrying a random token, so no output of a probe can forge another's section.
func probeScript(token string, fragments []string) string {
	var b strings.Builder
	b.WriteString("export LC_ALL=C\n")
	for i, f := range fragments {
		if strings.TrimSpace(f) == ":" || strings.TrimSpace(f) == "" {
			// nothing to read (a check such as smoke_test): no subshell to start
			fmt.Fprintf(&b, "printf '%%s begin %d\\n\\n%%s end %d 0\\n' %s %s\n", i, i, token, token)
			continue
		}
		if strings.HasPrefix(f, inlineFragment) {
			// the engine's own facts: builtins that cannot exit or read stdin, run in place
			fmt.Fprintf(&b, "printf '%%s begin %d\\n' %s\n%s\nprintf '\\n%%s end %d 0\\n' %s\n", i, token, f, i, token)
			continue
		}
		fmt.Fprintf(&b, "printf '%%s begin %d\\n' %s\n(\n%s\n) </dev/null\nprintf '\\n%%s end %d %%d\\n' %s \"$?\"\n", i, token, f, i, token)
	}
	return b.String()
}

// changeScript joins change fragments into one script, framed like probeScript (stderr goes with
// stdout into the section: it is the failure message), run in order; after the first fragment
// that fails, none runs.
func changeScript(token string, fragments []string) string {
	var b strings.Builder
	b.WriteString("export LC_ALL=C\n")
	for i, f := range fragments {
		fmt.Fprintf(&b, "printf '%%s begin %d\\n' %s\n(\n%s\n) </dev/null 2>&1\ns=$?\nprintf '\\n%%s end %d %%d\\n' %s \"$s\"\n[ \"$s\" = 0 ] || exit 0\n", i, token, f, i, token)
	}
	return b.String()
}

// splitRan parses the output of changeScript: the sections of the fragments that ran to their
// end, in order (a fragment that failed is the last of them).
func splitRan(out []byte, token string, n int) []section {
	secs, seen, _ := parseSections(out, token, n)
	var ran []section
	for i := 0; i < n && seen[i]; i++ {
		ran = append(ran, secs[i])
	}
	return ran
}

// splitSections parses the output of probeScript into n sections.
func splitSections(out []byte, token string, n int) ([]section, error) {
	secs, seen, err := parseSections(out, token, n)
	if err != nil {
		return nil, err
	}
	for i, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("probe output ended before section %d of %d (connection lost?)", i+1, n)
		}
	}
	return secs, nil
}

// parseSections reads the framed sections in out; seen tells which ended.
func parseSections(out []byte, token string, n int) ([]section, []bool, error) {
	secs := make([]section, n)
	seen := make([]bool, n)
	begin := []byte(token + " begin ")
	end := []byte(token + " end ")
	cur := -1
	var buf bytes.Buffer
	for _, line := range bytes.SplitAfter(out, []byte("\n")) {
		trimmed := bytes.TrimRight(line, "\n")
		switch {
		case bytes.HasPrefix(trimmed, begin):
			i, err := strconv.Atoi(string(trimmed[len(begin):]))
			if err != nil || i < 0 || i >= n {
				return nil, nil, fmt.Errorf("probe output: bad section marker %q", trimmed)
			}
			cur = i
			buf.Reset()
		case bytes.HasPrefix(trimmed, end):
			f := strings.Fields(string(trimmed[len(end):]))
			if cur < 0 || len(f) != 2 || f[0] != strconv.Itoa(cur) {
				return nil, nil, fmt.Errorf("probe output: unexpected end marker %q", trimmed)
			}
			st, err := strconv.Atoi(f[1])
			if err != nil {
				return nil, nil, fmt.Errorf("probe output: bad status in %q", trimmed)
			}
			// The end marker starts with a newline of its own; drop it.
			body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
			secs[cur] = section{stdout: append([]byte(nil), body...), status: st}
			seen[cur] = true
			cur = -1
		default:
			if cur >= 0 {
				buf.Write(line)
			}
		}
	}
	return secs, seen, nil
}

// tooLargeNamed names, for output past the host's bound, the probe that was printing when the
// bound was reached (name(i) for fragment i ≥ 1; fragment 0 is the facts); other errors pass.
func tooLargeNamed(err error, token string, name func(i int) string) error {
	var tl *provider.OutputTooLargeError
	if !errors.As(err, &tl) {
		return err
	}
	what := "the facts probe"
	if i := openSection(tl.Result.Stdout, token); i > 0 {
		what = name(i)
	}
	return fmt.Errorf("%s printed too much: %w", what, err)
}

// openSection is the fragment whose begin marker is the last one in out, or -1.
func openSection(out []byte, token string) int {
	begin := []byte("\n" + token + " begin ")
	j := bytes.LastIndex(append([]byte("\n"), out...), begin)
	if j < 0 {
		return -1
	}
	rest := out[j+len(begin)-1:]
	if k := bytes.IndexByte(rest, '\n'); k >= 0 {
		rest = rest[:k]
	}
	i, err := strconv.Atoi(string(rest))
	if err != nil {
		return -1
	}
	return i
}

func newToken() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "@@sparkform-" + hex.EncodeToString(b)
}

// probeHost reads the host's facts and every instance's probe in one exec round trip.
func probeHost(ctx context.Context, h provider.Host, instances []resources.Instance, timeout time.Duration) (hostFacts, []section, error) {
	frags := []string{factsProbe}
	for _, in := range instances {
		r, ok := resources.Lookup(in.Type)
		if !ok {
			return hostFacts{}, nil, fmt.Errorf("unknown resource type %q", in.Type)
		}
		frags = append(frags, r.Probe(in))
	}
	token := newToken()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := h.Run(ctx, probeScript(token, frags))
	if err != nil {
		return hostFacts{}, nil, fmt.Errorf("reading facts: %w", tooLargeNamed(err, token, func(i int) string { return "the probe of " + instances[i-1].Addr() }))
	}
	secs, err := splitSections(res.Stdout, token, len(frags))
	if err != nil {
		return hostFacts{}, nil, fmt.Errorf("reading facts: %w; stderr: %s", err, strings.TrimSpace(string(res.Stderr)))
	}
	facts, err := parseFacts(secs[0])
	if err != nil {
		return hostFacts{}, nil, err
	}
	return facts, secs[1:], nil
}

func parseFacts(s section) (hostFacts, error) {
	var f hostFacts
	for _, line := range strings.Split(string(s.stdout), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "kernel":
			f.Kernel = strings.TrimSpace(v)
		case "boot_id":
			f.BootID = strings.TrimSpace(v)
		}
	}
	if !bootIDRe.MatchString(f.BootID) {
		return f, fmt.Errorf("reading facts: boot_id %q is not a boot id", f.BootID)
	}
	if f.Kernel == "" {
		return f, fmt.Errorf("reading facts: uname -r printed nothing")
	}
	if !kernelReleaseRe.MatchString(f.Kernel) {
		return f, fmt.Errorf("reading facts: the kernel release %q is not one uname -r prints (printable, no blanks, at most 64 bytes)", f.Kernel)
	}
	return f, nil
}

// kernelReleaseRe is what uname -r can print: the kernel's release string, at most 64 bytes
// (__NEW_UTS_LEN); the kernel goes into plans, state, smoke-test baselines and reports.
var kernelReleaseRe = regexp.MustCompile(`^[!-~]{1,64}$`)
