package main

// Action verbs and durations as the views print them.

import (
	"time"

	"github.com/sparkform/sparkform/internal/english"
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

// fmtDuration is the one way views write a measured duration (english.Duration): 0.04s, 0.4s,
// 9.5s, 12s, 2m10s, 1h05m.
func fmtDuration(d time.Duration) string { return english.Duration(d) }
