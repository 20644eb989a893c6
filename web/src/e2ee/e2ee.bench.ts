// @vitest-environment node
//
// Benchmarks of the TypeScript protocol (`npm run bench:e2ee` in web/):
// the counterparts of e2ee/bench_test.go, so the browser's figures can be
// set beside Go's (docs/protocol.md "Performance"). Node runs the same V8
// as Chromium, and the code has no Node-only path.

import { bench, describe } from 'vitest'
import { ClientKeys } from './identity'
import { decryptFile, encryptFile } from './file'
import { DHKey, KEMKey } from './keys'
import { signPQPrekey, signPrekey, type Bundle } from './prekey'
import { safetyNumber } from './safety'
import { InboundSenderKey, marshalSenderKeyDistribution, SenderKey } from './senderkey'
import { initiate, parsePrekeyMessage, respond, Session } from './session'
import { detRand, t0 } from './testutil'

const r = detRand('bench')
const msg = r(100)

function party(user: string, client: string) {
  const keys = ClientKeys.generate(r, user, client)
  const spk = DHKey.generate(r)
  const pq = KEMKey.generate(r)
  const bundle = (): Bundle => ({
    ...keys.public(), signedPrekey: signPrekey(keys, 1, spk), pqPrekey: signPQPrekey(keys, 2, pq),
    oneTimePrekey: { id: 9, key: opk.publicKey },
  })
  const opk = DHKey.generate(r)
  return { keys, spk, pq, opk, bundle }
}

const alice = party('alice', 'a1')
const bob = party('bob', 'b1')
const bobBundle = bob.bundle()

function pair(): { a: Session; b: Session } {
  const a = initiate(alice.keys, bobBundle, r)
  const { session: b } = respond(bob.keys, bob.spk, bob.pq, bob.opk, parsePrekeyMessage(a.encrypt(msg, r)), t0)
  a.decrypt(b.encrypt(msg, r), t0)
  return { a, b }
}

describe('pairwise', () => {
  const first = initiate(alice.keys, bobBundle, r).encrypt(msg, r)
  const pm = parsePrekeyMessage(first)
  bench('handshake, initiator (verify bundle, initiate, first message)', () => {
    initiate(alice.keys, bobBundle, r).encrypt(msg, r)
  })
  bench('handshake, responder (verify identity, decapsulate, first decryption)', () => {
    respond(bob.keys, bob.spk, bob.pq, bob.opk, pm, t0)
  })

  const chain = pair()
  bench('1:1 message encrypt + decrypt, same chain (100 bytes)', () => {
    chain.b.decrypt(chain.a.encrypt(msg, r), t0)
  })

  const turns = pair()
  let turn = 0
  bench('1:1 message encrypt + decrypt with a DH ratchet step on every message', () => {
    const [from, to] = turn++ % 2 === 0 ? [turns.a, turns.b] : [turns.b, turns.a]
    to.decrypt(from.encrypt(msg, r), t0)
  })

  const saved = pair().a
  bench('session state save + load', () => {
    Session.fromBytes(saved.toBytes())
  })
})

describe('group of 1,000 members', () => {
  const owner = alice.keys
  const id = owner.public()
  const sender = () => SenderKey.create(owner, 'channel-1', t0, r)

  const outA = sender()
  bench('group message encrypt (one encryption and one signature, whatever the size)', () => {
    outA.encrypt(msg)
  })

  const outB = sender()
  const memberB = InboundSenderKey.accept(outB.distribution(), id)
  bench('group message encrypt + decrypt by one member (signature check + AEAD)', () => {
    memberB.decrypt(outB.encrypt(msg), t0)
  })

  const out = sender()
  const members = Array.from({ length: 999 }, () => InboundSenderKey.accept(out.distribution(), id))
  bench('one group message encrypted once and decrypted by all 999 other members', () => {
    const m = out.encrypt(msg)
    for (const k of members) k.decrypt(m, t0)
  }, { iterations: 3, time: 0, warmupIterations: 1 })

  // Rotation: a new key, encrypted once over each of 999 established
  // pairwise sessions (copies of one session state: the cost is the same).
  const base = pair().a.toBytes()
  const sessions = Array.from({ length: 999 }, () => Session.fromBytes(base))
  bench('sender-key rotation: new key + 999 pairwise encryptions of its distribution', () => {
    const d = marshalSenderKeyDistribution(out.rotate(owner, t0, r).distribution())
    for (const s of sessions) s.encrypt(d, r)
  }, { iterations: 3, time: 0, warmupIterations: 1 })
})

describe('other', () => {
  const a = [ClientKeys.generate(r, 'alice', 'a1').public()]
  const b = [ClientKeys.generate(r, 'bob', 'b1').public()]
  const mk = alice.keys.signing.publicKey
  bench('safety number (2 × 5,200 SHA-512)', () => {
    safetyNumber({ userId: 'alice', masterKey: mk, clients: a }, { userId: 'bob', masterKey: bob.keys.signing.publicKey, clients: b })
  }, { iterations: 10 })

  const key = r(32)
  const file = r(4 << 20)
  const ct = encryptFile(key, file, 64 << 10, r)
  bench('file encrypt, 4 MiB in 64 KiB chunks', () => {
    encryptFile(key, file, 64 << 10, r)
  }, { iterations: 5, time: 0 })
  bench('file decrypt, 4 MiB in 64 KiB chunks', () => {
    decryptFile(key, ct)
  }, { iterations: 5, time: 0 })
})
