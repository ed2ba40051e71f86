package state_test

import (
	"testing"

	"github.com/sparkform/sparkform/state"
	"github.com/sparkform/sparkform/state/statetest"
)

// BenchmarkFilePersistOneResourceIn100HostFleet is what apply pays after every step with the
// local file: one resource changed in a 100-host state (20 generations, 100 test results per
// host), written atomically (temp file, fsync, rename, fsync of the directory).
func BenchmarkFilePersistOneResourceIn100HostFleet(b *testing.B) {
	s := state.NewStore(b.TempDir() + "/sparkform.state.json")
	st := statetest.Fleet(100)
	if err := s.Persist(st); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		statetest.Touch(st, "spark-050", i)
		if err := s.Persist(st); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if fi, err := state.NewStore(s.Path()).Load(); err != nil || fi.Serial != uint64(b.N+1) {
		b.Fatalf("after %d persists: %v, %v", b.N, fi, err)
	}
}

// BenchmarkFileFirstPersistAfterLoadIn100HostFleet is an apply's first persist: the file was
// loaded, not written, by this Store, so it is encoded once more to compare contents (and to
// fill the cache of history encodings the later persists reuse).
func BenchmarkFileFirstPersistAfterLoadIn100HostFleet(b *testing.B) {
	path := b.TempDir() + "/sparkform.state.json"
	if err := state.NewStore(path).Persist(statetest.Fleet(100)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		s := state.NewStore(path)
		st, err := s.Load()
		if err != nil {
			b.Fatal(err)
		}
		statetest.Touch(st, "spark-050", i)
		b.StartTimer()
		if err := s.Persist(st); err != nil {
			b.Fatal(err)
		}
	}
}
