package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/internal/suggest"
)

// multiFlag collects a repeatable flag (-var, -host) in order.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// durationFlag is a duration flag that also takes a bare number as seconds (-connect-timeout 5,
// as OpenSSH's ConnectTimeout=5), so neither habit fails.
// With unit set a bare number is refused instead: the lab's -latency 25 is as likely meant as
// milliseconds as seconds.
type durationFlag struct {
	d    *time.Duration
	unit bool
}

// String is the duration as people write it, for -h's defaults: 10m, not Go's 10m0s.
func (f durationFlag) String() string {
	if f.d == nil {
		return "0s"
	}
	return english.Setting(*f.d)
}

func (f durationFlag) Set(v string) error {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if f.unit && n != 0 {
			return fmt.Errorf("give a unit: %sms or %ss", v, v)
		}
		if n < 0 {
			return errors.New("a duration cannot be negative")
		}
		*f.d = time.Duration(n * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("not a duration: write e.g. 5s, 2m or 1m30s (a bare number is seconds)")
	}
	if d < 0 {
		return errors.New("a duration cannot be negative")
	}
	*f.d = d
	return nil
}

// countFlag is a whole number of at least 1 (-parallelism): 0 or -3 used to mean the default
// without saying so.
type countFlag struct{ n *int }

func (f countFlag) String() string {
	if f.n == nil {
		return "0"
	}
	return strconv.Itoa(*f.n)
}

func (f countFlag) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return errors.New("give a whole number of at least 1")
	}
	*f.n = n
	return nil
}

// durationVar defines a durationFlag.
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	fs.Var(durationFlag{d: p}, name, usage+" (a `duration`: 5s, 2m; a bare number is seconds)")
}

// unitDurationVar defines a durationFlag that needs a unit (25ms, 1s).
func unitDurationVar(fs *flag.FlagSet, p *time.Duration, name string, usage string) {
	fs.Var(durationFlag{d: p, unit: true}, name, usage+" (a `duration` with its unit: 25ms, 1s)")
}

// newFlagSet makes a FlagSet that reports errors instead of exiting. The standard flag
// package already accepts -x and --x alike, as Terraform users expect. Its help (-h) starts
// with the command's synopsis.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sparkform "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: sparkform %s\n", synopsis(name))
		if c, ok := lookupCommand(strings.Fields(name)[0]); ok {
			fmt.Fprintf(w, "\n%s.\n", c.summary)
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// synopsis is the usage line of a command or subcommand ("state rm").
func synopsis(name string) string {
	switch name {
	case "state list":
		return "state list [HOST | ADDR | HOST/ADDR ...] [flags]"
	case "state show":
		return "state show HOST/ADDR | ADDR [flags]"
	case "state rm":
		return "state rm HOST/ADDR | ADDR ... [flags]"
	case "state pull":
		return "state pull [flags] > FILE"
	case "state push":
		return "state push FILE | - [flags]"
	case "state migrate":
		return "state migrate -to pg | local [flags]"
	case "state versions":
		return "state versions [-n N] [flags]"
	case "lab up":
		return "lab up [-n N] [-dir DIR] [-subnet S] [-latency D]"
	case "lab down", "lab status":
		return name + " [-dir DIR]"
	}
	if c, ok := lookupCommand(name); ok {
		return c.synopsis
	}
	return name + " [flags]"
}

var undefinedFlag = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)

// parseInterleaved parses flags that may come before or after positional arguments
// ("plan DIR -out x" and "plan -out x DIR" both work), returning the positionals. On a bad
// flag it prints the error with the closest flag name and the synopsis; on -h the help.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = usage }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			fs.SetOutput(out)
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, err
			}
			name := strings.TrimPrefix(fs.Name(), "sparkform ")
			hint := ""
			if m := undefinedFlag.FindStringSubmatch(err.Error()); m != nil {
				var flags []string
				fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f.Name) })
				if c := suggest.Closest(m[1], flags); c != "" {
					hint = " Did you mean -" + c + "?"
				} else if m[1] == "json" && fs.Lookup("format") != nil {
					hint = " Did you mean -format json?"
				} else if c, _, _ := strings.Cut(m[1], "="); c == "chdir" {
					hint = " -chdir is a global option: it goes before the command (sparkform -chdir=DIR " + name + ")."
				}
			}
			fmt.Fprintf(out, "Error: %v.%s\nusage: sparkform %s ('sparkform %s -h' lists the flags)\n", err, hint, synopsis(name), name)
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// atMostOne checks the positional count.
func atMostOne(cmd string, pos []string) (string, error) {
	switch len(pos) {
	case 0:
		return "", nil
	case 1:
		return pos[0], nil
	}
	hint := ""
	if cmd == "capture" {
		// plan DIR's habit: capture's argument is the host, its directory a flag.
		hint = " (capture reads one host; the configuration directory is -dir DIR)"
	}
	return "", fmt.Errorf("sparkform %s: too many arguments: %s%s", cmd, strings.Join(pos, " "), hint)
}
