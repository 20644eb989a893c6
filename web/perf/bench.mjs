#!/usr/bin/env node
// The web client's performance benchmark: `npm run bench` in web/ (and
// `make bench`). It starts a real `unhidra serve` on an ephemeral port with a
// fresh data directory, drives Debian's Chromium with playwright-core, and
// measures
//
//   1. the JavaScript and CSS the login screen and the channel screen
//      transfer with a cold cache (gzip body bytes);
//   2. time to interactive on localhost: navigation start → login form
//      usable; "Sign in" pressed → the channel's message box focused with
//      messages visible; a signed-in reload with a cold cache → the same;
//   3. scrolling a channel of 10,000 messages from the bottom to its very
//      first message (loading older pages as the client does) and back
//      down, one step per animation frame, against a baseline of the same
//      scroll in a channel that fits in one page.
//
// It prints a summary and writes everything to web/.e2e/bench.json. The
// figures depend on the machine: compare runs made on one machine, and read
// the scroll figures as ratios against the baseline of the same run.
// docs/web.md ("Performance") explains how to read them.
//
// Settings (environment):
//   UNHIDRA_BENCH_RUNS         cold loads for the transfer and timing figures (5)
//   UNHIDRA_BENCH_MESSAGES     messages in the large channel (10000)
//   UNHIDRA_BENCH_STEP         pixels scrolled per animation frame (300)
//   UNHIDRA_BENCH_CONCURRENCY  parallel requests while seeding (16)
//   UNHIDRA_BENCH_BIN          the server binary to run; unset: build
//                              web/.e2e/unhidra (go build -tags webui), after
//                              `npm run build` when web/dist is missing
//   UNHIDRA_BENCH_CHROMIUM     the browser (/usr/bin/chromium)
//   UNHIDRA_BENCH_OUT          the JSON report (web/.e2e/bench.json)
//   UNHIDRA_BENCH_PROFILE=1    also record a CPU profile of the large scroll
//                              (bench-scroll.cpuprofile beside the report);
//                              the profiler slows the page: its figures are
//                              then not comparable with other runs
import { spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, rmSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const repoRoot = path.resolve(webDir, '..')

const cfg = {
  runs: intEnv('UNHIDRA_BENCH_RUNS', 5, 1),
  messages: intEnv('UNHIDRA_BENCH_MESSAGES', 10_000, 51),
  step: intEnv('UNHIDRA_BENCH_STEP', 300, 10),
  concurrency: intEnv('UNHIDRA_BENCH_CONCURRENCY', 16, 1),
  chromium: process.env.UNHIDRA_BENCH_CHROMIUM || '/usr/bin/chromium',
  out: path.resolve(webDir, process.env.UNHIDRA_BENCH_OUT || '.e2e/bench.json'),
  profile: process.env.UNHIDRA_BENCH_PROFILE === '1',
  viewport: { width: 1280, height: 800 },
  // The baseline channel holds exactly one page (the client loads 50).
  baselineMessages: 50,
  // The baseline scroll repeats until it has at least this many frames, so
  // that its percentiles mean something.
  baselineMinFrames: 600,
  // What the first screens may transfer: 200 kB of gzip JavaScript.
  jsBudgetBytes: 200_000,
}

// The same launch flags as the browser tests (web/playwright.config.ts).
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

// The flags of the browser tests' servers (web/e2e/server.ts): no login or
// registration limits (every user signs in from 127.0.0.1), no MQTT broker.
// Access tokens outlive the seeding so that it needs no refresh. Sending
// messages over REST has no rate limit to raise.
const serverArgs = ['--mqtt-addr=', '--log-format=json', '--log-level=info', '--rate-login=0', '--rate-register=0', '--shutdown-timeout=2s', '--access-ttl=2h']

const password = 'correct horse battery staple'

// ---- small helpers ----------------------------------------------------------

function intEnv(name, def, min) {
  const v = process.env[name]
  if (v === undefined || v === '') return def
  const n = Number(v)
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}=${v}: want an integer ≥ ${min}`)
  return n
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function log(...a) {
  console.error('bench:', ...a)
}

function quantile(sorted, q) {
  if (sorted.length === 0) return 0
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i]
}

function summary(values) {
  const s = [...values].sort((a, b) => a - b)
  return { n: s.length, median: round(quantile(s, 0.5)), min: round(s[0] ?? 0), max: round(s[s.length - 1] ?? 0) }
}

function round(x, digits = 1) {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

const kB = (bytes) => `${(bytes / 1000).toFixed(1)} kB`
const MB = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`

// ---- the server ----------------------------------------------------------------

function run(cmd, cwd) {
  log(cmd)
  const r = spawnSync('sh', ['-c', cmd], { cwd, stdio: ['ignore', 'inherit', 'inherit'] })
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error(`\`${cmd}\` failed (${r.signal ?? `exit ${r.status}`})`)
}

function serverBinary() {
  if (process.env.UNHIDRA_BENCH_BIN) return path.resolve(process.env.UNHIDRA_BENCH_BIN)
  if (!existsSync(path.join(webDir, 'dist', 'index.html'))) run('npm run build', webDir)
  run('go build -tags webui -o web/.e2e/unhidra ./cmd/unhidra', repoRoot)
  return path.join(webDir, '.e2e', 'unhidra')
}

/** Starts `unhidra serve` on 127.0.0.1:0 and a fresh data directory; resolves once it listens. */
async function startServer(binary) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'unhidra-bench-'))
  const env = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('UNHIDRA_')) env[k] = v
  const proc = spawn(binary, ['serve', '--addr=127.0.0.1:0', `--data=${dataDir}`, ...serverArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines = []
  let exited = false
  const gone = new Promise((resolve) => proc.once('exit', () => ((exited = true), resolve())))
  const stop = async () => {
    if (!exited) {
      proc.kill('SIGTERM')
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(t)
    }
    await rm(dataDir, { recursive: true, force: true })
  }
  // Interrupted: take the server and its data along.
  process.once('exit', () => {
    if (!exited) proc.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  })
  try {
    const got = await new Promise((resolve, reject) => {
      let token = ''
      const timer = setTimeout(() => reject(new Error(`unhidra serve did not start within 20 s\n${lines.join('\n')}`)), 20_000)
      const onLine = (line) => {
        if (lines.length < 200) lines.push(line)
        let rec
        try {
          rec = JSON.parse(line)
        } catch {
          return
        }
        if (typeof rec.setup_token === 'string') token = rec.setup_token
        if (rec.msg === 'unhidra listening' && typeof rec.url === 'string') {
          clearTimeout(timer)
          resolve({ url: rec.url, setupToken: token })
        }
      }
      createInterface({ input: proc.stdout }).on('line', onLine)
      createInterface({ input: proc.stderr }).on('line', onLine)
      proc.once('error', (err) => reject(new Error(`cannot run ${binary}: ${err.message}`)))
      proc.once('exit', (code, sig) => setImmediate(() => reject(new Error(`unhidra serve exited (${sig ?? code})\n${lines.join('\n')}`))))
    })
    if (!got.setupToken) throw new Error('unhidra serve logged no setup token')
    return { ...got, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

// ---- the REST API ---------------------------------------------------------------

function client(base) {
  async function call(method, p, { token, json } = {}) {
    for (let attempt = 0; ; attempt++) {
      const headers = { Accept: 'application/json' }
      if (token) headers.Authorization = `Bearer ${token}`
      if (json !== undefined) headers['Content-Type'] = 'application/json'
      const res = await fetch(base + p, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) })
      const text = await res.text()
      if ((res.status === 429 || res.status === 503) && attempt < 20) {
        await sleep(Math.min(2000, 50 * 2 ** attempt))
        continue
      }
      if (res.status < 200 || res.status > 299) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 300)}`)
      return text ? JSON.parse(text) : undefined
    }
  }
  return {
    call,
    async register(username, displayName, setupToken) {
      const json = { username, password, display_name: displayName }
      if (setupToken) json.setup_token = setupToken
      return (await call('POST', '/api/v1/auth/register', { json })).user
    },
    async login(username) {
      const r = await call('POST', '/api/v1/auth/login', { json: { username, password } })
      return { token: r.access_token, user: r.user, username }
    },
    async createChannel(s, name, topic) {
      return (await call('POST', '/api/v1/channels', { token: s.token, json: { kind: 'public', name, topic } })).channel
    },
    join: (s, id) => call('POST', `/api/v1/channels/${id}/join`, { token: s.token }),
    async post(s, id, body) {
      return (await call('POST', `/api/v1/channels/${id}/messages`, { token: s.token, json: { client_msg_id: randomUUID(), body } })).message
    },
    read: (s, id, seq) => call('POST', `/api/v1/channels/${id}/read`, { token: s.token, json: { seq } }),
  }
}

// ---- message bodies -----------------------------------------------------------------

// A seeded generator, so that every run posts the same bodies.
function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const words = (
  'the deploy rollout queue cache index shard replica latency budget review branch merge release ticket customer ' +
  'dashboard alert metric query schema migration backup restore config token session socket frame channel thread ' +
  'we should could maybe today tomorrow after before again still already works fails looks good fine slow fast ' +
  'please check this that it them here there now later soon quick small large new old first last next ' +
  'and or but so because when while if then with without for from into onto about over under'
).split(' ')

/** makeBodies returns n message texts: plain, long, inline Markdown, lists, code, quotes, several lines. */
function makeBodies(n, seed) {
  const r = rng(seed)
  const pick = (a) => a[Math.floor(r() * a.length)]
  const sentence = (min, max) => {
    const k = min + Math.floor(r() * (max - min + 1))
    const w = Array.from({ length: k }, () => pick(words))
    w[0] = w[0][0].toUpperCase() + w[0].slice(1)
    return w.join(' ') + pick(['.', '.', '.', '?', '!'])
  }
  const short = ['ok', 'thanks!', 'lgtm 👍', 'on it', 'done', 'sounds good', '+1', 'will do 🙂', 'nice', 'back in 5']
  const bodies = []
  for (let i = 0; i < n; i++) {
    const x = r()
    let b
    if (x < 0.15) b = pick(short)
    else if (x < 0.4) b = sentence(5, 25)
    else if (x < 0.55) b = Array.from({ length: 3 + Math.floor(r() * 6) }, () => sentence(8, 30)).join(' ')
    else if (x < 0.7) b = `${sentence(3, 10)} **${pick(words)} ${pick(words)}** and \`${pick(words)}_${pick(words)}()\`, see [the ${pick(words)} notes](https://example.com/${pick(words)}/${i}) — _${pick(words)}_.`
    else if (x < 0.8) b = `${sentence(3, 8)}\n${Array.from({ length: 2 + Math.floor(r() * 4) }, () => `- ${sentence(2, 9)}`).join('\n')}`
    else if (x < 0.87) b = `${sentence(3, 8)}\n\`\`\`\n${Array.from({ length: 2 + Math.floor(r() * 6) }, (_, k) => `${'  '.repeat(k % 3)}${pick(words)}(${pick(words)}, ${Math.floor(r() * 100)})`).join('\n')}\n\`\`\``
    else if (x < 0.92) b = `> ${sentence(5, 15)}\n\n${sentence(3, 12)}`
    else b = Array.from({ length: 2 + Math.floor(r() * 4) }, () => sentence(2, 12)).join('\n')
    bodies.push(b)
  }
  return bodies
}

/** senders spreads messages over the users in runs, as a conversation goes. */
function makeSenders(n, users, seed) {
  const r = rng(seed)
  const out = []
  let cur = 0
  for (let i = 0; i < n; i++) {
    if (r() < 0.45) cur = Math.floor(r() * users)
    out.push(cur)
  }
  return out
}

async function seed(api, sessions, channelId, n, concurrency, seedValue) {
  const bodies = makeBodies(n, seedValue)
  const from = makeSenders(n, sessions.length, seedValue + 1)
  let next = 0
  let lastSeq = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      const m = await api.post(sessions[from[i]], channelId, bodies[i])
      lastSeq = Math.max(lastSeq, m.seq)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
  return lastSeq
}

// ---- in the page ------------------------------------------------------------------

// Installed before the client's own scripts on every document: records when
// the login form and the channel screen first become usable (a check on
// every DOM change, focus change and frame until the channel screen is
// there, then nothing: the scroll runs unobserved), the sign-in press, and
// long tasks. marks.loginDom and marks.channelDom are when the DOM became
// ready; marks.login and marks.channel when it was painted.
function pageInstrument() {
  const b = (window.__bench = { marks: {}, longtasks: [] })
  try {
    performance.setResourceTimingBufferSize(10_000)
  } catch {
    /* keep the default */
  }
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) b.longtasks.push([e.startTime, e.duration])
    }).observe({ type: 'longtask', buffered: true })
  } catch {
    /* not supported */
  }
  addEventListener('submit', () => (b.marks.submit ??= performance.now()), true)
  const visibleIn = (el, box) => {
    const r = el.getBoundingClientRect()
    return r.height > 0 && r.bottom > box.top && r.top < box.bottom
  }
  const loginReady = () => {
    const u = document.getElementById('login-username')
    if (!u || u.disabled || document.querySelector('[aria-busy="true"]')) return false
    const submit = u.closest('form')?.querySelector('button[type="submit"]')
    return !!submit && !submit.disabled
  }
  const channelReady = () => {
    const ta = document.activeElement
    if (!ta || ta.tagName !== 'TEXTAREA' || ta.disabled || !/^Message #/.test(ta.getAttribute('aria-label') ?? '')) return false
    const log = document.querySelector('[role="log"].timeline')
    if (!log) return false
    const box = log.getBoundingClientRect()
    for (const a of log.querySelectorAll('article[data-message-id]')) if (visibleIn(a, box)) return true
    return false
  }
  // The mark itself is set once the frame showing the DOM has been painted:
  // a task queued from the next animation frame runs after that paint.
  const painted = (name) => requestAnimationFrame(() => setTimeout(() => (b.marks[name] ??= performance.now())))
  let mo
  let done = false
  const check = () => {
    if (done) return
    const now = performance.now()
    if (b.marks.loginDom === undefined && loginReady()) {
      b.marks.loginDom = now
      painted('login')
    }
    if (b.marks.channelDom === undefined && channelReady()) {
      b.marks.channelDom = now
      painted('channel')
    }
    if (b.marks.channelDom !== undefined) {
      done = true
      mo?.disconnect()
      removeEventListener('focusin', check, true)
    }
  }
  mo = new MutationObserver(check)
  const observe = () => mo.observe(document.documentElement, { subtree: true, childList: true, attributes: true })
  if (document.documentElement) observe()
  else document.addEventListener('readystatechange', observe, { once: true })
  addEventListener('focusin', check, true)
  const frame = () => {
    check()
    if (!done) requestAnimationFrame(frame)
  }
  requestAnimationFrame(frame)
}

