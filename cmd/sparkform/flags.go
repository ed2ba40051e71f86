package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// multiFlag collects a repeatable flag (-var, -host) in order.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// newFlagSet makes a FlagSet that reports errors instead of exiting. The standard flag
// package already accepts -x and --x alike, as Terraform users expect.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sparkform "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseInterleaved parses flags that may come before or after positional arguments
// ("plan DIR -out x" and "plan -out x DIR" both work), returning the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
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
	return "", fmt.Errorf("sparkform %s: too many arguments: %s", cmd, strings.Join(pos, " "))
}
