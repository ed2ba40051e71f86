package lab

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// SSHOptions are the OpenSSH client options (for ssh, sftp and scp) that reach the lab's hosts
// with strict host key checking against the lab's known_hosts, never asking anything.
func (l *Lab) SSHOptions() []string {
	return []string{
		"-F", "/dev/null",
		"-i", l.KeyPath(),
		"-o", "IdentitiesOnly=yes",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + l.KnownHostsPath(),
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=10",
		"-o", "LogLevel=ERROR",
	}
}

// SSH runs command on host as user with the real OpenSSH client (the remote shell parses it, so
// quote what goes into it). A non-zero exit status is an error carrying the status and stderr.
func (l *Lab) SSH(ctx context.Context, host, user, command string) (stdout, stderr string, err error) {
	h, err := l.Host(host)
	if err != nil {
		return "", "", err
	}
	args := append(l.SSHOptions(), "-p", strconv.Itoa(h.Port), "-l", user, h.Address, "--", command)
	cmd := exec.CommandContext(ctx, "ssh", args...)
	var o, e bytes.Buffer // separate buffers: never one shared writer for both streams
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("ssh %s@%s %q: %w: %s", user, h.Name, command, err, strings.TrimSpace(e.String()))
	}
	return o.String(), e.String(), err
}
