// The hybrid handshake (X3DH plus one ML-KEM-768 encapsulation, in the
// style of PQXDH) and the Double Ratchet over ChaCha20-Poly1305
// (docs/protocol.md "Handshake", "Double Ratchet").
//
// A Session changes only when an operation succeeds: encrypt and decrypt
// work on a copy and replace the state with it at the end, so a tampered,
// replayed or undecodable message leaves it as it was. Its state encodes
// (toBytes) in the same layout as the Go implementation's
// Session.MarshalBinary, versioned, with a generation counter that grows
// with every change: the caller saves it atomically before sending what
// encrypt returned or showing what decrypt returned, and never writes a
// lower generation over a higher one.

import {
  concat,
  context,
  equal,
  messageType,
  readHeader,
  Reader,
  readRand,
  TypeMessage,
  TypePrekeyMessage,
  u32,
  unixSeconds,
  utf8,
  Version,
  Writer,
  type RandomSource,
} from './bytes'
import { fail } from './errors'
import { identitiesEqual, readIdentity, verifyIdentity, writeIdentity, type ClientIdentity, type ClientKeys } from './identity'
import { kdfCK, kdfRK, labelHandshake, labelMessageKey, labelTranscript, messageAEAD, pad, PadBlock, unpad } from './kdf'
import { DHKey, type KEMKey } from './keys'
import { verifyBundle, type Bundle } from './prekey'
import { hkdfSHA256, KEMCiphertextSize, KeySize, mlkemEncapsulate, open, seal, sha256 } from './primitives'

/** MaxSkip is the most message keys one message may make a receiving chain skip. */
export const MaxSkip = 1000
/** MaxSkippedKeys is the most skipped message keys a session keeps (oldest deleted first). */
export const MaxSkippedKeys = 2000
/** SkippedKeyMaxAge is how long a skipped message key is kept, in seconds (30 days). */
export const SkippedKeyMaxAge = 30 * 24 * 3600
/** How many earlier remote ratchet keys a session remembers, to report their replays as duplicates. */
export const MaxPreviousChains = 8

const MaxU32 = 0xffffffff
const flagOneTimePrekey = 0x01
export const MessageHeaderSize = 2 + 32 + 4 + 4

/** PrekeyMessage opens a session: the handshake fields around the first ratchet message(s). */
export interface PrekeyMessage {
  sender: ClientIdentity
  signedPrekeyId: number
  hasOneTimePrekey: boolean
  oneTimePrekeyId: number
  pqPrekeyId: number
  /** The initiator's ephemeral X25519 key, which names the session. */
  baseKey: Uint8Array
  kemCiphertext: Uint8Array
  /** The enclosed Double Ratchet message (type 0x01). */
  message: Uint8Array
}

export function marshalPrekeyMessage(m: PrekeyMessage): Uint8Array {
  const w = new Writer().u8(Version).u8(TypePrekeyMessage).u8(m.hasOneTimePrekey ? flagOneTimePrekey : 0)
  writeIdentity(w, m.sender)
  w.u32(m.signedPrekeyId)
  if (m.hasOneTimePrekey) w.u32(m.oneTimePrekeyId)
  w.u32(m.pqPrekeyId).raw(m.baseKey).raw(m.kemCiphertext).raw(m.message)
  return w.bytes()
}

/** parsePrekeyMessage checks the layout only; respond checks keys and signatures. */
export function parsePrekeyMessage(b: Uint8Array): PrekeyMessage {
  const r = new Reader(b)
  readHeader(r, TypePrekeyMessage)
  const flags = r.u8()
  if ((flags & ~flagOneTimePrekey) !== 0) fail('invalid_message', 'reserved prekey message flags')
  const sender = readIdentity(r)
  const signedPrekeyId = r.u32()
  const hasOneTimePrekey = (flags & flagOneTimePrekey) !== 0
  const oneTimePrekeyId = hasOneTimePrekey ? r.u32() : 0
  const pqPrekeyId = r.u32()
  const baseKey = r.take(32)
  const kemCiphertext = r.take(KEMCiphertextSize)
  const message = r.rest()
  parseMessage(message)
  return { sender, signedPrekeyId, hasOneTimePrekey, oneTimePrekeyId, pqPrekeyId, baseKey, kemCiphertext, message }
}

