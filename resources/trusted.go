package resources

import (
	_ "embed"
	"fmt"
	"strings"
)

// trustLib defines sf_untrusted PATH..., which prints "PATH<TAB>why" for the first PATH that may
// not be run as root, or nothing. A program sparkform did not install in this run is run only
// when it, every directory above it and every symlink on the way (targets followed) belong to
// root or to the login user (the one sudo ran for) and are not writable by group or others; a
// directory with the sticky bit (/tmp) may be writable by others, since they cannot replace
// what they do not own in it. Otherwise anyone who can write there could replace the program
// and get root. A program at TREE/bin/NAME in a venv (pyvenv.cfg), a conda environment
// (conda-meta/) or a CMake build tree (CMakeCache.txt) runs what its tree holds too
// (site-packages' .pth files and modules, the libraries built beside it): nothing in that tree
// may belong to anyone else or be writable by group or others.
//
// One namei (util-linux: it walks the whole chain, following symlinks) and one awk for all the
// paths of a call, whatever their depth; no fork per directory; one find per venv or build tree.
//
//go:embed scripts/untrusted.sh
var trustLib string

// untrustedReport turns what sf_untrusted printed ("PATH\twhy") into the error a resource fails
// with on that host.
func untrustedReport(out string) error {
	program, why, _ := strings.Cut(strings.TrimSpace(out), "\t")
	return untrustedError(program, why)
}

// untrustedError is the error for a program that is not run, and why.
func untrustedError(program, why string) error {
	return fmt.Errorf("untrusted: not running %s: %s (only root or the login user may be able to replace a program sparkform runs as root)", program, strings.TrimSpace(why))
}

// untrustedLine is the error of a probe's "untrusted" or "untrusteddir" line (tag), whose
// argument is base64 of "PATH<TAB>why" (sf_trusted in scripts/untrusted.sh).
func untrustedLine(tag, arg string) error {
	msg, _ := decodeB64(arg)
	path, why, _ := strings.Cut(msg, "\t")
	if tag == "untrusteddir" {
		return untrustedDirError(path, why)
	}
	return untrustedError(path, why)
}

// untrustedDirError is the error for a directory apply would build in as root although someone
// else could write it (or a directory above it), and why.
func untrustedDirError(dir, why string) error {
	return fmt.Errorf("untrusted: not building in %s: %s (sparkform builds and runs programs there as root: only root or the login user may be able to write it and every directory above it)", dir, strings.TrimSpace(why))
}
