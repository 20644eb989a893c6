import { auth } from './http'
import type { ClientFrame, HelloFrame, ServerFrame } from './types.gen'

// The real-time connection (API.md "Real-time"). It connects with the
// access token in the subprotocol, sends `resume` with the caller's
// positions as its first frame, reconnects with backoff and jitter, renews
// the token on the open socket before it expires, and notices a dead
// connection (a laptop lid closed and opened) by a missed pong or the
// browser's online/visibility events.

export type ConnState = 'connecting' | 'online' | 'reconnecting' | 'offline'

export interface SocketHooks {
  /** positions to resume from, read at every (re)connect */
  positions(): Record<string, number>
  frame(f: ServerFrame): void
  state(s: ConnState): void
  /** called after hello (every connect); the place to resend pending sends */
  ready(hello: HelloFrame): void
  /** the session ended (4001 and the refresh failed) */
  signedOut(): void
  /** the server refused this connection for good (4003) */
  refused(reason: string): void
}

const PING_EVERY = 20_000
const PONG_WITHIN = 10_000

export class Socket {
  private ws: WebSocket | null = null
  private attempt = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private pingTimer: ReturnType<typeof setInterval> | undefined
  private pongTimer: ReturnType<typeof setTimeout> | undefined
  private renewTimer: ReturnType<typeof setTimeout> | undefined
  private stopped = true
  private isOpen = false
  /** counts connect attempts: an attempt that finds a newer one started gives way */
  private generation = 0
  private connecting = false
  /** 4001 closes since the last hello: a second in a row backs off */
  private unauthorized = 0
  state: ConnState = 'offline'

  constructor(private hooks: SocketHooks) {
    if (typeof window !== 'undefined') {
      window.addEventListener('online', () => this.poke())
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'visible') this.poke()
      })
    }
  }

  start() {
    if (!this.stopped) return
    this.stopped = false
    this.connect()
  }

  stop() {
    this.stopped = true
    this.generation++
    this.connecting = false
    clearTimeout(this.timer)
    this.teardown(1000)
    this.setState('offline')
  }

  get connected(): boolean {
    return this.isOpen
  }

  send(f: ClientFrame): boolean {
    if (!this.ws || !this.isOpen) return false
    this.ws.send(JSON.stringify(f))
    return true
  }

  /** poke checks a possibly dead connection now (after sleep or network change). */
  poke() {
    if (this.stopped) return
    if (!this.ws) {
      if (this.connecting) return
      clearTimeout(this.timer)
      this.attempt = 0
      this.connect()
      return
    }
    this.ping()
  }

  private setState(s: ConnState) {
    if (this.state === s) return
    this.state = s
    this.hooks.state(s)
  }

  private async connect() {
    if (this.stopped || this.ws || this.connecting) return
    const gen = ++this.generation
    this.connecting = true
    this.setState(this.attempt === 0 && this.state === 'offline' ? 'connecting' : 'reconnecting')
    if (!auth.accessToken || auth.remaining < 10_000) {
      let ok: boolean
      try {
        ok = await auth.refresh({ minRemaining: 10_000 })
      } catch {
        if (gen !== this.generation) return
        this.connecting = false
        this.retryLater()
        return
      }
      // stopped, or another attempt took over, while the refresh ran
      if (gen !== this.generation || this.stopped) return
      if (!ok) {
        this.connecting = false
        this.stopped = true
        this.hooks.signedOut()
        return
      }
    }
    this.connecting = false
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
    let ws: WebSocket
    try {
      ws = new WebSocket(`${proto}//${location.host}/api/v1/ws`, ['unhidra.v1', 'bearer.' + auth.accessToken])
    } catch {
      this.retryLater()
      return
    }
    this.ws = ws
    ws.onopen = () => {
      this.isOpen = true
      // resume first: the server holds live events until the first frame.
      const resume: ClientFrame = { type: 'resume', positions: this.hooks.positions() }
      ws.send(JSON.stringify(resume))
      this.pingTimer = setInterval(() => this.ping(), PING_EVERY)
      this.scheduleRenew()
    }
    ws.onmessage = (ev) => {
      let f: ServerFrame
      try {
        f = JSON.parse(String(ev.data)) as ServerFrame
      } catch {
        return
      }
      if (typeof f !== 'object' || f === null || typeof f.type !== 'string') return
      if (f.type === 'pong') {
        clearTimeout(this.pongTimer)
        return
      }
      if (f.type === 'hello') {
        this.attempt = 0
        this.unauthorized = 0
        this.setState('online')
        this.hooks.ready(f)
        return
      }
      this.hooks.frame(f)
    }
    ws.onclose = (ev) => {
      if (this.ws !== ws) return
      this.teardown()
      if (this.stopped) return
      if (ev.code === 4001) {
        // The token expired or the session was revoked: a refresh tells which.
        this.unauthorized++
        auth
          .refresh({ force: true })
          .then((ok) => {
            if (ok) this.retryLater(this.unauthorized < 2)
            else {
              this.stopped = true
              this.setState('offline')
              this.hooks.signedOut()
            }
          })
          .catch(() => this.retryLater())
        this.setState('reconnecting')
        return
      }
      if (ev.code === 4003) {
        // Forbidden: retrying would be refused the same way.
        this.stopped = true
        this.setState('offline')
        this.hooks.refused(ev.reason)
        return
      }
      this.retryLater()
    }
  }

  private ping() {
    if (!this.ws || !this.isOpen) return
    clearTimeout(this.pongTimer)
    try {
      this.ws.send('{"type":"ping"}')
    } catch {
      /* closing */
    }
    this.pongTimer = setTimeout(() => {
      // No pong: the connection is dead even if the browser has not noticed.
      const ws = this.ws
      this.teardown(4000)
      if (ws && !this.stopped) this.retryLater(true)
    }, PONG_WITHIN)
  }

  private scheduleRenew() {
    clearTimeout(this.renewTimer)
    // Renew a minute before expiry (a quarter of the lifetime for short
    // ones), unless another tab already did.
    const margin = Math.min(60_000, auth.remaining / 4)
    const wait = Math.max(1_000, auth.remaining - margin)
    this.renewTimer = setTimeout(async () => {
      try {
        if (await auth.refresh({ minRemaining: margin * 1.5 })) this.send({ type: 'auth', access_token: auth.accessToken })
      } catch {
        /* the close at expiry reconnects */
      }
      if (this.isOpen) this.scheduleRenew()
    }, wait)
  }

  private teardown(code?: number) {
    clearInterval(this.pingTimer)
    clearTimeout(this.pongTimer)
    clearTimeout(this.renewTimer)
    const ws = this.ws
    this.ws = null
    this.isOpen = false
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null
      try {
        ws.close(code === undefined ? 1000 : code)
      } catch {
        /* already closed */
      }
    }
  }

  private retryLater(now = false) {
    if (this.stopped) return
    this.setState('reconnecting')
    clearTimeout(this.timer)
    const base = now ? 0 : Math.min(30_000, 500 * 2 ** Math.min(this.attempt, 6))
    const wait = base === 0 ? 50 : base / 2 + Math.random() * (base / 2)
    this.attempt++
    this.timer = setTimeout(() => this.connect(), wait)
  }
}
