import { ApiError } from './errors'
import type { User } from './types'

// The REST client. The access token lives only in memory (this module);
// the refresh token lives only in the server's HttpOnly cookie (API.md
// "cookie mode"), so script on the page can never read it. One refresh runs
// at a time across every open tab: a Web Lock serialises them, and the tab
// that refreshed shares the new access token over a BroadcastChannel, so the
// others use it instead of spending the refresh token again.

export interface Tokens {
  access_token: string
  expires_in: number
  user: User
  session_id: string
}

type Listener = (t: Tokens | null) => void

const LOCK = 'unhidra-refresh'
const CHANNEL = 'unhidra-auth'

class Auth {
  private token = ''
  private expiresAt = 0 // ms since epoch
  private user: User | null = null
  private sessionId = ''
  private inflight: Promise<boolean> | null = null
  private listeners = new Set<Listener>()
  private bc: BroadcastChannel | null =
    typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel(CHANNEL) : null

  constructor() {
    this.bc?.addEventListener('message', (ev: MessageEvent) => {
      const m = ev.data as { kind: string; tokens?: Tokens; at?: number }
      if (m.kind === 'tokens' && m.tokens && m.at) {
        // Another tab refreshed: take its token if it is of the same user.
        if (!this.user || this.user.id === m.tokens.user.id) this.set(m.tokens, m.at, false)
      } else if (m.kind === 'logout') {
        this.clear(false)
      }
    })
  }

  get accessToken(): string {
    return this.token
  }
  get currentUser(): User | null {
    return this.user
  }
  get session(): string {
    return this.sessionId
  }
  /** ms until the access token expires (negative once it has). */
  get remaining(): number {
    return this.expiresAt - Date.now()
  }

  onChange(l: Listener): () => void {
    this.listeners.add(l)
    return () => this.listeners.delete(l)
  }

  set(t: Tokens, at = Date.now(), broadcast = true) {
    this.token = t.access_token
    this.expiresAt = at + t.expires_in * 1000
    this.user = t.user
    this.sessionId = t.session_id
    if (broadcast) this.bc?.postMessage({ kind: 'tokens', tokens: t, at })
    for (const l of this.listeners) l(t)
  }

  setUser(u: User) {
    this.user = u
  }

  clear(broadcast = true) {
    const had = this.token !== '' || this.user !== null
    this.token = ''
    this.expiresAt = 0
    this.user = null
    this.sessionId = ''
    if (broadcast) this.bc?.postMessage({ kind: 'logout' })
    if (had || broadcast) for (const l of this.listeners) l(null)
  }

  /**
   * refresh gets a fresh access token from the refresh cookie unless the
   * one held has more than minRemaining ms left (force: refresh anyway,
   * because the server refused it). Concurrent
   * callers in this tab share one attempt; tabs take turns through the lock,
   * and a tab that waited finds the token the previous holder broadcast.
   */
  refresh(opts: { force?: boolean; minRemaining?: number } = {}): Promise<boolean> {
    const min = opts.minRemaining ?? 30_000
    // A token with time left (one another tab just shared, say) is as good
    // as a new one, unless the server has refused it (force).
    if (!opts.force && !this.inflight && this.token && this.remaining > min) return Promise.resolve(true)
    if (!this.inflight) {
      const stale = this.token
      const fresh = () => this.token !== '' && this.token !== stale && this.remaining > min
      const run = async (contended: boolean): Promise<boolean> => {
        // Another tab held the lock: it has just refreshed, and its token
        // is on its way over the BroadcastChannel.
        if (contended && !fresh()) await this.tokenFromAnotherTab(500)
        if (fresh()) return true
        try {
          const t = await rawFetch<Tokens>('POST', '/api/v1/auth/refresh', { cookie: true }, '', true)
          if (this.user && t.user.id !== this.user.id) {
            // Someone signed in as another user in another tab: the cookie
            // is theirs now. This tab's state is the previous user's, so
            // start again from scratch as whoever the cookie says.
            this.clear(false)
            location.reload()
            return false
          }
          this.set(t)
          return true
        } catch (e) {
          if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
            this.clear(false)
            return false
          }
          throw e
        }
      }
      const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined
      const p: Promise<boolean> = locks
        ? (locks.request(LOCK, { ifAvailable: true }, (lock) => (lock ? run(false) : locks.request(LOCK, () => run(true)))) as unknown as Promise<boolean>)
        : run(false)
      this.inflight = p.finally(() => {
        this.inflight = null
      })
    }
    return this.inflight
  }

  /** tokenFromAnotherTab waits up to ms for a token broadcast by another tab. */
  private tokenFromAnotherTab(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms)
      const off = this.onChange(() => done())
      function done() {
        clearTimeout(t)
        off()
        resolve()
      }
    })
  }
}

