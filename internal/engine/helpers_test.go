package engine

import (
	"strconv"

	"github.com/sparkform/sparkform/internal/config"
)

type (
	configAmount  = config.Amount
	configRollout = config.Rollout
)

func itoa(i int) string { return strconv.Itoa(i) }
