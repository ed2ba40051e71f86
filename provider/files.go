package provider

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/pkg/sftp"
)

// exitNotExist is the exit code the sudo read script uses for "no such file".
const exitNotExist = 3

// ReadFile returns the file's content: over SFTP as root, through `sudo cat` otherwise (the
// login user may not be allowed to read it).
func (h *SSHHost) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if h.useSudo() {
		res, err := h.Run(ctx, fmt.Sprintf("[ -e %[1]s ] || exit %[2]d\nexec cat -- %[1]s\n", Quote(p), exitNotExist))
		var tooLarge *OutputTooLargeError
		if errors.As(err, &tooLarge) {
			tooLarge.What, tooLarge.Result = "file "+p, Result{}
		}
		if err != nil {
			return nil, err
		}
		switch res.ExitCode {
		case 0:
			return res.Stdout, nil
		case exitNotExist:
			return nil, fmt.Errorf("%s: reading %s: %w", h.label, p, fs.ErrNotExist)
		default:
			return nil, fmt.Errorf("%s: reading %s: %s", h.label, p, firstLine(res.Stderr))
		}
	}
	cn, s, err := h.sftp()
	if err != nil {
		return nil, err
	}
	f, err := s.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: reading %s: %w", h.label, p, fs.ErrNotExist)
		}
		return nil, h.transportError(cn, "reading "+p, err)
	}
	defer f.Close()
	limit := h.maxOutput()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, h.transportError(cn, "reading "+p, err)
	}
	if len(b) > limit {
		return nil, &OutputTooLargeError{Host: h.label, What: "file " + p, Limit: int64(limit)}
	}
	return b, nil
}

// sftp is the host's connection and its SFTP session (opened on first use); the error says
// which could not be had.
func (h *SSHHost) sftp() (*conn, *sftp.Client, error) {
	cn, err := h.conn()
	if err != nil {
		return nil, nil, err
	}
	s, err := cn.sftpClient()
	if err != nil {
		return nil, nil, h.transportError(cn, "SFTP", err)
	}
	return cn, s, nil
}

// WriteFile writes data atomically with mode and owner ("" = the login user, or root with sudo;
// "root", "user", "user:group", "uid:gid").
func (h *SSHHost) WriteFile(ctx context.Context, p string, data []byte, mode fs.FileMode, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !path.IsAbs(p) || strings.HasSuffix(p, "/") {
		return fmt.Errorf("%s: writing %q: need an absolute file path", h.label, p)
	}
	cn, s, err := h.sftp()
	if err != nil {
		return err
	}
	if h.useSudo() {
		return h.writeSudo(ctx, cn, p, data, mode, owner)
	}
	var uid, gid int
	chown := owner != ""
	if chown {
		if uid, gid, err = h.resolveOwner(ctx, owner); err != nil {
			return err
		}
	}
	dir, base := path.Split(p)
	// A temp beside the target: rename is atomic only within one filesystem.
	tmp := dir + "." + base + ".sparkform-" + randomHex()
	f, err := s.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return h.transportError(cn, "writing "+p, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			s.Remove(tmp)
		}
	}()
	// Mode and owner before the data: a secret is never readable under the default umask.
	if err := f.Chmod(mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return h.transportError(cn, "setting the mode of "+tmp, err)
	}
	if chown {
		if err := f.Chown(uid, gid); err != nil {
			return h.transportError(cn, fmt.Sprintf("setting the owner of %s to %d:%d", tmp, uid, gid), err)
		}
	}
	if _, err := f.Write(data); err != nil {
		return h.transportError(cn, "writing "+tmp, err)
	}
	if _, has := s.HasExtension("fsync@openssh.com"); has {
		if err := f.Sync(); err != nil {
			return h.transportError(cn, "syncing "+tmp, err)
		}
	}
	if err := f.Close(); err != nil {
		return h.transportError(cn, "writing "+tmp, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, has := s.HasExtension("posix-rename@openssh.com"); !has {
		return fmt.Errorf("%s: the SFTP server lacks posix-rename@openssh.com; atomic replacement is impossible", h.label)
	}
	if err := s.PosixRename(tmp, p); err != nil {
		return h.transportError(cn, fmt.Sprintf("renaming %s to %s", tmp, p), err)
	}
	ok = true
	return nil
}

// writeSudo uploads into a private 0700 directory in the login user's home (not /tmp: it may be
// noexec or shared), then one sudo script installs it beside the target and renames it over.
func (h *SSHHost) writeSudo(ctx context.Context, cn *conn, p string, data []byte, mode fs.FileMode, owner string) error {
	s, err := cn.sftpClient()
	if err != nil {
		return h.transportError(cn, "SFTP", err)
	}
	home, err := s.Getwd() // an SFTP session starts in the login user's home
	if err != nil {
		return h.transportError(cn, "finding the home directory", err)
	}
	tmpDir := path.Join(home, ".sparkform-"+randomHex())
	if err := s.Mkdir(tmpDir); err != nil {
		return h.transportError(cn, "creating "+tmpDir, err)
	}
	src := path.Join(tmpDir, "data")
	defer func() {
		s.Remove(src)
		s.RemoveDirectory(tmpDir)
	}()
	if err := s.Chmod(tmpDir, 0o700); err != nil {
		return h.transportError(cn, "securing "+tmpDir, err)
	}
	f, err := s.OpenFile(src, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return h.transportError(cn, "uploading "+p, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return h.transportError(cn, "uploading "+p, err)
	}
	if err := f.Close(); err != nil {
		return h.transportError(cn, "uploading "+p, err)
	}

	usr, grp := "root", "root"
	if owner != "" {
		usr, grp, _ = strings.Cut(owner, ":")
	}
	grpArg := Quote(grp)
	if grp == "" { // "user" alone: the user's primary group, as chown user: would pick
		grpArg = `"$(id -g -- ` + Quote(usr) + `)"`
	}
	dir, base := path.Split(p)
	script := fmt.Sprintf(`set -e
src=%s dst=%s tmp=%s
trap 'rm -f -- "$tmp"' EXIT
install -m %s -o %s -g %s -- "$src" "$tmp"
sync -- "$tmp" 2>/dev/null || true
mv -f -- "$tmp" "$dst"
`, Quote(src), Quote(p), Quote(dir+"."+base+".sparkform-"+randomHex()), octalMode(mode), Quote(usr), grpArg)
	res, err := h.run(ctx, script, true, nil)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s: writing %s through sudo failed (exit %d): %s", h.label, p, res.ExitCode, firstLine(res.Stderr))
	}
	return nil
}

// Remove deletes a file; an absent file is fine.
func (h *SSHHost) Remove(ctx context.Context, p string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.useSudo() {
		res, err := h.Run(ctx, "rm -f -- "+Quote(p)+"\n")
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("%s: removing %s: %s", h.label, p, firstLine(res.Stderr))
		}
		return nil
	}
	cn, s, err := h.sftp()
	if err != nil {
		return err
	}
	if err := s.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return h.transportError(cn, "removing "+p, err)
	}
	return nil
}

