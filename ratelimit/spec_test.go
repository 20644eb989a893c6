package ratelimit

import (
	"encoding"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

var (
	_ flag.Value               = (*Spec)(nil)
	_ encoding.TextUnmarshaler = (*Spec)(nil)
	_ encoding.TextMarshaler   = Spec{}
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in   string
		want Spec
		bad  bool
	}{
		{in: "10/min", want: Spec{10, time.Minute}},
		{in: "5/h", want: Spec{5, time.Hour}},
		{in: "50/s", want: Spec{50, time.Second}},
		{in: "1/s", want: Spec{1, time.Second}},
		{in: "0", want: Spec{}},
		{in: " 0\t", want: Spec{}},
		{in: "  60/min\n", want: Spec{60, time.Minute}},
		{in: "007/s", want: Spec{7, time.Second}},
		{in: "2147483647/h", want: Spec{2147483647, time.Hour}},

		{in: "", bad: true},
		{in: "   ", bad: true},
		{in: "00", bad: true},
		{in: "0/s", bad: true},
		{in: "-1/s", bad: true},
		{in: "+1/s", bad: true},
		{in: "1.5/s", bad: true},
		{in: "10", bad: true},
		{in: "10/", bad: true},
		{in: "/s", bad: true},
		{in: "10/m", bad: true},
		{in: "10/sec", bad: true},
		{in: "10/minute", bad: true},
		{in: "10/S", bad: true},
		{in: "10/1s", bad: true},
		{in: "10 /s", bad: true},
		{in: "10/ s", bad: true},
		{in: "10/s/s", bad: true},
		{in: "1_000/s", bad: true},
		{in: "١٠/s", bad: true}, // non-ASCII digits
		{in: "99999999999999999999999/s", bad: true},
		{in: "off", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSpec(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParseSpec(%q) = %v, want error", tt.in, got)
				}
				want := `rate "` // the error quotes the input as given
				if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "want N/s, N/min, N/h or 0") {
					t.Errorf("error text = %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseSpec(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			back, err := ParseSpec(got.String())
			if err != nil || back != got {
				t.Fatalf("round trip of %q via %q = %+v, %v", tt.in, got.String(), back, err)
			}
		})
	}
}

func TestSpecString(t *testing.T) {
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{}, "0"},
		{Spec{10, time.Minute}, "10/min"},
		{Spec{5, time.Hour}, "5/h"},
		{Spec{50, time.Second}, "50/s"},
		{Spec{N: 3}, "0"},                  // no period: disabled
		{Spec{-1, time.Second}, "0"},       // negative: disabled
		{Spec{2, 2 * time.Second}, "2/2s"}, // only from code; does not parse back
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.spec.String(); got != tt.want {
				t.Errorf("%+v.String() = %q, want %q", tt.spec, got, tt.want)
			}
		})
	}
}

func TestSpecFlag(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	login := Spec{10, time.Minute}
	fs.Var(&login, "rate-login", "login attempts per IP")
	if got := fs.Lookup("rate-login").DefValue; got != "10/min" {
		t.Errorf("default shown as %q", got)
	}
	if err := fs.Parse([]string{"--rate-login", "3/s"}); err != nil {
		t.Fatal(err)
	}
	if login != (Spec{3, time.Second}) {
		t.Errorf("after Set: %+v", login)
	}
	if err := fs.Parse([]string{"--rate-login=0"}); err != nil || !login.Disabled() {
		t.Errorf("0: %+v, %v", login, err)
	}
	err := fs.Parse([]string{"--rate-login", "3 per second"})
	if err == nil || !strings.Contains(err.Error(), `rate "3 per second": want N/s, N/min, N/h or 0`) {
		t.Errorf("bad value: %v", err)
	}
}

func TestSpecText(t *testing.T) {
	var s Spec
	if err := s.UnmarshalText([]byte("5/h")); err != nil || s != (Spec{5, time.Hour}) {
		t.Fatalf("UnmarshalText: %+v, %v", s, err)
	}
	before := s
	if err := s.UnmarshalText([]byte("5/day")); err == nil {
		t.Fatal("UnmarshalText accepted 5/day")
	}
	if s != before {
		t.Errorf("failed UnmarshalText changed the value to %+v", s)
	}
	b, err := s.MarshalText()
	if err != nil || string(b) != "5/h" {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"10/min", "5/h", "10/h", "60/min", "30/min", "50/s", "0", " 0 ", "\t1/s\n",
		"", "0/s", "-1/s", "+1/s", "10/m", "1e3/s", "10/ s", "007/h",
		"9223372036854775807/s", "9223372036854775808/s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		spec, err := ParseSpec(in)
		if err != nil {
			if spec != (Spec{}) {
				t.Fatalf("ParseSpec(%q) returned %+v with error %v", in, spec, err)
			}
			return
		}
		if !spec.Disabled() {
			if spec.N <= 0 {
				t.Fatalf("ParseSpec(%q) = %+v: N not positive", in, spec)
			}
			if spec.Per != time.Second && spec.Per != time.Minute && spec.Per != time.Hour {
				t.Fatalf("ParseSpec(%q) = %+v: odd period", in, spec)
			}
		} else if spec != (Spec{}) {
			t.Fatalf("ParseSpec(%q) = %+v: disabled but not zero", in, spec)
		}
		back, err := ParseSpec(spec.String())
		if err != nil {
			t.Fatalf("ParseSpec(%q).String() = %q does not parse: %v", in, spec.String(), err)
		}
		if back != spec {
			t.Fatalf("round trip %q → %+v → %q → %+v", in, spec, spec.String(), back)
		}
	})
}