// Runs in the page: scrolls the timeline one way, step px per animation
// frame, recording every frame's timestamp: up until the channel's first
// message shows ("This is the very beginning"), or down to the bottom. Going
// up, the client loads older pages as the top comes near; should the view
// sit at the very top for a second without one arriving, it is nudged by a
// pixel so that the client sees a scroll event there again (counted as
// nudges: normally none). Also counts the distinct messages that went by.
async function pageScroll({ dir, step, timeoutMs }) {
  const el = document.querySelector('[role="log"].timeline')
  if (!el) throw new Error('no timeline')
  const introVisible = () => {
    const i = el.querySelector('.channel-intro')
    if (!i) return false
    const r = i.getBoundingClientRect()
    const e = el.getBoundingClientRect()
    return r.height > 0 && r.bottom > e.top && r.top < e.bottom
  }
  const seen = new Set()
  const frame = () => new Promise((r) => requestAnimationFrame(r))
  const deadline = performance.now() + timeoutMs
  const ts = []
  let stillAtTop = 0
  let nudges = 0
  let atBottom = 0
  let waiting = 0
  // The client moving the view between two frames (not this loop): holding
  // it still as rows above are measured, or as older messages are prepended.
  let expected = -1
  let corrections = 0
  let correctedPx = 0
  const result = (timedOut) => ({ ts, nudges, waiting, seen: [...seen], corrections, correctedPx, timedOut })
  for (;;) {
    const t = await frame()
    ts.push(t)
    for (const a of el.querySelectorAll('article[data-message-id]')) seen.add(a.getAttribute('data-message-id'))
    if (expected >= 0 && Math.abs(el.scrollTop - expected) > 1) {
      corrections++
      correctedPx += el.scrollTop - expected
    }
    if (t > deadline) return result(true)
    if (dir === 'up') {
      if (el.scrollTop === 0 && introVisible()) return result(false)
      if (el.scrollTop === 0) {
        // At the top, waiting for the next older page.
        waiting++
        if (++stillAtTop >= 60) {
          stillAtTop = 0
          nudges++
          el.scrollTop = 1
          expected = 1
          continue
        }
      } else stillAtTop = 0
      el.scrollTop = Math.max(0, el.scrollTop - step)
      expected = el.scrollTop
    } else {
      const bottom = el.scrollHeight - el.clientHeight
      if (el.scrollTop >= bottom - 1) {
        // Rows measured on the way may still grow the list: stay a few frames.
        if (++atBottom >= 5) return result(false)
      } else atBottom = 0
      el.scrollTop = Math.min(bottom, el.scrollTop + step)
      expected = el.scrollTop
    }
  }
}

