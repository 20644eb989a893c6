package e2ee

import (
	"encoding/binary"
	"unicode/utf8"
)

// MaxIDLength is the longest user, client or group id the protocol
// carries, in bytes; the same bound as the server's ids (unhidra.MaxIDLength).
const MaxIDLength = 128

// checkID applies the id rule of docs/protocol.md ("Encodings"): 1 to
// MaxIDLength bytes of UTF-8 with no control character (U+0000–U+001F,
// U+007F–U+009F).
func checkID(s string) error {
	if s == "" || len(s) > MaxIDLength || !utf8.ValidString(s) {
		return errf(ErrInvalidMessage, "invalid id")
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return errf(ErrInvalidMessage, "invalid id")
		}
	}
	return nil
}

// context builds the byte string that is signed, hashed or used as HKDF
// info: the ASCII label, one 0x00 byte, then every field as a 4-byte
// big-endian length followed by its bytes. An absent optional field is
// written with length 0.
func context(label string, fields ...[]byte) []byte {
	n := len(label) + 1
	for _, f := range fields {
		n += 4 + len(f)
	}
	b := make([]byte, 0, n)
	b = append(b, label...)
	b = append(b, 0)
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// writer appends the fixed layouts of docs/protocol.md.
type writer struct{ b []byte }

func (w *writer) u8(v byte)     { w.b = append(w.b, v) }
func (w *writer) u16(v uint16)  { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32)  { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64)  { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *writer) raw(p []byte)  { w.b = append(w.b, p...) }
func (w *writer) str8(s string) { w.b = append(append(w.b, byte(len(s))), s...) }

// reader consumes a layout; the first short read or bad value sets err and
// every later read returns zero values, so a decoder checks err once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errf(ErrInvalidMessage, "truncated or malformed")
	}
	r.b = nil
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.fail()
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8() byte {
	p := r.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (r *reader) u16() uint16 {
	p := r.take(2)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint16(p)
}

func (r *reader) u32() uint32 {
	p := r.take(4)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

func (r *reader) u64() uint64 {
	p := r.take(8)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

// id reads a str8 and applies the id rule.
func (r *reader) id() string {
	n := int(r.u8())
	p := r.take(n)
	if r.err != nil {
		return ""
	}
	s := string(p)
	if err := checkID(s); err != nil {
		r.fail()
		return ""
	}
	return s
}

func (r *reader) array32() (a [32]byte) {
	copy(a[:], r.take(32))
	return a
}

func (r *reader) array64() (a [64]byte) {
	copy(a[:], r.take(64))
	return a
}

// rest returns what is left.
func (r *reader) rest() []byte {
	if r.err != nil {
		return nil
	}
	p := r.b
	r.b = nil
	return clone(p)
}

// done fails unless every byte was consumed.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = errf(ErrInvalidMessage, "trailing bytes")
	}
	return r.err
}

func clone(p []byte) []byte {
	if p == nil {
		return nil
	}
	return append([]byte{}, p...)
}
