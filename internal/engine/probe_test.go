package engine

import (
	"strings"
	"testing"

	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/sparkform/sparkform/resources"
)

func TestProbeScriptKeepsSectionsApartEvenWhenProbesMisbehave(t *testing.T) {
	frags := []string{
		factsProbe,
		"echo one; echo two",
		"printf 'no trailing newline'",
		"exit 3",
		// A probe that reads stdin must not eat the rest of the script.
		"cat; echo after-cat",
		// Output that imitates a marker without the token is just data.
		"echo '@@sparkform-0000 end 1 0'",
	}
	token := newToken()
	secs, err := splitSections(providertest.MustRun(t, probeScript(token, frags)), token, len(frags))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		out    string
		status int
	}{
		{"", 0}, {"one\ntwo\n", 0}, {"no trailing newline", 0}, {"", 3}, {"after-cat\n", 0}, {"@@sparkform-0000 end 1 0\n", 0},
	}
	for i, w := range want[1:] {
		s := secs[i+1]
		if string(s.stdout) != w.out || s.status != w.status {
			t.Errorf("section %d = %q (exit %d), want %q (exit %d)", i+1, s.stdout, s.status, w.out, w.status)
		}
	}
	f, err := parseFacts(secs[0])
	if err != nil {
		t.Fatal(err)
	}
	if f.Kernel == "" || !bootIDRe.MatchString(f.BootID) {
		t.Fatalf("facts not read: %+v", f)
	}
}

func TestSplitSectionsFailsOnTruncatedOutput(t *testing.T) {
	token := newToken()
	out := providertest.MustRun(t, probeScript(token, []string{"echo a", "echo b"}))
	cut := out[:len(out)-len(token)-10]
	if _, err := splitSections(cut, token, 2); err == nil {
		t.Fatal("truncated output must be an error, not a silently empty section")
	}
}

func TestParseFactsRejectsGarbageBootID(t *testing.T) {
	for _, garbage := range []string{"", "sudo: a password is required", "cat: /proc/sys/kernel/random/boot_id: No such file", "00000000"} {
		_, err := parseFacts(section{stdout: []byte("kernel 6.17.0-1014-nvidia\nboot_id " + garbage + "\n")})
		if err == nil {
			t.Errorf("boot_id %q accepted", garbage)
		}
	}
}

// The kernel release from the host goes into plans, state, baselines and reports: one that
// uname -r could not print (a blank, a control character, over 64 bytes) is refused.
func TestParseFactsRejectsAKernelReleaseUnameCannotPrint(t *testing.T) {
	const id = "0b6f1c52-7d4e-4b8a-9a63-2f0e5a1d9c11"
	for _, k := range []string{"6.17.0 \x1b[2J", "6.17\u202e0", strings.Repeat("6", 65), "6.17\x00"} {
		if f, err := parseFacts(section{stdout: []byte("kernel " + k + "\nboot_id " + id + "\n")}); err == nil {
			t.Errorf("kernel %q accepted as %q", k, f.Kernel)
		}
	}
	if f, err := parseFacts(section{stdout: []byte("kernel 6.17.0-1014-nvidia+\r\nboot_id " + id + "\n")}); err != nil || f.Kernel != "6.17.0-1014-nvidia+" {
		t.Errorf("a plain release: %+v, %v", f, err)
	}
}

func TestOrderChangesDestroysFirstThenDependenciesThenReboots(t *testing.T) {
	c := func(addr string, a resources.Action, reboot bool, deps ...string) *Change {
		return &Change{Addr: addr, Diff: resources.Diff{Action: a, RequiresReboot: reboot}, DependsOn: deps}
	}
	in := []*Change{
		c("kernel.k", resources.Update, true),
		c("sysctl.a", resources.Create, false, "readahead.r"),
		c("sysctl.gone", resources.Delete, false),
		c("readahead.r", resources.Update, false),
		c("sysctl.same", resources.NoOp, false),
		c("sysctl.gone2", resources.Delete, false),
	}
	var got []string
	for _, ch := range orderChanges(in) {
		got = append(got, ch.Addr)
	}
	want := "sysctl.gone2 sysctl.gone readahead.r sysctl.a kernel.k"
	if strings.Join(got, " ") != want {
		t.Fatalf("order = %s, want %s", strings.Join(got, " "), want)
	}
}
