// Identities and cross-signing (docs/protocol.md "Identities and
// cross-signing"): a client's signing and identity keys bound to its ids by
// the identity signature, and the user's client list signed by the master
// key, so a client the server added alone shows as unverified.

import { checkDHPublic, checkSigningPublic, verifySignature } from './accept'
import { checkID, compareIDs, context, equal, Reader, u64, utf8, Writer, type RandomSource } from './bytes'
import { E2EEError, fail } from './errors'
import { DHKey, SigningKey } from './keys'

export const labelIdentity = 'UnhidraIdentity'
export const labelClientList = 'UnhidraClientList'

/** ClientIdentity is the public identity of one client install, as the key directory publishes it. */
export interface ClientIdentity {
  userId: string
  clientId: string
  /** Ed25519 public key (32 bytes). */
  signingKey: Uint8Array
  /** X25519 public key (32 bytes). */
  identityKey: Uint8Array
  /** Ed25519 signature (64 bytes) over context("UnhidraIdentity", user_id, client_id, SK, IK). */
  identitySig: Uint8Array
}

export function identitySignedBytes(id: Omit<ClientIdentity, 'identitySig'>): Uint8Array {
  return context(labelIdentity, utf8(id.userId), utf8(id.clientId), id.signingKey, id.identityKey)
}

/**
 * verifyIdentity checks the ids, both keys' acceptance rules and the
 * identity signature. Whether the client is the user's is the client
 * list's business (verifyClientList, clientListContains).
 */
export function verifyIdentity(id: ClientIdentity): void {
  checkID(id.userId)
  checkID(id.clientId)
  checkDHPublic(id.identityKey)
  try {
    verifySignature(id.signingKey, identitySignedBytes(id), id.identitySig)
  } catch (e) {
    if (e instanceof E2EEError) fail('bad_signature', `identity signature of ${id.userId}/${id.clientId}: ${e.message}`)
    throw e
  }
}

/** identitiesEqual: the same ids and keys (the signature is implied by them). */
export function identitiesEqual(a: ClientIdentity, b: ClientIdentity): boolean {
  return a.userId === b.userId && a.clientId === b.clientId && equal(a.signingKey, b.signingKey) && equal(a.identityKey, b.identityKey)
}

export function writeIdentity(w: Writer, id: ClientIdentity): void {
  w.str8(id.userId).str8(id.clientId).raw(id.signingKey).raw(id.identityKey).raw(id.identitySig)
}

export function readIdentity(r: Reader): ClientIdentity {
  const userId = r.id()
  const clientId = r.id()
  return { userId, clientId, signingKey: r.take(32), identityKey: r.take(32), identitySig: r.take(64) }
}

/** ClientKeys are the long-term private keys of one client install. */
export class ClientKeys {
  private cached: ClientIdentity | undefined

  constructor(
    readonly userId: string,
    readonly clientId: string,
    readonly signing: SigningKey,
    readonly identity: DHKey,
  ) {
    checkID(userId)
    checkID(clientId)
  }

  /** generate reads the 32-byte signing seed, then the 32-byte identity key. */
  static generate(rand: RandomSource | undefined, userId: string, clientId: string): ClientKeys {
    checkID(userId)
    checkID(clientId)
    const signing = SigningKey.generate(rand)
    const identity = DHKey.generate(rand)
    return new ClientKeys(userId, clientId, signing, identity)
  }

  /** public is the identity as published, with its identity signature (deterministic). */
  public(): ClientIdentity {
    if (!this.cached) {
      const id = { userId: this.userId, clientId: this.clientId, signingKey: this.signing.publicKey, identityKey: this.identity.publicKey }
      this.cached = { ...id, identitySig: this.signing.sign(identitySignedBytes(id)) }
    }
    const c = this.cached
    return { ...c, signingKey: c.signingKey.slice(), identityKey: c.identityKey.slice(), identitySig: c.identitySig.slice() }
  }

  /** toBytes encodes the private keys for the client's own storage (Go's ClientKeys.MarshalBinary). */
  toBytes(): Uint8Array {
    return new Writer().u8(1).str8(this.userId).str8(this.clientId).raw(this.signing.seed()).raw(this.identity.bytes()).bytes()
  }

  static fromBytes(b: Uint8Array): ClientKeys {
    const r = new Reader(b)
    const v = r.u8()
    if (v !== 1) fail('unsupported_version', `client keys version ${v}`)
    const userId = r.id()
    const clientId = r.id()
    const seed = r.take(32)
    const ik = r.take(32)
    r.done()
    return new ClientKeys(userId, clientId, new SigningKey(seed), new DHKey(ik))
  }
}

/** MaxClients bounds a client list. */
export const MaxClients = 1000

/** ClientListEntry names one client by id and signing key. */
export interface ClientListEntry {
  clientId: string
  signingKey: Uint8Array
}

/**
 * ClientList is a user's client installs signed by the user's master key.
 * The version grows with every new list; a verifier refuses one below the
 * highest it has seen (the server replaying an old list).
 */
export interface ClientList {
  userId: string
  version: number
  masterKey: Uint8Array
  clients: ClientListEntry[]
  sig: Uint8Array
}

function clientListSignedBytes(l: Omit<ClientList, 'sig'>): Uint8Array {
  const fields: Uint8Array[] = [utf8(l.userId), u64(l.version), l.masterKey]
  for (const c of l.clients) fields.push(utf8(c.clientId), c.signingKey)
  return context(labelClientList, ...fields)
}

function checkVersion(v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) fail('invalid_message', 'client list version')
}

function checkEntries(clients: ClientListEntry[]): void {
  if (clients.length > MaxClients) fail('invalid_message', `more than ${MaxClients} clients`)
  clients.forEach((c, i) => {
    checkID(c.clientId)
    if (i > 0 && compareIDs(clients[i - 1]!.clientId, c.clientId) >= 0) {
      fail('invalid_message', 'client list not in strictly ascending client id order')
    }
    checkSigningPublic(c.signingKey)
  })
}

/** signClientList signs a client list; entries are sorted by client id (UTF-8 byte order), duplicates refused. */
export function signClientList(master: SigningKey, userId: string, version: number, clients: ClientListEntry[]): ClientList {
  checkID(userId)
  checkVersion(version)
  const sorted = clients.map((c) => ({ clientId: c.clientId, signingKey: c.signingKey.slice() }))
  sorted.sort((a, b) => compareIDs(a.clientId, b.clientId))
  checkEntries(sorted)
  const l = { userId, version, masterKey: master.publicKey.slice(), clients: sorted }
  return { ...l, sig: master.sign(clientListSignedBytes(l)) }
}

/**
 * verifyClientList checks the list's shape and its signature by its own
 * master key. The caller compares masterKey with the one it trusts for the
 * user and version with the highest it has seen.
 */
export function verifyClientList(l: ClientList): void {
  checkID(l.userId)
  checkVersion(l.version)
  checkEntries(l.clients)
  try {
    verifySignature(l.masterKey, clientListSignedBytes(l), l.sig)
  } catch (e) {
    if (e instanceof E2EEError) fail('bad_signature', `client list of ${l.userId}: ${e.message}`)
    throw e
  }
}

/** clientListContains: the list vouches for the identity (same user, an entry with its client id and signing key). */
export function clientListContains(l: ClientList, id: ClientIdentity): boolean {
  if (id.userId !== l.userId) return false
  const e = l.clients.find((c) => c.clientId === id.clientId)
  return e !== undefined && equal(e.signingKey, id.signingKey)
}
