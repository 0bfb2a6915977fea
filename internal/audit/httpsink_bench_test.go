package audit

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkHTTPSinkDelivery measures records delivered per second to a
// loopback receiver that reads and acknowledges every batch: the sink's own
// cost (encoding, batching, one request per batch), not the network's;
// with a spool, also the journal's write per record and mark per batch.
func BenchmarkHTTPSinkDelivery(b *testing.B) {
	for _, spooled := range []bool{false, true} {
		name := "memory"
		if spooled {
			name = "spool"
		}
		b.Run(name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
			}))
			defer srv.Close()
			opts := HTTPOptions{URL: srv.URL, Source: "/gatehouse/bench", BufferSize: b.N + 1}
			if spooled {
				opts.SpoolDir = b.TempDir()
			}
			s, err := NewHTTPSink(opts)
			if err != nil {
				b.Fatal(err)
			}
			rec := hsRecord("bench", 1)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := s.Write(context.Background(), rec, false); err != nil {
					b.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.Close(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkRequiredRecord measures one required record's round trip: queued,
// sent in its own batch, acknowledged (what --audit-required adds to a
// compile).
func BenchmarkRequiredRecord(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	s, err := NewHTTPSink(HTTPOptions{URL: srv.URL, Source: "/gatehouse/bench"})
	if err != nil {
		b.Fatal(err)
	}
	trail := NewTrail(Options{Required: true}, s)
	rec := *hsRecord("bench", 1)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := trail.Record(context.Background(), rec); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_ = trail.Close(context.Background())
}
