// @vitest-environment node
//
// Files, the key backup, safety numbers, identities and the directory's
// JSON, mirroring e2ee/misc_test.go.

import { describe, expect, it } from 'vitest'
import {
  backupFromJSON,
  backupToJSON,
  generateRecoveryKey,
  marshalBackupContents,
  openBackup,
  parseBackupContents,
  parseRecoveryKey,
  recoveryKeyText,
  sealBackup,
} from './backup'
import { base64, concat, hex, scriptedRandom, unbase64, utf8 } from './bytes'
import { bundleFromJSON, bundleToJSON, clientListFromJSON, clientListToJSON, identityFromJSON, identityToJSON } from './directory'
import { GroupMLS, GroupPairwise, GroupSenderKeys, marshalApplication, marshalEnvelope, parseApplication, parseEnvelope } from './envelope'
import { E2EEError } from './errors'
import { decryptFile, encryptFile, FileDecryptor, FileEncryptor, fileCiphertextSize, FileHeaderSize, generateFileKey } from './file'
import { ClientKeys, clientListContains, signClientList, verifyClientList, verifyIdentity, type ClientIdentity, type ClientList } from './identity'
import { DHKey, KEMKey, SigningKey } from './keys'
import { signPQPrekey, signPrekey, verifyBundle, type Bundle } from './prekey'
import { clientFingerprint, clientQRMatches, marshalClientQR, parseClientQR, safetyNumber, safetyQR, verifySafetyQR, type UserKeys } from './safety'
import { marshalSenderKeyDistribution, SenderKey } from './senderkey'
import { initiate } from './session'
import { detRand, t0, text } from './testutil'

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

describe('file encryption', () => {
  it('round-trips files of every size class, streamed in odd pieces too', () => {
    const r = detRand('file')
    const key = generateFileKey(r)
    for (const n of [0, 1, 1023, 1024, 1025, 4096, 5000]) {
      const pt = r(n)
      const ct = encryptFile(key, pt, 1024, r)
      expect(ct.length).toBe(fileCiphertextSize(n, 1024))
      expect(decryptFile(key, ct)).toEqual(pt)
      const e = new FileEncryptor(key, 1024, scriptedRandom(ct.subarray(9, 25)))
      const parts: Uint8Array[] = []
      for (let off = 0; off < n; off += 333) parts.push(e.push(pt.subarray(off, Math.min(n, off + 333))))
      parts.push(e.finish())
      expect(concat(...parts)).toEqual(ct)
      const d = new FileDecryptor(key)
      const out: Uint8Array[] = []
      for (let off = 0; off < ct.length; off += 77) out.push(d.push(ct.subarray(off, Math.min(ct.length, off + 77))))
      out.push(d.finish())
      expect(concat(...out)).toEqual(pt)
    }
  })

  it('detects truncation, reordering, dropped and appended chunks and any changed byte', () => {
    const r = detRand('file-tamper')
    const key = generateFileKey(r)
    const ct = encryptFile(key, r(3 * 1024), 1024, r)
    const chunk = 1024 + 16
    const hd = FileHeaderSize
    const cases: [string, Uint8Array, string][] = [
      ['truncated after a chunk', ct.slice(0, hd + 2 * chunk), 'truncated'],
      ['truncated to the header', ct.slice(0, hd), 'truncated'],
      ['truncated inside the header', ct.slice(0, 10), 'truncated'],
      ['truncated mid-chunk', ct.slice(0, hd + chunk + 100), 'decrypt'],
      ['chunks reordered', concat(ct.slice(0, hd), ct.slice(hd + chunk, hd + 2 * chunk), ct.slice(hd, hd + chunk), ct.slice(hd + 2 * chunk)), 'decrypt'],
      ['final chunk dropped in the middle', concat(ct.slice(0, hd + chunk), ct.slice(hd + 2 * chunk)), 'decrypt'],
      ['data after the final chunk', concat(ct, new Uint8Array(1)), 'invalid_message'],
      ['byte flipped', flip(ct, hd + chunk + 5), 'decrypt'],
      ['chunk size changed', flip(ct, 6), 'decrypt'],
      ['salt changed', flip(ct, 10), 'decrypt'],
      ['not a file', flip(ct, 0), 'invalid_message'],
      ['version', flip(ct, 4), 'unsupported_version'],
    ]
    for (const [name, bad, want] of cases) expect(refused(() => decryptFile(key, bad)), name).toBe(want)
    expect(refused(() => decryptFile(generateFileKey(r), ct))).toBe('decrypt')
    // A streaming reader returns only authenticated chunks, and stays failed.
    const d = new FileDecryptor(key)
    const bad = flip(ct, hd + 2 * chunk + 5)
    expect(d.push(bad.subarray(0, hd + 2 * chunk + 1)).length).toBe(2 * 1024)
    expect(d.push(bad.subarray(hd + 2 * chunk + 1)).length).toBe(0) // the final chunk waits for finish()
    expect(refused(() => d.finish())).toBe('decrypt')
    expect(refused(() => d.finish())).toBe('decrypt')
    expect(refused(() => d.push(new Uint8Array(1)))).toBe('decrypt')
    expect(refused(() => new FileEncryptor(key, 512))).toBe('invalid_message')
  })
})

