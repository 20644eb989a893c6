// Safety numbers, client fingerprints and their QR payloads
// (docs/protocol.md "Safety numbers and QR codes").

import { checkSigningPublic } from './accept'
import { checkID, compareIDs, context, equal, Reader, utf8, Version, Writer } from './bytes'
import { fail } from './errors'
import type { ClientIdentity } from './identity'
import { sha512 } from './primitives'

export const labelSafetyNumber = 'UnhidraSafetyNumber'
export const labelClientCode = 'UnhidraClientFingerprint'

/** SafetyNumberIterations raise the cost of searching for keys whose number collides with someone's. */
export const SafetyNumberIterations = 5200

/** UserKeys are a user's keys as this client knows them: the master key and the clients of the verified client list. */
export interface UserKeys {
  userId: string
  masterKey: Uint8Array
  clients: ClientIdentity[]
}

/** fingerprint: d = SHA-512(context), then h = SHA-512(h || d) 5,200 times from an empty h. */
function fingerprint(label: string, fields: Uint8Array[]): Uint8Array {
  const d = sha512(context(label, ...fields))
  const buf = new Uint8Array(128)
  buf.set(d, 64)
  let h = sha512(d)
  for (let i = 1; i < SafetyNumberIterations; i++) {
    buf.set(h, 0)
    h = sha512(buf)
  }
  return h
}

function userFingerprint(u: UserKeys): Uint8Array {
  checkID(u.userId)
  checkSigningPublic(u.masterKey)
  const clients = u.clients.slice().sort((a, b) => compareIDs(a.clientId, b.clientId))
  const fields: Uint8Array[] = [new Uint8Array([0, 1]), utf8(u.userId), u.masterKey]
  clients.forEach((c, i) => {
    if (c.userId !== u.userId || (i > 0 && clients[i - 1]!.clientId === c.clientId)) fail('invalid_message', `client list of ${u.userId}`)
    fields.push(utf8(c.clientId), c.signingKey, c.identityKey)
  })
  return fingerprint(labelSafetyNumber, fields)
}

/** digits30: six 5-byte big-endian numbers of h, each mod 100,000, as 5 digits. */
function digits30(h: Uint8Array): string {
  let s = ''
  for (let i = 0; i < 6; i++) {
    let v = 0
    for (let j = 0; j < 5; j++) v = v * 256 + h[5 * i + j]!
    s += String(v % 100000).padStart(5, '0')
  }
  return s
}

/**
 * safetyNumber is the 60-digit code two users compare: the 30 digits of
 * the user whose id sorts first (UTF-8 byte order), then the other's. Show
 * it as 12 groups of 5.
 */
export function safetyNumber(a: UserKeys, b: UserKeys): string {
  if (a.userId === b.userId) fail('invalid_message', 'a safety number needs two users')
  let fa = userFingerprint(a)
  let fb = userFingerprint(b)
  if (compareIDs(a.userId, b.userId) > 0) [fa, fb] = [fb, fa]
  return digits30(fa) + digits30(fb)
}

const qrSafety = 0x01
const qrClient = 0x02

/** safetyQR is the payload the local user shows: its id and first 32 fingerprint bytes, then the remote's. */
export function safetyQR(local: UserKeys, remote: UserKeys): Uint8Array {
  if (local.userId === remote.userId) fail('invalid_message', 'a safety number needs two users')
  const fl = userFingerprint(local)
  const fr = userFingerprint(remote)
  return new Writer().u8(Version).u8(qrSafety).str8(local.userId).raw(fl.subarray(0, 32)).str8(remote.userId).raw(fr.subarray(0, 32)).bytes()
}

/**
 * verifySafetyQR checks a payload scanned from the remote user's screen:
 * the remote's fingerprint first, the local's second, both as this client
 * computes them; `mismatch` means the clients see different keys.
 */
export function verifySafetyQR(payload: Uint8Array, local: UserKeys, remote: UserKeys): void {
  const r = new Reader(payload)
  const v = r.u8()
  const kind = r.u8()
  const shownBy = r.id()
  const fShown = r.take(32)
  const scanner = r.id()
  const fScanner = r.take(32)
  r.done()
  if (v !== Version || kind !== qrSafety) fail('unsupported_version', `QR payload ${v}/${kind}`)
  const fl = userFingerprint(local)
  const fr = userFingerprint(remote)
  if (shownBy !== remote.userId || scanner !== local.userId || !equal(fShown, fr.subarray(0, 32)) || !equal(fScanner, fl.subarray(0, 32))) {
    fail('mismatch', 'safety number QR code')
  }
}

/** clientFingerprint is the 30-digit code of one client's keys, for verifying one's own new client. */
export function clientFingerprint(id: Omit<ClientIdentity, 'identitySig'>): string {
  return digits30(fingerprint(labelClientCode, [new Uint8Array([0, 1]), utf8(id.userId), utf8(id.clientId), id.signingKey, id.identityKey]))
}

/** ClientQR is the QR payload of a client's keys and of the master key it knows (all zero if none). */
export interface ClientQR {
  userId: string
  clientId: string
  signingKey: Uint8Array
  identityKey: Uint8Array
  masterKey: Uint8Array
}

export function marshalClientQR(q: ClientQR): Uint8Array {
  return new Writer().u8(Version).u8(qrClient).str8(q.userId).str8(q.clientId).raw(q.signingKey).raw(q.identityKey).raw(q.masterKey).bytes()
}

export function parseClientQR(b: Uint8Array): ClientQR {
  const r = new Reader(b)
  const v = r.u8()
  const kind = r.u8()
  const userId = r.id()
  const clientId = r.id()
  const q = { userId, clientId, signingKey: r.take(32), identityKey: r.take(32), masterKey: r.take(32) }
  r.done()
  if (v !== Version || kind !== qrClient) fail('unsupported_version', `QR payload ${v}/${kind}`)
  return q
}

/** clientQRMatches: the scanned payload names exactly the identity and master key; anything else is `mismatch`. */
export function clientQRMatches(q: ClientQR, id: ClientIdentity, masterKey: Uint8Array): void {
  if (q.userId !== id.userId || q.clientId !== id.clientId || !equal(q.signingKey, id.signingKey) ||
    !equal(q.identityKey, id.identityKey) || !equal(q.masterKey, masterKey)) {
    fail('mismatch', 'client QR code')
  }
}