/** ParsedMessage is a Double Ratchet message's fields. */
interface ParsedMessage {
  header: Uint8Array
  dh: Uint8Array
  pn: number
  n: number
  ciphertext: Uint8Array
}

/** parseRatchetMessage checks a Double Ratchet message's layout. */
export function parseRatchetMessage(b: Uint8Array): { dh: Uint8Array; pn: number; n: number } {
  const m = parseMessage(b)
  return { dh: m.dh, pn: m.pn, n: m.n }
}

function parseMessage(b: Uint8Array): ParsedMessage {
  const r = new Reader(b)
  readHeader(r, TypeMessage)
  const dh = r.take(32)
  const pn = r.u32()
  const n = r.u32()
  const ciphertext = r.rest()
  if (n === MaxU32) fail('invalid_message', 'message number out of range')
  if (ciphertext.length < PadBlock + 16) fail('invalid_message', 'ciphertext too short')
  return { header: b.slice(0, MessageHeaderSize), dh, pn, n, ciphertext }
}

/** Handshake is the material both sides hash into the transcript. */
export interface Handshake {
  initiator: ClientIdentity
  responder: ClientIdentity
  spkId: number
  spk: Uint8Array
  opk?: { id: number; key: Uint8Array } | undefined
  pqId: number
  pq: Uint8Array
  baseKey: Uint8Array
  kemCiphertext: Uint8Array
}

/** transcriptHash is th = SHA-256(context("UnhidraTranscript", …)), the session's associated data. */
export function transcriptHash(h: Handshake): Uint8Array {
  const a = h.initiator
  const b = h.responder
  const empty = new Uint8Array(0)
  return sha256(
    context(
      labelTranscript,
      new Uint8Array([Version]),
      utf8(a.userId), utf8(a.clientId), a.signingKey, a.identityKey,
      utf8(b.userId), utf8(b.clientId), b.signingKey, b.identityKey,
      u32(h.spkId), h.spk,
      h.opk ? u32(h.opk.id) : empty, h.opk ? h.opk.key : empty,
      u32(h.pqId), h.pq,
      h.baseKey, h.kemCiphertext,
    ),
  )
}

/** sharedKey is SK = HKDF(salt = 32 zero bytes, ikm = 32×0xFF || DH1 || DH2 || DH3 [|| DH4] || SS, info = context("UnhidraHandshake", th)). */
export function sharedKey(th: Uint8Array, dhs: Uint8Array[], ss: Uint8Array): Uint8Array {
  const ikm = concat(new Uint8Array(32).fill(0xff), ...dhs, ss)
  return hkdfSHA256(ikm, new Uint8Array(32), context(labelHandshake, th), 32)
}

interface Pending {
  spkId: number
  hasOPK: boolean
  opkId: number
  pqId: number
  kemCiphertext: Uint8Array
}

interface SkippedKey {
  dh: Uint8Array
  n: number
  mk: Uint8Array
  stored: number
}

/** SessionState is the whole state of a session; Uint8Arrays in it are never changed in place. */
export interface SessionState {
  local: ClientIdentity
  remote: ClientIdentity
  initiator: boolean
  /** The handshake transcript th, the associated data of every message. */
  ad: Uint8Array
  baseKey: Uint8Array
  dhs: DHKey
  dhr: Uint8Array
  hasDHr: boolean
  rk: Uint8Array
  cks: Uint8Array
  ckr: Uint8Array
  hasCKs: boolean
  hasCKr: boolean
  ns: number
  nr: number
  pn: number
  sendRatchet: boolean
  pending: Pending | undefined
  skipped: SkippedKey[]
  prevRemote: Uint8Array[]
  generation: number
}

const zero32 = new Uint8Array(32)

