// @vitest-environment node
//
// The pairwise protocol under attack, mirroring e2ee/session_test.go:
// tampered, replayed and out-of-bounds messages, substituted bundles,
// forward secrecy and recovery after a state compromise.

import { describe, expect, it } from 'vitest'
import { messageType, TypeMessage, TypePrekeyMessage, type RandomSource } from './bytes'
import { E2EEError, errorCode } from './errors'
import { ClientKeys } from './identity'
import { DHKey, KEMKey } from './keys'
import { oneTimePrekeyOf, signPQPrekey, signPrekey, type Bundle } from './prekey'
import { initiate, MaxSkip, MaxSkippedKeys, MessageHeaderSize, parsePrekeyMessage, respond, Session, SkippedKeyMaxAge } from './session'
import { detRand, str, t0, text } from './testutil'

class Party {
  readonly keys: ClientKeys
  readonly spk: DHKey
  readonly pq: KEMKey
  readonly opks = new Map<number, DHKey>()
  private next = 100

  constructor(private readonly r: RandomSource, user: string, client: string) {
    this.keys = ClientKeys.generate(r, user, client)
    this.spk = DHKey.generate(r)
    this.pq = KEMKey.generate(r)
  }

  bundle(withOPK: boolean): Bundle {
    const b: Bundle = { ...this.keys.public(), signedPrekey: signPrekey(this.keys, 1, this.spk), pqPrekey: signPQPrekey(this.keys, 2, this.pq) }
    if (withOPK) {
      const k = DHKey.generate(this.r)
      this.next++
      this.opks.set(this.next, k)
      b.oneTimePrekey = oneTimePrekeyOf(this.next, k)
    }
    return b
  }

  /** respond handles a first prekey message as a client would. */
  respond(msg: Uint8Array): { session: Session; plaintext: string } {
    const pm = parsePrekeyMessage(msg)
    const opk = pm.hasOneTimePrekey ? this.opks.get(pm.oneTimePrekeyId) : undefined
    const { session, plaintext } = respond(this.keys, this.spk, this.pq, opk, pm, t0)
    this.opks.delete(pm.oneTimePrekeyId)
    return { session, plaintext: str(plaintext) }
  }
}

/** pair sets up an established session between two new clients. */
function pair(r: RandomSource): { a: Session; b: Session } {
  const alice = new Party(r, 'alice', 'a1')
  const bob = new Party(r, 'bob', 'b1')
  const a = initiate(alice.keys, bob.bundle(true), r)
  const { session: b, plaintext } = bob.respond(a.encrypt(text('hello'), r))
  expect(plaintext).toBe('hello')
  expect(str(a.decrypt(b.encrypt(text('hi'), r), t0))).toBe('hi')
  return { a, b }
}

const enc = (s: Session, r: RandomSource, pt: string) => s.encrypt(text(pt), r)
function dec(s: Session, m: Uint8Array, want: string, now = t0): void {
  expect(str(s.decrypt(m, now))).toBe(want)
}
function refused(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    if (e instanceof E2EEError) return e.code
    throw e
  }
  return ''
}
const flip = (b: Uint8Array, i: number) => {
  const c = b.slice()
  c[i]! ^= 1
  return c
}

