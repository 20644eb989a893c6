package password

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// refHash is a test vector of the Argon2 reference implementation
// (src/test.c): argon2id, t=2, m=2^16, p=1, password "password", salt
// "somesalt". Decoding and verifying it shows the format interoperates.
const (
	refHash     = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	refKeyHex   = "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"
	refPassword = "password"
)

func TestDecodeReferenceVector(t *testing.T) {
	p, salt, key, err := Decode(refHash)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := Params{Memory: 65536, Iterations: 2, Parallelism: 1, SaltLen: 8, KeyLen: 32}
	if p != want {
		t.Errorf("params = %+v, want %+v", p, want)
	}
	if string(salt) != "somesalt" {
		t.Errorf("salt = %q, want %q", salt, "somesalt")
	}
	if got := hex.EncodeToString(key); got != refKeyHex {
		t.Errorf("key = %s, want %s", got, refKeyHex)
	}
	if got := Encode(p, salt, key); got != refHash {
		t.Errorf("Encode(Decode(x)) = %q, want %q", got, refHash)
	}
	// The key really is Argon2id of the password, so our derivation matches
	// the reference implementation's.
	if got := argon2id([]byte(refPassword), salt, p); !bytes.Equal(got, key) {
		t.Errorf("argon2id(%q) = %x, want %s", refPassword, got, refKeyHex)
	}
}