function cloneState(s: SessionState): SessionState {
  return { ...s, skipped: s.skipped.slice(), prevRemote: s.prevRemote.slice(), pending: s.pending ? { ...s.pending } : undefined }
}

/** State encodings start with the state version and a kind byte (Go's layout). */
export const StateVersion = 1
export const StateSession = 0x10
export const StateSenderKey = 0x11
export const StateInboundSenderKey = 0x12

export function readStateHeader(r: Reader, kind: number): void {
  const v = r.u8()
  const k = r.u8()
  if (v !== StateVersion) fail('unsupported_version', `state version ${v}`)
  if (k !== kind) fail('invalid_message', `state kind ${k}, want ${kind}`)
}

/**
 * Session is one Double Ratchet session between two client installs. It is
 * not safe for concurrent use (the browser guards each with a Web Lock).
 */
export class Session {
  private s: SessionState

  private constructor(s: SessionState) {
    this.s = s
  }

  /** local and remote identities; remote is authenticated by the handshake (check it against the user's client list). */
  get local(): ClientIdentity {
    return this.s.local
  }

  get remote(): ClientIdentity {
    return this.s.remote
  }

  get initiator(): boolean {
    return this.s.initiator
  }

  /** baseKey is the initiator's ephemeral key, which names the session. */
  get baseKey(): Uint8Array {
    return this.s.baseKey.slice()
  }

  /** transcript is the handshake transcript hash th. */
  get transcript(): Uint8Array {
    return this.s.ad.slice()
  }

  /** generation counts the session's changes; a store refuses to save a lower one over a higher. */
  get generation(): number {
    return this.s.generation
  }

  /** established: a message from the peer decrypted; until then encrypt returns PrekeyMessages. */
  get established(): boolean {
    return this.s.pending === undefined
  }

  get skippedKeys(): number {
    return this.s.skipped.length
  }

  /** inspect returns a copy of the state, for tests and diagnostics; it holds secret keys. */
  inspect(): SessionState {
    return cloneState(this.s)
  }

  /** @internal */
  static fromState(s: SessionState): Session {
    return new Session(s)
  }

  /**
   * encrypt encrypts one message. rand supplies the 32 bytes of a new
   * ratchet key when one is due (the first message after receiving a new
   * ratchet key). Until the session is established the result is a
   * PrekeyMessage, else a Message.
   */
  encrypt(plaintext: Uint8Array, rand?: RandomSource): Uint8Array {
    const c = cloneState(this.s)
    if (c.sendRatchet) {
      const k = new DHKey(readRand(rand, KeySize))
      const out = k.dh(c.dhr)
      c.dhs = k
      ;[c.rk, c.cks] = kdfRK(c.rk, out)
      c.hasCKs = true
      c.sendRatchet = false
    }
    if (!c.hasCKs) fail('invalid_message', 'no sending chain')
    if (c.ns === MaxU32) fail('exhausted', 'sending chain')
    let mk: Uint8Array
    ;[c.cks, mk] = kdfCK(c.cks)
    const header = new Writer().u8(Version).u8(TypeMessage).raw(c.dhs.publicKey).u32(c.pn).u32(c.ns).bytes()
    c.ns++
    const { key, nonce } = messageAEAD(mk, labelMessageKey)
    let msg = concat(header, seal(key, nonce, pad(plaintext), concat(c.ad, header)))
    const p = c.pending
    if (p) {
      msg = marshalPrekeyMessage({
        sender: c.local, signedPrekeyId: p.spkId, hasOneTimePrekey: p.hasOPK, oneTimePrekeyId: p.opkId,
        pqPrekeyId: p.pqId, baseKey: c.baseKey, kemCiphertext: p.kemCiphertext, message: msg,
      })
    }
    c.generation++
    this.s = c
    return msg
  }

