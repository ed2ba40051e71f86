package lab

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/sparkform/sparkform/internal/atomicfile"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sparkform/sparkform/internal/english"
	"golang.org/x/crypto/ssh"
)

// Options describe a lab. Zero values take the defaults documented on each field.
type Options struct {
	Dir         string        // lab directory (hosts.hcl, client key, known_hosts, host state); default ".sparkform-lab"
	N           int           // number of hosts spark-01..spark-NN; default 3. A running lab is never shrunk.
	Subnet      int           // hosts are 198.18.<Subnet>.<100+i> on the lab's bridge; labs running at once need different subnets
	NoNvcc      []string      // hosts created without the nvcc stand-in (/usr/local/cuda/bin/nvcc)
	ModelSize   int64         // bytes of /models/gpt-oss-120b.gguf (and of the safetensors model) on each new host; default 32 MiB
	RebootDelay time.Duration // time a host stays down after a reboot or crash; default 1s
	CacheDir    string        // image and artifacts cache; default DefaultCacheDir
	Log         io.Writer     // progress messages; default discarded
	// Latency is the one-way delay added to every packet between the controller and the hosts
	// (a round trip costs twice that); 0: none. Up on a running lab changes it.
	Latency time.Duration
}

// ModelPath is where each host's model file lives.
const ModelPath = "/models/gpt-oss-120b.gguf"

// SafetensorsModelDir is each host's safetensors model for vLLM, in the Hugging Face layout
// (config.json and one model-00001-of-00001.safetensors of Options.ModelSize bytes).
const SafetensorsModelDir = "/models/qwen3-next-80b-fp8"

// safetensorsConfig is the model's config.json.
const safetensorsConfig = `{"architectures": ["Qwen3NextForCausalLM"], "model_type": "qwen3_next", "torch_dtype": "bfloat16", "quantization_config": {"quant_method": "fp8"}}
`

// hostModels are the cached model files a new host gets a copy of.
type hostModels struct{ gguf, safetensors string }

// Disks are the NVMe devices each host's /sys/block shows.
var Disks = []string{"nvme0n1", "nvme1n1"}

// HostInfo describes one lab host.
type HostInfo struct {
	Name    string // spark-NN
	Address string // its address on the lab network (198.18.S.100+i), where its sshd listens (port 22)
	Port    int
	Nvcc    bool   // created with the nvcc stand-in
	Dir     string // host directory: upper/ (its disk), console.log, booted, ...
}

// HostStatus is one host's state as seen from outside.
type HostStatus struct {
	Name, Address string
	// State: "up" (sshd answers), "booting" (powered, sshd not answering yet, or a kernel that
	// fails to boot), "frozen", "partitioned", "off" (powered off) or "down" (lab stopped).
	State  string
	Kernel string // kernel of the current (or last) boot, as uname -r reports it inside
	BootID string // /proc/sys/kernel/random/boot_id of that boot
}

// Lab is a lab directory and its hosts.
type Lab struct {
	dir string
	cfg labConfig
	log io.Writer
}

// labConfig is persisted as DIR/lab.json.
type labConfig struct {
	Subnet        int
	RebootDelayMS int64
	LatencyUS     int64
	CacheDir      string
	Image         string
	Artifacts     string
	Hosts         []HostInfo
}

const (
	supervisorScript = "supervisor.sh"
	bootProgram      = "boot" // compiled from assets/host/boot.c by writeFiles
	nsenterProgram   = "nsenter"
	panicSeconds     = 4
)

