package e2ee

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
)

// File encryption is STREAM (Hoang, Reyhanitabar, Rogaway, Vizár 2015)
// over ChaCha20-Poly1305: the plaintext is cut into chunks of a fixed size,
// each sealed with a nonce made of its counter and a final-chunk flag, so
// dropping, reordering or truncating chunks fails authentication.
//
//	file   = header || chunk_0 || … || chunk_last
//	header = "UNHF" || version (1) || chunk size (u32) || salt (16)
//	key    = HKDF-SHA256(salt, file key, "UnhidraFile", 32)
//	nonce_i = i as 11 bytes big-endian || 0x01 if last else 0x00
//	chunk_i = ChaCha20-Poly1305(key, nonce_i, plaintext_i, ad = header)
//
// Every chunk but the last holds exactly chunk-size bytes; the last holds
// 1 to chunk-size bytes, or 0 only when the whole file is empty.

// FileKey is the random per-file key, sent to the recipients inside the
// (encrypted) message that carries the file.
type FileKey [32]byte

// File chunk sizes.
const (
	DefaultFileChunkSize = 64 << 10
	MinFileChunkSize     = 1 << 10
	MaxFileChunkSize     = 4 << 20
	FileHeaderSize       = 4 + 1 + 4 + 16
	fileMagic            = "UNHF"
	fileVersion          = 1
)

// GenerateFileKey reads 32 bytes from rand (nil: crypto/rand).
func GenerateFileKey(rand io.Reader) (FileKey, error) {
	var k FileKey
	b, err := readRand(rand, 32)
	if err != nil {
		return k, err
	}
	copy(k[:], b)
	return k, nil
}

// FileCiphertextSize is the size of the encryption of size plaintext bytes.
func FileCiphertextSize(size int64, chunkSize int) int64 {
	chunks := (size + int64(chunkSize) - 1) / int64(chunkSize)
	if chunks == 0 {
		chunks = 1
	}
	return FileHeaderSize + size + chunks*16
}

type fileCipher struct {
	header  []byte
	key     []byte
	chunk   int
	counter uint64
}

func (c *fileCipher) nonce(last bool) []byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[3:11], c.counter)
	if last {
		n[11] = 1
	}
	return n[:]
}

// FileWriter encrypts a stream: what is written to it is written, sealed,
// to the underlying writer; Close seals the final chunk and must be called.
// It writes nothing but ciphertext and does no I/O of its own.
type FileWriter struct {
	c      fileCipher
	dst    io.Writer
	buf    []byte
	closed bool
	err    error
}

// NewFileWriter writes the header to dst and returns the writer of the
// chunks. rand (nil: crypto/rand) supplies the 16-byte salt.
func NewFileWriter(rand io.Reader, dst io.Writer, key FileKey, chunkSize int) (*FileWriter, error) {
	if chunkSize < MinFileChunkSize || chunkSize > MaxFileChunkSize {
		return nil, errf(ErrInvalidMessage, "chunk size %d", chunkSize)
	}
	salt, err := readRand(rand, 16)
	if err != nil {
		return nil, err
	}
	var w writer
	w.raw([]byte(fileMagic))
	w.u8(fileVersion)
	w.u32(uint32(chunkSize))
	w.raw(salt)
	fw := &FileWriter{
		c:   fileCipher{header: w.b, key: hkdfSHA256(key[:], salt, labelFile, 32), chunk: chunkSize},
		dst: dst,
		buf: make([]byte, 0, chunkSize),
	}
	if _, err := dst.Write(w.b); err != nil {
		return nil, err
	}
	return fw, nil
}

// Write buffers p and writes every chunk known not to be the last.
func (w *FileWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("e2ee: write to closed FileWriter")
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == w.c.chunk {
			// More data follows, so the buffered chunk is not the last.
			if err := w.flush(false); err != nil {
				return n, err
			}
		}
		k := copy(w.buf[len(w.buf):w.c.chunk], p)
		w.buf = w.buf[:len(w.buf)+k]
		p, n = p[k:], n+k
	}
	return n, nil
}

