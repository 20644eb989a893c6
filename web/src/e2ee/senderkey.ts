// Sender keys for groups (docs/protocol.md "Sender keys"): one chain key
// ratcheted once per message and one Ed25519 key that signs every message,
// so one encryption serves every member and members, who all hold the
// chain key, cannot forge one another's messages.

import { checkSigningPublic, verifySignature } from './accept'
import {
  checkID,
  concat,
  context,
  equal,
  readHeader,
  Reader,
  readRand,
  TypeSenderKeyDistribution,
  TypeSenderKeyMessage,
  TypeSenderKeyRequest,
  u32,
  unixSeconds,
  utf8,
  Version,
  Writer,
  type RandomSource,
} from './bytes'
import { E2EEError, fail } from './errors'
import type { ClientIdentity, ClientKeys } from './identity'
import { kdfCK, labelSenderKeyMsg, messageAEAD, pad, PadBlock, unpad } from './kdf'
import { SigningKey } from './keys'
import { open, seal, SignatureSize } from './primitives'
import { readStateHeader, SkippedKeyMaxAge, StateInboundSenderKey, StateSenderKey, StateVersion } from './session'

export const labelSenderKeyAD = 'UnhidraSenderKey'
export const labelSenderKeySig = 'UnhidraSenderKeySig'
export const labelSenderKeyCert = 'UnhidraSenderKeyCert'

/** MaxSenderKeySkip is the most iterations one group message may skip. */
export const MaxSenderKeySkip = 1000
/** MaxSenderKeySkipped is the most skipped keys an inbound sender key keeps (oldest deleted first). */
export const MaxSenderKeySkipped = 2000
/** A sender key is due for rotation after 7 days (in seconds) or 10,000 messages, and on every membership loss. */
export const SenderKeyMaxAge = 7 * 24 * 3600
export const SenderKeyMaxMessages = 10000

const MaxU32 = 0xffffffff
const headerSize = 2 + 4 + 4

function senderKeyCertBytes(group: string, user: string, client: string, chainId: number, pub: Uint8Array): Uint8Array {
  return context(labelSenderKeyCert, utf8(group), utf8(user), utf8(client), u32(chainId), pub)
}

function senderKeyAD(group: string, user: string, client: string, pub: Uint8Array, header: Uint8Array): Uint8Array {
  return concat(context(labelSenderKeyAD, utf8(group), utf8(user), utf8(client), pub), header)
}

function senderKeySigBytes(group: string, user: string, client: string, signed: Uint8Array): Uint8Array {
  return context(labelSenderKeySig, utf8(group), utf8(user), utf8(client), signed)
}

/** SenderKeyDistribution carries a sender key to a member, always inside a pairwise session. */
export interface SenderKeyDistribution {
  groupId: string
  userId: string
  clientId: string
  chainId: number
  iteration: number
  chainKey: Uint8Array
  signingKey: Uint8Array
  cert: Uint8Array
}

export function marshalSenderKeyDistribution(d: SenderKeyDistribution): Uint8Array {
  return new Writer().u8(Version).u8(TypeSenderKeyDistribution).str8(d.groupId).str8(d.userId).str8(d.clientId)
    .u32(d.chainId).u32(d.iteration).raw(d.chainKey).raw(d.signingKey).raw(d.cert).bytes()
}

export function parseSenderKeyDistribution(b: Uint8Array): SenderKeyDistribution {
  const r = new Reader(b)
  readHeader(r, TypeSenderKeyDistribution)
  const groupId = r.id()
  const userId = r.id()
  const clientId = r.id()
  const chainId = r.u32()
  const iteration = r.u32()
  const d = { groupId, userId, clientId, chainId, iteration, chainKey: r.take(32), signingKey: r.take(32), cert: r.take(64) }
  r.done()
  return d
}

/**
 * verifySenderKeyDistribution checks that the distribution is the
 * sender's: its ids are the identity's and the identity's signing key made
 * the certificate. A forwarded distribution (one's own client, the key
 * backup) is checked against the sender's identity from the directory.
 */
