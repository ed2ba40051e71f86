package main

import (
	"fmt"
	"io"

	"github.com/sparkform/sparkform/internal/termsafe"
)

// warnStateDir prints the state backend's warning about its directory (a local state file in a
// directory others can write), if it has one.
func warnStateDir(b any, stderr io.Writer) {
	if d, ok := b.(interface{ DirWarning() string }); ok {
		if w := d.DirWarning(); w != "" {
			fmt.Fprintf(stderr, "Warning: %s\n", termsafe.Text(w))
		}
	}
}
