package main

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/engine"
)

// debugLog is the SPARKFORM_LOG logger (TF_LOG's habit); it discards everything unless the
// variable names a level (debug, info, warn, error; "trace" and "1" mean debug).
var debugLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// startDebugLog sets debugLog from SPARKFORM_LOG and SPARKFORM_LOG_PATH (a file appended to;
// default standard error) and logs the command; the returned function logs its end. The text
// handler quotes values holding spaces or control characters, so host output in the log cannot
// drive a terminal. Values of flags are not logged (-var may carry secrets).
func startDebugLog(stderr io.Writer, args []string) func() {
	level, ok := logLevel(os.Getenv("SPARKFORM_LOG"))
	if !ok {
		return func() {}
	}
	w := stderr
	var f *os.File
	if p := os.Getenv("SPARKFORM_LOG_PATH"); p != "" {
		var err error
		if f, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
			errorf(stderr, "SPARKFORM_LOG_PATH: %v", err)
		} else {
			w = f
		}
	}
	debugLog = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	var flags []string
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") {
			name, _, _ := strings.Cut(a, "=")
			flags = append(flags, name)
		}
	}
	start := time.Now()
	debugLog.Info("sparkform start", "version", version, "command", args[0], "flags", strings.Join(flags, " "), "pid", os.Getpid())
	return func() {
		debugLog.Info("sparkform end", "command", args[0], "elapsed", time.Since(start).Round(time.Millisecond).String())
		if f != nil {
			f.Close()
		}
		debugLog = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

func logLevel(v string) (slog.Level, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "trace", "debug", "1", "true":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// logEvent writes an engine event to the debug log.
func logEvent(ev engine.Event) {
	debugLog.Debug("event", "kind", ev.Kind, "host", ev.Host, "addr", ev.Addr, "message", ev.Message)
}