describe('recovery key and backup', () => {
  it('writes 47 characters in 12 groups, ignores whitespace and catches typos', () => {
    const r = detRand('recovery')
    for (let i = 0; i < 50; i++) {
      const k = generateRecoveryKey(r)
      const s = recoveryKeyText(k)
      expect(s.replaceAll(' ', '').length).toBe(47)
      expect(s.split(' ').length).toBe(12)
      expect(parseRecoveryKey(s)).toEqual(k)
      expect(parseRecoveryKey(' ' + s.replaceAll(' ', '\n') + ' ')).toEqual(k)
      const typo = s.split('')
      let j = Math.floor(typo.length / 2)
      if (typo[j] === ' ') j++
      typo[j] = typo[j] === 'z' ? 'y' : 'z'
      expect(refused(() => parseRecoveryKey(typo.join('')))).not.toBe('')
    }
    for (const bad of ['', '0OIl', '1111', 'z'.repeat(100)]) expect(refused(() => parseRecoveryKey(bad)), bad).toBe('invalid_message')
    for (const k of [new Uint8Array(32), new Uint8Array(32).fill(0xff)]) {
      expect(parseRecoveryKey(recoveryKeyText(k))).toEqual(k)
      expect(recoveryKeyText(k).replaceAll(' ', '').length).toBe(47)
    }
  })

  it('seals and opens a backup through the API JSON, and refuses a wrong key, changes and other versions', () => {
    const r = detRand('backup')
    const k = generateRecoveryKey(r)
    const owner = ClientKeys.generate(r, 'alice', 'a1')
    const d = marshalSenderKeyDistribution(SenderKey.create(owner, 'channel-1', t0, r).distribution())
    const pt = marshalBackupContents({ masterKey: r(32), senderKeys: [d] })
    const b = sealBackup(k, 7, pt, r)
    const b2 = backupFromJSON(JSON.parse(JSON.stringify(backupToJSON(b))))
    const { sequence, plaintext } = openBackup(k, b2)
    expect(sequence).toBe(7)
    expect(plaintext).toEqual(pt)
    const c = parseBackupContents(plaintext)
    expect(c.senderKeys).toEqual([d])
    expect(refused(() => openBackup(generateRecoveryKey(r), b))).toBe('wrong_recovery_key')
    expect(refused(() => openBackup(k, { ...b, data: flip(b.data, 30) }))).toBe('decrypt')
    expect(refused(() => openBackup(k, { ...b, data: flip(b.data, 0) }))).toBe('decrypt')
    expect(refused(() => openBackup(k, { ...b, authData: flip(b.authData, 20) }))).toBe('decrypt')
    expect(refused(() => openBackup(k, { ...b, version: 2 }))).toBe('unsupported_version')
    for (const s of ['{"version":1,"sender_keys":[],"x":1}', '{"version":2,"sender_keys":[]}', '{"version":1,"master_key":"AAAA","sender_keys":[]}',
      '{"version":1,"sender_keys":[]} {}', '{"version":1,"sender_keys":["AAAA"]}']) {
      expect(refused(() => parseBackupContents(utf8(s))), s).not.toBe('')
    }
    expect(parseBackupContents(utf8('{"version":1,"sender_keys":[]}'))).toEqual({ masterKey: undefined, senderKeys: [] })
    expect(new TextDecoder().decode(marshalBackupContents({ senderKeys: [] }))).toBe('{"version":1,"sender_keys":[]}')
  })
})

function userKeys(...cs: ClientKeys[]): UserKeys {
  const m = new SigningKey(new Uint8Array(32).fill(cs[0]!.userId.charCodeAt(0)))
  return { userId: cs[0]!.userId, masterKey: m.publicKey, clients: cs.map((c) => c.public()) }
}

