package token

import (
	"fmt"
	"testing"
)

// Measured with go test -bench . (Go 1.26, 2-core AMD EPYC VM, shared with
// other builds at load average 7-9, so figures are low and noisy), per core:
//
//	Issue  RSA-2048  ~110-240 ops/s (4-9 ms)     RSA-3072  ~35-78 ops/s
//	Verify RSA-2048  ~4,100-6,000 ops/s (170-240 µs)  RSA-3072  ~800-1,500 ops/s
//
// Verify runs on every API call and WebSocket handshake, Issue only at login
// and refresh (which also hash a password or a refresh token), which is why
// 2048-bit keys are the default. Tests never assert on speed.

func BenchmarkIssue(b *testing.B) {
	for _, bits := range []int{2048, 3072} {
		b.Run(fmt.Sprintf("rsa%d", bits), func(b *testing.B) {
			ks, _ := newKeySet(b, t0, KeyOptions{Bits: bits})
			is := newIssuer(b, ks, newClock(t0))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := is.Issue(testClaims); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, bits := range []int{2048, 3072} {
		b.Run(fmt.Sprintf("rsa%d", bits), func(b *testing.B) {
			ks, _ := newKeySet(b, t0, KeyOptions{Bits: bits})
			is := newIssuer(b, ks, newClock(t0))
			tok := issue(b, is, testClaims)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := is.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
