// Byte layouts of docs/protocol.md ("Conventions"): big-endian integers,
// str8 ids, context() framing, strict decoding, and the hex and base64
// forms of the key directory and the test vectors.

import { fail } from './errors'

/** MaxIDLength is the longest user, client or group id, in UTF-8 bytes. */
export const MaxIDLength = 128

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s)
}

/** checkID applies the id rule: 1 to 128 bytes of UTF-8 with no control character. */
export function checkID(s: string): void {
  if (typeof s !== 'string' || s === '') fail('invalid_message', 'invalid id')
  // A lone surrogate has no UTF-8 encoding (TextEncoder would silently
  // replace it), so it is refused like invalid UTF-8 in Go.
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s)) fail('invalid_message', 'invalid id')
  if (/[\u0000-\u001f\u007f-\u009f]/.test(s)) fail('invalid_message', 'invalid id')
  if (utf8(s).length > MaxIDLength) fail('invalid_message', 'invalid id')
}

/** compareIDs orders ids by their UTF-8 bytes, as Go's strings.Compare does. */
export function compareIDs(a: string, b: string): number {
  return compareBytes(utf8(a), utf8(b))
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/** equal compares two byte strings in time that depends only on their lengths. */
export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!
  return d === 0
}

export function u32(v: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, v >>> 0)
  return b
}

export function u64(v: number): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt(v))
  return b
}

/**
 * context is the byte string that is signed, hashed or used as HKDF info:
 * the ASCII label, one 0x00 byte, then each field as a u32 length and its
 * bytes (an absent optional field is an empty one).
 */
export function context(label: string, ...fields: Uint8Array[]): Uint8Array {
  let n = label.length + 1
  for (const f of fields) n += 4 + f.length
  const out = new Uint8Array(n)
  const dv = new DataView(out.buffer)
  let off = 0
  out.set(utf8(label), 0)
  off = label.length + 1
  for (const f of fields) {
    dv.setUint32(off, f.length)
    out.set(f, off + 4)
    off += 4 + f.length
  }
  return out
}

/** Writer appends the fixed layouts of docs/protocol.md. */
export class Writer {
  private buf = new Uint8Array(256)
  private n = 0

  private grow(k: number): void {
    if (this.n + k <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.n + k) size *= 2
    const b = new Uint8Array(size)
    b.set(this.buf.subarray(0, this.n))
    this.buf = b
  }

  u8(v: number): this {
    this.grow(1)
    this.buf[this.n++] = v & 0xff
    return this
  }

  u16(v: number): this {
    this.grow(2)
    new DataView(this.buf.buffer).setUint16(this.n, v)
    this.n += 2
    return this
  }

  u32(v: number): this {
    this.grow(4)
    new DataView(this.buf.buffer).setUint32(this.n, v >>> 0)
    this.n += 4
    return this
  }

  u64(v: number): this {
    this.grow(8)
    new DataView(this.buf.buffer).setBigUint64(this.n, BigInt(v))
    this.n += 8
    return this
  }

  raw(p: Uint8Array): this {
    this.grow(p.length)
    this.buf.set(p, this.n)
    this.n += p.length
    return this
  }

  /** str8 writes an id: one length byte, then its UTF-8 bytes. */
  str8(s: string): this {
    const b = utf8(s)
    if (b.length > 255) fail('invalid_message', 'id too long')
    return this.u8(b.length).raw(b)
  }

  get length(): number {
    return this.n
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.n)
  }
}

/**
 * Reader consumes a layout. A short read or a bad id throws
 * invalid_message at once, so a decoder reads its fields in the order
 * the Go decoder checks them to report the same error.
 */
export class Reader {
  private off = 0

  constructor(private readonly b: Uint8Array) {}

  take(n: number): Uint8Array {
    if (n < 0 || this.b.length - this.off < n) fail('invalid_message', 'truncated or malformed')
    const p = this.b.slice(this.off, this.off + n)
    this.off += n
    return p
  }

  u8(): number {
    return this.take(1)[0]!
  }

  u16(): number {
    return new DataView(this.take(2).buffer).getUint16(0)
  }

  u32(): number {
    return new DataView(this.take(4).buffer).getUint32(0)
  }

  /** u64 reads a 64-bit number; one above 2^53 − 1 cannot be a JavaScript number and is refused. */
  u64(): number {
    const v = new DataView(this.take(8).buffer).getBigUint64(0)
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('invalid_message', '64-bit value out of range')
    return Number(v)
  }

  /** id reads a str8 and applies the id rule. */
  id(): string {
    const n = this.u8()
    const p = this.take(n)
    let s: string
    try {
      s = utf8Decoder.decode(p)
    } catch {
      return fail('invalid_message', 'invalid id')
    }
    checkID(s)
    return s
  }

  /** rest returns what is left. */
  rest(): Uint8Array {
    const p = this.b.slice(this.off)
    this.off = this.b.length
    return p
  }

  get remaining(): number {
    return this.b.length - this.off
  }