func (w *FileWriter) flush(last bool) error {
	ct := seal(w.c.key, w.c.nonce(last), w.buf, w.c.header)
	w.c.counter++
	w.buf = w.buf[:0]
	if _, err := w.dst.Write(ct); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Close seals and writes the final chunk. It does not close dst.
func (w *FileWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	w.closed = true
	return w.flush(true)
}

// FileReader decrypts a stream made by FileWriter. Read returns plaintext
// only after its chunk authenticated; a stream that ends before its final
// chunk is ErrTruncated, a changed or reordered one ErrDecrypt, and data
// after the final chunk ErrInvalidMessage. A caller that must not act on a
// partial file reads to io.EOF before using any of it.
type FileReader struct {
	c    fileCipher
	src  io.Reader
	in   []byte // one sealed chunk and one byte of look-ahead
	out  []byte
	done bool
	err  error
}

// NewFileReader reads and checks the header.
func NewFileReader(src io.Reader, key FileKey) (*FileReader, error) {
	h := make([]byte, FileHeaderSize)
	if _, err := io.ReadFull(src, h); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, errf(ErrTruncated, "header")
		}
		return nil, err
	}
	r := reader{b: h}
	magic, v, size, salt := r.take(4), r.u8(), r.u32(), r.take(16)
	if string(magic) != fileMagic {
		return nil, errf(ErrInvalidMessage, "not an encrypted file")
	}
	if v != fileVersion {
		return nil, errf(ErrUnsupportedVersion, "file version %d", v)
	}
	if size < MinFileChunkSize || size > MaxFileChunkSize {
		return nil, errf(ErrInvalidMessage, "chunk size %d", size)
	}
	return &FileReader{
		c:   fileCipher{header: h, key: hkdfSHA256(key[:], salt, labelFile, 32), chunk: int(size)},
		src: src,
		in:  make([]byte, 0, int(size)+16+1),
	}, nil
}

func (r *FileReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.err = r.next()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// next reads one sealed chunk plus one byte, which tells whether the chunk
// is the last.
func (r *FileReader) next() error {
	full := r.c.chunk + 16
	n, err := io.ReadFull(r.src, r.in[len(r.in):full+1])
	r.in = r.in[:len(r.in)+n]
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return err
	}
	last := len(r.in) <= full
	sealed := r.in
	if !last {
		sealed = r.in[:full]
	}
	if len(sealed) < 16 {
		return errf(ErrTruncated, "chunk %d", r.c.counter)
	}
	if last && len(sealed) == 16 && r.c.counter > 0 {
		return errf(ErrInvalidMessage, "empty final chunk")
	}
	pt, err := open(r.c.key, r.c.nonce(last), sealed, r.c.header)
	if err != nil {
		// Tell the two stream-level failures from tampering: a full chunk
		// sealed as not-last at the end (cut off after it), or the final
		// chunk followed by more data.
		if _, e := open(r.c.key, r.c.nonce(!last), sealed, r.c.header); e == nil {
			if last {
				return errf(ErrTruncated, "after chunk %d", r.c.counter)
			}
			return errf(ErrInvalidMessage, "data after the final chunk")
		}
		return err
	}
	r.c.counter++
	r.out = pt
	if last {
		r.done = true
		r.in = r.in[:0]
	} else {
		r.in = append(r.in[:0], r.in[full])
	}
	return nil
}

// EncryptFile encrypts a whole file in memory.
func EncryptFile(rand io.Reader, key FileKey, plaintext []byte, chunkSize int) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(int(FileCiphertextSize(int64(len(plaintext)), max(chunkSize, 1))))
	w, err := NewFileWriter(rand, &b, key, chunkSize)
	if err != nil {
		return nil, err
	}
	w.Write(plaintext)
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DecryptFile decrypts a whole file in memory.
func DecryptFile(key FileKey, ciphertext []byte) ([]byte, error) {
	r, err := NewFileReader(bytes.NewReader(ciphertext), key)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}