describe('safety numbers and QR codes', () => {
  it('gives both users the same 60 digits, changing with any client or master key', () => {
    const r = detRand('safety')
    const a1 = ClientKeys.generate(r, 'alice', 'a1')
    const a2 = ClientKeys.generate(r, 'alice', 'a2')
    const b1 = ClientKeys.generate(r, 'bob', 'b1')
    const alice = userKeys(a1, a2)
    const bob = userKeys(b1)
    const n1 = safetyNumber(alice, bob)
    expect(safetyNumber(bob, alice)).toBe(n1)
    expect(n1).toMatch(/^[0-9]{60}$/)
    expect(safetyNumber(userKeys(a2, a1), bob)).toBe(n1)
    const n = safetyNumber(userKeys(a1), bob)
    expect(n.slice(0, 30)).not.toBe(n1.slice(0, 30))
    expect(n.slice(30)).toBe(n1.slice(30))
    const mallory = { ...userKeys(a1, a2), masterKey: b1.signing.publicKey }
    expect(safetyNumber(mallory, bob)).not.toBe(n1)
    expect(refused(() => safetyNumber(alice, alice))).toBe('invalid_message')
    expect(refused(() => safetyNumber({ ...alice, masterKey: new Uint8Array(32) }, bob))).toBe('invalid_key')

    const qr = safetyQR(alice, bob)
    verifySafetyQR(qr, bob, alice)
    expect(refused(() => verifySafetyQR(qr, alice, bob))).toBe('mismatch')
    expect(refused(() => verifySafetyQR(qr, bob, mallory))).toBe('mismatch')
    expect(refused(() => verifySafetyQR(qr.subarray(0, qr.length - 1), bob, alice))).toBe('invalid_message')
  })

  it('orders user ids by UTF-8 bytes, as Go does', () => {
    // U+FF21 sorts after U+1F600 in UTF-16 code units but before it in UTF-8.
    const r = detRand('safety-order')
    const x = ClientKeys.generate(r, '\uff21', 'c')
    const y = ClientKeys.generate(r, '\u{1f600}', 'c')
    const ux = userKeys(x)
    const uy = userKeys(y)
    const both = safetyNumber(ux, uy)
    expect(safetyNumber(uy, ux)).toBe(both)
    const alone = safetyNumber(ux, userKeys(ClientKeys.generate(r, '\u{1f601}', 'c')))
    expect(both.slice(0, 30)).toBe(alone.slice(0, 30))
  })

  it('verifies a client by its fingerprint and QR code', () => {
    const r = detRand('client-qr')
    const a1 = ClientKeys.generate(r, 'alice', 'a1').public()
    const a2 = ClientKeys.generate(r, 'alice', 'a2').public()
    const f = clientFingerprint(a1)
    expect(f).toMatch(/^[0-9]{30}$/)
    expect(clientFingerprint(a2)).not.toBe(f)
    const master = new SigningKey(r(32)).publicKey
    const q = parseClientQR(marshalClientQR({ ...a2, masterKey: master }))
    clientQRMatches(q, a2, master)
    expect(refused(() => clientQRMatches(q, a1, master))).toBe('mismatch')
    expect(refused(() => clientQRMatches(q, a2, a1.signingKey))).toBe('mismatch')
  })
})

