// Command sparkform is the CLI: it turns flags into engine calls and renders the results
// as text people can read or JSON for machines. One file per subcommand.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `Usage: sparkform <command> [args]

Main commands:
  plan       Show what would change on each host
  apply      Change hosts to match the configuration
  validate   Check the configuration without connecting to any host
  fmt        Rewrite configuration files in canonical format

Other commands:
  test       Run the smoke tests now (model-load timing) and record the results
  drift      Read-only: which hosts differ from the configuration and the state
  capture    Read-only: write HCL reproducing a host set up by hand (kernel, sysctl, read-ahead, venvs, llama.cpp)
  history    List each host's generations (successful applies) and incidents
  report     Model-load times per host and generation: table, CSV, JSON or SVG chart
  rollback   Return hosts to an earlier generation (plan, confirm, apply)
  show       Show a saved plan or the state
  state      Inspect or edit the state: list | show ADDR | rm ADDR
  lab        Run a local fleet of test hosts: up | down | status

Global options (before the command):
  -chdir=DIR Work in DIR: its configuration, state and plan files (as Terraform)

Every command finds the configuration and the state the same way: the DIR argument where the
command takes one, else the current directory (see -chdir); the state is DIR/sparkform.state.json
unless -state FILE says otherwise.

Flags accept one or two dashes (-out and --out). Run 'sparkform <command> -h' for a command's flags.
`

type command func(args []string, stdout, stderr io.Writer) int

func commands() map[string]command {
	return map[string]command{
		"plan":     runPlan,
		"apply":    runApply,
		"validate": runValidate,
		"fmt":      runFmt,
		"show":     runShow,
		"state":    runState,
		"lab":      runLab,
		"history":  runHistory,
		"drift":    runDrift,
		"capture":  runCapture,
		"test":     runTest,
		"rollback": runRollback,
		"report":   runReport,
	}
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
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 1
		}
		return 0
	}
	if args[0] == "version" || args[0] == "-version" || args[0] == "--version" {
		fmt.Fprintln(stdout, "sparkform", version)
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "sparkform: unknown command %q\n\n%s", args[0], usage)
		return 1
	}
	return cmd(args[1:], stdout, stderr)
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"
