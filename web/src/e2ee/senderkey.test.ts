// @vitest-environment node
//
// Sender keys under attack, mirroring e2ee/senderkey_test.go: tampering,
// forgery by a member, a removed member, the skipped-key bounds, key
// requests and merging.

import { describe, expect, it } from 'vitest'
import { concat, scriptedRandom, type RandomSource } from './bytes'
import { E2EEError } from './errors'
import { ClientKeys } from './identity'
import {
  InboundSenderKey,
  marshalSenderKeyDistribution,
  marshalSenderKeyRequest,
  MaxSenderKeySkip,
  parseSenderKeyDistribution,
  parseSenderKeyRequest,
  SenderKey,
  SenderKeyMaxAge,
  SenderKeyMaxMessages,
  type SenderKeyDistribution,
} from './senderkey'
import { SkippedKeyMaxAge } from './session'
import { detRand, str, t0, text } from './testutil'

class Group {
  readonly owner: ClientKeys
  out: SenderKey
  readonly members = new Map<string, InboundSenderKey>()

  constructor(r: RandomSource, ...members: string[]) {
    this.owner = ClientKeys.generate(r, 'alice', 'a1')
    this.out = SenderKey.create(this.owner, 'channel-1', t0, r)
    this.distribute(...members)
  }

  /** distribute sends the current key to members, through its encoding. */
  distribute(...members: string[]): void {
    const d = parseSenderKeyDistribution(marshalSenderKeyDistribution(this.out.distribution()))
    for (const m of members) this.members.set(m, InboundSenderKey.accept(d, this.owner.public()))
  }

