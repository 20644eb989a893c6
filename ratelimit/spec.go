package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Spec is a rate: N events per Per. The zero Spec is disabled.
//
// Spec implements flag.Value (on *Spec), encoding.TextUnmarshaler and
// encoding.TextMarshaler, so configuration can hold it directly.
type Spec struct {
	N   int
	Per time.Duration
}

// ParseSpec parses "N/s", "N/min" or "N/h", with N a positive decimal integer,
// or "0" for a disabled limit. Surrounding white space is ignored; nothing
// else is accepted.
func ParseSpec(s string) (Spec, error) {
	t := strings.TrimSpace(s)
	if t == "0" {
		return Spec{}, nil
	}
	num, unit, ok := strings.Cut(t, "/")
	if !ok || !isDigits(num) {
		return Spec{}, specError(s)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 { // out of range, or 0/s: a disabled limit is spelt "0"
		return Spec{}, specError(s)
	}
	var per time.Duration
	switch unit {
	case "s":
		per = time.Second
	case "min": // not "m": nobody should read a month or a metre into a limit
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		return Spec{}, specError(s)
	}
	return Spec{N: n, Per: per}, nil
}

func specError(s string) error {
	return fmt.Errorf("rate %q: want N/s, N/min, N/h or 0", s)
}

// isDigits reports whether s is a non-empty run of ASCII digits; strconv.Atoi
// alone would also take a sign.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Disabled reports whether the Spec imposes no limit.
func (s Spec) Disabled() bool { return s.N <= 0 || s.Per <= 0 }

// String formats s the way ParseSpec reads it, so that any Spec from
// ParseSpec round-trips. A Per other than a second, minute or hour (possible
// only for a Spec built in code) is written as a Go duration.
func (s Spec) String() string {
	if s.Disabled() {
		return "0"
	}
	n := strconv.Itoa(s.N)
	switch s.Per {
	case time.Second:
		return n + "/s"
	case time.Minute:
		return n + "/min"
	case time.Hour:
		return n + "/h"
	}
	return n + "/" + s.Per.String()
}

// Set parses v into s, for flag.Value.
func (s *Spec) Set(v string) error {
	p, err := ParseSpec(v)
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Spec) UnmarshalText(b []byte) error { return s.Set(string(b)) }

// MarshalText implements encoding.TextMarshaler.
func (s Spec) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
