// The primitives of docs/protocol.md ("Primitives"), every one from the
// audited @noble libraries; this file only adapts their calling
// conventions and turns their failures into the protocol's errors.

import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'
import { utf8 } from './bytes'
import { fail } from './errors'

export { sha256, sha512 }

/** KeySize is the size of X25519 and Ed25519 keys, seeds and chain keys. */
export const KeySize = 32
export const SignatureSize = 64
export const KEMPublicKeySize = 1184
export const KEMCiphertextSize = 1088
export const KEMSeedSize = 64

const ZeroSalt = new Uint8Array(32)

/** hkdfSHA256 is HKDF-SHA256 (RFC 5869); an empty salt means 32 zero bytes. */
export function hkdfSHA256(ikm: Uint8Array, salt: Uint8Array | undefined, info: string | Uint8Array, n: number): Uint8Array {
  return hkdf(sha256, ikm, salt === undefined || salt.length === 0 ? ZeroSalt : salt, typeof info === 'string' ? utf8(info) : info, n)
}

export function hmacSHA256(key: Uint8Array, msg: Uint8Array): Uint8Array {
  return hmac(sha256, key, msg)
}

/** seal is ChaCha20-Poly1305 (RFC 8439): ciphertext || 16-byte tag. */
export function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  return chacha20poly1305(key, nonce, ad).encrypt(plaintext)
}

/** open inverts seal; any change is `decrypt`. */
export function open(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array {
  if (ciphertext.length < 16) fail('decrypt', 'authentication failed')
  try {
    return chacha20poly1305(key, nonce, ad).decrypt(ciphertext)
  } catch {
    return fail('decrypt', 'authentication failed')
  }
}

/** xseal is XChaCha20-Poly1305 (24-byte nonce), for the key backup. */
export function xseal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, ad).encrypt(plaintext)
}

export function xopen(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array {
  if (ciphertext.length < 16) fail('decrypt', 'authentication failed')
  try {
    return xchacha20poly1305(key, nonce, ad).decrypt(ciphertext)
  } catch {
    return fail('decrypt', 'authentication failed')
  }
}

/** ed25519Public is the public key of a 32-byte seed (RFC 8032 §5.1.5). */
export function ed25519Public(seed: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(seed)
}

/** ed25519Sign is deterministic pure Ed25519 (RFC 8032), the same bytes as Go's. */
export function ed25519Sign(seed: Uint8Array, msg: Uint8Array): Uint8Array {
  return ed25519.sign(msg, seed)
}

/** x25519Public is X25519(priv, 9), the private key clamped as RFC 7748 says. */
export function x25519Public(priv: Uint8Array): Uint8Array {
  return x25519.getPublicKey(priv)
}

/** x25519Raw is X25519(priv, pub); an all-zero output is `invalid_key` (RFC 7748 §6.1). */
export function x25519Raw(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  let out: Uint8Array
  try {
    out = x25519.getSharedSecret(priv, pub)
  } catch {
    return fail('invalid_key', 'X25519 low-order result')
  }
  let acc = 0
  for (const b of out) acc |= b
  if (acc === 0) fail('invalid_key', 'X25519 low-order result')
  return out
}

/** mlkemKeygen is ML-KEM-768.KeyGen_internal(d, z) of the 64-byte seed d || z. */
export function mlkemKeygen(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const { publicKey, secretKey } = ml_kem768.keygen(seed.slice())
  return { publicKey, secretKey }
}

/** mlkemEncapsulate is ML-KEM-768.Encaps_internal(ek, m) with the 32 bytes m read by the caller. */
export function mlkemEncapsulate(publicKey: Uint8Array, m: Uint8Array): { ciphertext: Uint8Array; sharedSecret: Uint8Array } {
  const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey, m.slice())
  return { ciphertext: cipherText, sharedSecret }
}

/** mlkemDecapsulate uses implicit rejection: a changed ciphertext gives a wrong secret. */
export function mlkemDecapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (ciphertext.length !== KEMCiphertextSize) fail('invalid_message', 'KEM ciphertext')
  return ml_kem768.decapsulate(ciphertext, secretKey.slice())
}
