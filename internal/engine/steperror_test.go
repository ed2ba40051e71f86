package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/provider"
)

func TestStepErrorNamesTheStepAndSaysALostHostPlainly(t *testing.T) {
	lost := &provider.ConnLostError{Host: "spark-02 (10.0.0.2:22)", Why: "frozen or unreachable: no answer to 3 keepalives 2s apart"}
	// A resource wraps the transport's error in its own context, as python_venv does.
	err := stepError("python_venv.v", fmt.Errorf("python_venv.v: building /opt/v.sparkform-gens/2: %w", lost))
	if !strings.HasPrefix(err.Error(), "python_venv.v: host frozen or unreachable") || !strings.Contains(err.Error(), "spark-02") {
		t.Errorf("lost connection: %q", err)
	}
	if !errors.Is(err, lost) {
		t.Errorf("the lost connection is not kept in the chain: %v", err)
	}
	if got := stepError("sysctl.s", errors.New("boom")).Error(); got != "sysctl.s: boom" {
		t.Errorf("plain failure: %q", got)
	}
	if got := stepError("sysctl.s", errors.New("sysctl.s: boom")).Error(); got != "sysctl.s: boom" {
		t.Errorf("failure already naming its step: %q", got)
	}
}