  /** done throws unless every byte was consumed. */
  done(): void {
    if (this.off !== this.b.length) fail('invalid_message', 'trailing bytes')
  }
}

export function hex(b: Uint8Array): string {
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}

export function unhex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) fail('invalid_message', 'not hex')
  const b = new Uint8Array(s.length / 2)
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16)
  return b
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const B64Index = (() => {
  const t = new Int16Array(128).fill(-1)
  for (let i = 0; i < B64.length; i++) t[B64.charCodeAt(i)] = i
  return t
})()

/** base64 is standard base64 with padding (RFC 4648 §4), the key directory's form. */
export function base64(b: Uint8Array): string {
  let s = ''
  let i = 0
  for (; i + 2 < b.length; i += 3) {
    const v = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!
    s += B64[v >> 18]! + B64[(v >> 12) & 63]! + B64[(v >> 6) & 63]! + B64[v & 63]!
  }
  if (i < b.length) {
    const v = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8)
    s += B64[v >> 18]! + B64[(v >> 12) & 63]!
    s += i + 1 < b.length ? B64[(v >> 6) & 63]! + '=' : '=='
  }
  return s
}

/** unbase64 decodes standard base64 with padding; anything else is refused. */
export function unbase64(s: string): Uint8Array {
  if (typeof s !== 'string' || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]={2}|[A-Za-z0-9+/]{2}=)?$/.test(s)) {
    fail('invalid_message', 'not standard base64')
  }
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0
  const out = new Uint8Array((s.length / 4) * 3 - pad)
  let o = 0
  for (let i = 0; i < s.length; i += 4) {
    const c = [0, 1, 2, 3].map((k) => (s[i + k] === '=' ? 0 : B64Index[s.charCodeAt(i + k)]!))
    const v = (c[0]! << 18) | (c[1]! << 12) | (c[2]! << 6) | c[3]!
    if (o < out.length) out[o++] = v >> 16
    if (o < out.length) out[o++] = (v >> 8) & 0xff
    if (o < out.length) out[o++] = v & 0xff
  }
  return out
}

/**
 * unixSeconds checks a time argument: Unix seconds (Go's time.Unix()), not
 * milliseconds. A millisecond timestamp would stamp skipped keys far in the
 * future and they would never expire, so one is refused. Fractions are
 * dropped.
 */
export function unixSeconds(now: number): number {
  if (typeof now !== 'number' || !Number.isFinite(now) || now < 0 || now >= 1e11) {
    throw new TypeError(`e2ee: time ${now} is not in Unix seconds`)
  }
  return Math.floor(now)
}

/** RandomSource supplies n random bytes; every random input of the protocol is read from one. */
export type RandomSource = (n: number) => Uint8Array

/** systemRandom is the platform's CSPRNG (crypto.getRandomValues, in browsers and Node). */
export const systemRandom: RandomSource = (n) => {
  const b = new Uint8Array(n)
  for (let off = 0; off < n; off += 65536) crypto.getRandomValues(b.subarray(off, Math.min(n, off + 65536)))
  return b
}

/** readRand reads exactly n bytes from rand (systemRandom when absent). */
export function readRand(rand: RandomSource | undefined, n: number): Uint8Array {
  const b = (rand ?? systemRandom)(n)
  if (!(b instanceof Uint8Array) || b.length !== n) throw new Error(`e2ee: random source returned ${b?.length} bytes, want ${n}`)
  return b
}

/**
 * scriptedRandom serves exactly the given bytes, in order, and throws when
 * asked for more: the test vectors' randomness, and proof of the documented
 * order and amount of random reads (left() is what was not read).
 */
export function scriptedRandom(...parts: Uint8Array[]): RandomSource & { left(): number } {
  let buf = concat(...parts)
  const f = ((n: number) => {
    if (n > buf.length) throw new Error(`scripted randomness: ${n} bytes asked, ${buf.length} left`)
    const p = buf.slice(0, n)
    buf = buf.slice(n)
    return p
  }) as RandomSource & { left(): number }
  f.left = () => buf.length
  return f
}

/** Version is the protocol version every message, envelope and state starts with. */
export const Version = 1

// Message types (the second byte of every message and payload).
export const TypeMessage = 0x01
export const TypePrekeyMessage = 0x02
export const TypeSenderKeyMessage = 0x03
export const TypeSenderKeyDistribution = 0x04
export const TypeSenderKeyRequest = 0x05
export const TypeApplication = 0x06

/** readHeader reads and checks the version and type bytes. */
export function readHeader(r: Reader, type: number): void {
  const v = r.u8()
  const t = r.u8()
  if (v !== Version) fail('unsupported_version', `version ${v}`)
  if (t !== type) fail('invalid_message', `type ${t}, want ${type}`)
}

/** messageType returns the type byte of a pairwise message or payload after checking the version. */
export function messageType(b: Uint8Array): number {
  if (b.length < 2) fail('invalid_message', 'too short')
  if (b[0] !== Version) fail('unsupported_version', `version ${b[0]}`)
  return b[1]!
}