function timelineNodes() {
  const el = document.querySelector('[role="log"].timeline')
  return {
    timelineElements: el ? el.getElementsByTagName('*').length + 1 : 0,
    timelineRows: el ? el.querySelectorAll('.vrow').length : 0,
    documentElements: document.getElementsByTagName('*').length,
    scrollHeight: el ? el.scrollHeight : 0,
  }
}

// ---- measuring ----------------------------------------------------------------------

/** Watches a page's network through CDP: per request its URL, type, encoding and bytes. */
async function watchNetwork(cdp) {
  const reqs = new Map()
  let inflight = 0
  let lastChange = Date.now()
  cdp.on('Network.requestWillBeSent', (e) => {
    if (!reqs.has(e.requestId)) {
      inflight++
      lastChange = Date.now()
    }
    reqs.set(e.requestId, { url: e.request.url, type: e.type ?? '', at: Date.now() })
  })
  cdp.on('Network.responseReceived', (e) => {
    const r = reqs.get(e.requestId)
    if (!r) return
    const h = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]))
    r.status = e.response.status
    r.encoding = h['content-encoding'] ?? ''
    r.type = e.type || r.type
    r.cached = !!(e.response.fromDiskCache || e.response.fromServiceWorker || e.response.fromPrefetchCache)
  })
  const end = (e, failed) => {
    const r = reqs.get(e.requestId)
    if (!r || r.done) return
    r.done = true
    r.failed = failed
    r.wireBytes = e.encodedDataLength ?? 0
    inflight--
    lastChange = Date.now()
  }
  cdp.on('Network.loadingFinished', (e) => end(e, false))
  cdp.on('Network.loadingFailed', (e) => end(e, true))
  await cdp.send('Network.enable')
  return {
    reqs,
    /** Resolves once no request has been in flight for quietMs (WebSockets do not count). */
    async quiet(quietMs = 500, maxMs = 10_000) {
      const until = Date.now() + maxMs
      while (Date.now() < until) {
        if (inflight <= 0 && Date.now() - lastChange >= quietMs) return
        await sleep(50)
      }
    },
  }
}

