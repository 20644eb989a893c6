package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClusterResult is the outcome of the cluster scenario for one node count.
type ClusterResult struct {
	Scenario         string  `json:"scenario"`
	Nodes            int     `json:"nodes"`
	Bus              string  `json:"bus"`
	Members          int     `json:"members"`
	Processes        int     `json:"processes"`
	RatePerSec       float64 `json:"send_rate_per_sec"`
	Sent             int     `json:"sent"`
	Delivered        int64   `json:"delivered"`
	Expected         int64   `json:"expected"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	// SameNode is send→receive for the members connected to the sender's
	// node, CrossNode for those on the other nodes, whose messages travel
	// through the bus: the two are measured in the same run, on the same
	// messages, so their ratio is the cost of crossing nodes.
	SameNode         Percentiles `json:"same_node_send_to_receive"`
	CrossNode        Percentiles `json:"cross_node_send_to_receive"`
	CrossOverSameP50 float64     `json:"cross_over_same_p50,omitempty"`
	CrossOverSameP99 float64     `json:"cross_over_same_p99,omitempty"`
	ClosedEarly      int         `json:"sockets_closed_early"`
	Failed           int         `json:"sockets_failed"`
	// ServerCPUCores is the nodes' CPU time over the sending phase, summed,
	// per second: how many cores the servers kept busy together.
	ServerCPUCores         float64 `json:"server_cpu_cores"`
	ServerCPUPerDeliveryUs float64 `json:"server_cpu_per_delivery_us"`
}

// ClusterOptions say what the cluster scenario's nodes share.
type ClusterOptions struct {
	// DB is a PostgreSQL URL whose user may create databases; each run
	// gets a database of its own, dropped afterwards.
	DB string
	// Bus is the --bus URL of every node (nats:// or redis://).
	Bus string
	// Extra are more serve flags for every node.
	Extra []string
}

// Cluster starts nodes server processes on one fresh PostgreSQL database
// and one bus, puts members into one channel with their sockets spread
// round-robin over the nodes (procs worker processes in all), and sends
// timed messages at rate from a socket on node 0. It reports deliveries per
// second and the send→receive latency of same-node and cross-node members.
// o.Server is ignored: the scenario starts its own nodes.
func Cluster(ctx context.Context, o Options, co ClusterOptions, nodes, members, procs int, rate float64) (*ClusterResult, error) {
	dbURL, drop, err := freshDatabase(ctx, co.DB)
	if err != nil {
		return nil, err
	}
	defer drop()
	keys, err := os.MkdirTemp("", "unhidra-bench-keys-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(keys)
	args := append([]string{"--db", dbURL, "--bus", co.Bus, "--jwt-key-dir", keys}, co.Extra...)
	var servers []*Server
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	for range nodes { // one after the other: the first migrates the database
		s, err := StartServer(ctx, o.Binary, args...)
		if err != nil {
			return nil, fmt.Errorf("start node %d: %w", len(servers), err)
		}
		servers = append(servers, s)
	}

	clients, creds, ch, err := oneChannel(ctx, servers[0].URL, "clu", members)
	if err != nil {
		return nil, err
	}
	groups := make([][]*worker, nodes)
	perNode := max(1, procs/nodes)
	for i, s := range servers {
		job := Job{Server: s.URL, SocketsPerUser: 1, Timed: true}
		for j := i; j < len(creds); j += nodes {
			job.Creds = append(job.Creds, creds[j])
		}
		if groups[i], err = startWorkers(ctx, o.Binary, perNode, job); err != nil {
			return nil, err
		}
	}
	sender, err := connectDrained(ctx, clients[0])
	if err != nil {
		return nil, err
	}
	defer sender.CloseNow()
	for _, s := range servers {
		if err := Settle(ctx, s.URL, 50, 90*time.Second); err != nil {
			return nil, err
		}
	}
	cpu := func() (float64, error) {
		sum := 0.0
		for _, s := range servers {
			m, err := ServerMetrics(ctx, s.URL)
			if err != nil {
				return 0, err
			}
			sum += m["process_cpu_seconds_total"]
		}
		return sum, nil
	}
	before, err := cpu()
	if err != nil {
		return nil, err
	}
	began := time.Now()
	sent, err := sendTimed(ctx, sender, ch, rate, o.Duration)
	if err != nil {
		return nil, err
	}
	after, err := cpu()
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(began)

	r := &ClusterResult{Scenario: "cluster", Nodes: nodes, Bus: scheme(co.Bus), Members: members, RatePerSec: rate, Sent: sent}
	var first, last int64
	var cross []int64
	for i, g := range groups {
		total, err := stopWorkers(g)
		if err != nil {
			return nil, err
		}
		r.Processes += len(g)
		r.Delivered += total.Received
		r.Expected += int64(sent) * int64(total.Sockets)
		r.ClosedEarly += total.ClosedEarly
		r.Failed += total.Failed
		if total.FirstNanos != 0 && (first == 0 || total.FirstNanos < first) {
			first = total.FirstNanos
		}
		last = max(last, total.LastNanos)
		if i == 0 {
			r.SameNode = Summarise(total.LatenciesUs)
		} else {
			cross = append(cross, total.LatenciesUs...)
		}
	}
	r.CrossNode = Summarise(cross)
	if r.SameNode.P50ms > 0 && r.CrossNode.Count > 0 {
		r.CrossOverSameP50 = r.CrossNode.P50ms / r.SameNode.P50ms
		r.CrossOverSameP99 = r.CrossNode.P99ms / r.SameNode.P99ms
	}
	if span := time.Duration(last - first); span > 0 {
		r.DeliveriesPerSec = float64(r.Delivered) / span.Seconds()
	}
	r.ServerCPUCores = (after - before) / elapsed.Seconds()
	if r.Delivered > 0 {
		r.ServerCPUPerDeliveryUs = (after - before) * 1e6 / float64(r.Delivered)
	}
	emit(o.Out, r)
	return r, nil
}

// scheme is the bus URL's scheme, which is all a result should say of it.
func scheme(busURL string) string {
	s, _, _ := strings.Cut(busURL, "://")
	return s
}

// freshDatabase creates an empty database on the PostgreSQL server of
// admin and returns its URL and a function that drops it.
func freshDatabase(ctx context.Context, admin string) (string, func(), error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("--db: want a postgres:// URL, got %q", admin)
	}
	var r [6]byte
	rand.Read(r[:])
	name := "unhidra_bench_" + hex.EncodeToString(r[:])
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("--db: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("--db: create database: %w", err)
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, admin); err == nil {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(ctx)
		}
	}
	return u.String(), drop, nil
}
