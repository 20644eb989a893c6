// @vitest-environment node
//
// Every JSON vector file the Go implementation committed in
// e2ee/testdata/vectors, replayed from its inputs alone: every output is
// reproduced byte for byte and every refusal gives the same error name.

import { ed25519 } from '@noble/curves/ed25519.js'
import { bytesToNumberLE } from '@noble/curves/utils.js'
import { describe, expect, it } from 'vitest'
import { checkDHPublic, verifySignature } from './accept'
import {
  backupFromJSON,
  backupKeys,
  backupToJSON,
  marshalBackupContents,
  openBackup,
  parseBackupContents,
  parseRecoveryKey,
  recoveryKeyText,
  sealBackup,
} from './backup'
import { concat, hex, scriptedRandom } from './bytes'
import { marshalEnvelope, parseEnvelope } from './envelope'
import { errorCode } from './errors'
import { decryptFile, encryptFile } from './file'
import { ClientKeys, clientListContains, signClientList, verifyClientList, type ClientIdentity } from './identity'
import { kdfRK } from './kdf'
import { DHKey, KEMKey, SigningKey } from './keys'
import { type Bundle } from './prekey'
import { mlkemEncapsulate, sha256, sha512 } from './primitives'
import { clientFingerprint, clientQRMatches, marshalClientQR, parseClientQR, safetyNumber, safetyQR, verifySafetyQR, type UserKeys } from './safety'
import { InboundSenderKey, marshalSenderKeyDistribution, parseSenderKeyDistribution, SenderKey } from './senderkey'
import { initiate, parsePrekeyMessage, respond, sharedKey, type Session } from './session'
import { h, loadVector, vectorNames } from './testutil'

const consumed = new Set<string>()
function vector<T>(name: string): T {
  consumed.add(name)
  return loadVector<T>(name)
}

function attempt<T>(f: () => T): { value?: T; error: string } {
  try {
    return { value: f(), error: '' }
  } catch (e) {
    return { error: errorCode(e) }
  }
}

// ---- ML-KEM

describe('mlkem.json', () => {
  const v = vector<{
    seed: string; encapsulation_key: string; encapsulation_key_sha256: string; randomness: string
    ciphertext: string; ciphertext_sha256: string; shared_secret: string
  }>('mlkem')
  it('derives the key from the seed and encapsulates with the given randomness', () => {
    const k = new KEMKey(h(v.seed))
    expect(hex(k.publicKey)).toBe(v.encapsulation_key)
    expect(hex(sha256(k.publicKey))).toBe(v.encapsulation_key_sha256)
    const { ciphertext, sharedSecret } = mlkemEncapsulate(k.publicKey, h(v.randomness))
    expect(hex(ciphertext)).toBe(v.ciphertext)
    expect(hex(sha256(ciphertext))).toBe(v.ciphertext_sha256)
    expect(hex(sharedSecret)).toBe(v.shared_secret)
    expect(hex(k.decapsulate(ciphertext))).toBe(v.shared_secret)
  })
})

// ---- Key acceptance

/** The bare equations with permissive (ZIP-215) decoding, as the Go generator computes them. */
function edEquations(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): { cofactorless: boolean; cofactored: boolean } {
  const L = ed25519.Point.Fn.ORDER
  let A, R
  try {
    A = ed25519.Point.fromBytes(pub, true)
    R = ed25519.Point.fromBytes(sig.subarray(0, 32), true)
  } catch {
    return { cofactorless: false, cofactored: false }
  }
  const S = bytesToNumberLE(sig.subarray(32))
  if (S >= L) return { cofactorless: false, cofactored: false }
  const k = bytesToNumberLE(sha512(concat(sig.subarray(0, 32), pub, msg))) % L
  const diff = R.add(A.multiplyUnsafe(k)).subtract(ed25519.Point.BASE.multiplyUnsafe(S))
  return { cofactorless: diff.is0(), cofactored: diff.clearCofactor().is0() }
}

