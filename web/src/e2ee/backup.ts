// The key backup and the recovery key (docs/protocol.md "Key backup").

import { base64, concat, context, equal, Reader, readRand, unbase64, u64, type RandomSource } from './bytes'
import { E2EEError, fail } from './errors'
import { hkdfSHA256, sha256, xopen, xseal } from './primitives'
import { parseSenderKeyDistribution } from './senderkey'

export const labelRecoveryKey = 'UnhidraRecoveryKey'
export const labelBackupKey = 'UnhidraBackupKey'
export const labelBackupCheck = 'UnhidraBackupCheck'
export const labelBackupAD = 'UnhidraBackup'

const recoveryKeyVersion = 1
/** BackupVersion is the version of the backup format. */
export const BackupVersion = 1
/** MaxBackupSenderKeys bounds the sender keys of one backup. */
export const MaxBackupSenderKeys = 100000

/** generateRecoveryKey reads 32 bytes. */
export function generateRecoveryKey(rand?: RandomSource): Uint8Array {
  return readRand(rand, 32)
}

function checkKey(k: Uint8Array): void {
  if (!(k instanceof Uint8Array) || k.length !== 32) fail('invalid_key', 'recovery key must be 32 bytes')
}

function recoveryChecksum(k: Uint8Array): Uint8Array {
  return sha256(context(labelRecoveryKey, new Uint8Array([recoveryKeyVersion]), k)).slice(0, 2)
}

const base58Alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

function base58Encode(b: Uint8Array): string {
  let n = 0n
  for (const x of b) n = (n << 8n) | BigInt(x)
  let out = ''
  while (n > 0n) {
    out = base58Alphabet[Number(n % 58n)]! + out
    n /= 58n
  }
  for (const x of b) {
    if (x !== 0) break
    out = '1' + out
  }
  return out
}

function base58Decode(s: string): Uint8Array | undefined {
  let zeros = 0
  while (zeros < s.length && s[zeros] === '1') zeros++
  let n = 0n
  for (const ch of s) {
    const d = base58Alphabet.indexOf(ch)
    if (d < 0) return undefined
    n = n * 58n + BigInt(d)
  }
  const bytes: number[] = []
  while (n > 0n) {
    bytes.unshift(Number(n & 0xffn))
    n >>= 8n
  }
  return new Uint8Array([...new Array<number>(zeros).fill(0), ...bytes])
}

/**
 * recoveryKeyText is the recovery key as the user sees it: base58 of
 * version (1) || key || 2 checksum bytes, in groups of 4 characters.
 */
export function recoveryKeyText(k: Uint8Array): string {
  checkKey(k)
  const s = base58Encode(concat(new Uint8Array([recoveryKeyVersion]), k, recoveryChecksum(k)))
  const groups: string[] = []
  for (let i = 0; i < s.length; i += 4) groups.push(s.slice(i, i + 4))
  return groups.join(' ')
}

/** parseRecoveryKey reads a typed or pasted recovery key; whitespace is ignored, a typo fails the checksum. */
export function parseRecoveryKey(text: string): Uint8Array {
  // Go's strings.Fields splits on Unicode white space.
  const s = text.split(/[\s\u0085]+/u).join('')
  if (new TextEncoder().encode(s).length > 64) fail('invalid_message', 'recovery key too long')
  const raw = base58Decode(s)
  if (!raw || raw.length !== 1 + 32 + 2) fail('invalid_message', 'not a recovery key')
  if (raw[0] !== recoveryKeyVersion) fail('unsupported_version', `recovery key version ${raw[0]}`)
  const k = raw.slice(1, 33)
  if (!equal(raw.slice(33), recoveryChecksum(k))) fail('wrong_recovery_key', 'checksum')
  return k
}

/** backupKeys derives the backup's encryption key and its key check from the recovery key. */
export function backupKeys(k: Uint8Array): { key: Uint8Array; check: Uint8Array } {
  checkKey(k)
  return { key: hkdfSHA256(k, undefined, labelBackupKey, 32), check: hkdfSHA256(k, undefined, labelBackupCheck, 16) }
}

/** Backup is the encrypted key backup; the JSON of PUT|GET /api/v1/keys/backup is backupToJSON's. */
export interface Backup {
  version: number
  /** version (1) || key check (16) || sequence (u64). */
  authData: Uint8Array
  /** nonce (24) || XChaCha20-Poly1305 ciphertext. */
  data: Uint8Array
}

export interface BackupJSON {
  version: number
  auth_data: string
  data: string
}

export function backupToJSON(b: Backup): BackupJSON {
  return { version: b.version, auth_data: base64(b.authData), data: base64(b.data) }
}