  /**
   * decrypt decrypts a Message or a PrekeyMessage of this session (same
   * base key and sender; any other is `wrong_session`). A replay is
   * `duplicate`, a changed message `decrypt`; neither changes the session.
   * now (Unix seconds) stamps skipped keys and expires old ones.
   */
  decrypt(msg: Uint8Array, now: number): Uint8Array {
    now = unixSeconds(now)
    const t = messageType(msg)
    if (t === TypePrekeyMessage) {
      const pm = parsePrekeyMessage(msg)
      if (this.s.initiator || !equal(pm.baseKey, this.s.baseKey) || !identitiesEqual(pm.sender, this.s.remote)) {
        fail('wrong_session', 'prekey message of another session')
      }
      msg = pm.message
    }
    return this.decryptMessage(msg, now)
  }

  /** @internal the responder's first decryption, from respond. */
  decryptMessage(b: Uint8Array, now: number): Uint8Array {
    now = unixSeconds(now)
    const m = parseMessage(b)
    const c = cloneState(this.s)
    expire(c, now)
    const mk = messageKey(c, m, now)
    const { key, nonce } = messageAEAD(mk, labelMessageKey)
    const pt = unpad(open(key, nonce, m.ciphertext, concat(c.ad, m.header)))
    c.pending = undefined
    c.generation++
    this.s = c
    return pt
  }

  /** toBytes encodes the state (Go's Session.MarshalBinary layout, version 1). It holds secret keys. */
  toBytes(): Uint8Array {
    const s = this.s
    const w = new Writer().u8(StateVersion).u8(StateSession).u64(s.generation)
    const bits = [s.initiator, s.hasDHr, s.hasCKs, s.hasCKr, s.sendRatchet, s.pending !== undefined, s.pending?.hasOPK === true]
    let flags = 0
    bits.forEach((b, i) => {
      if (b) flags |= 1 << i
    })
    w.u8(flags)
    writeIdentity(w, s.local)
    writeIdentity(w, s.remote)
    w.raw(s.ad).raw(s.baseKey).raw(s.dhs.bytes()).raw(s.dhr).raw(s.rk).raw(s.cks).raw(s.ckr)
    w.u32(s.ns).u32(s.nr).u32(s.pn)
    if (s.pending) w.u32(s.pending.spkId).u32(s.pending.opkId).u32(s.pending.pqId).raw(s.pending.kemCiphertext)
    w.u16(s.skipped.length)
    for (const k of s.skipped) w.raw(k.dh).u32(k.n).raw(k.mk).u64(k.stored)
    w.u8(s.prevRemote.length)
    for (const k of s.prevRemote) w.raw(k)
    return w.bytes()
  }

  static fromBytes(b: Uint8Array): Session {
    const r = new Reader(b)
    readStateHeader(r, StateSession)
    const generation = r.u64()
    const flags = r.u8()
    if (flags >> 7 !== 0) fail('invalid_message', 'reserved state flags')
    const bit = (i: number) => (flags & (1 << i)) !== 0
    const local = readIdentity(r)
    const remote = readIdentity(r)
    const ad = r.take(32)
    const baseKey = r.take(32)
    const dhs = r.take(KeySize)
    const dhr = r.take(32)
    const rk = r.take(32)
    const cks = r.take(32)
    const ckr = r.take(32)
    const ns = r.u32()
    const nr = r.u32()
    const pn = r.u32()
    let pending: Pending | undefined
    if (bit(5)) {
      pending = { spkId: r.u32(), hasOPK: bit(6), opkId: r.u32(), pqId: r.u32(), kemCiphertext: r.take(KEMCiphertextSize) }
    } else if (bit(6)) {
      fail('invalid_message', 'state flags')
    }
    const n = r.u16()
    if (n > MaxSkippedKeys) fail('invalid_message', 'too many skipped keys')
    const skipped: SkippedKey[] = []
    for (let i = 0; i < n; i++) skipped.push({ dh: r.take(32), n: r.u32(), mk: r.take(32), stored: r.u64() })
    const np = r.u8()
    if (np > MaxPreviousChains) fail('invalid_message', 'too many previous chains')
    const prevRemote: Uint8Array[] = []
    for (let i = 0; i < np; i++) prevRemote.push(r.take(32))
    r.done()
    return new Session({
      local, remote, initiator: bit(0), ad, baseKey, dhs: new DHKey(dhs), dhr, hasDHr: bit(1), rk, cks, ckr,
      hasCKs: bit(2), hasCKr: bit(3), ns, nr, pn, sendRatchet: bit(4), pending, skipped, prevRemote, generation,
    })
  }
}

