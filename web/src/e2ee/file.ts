// File encryption (docs/protocol.md "File encryption"): STREAM over
// ChaCha20-Poly1305 with a per-file key, so dropping, reordering or
// truncating chunks fails authentication. The encryptor and decryptor
// are push-based (feed bytes, get bytes) so the web client can run them
// over a ReadableStream, a Blob's slices or a whole buffer alike.

import { concat, Reader, readRand, Writer, type RandomSource } from './bytes'
import { E2EEError, fail } from './errors'
import { hkdfSHA256, open, seal } from './primitives'

export const labelFile = 'UnhidraFile'
export const DefaultFileChunkSize = 64 << 10
export const MinFileChunkSize = 1 << 10
export const MaxFileChunkSize = 4 << 20
export const FileHeaderSize = 4 + 1 + 4 + 16
const fileMagic = new Uint8Array([0x55, 0x4e, 0x48, 0x46]) // "UNHF"
const fileVersion = 1

/** generateFileKey reads the 32-byte random per-file key, sent inside the message that carries the file. */
export function generateFileKey(rand?: RandomSource): Uint8Array {
  return readRand(rand, 32)
}

/** fileCiphertextSize is the size of the encryption of size plaintext bytes. */
export function fileCiphertextSize(size: number, chunkSize: number): number {
  const chunks = Math.max(1, Math.ceil(size / chunkSize))
  return FileHeaderSize + size + chunks * 16
}

function checkFileKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) fail('invalid_key', 'file key must be 32 bytes')
}

class ChunkCipher {
  counter = 0

  constructor(readonly header: Uint8Array, readonly key: Uint8Array, readonly chunk: number) {}

  nonce(last: boolean): Uint8Array {
    const n = new Uint8Array(12)
    new DataView(n.buffer).setBigUint64(3, BigInt(this.counter))
    if (last) n[11] = 1
    return n
  }
}

/** FileEncryptor seals a stream: push() returns the ciphertext known so far, finish() the final chunk. */
export class FileEncryptor {
  private readonly c: ChunkCipher
  private buf: Uint8Array
  private n = 0
  private headerOut = false
  private finished = false

  /** rand supplies the 16-byte salt. */
  constructor(key: Uint8Array, chunkSize = DefaultFileChunkSize, rand?: RandomSource) {
    checkFileKey(key)
    if (!Number.isInteger(chunkSize) || chunkSize < MinFileChunkSize || chunkSize > MaxFileChunkSize) fail('invalid_message', `chunk size ${chunkSize}`)
    const salt = readRand(rand, 16)
    const header = new Writer().raw(fileMagic).u8(fileVersion).u32(chunkSize).raw(salt).bytes()
    this.c = new ChunkCipher(header, hkdfSHA256(key, salt, labelFile, 32), chunkSize)
    this.buf = new Uint8Array(chunkSize)
  }

  private takeHeader(out: Uint8Array[]): void {
    if (!this.headerOut) {
      out.push(this.c.header)
      this.headerOut = true
    }
  }

  private flush(last: boolean): Uint8Array {
    const ct = seal(this.c.key, this.c.nonce(last), this.buf.subarray(0, this.n), this.c.header)
    this.c.counter++
    this.n = 0
    return ct
  }

  push(data: Uint8Array): Uint8Array {
    if (this.finished) throw new Error('e2ee: push after finish')
    const out: Uint8Array[] = []
    this.takeHeader(out)
    let p = data
    while (p.length > 0) {
      // A full buffered chunk with more data to come is not the last.
      if (this.n === this.c.chunk) out.push(this.flush(false))
      const k = Math.min(p.length, this.c.chunk - this.n)
      this.buf.set(p.subarray(0, k), this.n)
      this.n += k
      p = p.subarray(k)
    }
    return concat(...out)
  }

  finish(): Uint8Array {
    if (this.finished) throw new Error('e2ee: finish twice')
    const out: Uint8Array[] = []
    this.takeHeader(out)
    out.push(this.flush(true))
    this.finished = true
    return concat(...out)
  }
}

