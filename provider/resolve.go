package provider

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"
)

// endpoint is one fully resolved SSH hop.
type endpoint struct {
	alias    string // name looked up in ssh_config
	hostname string
	port     int
	user     string
	// identityFiles are tried after agent keys; explicitIdentity means only identityFiles[0] is used.
	identityFiles    []string
	explicitIdentity bool
	jumps            []endpoint // hops to go through first, in order
}

func (e endpoint) addr() string { return net.JoinHostPort(e.hostname, strconv.Itoa(e.port)) }

// sshConfig answers ssh_config lookups; a nil *sshConfig answers nothing.
type sshConfig struct {
	path string
	cfg  *ssh_config.Config
}

// loadSSHConfig reads path ("" → ~/.ssh/config; "none" → no file). A missing default file is
// normal; a missing explicitly named file is an error.
func loadSSHConfig(path string) (*sshConfig, error) {
	explicit := path != ""
	if path == "none" {
		return nil, nil
	}
	if !explicit {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, nil
		}
		path = filepath.Join(home, ".ssh", "config")
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading ssh config: %w", err)
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("parsing ssh config %s: %w", path, err)
	}
	return &sshConfig{path: path, cfg: cfg}, nil
}

// get returns the first value of key for the first alias that has one. sparkform hosts have a
// name and usually an address; `Host spark-*` and `Host 127.0.0.*` blocks should both apply.
func (s *sshConfig) get(key string, aliases ...string) string {
	if s == nil {
		return ""
	}
	for _, a := range aliases {
		if a == "" {
			continue
		}
		if v, err := s.cfg.Get(a, key); err == nil && v != "" {
			return v
		}
	}
	return ""
}

func (s *sshConfig) getAll(key string, aliases ...string) []string {
	if s == nil {
		return nil
	}
	for _, a := range aliases {
		if a == "" {
			continue
		}
		if v, err := s.cfg.GetAll(a, key); err == nil && len(v) > 0 {
			return v
		}
	}
	return nil
}

// resolve merges the sparkform host settings with ssh_config: explicit sparkform values win.
func resolve(c Config, sc *sshConfig) (endpoint, error) {
	aliases := []string{c.Name, c.Address}
	ep := endpoint{alias: c.Name, hostname: c.Address, port: c.Port, user: c.User}
	if ep.alias == "" {
		ep.alias = c.Address
	}
	if ep.hostname == "" {
		ep.hostname = expandTokens(sc.get("HostName", aliases...), c.Name)
	}
	if ep.hostname == "" {
		ep.hostname = c.Name
	}
	if ep.hostname == "" {
		return ep, errors.New("no address: set address in the host block or HostName in ~/.ssh/config")
	}
	if ep.port == 0 {
		if p := sc.get("Port", aliases...); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return ep, fmt.Errorf("ssh config %s: Port %q for %s is not a port number", sc.path, p, ep.alias)
			}
			ep.port = n
		}
	}
	if ep.port == 0 {
		ep.port = 22
	}
	if ep.user == "" {
		ep.user = sc.get("User", aliases...)
	}
	if ep.user == "" {
		ep.user = currentUser()
	}
	if c.IdentityFile != "" {
		ep.identityFiles, ep.explicitIdentity = []string{expandHome(c.IdentityFile)}, true
	} else {
		ep.identityFiles = identityFiles(sc, aliases...)
	}

	jump := c.ProxyJump
	if jump == "" {
		jump = sc.get("ProxyJump", aliases...)
	}
	if jump != "" && jump != "none" {
		for _, spec := range strings.Split(jump, ",") {
			j, err := resolveJump(strings.TrimSpace(spec), sc)
			if err != nil {
				return ep, err
			}
			ep.jumps = append(ep.jumps, j)
		}
	}
	return ep, nil
}

// resolveJump resolves one ProxyJump hop "[user@]host[:port]", itself looked up in ssh_config
// (as OpenSSH does). Nested ProxyJump of a jump host is not followed.
func resolveJump(spec string, sc *sshConfig) (endpoint, error) {
	var j endpoint
	rest := spec
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		j.user, rest = rest[:at], rest[at+1:]
	}
	host := rest
	if h, p, err := net.SplitHostPort(rest); err == nil {
		host = h
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return j, fmt.Errorf("ProxyJump %q: bad port %q", spec, p)
		}
		j.port = n
	}
	if host == "" {
		return j, fmt.Errorf("ProxyJump %q: no host", spec)
	}
	j.alias = host
	j.hostname = expandTokens(sc.get("HostName", host), host)
	if j.hostname == "" {
		j.hostname = host
	}
	if j.port == 0 {
		if p := sc.get("Port", host); p != "" {
			j.port, _ = strconv.Atoi(p)
		}
		if j.port == 0 {
			j.port = 22
		}
	}
	if j.user == "" {
		j.user = sc.get("User", host)
	}
	if j.user == "" {
		j.user = currentUser()
	}
	j.identityFiles = identityFiles(sc, host)
	return j, nil
}

// identityFiles are the ssh_config IdentityFile entries for the aliases, else OpenSSH's defaults.
// Only files that exist are returned: a missing default is not an error.
func identityFiles(sc *sshConfig, aliases ...string) []string {
	files := sc.getAll("IdentityFile", aliases...)
	if len(files) == 0 {
		files = []string{"~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"}
	}
	var out []string
	for _, f := range files {
		f = expandHome(f)
		if _, err := os.Stat(f); err == nil {
			out = append(out, f)
		}
	}
	return out
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// expandTokens handles the ssh_config token users put in HostName: %h (the alias) and %%.
func expandTokens(s, alias string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	return strings.NewReplacer("%h", alias, "%%", "%").Replace(s)
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}
