// REST calls against a test server, for arranging state and for acting
// "from elsewhere" (another client, a script) while a browser watches or is
// offline. They use Node's fetch, not the browser: nothing here touches a
// page's cookies or storage.
import { randomUUID } from 'node:crypto'
import type { Server } from './server'

/** The password registerViaApi gives every user unless told otherwise (meets the 15-character minimum). */
export const defaultPassword = 'correct horse battery staple'

export interface User {
  id: string
  username: string
  display_name: string
  role: string
  [field: string]: unknown
}

export interface Channel {
  id: string
  name?: string
  kind: string
  encrypted: boolean
  last_seq: number
  [field: string]: unknown
}

export interface Message {
  id: string
  channel_id: string
  seq: number
  client_msg_id: string
  body?: string
  deleted: boolean
  [field: string]: unknown
}

/** What POST /api/v1/auth/login returns. */
export interface Session {
  accessToken: string
  refreshToken: string
  user: User
}

/** A registered user and the credentials to sign in with. */
export interface Account {
  user: User
  username: string
  password: string
}

/** An HTTP error answer, with the API's error code. */
export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly code: string,
    readonly body: unknown,
  ) {
    super(`${method} ${path}: ${status} ${code}`)
  }
}

export interface RequestOptions {
  /** A session (its access token) or a bare access token for Authorization: Bearer. */
  auth?: Session | string
  /** Sent as JSON. */
  json?: unknown
  headers?: Record<string, string>
}

export interface Response<T> {
  status: number
  headers: Headers
  body: T
}

export interface Api {
  /**
   * Any call: resolves with the status, headers and parsed JSON body (or the
   * text when it is not JSON) whatever the status; it never throws on 4xx/5xx.
   */
  request<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<Response<T>>
  /** Like request, but a status other than 2xx rejects with ApiError; resolves with the body. */
  call<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<T>
  /** POST /api/v1/auth/register → the user. */
  register(input: { username: string; password: string; display_name?: string; setup_token?: string; invite?: string }): Promise<User>
  /** POST /api/v1/auth/login → the session (bearer tokens in the body). */
  login(username: string, password: string): Promise<Session>
  /** POST /api/v1/channels (kind defaults to public) → the channel. */
  createChannel(auth: Session, input: { name?: string; kind?: 'public' | 'private' | 'direct'; topic?: string; encrypted?: boolean; members?: string[] }): Promise<Channel>
  /** POST /api/v1/channels/{id}/join. */
  joinChannel(auth: Session, channelId: string): Promise<void>
  /** POST /api/v1/channels/{id}/messages with a fresh client_msg_id unless one is given → the message. */
  postMessage(auth: Session, channelId: string, body: string, opts?: { clientMsgId?: string; threadRootId?: string }): Promise<Message>
  /** GET /api/v1/channels/{id}/messages → the messages, ascending seq. */
  listMessages(auth: Session, channelId: string, query?: { after?: number; before?: number; limit?: number }): Promise<Message[]>
}

/** The REST API of a test server. */
export function api(server: Pick<Server, 'url'>): Api {
  const request = async <T>(method: string, path: string, opts: RequestOptions = {}): Promise<Response<T>> => {
    const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers }
    if (opts.auth !== undefined) {
      headers.Authorization = `Bearer ${typeof opts.auth === 'string' ? opts.auth : opts.auth.accessToken}`
    }
    let body: string | undefined
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(opts.json)
    }
    const res = await fetch(server.url + path, { method, headers, body })
    const text = await res.text()
    let parsed: unknown = text
    if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') {
      parsed = JSON.parse(text)
    }
    return { status: res.status, headers: res.headers, body: parsed as T }
  }

  const call = async <T>(method: string, path: string, opts?: RequestOptions): Promise<T> => {
    const res = await request<T>(method, path, opts)
    if (res.status < 200 || res.status > 299) {
      const err = (res.body as { error?: { code?: string } } | undefined)?.error
      throw new ApiError(method, path, res.status, err?.code ?? '', res.body)
    }
    return res.body
  }

  return {
    request,
    call,
    async register(input) {
      return (await call<{ user: User }>('POST', '/api/v1/auth/register', { json: input })).user
    },
    async login(username, password) {
      const r = await call<{ access_token: string; refresh_token: string; user: User }>('POST', '/api/v1/auth/login', {
        json: { username, password },
      })
      return { accessToken: r.access_token, refreshToken: r.refresh_token, user: r.user }
    },
    async createChannel(auth, input) {
      return (await call<{ channel: Channel }>('POST', '/api/v1/channels', { auth, json: { kind: 'public', ...input } })).channel
    },
    async joinChannel(auth, channelId) {
      await call('POST', `/api/v1/channels/${encodeURIComponent(channelId)}/join`, { auth })
    },
    async postMessage(auth, channelId, body, opts = {}) {
      const json: Record<string, string> = { client_msg_id: opts.clientMsgId ?? randomUUID(), body }
      if (opts.threadRootId) json.thread_root_id = opts.threadRootId
      return (await call<{ message: Message }>('POST', `/api/v1/channels/${encodeURIComponent(channelId)}/messages`, { auth, json }))
        .message
    },
    async listMessages(auth, channelId, query = {}) {
      const q = new URLSearchParams()
      for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v))
      const qs = q.size > 0 ? `?${q}` : ''
      return (await call<{ messages: Message[] }>('GET', `/api/v1/channels/${encodeURIComponent(channelId)}/messages${qs}`, { auth }))
        .messages
    },
  }
}

/**
 * Registers a user through the API. With admin: true it uses the server's
 * setup token, so the user becomes the admin (once per server: the token is
 * one-time). The password is defaultPassword unless given.
 */
export async function registerViaApi(
  server: Pick<Server, 'url' | 'setupToken'>,
  username: string,
  opts: { password?: string; displayName?: string; admin?: boolean } = {},
): Promise<Account> {
  const password = opts.password ?? defaultPassword
  const input: Parameters<Api['register']>[0] = { username, password }
  if (opts.displayName !== undefined) input.display_name = opts.displayName
  if (opts.admin) {
    if (!server.setupToken) throw new Error('this server logged no setup token: it already has an admin')
    input.setup_token = server.setupToken
  }
  const user = await api(server).register(input)
  return { user, username, password }
}

/** Signs an account in through the API (a session of its own, separate from any browser's). */
export function loginViaApi(server: Pick<Server, 'url'>, account: Pick<Account, 'username' | 'password'>): Promise<Session> {
  return api(server).login(account.username, account.password)
}
