package resources

import "github.com/zclconf/go-cty/cty"

// sysctl and readahead judge a setting by its effect: what they observe is the live values,
// sparkform's own file (null when absent) and what the host's boot configuration sets without
// that file, so a value persisted by the host's own files needs no file of sparkform's.

// readPersisted reads the file tagged fileTag from lines and what boot computes, and makes the
// observed value of live, the file and the boot values.
func readPersisted(lines []probeLine, live map[string]string, fileTag string, boot func() (map[string]string, error)) (cty.Value, error) {
	file, err := fileFact.parse(lines, fileTag)
	if err != nil {
		return cty.NilVal, err
	}
	b, err := boot()
	if err != nil {
		return cty.NilVal, err
	}
	return persistedValue(live, file, b), nil
}

// persistedValue is the observed value of live values, sparkform's file and the boot values.
func persistedValue(live map[string]string, file cty.Value, boot map[string]string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"live": stringMapVal(live), "file": file, "boot": stringMapVal(boot)})
}
