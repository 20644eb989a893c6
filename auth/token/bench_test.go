package token

import (
	"fmt"
	"testing"
)

// Results on the development machine are in the package's commit message and
// the issue note; tests never assert on speed.

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
