package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/internal/testserver"
)

func TestSummarise(t *testing.T) {
	p := Summarise([]int64{5000, 1000, 3000, 2000, 4000})
	if p.Count != 5 || p.P50ms != 3 || p.Maxms != 5 || p.P99ms != 4 {
		t.Fatalf("%+v", p)
	}
	if (Summarise(nil) != Percentiles{}) {
		t.Fatal("empty samples")
	}
}

func TestTimestamp(t *testing.T) {
	for raw, want := range map[string]int64{
		`{"type":"message","message":{"body":"lgts 12345","id":"x"}}`: 12345,
		`{"type":"message","message":{"body":"hello"}}`:               -1,
		`{"type":"message","message":{"body":"lgts 12x"}}`:            -1,
		`{"body":"lgts 7`: -1,
	} {
		got, ok := timestamp([]byte(raw))
		if (want < 0) == ok || (ok && got != want) {
			t.Errorf("timestamp(%s) = %d, %v", raw, got, ok)
		}
	}
}

// TestSendsAndWorker runs the sends scenario briefly against a real node,
// and a worker in-process through its stdin/stdout protocol receiving timed
// messages.
func TestSendsAndWorker(t *testing.T) {
	cfg := testserver.Config(t, "sqlite")
	cfg.RateWSIP.N, cfg.RateWSUser.N, cfg.RateWSMsg.N = 0, 0, 0
	n := testserver.Start(t, cfg)
	ctx := t.Context()
	var out strings.Builder
	r, err := Sends(ctx, Options{Server: n.URL, Out: &out, Duration: 600 * time.Millisecond}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sends == 0 || r.Errors != 0 || r.Ack.P50ms <= 0 || r.BaselinePing.Count == 0 || !strings.Contains(out.String(), `"scenario":"sends"`) {
		t.Fatalf("sends result %+v", r)
	}

	clients, creds, err := CreateUsers(ctx, n.URL, "wrk", 2)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := clients[0].CreateChannel(ctx, client.CreateChannelInput{Name: "bench-worker", Kind: unhidra.ChannelPublic})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clients[1].Join(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- RunWorker(context.Background(), inR, outW); outW.Close() }()
	job, _ := json.Marshal(Job{Server: n.URL, Creds: creds[1:], SocketsPerUser: 2, Timed: true})
	inW.Write(append(job, '\n'))
	rd := bufio.NewReader(outR)
	if line, err := rd.ReadString('\n'); err != nil || !strings.Contains(line, "ready") {
		t.Fatalf("worker: %q %v", line, err)
	}
	for i := range 3 {
		body := Marker + fmt.Sprint(time.Now().UnixNano())
		if _, err := clients[0].Send(ctx, &unhidra.SendInput{ChannelID: ch.ID, ClientMsgID: fmt.Sprint("t", i), Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	// Each of the 2 sockets gets the 3 messages: wait for the worker to
	// say so, to a deadline, rather than for a guessed time.
	dec := json.NewDecoder(rd)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		inW.Write([]byte("progress\n"))
		var p Progress
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Received >= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker received %d of 6 timed messages", p.Received)
		}
	}
	inW.Close()
	var res WorkerResult
	if err := dec.Decode(&res); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if res.Sockets != 2 || res.Received != 6 || len(res.LatenciesUs) != 6 || res.Failed != 0 {
		t.Fatalf("worker result %+v", res)
	}
}
