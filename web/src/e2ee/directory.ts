// The key directory's JSON forms (API.md "End-to-end keys"): keys and
// signatures are standard base64 with padding, and decoding a key applies
// its acceptance rule, as the Go types' UnmarshalText do, so a decoded key
// is one the protocol may use. Field names are the Go implementation's.

import { checkDHPublic, checkKEMPublic, checkSigningPublic } from './accept'
import { base64, unbase64 } from './bytes'
import { E2EEError, fail } from './errors'
import type { ClientIdentity, ClientList } from './identity'
import type { Bundle, OneTimePrekey, PQPrekey, SignedPrekey } from './prekey'
import { KEMPublicKeySize } from './primitives'

export interface ClientIdentityJSON {
  user_id: string
  client_id: string
  signing_key: string
  identity_key: string
  identity_sig: string
}

export interface PrekeyJSON {
  id: number
  key: string
  sig: string
}

export interface OneTimePrekeyJSON {
  id: number
  key: string
}

export interface BundleJSON extends ClientIdentityJSON {
  signed_prekey: PrekeyJSON
  pq_prekey: PrekeyJSON
  one_time_prekey?: OneTimePrekeyJSON
}

export interface ClientListJSON {
  user_id: string
  version: number
  master_key: string
  clients: { client_id: string; signing_key: string }[]
  sig: string
}

/** decodeBytes decodes a base64 key or signature of n bytes; a wrong form is `invalid_key`, as in Go. */
function decodeBytes(s: unknown, n: number): Uint8Array {
  let b: Uint8Array
  try {
    b = unbase64(s as string)
  } catch (e) {
    if (e instanceof E2EEError) fail('invalid_key', `not standard base64 of ${n} bytes`)
    throw e
  }
  if (b.length !== n) fail('invalid_key', `not standard base64 of ${n} bytes`)
  return b
}

const signingKey = (s: unknown) => {
  const b = decodeBytes(s, 32)
  checkSigningPublic(b)
  return b
}
const dhKey = (s: unknown) => {
  const b = decodeBytes(s, 32)
  checkDHPublic(b)
  return b
}
const kemKey = (s: unknown) => {
  const b = decodeBytes(s, KEMPublicKeySize)
  checkKEMPublic(b)
  return b
}
const signature = (s: unknown) => decodeBytes(s, 64)

function obj(o: unknown, what: string): Record<string, unknown> {
  if (!o || typeof o !== 'object' || Array.isArray(o)) fail('invalid_message', `${what}: not an object`)
  return o as Record<string, unknown>
}

function str(o: Record<string, unknown>, k: string): string {
  const v = o[k]
  if (typeof v !== 'string') fail('invalid_message', `${k}: not a string`)
  return v
}

function u32(o: Record<string, unknown>, k: string): number {
  const v = o[k]
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) fail('invalid_message', `${k}: not a 32-bit number`)
  return v
}

export function identityToJSON(id: ClientIdentity): ClientIdentityJSON {
  return {
    user_id: id.userId, client_id: id.clientId, signing_key: base64(id.signingKey),
    identity_key: base64(id.identityKey), identity_sig: base64(id.identitySig),
  }
}

/** identityFromJSON decodes an identity, applying both keys' acceptance rules (not the signature: verifyIdentity). */
export function identityFromJSON(j: unknown): ClientIdentity {
  const o = obj(j, 'identity')
  return {
    userId: str(o, 'user_id'), clientId: str(o, 'client_id'), signingKey: signingKey(o.signing_key),
    identityKey: dhKey(o.identity_key), identitySig: signature(o.identity_sig),
  }
}

export function signedPrekeyToJSON(p: SignedPrekey | PQPrekey): PrekeyJSON {
  return { id: p.id, key: base64(p.key), sig: base64(p.sig) }
}

export function signedPrekeyFromJSON(j: unknown): SignedPrekey {
  const o = obj(j, 'signed prekey')
  return { id: u32(o, 'id'), key: dhKey(o.key), sig: signature(o.sig) }
}

export function pqPrekeyFromJSON(j: unknown): PQPrekey {
  const o = obj(j, 'PQ prekey')
  return { id: u32(o, 'id'), key: kemKey(o.key), sig: signature(o.sig) }
}

export function oneTimePrekeyToJSON(p: OneTimePrekey): OneTimePrekeyJSON {
  return { id: p.id, key: base64(p.key) }
}

export function oneTimePrekeyFromJSON(j: unknown): OneTimePrekey {
  const o = obj(j, 'one-time prekey')
  return { id: u32(o, 'id'), key: dhKey(o.key) }
}

export function bundleToJSON(b: Bundle): BundleJSON {
  const j: BundleJSON = { ...identityToJSON(b), signed_prekey: signedPrekeyToJSON(b.signedPrekey), pq_prekey: signedPrekeyToJSON(b.pqPrekey) }
  if (b.oneTimePrekey) j.one_time_prekey = oneTimePrekeyToJSON(b.oneTimePrekey)
  return j
}

/** bundleFromJSON decodes a bundle (keys checked); verifyBundle checks its signatures. A bundle without a PQ prekey is refused. */
export function bundleFromJSON(j: unknown): Bundle {
  const o = obj(j, 'bundle')
  const b: Bundle = { ...identityFromJSON(o), signedPrekey: signedPrekeyFromJSON(o.signed_prekey), pqPrekey: pqPrekeyFromJSON(o.pq_prekey) }
  if (o.one_time_prekey !== undefined && o.one_time_prekey !== null) b.oneTimePrekey = oneTimePrekeyFromJSON(o.one_time_prekey)
  return b
}

export function clientListToJSON(l: ClientList): ClientListJSON {
  return {
    user_id: l.userId, version: l.version, master_key: base64(l.masterKey),
    clients: l.clients.map((c) => ({ client_id: c.clientId, signing_key: base64(c.signingKey) })), sig: base64(l.sig),
  }
}

/** clientListFromJSON decodes a signed client list (keys checked); verifyClientList checks its shape and signature. */
export function clientListFromJSON(j: unknown): ClientList {
  const o = obj(j, 'client list')
  const v = o.version
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail('invalid_message', 'version')
  if (!Array.isArray(o.clients)) fail('invalid_message', 'clients: not an array')
  return {
    userId: str(o, 'user_id'), version: v, masterKey: signingKey(o.master_key),
    clients: o.clients.map((c: unknown) => {
      const e = obj(c, 'client list entry')
      return { clientId: str(e, 'client_id'), signingKey: signingKey(e.signing_key) }
    }),
    sig: signature(o.sig),
  }
}
