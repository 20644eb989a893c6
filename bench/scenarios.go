package bench

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
)

// Options are shared by the scenarios.
type Options struct {
	Server   string        // server URL
	PID      int           // the server's process, when the bench started it
	Binary   string        // this program, to start worker processes
	Out      io.Writer     // JSON result lines
	Duration time.Duration // measuring time of sends and fanout
}

// SendsResult is the outcome of the sends scenario.
type SendsResult struct {
	Scenario     string      `json:"scenario"`
	Senders      int         `json:"senders"`
	Seconds      float64     `json:"seconds"`
	Sends        int         `json:"sends"`
	SendsPerSec  float64     `json:"sends_per_sec"`
	Ack          Percentiles `json:"send_to_ack"`
	BaselinePing Percentiles `json:"baseline_ping_pong"`
	// AckP50OverPing is the median send→ack time in units of the median
	// ping→pong round trip on the same sockets: what durability and the
	// chat service cost on top of the gateway's own round trip.
	AckP50OverPing float64 `json:"ack_p50_over_ping_p50"`
	Errors         int     `json:"errors"`
}

// Sends measures durable sends: each sender owns a channel and keeps one
// send in flight on its socket, waiting for the ack (sent after the commit)
// before the next.
func Sends(ctx context.Context, o Options, senders int) (*SendsResult, error) {
	clients, _, err := CreateUsers(ctx, o.Server, "snd", senders)
	if err != nil {
		return nil, err
	}
	type sender struct {
		cn *client.Conn
		ch string
	}
	ss := make([]sender, senders)
	for i, c := range clients {
		ch, err := c.CreateChannel(ctx, client.CreateChannelInput{Name: fmt.Sprintf("bench-send-%d-%d", time.Now().UnixNano(), i), Kind: unhidra.ChannelPrivate})
		if err != nil {
			return nil, fmt.Errorf("create channel: %w", err)
		}
		cn, err := c.Connect(ctx, client.ConnectOptions{})
		if err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
		defer cn.CloseNow()
		ss[i] = sender{cn, ch.ID}
	}
	// waitFor reads frames until one of the wanted type (and client_msg_id).
	waitFor := func(cn *client.Conn, typ, id string) error {
		for {
			f, err := cn.Read(ctx)
			if err != nil {
				return err
			}
			switch f.Type {
			case typ:
				if id == "" {
					return nil
				}
				var a client.Ack
				if f.Decode(&a) == nil && a.ClientMsgID == id {
					return nil
				}
			case "error":
				return f.Err()
			}
		}
	}
	run := func(d time.Duration, op func(s sender, i int) error) ([]int64, int, time.Duration) {
		var mu sync.Mutex
		var all []int64
		var errs int
		var wg sync.WaitGroup
		start := time.Now()
		deadline := start.Add(d)
		for _, s := range ss {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var local []int64
				for i := 0; time.Now().Before(deadline); i++ {
					t0 := time.Now()
					if err := op(s, i); err != nil {
						mu.Lock()
						errs++
						mu.Unlock()
						return
					}
					local = append(local, time.Since(t0).Microseconds())
				}
				mu.Lock()
				all = append(all, local...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return all, errs, time.Since(start)
	}
	pings, _, _ := run(o.Duration/3, func(s sender, _ int) error {
		if err := s.cn.Ping(ctx); err != nil {
			return err
		}
		return waitFor(s.cn, "pong", "")
	})
	acks, errs, took := run(o.Duration, func(s sender, i int) error {
		id := client.NewClientMsgID()
		if err := s.cn.Send(ctx, &unhidra.SendInput{ChannelID: s.ch, ClientMsgID: id, Body: "bench message " + strconv.Itoa(i)}); err != nil {
			return err
		}
		return waitFor(s.cn, "ack", id)
	})
	r := &SendsResult{Scenario: "sends", Senders: senders, Seconds: took.Seconds(), Sends: len(acks),
		SendsPerSec: float64(len(acks)) / took.Seconds(), Ack: Summarise(acks), BaselinePing: Summarise(pings), Errors: errs}
	if r.BaselinePing.P50ms > 0 {
		r.AckP50OverPing = r.Ack.P50ms / r.BaselinePing.P50ms
	}
	emit(o.Out, r)
	return r, nil
}

// FanoutResult is the outcome of the fanout scenario.
type FanoutResult struct {
	Scenario         string      `json:"scenario"`
	Members          int         `json:"members"`
	Processes        int         `json:"processes"`
	RatePerSec       float64     `json:"send_rate_per_sec"`
	Sent             int         `json:"sent"`
	Delivered        int64       `json:"delivered"`
	Expected         int64       `json:"expected"`
	DeliveriesPerSec float64     `json:"deliveries_per_sec"`
	Latency          Percentiles `json:"send_to_receive"`
	ClosedEarly      int         `json:"sockets_closed_early"`
	Failed           int         `json:"sockets_failed"`
	// ServerCPUPerDelivery is the server's CPU time (user+system) over the
	// sending phase divided by the deliveries: what one delivery costs it.
	ServerCPUPerDeliveryUs float64 `json:"server_cpu_per_delivery_us"`
	ServerCPUCores         float64 `json:"server_cpu_cores"` // average cores busy while sending
}

// Fanout sends timed messages at rate per second into one channel of
// members members (one socket each, spread over procs worker processes) and
// measures send→receive latency at every member and the delivery rate.
func Fanout(ctx context.Context, o Options, members, procs int, rate float64) (*FanoutResult, error) {
	clients, creds, ch, err := oneChannel(ctx, o.Server, "fan", members)
	if err != nil {
		return nil, err
	}
	ws, err := startWorkers(ctx, o.Binary, procs, Job{Server: o.Server, Creds: creds, SocketsPerUser: 1, Timed: true})
	if err != nil {
		return nil, err
	}
	sender, err := connectDrained(ctx, clients[0])
	if err != nil {
		return nil, err
	}
	defer sender.CloseNow()
	if err := Settle(ctx, o.Server, 50, 90*time.Second); err != nil {
		return nil, err
	}
	before, err := ServerMetrics(ctx, o.Server)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	sent, err := sendTimed(ctx, sender, ch, rate, o.Duration)
	if err != nil {
		return nil, err
	}
	after, err := ServerMetrics(ctx, o.Server)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(began)
	total, err := stopWorkers(ws)
	if err != nil {
		return nil, err
	}
	r := &FanoutResult{Scenario: "fanout", Members: members, Processes: len(ws), RatePerSec: rate, Sent: sent,
		Delivered: total.Received, Expected: int64(sent) * int64(members),
		Latency: Summarise(total.LatenciesUs), ClosedEarly: total.ClosedEarly, Failed: total.Failed}
	if span := time.Duration(total.LastNanos - total.FirstNanos); span > 0 {
		r.DeliveriesPerSec = float64(total.Received) / span.Seconds()
	}
	cpu := after["process_cpu_seconds_total"] - before["process_cpu_seconds_total"]
	r.ServerCPUCores = cpu / elapsed.Seconds()
	if total.Received > 0 {
		r.ServerCPUPerDeliveryUs = cpu * 1e6 / float64(total.Received)
	}
	emit(o.Out, r)
	return r, nil
}

// IdleResult is the outcome of the idle scenario.
type IdleResult struct {
	Scenario          string             `json:"scenario"`
	Connections       int                `json:"connections"`
	Processes         int                `json:"processes"`
	Before            map[string]float64 `json:"server_before"`
	After             map[string]float64 `json:"server_after"`
	RSSPerConnBytes   float64            `json:"rss_per_conn_bytes"`
	HeapPerConnBytes  float64            `json:"heap_per_conn_bytes"`
	StackPerConnBytes float64            `json:"stack_per_conn_bytes"`
	Failed            int                `json:"sockets_failed"`
}

// Idle opens conns authenticated WebSockets (users × conns/users), spread
// over procs worker processes, and reads the server's memory before and
// after.
func Idle(ctx context.Context, o Options, conns, users, procs int) (*IdleResult, error) {
	users = max(1, min(users, conns))
	_, creds, err := CreateUsers(ctx, o.Server, "idl", users)
	if err != nil {
		return nil, err
	}
	time.Sleep(2 * time.Second)
	before, err := ServerMetrics(ctx, o.Server)
	if err != nil {
		return nil, err
	}
	ws, err := startWorkers(ctx, o.Binary, procs, Job{Server: o.Server, Creds: creds, SocketsPerUser: conns / users})
	if err != nil {
		return nil, err
	}
	// Let the server settle: hellos, hold timers, the presence storm.
	if err := Settle(ctx, o.Server, 50, 90*time.Second); err != nil {
		return nil, err
	}
	after, err := ServerMetrics(ctx, o.Server)
	if err != nil {
		return nil, err
	}
	total, err := stopWorkers(ws)
	if err != nil {
		return nil, err
	}
	n := float64(total.Sockets)
	r := &IdleResult{Scenario: "idle", Connections: total.Sockets, Processes: len(ws), Before: before, After: after, Failed: total.Failed}
	if n > 0 {
		r.RSSPerConnBytes = (after["process_resident_memory_bytes"] - before["process_resident_memory_bytes"]) / n
		r.HeapPerConnBytes = (after["go_memstats_heap_inuse_bytes"] - before["go_memstats_heap_inuse_bytes"]) / n
		r.StackPerConnBytes = (after["go_memstats_stack_inuse_bytes"] - before["go_memstats_stack_inuse_bytes"]) / n
	}
	emit(o.Out, r)
	return r, nil
}

func parallel(ctx context.Context, cs []*client.Client, n int, fn func(*client.Client) error) error {
	sem := make(chan struct{}, n)
	errc := make(chan error, len(cs))
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(c); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// StormResult is the outcome of the storm scenario.
type StormResult struct {
	Scenario  string  `json:"scenario"`
	Members   int     `json:"members"`
	Processes int     `json:"processes"`
	Sockets   int     `json:"sockets"`
	Failed    int     `json:"sockets_failed"`
	ConnectS  float64 `json:"connect_seconds"` // until every socket had its hello
	// SettleS is from the first connect until the last presence frame
	// reached any socket: how long the mass connect keeps the gateway busy.
	SettleS        float64 `json:"settle_seconds"`
	PresenceFrames int64   `json:"presence_frames"`
	// FramesPerMember is every frame the members received (hello excluded)
	// divided by the members: O(1) when presence is batched, O(N) when
	// every member hears every other one by one.
	FramesPerMember float64 `json:"frames_per_member"`
	ServerFramesOut float64 `json:"server_frames_out"`
	// Messages sent at RatePerSec from the first connect on: Delivered of
	// Expected for those sent after every socket was connected (before
	// that, a socket not yet connected cannot be expected to get them),
	// and the send→receive latency of every receipt.
	RatePerSec  float64     `json:"rate_per_sec"`
	Sent        int         `json:"sent"`
	Delivered   int64       `json:"delivered_after_connect"`
	Expected    int64       `json:"expected_after_connect"`
	Latency     Percentiles `json:"send_to_receive"`
	ClosedEarly int         `json:"closed_early"`
}

// Storm connects members members of one channel at once (one socket
// each, spread over procs worker processes) while a timed message is sent
// into the channel rate times a second, and measures how long the presence
// traffic of the mass connect lasts, how many frames it costs, and what it
// does to message delivery.
func Storm(ctx context.Context, o Options, members, procs int, rate float64) (*StormResult, error) {
	clients, creds, ch, err := oneChannel(ctx, o.Server, "stm", members+1)
	if err != nil {
		return nil, err
	}
	sender, err := connectDrained(ctx, clients[0])
	if err != nil {
		return nil, err
	}
	defer sender.CloseNow()
	if err := Settle(ctx, o.Server, 5, 30*time.Second); err != nil {
		return nil, err
	}
	before, err := ServerMetrics(ctx, o.Server)
	if err != nil {
		return nil, err
	}

	began := time.Now()
	var connectedAt atomic.Int64
	sendErr := make(chan error, 1)
	var sent []int64
	go func() {
		interval := time.Duration(float64(time.Second) / rate)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			<-tick.C
			c := connectedAt.Load()
			if c != 0 && time.Now().UnixNano() > c+int64(o.Duration) {
				sendErr <- nil
				return
			}
			now := time.Now().UnixNano()
			body := Marker + strconv.FormatInt(now, 10)
			if err := sender.Send(ctx, &unhidra.SendInput{ChannelID: ch, ClientMsgID: client.NewClientMsgID(), Body: body}); err != nil {
				sendErr <- err
				return
			}
			sent = append(sent, now)
		}
	}()
	ws, err := startWorkers(ctx, o.Binary, procs, Job{Server: o.Server, Creds: creds[1:], SocketsPerUser: 1, Timed: true})
	if err != nil {
		return nil, err
	}
	connectedAt.Store(time.Now().UnixNano())
	connect := time.Since(began)
	if err := <-sendErr; err != nil {
		return nil, err
	}
	// Let the last deliveries and the end of the storm arrive.
	if err := Settle(ctx, o.Server, 5, 120*time.Second); err != nil {
		return nil, err
	}
	after, err := ServerMetrics(ctx, o.Server)
	if err != nil {
		return nil, err
	}
	total, err := stopWorkers(ws)
	if err != nil {
		return nil, err
	}
	r := &StormResult{Scenario: "storm", Members: members, Processes: len(ws), Sockets: total.Sockets, Failed: total.Failed,
		ConnectS: connect.Seconds(), PresenceFrames: total.PresenceFrames, RatePerSec: rate, Sent: len(sent),
		Latency: Summarise(total.LatenciesUs), ClosedEarly: total.ClosedEarly,
		ServerFramesOut: after[`gateway_messages_total{direction="out"}`] - before[`gateway_messages_total{direction="out"}`]}
	if total.LastPresenceNanos > 0 {
		r.SettleS = float64(total.LastPresenceNanos-began.UnixNano()) / 1e9
	}
	if members > 0 {
		r.FramesPerMember = float64(total.Frames) / float64(members)
	}
	cut := connectedAt.Load()
	for _, at := range sent {
		if at > cut {
			r.Expected += int64(total.Sockets)
			r.Delivered += total.PerMessage[at]
		}
	}
	emit(o.Out, r)
	return r, nil
}

// oneChannel creates n users and a public channel that the first one owns
// and the others join.
func oneChannel(ctx context.Context, server, prefix string, n int) ([]*client.Client, []Creds, string, error) {
	clients, creds, err := CreateUsers(ctx, server, prefix, n)
	if err != nil {
		return nil, nil, "", err
	}
	ch, err := clients[0].CreateChannel(ctx, client.CreateChannelInput{Name: fmt.Sprintf("bench-%s-%d", prefix, time.Now().UnixNano()), Kind: unhidra.ChannelPublic})
	if err != nil {
		return nil, nil, "", err
	}
	if err := parallel(ctx, clients[1:], 8, func(c *client.Client) error { _, err := c.Join(ctx, ch.ID); return err }); err != nil {
		return nil, nil, "", fmt.Errorf("join: %w", err)
	}
	return clients, creds, ch.ID, nil
}

// connectDrained opens a socket for c whose frames are read and dropped, so
// that a sender's own echoes never back up.
func connectDrained(ctx context.Context, c *client.Client) (*client.Conn, error) {
	cn, err := c.Connect(ctx, client.ConnectOptions{})
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			if _, err := cn.Read(ctx); err != nil {
				return
			}
		}
	}()
	return cn, nil
}

// sendTimed sends timed messages (Marker and the send time) into ch at rate
// per second for d, then waits for the last deliveries to arrive, and
// returns how many it sent.
func sendTimed(ctx context.Context, sender *client.Conn, ch string, rate float64, d time.Duration) (int, error) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	deadline := time.Now().Add(d)
	sent := 0
	for time.Now().Before(deadline) {
		<-tick.C
		body := Marker + strconv.FormatInt(time.Now().UnixNano(), 10)
		if err := sender.Send(ctx, &unhidra.SendInput{ChannelID: ch, ClientMsgID: client.NewClientMsgID(), Body: body}); err != nil {
			return sent, err
		}
		sent++
	}
	tick.Stop()
	time.Sleep(3 * time.Second) // let the last deliveries arrive
	return sent, nil
}
