package pgstate

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sparkform/sparkform/internal/pgtest"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// fleet is a state of n hosts, each with two resources, 20 generations and 100 test runs:
// what a fleet looks like after months of applies.
func fleet(n int) *state.State {
	st := sample()
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range n {
		host := fmt.Sprintf("spark-%03d", i)
		h := st.Host(host)
		h.HostKey = "ssh-ed25519 AAAA" + host
		for _, r := range sample().Hosts["spark-01"].Resources {
			st.Set(host, r)
		}
		for g := range state.MaxGenerations {
			h.AddGeneration(at.Add(time.Duration(g)*time.Hour), "hash", "")
		}
		for k := range 100 {
			h.AddTestRun(&state.TestRun{Time: at.Add(time.Duration(k) * time.Minute), Test: "smoke_test.gpt-oss", Mode: "mmap",
				Seconds: 21 + float64(k%7)/10, Runs: []float64{21, 21.5, 22}, Passed: true, Kernel: "6.17.0-1008-nvidia"})
		}
	}
	return st
}

// countingTracer counts the statements a session sends (a batch counts once: it is one round
// trip), so the benchmark reports round trips per persist, not only time.
type countingTracer struct{ n int }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n++
	return ctx
}
func (*countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *countingTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n++
	return ctx
}
func (*countingTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (*countingTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// BenchmarkPersistOneResourceIn100HostFleet is the cost apply pays after every step: one
// resource changed in a 100-host state (20 generations and 100 test results per host).
func BenchmarkPersistOneResourceIn100HostFleet(b *testing.B) {
	srv := pgtest.Start(b)
	cfg, err := pgx.ParseConfig(srv.ConnString())
	if err != nil {
		b.Fatal(err)
	}
	tracer := &countingTracer{}
	cfg.Tracer = tracer
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	be := &Backend{schema: DefaultSchema, name: DefaultName, conn: conn, who: who()}
	defer be.Close()
	if err := be.ensureSchema(context.Background()); err != nil {
		b.Fatal(err)
	}
	st := fleet(100)
	if err := be.Persist(st); err != nil {
		b.Fatal(err)
	}
	r := st.Lookup("spark-050", "readahead.nvme")
	tracer.n = 0
	b.ResetTimer()
	for i := range b.N {
		r.Attributes = state.Value{Value: cty.ObjectVal(map[string]cty.Value{"device": cty.StringVal("nvme0n1"), "kb": cty.NumberIntVal(int64(4096 + i))})}
		if err := be.Persist(st); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tracer.n)/float64(b.N), "roundtrips/op")
}

// BenchmarkFilePersistOneResourceIn100HostFleet is the same step with the local file, for
// comparison in the same run.
func BenchmarkFilePersistOneResourceIn100HostFleet(b *testing.B) {
	s := state.NewStore(b.TempDir() + "/sparkform.state.json")
	st := fleet(100)
	if err := s.Persist(st); err != nil {
		b.Fatal(err)
	}
	r := st.Lookup("spark-050", "readahead.nvme")
	b.ResetTimer()
	for i := range b.N {
		r.Attributes = state.Value{Value: cty.ObjectVal(map[string]cty.Value{"device": cty.StringVal("nvme0n1"), "kb": cty.NumberIntVal(int64(4096 + i))})}
		if err := s.Persist(st); err != nil {
			b.Fatal(err)
		}
	}
}
