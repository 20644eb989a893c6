package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/unhidra/unhidra/client"
)

// Marker starts the body of every timed message: "lgts <unix nanos>".
const Marker = "lgts "

// Job is what a worker process is told on its standard input.
type Job struct {
	Server         string  `json:"server"`
	Creds          []Creds `json:"creds"`
	SocketsPerUser int     `json:"sockets_per_user"`
	// Timed collects send→receive latencies of messages whose body starts
	// with Marker.
	Timed bool `json:"timed"`
}

// WorkerResult is what a worker prints when its standard input closes.
type WorkerResult struct {
	Sockets     int     `json:"sockets"`
	Failed      int     `json:"failed"`       // sockets that could not connect
	ClosedEarly int     `json:"closed_early"` // sockets the server closed during the run
	Received    int64   `json:"received"`     // timed messages received
	FirstNanos  int64   `json:"first_nanos"`  // first timed receipt
	LastNanos   int64   `json:"last_nanos"`   // last timed receipt
	LatenciesUs []int64 `json:"latencies_us"` // send→receive, one per receipt
	// Frames counts every frame the sockets received after their hello;
	// PresenceFrames the presence frames among them, and LastPresenceNanos
	// is when the last of those arrived (unix ns).
	Frames            int64 `json:"frames"`
	PresenceFrames    int64 `json:"presence_frames"`
	LastPresenceNanos int64 `json:"last_presence_nanos"`
	// PerMessage counts the receipts of each timed message, keyed by its
	// send time (unix ns), so that deliveries can be checked per message.
	PerMessage map[int64]int64 `json:"per_message,omitempty"`
	Error      string          `json:"error,omitempty"`
}

// RunWorker is the body of `unhidra bench worker`: it connects the job's
// sockets, says {"ready":true}, and reads frames until stdin closes. Each
// line "progress" on stdin meanwhile is answered with a Progress line, so a
// caller can wait for deliveries instead of guessing how long they take.
func RunWorker(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	var job Job
	in := bufio.NewReader(stdin)
	line, err := in.ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return fmt.Errorf("read job: %w", err)
	}
	if err := json.Unmarshal(line, &job); err != nil {
		return fmt.Errorf("decode job: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu      sync.Mutex
		res     WorkerResult
		conns   []*client.Conn
		wg      sync.WaitGroup
		readers sync.WaitGroup
		closed  atomic.Int64
		// received counts timed receipts as they happen, for progress
		// requests.
		received atomic.Int64
	)
	res.PerMessage = map[int64]int64{}
	// read drains one socket from the moment it is connected, so that
	// frames arriving while the other sockets connect (a presence storm)
	// never back up into the server's queues.
	read := func(cn *client.Conn) {
		defer readers.Done()
		var local []int64
		var first, last, n, frames, presence, lastPresence int64
		perMsg := map[int64]int64{}
		defer func() {
			mu.Lock()
			res.LatenciesUs = append(res.LatenciesUs, local...)
			res.Received += n
			res.Frames += frames
			res.PresenceFrames += presence
			res.LastPresenceNanos = max(res.LastPresenceNanos, lastPresence)
			for k, v := range perMsg {
				res.PerMessage[k] += v
			}
			if first != 0 && (res.FirstNanos == 0 || first < res.FirstNanos) {
				res.FirstNanos = first
			}
			res.LastNanos = max(res.LastNanos, last)
			mu.Unlock()
		}()
		for {
			f, err := cn.Read(ctx)
			if err != nil {
				if ctx.Err() == nil {
					closed.Add(1)
				}
				return
			}
			frames++
			if f.Type == "presence" {
				presence++
				lastPresence = time.Now().UnixNano()
				continue
			}
			if !job.Timed || f.Type != "message" {
				continue
			}
			// Find the timestamp in the raw frame rather than decoding
			// the message: the load generator shares the machine with
			// the server, and its CPU is taken from the measurement.
			sent, ok := timestamp(f.Raw)
			if !ok {
				continue
			}
			now := time.Now().UnixNano()
			local = append(local, (now-sent)/1000)
			perMsg[sent]++
			received.Add(1)
			if first == 0 {
				first = now
			}
			last = now
			n++
		}
	}
	sem := make(chan struct{}, 64)
	for _, cr := range job.Creds {
		c, err := client.New(job.Server, client.WithTokens(cr.Tokens))
		if err != nil {
			return err
		}
		for range job.SocketsPerUser {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				cn, err := c.Connect(ctx, client.ConnectOptions{})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					res.Failed++
					if res.Error == "" {
						res.Error = err.Error()
					}
					return
				}
				conns = append(conns, cn)
				readers.Add(1)
				go read(cn)
			}()
		}
	}
	wg.Wait()
	res.Sockets = len(conns)
	fmt.Fprintln(stdout, `{"ready":true}`)

	// Hold until the parent closes stdin, answering progress requests.
	enc := json.NewEncoder(stdout)
	for {
		line, err := in.ReadString('\n')
		if strings.TrimSpace(line) == "progress" {
			if err := enc.Encode(Progress{Received: received.Load()}); err != nil {
				return fmt.Errorf("report progress: %w", err)
			}
		}
		if err != nil {
			break
		}
	}
	cancel()
	for _, cn := range conns {
		cn.CloseNow()
	}
	readers.Wait()
	res.ClosedEarly = int(closed.Load())
	return enc.Encode(res)
}

