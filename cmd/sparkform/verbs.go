package main

// Action verbs and durations as the views print them.

import (
	"fmt"
	"strings"
	"time"

	"github.com/sparkform/sparkform/resources"
)

// actionVerbs are what a step is doing and what it did, per action ("update" for the rest).
var actionVerbs = map[resources.Action][2]string{
	resources.Create: {"creating", "created"}, resources.Delete: {"destroying", "destroyed"},
	resources.Replace: {"replacing", "replaced"}, resources.Update: {"updating", "updated"},
}

func verbsOf(action string) [2]string {
	if v, ok := actionVerbs[resources.Action(action)]; ok {
		return v
	}
	return actionVerbs[resources.Update]
}

// pastVerb turns an action into what happened: create -> created.
func pastVerb(action string) string { return verbsOf(action)[1] }

// progressVerb turns an action into what is happening: create -> creating.
func progressVerb(action string) string { return verbsOf(action)[0] }

// fmtDuration is the one way views write a duration, a step's or a model load's: 0.04s, 0.4s,
// 9.5s, 12s, 2m10s, 1h05m (two significant digits under a second, where lab loads are).
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", d.Seconds()), "0"), ".") + "s"
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
