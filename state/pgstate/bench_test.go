package pgstate

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/sparkform/sparkform/internal/pgtest"
	"github.com/sparkform/sparkform/state/statetest"
)

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
// resource changed in a 100-host state (20 generations and 100 test results per host). The
// file's figure is state.BenchmarkFilePersistOneResourceIn100HostFleet (bench/state-persist.sh
// runs both).
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
	st := statetest.Fleet(100)
	if err := be.Persist(st); err != nil {
		b.Fatal(err)
	}
	tracer.n = 0
	b.ResetTimer()
	for i := range b.N {
		statetest.Touch(st, "spark-050", i)
		if err := be.Persist(st); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tracer.n)/float64(b.N), "roundtrips/op")
}
