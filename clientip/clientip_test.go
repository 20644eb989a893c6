package clientip

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// testTrusted is a typical deployment: a private load-balancer range, one
// bare proxy address, an IPv6 range and an IPv4 range written mapped.
const testTrusted = "10.0.0.0/8, 192.168.1.1 ,fd00::/8, ::ffff:172.16.0.0/108"

func mustResolver(t testing.TB, cidrs string) *Resolver {
	t.Helper()
	p, err := ParseCIDRs(cidrs)
	if err != nil {
		t.Fatalf("ParseCIDRs(%q): %v", cidrs, err)
	}
	return New(p)
}

func request(remote string, xff ...string) *http.Request {
	r := &http.Request{Method: http.MethodGet, RemoteAddr: remote, Header: make(http.Header)}
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		name    string
		trusted string
		remote  string
		xff     []string // one header line each
		want    string   // "" for the zero Addr
	}{
		{name: "no XFF, untrusted peer", remote: "203.0.113.5:4242", want: "203.0.113.5"},
		{name: "no XFF, trusted peer", remote: "10.0.0.1:4242", want: "10.0.0.1"},
		{name: "spoofed XFF from untrusted peer is ignored", remote: "203.0.113.5:4242", xff: []string{"198.51.100.7"}, want: "203.0.113.5"},
		{name: "spoofed XFF claiming a trusted proxy is ignored", remote: "203.0.113.5:4242", xff: []string{"1.1.1.1, 10.0.0.9"}, want: "203.0.113.5"},
		{name: "no trusted proxies: XFF never read", trusted: "-", remote: "10.0.0.1:4242", xff: []string{"198.51.100.7"}, want: "10.0.0.1"},
		{name: "one trusted proxy", remote: "10.0.0.1:4242", xff: []string{"198.51.100.7"}, want: "198.51.100.7"},
		{name: "trusted chain", remote: "10.0.0.1:4242", xff: []string{"198.51.100.7, 10.1.2.3, 192.168.1.1"}, want: "198.51.100.7"},
		{name: "client-supplied prefix is skipped", remote: "10.0.0.1:4242", xff: []string{"6.6.6.6, 10.0.0.66, 198.51.100.7, 10.1.2.3"}, want: "198.51.100.7"},
		{name: "all trusted: the leftmost", remote: "10.0.0.1:4242", xff: []string{"10.9.9.9, 192.168.1.1, 10.1.1.1"}, want: "10.9.9.9"},
		{name: "bare trusted address is exact", remote: "10.0.0.1:4242", xff: []string{"198.51.100.7, 192.168.1.2"}, want: "192.168.1.2"},
		{name: "malformed entry stops at the hop that wrote it", remote: "10.0.0.1:4242", xff: []string{"198.51.100.7, garbage, 10.1.1.1"}, want: "10.1.1.1"},
		{name: "malformed rightmost entry: the peer", remote: "10.0.0.1:4242", xff: []string{"198.51.100.7, unknown"}, want: "10.0.0.1"},
		{name: "empty item is malformed", remote: "10.0.0.1:4242", xff: []string{"198.51.100.7,,10.1.1.1"}, want: "10.1.1.1"},
		{name: "empty header line is malformed", remote: "10.0.0.1:4242", xff: []string{"198.51.100.7", ""}, want: "10.0.0.1"},
		{name: "bad port is malformed", remote: "10.0.0.1:4242", xff: []string{"198.51.100.7:http"}, want: "10.0.0.1"},
		{name: "multiple header lines are one list", remote: "10.0.0.1:4242", xff: []string{"6.6.6.6, 198.51.100.7", "10.1.1.1"}, want: "198.51.100.7"},
		{name: "multiple header lines, client in the last", remote: "10.0.0.1:4242", xff: []string{"6.6.6.6", "10.1.1.1, 198.51.100.7"}, want: "198.51.100.7"},
		{name: "multiple header lines, all trusted", remote: "10.0.0.1:4242", xff: []string{"10.3.3.3, 10.2.2.2", "10.1.1.1"}, want: "10.3.3.3"},
		{name: "white space around entries", remote: "10.0.0.1:4242", xff: []string{" \t198.51.100.7 ,  10.1.1.1 "}, want: "198.51.100.7"},
		{name: "entries with ports", remote: "10.0.0.1:4242", xff: []string{"198.51.100.7:5555, 10.1.1.1:80"}, want: "198.51.100.7"},
		{name: "IPv6 entry with port", remote: "10.0.0.1:4242", xff: []string{"[2001:db8::9]:443"}, want: "2001:db8::9"},
		{name: "IPv6 client behind IPv4 proxy", remote: "10.0.0.1:4242", xff: []string{"2001:db8::9"}, want: "2001:db8::9"},
		{name: "IPv6 peer", remote: "[2001:db8::1]:4242", want: "2001:db8::1"},
		{name: "IPv6 peer with zone", remote: "[fe80::1%eth0]:4242", want: "fe80::1"},
		{name: "trusted IPv6 peer with zone", remote: "[fd00::1%eth0]:4242", xff: []string{"2001:db8::5"}, want: "2001:db8::5"},
		{name: "zone in XFF is dropped", remote: "10.0.0.1:4242", xff: []string{"fe80::7%en0"}, want: "fe80::7"},
		{name: "IPv4-mapped untrusted peer", remote: "[::ffff:203.0.113.5]:4242", want: "203.0.113.5"},
		{name: "IPv4-mapped trusted peer", remote: "[::ffff:10.0.0.1]:4242", xff: []string{"198.51.100.7"}, want: "198.51.100.7"},
		{name: "IPv4-mapped entry in XFF", remote: "10.0.0.1:4242", xff: []string{"::ffff:198.51.100.7"}, want: "198.51.100.7"},
		{name: "IPv4-mapped trusted prefix", remote: "172.16.5.5:4242", xff: []string{"198.51.100.7"}, want: "198.51.100.7"},
		{name: "IPv4-mapped trusted prefix matches mapped entries", remote: "10.0.0.1:4242", xff: []string{"198.51.100.7, ::ffff:172.20.0.1"}, want: "198.51.100.7"},
		{name: "peer without port", remote: "203.0.113.5", want: "203.0.113.5"},
		{name: "unparsable peer", remote: "@", xff: []string{"198.51.100.7"}, want: ""},
		{name: "empty peer", remote: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res *Resolver
			switch tt.trusted {
			case "":
				res = mustResolver(t, testTrusted)
			case "-":
				res = New(nil)
			default:
				res = mustResolver(t, tt.trusted)
			}
			got := res.ClientIP(request(tt.remote, tt.xff...))
			var want netip.Addr
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got != want {
				t.Errorf("ClientIP(RemoteAddr %q, XFF %q) = %v, want %v", tt.remote, tt.xff, got, want)
			}
		})
	}
}