/**
 * FileDecryptor opens a stream made by FileEncryptor. push() returns
 * plaintext only after its chunk authenticated; finish() opens the final
 * chunk and must be called: a stream that ends before its final chunk is
 * `truncated`, a changed or reordered one `decrypt`, data after the final
 * chunk `invalid_message`. A caller that must not act on a partial file
 * uses nothing before finish() returns.
 */
export class FileDecryptor {
  private c: ChunkCipher | undefined
  private in: Uint8Array = new Uint8Array(0)
  private done = false
  private err: unknown

  /** sticky runs f, and after one failure refuses every later call with the same error. */
  private sticky<T>(f: () => T): T {
    if (this.err !== undefined) throw this.err
    try {
      return f()
    } catch (e) {
      this.err = e
      throw e
    }
  }

  constructor(private readonly fileKey: Uint8Array) {
    checkFileKey(fileKey)
  }

  private readHeader(): boolean {
    if (this.c) return true
    if (this.in.length < FileHeaderSize) return false
    const h = this.in.slice(0, FileHeaderSize)
    const r = new Reader(h)
    const magic = r.take(4)
    const v = r.u8()
    const size = r.u32()
    const salt = r.take(16)
    if (!magic.every((b, i) => b === fileMagic[i])) fail('invalid_message', 'not an encrypted file')
    if (v !== fileVersion) fail('unsupported_version', `file version ${v}`)
    if (size < MinFileChunkSize || size > MaxFileChunkSize) fail('invalid_message', `chunk size ${size}`)
    this.c = new ChunkCipher(h, hkdfSHA256(this.fileKey, salt, labelFile, 32), size)
    this.in = this.in.slice(FileHeaderSize)
    return true
  }

  /** openChunk opens one sealed chunk as Go's FileReader.next does, telling stream-level failures from tampering. */
  private openChunk(sealed: Uint8Array, last: boolean): Uint8Array {
    const c = this.c!
    if (sealed.length < 16) fail('truncated', `chunk ${c.counter}`)
    if (last && sealed.length === 16 && c.counter > 0) fail('invalid_message', 'empty final chunk')
    let pt: Uint8Array
    try {
      pt = open(c.key, c.nonce(last), sealed, c.header)
    } catch (e) {
      if (!(e instanceof E2EEError)) throw e
      let other = false
      try {
        open(c.key, c.nonce(!last), sealed, c.header)
        other = true
      } catch {
        // tampered: report the first failure
      }
      if (other) {
        if (last) fail('truncated', `after chunk ${c.counter}`)
        fail('invalid_message', 'data after the final chunk')
      }
      throw e
    }
    c.counter++
    return pt
  }

  push(data: Uint8Array): Uint8Array {
    return this.sticky(() => this.pushChunks(data))
  }

  finish(): Uint8Array {
    return this.sticky(() => this.finishChunks())
  }

  private pushChunks(data: Uint8Array): Uint8Array {
    if (this.done) {
      if (data.length > 0) fail('invalid_message', 'data after the final chunk')
      return new Uint8Array(0)
    }
    this.in = this.in.length === 0 ? data.slice() : concat(this.in, data)
    if (!this.readHeader()) return new Uint8Array(0)
    const full = this.c!.chunk + 16
    const out: Uint8Array[] = []
    // A chunk followed by at least one more byte is not the last.
    let off = 0
    while (this.in.length - off > full) {
      out.push(this.openChunk(this.in.subarray(off, off + full), false))
      off += full
    }
    if (off > 0) this.in = this.in.slice(off)
    return concat(...out)
  }

  private finishChunks(): Uint8Array {
    if (this.done) return new Uint8Array(0)
    if (!this.readHeader()) fail('truncated', 'header')
    const pt = this.openChunk(this.in, true)
    this.done = true
    this.in = new Uint8Array(0)
    return pt
  }
}

/** encryptFile encrypts a whole file in memory. */
export function encryptFile(key: Uint8Array, plaintext: Uint8Array, chunkSize = DefaultFileChunkSize, rand?: RandomSource): Uint8Array {
  const e = new FileEncryptor(key, chunkSize, rand)
  return concat(e.push(plaintext), e.finish())
}

/** decryptFile decrypts a whole file in memory. */
export function decryptFile(key: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const d = new FileDecryptor(key)
  return concat(d.push(ciphertext), d.finish())
}
