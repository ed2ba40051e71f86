// Command sparkform is the CLI: it turns flags into engine calls and renders the results
// as text people can read or JSON for machines. One file per subcommand.
package main

import (
	"fmt"
	"io"
	"os"
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