// resolveOwner turns "root", "uid:gid", "user" or "user:group" into numbers; names cost one
// round trip the first time and are cached for the connection's host.
func (h *SSHHost) resolveOwner(ctx context.Context, owner string) (int, int, error) {
	usr, grp, hasGrp := strings.Cut(owner, ":")
	if usr == "" || hasGrp && grp == "" {
		return 0, 0, fmt.Errorf("%s: owner %q: use user, user:group or uid:gid", h.label, owner)
	}
	if !hasGrp && usr == "root" {
		return 0, 0, nil
	}
	uid, uerr := strconv.Atoi(usr)
	gid, gerr := strconv.Atoi(grp)
	if uerr == nil && gerr == nil && hasGrp {
		return uid, gid, nil
	}
	h.ownersMu.Lock()
	ids, ok := h.owners[owner]
	h.ownersMu.Unlock()
	if ok {
		return ids[0], ids[1], nil
	}
	script := "id -u -- " + Quote(usr) + "\n"
	switch {
	case !hasGrp:
		script += "id -g -- " + Quote(usr) + "\n"
	case gerr == nil:
		script += "echo " + strconv.Itoa(gid) + "\n"
	default:
		script += "getent group " + Quote(grp) + " | cut -d: -f3 | grep .\n"
	}
	res, err := h.run(ctx, "set -e\n"+script, false, nil)
	if err != nil {
		return 0, 0, err
	}
	if res.ExitCode != 0 || len(strings.Fields(string(res.Stdout))) != 2 {
		return 0, 0, fmt.Errorf("%s: owner %q: no such user or group on the host (%s)", h.label, owner, firstLine(res.Stderr))
	}
	uid, gid, ok = parseOwnerIDs(res.Stdout)
	if !ok {
		return 0, 0, fmt.Errorf("%s: owner %q: unexpected id output %q", h.label, owner, res.Stdout)
	}
	h.ownersMu.Lock()
	h.owners[owner] = [2]int{uid, gid}
	h.ownersMu.Unlock()
	return uid, gid, nil
}

// parseOwnerIDs reads the uid and gid the host printed: two plain decimal ids below 2^32-1
// ((uid_t)-1 means "leave unchanged" to chown; Atoi's "-1" or "+0" are no ids).
func parseOwnerIDs(out []byte) (uid, gid int, ok bool) {
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return 0, 0, false
	}
	var ids [2]int
	for i, s := range f {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil || n == 1<<32-1 {
			return 0, 0, false
		}
		ids[i] = int(n)
	}
	return ids[0], ids[1], true
}

func octalMode(m fs.FileMode) string {
	n := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return fmt.Sprintf("%04o", n)
}

func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func firstLine(b []byte) string {
	b = bytes.TrimSpace(b)
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return "no error output"
	}
	return string(b)
}
