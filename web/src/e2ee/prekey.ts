// Prekeys and bundles (docs/protocol.md "Prekeys and bundles").

import { checkDHPublic, checkKEMPublic, verifySignature } from './accept'
import { context, u32, utf8 } from './bytes'
import { E2EEError, fail } from './errors'
import { verifyIdentity, type ClientIdentity, type ClientKeys } from './identity'
import type { DHKey, KEMKey } from './keys'

export const labelSignedPrekey = 'UnhidraSignedPrekey'
export const labelPQPrekey = 'UnhidraPQPrekey'

/** SignedPrekey is an X25519 prekey signed by the client's signing key. */
export interface SignedPrekey {
  id: number
  key: Uint8Array
  sig: Uint8Array
}

/** PQPrekey is an ML-KEM-768 prekey (1184 bytes) signed by the client's signing key; mandatory in bundles. */
export interface PQPrekey {
  id: number
  key: Uint8Array
  sig: Uint8Array
}

/** OneTimePrekey is an unsigned X25519 prekey the directory hands out once. */
export interface OneTimePrekey {
  id: number
  key: Uint8Array
}

/** Bundle is what the key directory returns for one client. */
export interface Bundle extends ClientIdentity {
  signedPrekey: SignedPrekey
  pqPrekey: PQPrekey
  oneTimePrekey?: OneTimePrekey | undefined
}

function checkU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) fail('invalid_message', `${what} out of range`)
}

function signedPrekeyBytes(user: string, client: string, id: number, key: Uint8Array): Uint8Array {
  return context(labelSignedPrekey, utf8(user), utf8(client), u32(id), key)
}

function pqPrekeyBytes(user: string, client: string, id: number, key: Uint8Array): Uint8Array {
  return context(labelPQPrekey, utf8(user), utf8(client), u32(id), key)
}

/** signPrekey signs an X25519 prekey as the client's signed prekey. */
export function signPrekey(owner: ClientKeys, id: number, k: DHKey): SignedPrekey {
  checkU32(id, 'prekey id')
  return { id, key: k.publicKey.slice(), sig: owner.signing.sign(signedPrekeyBytes(owner.userId, owner.clientId, id, k.publicKey)) }
}

/** signPQPrekey signs an ML-KEM-768 key as the client's PQ prekey. */
export function signPQPrekey(owner: ClientKeys, id: number, k: KEMKey): PQPrekey {
  checkU32(id, 'prekey id')
  return { id, key: k.publicKey.slice(), sig: owner.signing.sign(pqPrekeyBytes(owner.userId, owner.clientId, id, k.publicKey)) }
}

/** oneTimePrekeyOf is the public half of a one-time prekey, for upload. */
export function oneTimePrekeyOf(id: number, k: DHKey): OneTimePrekey {
  checkU32(id, 'prekey id')
  return { id, key: k.publicKey.slice() }
}

function rethrowAs(detail: string, f: () => void): void {
  try {
    f()
  } catch (e) {
    if (e instanceof E2EEError) fail('bad_signature', `${detail}: ${e.message}`)
    throw e
  }
}

export function verifySignedPrekey(p: SignedPrekey, owner: ClientIdentity): void {
  checkU32(p.id, 'prekey id')
  checkDHPublic(p.key)
  rethrowAs(`signed prekey ${p.id}`, () => verifySignature(owner.signingKey, signedPrekeyBytes(owner.userId, owner.clientId, p.id, p.key), p.sig))
}

export function verifyPQPrekey(p: PQPrekey, owner: ClientIdentity): void {
  checkU32(p.id, 'prekey id')
  checkKEMPublic(p.key)
  rethrowAs(`PQ prekey ${p.id}`, () => verifySignature(owner.signingKey, pqPrekeyBytes(owner.userId, owner.clientId, p.id, p.key), p.sig))
}

/**
 * verifyBundle checks every key of the bundle and every signature in it.
 * A bundle the server made up entirely (its own identity) passes: the
 * caller also checks the identity against the user's signed client list.
 */
export function verifyBundle(b: Bundle): void {
  // The PQ prekey is mandatory: a server that strips it must not
  // downgrade the session to X3DH.
  if (!b.signedPrekey || !b.pqPrekey) fail('invalid_message', 'bundle without a signed prekey and a PQ prekey')
  verifyIdentity(b)
  verifySignedPrekey(b.signedPrekey, b)
  verifyPQPrekey(b.pqPrekey, b)
  if (b.oneTimePrekey) {
    checkU32(b.oneTimePrekey.id, 'prekey id')
    checkDHPublic(b.oneTimePrekey.key)
  }
}
