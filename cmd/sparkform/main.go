// Command sparkform is the CLI: it turns flags into engine calls and renders the results
// as text people can read or JSON for machines. One file per subcommand.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sparkform/sparkform/internal/suggest"
)

type command func(args []string, stdout, stderr io.Writer) int

// cmdInfo is one command: its synopsis (after "sparkform "), what it does, and how to make its
// function (given its name: newCommand, newHostCommand or plainCommand).
type cmdInfo struct {
	name, synopsis, summary string
	main                    bool // listed under "Main commands"
	make                    func(name string) command
}

// run runs the command with its arguments (after the command's name).
func (c cmdInfo) run(args []string, stdout, stderr io.Writer) int {
	return c.make(c.name)(args, stdout, stderr)
}

// commandTable lists every command in the order `sparkform -h` shows them.
func commandTable() []cmdInfo {
	return []cmdInfo{
		{"plan", "plan [DIR] [flags]", "Show what would change on each host", true, newHostCommand(true, 0, runPlan)},
		{"apply", "apply [DIR | PLANFILE] [flags]", "Change hosts to match the configuration", true, newHostCommand(false, flagAutoApprove, runApply)},
		{"validate", "validate [DIR] [flags]", "Check the configuration without connecting to any host", true, newCommand(flagVars|flagJSON, dirArg, runValidate)},
		{"fmt", "fmt [DIR] [flags]", "Rewrite configuration files in canonical format", true, newCommand(0, dirArg, runFmt)},
		{"test", "test [DIR] [flags]", "Run the smoke tests now (model-load timing) and record the results", false, newHostCommand(false, 0, runTest)},
		{"drift", "drift [DIR] [flags]", "Read-only: which hosts differ from the configuration and the state", false, newHostCommand(true, 0, runDrift)},
		{"capture", "capture [HOST | user@address[:port]] [flags]", "Read-only: write HCL reproducing a host set up by hand", false, newCommand(flagVars|flagState|flagConnectTimeout|flagNoColor, oneArg, runCapture)},
		{"history", "history [DIR] [flags]", "List each host's generations (successful applies) and incidents", false, newCommand(flagHostNames|flagState|flagJSON, dirArg, runHistory)},
		{"report", "report [DIR] [flags]", "Model-load times per host and generation: table, CSV, JSON or SVG chart", false, newCommand(flagHostNames|flagState, dirArg, runReport)},
		{"rollback", "rollback [DIR] [flags]", "Return hosts to an earlier generation (plan, confirm, apply)", false, newHostCommand(false, flagAutoApprove, runRollback)},
		{"show", "show [PLANFILE | DIR] [flags]", "Show a saved plan or the state", false, newCommand(flagJSON|flagState|flagNoColor|flagHostNames, oneArg, runShow)},
		{"state", "state list | show ADDR | rm ADDR... | pull | push FILE | migrate -to pg|local | versions [flags]", "Inspect, edit or move the state", false, plainCommand(runState)},
		{"lab", "lab up | down | status [flags]", "Run a local fleet of test hosts", false, plainCommand(runLab)},
		{"completion", "completion bash | zsh", "Print a shell completion script (source it from your shell's rc file)", false, newCommand(0, oneArg, runCompletion)},
		{"version", "version", "Print the sparkform version", false, newCommand(0, anyArgs, runVersion)},
	}
}

func lookupCommand(name string) (cmdInfo, bool) {
	for _, c := range commandTable() {
		if c.name == name {
			return c, true
		}
	}
	return cmdInfo{}, false
}

func commandNames() []string {
	var out []string
	for _, c := range commandTable() {
		out = append(out, c.name)
	}
	return out
}

// usage is the top-level help.
func usage() string {
	var b strings.Builder
	b.WriteString("Usage: sparkform [-chdir=DIR] <command> [args]\n\nMain commands:\n")
	for _, c := range commandTable() {
		if c.main {
			fmt.Fprintf(&b, "  %-11s%s\n", c.name, c.summary)
		}
	}
	b.WriteString("\nOther commands:\n")
	for _, c := range commandTable() {
		if !c.main {
			fmt.Fprintf(&b, "  %-11s%s\n", c.name, c.summary)
		}
	}
	b.WriteString(`
Global options (before the command):
  -chdir=DIR Work in DIR: its configuration, state and plan files (as Terraform)

Every command finds the configuration and the state the same way: the DIR argument where the
command takes one, else the current directory (see -chdir); the state is DIR/sparkform.state.json
unless -state FILE says otherwise.

Flags accept one or two dashes (-out and --out). 'sparkform <command> -h' lists a command's flags.
SPARKFORM_LOG=debug writes a debug log to standard error (SPARKFORM_LOG_PATH=FILE: to FILE).
`)
	return b.String()
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	// -chdir=DIR (Terraform's global option): every command then works in DIR, so its
	// configuration, state, plan files and logs are found there.
	if len(args) > 0 && (args[0] == "-chdir" || args[0] == "--chdir" || strings.HasPrefix(args[0], "-chdir=") || strings.HasPrefix(args[0], "--chdir=")) {
		_, dir, found := strings.Cut(args[0], "=")
		args = args[1:]
		if !found {
			if len(args) == 0 {
				return errorf(stderr, "-chdir needs a directory: sparkform -chdir=DIR COMMAND")
			}
			dir, args = args[0], args[1:]
		}
		if err := os.Chdir(dir); err != nil {
			return errorf(stderr, "-chdir: %v", err)
		}
	}
	if len(args) > 1 && args[0] == "help" {
		// sparkform help plan (Terraform's habit) is sparkform plan -h.
		args = append(args[1:], "-h")
	}
	if len(args) == 0 || isHelpFlag(args[0]) || args[0] == "help" {
		if len(args) == 0 {
			fmt.Fprint(stderr, usage())
			return 1
		}
		fmt.Fprint(stdout, usage())
		return 0
	}
	if args[0] == "-version" || args[0] == "--version" || args[0] == "-v" {
		args[0] = "version"
	}
	c, ok := lookupCommand(args[0])
	if !ok {
		hint := suggest.Hint(args[0], commandNames())
		if strings.HasPrefix(args[0], "-") {
			fmt.Fprintf(stderr, "Error: %s is not a global option (only -chdir=DIR is; flags go after the command).\n\n%s", args[0], usage())
			return 1
		}
		fmt.Fprintf(stderr, "Error: unknown command %q.%s\n\n%s", args[0], hint, usage())
		return 1
	}
	stopLog := startDebugLog(stderr, args)
	defer stopLog()
	// -h anywhere before "--" asks for the command's synopsis and flags: on standard output,
	// exit 0 (the flag package would write them to standard error and fail).
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if isHelpFlag(a) {
			c.run(args[1:], stdout, stdout)
			return 0
		}
	}
	return c.run(args[1:], stdout, stderr)
}

func isHelpFlag(a string) bool {
	return a == "-h" || a == "--h" || a == "-help" || a == "--help"
}

// version: the build's version (arguments are ignored).
func runVersion(in *invocation, _ *noFlags) int {
	if len(in.args) > 0 {
		return errorf(in.stderr, "version takes no arguments: %s", strings.Join(in.args, " "))
	}
	fmt.Fprintln(in.stdout, "sparkform", version)
	return 0
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"
