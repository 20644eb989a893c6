// Passkeys (WebAuthn): registering one for the signed-in user and signing
// in with one. The server hands out the options of a ceremony as JSON with
// binary members in base64url; the browser's API wants ArrayBuffers, and
// its answer goes back as JSON again (PublicKeyCredential.toJSON's form).
import { api, auth, rawPost } from './http'
import { ApiError } from './errors'
import type { Passkey, PasskeyBegin, PasskeysResponse, PasskeyResponse, Tokens } from './types'

export type { Passkey }

/** passkeysSupported reports whether this browser can use passkeys here. */
export function passkeysSupported(): boolean {
  return typeof window !== 'undefined' && 'PublicKeyCredential' in window && !!navigator.credentials && window.isSecureContext
}

function fromB64url(s: string): ArrayBuffer {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)
  const bin = atob(b64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out.buffer
}

function toB64url(buf: ArrayBuffer | ArrayBufferView | null | undefined): string | undefined {
  if (!buf) return undefined
  const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
  let bin = ''
  for (const b of bytes) bin += String.fromCharCode(b)
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

type JSONDescriptor = { id: string; type: string; transports?: string[] }

function descriptors(list: JSONDescriptor[] | undefined): PublicKeyCredentialDescriptor[] | undefined {
  return list?.map((d) => ({ type: 'public-key', id: fromB64url(d.id), transports: d.transports as AuthenticatorTransport[] | undefined }))
}

/* eslint-disable @typescript-eslint/no-explicit-any */
function creationOptions(o: any): PublicKeyCredentialCreationOptions {
  return { ...o, challenge: fromB64url(o.challenge), user: { ...o.user, id: fromB64url(o.user.id) }, excludeCredentials: descriptors(o.excludeCredentials) }
}

function requestOptions(o: any): PublicKeyCredentialRequestOptions {
  return { ...o, challenge: fromB64url(o.challenge), allowCredentials: descriptors(o.allowCredentials) }
}

/** credentialJSON is the browser's answer in the form the server reads. */
function credentialJSON(c: PublicKeyCredential): unknown {
  const r = c.response as AuthenticatorAttestationResponse & AuthenticatorAssertionResponse
  const response: Record<string, unknown> = { clientDataJSON: toB64url(r.clientDataJSON) }
  if ('attestationObject' in r && r.attestationObject) {
    response.attestationObject = toB64url(r.attestationObject)
    response.transports = typeof r.getTransports === 'function' ? r.getTransports() : []
  } else {
    response.authenticatorData = toB64url(r.authenticatorData)
    response.signature = toB64url(r.signature)
    response.userHandle = toB64url(r.userHandle)
  }
  return {
    id: c.id,
    rawId: toB64url(c.rawId),
    type: c.type,
    authenticatorAttachment: (c as any).authenticatorAttachment ?? undefined,
    response,
    clientExtensionResults: c.getClientExtensionResults(),
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * PasskeyCancelled is thrown when the user dismissed the browser's
 * passkey prompt (or it timed out): nothing to report as an error.
 */
export class PasskeyCancelled extends Error {}

function browserError(e: unknown): never {
  if (e instanceof DOMException) {
    if (e.name === 'NotAllowedError' || e.name === 'AbortError') throw new PasskeyCancelled('The passkey prompt was closed.')
    if (e.name === 'InvalidStateError') throw new Error('This device already holds a passkey for your account.')
    if (e.name === 'SecurityError') throw new Error('Passkeys are not available at this address; use the server’s public name.')
  }
  throw e
}

/** addPasskey registers a passkey on this device under name. */
export async function addPasskey(name: string): Promise<Passkey> {
  const b = await api<PasskeyBegin>('POST', '/api/v1/auth/webauthn/register/begin')
  let cred: PublicKeyCredential
  try {
    cred = (await navigator.credentials.create({ publicKey: creationOptions(b.options) })) as PublicKeyCredential
  } catch (e) {
    browserError(e)
  }
  const r = await api<PasskeyResponse>('POST', '/api/v1/auth/webauthn/register/finish', {
    ceremony_id: b.ceremony_id,
    name,
    credential: credentialJSON(cred),
  })
  return r.passkey
}

/** signInWithPasskey asks the browser for a passkey and signs in with it. */
export async function signInWithPasskey(): Promise<void> {
  const b = await rawPost<PasskeyBegin>('/api/v1/auth/webauthn/login/begin', undefined)
  let cred: PublicKeyCredential
  try {
    cred = (await navigator.credentials.get({ publicKey: requestOptions(b.options) })) as PublicKeyCredential
  } catch (e) {
    browserError(e)
  }
  let t: Tokens
  try {
    t = await rawPost<Tokens>('/api/v1/auth/webauthn/login/finish', {
      ceremony_id: b.ceremony_id,
      credential: credentialJSON(cred),
      cookie: true,
    })
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && /not accepted/.test(e.message)) {
      throw new Error('This passkey was not accepted: it may have been removed from your account. Sign in another way.')
    }
    throw e
  }
  auth.set(t)
}

export async function listPasskeys(): Promise<Passkey[]> {
  return (await api<PasskeysResponse>('GET', '/api/v1/users/me/passkeys')).passkeys
}

export async function renamePasskey(id: string, name: string): Promise<Passkey> {
  return (await api<PasskeyResponse>('PATCH', `/api/v1/users/me/passkeys/${encodeURIComponent(id)}`, { name })).passkey
}

export async function removePasskey(id: string): Promise<void> {
  await api('DELETE', `/api/v1/users/me/passkeys/${encodeURIComponent(id)}`)
}