function expire(c: SessionState, now: number): void {
  const limit = now - SkippedKeyMaxAge
  c.skipped = c.skipped.filter((k) => k.stored >= limit)
}

/** messageKey finds or derives the message key of m, advancing c's chains. */
function messageKey(c: SessionState, m: ParsedMessage, now: number): Uint8Array {
  const i = c.skipped.findIndex((k) => k.n === m.n && equal(k.dh, m.dh))
  if (i >= 0) {
    const k = c.skipped[i]!
    c.skipped.splice(i, 1)
    return k.mk
  }
  if (!c.hasDHr || !equal(m.dh, c.dhr)) {
    if (c.prevRemote.some((k) => equal(k, m.dh))) fail('duplicate', 'message of an earlier chain')
    if (c.hasCKr) skipTo(c, m.pn, now)
    ratchet(c, m.dh)
  } else if (m.n < c.nr) {
    fail('duplicate', `message ${m.n} of the current chain`)
  }
  skipTo(c, m.n, now)
  let mk: Uint8Array
  ;[c.ckr, mk] = kdfCK(c.ckr)
  c.nr++
  return mk
}

/** ratchet is the receiving half of a DH ratchet step; the sending half happens at the next encrypt. */
function ratchet(c: SessionState, dh: Uint8Array): void {
  const out = c.dhs.dh(dh)
  if (c.hasDHr) {
    c.prevRemote.push(c.dhr)
    if (c.prevRemote.length > MaxPreviousChains) c.prevRemote.splice(0, c.prevRemote.length - MaxPreviousChains)
  }
  c.pn = c.ns
  c.ns = 0
  c.nr = 0
  c.dhr = dh
  c.hasDHr = true
  ;[c.rk, c.ckr] = kdfRK(c.rk, out)
  c.hasCKr = true
  c.hasCKs = false
  c.sendRatchet = true
}

/** skipTo stores the receiving chain's message keys up to (not including) until. */
function skipTo(c: SessionState, until: number, now: number): void {
  if (until > c.nr + MaxSkip) fail('too_many_skipped', `${until - c.nr} message keys`)
  while (c.nr < until) {
    let mk: Uint8Array
    ;[c.ckr, mk] = kdfCK(c.ckr)
    c.skipped.push({ dh: c.dhr, n: c.nr, mk, stored: now })
    c.nr++
  }
  const over = c.skipped.length - MaxSkippedKeys
  if (over > 0) c.skipped.splice(0, over)
}

/** Encapsulate is ML-KEM-768 encapsulation with its 32 bytes of randomness m read from rand. */
function encapsulate(pq: Uint8Array, rand: RandomSource | undefined): { ciphertext: Uint8Array; sharedSecret: Uint8Array } {
  return mlkemEncapsulate(pq, readRand(rand, 32))
}

/**
 * initiate starts a session with the client whose bundle was fetched from
 * the key directory. It verifies the bundle first; the caller must also
 * check the bundle's identity against the user's signed client list, or
 * show it as unverified. rand supplies, in this order, the 32-byte
 * ephemeral key, the 32 bytes of ML-KEM randomness m and the 32-byte first
 * ratchet key.
 */
