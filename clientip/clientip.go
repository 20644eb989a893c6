// Package clientip works out which client an HTTP request comes from, for
// rate limits, login backoff, session records and logs.
//
// # Guarantees
//
//   - X-Forwarded-For is believed only from a trusted proxy: a peer outside
//     every trusted prefix is the client, whatever headers it sends. With no
//     trusted prefixes the header is never read.
//   - From a trusted peer the header is read right to left, the order in
//     which proxies appended to it, and the first address outside the
//     trusted prefixes is the client. Everything left of that point was
//     written by the client or its proxies and could be anything, so it is
//     never returned. A malformed entry stops the walk at the hop that wrote
//     it. The result is therefore always the peer or an address that the
//     peer or a trusted proxy put into the header.
//   - Addresses come back without an IPv6 zone and with IPv4-mapped IPv6
//     unmapped, so one client has one form: ::ffff:192.0.2.1 and 192.0.2.1
//     share a rate limit.
//   - Nothing is package-level state; a Resolver is immutable and safe for
//     concurrent use.
package clientip

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds the client address of a request, believing X-Forwarded-For
// only from the proxies it trusts. A nil *Resolver trusts no proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver that trusts X-Forwarded-For from peers in trusted.
// With none, the header is ignored: the peer is the client.
func New(trusted []netip.Prefix) *Resolver {
	r := &Resolver{}
	for _, p := range trusted {
		if p.IsValid() {
			r.trusted = append(r.trusted, normalizePrefix(p))
		}
	}
	return r
}

// normalizePrefix masks p and rewrites an IPv4-mapped IPv6 prefix as IPv4,
// since addresses are compared unmapped: "::ffff:10.0.0.0/104" would
// otherwise never match anything.
func normalizePrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// ParseCIDRs parses a comma-separated list of CIDR prefixes or bare
// addresses (an IPv4 address is its /32, an IPv6 address its /128), the
// form --trusted-proxies takes. White space around items is ignored; an
// empty or blank string is an empty list. An empty item ("a,,b") is an
// error, as is an address with a zone.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		p, err := parseCIDR(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxies: %q is not a CIDR or IP address (want e.g. 10.0.0.0/8, 192.0.2.1 or fd00::/8)", item)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseCIDR(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return normalizePrefix(p), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		// A zone names an interface on this host; it cannot be part of a
		// prefix, and silently dropping it would widen what is trusted.
		return netip.Prefix{}, fmt.Errorf("zone in %q", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ClientIP returns the address of the client that sent r. It is the zero
// Addr only if r.RemoteAddr is not an IP address (never the case for a
// request served over TCP by net/http).
func (res *Resolver) ClientIP(r *http.Request) netip.Addr {
	peer := parseHop(r.RemoteAddr)
	if !peer.IsValid() || !res.trusts(peer) {
		return peer
	}
	last := peer // the nearest hop that we believe
	lines := r.Header.Values("X-Forwarded-For")
	for i := len(lines) - 1; i >= 0; i-- {
		// Walk each line right to left without splitting it: the header is
		// attacker-sized (up to the server's header limit) and this runs on
		// every request.
		rest := lines[i]
		for {
			item := rest
			j := strings.LastIndexByte(rest, ',')
			if j >= 0 {
				item, rest = rest[j+1:], rest[:j]
			}
			a := parseHop(strings.TrimSpace(item))
			if !a.IsValid() {
				return last // the hop that wrote this did not write an address
			}
			if !res.trusts(a) {
				return a
			}
			last = a
			if j < 0 {
				break
			}
		}
	}
	return last // every hop is trusted: the leftmost is as far as we can see
}

func (res *Resolver) trusts(a netip.Addr) bool {
	if res == nil {
		return false
	}
	for _, p := range res.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop parses an address as it appears in RemoteAddr or an
// X-Forwarded-For entry: "192.0.2.1", "2001:db8::1", or either with a port
// ("192.0.2.1:443", "[2001:db8::1]:443"), which some proxies add. It returns
// the zero Addr for anything else. The zone is dropped, since it names an
// interface of this host, not a client, and IPv4-mapped addresses are
// unmapped.
func parseHop(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}
		}
		a = ap.Addr()
	}
	return a.WithZone("").Unmap()
}

// LimitKey returns the rate-limit key of a client address: an IPv4 address
// itself, and for IPv6 its /64, because a single IPv6 client is normally
// handed a whole /64 and could otherwise rotate through it to dodge every
// limit. The zero Addr gives "", so unidentifiable clients share one key.
func LimitKey(a netip.Addr) string {
	return prefixKey(a, 32, 64)
}

// NetworkKey returns the network of a client address for login backoff: the
// /24 of an IPv4 address, the /64 of an IPv6 one. A /24 rather than the
// address, so that an attacker who holds a handful of neighbouring IPv4
// addresses gets one backoff, not one each. The zero Addr gives "".
func NetworkKey(a netip.Addr) string {
	return prefixKey(a, 24, 64)
}

func prefixKey(a netip.Addr, bits4, bits6 int) string {
	if !a.IsValid() {
		return ""
	}
	a = a.WithZone("").Unmap()
	bits := bits6
	if a.Is4() {
		bits = bits4
	}
	if bits == a.BitLen() {
		return a.String()
	}
	p, _ := a.Prefix(bits) // cannot fail: a is valid, has no zone, bits ≤ BitLen
	return p.String()
}