  member(name: string): InboundSenderKey {
    return this.members.get(name)!
  }
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

describe('sender keys', () => {
  it('serves every member with one ciphertext, in any order, and refuses replays', () => {
    const r = detRand('group')
    const g = new Group(r, 'bob', 'carol')
    const ms = [0, 1, 2, 3, 4].map((i) => g.out.encrypt(text(`m${i}`)))
    for (const [name, order] of [['bob', [0, 1, 2, 3, 4]], ['carol', [4, 2, 0, 3, 1]]] as const) {
      for (const i of order) expect(str(g.member(name).decrypt(ms[i]!, t0))).toBe(`m${i}`)
    }
    expect(refused(() => g.member('bob').decrypt(ms[2]!, t0))).toBe('duplicate')
  })

  it('refuses changed bytes, a member forging with the chain key, and a message moved to another group', () => {
    const r = detRand('group-tamper')
    const g = new Group(r, 'bob')
    const m = g.out.encrypt(text('hello'))
    const bob = g.member('bob')
    for (const off of [2, 6, 10, m.length - 65, m.length - 1]) expect(refused(() => bob.decrypt(flip(m, off), t0)), `byte ${off}`).not.toBe('')
    // A member holds the chain key but not the signing key: the same key
    // state with another signing seed makes messages that are refused.
    const state = g.out.toBytes()
    const seedAt = state.length - 8 - 64 - 32
    const forged = state.slice()
    forged.set(r(32), seedAt)
    const forger = SenderKey.fromBytes(forged)
    expect(refused(() => bob.decrypt(forger.encrypt(text('from alice, honest')), t0))).toBe('decrypt')
    // The same member key bound to another group id refuses the message.
    const ib = bob.toBytes()
    const groupAt = 2 + 8 + 1
    expect(new TextDecoder().decode(ib.subarray(groupAt, groupAt + 9))).toBe('channel-1')
    ib[groupAt + 8] = '2'.charCodeAt(0)
    expect(refused(() => InboundSenderKey.fromBytes(ib).decrypt(m, t0))).not.toBe('')
    expect(str(bob.decrypt(m, t0))).toBe('hello')
  })

  it('shuts out a removed member: after rotation it can read nothing new, with every key it held', () => {
    const r = detRand('group-rotate')
    const g = new Group(r, 'bob', 'carol')
    const before = g.out.encrypt(text('before'))
    const next = g.out.rotate(g.owner, t0, r)
    expect(next.chainId).not.toBe(g.out.chainId)
    g.out = next
    const carol = g.member('carol')
    g.distribute('bob')
    const after = g.out.encrypt(text('after'))
    expect(str(g.member('bob').decrypt(after, t0))).toBe('after')
    expect(refused(() => carol.decrypt(after, t0))).toBe('wrong_session')
    // Even with its chain id set to the new one, the old chain opens nothing.
    const stolen = carol.toBytes()
    const chainAt = 2 + 8 + 10 + 6 + 3
    new DataView(stolen.buffer).setUint32(chainAt, next.chainId)
    expect(refused(() => InboundSenderKey.fromBytes(stolen).decrypt(after, t0))).not.toBe('')
    expect(str(carol.decrypt(before, t0))).toBe('before')
  })

  it('rotates to another chain id even when the random one repeats the current', () => {
    const r = detRand('group-rotate-same')
    const owner = ClientKeys.generate(r, 'alice', 'a1')
    const bytes = r(68)
    bytes.set([0xff, 0xff, 0xff, 0xff])
    const k = SenderKey.create(owner, 'channel-1', t0, scriptedRandom(bytes))
    const n = k.rotate(owner, t0, scriptedRandom(bytes))
    expect(k.chainId).toBe(0xffffffff)
    expect(n.chainId).toBe(0) // + 1 modulo 2^32
    const in_ = InboundSenderKey.accept(n.distribution(), owner.public()) // the certificate names the new id
    expect(str(in_.decrypt(n.encrypt(text('x')), t0))).toBe('x')
  })

  it('bounds skipped iterations and expires skipped keys after 30 days', () => {
    const r = detRand('group-bounds')
    const g = new Group(r, 'bob')
    const ms: Uint8Array[] = []
    for (let i = 0; i < MaxSenderKeySkip + 2; i++) ms.push(g.out.encrypt(text('x')))
    const bob = g.member('bob')
    expect(refused(() => bob.decrypt(ms[MaxSenderKeySkip + 1]!, t0))).toBe('too_many_skipped')
    expect(refused(() => bob.decrypt(ms[MaxSenderKeySkip]!, t0))).toBe('')
    expect(bob.skippedKeys).toBe(MaxSenderKeySkip)
    expect(refused(() => bob.decrypt(ms[MaxSenderKeySkip + 1]!, t0 + SkippedKeyMaxAge + 1))).toBe('')
    expect(bob.skippedKeys).toBe(0)
    expect(refused(() => bob.decrypt(ms[3]!, t0))).toBe('duplicate')
  })

  it('answers a key request, merges the earlier iterations and exports the chain', () => {
    const r = detRand('group-request')
    const g = new Group(r, 'bob')
    const ms = [0, 1, 2, 3].map((i) => g.out.encrypt(text(String(i))))
    g.distribute('dave') // dave joins late, at iteration 4
    const dave = g.member('dave')
    expect(dave.firstIteration).toBe(4)
    expect(refused(() => dave.decrypt(ms[1]!, t0))).toBe('wrong_session')
    const q = { groupId: 'channel-1', userId: 'alice', clientId: 'a1', chainId: g.out.chainId, iteration: 1 }
    expect(parseSenderKeyRequest(marshalSenderKeyRequest(q))).toEqual(q)
    const d = g.out.distributionAt(q.iteration)
    dave.merge(d, t0)
    for (const i of [3, 1, 2]) expect(str(dave.decrypt(ms[i]!, t0))).toBe(String(i))
    const bad: SenderKeyDistribution = { ...d, iteration: 0 }
    expect(refused(() => dave.merge(bad, t0))).toBe('decrypt')
    expect(refused(() => dave.merge({ ...d, chainId: d.chainId + 1 }, t0))).toBe('wrong_session')
    expect(refused(() => g.out.distributionAt(g.out.iteration + 1))).toBe('invalid_message')
    const copy = InboundSenderKey.accept(dave.export(0), g.owner.public())
    expect(copy.firstIteration).toBe(1)
    expect(str(copy.decrypt(ms[2]!, t0))).toBe('2')
  })

  it('accepts a distribution only from its sender, with its own signing key and group', () => {
    const r = detRand('group-dist')
    const g = new Group(r)
    const d = g.out.distribution()
    const id = g.owner.public()
    const other = ClientKeys.generate(r, 'alice', 'a2')
    expect(refused(() => InboundSenderKey.accept(d, other.public()))).toBe('bad_signature')
    expect(refused(() => InboundSenderKey.accept({ ...d, signingKey: other.signing.publicKey }, id))).toBe('bad_signature')
    expect(refused(() => InboundSenderKey.accept({ ...d, groupId: 'channel-2' }, id))).toBe('bad_signature')
    expect(refused(() => InboundSenderKey.accept({ ...d, signingKey: new Uint8Array(32) }, id))).toBe('invalid_key')
    // A forwarded distribution is checked against the sender's identity, not the forwarder's.
    const forwarded = parseSenderKeyDistribution(marshalSenderKeyDistribution(d))
    expect(refused(() => InboundSenderKey.accept(forwarded, id))).toBe('')
    expect(refused(() => parseSenderKeyDistribution(concat(marshalSenderKeyDistribution(d), new Uint8Array(1))))).toBe('invalid_message')
  })

  it('round-trips both states, and reloaded keys go on', () => {
    const r = detRand('group-state')
    const g = new Group(r, 'bob')
    const m1 = g.out.encrypt(text('1'))
    const m2 = g.out.encrypt(text('2'))
    const bob = g.member('bob')
    bob.decrypt(m2, t0)
    const ob = g.out.toBytes()
    const out = SenderKey.fromBytes(ob)
    expect(out.toBytes()).toEqual(ob)
    const ib = bob.toBytes()
    const inb = InboundSenderKey.fromBytes(ib)
    expect(inb.toBytes()).toEqual(ib)
    expect(str(inb.decrypt(m1, t0))).toBe('1')
    expect(str(inb.decrypt(out.encrypt(text('3')), t0))).toBe('3')
    expect(inb.generation).toBe(bob.generation + 2)
  })

  it('is due for rotation after 7 days or 10,000 messages', () => {
    const r = detRand('group-rot')
    const g = new Group(r)
    expect(g.out.needsRotation(t0)).toBe(false)
    expect(g.out.needsRotation(t0 + SenderKeyMaxAge)).toBe(true)
    const st = g.out.toBytes()
    const iterationAt = 2 + 8 + 10 + 6 + 3 + 4 + 32
    new DataView(st.buffer).setUint32(iterationAt, SenderKeyMaxMessages - 1)
    const used = SenderKey.fromBytes(st)
    expect(used.iteration).toBe(SenderKeyMaxMessages - 1)
    expect(used.needsRotation(t0)).toBe(false)
    used.encrypt(text('the 10,000th'))
    expect(used.needsRotation(t0)).toBe(true)
  })
})