describe('ed25519.json', () => {
  const v = vector<{
    cases: { name: string; public_key: string; message: string; signature: string; valid: boolean; error?: string
      cofactorless_equation: boolean; cofactored_equation: boolean }[]
  }>('ed25519')
  for (const c of v.cases) {
    it(c.name, () => {
      const pub = h(c.public_key), msg = h(c.message), sig = h(c.signature)
      const r = attempt(() => verifySignature(pub, msg, sig))
      expect(r.error === '').toBe(c.valid)
      expect(r.error).toBe(c.error ?? '')
      // The bare equations, evaluated with the library's curve arithmetic,
      // say what the vector says they say.
      expect(edEquations(pub, msg, sig)).toEqual({ cofactorless: c.cofactorless_equation, cofactored: c.cofactored_equation })
    })
  }
  it('needs the explicit checks: @noble/curves alone accepts what the rule refuses', () => {
    const accepted = v.cases.filter((c) => !c.valid && ed25519.verify(h(c.signature), h(c.message), h(c.public_key)))
    const strict = v.cases.filter((c) => !c.valid && ed25519.verify(h(c.signature), h(c.message), h(c.public_key), { zip215: false }))
    // ZIP-215 (the default) takes small-order and non-canonical keys and the
    // cofactored-only cases; even RFC 8032 mode takes the cofactored-only ones.
    expect(accepted.map((c) => c.name)).toContain('torsion in R (cofactored only)')
    expect(accepted.map((c) => c.name)).toContain('non-canonical key y = p+1')
    expect(strict.map((c) => c.name)).toEqual(['torsion in R (cofactored only)', 'mixed-order key, k ≢ 0 mod 8 (cofactored only)'])
  })
})

describe('x25519.json', () => {
  const v = vector<{ cases: { name: string; public_key: string; valid: boolean; error?: string }[] }>('x25519')
  for (const c of v.cases) {
    it(c.name, () => {
      const r = attempt(() => checkDHPublic(h(c.public_key)))
      expect(r.error === '').toBe(c.valid)
      expect(r.error).toBe(c.error ?? '')
    })
  }
})

// ---- Identities, client lists, safety numbers

interface ClientVec {
  user_id: string; client_id: string; signing_seed: string; identity_private: string
  signing_key: string; identity_key: string; identity_sig: string
}

/** client rebuilds a client's keys from its vector, checking its public values, and through generate() too. */
function client(v: ClientVec): ClientKeys {
  const k = new ClientKeys(v.user_id, v.client_id, new SigningKey(h(v.signing_seed)), new DHKey(h(v.identity_private)))
  const id = k.public()
  expect(hex(id.signingKey)).toBe(v.signing_key)
  expect(hex(id.identityKey)).toBe(v.identity_key)
  expect(hex(id.identitySig)).toBe(v.identity_sig)
  const rnd = scriptedRandom(h(v.signing_seed), h(v.identity_private))
  expect(hex(ClientKeys.generate(rnd, v.user_id, v.client_id).public().identitySig)).toBe(v.identity_sig)
  expect(rnd.left()).toBe(0)
  return k
}

describe('identity.json', () => {
  const v = vector<{
    clients: ClientVec[]; master_seeds: string[]; master_keys: string[]; client_list_version: number; client_list_sig: string
    safety_number: string; safety_qr: string; client_fingerprint: string; client_qr: string
  }>('identity')
  it('reproduces identities, the client list, safety number, QR codes and fingerprint', () => {
    const ids: ClientIdentity[] = v.clients.map((c) => client(c).public())
    const masters = v.master_seeds.map((s, i) => {
      const m = new SigningKey(h(s))
      expect(hex(m.publicKey)).toBe(v.master_keys[i])
      return m
    })
    const [a1, a2, b1] = ids as [ClientIdentity, ClientIdentity, ClientIdentity]
    // Entries given out of order: signClientList sorts them.
    const l = signClientList(masters[0]!, 'alice', v.client_list_version, [
      { clientId: 'a2', signingKey: a2.signingKey }, { clientId: 'a1', signingKey: a1.signingKey },
    ])
    expect(hex(l.sig)).toBe(v.client_list_sig)
    verifyClientList(l)
    expect(clientListContains(l, a1) && clientListContains(l, a2) && !clientListContains(l, b1)).toBe(true)

    const alice: UserKeys = { userId: 'alice', masterKey: masters[0]!.publicKey, clients: [a2, a1] }
    const bob: UserKeys = { userId: 'bob', masterKey: masters[1]!.publicKey, clients: [b1] }
    expect(safetyNumber(bob, alice)).toBe(v.safety_number)
    expect(safetyNumber(alice, bob)).toBe(v.safety_number)
    expect(hex(safetyQR(alice, bob))).toBe(v.safety_qr)
    verifySafetyQR(h(v.safety_qr), bob, alice)
    expect(clientFingerprint(a2)).toBe(v.client_fingerprint)
    const qr = { userId: a2.userId, clientId: a2.clientId, signingKey: a2.signingKey, identityKey: a2.identityKey, masterKey: masters[0]!.publicKey }
    expect(hex(marshalClientQR(qr))).toBe(v.client_qr)
    clientQRMatches(parseClientQR(h(v.client_qr)), a2, masters[0]!.publicKey)
  })
})