func (o *Options) defaults() {
	if o.Dir == "" {
		o.Dir = ".sparkform-lab"
	}
	if o.N <= 0 {
		o.N = 3
	}
	if o.ModelSize <= 0 {
		o.ModelSize = 32 << 20
	}
	if o.RebootDelay <= 0 {
		o.RebootDelay = time.Second
	}
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Up makes the lab in o.Dir run: it builds the image if the cache has none, creates missing hosts
// (a larger N adds hosts), boots every host that is not running and waits until all answer on
// SSH. On a lab whose hosts all run it changes nothing (same boot_ids).
func Up(ctx context.Context, o Options) (*Lab, error) {
	o.defaults()
	if err := Preflight(); err != nil {
		return nil, err
	}
	if o.N > 154 {
		return nil, fmt.Errorf("lab: at most 154 hosts per subnet (asked %d)", o.N)
	}
	if o.Subnet < 0 || o.Subnet > 255 {
		return nil, fmt.Errorf("lab: subnet %d out of range 0-255", o.Subnet)
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	// overlayfs mount options are comma- and colon-separated: such paths cannot be expressed
	if strings.ContainsAny(dir, ",: \t\n\"'\\") {
		return nil, fmt.Errorf("lab: directory %q must not contain spaces, quotes, ',' or ':'", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := flock(ctx, filepath.Join(dir, "lab.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	l := &Lab{dir: dir, log: o.Log}
	existing := l.load() == nil
	if existing && o.Subnet != 0 && o.Subnet != l.cfg.Subnet {
		return nil, fmt.Errorf("lab: %s uses subnet %d, not %d", dir, l.cfg.Subnet, o.Subnet)
	}
	if !existing {
		l.cfg = labConfig{Subnet: o.Subnet}
	}
	l.cfg.RebootDelayMS = o.RebootDelay.Milliseconds()
	l.cfg.CacheDir = o.CacheDir
	t0 := time.Now()
	c, err := ensureCache(ctx, o.CacheDir, o.Log)
	if err != nil {
		return nil, err
	}
	running := l.anyRunning()
	switch {
	case l.cfg.Image == c.Image:
	case running && exists(l.cfg.Image) && exists(l.cfg.Artifacts):
		fmt.Fprintf(o.Log, "lab: hosts run on %s; a newer image is used once the lab is down\n", l.cfg.Image)
		c = cached{Image: l.cfg.Image, Artifacts: l.cfg.Artifacts}
	case running:
		return nil, fmt.Errorf("lab: hosts run on an image that is gone (%s); run lab down first", l.cfg.Image)
	default:
		if len(l.cfg.Hosts) > 0 {
			fmt.Fprintf(o.Log, "lab: the host image changed; recreating the hosts of %s\n", dir)
			if err := os.RemoveAll(filepath.Join(dir, "hosts")); err != nil {
				return nil, err
			}
			l.cfg.Hosts = nil
		}
	}
	l.cfg.Image, l.cfg.Artifacts = c.Image, c.Artifacts
	clientPub, err := ensureClientKey(l.KeyPath())
	if err != nil {
		return nil, err
	}
	var model hostModels
	for i := len(l.cfg.Hosts) + 1; i <= o.N; i++ {
		if model.gguf == "" {
			if model.gguf, err = ensureModel(ctx, o.CacheDir, o.ModelSize, "gguf", writeModel); err != nil {
				return nil, err
			}
			if model.safetensors, err = ensureModel(ctx, o.CacheDir, o.ModelSize, "safetensors", writeSafetensorsModel); err != nil {
				return nil, err
			}
		}
		name := fmt.Sprintf("spark-%02d", i)
		h := HostInfo{Name: name, Address: hostAddress(l.cfg.Subnet, i), Port: 22,
			Nvcc: !slices.Contains(o.NoNvcc, name), Dir: filepath.Join(dir, "hosts", name)}
		if err := createHost(h, clientPub, model, l.cfg.Image); err != nil {
			return nil, fmt.Errorf("lab: create %s: %w", name, err)
		}
		l.cfg.Hosts = append(l.cfg.Hosts, h)
	}
	if model.gguf != "" {
		fmt.Fprintf(o.Log, "lab: hosts created at +%s\n", english.Duration(time.Since(t0)))
	}
	var toStart []HostInfo
	for i := range l.cfg.Hosts {
		if l.supervisorPID(l.cfg.Hosts[i]) == 0 {
			if err := l.readdress(&l.cfg.Hosts[i]); err != nil {
				return nil, err
			}
			toStart = append(toStart, l.cfg.Hosts[i])
		}
	}
	l.cfg.LatencyUS = o.Latency.Microseconds()
	if err := l.writeFiles(); err != nil {
		return nil, err
	}
	// another lab on this subnet would answer in our hosts' place: ensureBridge refuses
	if err := l.ensureBridge(ctx); err != nil {
		return nil, err
	}
	if err := l.plugHosts(ctx, toStart); err != nil {
		return nil, err
	}
	if err := l.setLatency(ctx, o.Latency); err != nil {
		return nil, err
	}
	var started []string
	for _, h := range toStart {
		if err := l.launch(ctx, h); err != nil {
			return nil, err
		}
		started = append(started, h.Name)
	}
	for _, h := range l.cfg.Hosts {
		if slices.Contains(started, h.Name) {
			if err := l.waitSupervisor(h); err != nil {
				return nil, err
			}
		}
	}
	if len(started) > 0 {
		fmt.Fprintf(o.Log, "lab: supervisors started at +%s\n", english.Duration(time.Since(t0)))
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, h := range l.cfg.Hosts {
		if err := l.WaitUp(wctx, h.Name); err != nil {
			return nil, fmt.Errorf("lab: %s did not come up (see %s): %w", h.Name, filepath.Join(h.Dir, "console.log"), err)
		}
	}
	if len(started) > 0 {
		fmt.Fprintf(o.Log, "lab: %s up in %s (booted %s)\n", english.Plural(len(l.cfg.Hosts), "host"), english.Duration(time.Since(t0)), strings.Join(started, " "))
	}
	return l, nil
}

// Open attaches to the lab in dir, running or not.
func Open(dir string) (*Lab, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	l := &Lab{dir: abs, log: io.Discard}
	if err := l.load(); err != nil {
		return nil, fmt.Errorf("lab: no lab in %s: %w", abs, err)
	}
	return l, nil
}

func (l *Lab) load() error {
	data, err := os.ReadFile(filepath.Join(l.dir, "lab.json"))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, &l.cfg)
}

// Dir is the lab directory (absolute).
func (l *Lab) Dir() string { return l.dir }

// KeyPath is the client's private key, authorized for root and deploy on every host.
func (l *Lab) KeyPath() string { return filepath.Join(l.dir, "id_ed25519") }

// KnownHostsPath is the known_hosts file holding every host's key, by address.
func (l *Lab) KnownHostsPath() string { return filepath.Join(l.dir, "known_hosts") }

// HostsHCLPath is the hosts.hcl inventory of the lab (one host block per host).
func (l *Lab) HostsHCLPath() string { return filepath.Join(l.dir, "hosts.hcl") }

// Hosts lists the lab's hosts in order.
func (l *Lab) Hosts() []HostInfo { return slices.Clone(l.cfg.Hosts) }

// Host finds a host by name or address.
func (l *Lab) Host(name string) (HostInfo, error) {
	for _, h := range l.cfg.Hosts {
		if h.Name == name || h.Address == name {
			return h, nil
		}
	}
	return HostInfo{}, fmt.Errorf("lab: no host %q", name)
}

func ensureClientKey(path string) (ssh.PublicKey, error) {
	if data, err := os.ReadFile(path); err == nil {
		signer, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("lab: %s: %w", path, err)
		}
		return signer.PublicKey(), nil
	}
	return writeKeyPair(path, "sparkform-lab-client")
}

// writeKeyPair writes a new ed25519 key in OpenSSH format (path, path.pub).
func writeKeyPair(path, comment string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment + "\n"
	return sp, os.WriteFile(path+".pub", []byte(line), 0o644)
}

// createHost prepares a host's directory and its disk (the overlay's upper dir) before its first
// boot: files written into the upper dir of a mounted overlay are not seen until the next boot.
func createHost(h HostInfo, client ssh.PublicKey, model hostModels, image string) error {
	if err := os.RemoveAll(h.Dir); err != nil {
		return err
	}
	up := filepath.Join(h.Dir, "upper")
	for _, d := range []string{"work", "merged", "upper/etc/ssh/sshd_config.d", "upper/root/.ssh", "upper/home/deploy/.ssh",
		"upper/models", "upper/usr/local/lib/sparkform-lab"} {
		if err := os.MkdirAll(filepath.Join(h.Dir, d), 0o755); err != nil {
			return err
		}
	}
	if _, err := writeKeyPair(filepath.Join(up, "etc/ssh/ssh_host_ed25519_key"), "root@"+h.Name); err != nil {
		return err
	}
	auth := ssh.MarshalAuthorizedKey(client)
	var uuid [16]byte
	_, _ = rand.Read(uuid[:])
	hostUUID := fmt.Sprintf("%x-%x-%x-%x-%x", uuid[0:4], uuid[4:6], uuid[6:8], uuid[8:10], uuid[10:16])
	files := []struct {
		rel  string
		data string
		mode os.FileMode
	}{
		{"etc/ssh/sshd_config.d/10-listen.conf", listenConf(h), 0o644},
		{"root/.ssh/authorized_keys", string(auth), 0o600},
		{"home/deploy/.ssh/authorized_keys", string(auth), 0o600},
		{"etc/hostname", h.Name + "\n", 0o644},
		{"etc/hosts", etcHosts(h), 0o644},
		// this host's root filesystem UUID, as the grub-probe stand-in reports it (grub.cfg ids)
		{"usr/local/lib/sparkform-lab/root-uuid", hostUUID + "\n", 0o644},
	}
	if h.Nvcc {
		files = append(files,
			struct {
				rel  string
				data string
				mode os.FileMode
			}{"usr/local/cuda-13.0/bin/nvcc", string(assetText("host/nvcc")), 0o755},
			struct {
				rel  string
				data string
				mode os.FileMode
			}{"usr/local/cuda-13.0/version.json", "{\n   \"cuda\" : {\n      \"name\" : \"CUDA SDK\",\n      \"version\" : \"13.0.2\"\n   }\n}\n", 0o644})
	}
	for _, f := range files {
		p := filepath.Join(up, f.rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			return err
		}
	}
	if h.Nvcc {
		if err := os.Symlink("cuda-13.0", filepath.Join(up, "usr/local/cuda")); err != nil {
			return err
		}
	}
	for _, d := range []string{"root", "root/.ssh", "home/deploy/.ssh"} {
		if err := os.Chmod(filepath.Join(up, d), 0o700); err != nil {
			return err
		}
	}
	for _, p := range []string{"home/deploy", "home/deploy/.ssh", "home/deploy/.ssh/authorized_keys"} {
		if err := os.Chown(filepath.Join(up, p), 1000, 1000); err != nil { // uid/gid of deploy in the image
			return err
		}
	}
	// The image's grub.cfg names the image's filesystem UUID; this host has its own (as two
	// installed machines do). Rewriting it here is what Debian's update-grub writes in the host
	// (TestGrubUserlandIsDebiansRealTools compares them), without running it at every first boot.
	cfg, err := os.ReadFile(filepath.Join(image, "boot/grub/grub.cfg"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(up, "boot/grub"), 0o755); err != nil {
		return err
	}
	cfg = []byte(strings.ReplaceAll(string(cfg), imageRootUUID, hostUUID))
	if err := os.WriteFile(filepath.Join(up, "boot/grub/grub.cfg"), cfg, 0o644); err != nil {
		return err
	}
	if err := copyFile(model.gguf, filepath.Join(up, strings.TrimPrefix(ModelPath, "/"))); err != nil {
		return err
	}
	st := filepath.Join(up, strings.TrimPrefix(SafetensorsModelDir, "/"))
	if err := os.MkdirAll(st, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(st, "config.json"), []byte(safetensorsConfig), 0o644); err != nil {
		return err
	}
	return copyFile(model.safetensors, filepath.Join(st, "model-00001-of-00001.safetensors"))
}

// imageRootUUID is the filesystem UUID the grub-probe stand-in reports in the image itself (when
// /usr/local/lib/sparkform-lab/root-uuid is absent), so the image's grub.cfg holds it.
const imageRootUUID = "5d9e1d0c-2b5e-4c56-9a49-0d8f0c1f2b10"

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// writeFiles (re)writes the lab's scripts, each host's host.env, known_hosts, hosts.hcl and
// lab.json. Scripts are replaced by rename, so running supervisors keep reading the old inode.
func (l *Lab) writeFiles() error {
	bin := filepath.Join(l.dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(bin, supervisorScript), assetText("host/"+supervisorScript), 0o755); err != nil {
		return err
	}
	if err := compileC(bin, bootProgram); err != nil {
		return err
	}
	var kh strings.Builder
	for _, h := range l.cfg.Hosts {
		env := fmt.Sprintf("NAME=%s\nADDRESS=%s\nIMAGE=%s\nART=%s\nDISKS=%q\nDELAY=%s\nPANIC_SECS=%d\n",
			h.Name, h.Address, shellQuote(l.cfg.Image), shellQuote(l.cfg.Artifacts), strings.Join(Disks, " "),
			strconv.FormatFloat(float64(l.cfg.RebootDelayMS)/1000, 'f', 3, 64), panicSeconds)
		if err := atomicfile.Write(filepath.Join(h.Dir, "host.env"), []byte(env), 0o644); err != nil {
			return err
		}
		pub, err := os.ReadFile(filepath.Join(h.Dir, "upper/etc/ssh/ssh_host_ed25519_key.pub"))
		if err != nil {
			return err
		}
		f := strings.Fields(string(pub))
		if len(f) < 2 {
			return fmt.Errorf("lab: bad host key of %s", h.Name)
		}
		fmt.Fprintf(&kh, "%s %s %s\n", h.Address, f[0], f[1])
	}
	if err := atomicfile.Write(l.KnownHostsPath(), []byte(kh.String()), 0o644); err != nil {
		return err
	}
	if err := atomicfile.Write(l.HostsHCLPath(), []byte(l.hostsHCL()), 0o644); err != nil {
		return err
	}
	data, err := json.MarshalIndent(l.cfg, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(l.dir, "lab.json"), data, 0o644)
}

// hostsHCL renders the inventory the product reads: one host block per host.
func (l *Lab) hostsHCL() string {
	var b strings.Builder
	b.WriteString("# Written by sparkform lab up: the lab's hosts.\n")
	for _, h := range l.cfg.Hosts {
		fmt.Fprintf(&b, "\nhost %q {\n", h.Name)
		fmt.Fprintf(&b, "  %-15s = %q\n", "address", h.Address)
		fmt.Fprintf(&b, "  %-15s = %d\n", "port", h.Port)
		fmt.Fprintf(&b, "  %-15s = %q\n", "user", "root")
		fmt.Fprintf(&b, "  %-15s = %q\n", "identity_file", l.KeyPath())
		fmt.Fprintf(&b, "  %-15s = %q\n", "known_hosts", l.KnownHostsPath())
		fmt.Fprintf(&b, "  %-15s = %q\n", "host_key_policy", "strict")
		fmt.Fprintf(&b, "  %-15s = { lab = \"true\" }\n", "labels")
		b.WriteString("}\n")
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell (host.env is sourced by the boot scripts).
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// start launches the host's supervisor and waits until it has recorded its pid.
func (l *Lab) start(ctx context.Context, h HostInfo) error {
	if err := l.launch(ctx, h); err != nil {
		return err
	}
	return l.waitSupervisor(h)
}

// launch starts the host's supervisor, detached in its own session so that it outlives the
// calling process (sparkform lab up returns; tests end).
func (l *Lab) launch(ctx context.Context, h HostInfo) error {
	for _, f := range []string{"stop", "poweredoff", "frozen", "partitioned"} {
		os.Remove(filepath.Join(h.Dir, f))
	}
	bin := filepath.Join(l.dir, "bin")
	// setsid -f forks: the supervisor is re-parented to init and never becomes our zombie. It
	// runs in the host's network namespace, and so does every boot of the host.
	cmd := exec.CommandContext(ctx, "setsid", "-f", nsenterProgram, "--net="+l.netnsPath(l.hostIndex(h)),
		"/bin/bash", filepath.Join(bin, supervisorScript), h.Dir, filepath.Join(bin, bootProgram))
	cmd.Dir = "/"
	// no pipes: the supervisor would hold them open and Run would wait for it forever
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("lab: start %s: %w", h.Name, err)
	}
	return nil
}

func (l *Lab) waitSupervisor(h HostInfo) error {
	for i := 0; i < 500; i++ {
		if l.supervisorPID(h) != 0 {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("lab: supervisor of %s did not start (see %s)", h.Name, filepath.Join(h.Dir, "console.log"))
}

func readPID(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// livePID is the pid in pidFile when that process runs and its command line holds mark (so
// that a recycled pid is not mistaken for it), else 0.
func livePID(pidFile, mark string) int {
	pid := readPID(pidFile)
	if pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), mark) {
		return 0
	}
	return pid
}

// supervisorPID is the pid of the host's running supervisor, or 0.
func (l *Lab) supervisorPID(h HostInfo) int {
	return livePID(filepath.Join(h.Dir, "supervisor.pid"), supervisorScript+"\x00"+h.Dir+"\x00")
}

func (l *Lab) anyRunning() bool {
	for _, h := range l.cfg.Hosts {
		if l.supervisorPID(h) != 0 {
			return true
		}
	}
	return false
}

// pid1 is the host-side pid of the host's PID 1 (the child of unshare), or 0 when not booted.
func (l *Lab) pid1(h HostInfo) int {
	u := livePID(filepath.Join(h.Dir, "unshare.pid"), "\x00"+h.Dir+"\x00")
	if u == 0 {
		return 0
	}
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", u, u))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(children))
	if len(f) == 0 {
		return 0
	}
	pid, _ := strconv.Atoi(f[0])
	return pid
}

// WaitUp waits until the host's sshd sends its banner on a new connection.
func (l *Lab) WaitUp(ctx context.Context, host string) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	for {
		if err := sshBanner(ctx, h, 2*time.Second); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab: wait for %s: %w", h.Name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sshBanner connects to the host's sshd and reads its identification line.
func sshBanner(ctx context.Context, h HostInfo, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(h.Address, strconv.Itoa(h.Port)))
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "SSH-" {
		return fmt.Errorf("not an SSH banner: %q", buf)
	}
	return nil
}

// Status reports every host's state, booted kernel and boot_id.
func (l *Lab) Status(ctx context.Context) ([]HostStatus, error) {
	out := make([]HostStatus, len(l.cfg.Hosts))
	done := make(chan struct{})
	for i, h := range l.cfg.Hosts {
		go func() {
			defer func() { done <- struct{}{} }()
			s := HostStatus{Name: h.Name, Address: h.Address}
			booted, _ := os.ReadFile(filepath.Join(h.Dir, "booted"))
			for _, line := range strings.Split(string(booted), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok {
					switch k {
					case "KERNEL":
						s.Kernel = v
					case "BOOT_ID":
						s.BootID = v
					}
				}
			}
			switch {
			case l.supervisorPID(h) == 0 && exists(filepath.Join(h.Dir, "poweredoff")):
				s.State = "off"
			case l.supervisorPID(h) == 0:
				s.State = "down"
			case exists(filepath.Join(h.Dir, "frozen")):
				s.State = "frozen"
			case exists(filepath.Join(h.Dir, "partitioned")):
				s.State = "partitioned"
			case sshBanner(ctx, h, time.Second) == nil:
				s.State = "up"
			default:
				s.State = "booting"
			}
			out[i] = s
		}()
	}
	for range l.cfg.Hosts {
		<-done
	}
	return out, ctx.Err()
}

// Down stops every host. Afterwards no process of the lab runs; mounts lived only in the hosts'
// mount namespaces and are gone with them; the lab's nft table is deleted. Host disks are kept.
func (l *Lab) Down(ctx context.Context) error {
	unlock, err := flock(ctx, filepath.Join(l.dir, "lab.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	for _, h := range l.cfg.Hosts {
		if err := os.WriteFile(filepath.Join(h.Dir, "stop"), nil, 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if p := l.pid1(h); p > 0 {
			_ = syscall.Kill(p, syscall.SIGKILL) // PID 1 dies: the kernel kills its whole namespace
		}
		if s := l.supervisorPID(h); s > 0 {
			_ = syscall.Kill(s, syscall.SIGTERM) // cuts a reboot delay short
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	var stuck []string
	for _, h := range l.cfg.Hosts {
		for l.supervisorPID(h) != 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if s := l.supervisorPID(h); s > 0 {
			stuck = append(stuck, h.Name)
			_ = syscall.Kill(s, syscall.SIGKILL)
		}
		for _, f := range []string{"frozen", "partitioned"} {
			os.Remove(filepath.Join(h.Dir, f))
		}
	}
	if err := l.deleteNftTable(ctx); err != nil {
		return err
	}
	l.stopDelay()
	if err := l.removeDelayRules(ctx); err != nil {
		return err
	}
	if err := l.unplug(ctx); err != nil {
		return err
	}
	if len(stuck) > 0 {
		return fmt.Errorf("lab: supervisors of %s did not stop in time and were killed", strings.Join(stuck, ", "))
	}
	return nil
}

// labID is a short stable id of the lab directory, used to name its nft table.
func (l *Lab) labID() string {
	sum := sha256.Sum256([]byte(l.dir))
	return fmt.Sprintf("%x", sum[:5])
}

// compileC builds bin/NAME from the embedded host/NAME.c with the machine's gcc, unless the binary
// there was built from the same source (its hash is kept beside it). The new binary replaces the
// old by rename, so hosts booting meanwhile run one or the other, whole.
func compileC(bin, bootProgram string) error {
	src := assetText("host/" + bootProgram + ".c")
	sum := sha256.Sum256(src)
	want := hex.EncodeToString(sum[:])
	stamp := filepath.Join(bin, bootProgram+".sha256")
	if have, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(have)) == want {
		if _, err := os.Stat(filepath.Join(bin, bootProgram)); err == nil {
			return nil
		}
	}
	srcPath := filepath.Join(bin, bootProgram+".c")
	if err := atomicfile.Write(srcPath, src, 0o644); err != nil {
		return err
	}
	tmp := filepath.Join(bin, "."+bootProgram+".new")
	if out, err := exec.Command("gcc", "-O2", "-Wall", "-o", tmp, srcPath).CombinedOutput(); err != nil {
		return fmt.Errorf("lab: gcc %s: %v: %s", srcPath, err, out)
	}
	if err := os.Rename(tmp, filepath.Join(bin, bootProgram)); err != nil {
		return err
	}
	return atomicfile.Write(stamp, []byte(want+"\n"), 0o644)
}