export function verifySenderKeyDistribution(d: SenderKeyDistribution, sender: ClientIdentity): void {
  if (d.userId !== sender.userId || d.clientId !== sender.clientId) fail('bad_signature', 'sender key of another client')
  checkID(d.groupId)
  checkSigningPublic(d.signingKey)
  try {
    verifySignature(sender.signingKey, senderKeyCertBytes(d.groupId, d.userId, d.clientId, d.chainId, d.signingKey), d.cert)
  } catch (e) {
    if (e instanceof E2EEError) fail('bad_signature', `sender key certificate: ${e.message}`)
    throw e
  }
}

/** SenderKeyRequest asks a sender (or one's own other clients) for a sender key from an iteration on. */
export interface SenderKeyRequest {
  groupId: string
  userId: string
  clientId: string
  chainId: number
  iteration: number
}

export function marshalSenderKeyRequest(q: SenderKeyRequest): Uint8Array {
  return new Writer().u8(Version).u8(TypeSenderKeyRequest).str8(q.groupId).str8(q.userId).str8(q.clientId)
    .u32(q.chainId).u32(q.iteration).bytes()
}

export function parseSenderKeyRequest(b: Uint8Array): SenderKeyRequest {
  const r = new Reader(b)
  readHeader(r, TypeSenderKeyRequest)
  const groupId = r.id()
  const userId = r.id()
  const clientId = r.id()
  const q = { groupId, userId, clientId, chainId: r.u32(), iteration: r.u32() }
  r.done()
  return q
}

/** SenderKeyMessageInfo is the routing part of a group message: which chain, which iteration. */
export interface SenderKeyMessageInfo {
  chainId: number
  iteration: number
}

interface ParsedSenderKeyMessage extends SenderKeyMessageInfo {
  signed: Uint8Array
  ciphertext: Uint8Array
  sig: Uint8Array
}

function parseSenderKeyMessageFull(b: Uint8Array): ParsedSenderKeyMessage {
  const r = new Reader(b)
  readHeader(r, TypeSenderKeyMessage)
  const chainId = r.u32()
  const iteration = r.u32()
  const rest = r.rest()
  if (rest.length < PadBlock + 16 + SignatureSize) fail('invalid_message', 'sender key message too short')
  if (iteration === MaxU32) fail('invalid_message', 'iteration out of range')
  return {
    chainId, iteration,
    ciphertext: rest.slice(0, rest.length - SignatureSize),
    sig: rest.slice(rest.length - SignatureSize),
    signed: b.slice(0, b.length - SignatureSize),
  }
}

/** parseSenderKeyMessage decodes a group message's layout, so the caller can find the inbound key. */
export function parseSenderKeyMessage(b: Uint8Array): SenderKeyMessageInfo {
  const m = parseSenderKeyMessageFull(b)
  return { chainId: m.chainId, iteration: m.iteration }
}

/**
 * SenderKey is a client's outbound key for one group. It keeps its chain
 * key at iteration 0 so it can answer a member's key request for any
 * message of the chain; rotation bounds that window.
 */
export class SenderKey {
  private constructor(
    readonly groupId: string,
    readonly userId: string,
    readonly clientId: string,
    private chain: number,
    private readonly baseCK: Uint8Array,
    private iter: number,
    private ck: Uint8Array,
    private readonly signing: SigningKey,
    private cert: Uint8Array,
    /** Unix seconds. */
    readonly created: number,
    private gen: number,
  ) {}

  /**
   * create makes a new sender key of the client for the group. rand
   * supplies 4 bytes of chain id, the 32-byte chain key and the 32-byte
   * signing seed, in that order. now is Unix seconds.
   */
  static create(owner: ClientKeys, groupId: string, now: number, rand?: RandomSource): SenderKey {
    now = unixSeconds(now)
    checkID(groupId)
    const b = readRand(rand, 4 + 32)
    const signing = new SigningKey(readRand(rand, 32))
    const chainId = new DataView(b.buffer, b.byteOffset).getUint32(0)
    const ck = b.slice(4)
    const cert = owner.signing.sign(senderKeyCertBytes(groupId, owner.userId, owner.clientId, chainId, signing.publicKey))
    return new SenderKey(groupId, owner.userId, owner.clientId, chainId, ck, 0, ck, signing, cert, now, 0)
  }