describe('pairwise sessions', () => {
  it('holds a conversation of several turns, each a DH ratchet step', () => {
    const r = detRand('conversation')
    const { a, b } = pair(r)
    expect(a.established && b.established).toBe(true)
    for (let turn = 0; turn < 5; turn++) {
      for (let i = 0; i < 3; i++) dec(b, enc(a, r, `a${turn}.${i}`), `a${turn}.${i}`)
      dec(a, enc(b, r, `b${turn}`), `b${turn}`)
    }
    expect(a.remote.userId).toBe('bob')
    expect(b.remote.userId).toBe('alice')
    expect(a.baseKey).toEqual(b.baseKey)
  })

  it('pads every plaintext to a multiple of 32 bytes, empty and large ones included', () => {
    const r = detRand('sizes')
    const { a, b } = pair(r)
    for (const n of [0, 1, 31, 32, 33, 64 << 10]) {
      const pt = new Uint8Array(n).fill(0xab)
      const m = a.encrypt(pt, r)
      expect(b.decrypt(m, t0)).toEqual(pt)
      expect((m.length - MessageHeaderSize - 16) % 32).toBe(0)
    }
  })

  it('sends prekey messages until a reply decrypts, so any of them sets the session up', () => {
    const r = detRand('pending')
    const alice = new Party(r, 'alice', 'a1')
    const bob = new Party(r, 'bob', 'b1')
    const a = initiate(alice.keys, bob.bundle(true), r)
    const m1 = enc(a, r, 'one')
    const m2 = enc(a, r, 'two')
    expect([messageType(m1), messageType(m2)]).toEqual([TypePrekeyMessage, TypePrekeyMessage])
    const { session: b, plaintext } = bob.respond(m2) // the first is late
    expect(plaintext).toBe('two')
    dec(b, m1, 'one')
    dec(a, enc(b, r, 'ack'), 'ack')
    expect(messageType(enc(a, r, 'three'))).toBe(TypeMessage)
  })

  it('decrypts out of order, across new chains, from skipped keys', () => {
    const r = detRand('order')
    const { a, b } = pair(r)
    const ms = [0, 1, 2, 3, 4, 5].map((i) => enc(a, r, String(i)))
    for (const i of [5, 0, 3]) dec(b, ms[i]!, String(i))
    expect(b.skippedKeys).toBe(3)
    dec(a, enc(b, r, 'b'), 'b')
    dec(b, enc(a, r, 'new chain'), 'new chain')
    for (const i of [4, 1, 2]) dec(b, ms[i]!, String(i))
    expect(b.skippedKeys).toBe(0)
  })

  it('keeps the keys of a previous chain through PN', () => {
    const r = detRand('pn')
    const { a, b } = pair(r)
    const m0 = enc(a, r, '0')
    const m1 = enc(a, r, '1')
    dec(b, m0, '0')
    dec(a, enc(b, r, 'x'), 'x')
    dec(b, enc(a, r, '2'), '2')
    dec(b, m1, '1')
  })

  it('refuses a replay, in the current chain and from an older one, without changing the session', () => {
    const r = detRand('replay')
    const { a, b } = pair(r)
    const m = enc(a, r, 'once')
    dec(b, m, 'once')
    let gen = b.generation
    expect(refused(() => b.decrypt(m, t0))).toBe('duplicate')
    expect(b.generation).toBe(gen)
    dec(a, enc(b, r, 'x'), 'x')
    dec(b, enc(a, r, 'y'), 'y')
    gen = b.generation
    expect(refused(() => b.decrypt(m, t0))).toBe('duplicate')
    expect(b.generation).toBe(gen)
  })

  it('refuses a changed header, ciphertext, tag or associated data, without changing the session', () => {
    const r = detRand('tamper')
    const { a, b } = pair(r)
    const m = enc(a, r, 'secret')
    const before = b.toBytes()
    for (const [name, off] of [['version', 0], ['ratchet key', 2], ['pn', 34], ['n', 41], ['ciphertext', MessageHeaderSize], ['tag', m.length - 1]] as const) {
      expect(refused(() => b.decrypt(flip(m, off), t0)), name).not.toBe('')
      expect(b.toBytes(), name).toEqual(before)
    }
    // The same bytes under another session's associated data.
    const st = b.inspect()
    const other = Session.fromState({ ...st, ad: flip(st.ad, 0) })
    expect(refused(() => other.decrypt(m, t0))).toBe('decrypt')
    dec(b, m, 'secret')
  })

  it('bounds skipped keys: MaxSkip per message, MaxSkippedKeys in all, oldest first, expiring after 30 days', () => {
    const r = detRand('bounds')
    let { a, b } = pair(r)
    let last: Uint8Array = new Uint8Array(0)
    for (let i = 0; i < MaxSkip + 2; i++) last = enc(a, r, 'x')
    expect(refused(() => b.decrypt(last, t0))).toBe('too_many_skipped')
    expect(b.skippedKeys).toBe(0)

    ;({ a, b } = pair(r))
    let first: Uint8Array = new Uint8Array(0)
    for (let round = 0; round < 3; round++) {
      const ms: Uint8Array[] = []
      for (let i = 0; i < MaxSkip + 1; i++) ms.push(enc(a, r, 'x'))
      if (round === 0) first = ms[0]!
      dec(b, ms[MaxSkip]!, 'x') // exactly MaxSkip skipped: allowed
      dec(a, enc(b, r, 'turn'), 'turn')
    }
    expect(b.skippedKeys).toBe(MaxSkippedKeys)
    expect(refused(() => b.decrypt(first, t0))).toBe('duplicate') // evicted
    dec(b, enc(a, r, 'later'), 'later', t0 + SkippedKeyMaxAge + 1)
    expect(b.skippedKeys).toBe(0)
  })

  it('keeps forward secrecy: a stolen state does not open messages already decrypted', () => {
    const r = detRand('fs')
    const { a, b } = pair(r)
    const old = enc(a, r, 'yesterday')
    dec(b, old, 'yesterday')
    expect(refused(() => Session.fromBytes(b.toBytes()).decrypt(old, t0))).not.toBe('')
    dec(a, enc(b, r, 'x'), 'x')
    expect(refused(() => Session.fromBytes(b.toBytes()).decrypt(old, t0))).not.toBe('')
  })

  it('recovers after a state compromise with one DH round trip', () => {
    const r = detRand('pcs')
    const { a, b } = pair(r)
    const eve = Session.fromBytes(b.toBytes())
    let m = enc(a, r, 'still readable')
    dec(eve, m, 'still readable')
    dec(b, m, 'still readable')
    dec(a, enc(b, r, 'heal'), 'heal')
    m = enc(a, r, 'private again')
    dec(b, m, 'private again')
    expect(refused(() => eve.decrypt(m, t0))).not.toBe('')
  })

  it('round-trips its state at every stage, and a reloaded state goes on', () => {
    const r = detRand('state')
    const alice = new Party(r, 'alice', 'a1')
    const bob = new Party(r, 'bob', 'b1')
    const reload = (s: Session) => {
      const bytes = s.toBytes()
      const n = Session.fromBytes(bytes)
      expect(n.toBytes()).toEqual(bytes)
      return n
    }
    let a = reload(initiate(alice.keys, bob.bundle(false), r)) // pending prekey state
    let bs = bob.respond(enc(a, r, '1')).session
    enc(a, r, 'skipped')
    const m3 = enc(a, r, '3')
    bs = reload(bs)
    dec(bs, m3, '3')
    bs = reload(bs) // with a skipped key
    a = reload(a)
    dec(a, enc(bs, r, 'r'), 'r')
    dec(reload(bs), enc(reload(a), r, 'again'), 'again')
    expect(refused(() => Session.fromBytes(new Uint8Array([2, 0x10])))).toBe('unsupported_version')
    expect(refused(() => Session.fromBytes(a.toBytes().subarray(0, 100)))).toBe('invalid_message')
    const extra = new Uint8Array(a.toBytes().length + 1)
    extra.set(a.toBytes())
    expect(refused(() => Session.fromBytes(extra))).toBe('invalid_message')
  })
})

