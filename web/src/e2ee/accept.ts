// The key acceptance rules of docs/protocol.md ("Key acceptance rules"),
// checked explicitly. @noble/curves verifies Ed25519 with the cofactored
// equation and, by default (ZIP-215), accepts non-canonical encodings and
// small-order keys; Go's crypto/ed25519 uses the cofactorless equation.
// The protocol fixes one rule, so this file checks every branch of it
// itself and uses the library only for the curve arithmetic.

import { ed25519 } from '@noble/curves/ed25519.js'
import { bytesToNumberLE } from '@noble/curves/utils.js'
import { concat, equal } from './bytes'
import { fail } from './errors'
import { KEMPublicKeySize, KeySize, sha512 } from './primitives'

const P = (1n << 255n) - 19n
const L = (1n << 252n) + 27742317777372353535851937790883648493n

function le(b: Uint8Array): bigint {
  return bytesToNumberLE(b)
}

/** The y (little-endian, sign bit clear) of the eight Ed25519 points of order dividing 8. */
const edSmallOrderY: bigint[] = [
  0n,
  1n,
  P - 1n,
  le(hexBytes('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05')),
  le(hexBytes('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a')),
]

/** The canonical u of the Curve25519 points (curve or twist) of order dividing 8. */
const x25519LowOrder: bigint[] = [
  0n,
  1n,
  P - 1n,
  le(hexBytes('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800')),
  le(hexBytes('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157')),
]

function hexBytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length / 2)
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16)
  return b
}

/** edY splits a 32-byte encoding into y (bit 255 cleared) and the sign bit. */
function edY(b: Uint8Array): { y: bigint; sign: number } {
  const c = b.slice(0, 32)
  const sign = c[31]! >> 7
  c[31]! &= 0x7f
  return { y: le(c), sign }
}

/** edCanonical: y < p, and the sign bit clear when x = 0 (y = 1 or y = p − 1). */
export function edCanonical(b: Uint8Array): boolean {
  const { y, sign } = edY(b)
  if (y >= P) return false
  if (sign === 1 && (y === 1n || y === P - 1n)) return false
  return true
}

/**
 * checkSigningPublic applies the Ed25519 public-key rule: 32 bytes,
 * canonical, and not one of the eight small-order points. That the bytes
 * are a curve point at all is established by the signature that always
 * comes with such a key.
 */
export function checkSigningPublic(b: Uint8Array): void {
  if (!(b instanceof Uint8Array) || b.length !== KeySize) fail('invalid_key', `Ed25519 public key must be ${KeySize} bytes`)
  if (!edCanonical(b)) fail('invalid_key', 'non-canonical Ed25519 public key')
  const { y } = edY(b)
  if (edSmallOrderY.includes(y)) fail('invalid_key', 'small-order Ed25519 public key')
}

/**
 * verifySignature checks an Ed25519 signature under the protocol's rule:
 * the key passes checkSigningPublic (`invalid_key`), R is canonical, S < L,
 * and the cofactorless equation [S]B = R + [k]A holds, checked as "the
 * encoding of [S]B − [k]A is R byte for byte" (`bad_signature`), as Go's
 * crypto/ed25519 does. @noble/curves' own verify is not used: its
 * cofactored equation accepts torsion in R and mixed-order keys with
 * [k]T ≠ 0, which the rule refuses.
 */
export function verifySignature(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): void {
  checkSigningPublic(pub)
  if (!(sig instanceof Uint8Array) || sig.length !== 64) fail('bad_signature', 'signature must be 64 bytes')
  const R = sig.subarray(0, 32)
  if (!edCanonical(R)) fail('bad_signature', 'non-canonical R')
  const S = le(sig.subarray(32, 64))
  if (S >= L) fail('bad_signature', 'S not below the group order')
  let A
  try {
    A = ed25519.Point.fromBytes(pub, false)
  } catch {
    return fail('bad_signature', 'public key is not a curve point')
  }
  const k = le(sha512(concat(R, pub, msg))) % L
  // Both scalars are public: the variable-time multiplication is fine.
  const check = ed25519.Point.BASE.multiplyUnsafe(S).subtract(A.multiplyUnsafe(k))
  if (!equal(check.toBytes(), R)) fail('bad_signature', 'does not verify')
}

/** checkDHPublic applies the X25519 rule: 32 bytes, top bit clear, u < p, not of low order. */
export function checkDHPublic(b: Uint8Array): void {
  if (!(b instanceof Uint8Array) || b.length !== KeySize) fail('invalid_key', `X25519 public key must be ${KeySize} bytes`)
  const u = le(b)
  if (u >= P) fail('invalid_key', 'non-canonical X25519 public key')
  if (x25519LowOrder.includes(u)) fail('invalid_key', 'low-order X25519 public key')
}

/**
 * checkKEMPublic applies the ML-KEM-768 rule: 1184 bytes whose 768
 * 12-bit coefficients (the first 1152 bytes, FIPS 203 §7.2) are all below
 * q = 3329.
 */
export function checkKEMPublic(b: Uint8Array): void {
  if (!(b instanceof Uint8Array) || b.length !== KEMPublicKeySize) fail('invalid_key', 'ML-KEM-768 encapsulation key')
  for (let i = 0; i < 1152; i += 3) {
    const b0 = b[i]!, b1 = b[i + 1]!, b2 = b[i + 2]!
    if ((b0 | ((b1 & 0x0f) << 8)) >= 3329 || ((b1 >> 4) | (b2 << 4)) >= 3329) fail('invalid_key', 'ML-KEM-768 encapsulation key')
  }
}