/** resources joins the page's resource timing (body bytes) with what CDP saw (encoding, wire bytes). */
async function resources(page, net) {
  const entries = await page.evaluate(() =>
    performance.getEntriesByType('resource').map((e) => ({ url: e.name, initiator: e.initiatorType, transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize })),
  )
  const byUrl = new Map()
  for (const r of net.reqs.values()) byUrl.set(r.url, r)
  return entries.map((e) => {
    const r = byUrl.get(e.url) ?? {}
    const u = new URL(e.url)
    const kind = r.type === 'Script' || u.pathname.endsWith('.js') ? 'script' : r.type === 'Stylesheet' || u.pathname.endsWith('.css') ? 'css' : e.initiator
    return { path: u.pathname + u.search, kind, encoding: r.encoding ?? '', cached: !!r.cached, gzipBytes: e.encoded, decodedBytes: e.decoded, wireBytes: r.wireBytes ?? e.transfer }
  })
}

function totals(list, kind) {
  const of = list.filter((r) => r.kind === kind)
  return {
    files: of.length,
    gzipBytes: of.reduce((s, r) => s + r.gzipBytes, 0),
    decodedBytes: of.reduce((s, r) => s + r.decodedBytes, 0),
    wireBytes: of.reduce((s, r) => s + r.wireBytes, 0),
    notCompressed: of.filter((r) => r.encoding !== 'gzip' && r.decodedBytes > 1024).map((r) => r.path),
    list: of.map(({ path, gzipBytes, decodedBytes, encoding }) => ({ path, gzipBytes, decodedBytes, encoding })),
  }
}