// Progress answers a worker's "progress" request.
type Progress struct {
	Received int64 `json:"received"` // timed messages received so far
}

// worker is a running worker process.
type worker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startWorkers splits creds over n worker processes, starts them and waits
// until every one has connected its sockets.
func startWorkers(ctx context.Context, binary string, n int, job Job) ([]*worker, error) {
	n = max(1, min(n, len(job.Creds)))
	var ws []*worker
	for i := range n {
		part := job
		part.Creds = nil
		for j := i; j < len(job.Creds); j += n {
			part.Creds = append(part.Creds, job.Creds[j])
		}
		cmd := exec.CommandContext(ctx, binary, "bench", "worker")
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start worker: %w", err)
		}
		w := &worker{cmd: cmd, stdin: stdin, out: bufio.NewReaderSize(stdout, 1<<20)}
		ws = append(ws, w)
		b, _ := json.Marshal(part)
		if _, err := stdin.Write(append(b, '\n')); err != nil {
			return nil, err
		}
	}
	for _, w := range ws {
		line, err := w.out.ReadString('\n')
		if err != nil || !strings.Contains(line, `"ready"`) {
			return nil, fmt.Errorf("worker did not get ready: %q %v", line, err)
		}
	}
	return ws, nil
}

// stopWorkers closes the workers' stdin and collects their results.
func stopWorkers(ws []*worker) (WorkerResult, error) {
	var total WorkerResult
	for _, w := range ws {
		w.stdin.Close()
	}
	for _, w := range ws {
		var r WorkerResult
		if err := json.NewDecoder(w.out).Decode(&r); err != nil {
			return total, fmt.Errorf("worker result: %w", err)
		}
		w.cmd.Wait()
		total.Sockets += r.Sockets
		total.Failed += r.Failed
		total.ClosedEarly += r.ClosedEarly
		total.Received += r.Received
		total.LatenciesUs = append(total.LatenciesUs, r.LatenciesUs...)
		if r.FirstNanos != 0 && (total.FirstNanos == 0 || r.FirstNanos < total.FirstNanos) {
			total.FirstNanos = r.FirstNanos
		}
		total.LastNanos = max(total.LastNanos, r.LastNanos)
		total.Frames += r.Frames
		total.PresenceFrames += r.PresenceFrames
		total.LastPresenceNanos = max(total.LastPresenceNanos, r.LastPresenceNanos)
		if len(r.PerMessage) > 0 && total.PerMessage == nil {
			total.PerMessage = map[int64]int64{}
		}
		for k, v := range r.PerMessage {
			total.PerMessage[k] += v
		}
		if total.Error == "" {
			total.Error = r.Error
		}
	}
	return total, nil
}

var bodyMarker = []byte(`"body":"` + Marker)

// timestamp reads the send time from a message frame whose body is
// Marker + unix nanos.
func timestamp(raw []byte) (int64, bool) {
	i := bytes.Index(raw, bodyMarker)
	if i < 0 {
		return 0, false
	}
	rest := raw[i+len(bodyMarker):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return n, err == nil
}