export function initiate(self: ClientKeys, peer: Bundle, rand?: RandomSource): Session {
  verifyBundle(peer)
  const local = self.public()
  if (equal(peer.identityKey, local.identityKey) || equal(peer.signingKey, local.signingKey)) fail('invalid_key', 'peer is this client')
  const ek = new DHKey(readRand(rand, KeySize))
  const { ciphertext: ct, sharedSecret: ss } = encapsulate(peer.pqPrekey.key, rand)
  const spk = peer.signedPrekey.key
  const dhs = [self.identity.dh(spk), ek.dh(peer.identityKey), ek.dh(spk)]
  const remote: ClientIdentity = {
    userId: peer.userId, clientId: peer.clientId, signingKey: peer.signingKey.slice(), identityKey: peer.identityKey.slice(), identitySig: peer.identitySig.slice(),
  }
  const h: Handshake = {
    initiator: local, responder: remote, spkId: peer.signedPrekey.id, spk, pqId: peer.pqPrekey.id, pq: peer.pqPrekey.key,
    baseKey: ek.publicKey, kemCiphertext: ct,
  }
  const opk = peer.oneTimePrekey
  if (opk) {
    dhs.push(ek.dh(opk.key))
    h.opk = { id: opk.id, key: opk.key }
  }
  const th = transcriptHash(h)
  // The first sending chain has a ratchet key of its own: the ephemeral
  // key is forgotten as soon as SK is derived.
  const rk0 = new DHKey(readRand(rand, KeySize))
  const out = rk0.dh(spk)
  const [rk, cks] = kdfRK(sharedKey(th, dhs, ss), out)
  return Session.fromState({
    local, remote, initiator: true, ad: th, baseKey: ek.publicKey, dhs: rk0, dhr: spk.slice(), hasDHr: true,
    rk, cks, ckr: zero32, hasCKs: true, hasCKr: false, ns: 0, nr: 0, pn: 0, sendRatchet: false,
    pending: { spkId: h.spkId, hasOPK: opk !== undefined, opkId: opk?.id ?? 0, pqId: h.pqId, kemCiphertext: ct },
    skipped: [], prevRemote: [], generation: 0,
  })
}

/**
 * respond accepts a PrekeyMessage: the caller looked up the private keys
 * the message names (signedPrekeyId, pqPrekeyId and, with
 * hasOneTimePrekey, oneTimePrekeyId; opk undefined otherwise). It returns
 * the new session and the enclosed plaintext. The caller then saves the
 * session, deletes the one-time prekey, and remembers m.baseKey to refuse
 * a replay of a prekey message that used no one-time prekey.
 */
export function respond(
  self: ClientKeys, spk: DHKey | undefined, pq: KEMKey | undefined, opk: DHKey | undefined, m: PrekeyMessage, now: number,
): { session: Session; plaintext: Uint8Array } {
  verifyIdentity(m.sender)
  const local = self.public()
  if (equal(m.sender.identityKey, local.identityKey) || equal(m.sender.signingKey, local.signingKey)) fail('invalid_key', 'peer is this client')
  if (!spk || !pq || (opk === undefined) === m.hasOneTimePrekey) fail('missing_prekey', 'prekeys do not match the message')
  const dhs = [spk.dh(m.sender.identityKey), self.identity.dh(m.baseKey), spk.dh(m.baseKey)]
  const h: Handshake = {
    initiator: m.sender, responder: local, spkId: m.signedPrekeyId, spk: spk.publicKey, pqId: m.pqPrekeyId, pq: pq.publicKey,
    baseKey: m.baseKey, kemCiphertext: m.kemCiphertext,
  }
  if (opk) {
    dhs.push(opk.dh(m.baseKey))
    h.opk = { id: m.oneTimePrekeyId, key: opk.publicKey }
  }
  const ss = pq.decapsulate(m.kemCiphertext)
  const th = transcriptHash(h)
  const session = Session.fromState({
    local, remote: m.sender, initiator: false, ad: th, baseKey: m.baseKey, dhs: spk, dhr: zero32, hasDHr: false,
    rk: sharedKey(th, dhs, ss), cks: zero32, ckr: zero32, hasCKs: false, hasCKr: false, ns: 0, nr: 0, pn: 0,
    sendRatchet: false, pending: undefined, skipped: [], prevRemote: [], generation: 0,
  })
  const plaintext = session.decryptMessage(m.message, now)
  return { session, plaintext }
}
