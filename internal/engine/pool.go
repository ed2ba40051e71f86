package engine

import (
	"context"
	"sync"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/provider"
)

// Pool keeps one connection per host for a whole command, so `apply` reads and then changes a
// host over the connection its plan opened: one handshake per host per run. Hosts it hands out
// ignore Close; Pool.Close closes them all.
type Pool struct {
	dial DialFunc
	mu   sync.Mutex
	open map[string]provider.Host
}

// NewPool wraps dial.
func NewPool(dial DialFunc) *Pool { return &Pool{dial: dial, open: map[string]provider.Host{}} }

// alive is implemented by hosts that can tell a connection closed by keepalives.
type alive interface{ Alive() bool }

// Dial returns the host's open connection, reconnecting it if it died meanwhile, or dials.
// A connection whose key differs from pinned is never reused: the dial decides (and refuses).
func (p *Pool) Dial(ctx context.Context, h *config.Host, pinned string) (provider.Host, error) {
	p.mu.Lock()
	cur := p.open[h.Name]
	p.mu.Unlock()
	if cur != nil && (pinned == "" || cur.HostKey() == pinned) {
		if a, ok := cur.(alive); ok && !a.Alive() {
			if err := cur.Reconnect(ctx); err != nil {
				return nil, err
			}
		}
		return pooled{cur}, nil
	}
	if cur != nil {
		cur.Close()
	}
	nh, err := p.dial(ctx, h, pinned)
	if err != nil {
		p.mu.Lock()
		delete(p.open, h.Name)
		p.mu.Unlock()
		return nil, err
	}
	p.mu.Lock()
	p.open[h.Name] = nh
	p.mu.Unlock()
	return pooled{nh}, nil
}

// Close closes every connection of the pool.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, h := range p.open {
		h.Close()
		delete(p.open, name)
	}
}

// pooled is a host whose connection belongs to the pool.
type pooled struct{ provider.Host }

func (pooled) Close() error { return nil }
