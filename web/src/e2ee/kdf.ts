// The key derivations and the padding shared by the Double Ratchet and
// sender keys (docs/protocol.md "Keys and functions").

import { fail } from './errors'
import { hkdfSHA256, hmacSHA256 } from './primitives'

export const labelHandshake = 'UnhidraHandshake'
export const labelTranscript = 'UnhidraTranscript'
export const labelRatchet = 'UnhidraRatchet'
export const labelMessageKey = 'UnhidraMessageKey'
export const labelSenderKeyMsg = 'UnhidraSenderKeyMessageKey'

const one = new Uint8Array([0x01])
const two = new Uint8Array([0x02])

/** kdfRK(rk, dh) = HKDF(salt = rk, ikm = dh, info = "UnhidraRatchet", 64) → [root key, chain key]. */
export function kdfRK(rk: Uint8Array, dhOut: Uint8Array): [Uint8Array, Uint8Array] {
  const out = hkdfSHA256(dhOut, rk, labelRatchet, 64)
  return [out.slice(0, 32), out.slice(32)]
}

/** kdfCK(ck) → [next chain key = HMAC(ck, 0x02), message key = HMAC(ck, 0x01)]. */
export function kdfCK(ck: Uint8Array): [Uint8Array, Uint8Array] {
  return [hmacSHA256(ck, two), hmacSHA256(ck, one)]
}

/** messageAEAD expands a message key: HKDF(salt = empty, ikm = mk, info = label, 44) → key (32), nonce (12). */
export function messageAEAD(mk: Uint8Array, label: string): { key: Uint8Array; nonce: Uint8Array } {
  const out = hkdfSHA256(mk, undefined, label, 44)
  return { key: out.slice(0, 32), nonce: out.slice(32) }
}

/** PadBlock is the padding granularity of message plaintexts. */
export const PadBlock = 32

/** pad appends 0x80 and zero bytes up to the next multiple of 32 (ISO/IEC 7816-4). */
export function pad(p: Uint8Array): Uint8Array {
  const out = new Uint8Array((Math.floor(p.length / PadBlock) + 1) * PadBlock)
  out.set(p)
  out[p.length] = 0x80
  return out
}

/** unpad inverts pad and refuses anything pad would not have produced. */
export function unpad(p: Uint8Array): Uint8Array {
  if (p.length === 0 || p.length % PadBlock !== 0) fail('invalid_message', 'bad padding')
  let i = p.length - 1
  while (i >= 0 && p[i] === 0) i--
  if (i < 0 || p[i] !== 0x80 || p.length - i > PadBlock) fail('invalid_message', 'bad padding')
  return p.slice(0, i)
}