  /** rotate makes the key that replaces this one, with another chain id; distribute it to the current members only. */
  rotate(owner: ClientKeys, now: number, rand?: RandomSource): SenderKey {
    const n = SenderKey.create(owner, this.groupId, now, rand)
    if (n.chain === this.chain) {
      n.chain = (n.chain + 1) >>> 0
      n.cert = owner.signing.sign(senderKeyCertBytes(n.groupId, n.userId, n.clientId, n.chain, n.signing.publicKey))
    }
    return n
  }

  get chainId(): number {
    return this.chain
  }

  /** iteration is the next message's. */
  get iteration(): number {
    return this.iter
  }

  get generation(): number {
    return this.gen
  }

  /** needsRotation: older than 7 days or 10,000 messages sent (now in Unix seconds). */
  needsRotation(now: number): boolean {
    now = unixSeconds(now)
    return now - this.created >= SenderKeyMaxAge || this.iter >= SenderKeyMaxMessages
  }

  /** distribution is the key as members receive it: from the next message on. */
  distribution(): SenderKeyDistribution {
    return this.distributionAt(this.iter)
  }

  /** distributionAt is the key from an iteration on, for a member who asks for it (SenderKeyRequest). */
  distributionAt(iteration: number): SenderKeyDistribution {
    if (!Number.isInteger(iteration) || iteration < 0 || iteration > this.iter) fail('invalid_message', `iteration ${iteration} not reached`)
    let ck = this.baseCK
    for (let i = 0; i < iteration; i++) ck = kdfCK(ck)[0]
    return {
      groupId: this.groupId, userId: this.userId, clientId: this.clientId, chainId: this.chain, iteration,
      chainKey: ck, signingKey: this.signing.publicKey.slice(), cert: this.cert.slice(),
    }
  }

  /** encrypt encrypts one group message: a SenderKeyMessage every member decrypts with the same key. */
  encrypt(plaintext: Uint8Array): Uint8Array {
    if (this.iter === MaxU32) fail('exhausted', 'sender key')
    const [next, mk] = kdfCK(this.ck)
    const header = new Writer().u8(Version).u8(TypeSenderKeyMessage).u32(this.chain).u32(this.iter).bytes()
    const { key, nonce } = messageAEAD(mk, labelSenderKeyMsg)
    const signed = concat(header, seal(key, nonce, pad(plaintext), senderKeyAD(this.groupId, this.userId, this.clientId, this.signing.publicKey, header)))
    const sig = this.signing.sign(senderKeySigBytes(this.groupId, this.userId, this.clientId, signed))
    this.ck = next
    this.iter++
    this.gen++
    return concat(signed, sig)
  }

  /** toBytes encodes the state (Go's SenderKey.MarshalBinary layout); it holds secret keys. */
  toBytes(): Uint8Array {
    return new Writer().u8(StateVersion).u8(StateSenderKey).u64(this.gen).str8(this.groupId).str8(this.userId).str8(this.clientId)
      .u32(this.chain).raw(this.baseCK).u32(this.iter).raw(this.ck).raw(this.signing.seed()).raw(this.cert).u64(this.created).bytes()
  }

  static fromBytes(b: Uint8Array): SenderKey {
    const r = new Reader(b)
    readStateHeader(r, StateSenderKey)
    const gen = r.u64()
    const groupId = r.id()
    const userId = r.id()
    const clientId = r.id()
    const chain = r.u32()
    const baseCK = r.take(32)
    const iter = r.u32()
    const ck = r.take(32)
    const seed = r.take(32)
    const cert = r.take(64)
    const created = r.u64()
    r.done()
    return new SenderKey(groupId, userId, clientId, chain, baseCK, iter, ck, new SigningKey(seed), cert, created, gen)
  }
}