// ---- Handshake

interface PrekeyVec { id: number; private: string; public: string; sig?: string }
interface HandshakeCase {
  name: string; alice: ClientVec; bob: ClientVec
  bob_signed_prekey: PrekeyVec; bob_pq_prekey: PrekeyVec; bob_one_time_prekey: PrekeyVec | null
  ephemeral_private: string; kem_randomness: string; ratchet_private: string
  base_key: string; kem_ciphertext: string; kem_shared_secret: string; dh: string[]; transcript: string; shared_key: string
  plaintext: string; prekey_message: string; reply_ratchet_private: string; reply_plaintext: string; reply: string; now: number
}

/** replayHandshake sets both sessions up from a case's inputs, checking every output; it returns them after the reply. */
function replayHandshake(c: HandshakeCase): { alice: Session; bob: Session } {
  const ak = client(c.alice)
  const bk = client(c.bob)
  const spk = new DHKey(h(c.bob_signed_prekey.private))
  const pq = new KEMKey(h(c.bob_pq_prekey.private))
  expect(hex(spk.publicKey)).toBe(c.bob_signed_prekey.public)
  expect(hex(pq.publicKey)).toBe(c.bob_pq_prekey.public)
  const b: Bundle = {
    ...bk.public(),
    signedPrekey: { id: c.bob_signed_prekey.id, key: spk.publicKey, sig: h(c.bob_signed_prekey.sig) },
    pqPrekey: { id: c.bob_pq_prekey.id, key: pq.publicKey, sig: h(c.bob_pq_prekey.sig) },
  }
  let opk: DHKey | undefined
  if (c.bob_one_time_prekey) {
    opk = new DHKey(h(c.bob_one_time_prekey.private))
    expect(hex(opk.publicKey)).toBe(c.bob_one_time_prekey.public)
    b.oneTimePrekey = { id: c.bob_one_time_prekey.id, key: opk.publicKey }
  }
  const rnd = scriptedRandom(h(c.ephemeral_private), h(c.kem_randomness), h(c.ratchet_private))
  const alice = initiate(ak, b, rnd)
  expect(rnd.left()).toBe(0)

  // Every intermediate value.
  const ek = new DHKey(h(c.ephemeral_private))
  expect(hex(alice.baseKey)).toBe(c.base_key)
  expect(hex(ek.publicKey)).toBe(c.base_key)
  const kem = mlkemEncapsulate(pq.publicKey, h(c.kem_randomness))
  expect(hex(kem.ciphertext)).toBe(c.kem_ciphertext)
  expect(hex(kem.sharedSecret)).toBe(c.kem_shared_secret)
  const dhs = [ak.identity.dh(spk.publicKey), ek.dh(bk.identity.publicKey), ek.dh(spk.publicKey)]
  if (opk) dhs.push(ek.dh(opk.publicKey))
  expect(dhs.map(hex)).toEqual(c.dh)
  // Bob computes the same DH outputs from his side.
  const bobDHs = [spk.dh(ak.identity.publicKey), bk.identity.dh(ek.publicKey), spk.dh(ek.publicKey)]
  if (opk) bobDHs.push(opk.dh(ek.publicKey))
  expect(bobDHs.map(hex)).toEqual(c.dh)
  expect(hex(alice.transcript)).toBe(c.transcript)
  const sk = sharedKey(alice.transcript, dhs, kem.sharedSecret)
  expect(hex(sk)).toBe(c.shared_key)
  const [rk] = kdfRK(sk, new DHKey(h(c.ratchet_private)).dh(spk.publicKey))
  expect(hex(alice.inspect().rk)).toBe(hex(rk))

  const rnd0 = scriptedRandom()
  expect(hex(alice.encrypt(h(c.plaintext), rnd0))).toBe(c.prekey_message)
  const pm = parsePrekeyMessage(h(c.prekey_message))
  const { session: bob, plaintext } = respond(bk, spk, pq, opk, pm, c.now)
  expect(hex(plaintext)).toBe(c.plaintext)
  expect(hex(bob.transcript)).toBe(c.transcript)
  expect(hex(bob.encrypt(h(c.reply_plaintext), scriptedRandom(h(c.reply_ratchet_private))))).toBe(c.reply)
  expect(hex(alice.decrypt(h(c.reply), c.now))).toBe(c.reply_plaintext)
  expect(alice.established && bob.established).toBe(true)
  return { alice, bob }
}

