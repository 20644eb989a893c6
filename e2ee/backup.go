package e2ee

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"math/big"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// RecoveryKey is the 256-bit secret that opens the user's key backup. The
// user holds it as text (String); the server never sees it.
type RecoveryKey [32]byte

// GenerateRecoveryKey reads 32 bytes from rand (nil: crypto/rand).
func GenerateRecoveryKey(rand io.Reader) (RecoveryKey, error) {
	var k RecoveryKey
	b, err := readRand(rand, 32)
	if err != nil {
		return k, err
	}
	copy(k[:], b)
	return k, nil
}

const recoveryKeyVersion = 1

func recoveryChecksum(k *RecoveryKey) []byte {
	h := sha256.Sum256(context(labelRecoveryKey, []byte{recoveryKeyVersion}, k[:]))
	return h[:2]
}

// String is the recovery key as the user sees it: base58 (the Bitcoin
// alphabet) of version (1) || key || 2 checksum bytes, in groups of four
// characters separated by spaces.
func (k RecoveryKey) String() string {
	raw := append(append([]byte{recoveryKeyVersion}, k[:]...), recoveryChecksum(&k)...)
	s := base58Encode(raw)
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

// ParseRecoveryKey reads a recovery key typed or pasted by the user:
// whitespace is ignored; a typo fails the checksum (ErrWrongRecoveryKey).
func ParseRecoveryKey(s string) (RecoveryKey, error) {
	var k RecoveryKey
	s = strings.Join(strings.Fields(s), "")
	if len(s) > 64 {
		return k, errf(ErrInvalidMessage, "recovery key too long")
	}
	raw, ok := base58Decode(s)
	if !ok || len(raw) != 1+32+2 {
		return k, errf(ErrInvalidMessage, "not a recovery key")
	}
	if raw[0] != recoveryKeyVersion {
		return k, errf(ErrUnsupportedVersion, "recovery key version %d", raw[0])
	}
	copy(k[:], raw[1:33])
	if !equal(raw[33:], recoveryChecksum(&k)) {
		return RecoveryKey{}, errf(ErrWrongRecoveryKey, "checksum")
	}
	return k, nil
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func base58Encode(b []byte) string {
	n := new(big.Int).SetBytes(b)
	radix, mod := big.NewInt(58), new(big.Int)
	var out []byte
	for n.Sign() > 0 {
		n.DivMod(n, radix, mod)
		out = append(out, base58Alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

func base58Decode(s string) ([]byte, bool) {
	n, radix := new(big.Int), big.NewInt(58)
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(base58Alphabet, s[i])
		if d < 0 {
			return nil, false
		}
		n.Mul(n, radix)
		n.Add(n, big.NewInt(int64(d)))
	}
	return append(make([]byte, zeros), n.Bytes()...), true
}

// BackupVersion is the version of the backup format this package writes.
const BackupVersion = 1

// Backup is the encrypted key backup as PUT|GET /api/v1/keys/backup carries
// it; the server stores it without being able to open it. AuthData is
// version (1) || key check (16) || sequence (8, big-endian); Data is a
// 24-byte nonce || XChaCha20-Poly1305 ciphertext.
type Backup struct {
	Version  int    `json:"version"`
	AuthData []byte `json:"auth_data"`
	Data     []byte `json:"data"`
}

func (k *RecoveryKey) backupKeys() (enc, check []byte) {
	return hkdfSHA256(k[:], nil, labelBackupKey, 32), hkdfSHA256(k[:], nil, labelBackupCheck, 16)
}

// SealBackup encrypts a backup under the recovery key. sequence grows with
// every backup the user writes; OpenBackup returns it so a client can
// refuse a backup older than one it wrote (a server rolling it back). rand
// (nil: crypto/rand) supplies the 24-byte nonce.
func SealBackup(rand io.Reader, key RecoveryKey, sequence uint64, plaintext []byte) (*Backup, error) {
	nonce, err := readRand(rand, chacha20poly1305.NonceSizeX)
	if err != nil {
		return nil, err
	}
	enc, check := key.backupKeys()
	var w writer
	w.u8(BackupVersion)
	w.raw(check)
	w.u64(sequence)
	a, _ := chacha20poly1305.NewX(enc)
	data := a.Seal(nonce, nonce, plaintext, context(labelBackupAD, w.b))
	return &Backup{Version: BackupVersion, AuthData: w.b, Data: data}, nil
}

// OpenBackup decrypts a backup. A recovery key that is not the backup's
// is ErrWrongRecoveryKey (told apart by the key check before decrypting); a
// changed backup is ErrDecrypt.
func OpenBackup(key RecoveryKey, b *Backup) (sequence uint64, plaintext []byte, err error) {
	if b.Version != BackupVersion {
		return 0, nil, errf(ErrUnsupportedVersion, "backup version %d", b.Version)
	}
	r := reader{b: b.AuthData}
	v, check, seq := r.u8(), r.take(16), r.u64()
	if err := r.done(); err != nil {
		return 0, nil, err
	}
	if int(v) != b.Version {
		return 0, nil, errf(ErrInvalidMessage, "backup versions disagree")
	}
	enc, want := key.backupKeys()
	if !equal(check, want) {
		return 0, nil, errf(ErrWrongRecoveryKey, "key check")
	}
	if len(b.Data) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return 0, nil, errf(ErrInvalidMessage, "backup data too short")
	}
	a, _ := chacha20poly1305.NewX(enc)
	n := chacha20poly1305.NonceSizeX
	pt, err := a.Open(nil, b.Data[:n], b.Data[n:], context(labelBackupAD, b.AuthData))
	if err != nil {
		return 0, nil, errf(ErrDecrypt, "backup")
	}
	return seq, pt, nil
}

// BackupContents is the plaintext of a key backup as this project's
// clients write it (JSON): the master key's seed, when the backup is to
// let a new client verify itself, and the sender keys needed to read past
// messages (SenderKeyDistribution encodings, each checked against its
// sender's identity when restored).
type BackupContents struct {
	Version    int      `json:"version"`
	MasterKey  []byte   `json:"master_key,omitempty"`
	SenderKeys [][]byte `json:"sender_keys"`
}

// MaxBackupSenderKeys bounds the sender keys of one backup.
const MaxBackupSenderKeys = 100000

// Marshal encodes the contents as JSON.
func (c *BackupContents) Marshal() ([]byte, error) {
	c.Version = BackupVersion
	if c.SenderKeys == nil {
		c.SenderKeys = [][]byte{}
	}
	return json.Marshal(c)
}

// ParseBackupContents decodes the contents strictly: one JSON object, no
// unknown field, a 32-byte master seed if any, and well-formed sender keys.
func ParseBackupContents(b []byte) (*BackupContents, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c BackupContents
	if err := dec.Decode(&c); err != nil {
		return nil, errf(ErrInvalidMessage, "backup contents: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errf(ErrInvalidMessage, "backup contents: trailing data")
	}
	if c.Version != BackupVersion {
		return nil, errf(ErrUnsupportedVersion, "backup contents version %d", c.Version)
	}
	if c.MasterKey != nil && len(c.MasterKey) != KeySize {
		return nil, errf(ErrInvalidMessage, "master key seed")
	}
	if len(c.SenderKeys) > MaxBackupSenderKeys {
		return nil, errf(ErrInvalidMessage, "too many sender keys")
	}
	for _, d := range c.SenderKeys {
		if _, err := ParseSenderKeyDistribution(d); err != nil {
			return nil, err
		}
	}
	if c.SenderKeys == nil {
		c.SenderKeys = [][]byte{}
	}
	return &c, nil
}