export function backupFromJSON(j: unknown): Backup {
  const o = j as Partial<BackupJSON> | null
  if (!o || typeof o !== 'object' || typeof o.version !== 'number' || typeof o.auth_data !== 'string' || typeof o.data !== 'string') {
    fail('invalid_message', 'backup JSON')
  }
  return { version: o.version, authData: unbase64(o.auth_data), data: unbase64(o.data) }
}

/**
 * sealBackup encrypts a backup under the recovery key. sequence grows with
 * every backup the user writes. rand supplies the 24-byte nonce.
 */
export function sealBackup(key: Uint8Array, sequence: number, plaintext: Uint8Array, rand?: RandomSource): Backup {
  if (!Number.isSafeInteger(sequence) || sequence < 0) fail('invalid_message', 'backup sequence')
  const nonce = readRand(rand, 24)
  const { key: enc, check } = backupKeys(key)
  const authData = concat(new Uint8Array([BackupVersion]), check, u64(sequence))
  const data = concat(nonce, xseal(enc, nonce, plaintext, context(labelBackupAD, authData)))
  return { version: BackupVersion, authData, data }
}

/**
 * openBackup decrypts a backup: another recovery key is
 * `wrong_recovery_key` (told by the key check, before decrypting), a
 * changed backup `decrypt`. The caller refuses a sequence below the last
 * it wrote or read.
 */
export function openBackup(key: Uint8Array, b: Backup): { sequence: number; plaintext: Uint8Array } {
  if (b.version !== BackupVersion) fail('unsupported_version', `backup version ${b.version}`)
  const r = new Reader(b.authData)
  const v = r.u8()
  const check = r.take(16)
  const sequence = r.u64()
  r.done()
  if (v !== b.version) fail('invalid_message', 'backup versions disagree')
  const { key: enc, check: want } = backupKeys(key)
  if (!equal(check, want)) fail('wrong_recovery_key', 'key check')
  if (b.data.length < 24 + 16) fail('invalid_message', 'backup data too short')
  let plaintext: Uint8Array
  try {
    plaintext = xopen(enc, b.data.subarray(0, 24), b.data.subarray(24), context(labelBackupAD, b.authData))
  } catch (e) {
    if (e instanceof E2EEError) fail('decrypt', 'backup')
    throw e
  }
  return { sequence, plaintext }
}

/**
 * BackupContents is the plaintext of a key backup (JSON): the master
 * key's seed, when the backup is to let a new client verify itself, and
 * the sender keys needed to read past messages (SenderKeyDistribution
 * encodings, each checked against its sender's identity when restored).
 */
export interface BackupContents {
  masterKey?: Uint8Array | undefined
  senderKeys: Uint8Array[]
}

/** marshalBackupContents writes the JSON exactly as the Go implementation does (member order, no spaces). */
export function marshalBackupContents(c: BackupContents): Uint8Array {
  const parts = [`"version":${BackupVersion}`]
  if (c.masterKey && c.masterKey.length > 0) parts.push(`"master_key":${JSON.stringify(base64(c.masterKey))}`)
  parts.push(`"sender_keys":[${c.senderKeys.map((k) => JSON.stringify(base64(k))).join(',')}]`)
  return new TextEncoder().encode(`{${parts.join(',')}}`)
}

/** parseBackupContents decodes the contents strictly: one JSON object, no unknown member, well-formed sender keys. */
export function parseBackupContents(b: Uint8Array): BackupContents {
  let o: unknown
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b))
  } catch {
    return fail('invalid_message', 'backup contents: not JSON')
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) fail('invalid_message', 'backup contents: not an object')
  const obj = o as Record<string, unknown>
  for (const k of Object.keys(obj)) {
    if (k !== 'version' && k !== 'master_key' && k !== 'sender_keys') fail('invalid_message', `backup contents: unknown member ${k}`)
  }
  if (obj.version !== BackupVersion) {
    if (typeof obj.version === 'number' || obj.version === undefined) fail('unsupported_version', `backup contents version ${String(obj.version)}`)
    fail('invalid_message', 'backup contents: version')
  }
  let masterKey: Uint8Array | undefined
  if (obj.master_key !== undefined && obj.master_key !== null) {
    if (typeof obj.master_key !== 'string') fail('invalid_message', 'backup contents: master key')
    masterKey = unbase64(obj.master_key)
    if (masterKey.length !== 32) fail('invalid_message', 'master key seed')
  }
  const sk = obj.sender_keys ?? []
  if (!Array.isArray(sk)) fail('invalid_message', 'backup contents: sender keys')
  if (sk.length > MaxBackupSenderKeys) fail('invalid_message', 'too many sender keys')
  const senderKeys = sk.map((s) => {
    if (typeof s !== 'string') fail('invalid_message', 'backup contents: sender key')
    const d = unbase64(s)
    parseSenderKeyDistribution(d)
    return d
  })
  return { masterKey, senderKeys }
}