describe('handshake', () => {
  it('refuses a bundle in which the server substituted any signed key, id or signature', () => {
    const r = detRand('bundle')
    const alice = new Party(r, 'alice', 'a1')
    const bob = new Party(r, 'bob', 'b1')
    const mallory = new Party(r, 'bob', 'b1')
    const cases: Record<string, (b: Bundle) => void> = {
      'signed prekey': (b) => { b.signedPrekey = { ...b.signedPrekey, key: mallory.spk.publicKey } },
      'pq prekey': (b) => { b.pqPrekey = { ...b.pqPrekey, key: mallory.pq.publicKey } },
      'identity key': (b) => { b.identityKey = mallory.keys.identity.publicKey },
      'signing key': (b) => { b.signingKey = mallory.keys.signing.publicKey },
      'client id': (b) => { b.clientId = 'b2' },
      'prekey id': (b) => { b.signedPrekey = { ...b.signedPrekey, id: b.signedPrekey.id + 1 } },
      'signature': (b) => { b.signedPrekey = { ...b.signedPrekey, sig: flip(b.signedPrekey.sig, 5) } },
      'pq signature': (b) => { b.pqPrekey = { ...b.pqPrekey, sig: mallory.bundle(false).pqPrekey.sig } },
    }
    for (const [name, change] of Object.entries(cases)) {
      const b = bob.bundle(true)
      change(b)
      expect(refused(() => initiate(alice.keys, b, r)), name).toBe('bad_signature')
    }
    // A small-order or non-canonical key is refused by its acceptance rule.
    const b = bob.bundle(true)
    b.oneTimePrekey = { id: 1, key: new Uint8Array(32) }
    expect(refused(() => initiate(alice.keys, b, r))).toBe('invalid_key')
    // Without a PQ prekey there is no bundle (the PQ step is mandatory).
    const noPQ = { ...bob.bundle(false), pqPrekey: undefined } as unknown as Bundle
    expect(refused(() => initiate(alice.keys, noPQ, r))).toBe('invalid_message')
  })

  it('fails at the responder when the unsigned one-time prekey was substituted', () => {
    const r = detRand('bundle-opk')
    const alice = new Party(r, 'alice', 'a1')
    const bob = new Party(r, 'bob', 'b1')
    const mallory = new Party(r, 'bob', 'b1')
    const b = bob.bundle(true)
    b.oneTimePrekey = oneTimePrekeyOf(b.oneTimePrekey!.id, mallory.spk)
    const a = initiate(alice.keys, b, r)
    const pm = parsePrekeyMessage(enc(a, r, 'x'))
    expect(refused(() => respond(bob.keys, bob.spk, bob.pq, bob.opks.get(pm.oneTimePrekeyId), pm, t0))).toBe('decrypt')
  })

  it('refuses missing or wrong prekeys, a changed KEM ciphertext or sender, and prekey messages of another session', () => {
    const r = detRand('respond')
    const alice = new Party(r, 'alice', 'a1')
    const bob = new Party(r, 'bob', 'b1')
    const a = initiate(alice.keys, bob.bundle(true), r)
    const pm = parsePrekeyMessage(enc(a, r, 'x'))
    const opk = bob.opks.get(pm.oneTimePrekeyId)
    expect(refused(() => respond(bob.keys, bob.spk, bob.pq, undefined, pm, t0))).toBe('missing_prekey')
    expect(refused(() => respond(bob.keys, undefined, bob.pq, opk, pm, t0))).toBe('missing_prekey')
    expect(refused(() => respond(bob.keys, DHKey.generate(r), bob.pq, opk, pm, t0))).toBe('decrypt')
    expect(refused(() => respond(bob.keys, bob.spk, KEMKey.generate(r), opk, pm, t0))).toBe('decrypt')
    expect(refused(() => respond(bob.keys, bob.spk, bob.pq, opk, { ...pm, kemCiphertext: flip(pm.kemCiphertext, 0) }, t0))).toBe('decrypt')
    expect(refused(() => respond(bob.keys, bob.spk, bob.pq, opk, { ...pm, sender: { ...pm.sender, userId: 'mallory' } }, t0))).toBe('bad_signature')
    expect(refused(() => respond(bob.keys, bob.spk, bob.pq, opk, { ...pm, baseKey: new Uint8Array(32) }, t0))).toBe('invalid_key')
    expect(refused(() => respond(alice.keys, bob.spk, bob.pq, opk, pm, t0))).toBe('invalid_key') // from itself
    const { session: s } = respond(bob.keys, bob.spk, bob.pq, opk, pm, t0)
    const a2 = initiate(alice.keys, bob.bundle(false), r)
    expect(refused(() => s.decrypt(enc(a2, r, 'y'), t0))).toBe('wrong_session')
    // A prekey message whose sender identity is not the session's.
    const other = new Party(r, 'carol', 'c1')
    const a3 = initiate(other.keys, bob.bundle(false), r)
    expect(refused(() => s.decrypt(enc(a3, r, 'z'), t0))).toBe('wrong_session')
  })

  it('lets both sides initiate at once: each keeps both sessions', () => {
    const r = detRand('simultaneous')
    const alice = new Party(r, 'alice', 'a1')
    const bob = new Party(r, 'bob', 'b1')
    const a1 = initiate(alice.keys, bob.bundle(true), r)
    const b1 = initiate(bob.keys, alice.bundle(true), r)
    const ma = enc(a1, r, 'from a')
    const mb = enc(b1, r, 'from b')
    expect(refused(() => b1.decrypt(ma, t0))).toBe('wrong_session')
    const b2 = bob.respond(ma)
    const a2 = alice.respond(mb)
    expect([b2.plaintext, a2.plaintext]).toEqual(['from a', 'from b'])
    dec(a1, enc(b2.session, r, 'r1'), 'r1')
    dec(b1, enc(a2.session, r, 'r2'), 'r2')
  })

  it('reads its random inputs in the documented order and amounts', () => {
    const r = detRand('reads')
    const alice = new Party(r, 'alice', 'a1')
    const bob = new Party(r, 'bob', 'b1')
    let asked: number[] = []
    const counting: RandomSource = (n) => {
      asked.push(n)
      return r(n)
    }
    const a = initiate(alice.keys, bob.bundle(true), counting)
    expect(asked).toEqual([32, 32, 32]) // EK, ML-KEM m, RK0
    asked = []
    const b = bob.respond(a.encrypt(text('x'), counting)).session
    expect(asked).toEqual([]) // the first chain exists already
    a.decrypt(b.encrypt(text('y'), counting), t0)
    expect(asked).toEqual([32]) // bob's first ratchet key
    asked = []
    a.encrypt(text('z'), counting)
    a.encrypt(text('z'), counting)
    expect(asked).toEqual([32]) // one new key per turn
    expect(errorCode(undefined)).toBe('')
  })

  it('takes times in Unix seconds and refuses milliseconds', () => {
    const r = detRand('seconds')
    const { a, b } = pair(r)
    const m = enc(a, r, 'x')
    expect(() => b.decrypt(m, Date.UTC(2026, 0, 2))).toThrow(TypeError)
    expect(() => b.decrypt(m, Number.NaN)).toThrow(TypeError)
    dec(b, m, 'x', t0 + 0.5)
  })
})