async function newContext(browser) {
  // No service worker: every load below is a first visit's, from the network.
  const ctx = await browser.newContext({ viewport: cfg.viewport, serviceWorkers: 'block' })
  await ctx.addInitScript(pageInstrument)
  return ctx
}

async function signIn(page, username) {
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

const marks = (page) => page.evaluate(() => ({ ...window.__bench.marks }))
const waitMark = (page, name, timeout = 30_000) => page.waitForFunction((n) => window.__bench?.marks?.[n] !== undefined, name, { timeout, polling: 50 })

/** One cold visit: the login screen, signing in, and a signed-in reload with the cache off. */
async function coldVisit(browser, url, username, channelId) {
  const ctx = await newContext(browser)
  try {
    const page = await ctx.newPage()
    const cdp = await ctx.newCDPSession(page)
    const net = await watchNetwork(cdp)
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true })
    await page.goto(url + '/', { waitUntil: 'commit' })
    await waitMark(page, 'login')
    await net.quiet()
    const nav = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0]
      const fcp = performance.getEntriesByName('first-contentful-paint')[0]
      return { responseEnd: n.responseEnd, domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd, fcp: fcp?.startTime ?? 0, htmlGzipBytes: n.encodedBodySize }
    })
    const loginRes = await resources(page, net)
    const m1 = await marks(page)

    await signIn(page, username)
    await waitMark(page, 'channel')
    await page.waitForURL(`**/c/${channelId}`)
    await net.quiet()
    const channelRes = await resources(page, net)
    const m2 = await marks(page)

    // The same person coming back: the refresh cookie signs them in.
    await page.reload({ waitUntil: 'commit' })
    await waitMark(page, 'channel')
    const m3 = await marks(page)
    return {
      loginMs: m1.login,
      fcpMs: nav.fcp,
      domContentLoadedMs: nav.domContentLoaded,
      loadMs: nav.load,
      signInMs: m2.channel - m2.submit,
      reloadMs: m3.channel,
      loginDomMs: m1.loginDom,
      signInDomMs: m2.channelDom - m2.submit,
      reloadDomMs: m3.channelDom,
      htmlGzipBytes: nav.htmlGzipBytes,
      loginRes,
      channelRes,
    }
  } finally {
    await ctx.close()
  }
}

async function cdpMetrics(cdp) {
  const { metrics } = await cdp.send('Performance.getMetrics')
  return Object.fromEntries(metrics.map((m) => [m.name, m.value]))
}

async function heapUsed(cdp) {
  await cdp.send('HeapProfiler.collectGarbage')
  return (await cdp.send('Runtime.getHeapUsage')).usedSize
}

/** frameStats summarises the frame intervals of passes (arrays of rAF timestamps), never across passes. */
function frameStats(passes, longtasks) {
  const dt = []
  let ms = 0
  let lt = []
  for (const ts of passes) {
    for (let i = 1; i < ts.length; i++) dt.push(ts[i] - ts[i - 1])
    if (ts.length === 0) continue
    const start = ts[0]
    const end = ts[ts.length - 1]
    ms += end - start
    lt = lt.concat(longtasks.filter(([t]) => t >= start && t <= end))
  }
  const s = [...dt].sort((a, b) => a - b)
  return {
    frames: dt.length,
    seconds: round(ms / 1000, 2),
    medianMs: round(quantile(s, 0.5)),
    p95Ms: round(quantile(s, 0.95)),
    p99Ms: round(quantile(s, 0.99)),
    maxMs: round(s[s.length - 1] ?? 0),
    // A frame every 16.7 ms is 60 per second; rAF timestamps jitter by a
    // fraction of a millisecond, so "over 16.7 ms" counts from 17 ms on.
    over16_7: dt.filter((d) => d >= 17).length,
    // Intervals of 25 ms and more: at least one frame was skipped.
    dropped: dt.filter((d) => d >= 25).length,
    over50: dt.filter((d) => d > 50).length,
    longTasks: lt.length,
    longTaskMs: round(lt.reduce((x, [, d]) => x + d, 0)),
    longestTaskMs: round(lt.reduce((x, [, d]) => Math.max(x, d), 0)),
  }
}

function metricDelta(a, b) {
  const d = (k) => round(((b[k] ?? 0) - (a[k] ?? 0)) * 1000)
  return { scriptMs: d('ScriptDuration'), layoutMs: d('LayoutDuration'), styleMs: d('RecalcStyleDuration'), taskMs: d('TaskDuration'), layouts: (b.LayoutCount ?? 0) - (a.LayoutCount ?? 0) }
}

