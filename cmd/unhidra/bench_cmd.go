package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/unhidra/unhidra/bench"
)

const benchUsage = `unhidra bench SCENARIO [flags] — load generator; prints one JSON line per result

Scenarios:
  sends    durable sends/s and send→ack latency (--senders), beside a ping→pong baseline
  fanout   send→receive latency and deliveries/s into one channel (--members, --rate, --procs)
  idle     server memory per idle authenticated WebSocket (--conns, --users, --procs)
  storm    a mass connect of one channel's members (--members, --procs) while messages are
           sent at --rate: how long presence traffic lasts, frames per member, delivery
  cluster  fanout over several nodes on one PostgreSQL and one bus (--nodes 1,2,3, --db,
           --bus): deliveries/s per node count, and same-node against cross-node
           send→receive latency measured on the same messages
  all      sends, fanout and idle, in that order

Without --server the bench starts its own server (this binary, temporary data dir,
rate limits off) and stops it afterwards. A target given with --server must run with
the rate limits off (--rate-*=0).
`

func benchCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, benchUsage)
		return usageError{"want a scenario"}
	}
	if args[0] == "worker" {
		return bench.RunWorker(ctx, stdin, stdout)
	}
	fs := flag.NewFlagSet("unhidra bench "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "", "target server URL (default: start one)")
	dur := fs.Duration("duration", 10*time.Second, "measuring time of sends and fanout")
	senders := fs.Int("senders", 32, "sends: concurrent senders, one socket and channel each")
	members := fs.Int("members", 1000, "fanout, storm: channel members, one socket each")
	rate := fs.Float64("rate", 20, "fanout, storm: messages per second")
	conns := fs.Int("conns", 10000, "idle: connections")
	users := fs.Int("users", 100, "idle: users the connections are spread over")
	procs := fs.Int("procs", 4, "fanout, idle, storm, cluster: worker processes holding the sockets")
	nodes := fs.String("nodes", "1,2,3", "cluster: comma-separated node counts to run, one after the other")
	db := fs.String("db", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "cluster: PostgreSQL `URL` whose user may create databases")
	busURL := fs.String("bus", "nats://127.0.0.1:4222", "cluster: the nodes' bus `URL` (nats:// or redis://)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	binary, err := os.Executable()
	if err != nil {
		return err
	}
	o := bench.Options{Server: *server, Binary: binary, Out: stdout, Duration: *dur}
	start := func() (func(), error) {
		if *server != "" {
			return func() {}, nil
		}
		s, err := bench.StartServer(ctx, binary)
		if err != nil {
			return nil, err
		}
		o.Server, o.PID = s.URL, s.PID
		return s.Close, nil
	}
	if args[0] == "cluster" {
		for _, f := range strings.Split(*nodes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 || n > 16 {
				return usageError{fmt.Sprintf("--nodes: %q is not a node count from 1 to 16", f)}
			}
			if _, err := bench.Cluster(ctx, o, bench.ClusterOptions{DB: *db, Bus: *busURL}, n, *members, *procs, *rate); err != nil {
				return fmt.Errorf("cluster of %d: %w", n, err)
			}
		}
		return nil
	}
	scenario := func(name string) error {
		stop, err := start() // a fresh server per scenario: no scenario sees another's state
		if err != nil {
			return err
		}
		defer stop()
		switch name {
		case "sends":
			_, err = bench.Sends(ctx, o, *senders)
		case "fanout":
			_, err = bench.Fanout(ctx, o, *members, *procs, *rate)
		case "idle":
			_, err = bench.Idle(ctx, o, *conns, *users, *procs)
		case "storm":
			_, err = bench.Storm(ctx, o, *members, *procs, *rate)
		default:
			return usageError{fmt.Sprintf("unknown scenario %q", name)}
		}
		return err
	}
	if args[0] == "all" {
		for _, name := range []string{"sends", "fanout", "idle"} {
			if err := scenario(name); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return nil
	}
	return scenario(args[0])
}