const handshakes = () => loadVector<{ cases: HandshakeCase[] }>('handshake').cases

describe('handshake.json', () => {
  for (const c of vector<{ cases: HandshakeCase[] }>('handshake').cases) {
    it(c.name, () => {
      replayHandshake(c)
    })
  }
})

// ---- Ratchet

interface RatchetStep { op: string; party: string; id: string; rand?: string; plaintext?: string; message: string; now?: number; error?: string }

describe('ratchet.json', () => {
  const v = vector<{ cases: { name: string; handshake: string; steps: RatchetStep[] }[] }>('ratchet')
  for (const c of v.cases) {
    it(c.name, () => {
      const hs = handshakes().find((x) => x.name === c.handshake)!
      const { alice, bob } = replayHandshake(hs)
      const s: Record<string, Session> = { alice, bob }
      c.steps.forEach((st, i) => {
        const where = `step ${i} (${st.party} ${st.op}s ${st.id})`
        if (st.op === 'encrypt') {
          const rnd = scriptedRandom(h(st.rand))
          expect(hex(s[st.party]!.encrypt(h(st.plaintext), rnd)), where).toBe(st.message)
          expect(rnd.left(), where).toBe(0)
        } else {
          const before = s[st.party]!.toBytes()
          const r = attempt(() => s[st.party]!.decrypt(h(st.message), st.now ?? 0))
          expect(r.error, where).toBe(st.error ?? '')
          if (r.error === '') expect(hex(r.value!), where).toBe(st.plaintext ?? '')
          else expect(hex(s[st.party]!.toBytes()), `${where}: a refused message changed the session`).toBe(hex(before))
        }
      })
    })
  }
})

// ---- Sender keys

interface SenderStep { op: string; member?: string; id?: string; rand?: string; plaintext?: string; message?: string; distribution?: string; now?: number; error?: string }

describe('senderkey.json', () => {
  const v = vector<{ group_id: string; sender: ClientVec; rand: string; created: number; steps: SenderStep[] }>('senderkey')
  it('replays distribution, out-of-order, replayed, changed and rotated messages', () => {
    const owner = client(v.sender)
    const id = owner.public()
    const rnd = scriptedRandom(h(v.rand))
    let k = SenderKey.create(owner, v.group_id, v.created, rnd)
    expect(rnd.left()).toBe(0)
    const members: Record<string, InboundSenderKey> = {}
    v.steps.forEach((st, i) => {
      const where = `step ${i} (${st.op} ${st.member ?? ''} ${st.id ?? ''})`
      switch (st.op) {
        case 'distribute': {
          expect(hex(marshalSenderKeyDistribution(k.distribution())), where).toBe(st.distribution)
          members[st.member!] = InboundSenderKey.accept(parseSenderKeyDistribution(h(st.distribution)), id)
          break
        }
        case 'encrypt':
          expect(hex(k.encrypt(h(st.plaintext))), where).toBe(st.message)
          break
        case 'rotate': {
          const r = scriptedRandom(h(st.rand))
          k = k.rotate(owner, v.created, r)
          expect(r.left(), where).toBe(0)
          break
        }
        case 'decrypt': {
          const r = attempt(() => members[st.member!]!.decrypt(h(st.message), st.now ?? 0))
          expect(r.error, where).toBe(st.error ?? '')
          if (r.error === '') expect(hex(r.value!), where).toBe(st.plaintext ?? '')
          break
        }
        default:
          throw new Error(`unknown step ${st.op}`)
      }
    })
  })
})

