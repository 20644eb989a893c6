package cluster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/bench"
	"github.com/unhidra/unhidra/internal/cluster"
	"github.com/unhidra/unhidra/internal/testenv"
)

// TestBenchCluster runs the load generator's cluster scenario briefly (two
// nodes, a few members): every message reaches every member, on the
// sender's node and across, and the result says so. The figures themselves
// come from `make bench`.
func TestBenchCluster(t *testing.T) {
	var out strings.Builder
	o := bench.Options{Binary: cluster.Binary(), Out: &out, Duration: time.Second}
	r, err := bench.Cluster(t.Context(), o, bench.ClusterOptions{DB: testenv.PostgresAdminURL(), Bus: natsURL}, 2, 10, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent == 0 || r.Delivered != r.Expected || r.SameNode.Count == 0 || r.CrossNode.Count == 0 || r.Failed != 0 {
		t.Fatalf("cluster result %+v", r)
	}
	if !strings.Contains(out.String(), `"scenario":"cluster"`) {
		t.Fatalf("output %q", out.String())
	}
}