interface SenderSkipped {
  iteration: number
  mk: Uint8Array
  stored: number
}

interface InboundState {
  baseIteration: number
  baseCK: Uint8Array
  iteration: number
  ck: Uint8Array
  skipped: SenderSkipped[]
  generation: number
}

/** InboundSenderKey is a member's copy of another client's sender key. */
export class InboundSenderKey {
  private st: InboundState

  private constructor(
    readonly groupId: string,
    readonly userId: string,
    readonly clientId: string,
    readonly chainId: number,
    private readonly signingKey: Uint8Array,
    private readonly cert: Uint8Array,
    st: InboundState,
  ) {
    this.st = st
  }

  /** accept verifies a distribution against the sender's identity and makes the member's copy. */
  static accept(d: SenderKeyDistribution, sender: ClientIdentity): InboundSenderKey {
    verifySenderKeyDistribution(d, sender)
    return new InboundSenderKey(d.groupId, d.userId, d.clientId, d.chainId, d.signingKey.slice(), d.cert.slice(), {
      baseIteration: d.iteration, baseCK: d.chainKey.slice(), iteration: d.iteration, ck: d.chainKey.slice(), skipped: [], generation: 0,
    })
  }

  /** firstIteration is the earliest message this copy can open. */
  get firstIteration(): number {
    return this.st.baseIteration
  }

  get generation(): number {
    return this.st.generation
  }

  get skippedKeys(): number {
    return this.st.skipped.length
  }

  /**
   * decrypt verifies and decrypts a group message of this chain. A message
   * of another chain, or from before firstIteration, is `wrong_session`
   * (ask for the key with a SenderKeyRequest); a replay is `duplicate`.
   */
  decrypt(msg: Uint8Array, now: number): Uint8Array {
    now = unixSeconds(now)
    const m = parseSenderKeyMessageFull(msg)
    if (m.chainId !== this.chainId) fail('wrong_session', `sender key chain ${m.chainId}, have ${this.chainId}`)
    try {
      verifySignature(this.signingKey, senderKeySigBytes(this.groupId, this.userId, this.clientId, m.signed), m.sig)
    } catch (e) {
      if (e instanceof E2EEError) fail('decrypt', `group message signature: ${e.message}`)
      throw e
    }
    const c: InboundState = { ...this.st, skipped: this.st.skipped.slice() }
    const limit = now - SkippedKeyMaxAge
    c.skipped = c.skipped.filter((s) => s.stored >= limit)
    let mk: Uint8Array
    if (m.iteration < c.baseIteration && !c.skipped.some((s) => s.iteration === m.iteration)) {
      fail('wrong_session', `iteration ${m.iteration} is before the key held (${c.baseIteration}): request it`)
    }
    if (m.iteration < c.iteration) {
      const i = c.skipped.findIndex((s) => s.iteration === m.iteration)
      if (i < 0) fail('duplicate', `iteration ${m.iteration}`)
      mk = c.skipped[i]!.mk
      c.skipped.splice(i, 1)
    } else {
      if (m.iteration - c.iteration > MaxSenderKeySkip) fail('too_many_skipped', `${m.iteration - c.iteration} iterations`)
      while (c.iteration < m.iteration) {
        let smk: Uint8Array
        ;[c.ck, smk] = kdfCK(c.ck)
        c.skipped.push({ iteration: c.iteration, mk: smk, stored: now })
        c.iteration++
      }
      ;[c.ck, mk] = kdfCK(c.ck)
      c.iteration++
      trim(c)
    }
    const { key, nonce } = messageAEAD(mk, labelSenderKeyMsg)
    const ad = senderKeyAD(this.groupId, this.userId, this.clientId, this.signingKey, m.signed.subarray(0, headerSize))
    const pt = unpad(open(key, nonce, m.ciphertext, ad))
    c.generation++
    this.st = c
    return pt
  }