export const auth = new Auth()

async function rawFetch<T>(
  method: string,
  path: string,
  body: unknown,
  token: string,
  csrf = false,
  signal?: AbortSignal,
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (token) headers['Authorization'] = 'Bearer ' + token
  if (csrf) headers['X-Unhidra-CSRF'] = '1'
  let res: Response
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal,
    })
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e
    throw new ApiError('network', 'Cannot reach the server.', 0)
  }
  if (res.status === 204) return undefined as T
  let data: unknown = null
  const text = await res.text()
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = null
    }
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string } } | null)?.error
    const retry = Number(res.headers.get('Retry-After') ?? '0') || 0
    throw new ApiError(err?.code ?? 'internal', err?.message ?? `The server answered ${res.status}.`, res.status, retry)
  }
  return data as T
}

/**
 * api calls the REST API with the in-memory access token, refreshing it
 * once (through the cookie) when the server says it expired.
 */
export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  if (!auth.accessToken || auth.remaining < 5_000) await auth.refresh().catch(() => false)
  try {
    return await rawFetch<T>(method, path, body, auth.accessToken, false, signal)
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && (await auth.refresh({ force: true }))) {
      return rawFetch<T>(method, path, body, auth.accessToken, false, signal)
    }
    throw e
  }
}

/** publicApi calls an endpoint that needs no token. */
export function publicApi<T>(method: string, path: string, body?: unknown): Promise<T> {
  return rawFetch<T>(method, path, body, '')
}

/**
 * rawPost posts to a sign-in endpoint that takes no token, with the CSRF
 * header its refresh cookie needs.
 */
export function rawPost<T>(path: string, body: unknown): Promise<T> {
  return rawFetch<T>('POST', path, body, '', true)
}

/** MFAChallenge is a login's answer when the account has two-factor on. */
export interface MFAChallenge {
  mfa_required: true
  mfa_ticket: string
  expires_in: number
}

/**
 * login signs in with a password. For an account with two-factor on it
 * returns the challenge instead of signing in: finish with loginMFA.
 */
export async function login(username: string, password: string): Promise<Tokens | MFAChallenge> {
  const t = await rawFetch<Tokens | MFAChallenge>('POST', '/api/v1/auth/login', { username, password, cookie: true }, '', true)
  if ('mfa_required' in t && t.mfa_required) return t
  auth.set(t as Tokens)
  return t
}

/** loginMFA finishes a two-factor login with a TOTP or recovery code. */
export async function loginMFA(ticket: string, code: string): Promise<Tokens> {
  const t = await rawFetch<Tokens>('POST', '/api/v1/auth/login/mfa', { mfa_ticket: ticket, code, cookie: true }, '', true)
  auth.set(t)
  return t
}

export async function logout(): Promise<void> {
  try {
    await rawFetch('POST', '/api/v1/auth/logout', undefined, auth.accessToken, true)
  } finally {
    auth.clear()
  }
}

/** q builds a query string from the defined values. */
export function q(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v))
  const s = u.toString()
  return s ? '?' + s : ''
}