func TestNilResolver(t *testing.T) {
	var res *Resolver
	if got := res.ClientIP(request("10.0.0.1:1", "198.51.100.7")); got != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("nil Resolver: %v", got)
	}
}

// TestNewCopies checks that a Resolver does not share its caller's slice.
func TestNewCopies(t *testing.T) {
	p := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	res := New(p)
	p[0] = netip.MustParsePrefix("0.0.0.0/0")
	if got := res.ClientIP(request("203.0.113.5:1", "198.51.100.7")); got != netip.MustParseAddr("203.0.113.5") {
		t.Errorf("Resolver saw the caller's change: %v", got)
	}
}

func TestParseCIDRs(t *testing.T) {
	tests := []struct {
		in   string
		want string // the prefixes joined by ","; "!" for an error
	}{
		{"", ""},
		{"  \t", ""},
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.0.0.0/8,192.168.0.0/16", "10.0.0.0/8,192.168.0.0/16"},
		{" 10.0.0.0/8 ,\t192.0.2.1 ", "10.0.0.0/8,192.0.2.1/32"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"fd00::/8", "fd00::/8"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"::ffff:10.0.0.1", "10.0.0.1/32"},
		{"0.0.0.0/0", "0.0.0.0/0"},

		{"10.0.0.0/33", "!"},
		{"10.0.0.256", "!"},
		{"proxy.internal", "!"},
		{"10.0.0.0/8,", "!"},
		{",", "!"},
		{"10.0.0.0/8 192.168.0.0/16", "!"},
		{"fe80::1%eth0", "!"},
		{"fe80::/64%eth0", "!"},
		{"10.0.0.1:80", "!"},
		{"[2001:db8::1]", "!"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCIDRs(tt.in)
			if tt.want == "!" {
				if err == nil {
					t.Fatalf("ParseCIDRs(%q) = %v, want error", tt.in, got)
				}
				if !strings.Contains(err.Error(), "is not a CIDR or IP address") {
					t.Errorf("error text: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCIDRs(%q): %v", tt.in, err)
			}
			parts := make([]string, len(got))
			for i, p := range got {
				parts[i] = p.String()
			}
			if s := strings.Join(parts, ","); s != tt.want {
				t.Errorf("ParseCIDRs(%q) = %s, want %s", tt.in, s, tt.want)
			}
		})
	}
}

