package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsAddr: by default /metrics is served on the main listener; with
// --metrics-addr it is served only on that listener and the main one answers
// 404 for it.
func TestMetricsAddr(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		n := testserver.Start(t, testserver.Config(t, "sqlite"))
		if status, body := get(t, n.URL+"/metrics"); status != 200 || !strings.Contains(body, "http_requests_total") {
			t.Fatalf("main listener /metrics: %d %.200s", status, body)
		}
		if n.MetricsURL() != "" {
			t.Fatalf("MetricsURL = %q without --metrics-addr", n.MetricsURL())
		}
	})
	t.Run("separate", func(t *testing.T) {
		cfg := testserver.Config(t, "sqlite")
		cfg.MetricsAddr = "127.0.0.1:0"
		n := testserver.Start(t, cfg)
		get(t, n.URL+"/healthz")
		if status, body := get(t, n.URL+"/metrics"); status != 404 || !strings.Contains(body, "not_found") {
			t.Fatalf("main listener /metrics with --metrics-addr: %d %.200s", status, body)
		}
		m := n.MetricsURL()
		if m == "" || m == n.URL {
			t.Fatalf("MetricsURL = %q (main %q)", m, n.URL)
		}
		status, body := get(t, m+"/metrics")
		if status != 200 || !strings.Contains(body, `http_requests_total{code="200",method="GET",route="/healthz"}`) {
			t.Fatalf("metrics listener /metrics: %d %.300s", status, body)
		}
		if status, _ := get(t, m+"/api/v1/users/me"); status != 404 {
			t.Fatalf("metrics listener serves the API: %d", status)
		}
	})
}
