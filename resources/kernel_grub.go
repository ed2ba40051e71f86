package resources

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// GRUB boot handling for the kernel resource: the GRUB facts, the one grub.cfg menu parser,
// GRUB_DEFAULT=saved, and the Rebooter/BootReverter steps (PrepareBoot, ConfirmBoot, RevertBoot).

const (
	grubCfgPath = "/boot/grub/grub.cfg"
	grubEnvPath = "/boot/grub/grubenv"
)

// kernelGrubDropIn sets GRUB_DEFAULT=saved when the host's GRUB configuration does not; 99-
// so it comes after the distribution's drop-ins (update-grub sources them in order, last wins).
func kernelGrubDropIn(name string) string {
	return "/etc/default/grub.d/99-sparkform-kernel-" + name + ".cfg"
}

func grubDropInContent(addr string) string {
	return managedHeader(addr) +
		"# grub-reboot (try a kernel once) and grub-set-default need the saved default.\n" +
		"GRUB_DEFAULT=saved\n"
}

// grubFacts is the GRUB state of a host.
type grubFacts struct {
	Env      map[string]string // the environment block; nil: none (or no grub-editenv)
	Default  string            // effective GRUB_DEFAULT ("" when never set: GRUB's default 0)
	CfgFound bool              // grub.cfg exists
	Entries  map[string]string // kernel release → menu entry path (grubMenu.entries)
	Boots    string            // the kernel release GRUB boots by default ("" when it cannot tell)
	DropIn   *string           // sparkform's GRUB_DEFAULT=saved drop-in; nil when absent
}

// grubFact (args: the block name, whose drop-in is read) reports the environment block,
// the menu (grub.cfg) and the GRUB_DEFAULT lines of /etc/default/grub[.d], read in one go.
var grubFact = fact[grubFacts]{
	name: "grub",
	command: func(args ...string) string {
		env := provider.Quote(grubEnvPath)
		// Builtins only: grubenv is text (key=value lines, '#' padding), as `grub-editenv list` prints it.
		return fmt.Sprintf("if command -v grub-editenv >/dev/null 2>&1 && [ -f %[1]s ]; then echo grubenv; while IFS= read -r l || [ -n \"$l\" ]; do case $l in \\#*|'') ;; *) printf 'grubenvl %%s\\n' \"$l\" ;; esac; done < %[1]s; else echo nogrubenv; fi\n", env) +
			probeFile("grubcfg", grubCfgPath) +
			"for f in /etc/default/grub /etc/default/grub.d/*.cfg; do [ -f \"$f\" ] || continue; while IFS= read -r l || [ -n \"$l\" ]; do case $l in *GRUB_DEFAULT=*) printf 'grubdefl %s\\n' \"$l\" ;; esac; done < \"$f\"; done\n" +
			probeFile("dropin", kernelGrubDropIn(args[0]))
	},
	parse: func(lines []probeLine, _ ...string) (grubFacts, error) {
		g := grubFacts{Entries: map[string]string{}}
		var env, def strings.Builder
		hasEnv := false
		for _, l := range lines {
			rest := strings.Join(l.args, " ")
			switch l.tag {
			case "grubenv":
				hasEnv = true
			case "grubenvl":
				env.WriteString(rest + "\n")
			case "grubdefl":
				def.WriteString(rest + "\n")
			}
		}
		if hasEnv {
			g.Env = parseGrubEnv(env.String())
		}
		g.Default = lastGrubDefault(def.String())
		cfg, err := fileFromProbe(lines, "grubcfg")
		if err != nil {
			return g, err
		}
		if !cfg.IsNull() {
			menu := parseGrubMenu(cfg.AsString())
			g.CfgFound = true
			g.Entries = menu.entries()
			g.Boots = menu.defaultKernel(g.Default, g.Env)
		}
		dropIn, err := fileFromProbe(lines, "dropin")
		if err == nil && !dropIn.IsNull() {
			s := dropIn.AsString()
			g.DropIn = &s
		}
		return g, err
	},
}

// parseGrubEnv reads `grub-editenv FILE list` output.
func parseGrubEnv(s string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k != "" && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	return env
}