func TestDecodeMalformed(t *testing.T) {
	const (
		salt = "c29tZXNhbHQ"                                 // "somesalt"
		key  = "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc" // 32 bytes
	)
	tests := []struct {
		name, encoded string
	}{
		{"empty", ""},
		{"dollar only", "$"},
		{"no leading dollar", "argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + key},
		{"leading space", " $argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + key},
		{"trailing dollar", refHash + "$"},
		{"extra field", refHash + "$AAAA"},
		{"trailing newline", refHash + "\n"},
		{"argon2i", "$argon2i$v=19$m=65536,t=2,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=65536,t=2,p=1$" + salt + "$" + key},
		{"upper-case algorithm", "$ARGON2ID$v=19$m=65536,t=2,p=1$" + salt + "$" + key},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"plain text", "hunter2"},
		{"missing version", "$argon2id$m=65536,t=2,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=65536,t=2,p=1$" + salt + "$" + key},
		{"version leading zero", "$argon2id$v=019$m=65536,t=2,p=1$" + salt + "$" + key},
		{"params out of order", "$argon2id$v=19$t=2,m=65536,p=1$" + salt + "$" + key},
		{"params missing p", "$argon2id$v=19$m=65536,t=2$" + salt + "$" + key},
		{"params extra keyid", "$argon2id$v=19$m=65536,t=2,p=1,keyid=abc$" + salt + "$" + key},
		{"params spaces", "$argon2id$v=19$m=65536, t=2, p=1$" + salt + "$" + key},
		{"params empty", "$argon2id$v=19$$" + salt + "$" + key},
		{"m empty", "$argon2id$v=19$m=,t=2,p=1$" + salt + "$" + key},
		{"m zero", "$argon2id$v=19$m=0,t=2,p=1$" + salt + "$" + key},
		{"m negative", "$argon2id$v=19$m=-1,t=2,p=1$" + salt + "$" + key},
		{"m plus sign", "$argon2id$v=19$m=+65536,t=2,p=1$" + salt + "$" + key},
		{"m leading zero", "$argon2id$v=19$m=065536,t=2,p=1$" + salt + "$" + key},
		{"m exponent", "$argon2id$v=19$m=1e5,t=2,p=1$" + salt + "$" + key},
		{"m hex", "$argon2id$v=19$m=0x10000,t=2,p=1$" + salt + "$" + key},
		{"m overflows uint32", "$argon2id$v=19$m=4294967296,t=2,p=1$" + salt + "$" + key},
		{"m above ceiling", "$argon2id$v=19$m=4194305,t=2,p=1$" + salt + "$" + key},
		{"m below 8 KiB per lane", "$argon2id$v=19$m=15,t=1,p=2$" + salt + "$" + key},
		{"t zero", "$argon2id$v=19$m=65536,t=0,p=1$" + salt + "$" + key},
		{"t above ceiling", "$argon2id$v=19$m=65536,t=257,p=1$" + salt + "$" + key},
		{"p zero", "$argon2id$v=19$m=65536,t=2,p=0$" + salt + "$" + key},
		{"p overflows uint8", "$argon2id$v=19$m=65536,t=2,p=256$" + salt + "$" + key},
		{"salt empty", "$argon2id$v=19$m=65536,t=2,p=1$$" + key},
		{"salt 5 bytes", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXM$" + key},
		{"salt padded", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "=$" + key},
		{"salt with newline", "$argon2id$v=19$m=65536,t=2,p=1$c29tZX\nNhbHQ$" + key},
		{"salt non-zero trailing bits", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHR$" + key},
		{"salt url alphabet", "$argon2id$v=19$m=65536,t=2,p=1$c29-ZXNh_HQ$" + key},
		{"salt impossible length", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhb$" + key},
		{"salt too long", "$argon2id$v=19$m=65536,t=2,p=1$" + strings.Repeat("A", 88) + "$" + key},
		{"key empty", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$"},
		{"key 15 bytes", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$AAAAAAAAAAAAAAAAAAAA"},
		{"key 65 bytes", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + strings.Repeat("A", 87)},
		{"key non-ascii", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPé"},
		{"huge", refHash + strings.Repeat("A", 1<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, salt, key, err := Decode(tt.encoded)
			if err == nil {
				t.Fatalf("Decode = %+v, %x, %x; want an error", p, salt, key)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if len(tt.encoded) >= 8 && len(tt.encoded) < 200 && strings.Contains(err.Error(), tt.encoded) {
				t.Errorf("error %q repeats the hash", err)
			}
		})
	}
}

func TestParamsValidate(t *testing.T) {
	with := func(f func(*Params)) Params {
		p := DefaultParams()
		f(&p)
		return p
	}
	tests := []struct {
		name    string
		p       Params
		wantErr bool
	}{
		{"default", DefaultParams(), false},
		{"stronger", Params{Memory: 65536, Iterations: 3, Parallelism: 4, SaltLen: 32, KeyLen: 64}, false},
		{"16-byte key", with(func(p *Params) { p.KeyLen = 16 }), false},
		{"memory below floor", with(func(p *Params) { p.Memory = 19455 }), true},
		{"iterations below floor", with(func(p *Params) { p.Iterations = 1 }), true},
		// OWASP calls m=47104,t=1 equivalent, but the floor is per field.
		{"owasp t=1 variant", with(func(p *Params) { p.Memory, p.Iterations = 47104, 1 }), true},
		{"parallelism zero", with(func(p *Params) { p.Parallelism = 0 }), true},
		{"salt 8 bytes", with(func(p *Params) { p.SaltLen = 8 }), true},
		{"key 15 bytes", with(func(p *Params) { p.KeyLen = 15 }), true},
		{"zero", Params{}, true},
		{"memory above ceiling", with(func(p *Params) { p.Memory = maxMemory + 1 }), true},
		{"iterations above ceiling", with(func(p *Params) { p.Iterations = maxIterations + 1 }), true},
		{"salt above ceiling", with(func(p *Params) { p.SaltLen = maxSaltLen + 1 }), true},
		{"key above ceiling", with(func(p *Params) { p.KeyLen = maxKeyLen + 1 }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate(%+v) = %v, want error: %v", tt.p, err, tt.wantErr)
			}
		})
	}
}

// Every Params that Validate accepts must produce hashes that Decode accepts,
// or a hasher could write hashes it can never verify.
func TestValidParamsDecode(t *testing.T) {
	for _, p := range []Params{
		DefaultParams(),
		{Memory: maxMemory, Iterations: maxIterations, Parallelism: 255, SaltLen: maxSaltLen, KeyLen: maxKeyLen},
	} {
		if err := p.Validate(); err != nil {
			t.Fatalf("Validate(%+v): %v", p, err)
		}
		enc := Encode(p, bytes.Repeat([]byte{0xff}, int(p.SaltLen)), bytes.Repeat([]byte{0xff}, int(p.KeyLen)))
		got, _, _, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(%q): %v", enc, err)
		}
		if got != p {
			t.Errorf("Decode(Encode(%+v)) params = %+v", p, got)
		}
	}
}

func FuzzDecode(f *testing.F) {
	cheap := Params{Memory: 64, Iterations: 1, Parallelism: 2, SaltLen: 16, KeyLen: 32}
	salt := []byte("0123456789abcdef")
	for _, s := range []string{
		refHash,
		Encode(DefaultParams(), make([]byte, 16), make([]byte, 32)),
		Encode(cheap, salt, argon2id([]byte("correct horse battery staple"), salt, cheap)),
		"$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHR$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := Decode(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(%q) error %v does not wrap ErrMalformed", s, err)
			}
			return
		}
		if p.SaltLen != uint32(len(salt)) || p.KeyLen != uint32(len(key)) {
			t.Fatalf("Decode(%q) params %+v disagree with salt %d and key %d bytes", s, p, len(salt), len(key))
		}
		if err := p.check(specFloor()); err != nil {
			t.Fatalf("Decode(%q) accepted params it should refuse: %v", s, err)
		}
		if got := Encode(p, salt, key); got != s {
			t.Fatalf("Encode(Decode(%q)) = %q", s, got)
		}
	})
}