/** Scrolls the open channel up and down, again until minFrames frames (the baseline). */
async function scrollChannel(page, cdp, minFrames) {
  const fresh = () => ({ ts: [], cost: [], nudges: 0, waiting: 0, seen: 0, ids: [], corrections: 0, correctedPx: 0 })
  const pass = { up: fresh(), down: fresh() }
  let cycles = 0
  let frames = 0
  // Let the machine settle (the previous context's teardown, the last render).
  await sleep(2000)
  do {
    for (const dir of ['up', 'down']) {
      const before = await cdpMetrics(cdp)
      const r = await page.evaluate(pageScroll, { dir, step: cfg.step, timeoutMs: 15 * 60_000 })
      const after = await cdpMetrics(cdp)
      if (r.timedOut) throw new Error(`the scroll ${dir} did not reach the end within 15 minutes`)
      const p = pass[dir]
      p.ts.push(r.ts)
      p.cost.push(metricDelta(before, after))
      p.nudges += r.nudges
      p.waiting += r.waiting
      p.corrections += r.corrections
      p.correctedPx += r.correctedPx
      p.seen = Math.max(p.seen, r.seen.length)
      p.ids = r.seen
      frames += r.ts.length - 1
    }
    cycles++
  } while (frames < minFrames)
  // Messages the last up pass never had on screen though the down pass did:
  // the view jumped over them. By position from the latest message (1 = the
  // latest), so that jumps at page boundaries (every 50) show.
  const shownUp = new Set(pass.up.ids)
  const order = pass.down.ids
  const skippedUp = order.map((id, i) => (shownUp.has(id) ? 0 : order.length - i)).filter((x) => x > 0)
  const longtasks = await page.evaluate(() => window.__bench.longtasks)
  const nodes = await page.evaluate(timelineNodes)
  const intervals = (runs) => runs.map((ts) => ts.slice(1).map((t, i) => round(t - ts[i])))
  const summed = (p) => {
    const stats = frameStats(p.ts, longtasks)
    const c = {}
    for (const k of Object.keys(p.cost[0])) c[k] = round(p.cost.reduce((x, y) => x + y[k], 0))
    // Main-thread time per frame: the part of a frame's 16.7 ms the page used.
    const per = (ms) => (stats.frames > 0 ? round(ms / stats.frames, 2) : 0)
    return { ...stats, messagesSeen: p.seen, viewCorrections: p.corrections, viewCorrectedPx: Math.round(p.correctedPx), cost: { ...c, scriptMsPerFrame: per(c.scriptMs), layoutMsPerFrame: per(c.layoutMs), styleMsPerFrame: per(c.styleMs) } }
  }
  return {
    cycles,
    up: { ...summed(pass.up), nudges: pass.up.nudges, framesWaitingAtTop: pass.up.waiting, skipped: skippedUp.length, skippedFromLatest: skippedUp.slice(0, 500) },
    down: summed(pass.down),
    nodes,
    heapUsedBytes: await heapUsed(cdp),
    domNodes: (await cdpMetrics(cdp)).Nodes,
    // Every frame interval (ms), one list per pass, and the page's long tasks ([start, duration] ms).
    raw: { up: intervals(pass.up.ts), down: intervals(pass.down.ts), longtasks: longtasks.map(([t, d]) => [round(t), round(d)]) },
  }
}

