package audit

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Syslog (RFC 5424) export. Each entry is one message:
//
//	<PRI>1 TIMESTAMP HOSTNAME unhidra - ACTION [audit@32473 seq=… hash=… …][meta@32473 k=…] BOM{json}
//
// facility 13 (log audit); severity 6 (informational) for result ok and
// 4 (warning) for failed or denied. 32473 is the private enterprise number
// RFC 5612 reserves for documentation; a deployment that has its own can
// map the SD-IDs in its SIEM. The message is the entry as JSON (the same
// as the JSON-lines export), so a SIEM can re-verify the chain from it.

const (
	syslogFacility = 13
	sdAudit        = "audit@32473"
	sdMeta         = "meta@32473"
)

// FormatSyslog renders e as an RFC 5424 message (without transport framing).
func FormatSyslog(e *Entry, hostname string) []byte {
	sev := 6
	if e.Result != ResultOK {
		sev = 4
	}
	if hostname == "" {
		hostname = "-"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<%d>1 %s %s unhidra - %s ", syslogFacility*8+sev,
		e.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), printUSASCII(hostname, 255), printUSASCII(e.Action, 32))
	b.WriteString("[" + sdAudit)
	param := func(k, v string) {
		if v != "" {
			b.WriteString(" " + k + `="` + sdEscape(v) + `"`)
		}
	}
	param("seq", strconv.FormatInt(e.Seq, 10))
	param("hash", fmt.Sprintf("%x", []byte(e.Hash)))
	param("actor_type", e.ActorType)
	param("actor_id", e.ActorID)
	param("target_type", e.TargetType)
	param("target_id", e.TargetID)
	param("ip", e.IP)
	param("result", e.Result)
	param("reason", e.Reason)
	b.WriteString("]")
	if len(e.Metadata) > 0 {
		b.WriteString("[" + sdMeta)
		keys := make([]string, 0, len(e.Metadata))
		for k := range e.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			// Metadata keys are [a-z0-9_], at most 32 bytes: valid PARAM-NAMEs.
			param(k, e.Metadata[k])
		}
		b.WriteString("]")
	}
	msg, _ := json.Marshal(e)
	b.WriteString(" \xef\xbb\xbf")
	b.Write(msg)
	return []byte(b.String())
}

// printUSASCII keeps the printable US-ASCII of s (the header fields'
// alphabet), at most n bytes, "-" if nothing is left.
func printUSASCII(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		if c := s[i]; c >= 33 && c <= 126 {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// sdEscape escapes a PARAM-VALUE: '"', '\' and ']' take a backslash.
func sdEscape(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(v)
}

// SyslogSender sends messages to a syslog collector over TCP (RFC 6587
// octet counting: "LEN SP MSG") or UDP (one datagram per message),
// reconnecting after an error. It is safe for concurrent use.
type SyslogSender struct {
	network, addr string
	timeout       time.Duration
	mu            sync.Mutex
	conn          net.Conn
}

// NewSyslogSender parses tcp://HOST:PORT or udp://HOST:PORT.
func NewSyslogSender(target string) (*SyslogSender, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "udp") || u.Host == "" || u.Port() == "" {
		return nil, fmt.Errorf("audit syslog target %q: want tcp://HOST:PORT or udp://HOST:PORT", target)
	}
	return &SyslogSender{network: u.Scheme, addr: u.Host, timeout: 5 * time.Second}, nil
}

// Send writes one message; on error the connection is dropped, and the
// next Send dials again.
func (s *SyslogSender) Send(msg []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		c, err := net.DialTimeout(s.network, s.addr, s.timeout)
		if err != nil {
			return fmt.Errorf("audit syslog: %w", err)
		}
		s.conn = c
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
	var err error
	if s.network == "tcp" {
		_, err = s.conn.Write(append([]byte(strconv.Itoa(len(msg))+" "), msg...))
	} else {
		_, err = s.conn.Write(msg)
	}
	if err != nil {
		s.conn.Close()
		s.conn = nil
		return fmt.Errorf("audit syslog: %w", err)
	}
	return nil
}

// Close closes the connection.
func (s *SyslogSender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
