package state

import (
	"errors"
	"fmt"
	"os"
)

// WriteErrored saves st, which its backend could not store (disk full, read-only), into a new
// file in the first of dirs where that works (mode 0600, a fresh name: nothing is overwritten),
// and returns the file's path. The file is a complete state file: once the backend can be
// written again, it replaces the stored state (for the local backend: copy it over the file).
// Its serial is one past st's, as the next save would have written.
func WriteErrored(st *State, dirs ...string) (string, error) {
	out, err := encode(st, st.Serial+1)
	if err != nil {
		return "", fmt.Errorf("encoding state: %w", err)
	}
	var errs []error
	for _, dir := range dirs {
		f, err := os.CreateTemp(dir, "sparkform.errored-state-*.json")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_, werr := f.Write(out)
		if werr == nil {
			werr = f.Sync()
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(f.Name())
			errs = append(errs, fmt.Errorf("writing %s: %w", f.Name(), werr))
			continue
		}
		return f.Name(), nil
	}
	return "", errors.Join(errs...)
}