async function openChannel(page, channelId) {
  await page.locator(`a[data-channel-id="${channelId}"]`).click()
  await page.waitForURL(`**/c/${channelId}`)
  await page.getByRole('textbox', { name: /Message #/ }).waitFor()
  await page.locator('[role="log"].timeline article[data-message-id]').first().waitFor()
  // Let the list settle at the bottom (measured rows, the last scroll to end).
  await page.waitForFunction(() => {
    const el = document.querySelector('[role="log"].timeline')
    return !!el && el.scrollHeight - el.scrollTop - el.clientHeight < 48
  })
  await sleep(500)
}

// ---- the report -----------------------------------------------------------------------

function printReport(r) {
  const out = []
  const p = (s = '') => out.push(s)
  const t = r.transfer
  p(`Unhidra web client benchmark — ${r.date}, ${r.machine.cpus}× ${r.machine.cpu}, Chromium ${r.machine.chromium}, load ${r.machine.loadAverageBefore} → ${r.machine.loadAverageAfter}`)
  p()
  p('Transferred with a cold cache (gzip body bytes; budget for JavaScript: ' + kB(cfg.jsBudgetBytes) + ')')
  p(`  login screen    JS  ${kB(t.login.js.gzipBytes).padStart(9)} in ${t.login.js.files} file(s) (${kB(t.login.js.decodedBytes)} uncompressed)   CSS ${kB(t.login.css.gzipBytes)}   HTML ${kB(t.htmlGzipBytes)}   all ${kB(t.login.allGzipBytes)}`)
  p(`  channel screen  JS  ${kB(t.channel.js.gzipBytes).padStart(9)} in ${t.channel.js.files} file(s) (${kB(t.channel.js.decodedBytes)} uncompressed)   CSS ${kB(t.channel.css.gzipBytes)}   all ${kB(t.channel.allGzipBytes)}`)
  p(`  JavaScript within budget: ${t.withinBudget ? 'yes' : 'NO'}`)
  for (const f of t.channel.js.list) p(`    ${f.path}  ${kB(f.gzipBytes)} gzip, ${kB(f.decodedBytes)}${f.encoding === 'gzip' ? '' : '  (not gzip: ' + (f.encoding || 'identity') + ')'}`)
  for (const f of t.channel.css.list) p(`    ${f.path}  ${kB(f.gzipBytes)} gzip, ${kB(f.decodedBytes)}`)
  p()
  p(`Time to interactive on localhost, ${r.tti.runs} cold runs (median [min–max] ms)`)
  const row = (name, s) => p(`  ${name.padEnd(44)} ${String(s.median).padStart(7)}  [${s.min}–${s.max}]`)
  row('first contentful paint', r.tti.fcpMs)
  row('navigation → login form usable', r.tti.loginMs)
  row('"Sign in" → message box focused, messages shown', r.tti.signInMs)
  row('signed-in reload → message box, messages', r.tti.reloadMs)
  p()
  const s = r.scroll
  p(`Scrolling, ${cfg.step} px per frame (frame intervals in ms)`)
  p(`  ${''.padEnd(30)} ${'frames'.padStart(6)} ${'median'.padStart(7)} ${'p95'.padStart(6)} ${'p99'.padStart(6)} ${'max'.padStart(7)} ${'≥17ms'.padStart(6)} ${'>50ms'.padStart(6)} ${'long tasks'.padStart(11)}`)
  const srow = (name, x) =>
    p(`  ${name.padEnd(30)} ${String(x.frames).padStart(6)} ${String(x.medianMs).padStart(7)} ${String(x.p95Ms).padStart(6)} ${String(x.p99Ms).padStart(6)} ${String(x.maxMs).padStart(7)} ${String(x.over16_7).padStart(6)} ${String(x.over50).padStart(6)} ${`${x.longTasks} (${Math.round(x.longTaskMs)} ms)`.padStart(11)}`)
  srow(`baseline up (${s.baseline.cycles} cycles)`, s.baseline.up)
  srow('baseline down', s.baseline.down)
  srow(`${s.messages} up, loading pages`, s.large.up)
  srow(`${s.messages} down, all loaded`, s.large.down)
  p(`  up pass: ${s.large.up.seconds} s, ${s.large.up.messagesSeen} messages seen (${s.large.up.framesWaitingAtTop} frames at the top waiting for a page, ${s.large.up.skipped} never shown: the view jumped over them); down pass: ${s.large.down.seconds} s, ${s.large.down.messagesSeen} messages seen`)
  p(`  the client moved the view in ${s.large.up.viewCorrections} frames going up (${s.large.up.viewCorrectedPx} px: rows measured taller than estimated, pages prepended) and ${s.large.down.viewCorrections} going down; scroll height at the end ${s.large.nodes.scrollHeight} px`)
  p(`  ratios to baseline: down p95 ×${s.ratios.downP95}, down p99 ×${s.ratios.downP99}, up p95 ×${s.ratios.upP95}; down script time per frame ×${s.ratios.downScriptPerFrame}`)
  p('  main thread per frame (ms)       script  layout   style')
  const crow = (name, x) => p(`  ${name.padEnd(30)} ${String(x.cost.scriptMsPerFrame).padStart(7)} ${String(x.cost.layoutMsPerFrame).padStart(7)} ${String(x.cost.styleMsPerFrame).padStart(7)}`)
  crow('baseline up', s.baseline.up)
  crow('baseline down', s.baseline.down)
  crow(`${s.messages} up, loading pages`, s.large.up)
  crow(`${s.messages} down, all loaded`, s.large.down)
  p(`  timeline DOM at the end: ${s.large.nodes.timelineElements} elements in ${s.large.nodes.timelineRows} rows (baseline ${s.baseline.nodes.timelineElements} in ${s.baseline.nodes.timelineRows}); document ${s.large.nodes.documentElements} elements`)
  p(`  JS heap after GC: ${MB(s.large.heapUsedBytes)} (baseline ${MB(s.baseline.heapUsedBytes)})`)
  p()
  p(`Seeding: ${s.messages} messages in ${r.seed.seconds} s (${r.seed.perSecond}/s, ${cfg.concurrency} at a time)`)
  console.log(out.join('\n'))
}

// ---- main -------------------------------------------------------------------------------

async function main() {
  if (!existsSync(cfg.chromium)) throw new Error(`no browser at ${cfg.chromium} (scripts/chromium.sh installs Debian's)`)
  const binary = serverBinary()
  const loadBefore = os.loadavg()[0]
  if (loadBefore > os.cpus().length / 2) log(`warning: the machine is busy (load ${loadBefore.toFixed(2)} on ${os.cpus().length} CPUs): the timings will be noisy`)
  const server = await startServer(binary)
  let browser
  try {
    const api = client(server.url)
    log(`server ${server.url}`)
    await api.register('alice', 'Alice Admin', server.setupToken)
    await api.register('bob', 'Bob Builder')
    await api.register('carol', 'Carol Chen')
    const sessions = [await api.login('alice'), await api.login('bob'), await api.login('carol')]
    const [alice] = sessions
    // "general" sorts first, so signing in opens it.
    const large = await api.createChannel(alice, 'general', 'Where the 10,000 messages are')
    const small = await api.createChannel(alice, 'small', 'One page of messages')
    for (const s of sessions.slice(1)) {
      await api.join(s, large.id)
      await api.join(s, small.id)
    }
    log(`seeding ${cfg.messages} messages`)
    const t0 = performance.now()
    const largeSeq = await seed(api, sessions, large.id, cfg.messages, cfg.concurrency, 1)
    const seedSeconds = (performance.now() - t0) / 1000
    const smallSeq = await seed(api, sessions, small.id, cfg.baselineMessages, cfg.concurrency, 2)
    // Everything read: both channels open at the bottom, with no "new" divider.
    await api.read(alice, large.id, largeSeq)
    await api.read(alice, small.id, smallSeq)

    browser = await chromium.launch({ executablePath: cfg.chromium, headless: true, args: chromiumArgs })

    log(`${cfg.runs} cold visits`)
    const visits = []
    for (let i = 0; i < cfg.runs; i++) visits.push(await coldVisit(browser, server.url, 'alice', large.id))
    const first = visits[0]
    const screen = (res) => ({ js: totals(res, 'script'), css: totals(res, 'css'), allGzipBytes: res.reduce((x, r) => x + r.gzipBytes, 0), resources: res })
    const transfer = {
      htmlGzipBytes: first.htmlGzipBytes,
      login: screen(first.loginRes),
      channel: screen(first.channelRes),
    }
    transfer.withinBudget = transfer.channel.js.gzipBytes < cfg.jsBudgetBytes
    const varies = visits.some((v) => totals(v.channelRes, 'script').gzipBytes !== transfer.channel.js.gzipBytes)
    if (varies) log('warning: the JavaScript transferred differs between cold visits')

    log('scrolling')
    const ctx = await newContext(browser)
    const page = await ctx.newPage()
    const cdp = await ctx.newCDPSession(page)
    await cdp.send('Performance.enable')
    await page.goto(server.url + '/')
    await signIn(page, 'alice')
    await waitMark(page, 'channel')
    await openChannel(page, small.id)
    const baseline = await scrollChannel(page, cdp, cfg.baselineMinFrames)
    await openChannel(page, large.id)
    if (cfg.profile) {
      await cdp.send('Profiler.enable')
      await cdp.send('Profiler.setSamplingInterval', { interval: 200 })
      await cdp.send('Profiler.start')
    }
    const big = await scrollChannel(page, cdp, 0)
    if (cfg.profile) {
      const { profile } = await cdp.send('Profiler.stop')
      const file = path.join(path.dirname(cfg.out), 'bench-scroll.cpuprofile')
      await mkdir(path.dirname(file), { recursive: true })
      await writeFile(file, JSON.stringify(profile))
      log(`wrote ${file} (a CPU profile of the large scroll: open it in Chromium's DevTools, Performance tab)`)
    }
    await ctx.close()

    const ratio = (a, b) => (b > 0 ? round(a / b, 2) : 0)
    const report = {
      date: new Date().toISOString(),
      machine: { loadAverageBefore: round(loadBefore, 2), loadAverageAfter: round(os.loadavg()[0], 2), cpus: os.cpus().length, cpu: os.cpus()[0]?.model?.trim() ?? '', memoryBytes: os.totalmem(), node: process.version, chromium: browser.version(), platform: `${os.type()} ${os.release()}` },
      config: cfg,
      seed: { messages: cfg.messages, seconds: round(seedSeconds, 1), perSecond: Math.round(cfg.messages / seedSeconds) },
      transfer,
      tti: {
        runs: visits.length,
        fcpMs: summary(visits.map((v) => v.fcpMs)),
        loginMs: summary(visits.map((v) => v.loginMs)),
        signInMs: summary(visits.map((v) => v.signInMs)),
        reloadMs: summary(visits.map((v) => v.reloadMs)),
        domContentLoadedMs: summary(visits.map((v) => v.domContentLoadedMs)),
        loadMs: summary(visits.map((v) => v.loadMs)),
        // Per visit; the *DomMs figures are when the DOM was ready, one paint before.
        raw: visits.map((v) => Object.fromEntries(['fcpMs', 'loginMs', 'loginDomMs', 'signInMs', 'signInDomMs', 'reloadMs', 'reloadDomMs'].map((k) => [k, round(v[k])]))),
      },
      scroll: {
        messages: cfg.messages,
        stepPx: cfg.step,
        baseline,
        large: big,
        ratios: {
          downMedian: ratio(big.down.medianMs, baseline.down.medianMs),
          downP95: ratio(big.down.p95Ms, baseline.down.p95Ms),
          downP99: ratio(big.down.p99Ms, baseline.down.p99Ms),
          upP95: ratio(big.up.p95Ms, baseline.up.p95Ms),
          upP99: ratio(big.up.p99Ms, baseline.up.p99Ms),
          downScriptPerFrame: ratio(big.down.cost.scriptMsPerFrame, baseline.down.cost.scriptMsPerFrame),
          upScriptPerFrame: ratio(big.up.cost.scriptMsPerFrame, baseline.up.cost.scriptMsPerFrame),
          timelineElements: ratio(big.nodes.timelineElements, baseline.nodes.timelineElements),
          heap: ratio(big.heapUsedBytes, baseline.heapUsedBytes),
        },
      },
    }
    await mkdir(path.dirname(cfg.out), { recursive: true })
    await writeFile(cfg.out, JSON.stringify(report, null, 2) + '\n')
    printReport(report)
    log(`wrote ${path.relative(process.cwd(), cfg.out) || cfg.out}`)
  } finally {
    await browser?.close()
    await server.stop()
  }
}

for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(130))

main().catch((err) => {
  console.error('bench:', err?.stack ?? err)
  process.exit(1)
})
