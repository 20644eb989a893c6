package e2ee

import (
	"errors"
	"fmt"
)

// The errors every function of the package returns wrap one of these, so a
// caller decides with errors.Is; the rest of the text is detail for a log.
var (
	// ErrInvalidMessage: the bytes are not a valid encoding (truncated,
	// trailing bytes, a bad id, a reserved flag set).
	ErrInvalidMessage = errors.New("e2ee: invalid message")
	// ErrUnsupportedVersion: a version or protocol number this
	// implementation does not speak (an MLS envelope, a future state).
	ErrUnsupportedVersion = errors.New("e2ee: unsupported version")
	// ErrInvalidKey: a public key fails the acceptance rules
	// (docs/protocol.md "Key acceptance rules").
	ErrInvalidKey = errors.New("e2ee: invalid key")
	// ErrBadSignature: a signature does not verify under the acceptance
	// rules (a substituted prekey, a forged client list).
	ErrBadSignature = errors.New("e2ee: bad signature")
	// ErrDecrypt: authentication failed: the ciphertext, header or
	// associated data was changed, or the key is not the sender's.
	ErrDecrypt = errors.New("e2ee: decryption failed")
	// ErrDuplicate: the message's key was already used or has expired: a
	// replay, or a message older than the skipped-key window.
	ErrDuplicate = errors.New("e2ee: message already received or expired")
	// ErrTooManySkipped: the message would skip more message keys than the
	// limits allow (MaxSkip, MaxSenderKeySkip).
	ErrTooManySkipped = errors.New("e2ee: too many skipped messages")
	// ErrWrongSession: a prekey message belongs to another session (another
	// base key); set up a new session with Respond.
	ErrWrongSession = errors.New("e2ee: message is for another session")
	// ErrMissingPrekey: the prekeys handed to Respond do not match the ids
	// the prekey message names.
	ErrMissingPrekey = errors.New("e2ee: prekey missing or mismatched")
	// ErrTruncated: an encrypted file ends before its final chunk.
	ErrTruncated = errors.New("e2ee: encrypted file truncated")
	// ErrWrongRecoveryKey: the recovery key does not open this backup, or
	// its text has a typo (checksum mismatch).
	ErrWrongRecoveryKey = errors.New("e2ee: wrong recovery key")
	// ErrMismatch: a scanned safety-number or client QR code does not match
	// the keys this client holds for those users: do not mark them verified.
	ErrMismatch = errors.New("e2ee: keys do not match")
	// ErrExhausted: a chain counter reached 2^32-1; start a new session or
	// rotate the sender key.
	ErrExhausted = errors.New("e2ee: chain exhausted")
)

type detailError struct {
	kind   error
	detail string
}

func (e *detailError) Error() string { return e.kind.Error() + ": " + e.detail }
func (e *detailError) Unwrap() error { return e.kind }

func errf(kind error, format string, args ...any) error {
	return &detailError{kind: kind, detail: fmt.Sprintf(format, args...)}
}
