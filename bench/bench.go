// Package bench is Unhidra's load generator (`unhidra bench`). It starts a
// server in its own process (or targets one), creates users over the API and
// drives WebSockets from worker processes, so that the server's memory and
// CPU are measured apart from the load, and no process holds more sockets
// than the per-process file limit allows.
//
// Scenarios:
//   - sends:  durable sends per second and send→ack latency (each sender in
//     its own channel, one send in flight per socket), beside a baseline of
//     ping→pong round trips on the same sockets.
//   - fanout: send→receive latency and deliveries per second to the members
//     of one large channel, sent at a fixed rate.
//   - idle:   server memory per idle authenticated WebSocket.
//
// Results are JSON lines on the output; figures depend on the machine, so
// compare runs made in one session, and read the ratios.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/unhidra/unhidra/client"
)

// Server is a server under test.
type Server struct {
	URL  string
	PID  int // 0 when the server was not started by us
	stop func()
	dir  string
}

// Close stops a server the bench started.
func (s *Server) Close() {
	if s.stop != nil {
		s.stop()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// StartServer runs `binary serve` on an ephemeral loopback port with a
// temporary data dir and every rate limit off, and waits until it listens.
func StartServer(ctx context.Context, binary string, extraArgs ...string) (*Server, error) {
	dir, err := os.MkdirTemp("", "unhidra-bench-")
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--mqtt-addr", "",
		"--log-format", "json",
		"--rate-login", "0", "--rate-register", "0", "--rate-ws-ip", "0", "--rate-ws-user", "0", "--rate-ws-msg", "0",
		"--ws-max-per-user", "0"}, extraArgs...)
	cmd := exec.Command(binary, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start server: %w", err)
	}
	s := &Server{PID: cmd.Process.Pid, dir: dir}
	done := make(chan struct{})
	s.stop = func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var rec struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "unhidra listening" {
				select {
				case urlc <- rec.URL:
				default:
				}
			}
		}
	}()
	go func() { cmd.Wait(); close(done) }()
	select {
	case s.URL = <-urlc:
		return s, nil
	case <-done:
		return nil, errors.New("server exited before listening")
	case <-time.After(60 * time.Second):
		s.Close()
		return nil, errors.New("server did not start within 60 s")
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
}

// Creds are one user's tokens, handed to worker processes.
type Creds struct {
	Username string        `json:"username"`
	UserID   string        `json:"user_id"`
	Tokens   client.Tokens `json:"tokens"`
}

// CreateUsers registers and logs in n users named prefix0…, a few at a time
// (each costs two Argon2id computations on the server).
func CreateUsers(ctx context.Context, server, prefix string, n int) ([]*client.Client, []Creds, error) {
	clients := make([]*client.Client, n)
	creds := make([]Creds, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := client.New(server)
			if err != nil {
				errs <- err
				return
			}
			name := fmt.Sprintf("%s%06d", prefix, i)
			pw := "load generator secret " + strconv.Itoa(i*7919)
			if _, err := c.Register(ctx, client.RegisterInput{Username: name, Password: pw}); err != nil && !client.IsCode(err, "conflict") {
				errs <- fmt.Errorf("register %s: %w", name, err)
				return
			}
			u, err := c.Login(ctx, name, pw)
			if err != nil {
				errs <- fmt.Errorf("login %s: %w", name, err)
				return
			}
			clients[i] = c
			creds[i] = Creds{Username: name, UserID: u.ID, Tokens: c.Tokens()}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, nil, err
	}
	return clients, creds, nil
}

// Percentiles summarises latency samples.
type Percentiles struct {
	Count int     `json:"count"`
	P50ms float64 `json:"p50_ms"`
	P90ms float64 `json:"p90_ms"`
	P99ms float64 `json:"p99_ms"`
	Maxms float64 `json:"max_ms"`
}

// Summarise sorts samples (in microseconds) and reads the percentiles.
func Summarise(samples []int64) Percentiles {
	if len(samples) == 0 {
		return Percentiles{}
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	at := func(q float64) float64 {
		i := int(q * float64(len(samples)-1))
		return float64(samples[i]) / 1000
	}
	return Percentiles{Count: len(samples), P50ms: at(.50), P90ms: at(.90), P99ms: at(.99), Maxms: at(1)}
}

// ServerMetrics reads a few gauges from the server's /metrics.
func ServerMetrics(ctx context.Context, server string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", server+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{
		"process_resident_memory_bytes": true, "go_memstats_heap_inuse_bytes": true,
		"go_goroutines": true, "gateway_connections_active": true, "go_memstats_stack_inuse_bytes": true,
		"process_cpu_seconds_total": true, `gateway_messages_total{direction="out"}`: true,
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok || !want[name] {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = f
		}
	}
	return out, nil
}

// emit writes one result as a JSON line.
func emit(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintln(w, string(b))
}

// Settle waits until the server has stopped writing frames (no more than
// quiet frames in half a second), at most max. Connecting many users at once
// sets off a storm of presence frames (every member hears every other member
// come online); measuring message fan-out during it would measure the storm.
func Settle(ctx context.Context, server string, quiet float64, max time.Duration) error {
	const key = `gateway_messages_total{direction="out"}`
	deadline := time.Now().Add(max)
	last := -1.0
	for time.Now().Before(deadline) {
		m, err := ServerMetrics(ctx, server)
		if err != nil {
			return err
		}
		if last >= 0 && m[key]-last <= quiet {
			return nil
		}
		last = m[key]
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}
