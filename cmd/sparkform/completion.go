package main

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/sparkform/sparkform/internal/suggest"
)

// completion bash|zsh: a completion script for commands, subcommands and each command's flags,
// taken from the commands' own flag sets so it cannot fall out of date.
func runCompletion(in *invocation, _ *noFlags) int {
	switch in.arg {
	case "bash":
		fmt.Fprint(in.stdout, bashCompletion())
	case "zsh":
		// zsh runs the bash function through bashcompinit, which ships with zsh.
		fmt.Fprint(in.stdout, "#compdef sparkform\nautoload -U +X bashcompinit && bashcompinit\n"+bashCompletion())
	case "":
		return errorf(in.stderr, "completion: name the shell: sparkform completion bash (or zsh), e.g. in ~/.bashrc: source <(sparkform completion bash)")
	default:
		return errorf(in.stderr, "completion: %q is not a shell sparkform completes: bash or zsh.%s", in.arg, suggest.Hint(in.arg, []string{"bash", "zsh"}))
	}
	return 0
}

var helpFlagLine = regexp.MustCompile(`(?m)^  -([a-zA-Z0-9-]+)`)

// commandFlags lists a command's flags by asking it for its help.
func commandFlags(c cmdInfo, sub ...string) []string {
	var b bytes.Buffer
	c.run(append(sub, "-h"), &b, &b)
	var out []string
	for _, m := range helpFlagLine.FindAllStringSubmatch(b.String(), -1) {
		out = append(out, "-"+m[1])
	}
	sort.Strings(out)
	return out
}

func bashCompletion() string {
	var b strings.Builder
	b.WriteString(`# sparkform bash completion: source <(sparkform completion bash)
_sparkform() {
  local cur cmd i
  cur="${COMP_WORDS[COMP_CWORD]}"
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      -chdir=*) ;;
      -chdir) i=$((i + 1)) ;;
      -*) ;;
      *) cmd="${COMP_WORDS[i]}"; break ;;
    esac
  done
  if [ -z "$cmd" ]; then
`)
	fmt.Fprintf(&b, "    COMPREPLY=($(compgen -W %q -- \"$cur\"))\n    return\n  fi\n  local words\n  case \"$cmd\" in\n", strings.Join(append(commandNames(), "-chdir="), " "))
	for _, c := range commandTable() {
		var words []string
		switch c.name {
		case "state":
			words = append([]string{"list", "show", "rm", "pull", "push", "migrate", "versions"}, commandFlags(c, "list")...)
		case "lab":
			words = append([]string{"up", "down", "status"}, commandFlags(c, "up")...) // up's flags include the others
		case "completion":
			words = []string{"bash", "zsh"}
		default:
			words = commandFlags(c)
		}
		fmt.Fprintf(&b, "    %s) words=%q ;;\n", c.name, strings.Join(words, " "))
	}
	b.WriteString(`  esac
  case "$cur" in
    -*) COMPREPLY=($(compgen -W "$words" -- "$cur")) ;;
    *) COMPREPLY=($(compgen -W "$(echo "$words" | tr ' ' '\n' | grep -v '^-')" -- "$cur"))
       [ ${#COMPREPLY[@]} -eq 0 ] && COMPREPLY=($(compgen -f -- "$cur")) ;;
  esac
}
complete -F _sparkform sparkform
`)
	return b.String()
}