// ---- Envelope

describe('envelope.json', () => {
  const v = vector<{ cases: { name: string; envelope: string; group_protocol?: number; sender_user_id?: string; sender_client_id?: string; body?: string; error?: string }[] }>('envelope')
  for (const c of v.cases) {
    it(c.name, () => {
      const r = attempt(() => parseEnvelope(h(c.envelope)))
      expect(r.error).toBe(c.error ?? '')
      if (r.value) {
        const e = r.value
        expect(e.groupProtocol).toBe(c.group_protocol ?? 0)
        expect(e.senderUserId).toBe(c.sender_user_id)
        expect(e.senderClientId).toBe(c.sender_client_id)
        expect(hex(e.body)).toBe(c.body)
        expect(hex(marshalEnvelope(e))).toBe(c.envelope)
      }
    })
  }
})

// ---- Files

describe('file.json', () => {
  const v = vector<{ cases: { name: string; key: string; salt?: string; chunk_size?: number; plaintext?: string; ciphertext: string; error?: string }[] }>('file')
  for (const c of v.cases) {
    it(c.name, () => {
      const r = attempt(() => decryptFile(h(c.key), h(c.ciphertext)))
      expect(r.error).toBe(c.error ?? '')
      if (c.error) return
      expect(hex(r.value!)).toBe(c.plaintext ?? '')
      const rnd = scriptedRandom(h(c.salt))
      expect(hex(encryptFile(h(c.key), h(c.plaintext), c.chunk_size, rnd))).toBe(c.ciphertext)
      expect(rnd.left()).toBe(0)
    })
  }
})

// ---- Backup

describe('backup.json', () => {
  const v = vector<{
    recovery_key: string; recovery_key_text: string; backup_key: string; key_check: string; sequence: number; nonce: string
    plaintext: string; backup: { version: number; auth_data: string; data: string }; wrong_key: string; wrong_key_error: string
  }>('backup')
  it('reproduces the recovery key text, the derived keys, the backup and its contents', () => {
    const rk = parseRecoveryKey(v.recovery_key_text)
    expect(hex(rk)).toBe(v.recovery_key)
    expect(recoveryKeyText(rk)).toBe(v.recovery_key_text)
    const { key, check } = backupKeys(rk)
    expect(hex(key)).toBe(v.backup_key)
    expect(hex(check)).toBe(v.key_check)
    const b = backupFromJSON(v.backup)
    const { sequence, plaintext } = openBackup(rk, b)
    expect(sequence).toBe(v.sequence)
    expect(new TextDecoder().decode(plaintext)).toBe(v.plaintext)
    const contents = parseBackupContents(plaintext)
    expect(new TextDecoder().decode(marshalBackupContents(contents))).toBe(v.plaintext)
    const rnd = scriptedRandom(h(v.nonce))
    expect(backupToJSON(sealBackup(rk, v.sequence, plaintext, rnd))).toEqual(v.backup)
    expect(attempt(() => openBackup(h(v.wrong_key), b)).error).toBe(v.wrong_key_error)
  })
})

describe('vector files', () => {
  it('every committed vector file has a consumer here', () => {
    expect(vectorNames.length).toBeGreaterThanOrEqual(10)
    expect([...consumed].sort()).toEqual(vectorNames)
  })
})