func TestParseCIDRsErrorNamesItem(t *testing.T) {
	_, err := ParseCIDRs("10.0.0.0/8, 10.0.0/8")
	if err == nil || !strings.Contains(err.Error(), `"10.0.0/8"`) {
		t.Errorf("error %v does not name the bad item", err)
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		addr          string // "" for the zero Addr
		limit, backof string
	}{
		{"192.0.2.77", "192.0.2.77", "192.0.2.0/24"},
		{"10.0.0.1", "10.0.0.1", "10.0.0.0/24"},
		{"::ffff:192.0.2.77", "192.0.2.77", "192.0.2.0/24"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64", "fe80::/64"},
		{"::1", "::/64", "::/64"},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			var a netip.Addr
			if tt.addr != "" {
				a = netip.MustParseAddr(tt.addr)
			}
			if got := LimitKey(a); got != tt.limit {
				t.Errorf("LimitKey(%v) = %q, want %q", a, got, tt.limit)
			}
			if got := NetworkKey(a); got != tt.backof {
				t.Errorf("NetworkKey(%v) = %q, want %q", a, got, tt.backof)
			}
		})
	}
}

// hopsIn returns every address an X-Forwarded-For entry in lines could
// denote, parsed independently of the code under test.
func hopsIn(lines []string) map[netip.Addr]bool {
	set := make(map[netip.Addr]bool)
	for _, line := range lines {
		for _, item := range strings.Split(line, ",") {
			item = strings.TrimSpace(item)
			if a, err := netip.ParseAddr(item); err == nil {
				set[a.WithZone("").Unmap()] = true
			} else if ap, err := netip.ParseAddrPort(item); err == nil {
				set[ap.Addr().WithZone("").Unmap()] = true
			}
		}
	}
	return set
}

func FuzzClientIP(f *testing.F) {
	peers := []struct {
		remote  string
		trusted bool
	}{
		{"10.0.0.1:4242", true},
		{"203.0.113.5:4242", false},
		{"[fd00::1%eth0]:4242", true},
		{"[::ffff:10.0.0.2]:4242", true},
		{"[2001:db8::1]:4242", false},
	}
	f.Add(uint8(0), "198.51.100.7, 10.1.2.3", "")
	f.Add(uint8(0), "6.6.6.6, 198.51.100.7", "10.1.1.1")
	f.Add(uint8(0), "10.9.9.9, 10.1.1.1", "192.168.1.1")
	f.Add(uint8(0), "198.51.100.7, garbage, 10.1.1.1", "")
	f.Add(uint8(1), "198.51.100.7", "")
	f.Add(uint8(2), "2001:db8::5, fd00::9", "[2001:db8::6]:80")
	f.Add(uint8(3), "::ffff:198.51.100.7,,", "fe80::1%eth0")
	f.Add(uint8(4), "1.2.3.4:80, unknown", " ")
	res := mustResolver(f, testTrusted)
	f.Fuzz(func(t *testing.T, sel uint8, line1, line2 string) {
		p := peers[int(sel)%len(peers)]
		lines := []string{line1}
		if line2 != "" {
			lines = append(lines, line2)
		}
		r := request(p.remote)
		r.Header["X-Forwarded-For"] = lines // verbatim, as a server might see it
		got := res.ClientIP(r)

		peer := netip.MustParseAddrPort(p.remote).Addr().WithZone("").Unmap()
		if !p.trusted {
			if got != peer {
				t.Fatalf("untrusted peer %v: got %v", peer, got)
			}
			return
		}
		if got != peer && !hopsIn(lines)[got] {
			t.Fatalf("XFF %q: %v is neither the peer nor in the header", lines, got)
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("XFF %q: %v not normalized", lines, got)
		}
	})
}
