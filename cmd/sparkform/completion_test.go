package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// zshComplete (run with zsh -c) drives a real interactive zsh in a pseudo-terminal (zsh/zpty): compinit, the
// completion script ($1), then the line ($2) and a TAB. compadd is wrapped to print what zsh's
// own matching kept, one <<candidate>> per line, before the widget on ^X ends the shell.
const zshComplete = `zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT='' RPROMPT=''; autoload -U compinit && compinit -u -D && source $1"
zpty -w z 'compadd () { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; typeset -a __hits; builtin compadd -A __hits "$@"; (( $#__hits )) && print -l -- "<""<"${^__hits}">>"; }'
zpty -w z "zle_done() { print '<''<END>>'; exit }; zle -N zle_done; bindkey '^X' zle_done"
zpty -w -n z "$2"$'\t\x18'
out=""
while zpty -r z line; do
  out+="$line"
  [[ $line == *'<<END>>'* ]] && break
done
print -r -- "$out" | grep -ao '<<[^<>]*>>' | grep -v '<<END>>' | tr -d '<>' | sort -u
zpty -d z
`

func needShell(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required under CI (scripts/install-deps.sh installs it)", name)
		}
		t.Skipf("no %s (scripts/install-deps.sh installs it)", name)
	}
	return p
}

// `sparkform completion zsh` loaded as a user loads it (compinit, then the script) completes
// commands, flags after -chdir and subcommand words in a real interactive zsh, through zsh's
// own matching; a broken script completes nothing and fails this test.
func TestZshCompletionCompletesCommandsAndFlagsInARealZsh(t *testing.T) {
	zsh := needShell(t, "zsh")
	code, script, _ := cli(t, "completion", "zsh")
	if code != 0 {
		t.Fatal("completion zsh failed")
	}
	home := t.TempDir()
	f, err := os.CreateTemp(home, "_sparkform*.zsh")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(script)
	f.Close()
	complete := func(line string) string {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, zsh, "-f", "-c", zshComplete, "zsh", f.Name(), line)
		cmd.Env = append(os.Environ(), "HOME="+home, "TERM=xterm")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("zsh completing %q: %v\n%s", line, err, out)
		}
		return strings.Join(strings.Fields(string(out)), " ")
	}
	for line, want := range map[string]string{
		"sparkform pl":                   "plan",
		"sparkform -chdir=x apply -auto": "-auto-approve",
		"sparkform completion ":          "bash zsh",
		"sparkform plan -detailed-exit":  "-detailed-exitcode",
		"sparkform state mi":             "migrate",
	} {
		if got := complete(line); got != want {
			t.Errorf("zsh: %s<TAB> = %q, want %q", line, got, want)
		}
	}
	// Bash registers the function for the command as it would from ~/.bashrc.
	code, script, _ = cli(t, "completion", "bash")
	out, err := exec.Command(needShell(t, "bash"), "-c", script+"\ncomplete -p sparkform").CombinedOutput()
	if code != 0 || err != nil || strings.TrimSpace(string(out)) != "complete -F _sparkform sparkform" {
		t.Errorf("bash: complete -p sparkform: %v\n%s", err, out)
	}
}

func TestBashCompletionCompletesCommandsAndTheirFlags(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	code, script, _ := cli(t, "completion", "bash")
	if code != 0 {
		t.Fatal("completion bash failed")
	}
	complete := func(words ...string) string {
		line := fmt.Sprintf("%s\nCOMP_WORDS=(%s); COMP_CWORD=%d; _sparkform; echo \"${COMPREPLY[*]}\"", script, strings.Join(words, " "), len(words)-1)
		out, err := exec.Command(bash, "-c", line).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", words, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := complete("sparkform", "pl"); got != "plan" {
		t.Errorf("sparkform pl<TAB> = %q", got)
	}
	if got := complete("sparkform", "-chdir=x", "apply", "-auto"); got != "-auto-approve" {
		t.Errorf("sparkform apply -auto<TAB> = %q", got)
	}
	if got := complete("sparkform", "lab", "-l"); got != "-latency" {
		t.Errorf("sparkform lab -l<TAB> = %q: the lab's flags come from its flag sets too", got)
	}
	if got := complete("sparkform", "lab", "s"); got != "status" {
		t.Errorf("sparkform lab s<TAB> = %q", got)
	}
	if got := complete("sparkform", "completion", ""); got != "bash zsh" {
		t.Errorf("sparkform completion <TAB> = %q", got)
	}
	if code, zsh, _ := cli(t, "completion", "zsh"); code != 0 || !strings.Contains(zsh, "bashcompinit") {
		t.Errorf("completion zsh: %d\n%s", code, zsh)
	}
}