  /**
   * merge extends the copy back to an earlier iteration with a
   * distribution of the same chain (the answer to a key request); the
   * distribution must lead to the chain key already held.
   */
  merge(d: SenderKeyDistribution, now: number): void {
    now = unixSeconds(now)
    if (d.groupId !== this.groupId || d.userId !== this.userId || d.clientId !== this.clientId || d.chainId !== this.chainId ||
      !equal(d.signingKey, this.signingKey) || !equal(d.cert, this.cert)) {
      fail('wrong_session', 'distribution of another chain')
    }
    const k = this.st
    if (d.iteration >= k.baseIteration) return
    if (k.baseIteration - d.iteration > MaxSenderKeySkipped) fail('too_many_skipped', `${k.baseIteration - d.iteration} iterations`)
    let ck = d.chainKey
    const added: SenderSkipped[] = []
    for (let i = d.iteration; i < k.baseIteration; i++) {
      let mk: Uint8Array
      ;[ck, mk] = kdfCK(ck)
      added.push({ iteration: i, mk, stored: now })
    }
    if (!equal(ck, k.baseCK)) fail('decrypt', 'distribution does not lead to the chain key held')
    const c: InboundState = { ...k, skipped: added.concat(k.skipped), baseIteration: d.iteration, baseCK: d.chainKey.slice() }
    trim(c)
    c.generation++
    this.st = c
  }

  /**
   * export returns the chain from an iteration on, for one's own other
   * clients or the key backup, clamped to what this copy holds.
   */
  export(iteration: number): SenderKeyDistribution {
    const k = this.st
    const it = Math.min(Math.max(iteration, k.baseIteration), k.iteration)
    let ck = k.baseCK
    for (let i = k.baseIteration; i < it; i++) ck = kdfCK(ck)[0]
    return {
      groupId: this.groupId, userId: this.userId, clientId: this.clientId, chainId: this.chainId, iteration: it,
      chainKey: ck, signingKey: this.signingKey.slice(), cert: this.cert.slice(),
    }
  }

  /** toBytes encodes the state (Go's InboundSenderKey.MarshalBinary layout); it holds secret keys. */
  toBytes(): Uint8Array {
    const k = this.st
    const w = new Writer().u8(StateVersion).u8(StateInboundSenderKey).u64(k.generation).str8(this.groupId).str8(this.userId)
      .str8(this.clientId).u32(this.chainId).raw(this.signingKey).raw(this.cert).u32(k.baseIteration).raw(k.baseCK)
      .u32(k.iteration).raw(k.ck).u16(k.skipped.length)
    for (const s of k.skipped) w.u32(s.iteration).raw(s.mk).u64(s.stored)
    return w.bytes()
  }

  static fromBytes(b: Uint8Array): InboundSenderKey {
    const r = new Reader(b)
    readStateHeader(r, StateInboundSenderKey)
    const generation = r.u64()
    const groupId = r.id()
    const userId = r.id()
    const clientId = r.id()
    const chainId = r.u32()
    const signingKey = r.take(32)
    const cert = r.take(64)
    const baseIteration = r.u32()
    const baseCK = r.take(32)
    const iteration = r.u32()
    const ck = r.take(32)
    const n = r.u16()
    if (n > MaxSenderKeySkipped) fail('invalid_message', 'too many skipped keys')
    const skipped: SenderSkipped[] = []
    for (let i = 0; i < n; i++) skipped.push({ iteration: r.u32(), mk: r.take(32), stored: r.u64() })
    r.done()
    if (iteration < baseIteration) fail('invalid_message', 'iteration before base')
    return new InboundSenderKey(groupId, userId, clientId, chainId, signingKey, cert, { baseIteration, baseCK, iteration, ck, skipped, generation })
  }
}

function trim(k: InboundState): void {
  const over = k.skipped.length - MaxSenderKeySkipped
  if (over > 0) k.skipped.splice(0, over)
}