describe('identities and client lists', () => {
  it('binds ids and keys by the identity signature and lists clients under the master key', () => {
    const r = detRand('identity')
    const master = SigningKey.generate(r)
    const a1 = ClientKeys.generate(r, 'alice', 'a1')
    const a2 = ClientKeys.generate(r, 'alice', 'a2')
    const id1 = a1.public()
    const id2 = a2.public()
    verifyIdentity(id1)
    const changes: Record<string, (i: ClientIdentity) => ClientIdentity> = {
      user: (i) => ({ ...i, userId: 'bob' }),
      client: (i) => ({ ...i, clientId: 'a9' }),
      'identity key': (i) => ({ ...i, identityKey: id2.identityKey }),
      'signing key': (i) => ({ ...i, signingKey: id2.signingKey }),
    }
    for (const [name, change] of Object.entries(changes)) expect(refused(() => verifyIdentity(change(id1))), name).toBe('bad_signature')
    expect(refused(() => verifyIdentity({ ...id1, identityKey: new Uint8Array(32) }))).toBe('invalid_key')
    expect(refused(() => verifyIdentity({ ...id1, clientId: 'a\u0007' }))).toBe('invalid_message')

    const l = signClientList(master, 'alice', 3, [{ clientId: 'a2', signingKey: id2.signingKey }, { clientId: 'a1', signingKey: id1.signingKey }])
    verifyClientList(l)
    expect(clientListContains(l, id1) && clientListContains(l, id2)).toBe(true)
    const ghost = ClientKeys.generate(r, 'alice', 'a3').public()
    expect(clientListContains(l, ghost)).toBe(false)
    const forged: ClientList[] = [
      { ...l, clients: [...l.clients, { clientId: 'a3', signingKey: ghost.signingKey }] },
      { ...l, clients: [{ clientId: 'a1', signingKey: ghost.signingKey }, l.clients[1]!] },
      { ...l, version: 2 },
    ]
    for (const f of forged) expect(refused(() => verifyClientList(f))).toBe('bad_signature')
    expect(refused(() => verifyClientList({ ...l, clients: [l.clients[1]!, l.clients[0]!] }))).toBe('invalid_message')
    expect(refused(() => signClientList(master, 'alice', 1, [{ clientId: 'a1', signingKey: id1.signingKey }, { clientId: 'a1', signingKey: id2.signingKey }]))).toBe('invalid_message')
    const l2 = clientListFromJSON(JSON.parse(JSON.stringify(clientListToJSON(l))))
    verifyClientList(l2)
    expect(l2).toEqual(l)
    const b = ClientKeys.fromBytes(a1.toBytes())
    expect(b.public()).toEqual(id1)
    expect(refused(() => ClientKeys.fromBytes(concat(a1.toBytes(), new Uint8Array(1))))).toBe('invalid_message')
  })

  it('decodes bundles from the directory JSON, applying every acceptance rule', () => {
    const r = detRand('bundle-json')
    const k = ClientKeys.generate(r, 'bob', 'b1')
    const b: Bundle = {
      ...k.public(), signedPrekey: signPrekey(k, 1, DHKey.generate(r)), pqPrekey: signPQPrekey(k, 2, KEMKey.generate(r)),
      oneTimePrekey: { id: 101, key: DHKey.generate(r).publicKey },
    }
    const j = JSON.stringify(bundleToJSON(b))
    for (const f of ['"user_id"', '"client_id"', '"identity_key"', '"signing_key"', '"identity_sig"', '"signed_prekey":{"id":1,"key":', '"pq_prekey":{"id":2,"key":', '"one_time_prekey":{"id":']) {
      expect(j).toContain(f)
    }
    const b2 = bundleFromJSON(JSON.parse(j))
    verifyBundle(b2)
    expect(b2).toEqual(b)
    const bad = j.replace(base64(b.identityKey), base64(new Uint8Array(32)))
    expect(refused(() => bundleFromJSON(JSON.parse(bad)))).toBe('invalid_key')
    const unpadded = j.replace(base64(b.signingKey), base64(b.signingKey).replace(/=+$/, ''))
    expect(refused(() => bundleFromJSON(JSON.parse(unpadded)))).toBe('invalid_key')
    const noPQ = JSON.parse(j) as Record<string, unknown>
    delete noPQ.pq_prekey
    expect(refused(() => bundleFromJSON(noPQ))).toBe('invalid_message')
    // A key whose ML-KEM coefficient is not reduced (FIPS 203 modulus check).
    const pq = b.pqPrekey.key.slice()
    pq[0] = 0xff
    pq[1]! |= 0x0f
    expect(refused(() => bundleFromJSON({ ...JSON.parse(j), pq_prekey: { id: 2, key: base64(pq), sig: base64(b.pqPrekey.sig) } }))).toBe('invalid_key')
    expect(identityFromJSON(identityToJSON(k.public()))).toEqual(k.public())
    expect(unbase64(base64(new Uint8Array([1, 2, 3, 4, 5])))).toEqual(new Uint8Array([1, 2, 3, 4, 5]))
  })
})

describe('envelope', () => {
  it('carries pairwise and sender-key bodies and refuses MLS and mismatched bodies', () => {
    const r = detRand('envelope')
    const bob = ClientKeys.generate(r, 'bob', 'b1')
    const alice = ClientKeys.generate(r, 'alice', 'a1')
    const spk = DHKey.generate(r)
    const pq = KEMKey.generate(r)
    const s = initiate(alice, { ...bob.public(), signedPrekey: signPrekey(bob, 1, spk), pqPrekey: signPQPrekey(bob, 2, pq) }, r)
    const m = s.encrypt(text('x'), r)
    const gm = SenderKey.create(alice, 'channel-1', t0, r).encrypt(text('y'))
    for (const [gp, body] of [[GroupPairwise, m], [GroupSenderKeys, gm]] as const) {
      const e = parseEnvelope(marshalEnvelope({ groupProtocol: gp, senderUserId: 'alice', senderClientId: 'a1', body }))
      expect(e.groupProtocol).toBe(gp)
      expect(hex(e.body)).toBe(hex(body))
    }
    expect(refused(() => parseEnvelope(marshalEnvelope({ groupProtocol: GroupMLS, senderUserId: 'alice', senderClientId: 'a1', body: new Uint8Array([1]) })))).toBe('unsupported_version')
    expect(refused(() => parseEnvelope(marshalEnvelope({ groupProtocol: GroupSenderKeys, senderUserId: 'alice', senderClientId: 'a1', body: m })))).not.toBe('')
    expect(refused(() => marshalEnvelope({ groupProtocol: GroupPairwise, senderUserId: '', senderClientId: 'a1', body: m }))).toBe('invalid_message')
    const app = marshalApplication(utf8('{"t":"x"}'))
    expect(new TextDecoder().decode(parseApplication(app))).toBe('{"t":"x"}')
  })
})
