package server_test

import (
	"bufio"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/testserver"
)

// rfc5424 matches the header and structured data of the messages the
// forwarder sends.
var rfc5424 = regexp.MustCompile(`^<(\d{1,3})>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ unhidra - (\S+) \[audit@32473 seq="(\d+)" hash="[0-9a-f]{64}"[^\]]*\](\[meta@32473[^\]]*\])? \x{FEFF}\{.*\}$`)

// TestAuditSyslog forwards the audit log to a collector over TCP
// (octet-counted frames) and UDP (one datagram each).
func TestAuditSyslog(t *testing.T) {
	for _, network := range []string{"tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			msgs := make(chan string, 16)
			var addr string
			if network == "tcp" {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				addr = ln.Addr().String()
				go func() {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					defer c.Close()
					r := bufio.NewReader(c)
					for {
						lenStr, err := r.ReadString(' ')
						if err != nil {
							return
						}
						n, err := strconv.Atoi(strings.TrimSpace(lenStr))
						if err != nil {
							msgs <- "bad frame length " + lenStr
							return
						}
						buf := make([]byte, n)
						if _, err := io.ReadFull(r, buf); err != nil {
							return
						}
						msgs <- string(buf)
					}
				}()
			} else {
				pc, err := net.ListenPacket("udp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { pc.Close() })
				addr = pc.LocalAddr().String()
				go func() {
					buf := make([]byte, 64<<10)
					for {
						n, _, err := pc.ReadFrom(buf)
						if err != nil {
							return
						}
						msgs <- string(buf[:n])
					}
				}()
			}
			cfg := testserver.Config(t, "sqlite")
			cfg.Audit.Syslog = network + "://" + addr
			n := testserver.Start(t, cfg)
			if _, err := n.Auth.CreateAdmin(t.Context(), "root_admin", "a long enough passphrase", ""); err != nil {
				t.Fatal(err)
			}
			anon := &apiClient{t: t, base: n.URL}
			anon.do("POST", "/api/v1/auth/login", map[string]string{"username": "root_admin", "password": "not the passphrase"}, nil)
			want := []struct{ pri, action string }{{"110", "auth.admin_create"}, {"108", "auth.login"}}
			for i, w := range want {
				select {
				case m := <-msgs:
					sm := rfc5424.FindStringSubmatch(m)
					if sm == nil {
						t.Fatalf("message %d is not the expected RFC 5424: %q", i, m)
					}
					if sm[1] != w.pri || sm[2] != w.action || sm[3] != strconv.Itoa(i+1) {
						t.Fatalf("message %d: pri %s action %s seq %s, want %s %s %d", i, sm[1], sm[2], sm[3], w.pri, w.action, i+1)
					}
					if strings.Contains(m, "not the passphrase") {
						t.Fatal("a password reached syslog")
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("no syslog message %d", i)
				}
			}
		})
	}
}