// lastGrubDefault is the value of the last GRUB_DEFAULT= assignment (files are sourced in
// order, the last wins), unquoted.
func lastGrubDefault(lines string) string {
	val := ""
	for _, line := range strings.Split(lines, "\n") {
		line = strings.TrimSpace(line)
		line = strings.TrimSpace(strings.TrimPrefix(line, "export "))
		v, ok := strings.CutPrefix(line, "GRUB_DEFAULT=")
		if !ok {
			continue
		}
		if i := strings.Index(v, " #"); i >= 0 {
			v = v[:i]
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		val = v
	}
	return val
}

// grubState reads the GRUB facts PrepareBoot and ConfirmBoot need, in one round trip.
func (kernel) grubState(ctx context.Context, h provider.Host, name string) (kernelObserved, error) {
	res, err := kernelRun(ctx, h, kernelRunningFact.command()+grubFact.command(name), nil)
	if err != nil {
		return kernelObserved{}, fmt.Errorf("reading GRUB state: %w", err)
	}
	var o kernelObserved
	lines := parseProbe(res.Stdout)
	o.readPackageFacts(lines)
	if err := o.readGrubFacts(lines); err != nil {
		return o, err
	}
	return o, nil
}

// readGrubFacts fills the GRUB fields of o from what grubFact printed.
func (o *kernelObserved) readGrubFacts(lines []probeLine) error {
	g, err := grubFact.parse(lines)
	if err != nil {
		return err
	}
	o.grubEnv, o.grubDefault, o.grubCfgFound, o.grubEntries, o.grubBoots = g.Env, g.Default, g.CfgFound, g.Entries, g.Boots
	o.dropIn = cty.NullVal(cty.String)
	if g.DropIn != nil {
		o.dropIn = cty.StringVal(*g.DropIn)
	}
	return nil
}

// ensureSavedMode makes GRUB_DEFAULT=saved effective (a drop-in, then update-grub) and makes
// sure grub.cfg has entries for the kernels named; it returns the fresh GRUB state.
func (k kernel) ensureSavedMode(ctx context.Context, h provider.Host, name, addr string, kernels ...string) (kernelObserved, error) {
	g, err := k.grubState(ctx, h, name)
	if err != nil {
		return g, err
	}
	if g.grubEnv == nil {
		return g, fmt.Errorf("no GRUB environment block (%s) or no grub-editenv: this host does not boot with GRUB as sparkform expects", grubEnvPath)
	}
	update := false
	if g.grubDefault != "saved" {
		// Ubuntu ships /etc/default/grub.d; Debian does not (update-grub reads it when present).
		if _, err := kernelRun(ctx, h, "mkdir -p /etc/default/grub.d\n", nil); err != nil {
			return g, fmt.Errorf("creating /etc/default/grub.d: %w", err)
		}
		if err := h.WriteFile(ctx, kernelGrubDropIn(name), []byte(grubDropInContent(addr)), 0o644, "root"); err != nil {
			return g, fmt.Errorf("writing %s: %w", kernelGrubDropIn(name), err)
		}
		update = true
	}
	for _, kv := range kernels {
		if g.grubEntries[kv] == "" {
			update = true
		}
	}
	if !update {
		return g, nil
	}
	if _, err := kernelRun(ctx, h, "update-grub\n", nil); err != nil {
		return g, fmt.Errorf("update-grub: %w", err)
	}
	if g, err = k.grubState(ctx, h, name); err != nil {
		return g, err
	}
	if g.grubDefault != "saved" {
		return g, fmt.Errorf("GRUB_DEFAULT is still %q after writing %s: a later file in /etc/default/grub.d overrides it", g.grubDefault, kernelGrubDropIn(name))
	}
	for _, kv := range kernels {
		if g.grubEntries[kv] == "" {
			return g, fmt.Errorf("%s has no entry in %s even after update-grub (is /boot/vmlinuz-%s there?)", kv, grubCfgPath, kv)
		}
	}
	return g, nil
}

// setDefault makes release the saved default (grub-set-default by id) and verifies it with
// grub-editenv. With requireRunning it refuses unless the host runs that kernel.
func (k kernel) setDefault(ctx context.Context, h provider.Host, name, addr, release, running string, requireRunning bool) (string, error) {
	g, err := k.ensureSavedMode(ctx, h, name, addr, release)
	if err != nil {
		return "", fmt.Errorf("%s: %w", addr, err)
	}
	if requireRunning && g.running != release {
		return "", fmt.Errorf("%s: the host runs %s, not %s: not making it the default", addr, g.running, release)
	}
	id := g.grubEntries[release]
	if g.grubEnv["saved_entry"] == id {
		return id, nil
	}
	script := "set -e\ngrub-set-default " + provider.Quote(id) + "\ngrub-editenv " + provider.Quote(grubEnvPath) + " list\n"
	res, err := kernelRun(ctx, h, script, nil)
	if err != nil {
		return "", fmt.Errorf("%s: grub-set-default: %w", addr, err)
	}
	if env := parseGrubEnv(string(res.Stdout)); env["saved_entry"] != id {
		return "", fmt.Errorf("%s: grub-set-default %s did not stick: saved_entry is %q", addr, id, env["saved_entry"])
	}
	return id, nil
}

// PrepareBoot arranges that the next boot, and only it, runs the applied kernel: GRUB_DEFAULT
// saved (drop-in + update-grub when needed), the saved default pinned to the RUNNING kernel's
// entry (a saved_entry of "0" would mean "the newest kernel", which is now the new one: a kernel
// that fails to boot would then be retried forever), then grub-reboot with the new entry's id.
func (k kernel) PrepareBoot(ctx context.Context, h provider.Host, in Instance, applied Prior) (BootPlan, error) {
	orig := decodeKernelOriginal(applied.Original)
	s := decodeKernelSpec(in.Desired)
	if orig.release == "" {
		return BootPlan{}, fmt.Errorf("%s: state does not say which kernel was installed", in.Addr())
	}
	g, err := k.grubState(ctx, h, in.Name)
	if err != nil {
		return BootPlan{}, fmt.Errorf("%s: %w", in.Addr(), err)
	}
	if g, err = k.ensureSavedMode(ctx, h, in.Name, in.Addr(), orig.release, g.running); err != nil {
		return BootPlan{}, fmt.Errorf("%s: %w", in.Addr(), err)
	}
	newID, prevID := g.grubEntries[orig.release], g.grubEntries[g.running]
	var b strings.Builder
	b.WriteString("set -e\n")
	if g.grubEnv["saved_entry"] != prevID {
		b.WriteString("grub-set-default " + provider.Quote(prevID) + "\n")
	}
	b.WriteString("grub-reboot " + provider.Quote(newID) + "\n")
	b.WriteString("grub-editenv " + provider.Quote(grubEnvPath) + " list\n")
	res, err := kernelRun(ctx, h, b.String(), nil)
	if err != nil {
		return BootPlan{}, fmt.Errorf("%s: grub-reboot: %w", in.Addr(), err)
	}
	env := parseGrubEnv(string(res.Stdout))
	if env["next_entry"] != newID || env["saved_entry"] != prevID {
		return BootPlan{}, fmt.Errorf("%s: GRUB environment after grub-reboot is next_entry=%q saved_entry=%q, want %q and %q", in.Addr(), env["next_entry"], env["saved_entry"], newID, prevID)
	}
	return BootPlan{ExpectKernel: orig.release, PreviousKernel: g.running, Entry: newID, Timeout: s.timeout}, nil
}

// ConfirmBoot makes the verified kernel the saved default (grub-set-default by id), after
// checking the host really runs it, and checks the environment block says so.
func (k kernel) ConfirmBoot(ctx context.Context, h provider.Host, in Instance, applied Prior, bp BootPlan) error {
	g, err := k.grubState(ctx, h, in.Name)
	if err != nil {
		return fmt.Errorf("%s: %w", in.Addr(), err)
	}
	if g.running != bp.ExpectKernel {
		return fmt.Errorf("%s: the host runs %s, not %s: not making it the default", in.Addr(), g.running, bp.ExpectKernel)
	}
	script := "set -e\ngrub-set-default " + provider.Quote(bp.Entry) + "\ngrub-editenv " + provider.Quote(grubEnvPath) + " list\n"
	res, err := kernelRun(ctx, h, script, nil)
	if err != nil {
		return fmt.Errorf("%s: grub-set-default: %w", in.Addr(), err)
	}
	if env := parseGrubEnv(string(res.Stdout)); env["saved_entry"] != bp.Entry {
		return fmt.Errorf("%s: grub-set-default %s did not stick: saved_entry is %q", in.Addr(), bp.Entry, env["saved_entry"])
	}
	return nil
}

// RevertBoot makes the kernel the host ran before this apply the default boot entry again
// (by GRUB id); the engine then reboots into it and verifies. Used when a smoke test with
// on_failure = "rollback" fails on the new kernel.
func (k kernel) RevertBoot(ctx context.Context, h provider.Host, in Instance, applied Prior, bp BootPlan) error {
	if bp.PreviousKernel == "" {
		return fmt.Errorf("%s: no previous kernel recorded to return to", in.Addr())
	}
	_, err := k.setDefault(ctx, h, in.Name, in.Addr(), bp.PreviousKernel, "", false)
	return err
}

// grubEntryID finds the id among a menuentry/submenu's arguments.
func grubEntryID(args []string) string {
	for i, a := range args {
		switch {
		case (a == "$menuentry_id_option" || a == "${menuentry_id_option}" || a == "--id") && i+1 < len(args):
			return args[i+1]
		case strings.HasPrefix(a, "--id="):
			return strings.TrimPrefix(a, "--id=")
		}
	}
	return ""
}

// grubLines splits a grub.cfg into its command lines of words as GRUB's script lexer does for what
// grub-mkconfig writes: single quotes literal, double quotes and backslash escapes, variables kept
// as written, '#' starting a comment at a word's start. A quoted string or a backslash-newline
// runs on into the next line, as in GRUB: a newline inside quotes is part of the word, so no
// line can be read as a command of its own while GRUB reads it as a title. A quote still open at
// the end of the file is a syntax error to GRUB, which then reads nothing of that command: it is
// dropped. Lines without words are left out.
func grubLines(cfg string) [][]string {
	var lines [][]string
	var toks []string
	var cur strings.Builder
	in, comment := false, false
	quote := byte(0)
	endWord := func() {
		if in {
			toks = append(toks, cur.String())
			cur.Reset()
			in = false
		}
	}
	for i := 0; i < len(cfg); i++ {
		c := cfg[i]
		switch {
		case comment && c != '\n':
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(cfg):
				i++
				if cfg[i] != '\n' {
					cur.WriteByte(cfg[i])
				}
			default:
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(cfg):
			i++
			if cfg[i] != '\n' {
				cur.WriteByte(cfg[i])
				in = true
			}
		case c == '\n':
			comment = false
			endWord()
			if len(toks) > 0 {
				lines = append(lines, toks)
			}
			toks = nil
		case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
			endWord()
		case c == '#' && !in:
			comment = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return lines
	}
	endWord()
	if len(toks) > 0 {
		lines = append(lines, toks)
	}
	return lines
}

// grubItem is one menuentry or submenu of a grub.cfg, in menu order.
type grubItem struct {
	title, id, kernel string
	submenu           bool
	children          []*grubItem
}

// grubMenu is the menu of a grub.cfg: its menuentry and submenu items in menu order. It is
// the one reading of grub.cfg: which entry boots a kernel (entries) and which kernel the
// default entry boots (defaultKernel) both come from it.
type grubMenu struct {
	items []*grubItem
	// corrections is 10_linux's title_correction_code: a default naming an entry of the
	// submenu by its bare title (as before GRUB 2.00) → the path GRUB uses instead.
	corrections map[string]string
}

// grubTitleCorrection is one clause of 10_linux's title_correction_code (grub-mkconfig writes
// them when GRUB_DEFAULT or saved_entry is a bare title), each title quoted by grub_quote.
var grubTitleCorrection = regexp.MustCompile(`if \[ "x\$default" = '((?:[^']|'\\'')*)' \]; then default='((?:[^']|'\\'')*)'; fi;`)

// parseGrubMenu reads the menu tree of a grub.cfg as GRUB's script lexer sees what
// grub-mkconfig writes (grubLines); blocks that are not menu items (functions, if) are skipped.
func parseGrubMenu(cfg string) grubMenu {
	m := grubMenu{corrections: map[string]string{}}
	unquote := func(s string) string { return strings.ReplaceAll(s, `'\''`, "'") }
	for _, c := range grubTitleCorrection.FindAllStringSubmatch(cfg, -1) {
		if old := unquote(c[1]); m.corrections[old] == "" {
			m.corrections[old] = unquote(c[2])
		}
	}
	root := &grubItem{submenu: true}
	stack := []*grubItem{root} // nil for blocks that are not menu entries
	parent := func() *grubItem {
		for i := len(stack) - 1; i >= 0; i-- {
			if stack[i] != nil && stack[i].submenu {
				return stack[i]
			}
		}
		return root
	}
	for _, toks := range grubLines(cfg) {
		switch {
		case (toks[0] == "menuentry" || toks[0] == "submenu") && toks[len(toks)-1] == "{":
			it := &grubItem{id: grubEntryID(toks[1 : len(toks)-1]), submenu: toks[0] == "submenu"}
			if len(toks) > 2 {
				it.title = toks[1]
			}
			p := parent()
			p.children = append(p.children, it)
			stack = append(stack, it)
		case toks[len(toks)-1] == "{":
			stack = append(stack, nil)
		case toks[0] == "}":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
		case toks[0] == "linux" || toks[0] == "linuxefi":
			if top := stack[len(stack)-1]; top != nil && !top.submenu && len(toks) > 1 {
				img := toks[1]
				if i := strings.LastIndex(img, "/vmlinuz-"); i >= 0 {
					top.kernel = img[i+len("/vmlinuz-"):]
				} else if strings.HasPrefix(img, "vmlinuz-") {
					top.kernel = strings.TrimPrefix(img, "vmlinuz-")
				}
			}
		}
	}
	m.items = root.children
	return m
}

// resolveGrubEntry follows an entry as GRUB does for `default`: ">"-separated steps, each a
// number (position in that menu), an id or a title. nil when it leads nowhere.
func resolveGrubEntry(items []*grubItem, entry string) *grubItem {
	steps := strings.Split(entry, ">")
	for i, step := range steps {
		var found *grubItem
		if n, err := strconv.Atoi(step); err == nil {
			if n >= 0 && n < len(items) {
				found = items[n]
			}
		} else {
			for _, it := range items {
				if it.id == step || it.title == step {
					found = it
					break
				}
			}
		}
		if found == nil {
			return nil
		}
		if i == len(steps)-1 {
			if found.submenu {
				return nil
			}
			return found
		}
		if !found.submenu {
			return nil
		}
		items = found.children
	}
	return nil
}

// entries returns, per kernel release, the path GRUB commands take to its normal (not recovery)
// entry: "SUBMENU_ID>ENTRY_ID", or "ENTRY_ID" for a top-level entry. Entries are found by id (the
// `$menuentry_id_option 'ID'` form grub-mkconfig writes, or `--id ID` / `--id=ID`), never by their
// translated titles; the kernel of an entry is its `linux .../vmlinuz-KVER` line. Ubuntu's
// "gnulinux-KVER-advanced-UUID" entries win over others of the same kernel (the top
// "gnulinux-simple" entry always boots the newest kernel). An entry under a submenu without an
// id cannot be named, so it is left out.
func (m grubMenu) entries() map[string]string {
	best := map[string]string{}
	rank := map[string]int{}
	var walk func(items []*grubItem, ids []string)
	walk = func(items []*grubItem, ids []string) {
		for _, it := range items {
			if it.submenu {
				if it.id != "" {
					walk(it.children, append(slices.Clone(ids), it.id))
				}
				continue
			}
			k := it.kernel
			if k == "" || it.id == "" || !kernelRelRe.MatchString(k) || strings.Contains(it.id, "recovery") {
				continue
			}
			path := strings.Join(append(slices.Clone(ids), it.id), ">")
			// The path becomes grub-set-default's operand, and that script takes no "--".
			if strings.HasPrefix(path, "-") || HasControl(path) {
				continue
			}
			r := 1
			if strings.HasPrefix(it.id, "gnulinux-"+k+"-advanced-") {
				r = 3
			} else if strings.HasPrefix(it.id, "gnulinux-simple-") {
				r = 0
			}
			if cur, ok := rank[k]; !ok || r > cur {
				best[k], rank[k] = path, r
			}
		}
	}
	walk(m.items, nil)
	return best
}

// defaultKernel is the kernel release GRUB boots when nothing asks for another entry once:
// GRUB_DEFAULT (from /etc/default/grub[.d]) names the entry, "saved" meaning the environment
// block's saved_entry, after 10_linux's title corrections; an empty or unresolvable entry means
// entry 0 (as GRUB falls back), which boots the newest kernel. "" when grub.cfg does not say.
func (m grubMenu) defaultKernel(grubDefault string, env map[string]string) string {
	entry := grubDefault
	if entry == "saved" {
		entry = env["saved_entry"]
	}
	if c, ok := m.corrections[entry]; ok {
		entry = c
	}
	if entry == "" {
		entry = "0"
	}
	it := resolveGrubEntry(m.items, entry)
	if it == nil {
		it = resolveGrubEntry(m.items, "0")
	}
	if it == nil || !kernelRelRe.MatchString(it.kernel) {
		return ""
	}
	return it.kernel
}

// bootCheckApply: the saved default must end on the desired kernel, which needs
// GRUB_DEFAULT=saved. With a reboot ahead, the plan shows the entry the Rebooter steps will
// try once and then make the default (PrepareBoot, ConfirmBoot); without one, apply makes the
// running kernel the saved default now. Judged by effect: GRUB already booting the kernel by
// default (the saved entry by id, title or number, or entry 0 being the newest) is as good.
func (k kernel) bootCheckApply(dc *kernelDecision, x *kernelApply, reboot bool) ([]FieldChange, error) {
	in, o, orig, t := dc.in, dc.o, dc.orig, dc.t
	if x != nil {
		if orig.release != o.running {
			return nil, nil // the Rebooter sequence sets the default after the verified boot
		}
		_, err := k.setDefault(x.ctx, x.h, in.Name, in.Addr(), orig.release, o.running, false)
		return nil, err
	}
	saved := o.grubEnv["saved_entry"]
	wantEntry := ""
	if t.release != "" {
		wantEntry = o.grubEntries[t.release]
	}
	var fields []FieldChange
	// GRUB ids run to 110 characters of UUIDs; the plan names the kernel of the entry instead.
	savedLabel := grubEntryLabel(o.grubEntries, saved)
	switch {
	case reboot:
		after := grubEntryLabel(o.grubEntries, wantEntry)
		if after == "" {
			after = "the GRUB entry of " + firstNonEmpty(t.release, t.spec.target())
		}
		fields = append(fields, FieldChange{Path: "boot_default", Before: savedLabel, BeforeNull: saved == "",
			After: after + " (tried once with grub-reboot, default after the boot is verified)"})
	case wantEntry == "" || saved != wantEntry && o.grubBoots != t.release:
		after := grubEntryLabel(o.grubEntries, wantEntry)
		if after == "" {
			after = "the GRUB entry of " + t.release + " (after update-grub)"
		}
		fields = append(fields, FieldChange{Path: "boot_default", Before: savedLabel, BeforeNull: saved == "", After: after,
			Drift: in.Prior.Exists() && orig.release == t.release})
	}
	if len(fields) > 0 && o.grubDefault != "saved" {
		before := o.grubDefault
		if before == "" {
			before = "0"
		}
		fields = append(fields, FieldChange{Path: "grub_default", Before: before, After: "saved (" + kernelGrubDropIn(in.Name) + ")"})
	}
	return fields, nil
}

// grubEntryLabel names a GRUB entry id by its kernel ("the GRUB entry of 6.17.0-1014-nvidia")
// when entries (release -> id) has it; otherwise the id as it is ("" stays "").
func grubEntryLabel(entries map[string]string, id string) string {
	if id == "" {
		return ""
	}
	for release, e := range entries {
		if e == id {
			return "the GRUB entry of " + release
		}
	}
	return id
}
