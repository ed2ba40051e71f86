package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/sparkform/sparkform/internal/lab"
	"github.com/sparkform/sparkform/internal/suggest"
	"github.com/sparkform/sparkform/internal/termsafe"
)

const labUsage = `usage: sparkform lab up [-n N] [-dir DIR] [-subnet S] [-latency D]  boot a lab of N hosts (default 3)
       sparkform lab down [-dir DIR]                                stop every host of the lab
       sparkform lab status [-dir DIR]                              host, address, state, kernel, boot_id

'sparkform lab SUBCOMMAND -h' lists a subcommand's flags.
`

// labSubcommands are lab's subcommands, for "did you mean".
var labSubcommands = []string{"up", "down", "status"}

// runLab implements `sparkform lab up|down|status`: a fleet of real OpenSSH hosts on this machine
// (needs root, Linux, overlayfs, unshare, mmdebstrap, nft) for trying sparkform and for its tests.
// Its usage errors exit 1, as every other command's (2 means "changes present").
func runLab(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, labUsage)
		return 1
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "up", "down", "status":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, labUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "Error: unknown lab subcommand %q.%s\n\n%s", sub, suggest.Hint(sub, labSubcommands), labUsage)
		return 1
	}
	fs := newFlagSet("lab "+sub, stderr)
	dir := fs.String("dir", ".sparkform-lab", "lab directory (hosts.hcl, client key, known_hosts, host disks)")
	var n, subnet *int
	var latency time.Duration
	if sub == "up" {
		n = fs.Int("n", 3, "number of hosts (a running lab only grows)")
		subnet = fs.Int("subnet", 0, "hosts are 198.18.SUBNET.101 and up, each in its own network namespace")
		// A unit is required: a bare 25 meant as milliseconds would be 25 s of delay.
		unitDurationVar(fs, &latency, "latency", "one-way delay added to every packet between this machine and the hosts (a round trip costs twice that)")
	}
	rest, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 1
	}
	if len(rest) > 0 {
		return errorf(stderr, "lab %s: unexpected arguments %q (the lab's directory is -dir DIR)", sub, rest)
	}
	ctx, _, stop := interruptible(stderr, true)
	defer stop()
	fail := func(err error) int { return errorf(stderr, "%v", err) }
	var l *lab.Lab
	switch sub {
	case "up":
		l, err = lab.Up(ctx, lab.Options{Dir: *dir, N: *n, Subnet: *subnet, Latency: latency, Log: stderr})
	default:
		l, err = lab.Open(*dir)
	}
	if err != nil {
		return fail(err)
	}
	if sub == "down" {
		if err := l.Down(ctx); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "lab %s: %s stopped\n", l.Dir(), plural(len(l.Hosts()), "host"))
		return 0
	}
	st, err := l.Status(ctx)
	if err != nil {
		return fail(err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if sub == "up" {
		fmt.Fprintln(tw, "HOST\tADDRESS\tUSER\tSTATE")
		for _, s := range st {
			fmt.Fprintf(tw, "%s\t%s\troot\t%s\n", s.Name, s.Address, s.State)
		}
		tw.Flush()
		fmt.Fprintf(stdout, "\ninventory: %s\nssh: ssh -i %s -o UserKnownHostsFile=%s root@%s\n",
			l.HostsHCLPath(), l.KeyPath(), l.KnownHostsPath(), st[0].Address)
		return 0
	}
	fmt.Fprintln(tw, "HOST\tADDRESS\tSTATE\tKERNEL\tBOOT_ID")
	for _, s := range st {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.Address, s.State, termsafe.Line(dash(s.Kernel)), termsafe.Line(dash(s.BootID)))
	}
	tw.Flush()
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
