// @vitest-environment node
//
// Every decoder against mutated inputs (the counterpart of the Go fuzz
// tests, seeded with the vectors' real messages): it returns, or throws an
// E2EEError with a protocol error name, and never anything else; a state
// that accepts a mutated message was not changed by the ones it refused.

import { describe, expect, it } from 'vitest'
import { parseBackupContents, parseRecoveryKey } from './backup'
import { concat, unhex } from './bytes'
import { parseEnvelope } from './envelope'
import { E2EEError } from './errors'
import { decryptFile } from './file'
import { ClientKeys } from './identity'
import { parseClientQR } from './safety'
import { InboundSenderKey, marshalSenderKeyRequest, parseSenderKeyDistribution, parseSenderKeyMessage, parseSenderKeyRequest, SenderKey } from './senderkey'
import { initiate, parsePrekeyMessage, parseRatchetMessage, respond, Session } from './session'
import { DHKey, KEMKey } from './keys'
import { signPQPrekey, signPrekey } from './prekey'
import { detRand, loadVector, t0, text } from './testutil'

const codes = new Set(['invalid_message', 'unsupported_version', 'invalid_key', 'bad_signature', 'decrypt', 'duplicate', 'too_many_skipped',
  'wrong_session', 'missing_prekey', 'truncated', 'wrong_recovery_key', 'mismatch', 'exhausted'])

/** mutations yields deterministic changes of a seed input: truncations, flips, insertions, deletions. */
function* mutations(seed: Uint8Array, label: string, n: number): Generator<Uint8Array> {
  const r = detRand(label)
  const pick = (m: number) => (m <= 0 ? 0 : new DataView(r(4).buffer).getUint32(0) % m)
  yield new Uint8Array(0)
  yield seed.subarray(0, 1)
  yield concat(seed, new Uint8Array([0]))
  for (let i = 0; i < n; i++) {
    const b = seed.slice()
    switch (pick(4)) {
      case 0:
        yield b.subarray(0, pick(b.length))
        break
      case 1:
        for (let k = 0, c = 1 + pick(3); k < c && b.length > 0; k++) b[pick(b.length)]! ^= 1 << pick(8)
        yield b
        break
      case 2: {
        const at = pick(b.length + 1)
        yield concat(b.subarray(0, at), r(1 + pick(4)), b.subarray(at))
        break
      }
      default: {
        const at = pick(b.length)
        yield concat(b.subarray(0, at), b.subarray(at + 1 + pick(8)))
      }
    }
  }
}

function check(f: () => unknown): void {
  try {
    f()
  } catch (e) {
    if (!(e instanceof E2EEError) || !codes.has(e.code)) throw e
  }
}

const hs = loadVector<{ cases: { prekey_message: string; reply: string }[] }>('handshake').cases[0]!
const sk = loadVector<{ steps: { op: string; message?: string; distribution?: string }[] }>('senderkey').steps
const env = loadVector<{ cases: { envelope: string }[] }>('envelope').cases
const file = loadVector<{ cases: { key: string; ciphertext: string; error?: string }[] }>('file').cases
const backup = loadVector<{ plaintext: string; recovery_key_text: string }>('backup')
const ident = loadVector<{ client_qr: string }>('identity')

const groupMessage = unhex(sk.find((s) => s.op === 'encrypt')!.message!)
const distribution = unhex(sk.find((s) => s.op === 'distribute')!.distribution!)

describe('decoders refuse mutated input with a protocol error only', () => {
  const N = 300
  const cases: [string, Uint8Array, (b: Uint8Array) => unknown][] = [
    ['envelope', unhex(env[0]!.envelope), parseEnvelope],
    ['envelope (sender key)', unhex(env[2]!.envelope), parseEnvelope],
    ['prekey message', unhex(hs.prekey_message), parsePrekeyMessage],
    ['ratchet message', unhex(hs.reply), parseRatchetMessage],
    ['sender-key message', groupMessage, parseSenderKeyMessage],
    ['sender-key distribution', distribution, parseSenderKeyDistribution],
    ['sender-key request', marshalSenderKeyRequest({ groupId: 'channel-1', userId: 'alice', clientId: 'a1', chainId: 1, iteration: 2 }), parseSenderKeyRequest],
    ['client QR', unhex(ident.client_qr), parseClientQR],
    ['backup contents', new TextEncoder().encode(backup.plaintext), parseBackupContents],
    ['recovery key', new TextEncoder().encode(backup.recovery_key_text), (b) => parseRecoveryKey(new TextDecoder().decode(b))],
    ['file', unhex(file[3]!.ciphertext), (b) => decryptFile(unhex(file[3]!.key), b)],
  ]
  for (const [name, seed, decode] of cases) {
    it(name, () => {
      check(() => decode(seed))
      for (const m of mutations(seed, name, N)) check(() => decode(m))
    })
  }

  it('states (session, sender keys, client keys)', () => {
    const r = detRand('states')
    const owner = ClientKeys.generate(r, 'alice', 'a1')
    const out = SenderKey.create(owner, 'channel-1', t0, r)
    const inb = InboundSenderKey.accept(out.distribution(), owner.public())
    const seeds: [Uint8Array, (b: Uint8Array) => unknown][] = [
      [owner.toBytes(), ClientKeys.fromBytes],
      [out.toBytes(), SenderKey.fromBytes],
      [inb.toBytes(), InboundSenderKey.fromBytes],
    ]
    for (const [seed, decode] of seeds) for (const m of mutations(seed, 'state', 200)) check(() => decode(m))
  })

  it('a session and an inbound sender key fed mutated messages stay as they were', () => {
    const r = detRand('mutated-messages')
    const alice = ClientKeys.generate(r, 'alice', 'a1')
    const bob = ClientKeys.generate(r, 'bob', 'b1')
    const spk = DHKey.generate(r)
    const pq = KEMKey.generate(r)
    const a = initiate(alice, { ...bob.public(), signedPrekey: signPrekey(bob, 1, spk), pqPrekey: signPQPrekey(bob, 2, pq) }, r)
    const first = a.encrypt(text('first'), r)
    const { session: b } = respond(bob, spk, pq, undefined, parsePrekeyMessage(first), t0)
    a.decrypt(b.encrypt(text('reply'), r), t0)
    // A plain message, and the prekey message already taken (whose copies
    // with changed handshake fields are still its replays).
    const pairwise = [a.encrypt(text('second'), r), first]
    for (const seed of pairwise) {
      const st = b.toBytes()
      for (const m of mutations(seed, 'pairwise', 150)) {
        let ok = false
        check(() => {
          b.decrypt(m, t0)
          ok = true
        })
        if (ok) throw new Error('a mutated pairwise message decrypted')
        expect(b.toBytes()).toEqual(st)
      }
    }
    expect(new TextDecoder().decode(b.decrypt(pairwise[0]!, t0))).toBe('second')

    const owner = ClientKeys.generate(r, 'alice', 'a1')
    const out = SenderKey.create(owner, 'channel-1', t0, r)
    const inb = InboundSenderKey.accept(out.distribution(), owner.public())
    const gm = out.encrypt(text('hello group'))
    const before = inb.toBytes()
    for (const m of mutations(gm, 'group-messages', 300)) {
      let ok = false
      check(() => {
        inb.decrypt(m, t0)
        ok = true
      })
      if (ok) throw new Error('a mutated group message decrypted')
      expect(inb.toBytes()).toEqual(before)
    }
    expect(new TextDecoder().decode(inb.decrypt(gm, t0))).toBe('hello group')
    expect(() => Session.fromBytes(new Uint8Array([1, 0x10]))).toThrow(E2EEError)
  })
})
