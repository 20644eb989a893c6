// Message text cannot inject markup or script; tokens stay where script
// cannot read them; tabs share one refresh; the page runs under its CSP.
import { api, expect, loginViaApi, registerViaApi, snap, test } from './fixtures'
import { closeContexts, messageWith, signIn, timeline } from './helpers'
import { defaultPassword } from './api'

test.afterEach(closeContexts)

const HOSTILE = [
  '<img src=x onerror="window.__pwned=1">',
  '<script>window.__pwned=2</script>',
  '[click me](javascript:window.__pwned=3)',
  '[data](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD00PC9zY3JpcHQ+)',
  '<a href="javascript:window.__pwned=5">x</a>',
  '<svg onload="window.__pwned=6"></svg>',
  '![img](javascript:window.__pwned=7)',
  '<iframe src="javascript:window.__pwned=8"></iframe>',
  '[vb](vbscript:msgbox(1)) and <javascript:window.__pwned=9>',
  '<style>body{display:none}</style><div style="position:fixed;inset:0">cover</div>',
]

test('hostile message text renders as text: nothing executes, no markup, no script links', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'mallory')
  await registerViaApi(server, 'alice')
  const m = await loginViaApi(server, { username: 'mallory', password: defaultPassword })
  const a = await loginViaApi(server, { username: 'alice', password: defaultPassword })
  const ch = await api(server).createChannel(m, { name: 'lobby' })
  await api(server).joinChannel(a, ch.id)
  for (const body of HOSTILE) await api(server).postMessage(m, ch.id, body)
  await api(server).postMessage(m, ch.id, 'last one')

  const { page } = await signIn(browser, server, 'alice')
  await page.getByRole('link', { name: /^#lobby/ }).click()
  await expect(messageWith(page, 'last one')).toBeVisible()
  await expect(messageWith(page, 'onerror')).toBeVisible()
  const log = timeline(page)
  // Nothing ran, nothing was injected.
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined()
  await expect(log.locator('.body').locator('img, script, iframe, svg, style, object, embed')).toHaveCount(0)
  await expect(log.locator('.body [style], .body [onerror], .body [onload]')).toHaveCount(0)
  const hrefs = await log.locator('.body a').evaluateAll((as) => as.map((x) => x.getAttribute('href') ?? ''))
  for (const h of hrefs) expect(h).toMatch(/^(https?:|mailto:)/)
  // The raw text is shown as typed.
  await expect(messageWith(page, '<img src=x onerror="window.__pwned=1">')).toBeVisible()
  // Clicking what looks like a link does nothing harmful.
  await messageWith(page, 'click me').getByText('click me').click()
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined()
  await snap(page, 'xss-as-text')
})

test('the refresh token is only in an HttpOnly cookie and the access token only in memory', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice')
  const { page } = await signIn(browser, server, 'alice')
  await expect(page.getByRole('button', { name: /Your account/ })).toBeVisible()

  const cookies = await page.context().cookies()
  const refresh = cookies.find((c) => c.name === 'unhidra_refresh')
  expect(refresh, 'refresh cookie').toBeTruthy()
  expect(refresh!.httpOnly).toBe(true)
  expect(refresh!.sameSite).toBe('Strict')
  expect(refresh!.path).toBe('/api/v1/auth/')
  const seenByScript = await page.evaluate(() => ({
    cookie: document.cookie,
    local: Object.keys(localStorage).map((k) => k + '=' + localStorage.getItem(k)).join('\n'),
    session: Object.keys(sessionStorage).map((k) => k + '=' + sessionStorage.getItem(k)).join('\n'),
  }))
  expect(seenByScript.cookie).not.toContain('unhidra_refresh')
  for (const where of [seenByScript.local, seenByScript.session]) {
    expect(where).not.toContain(refresh!.value)
    expect(where).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./) // no JWT anywhere in storage
  }
  // The CSRF header is required for the cookie: a plain cross-site style POST is refused.
  const res = await page.evaluate(async () => (await fetch('/api/v1/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"cookie":true}' })).status)
  expect(res).toBe(403)
})

test('tabs opened together never have two refreshes in flight', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice')
  const { page } = await signIn(browser, server, 'alice')
  await expect(page.getByRole('button', { name: /Your account/ })).toBeVisible()
  const ctx = page.context()
  await page.close()
  // The refresh token rotates: two refreshes racing would spend it twice.
  // A Web Lock lets one run at a time, and a tab that waited for the lock
  // takes the token the previous holder shared instead of refreshing again.
  let inFlight = 0
  let most = 0
  let refreshes = 0
  const isRefresh = (r: { method(): string; url(): string }) => r.method() === 'POST' && r.url().endsWith('/api/v1/auth/refresh')
  ctx.on('request', (r) => {
    if (!isRefresh(r)) return
    refreshes++
    most = Math.max(most, ++inFlight)
  })
  const done = (r: { method(): string; url(): string }) => isRefresh(r) && inFlight--
  ctx.on('requestfinished', done)
  ctx.on('requestfailed', done)
  const tabs = await Promise.all([ctx.newPage(), ctx.newPage(), ctx.newPage()])
  await Promise.all(tabs.map((t) => t.goto('/')))
  for (const t of tabs) await expect(t.getByRole('button', { name: /Your account/ })).toBeVisible()
  expect(most).toBe(1)
  expect(refreshes).toBeGreaterThanOrEqual(1)
  expect(refreshes).toBeLessThanOrEqual(tabs.length)
})

test('the page follows a strict Content-Security-Policy and caches correctly', async ({ server, page }) => {
  const res = await page.goto('/')
  const csp = res!.headers()['content-security-policy'] ?? ''
  expect(csp).toContain("script-src 'self'")
  expect(csp).not.toContain('unsafe-inline')
  expect(csp).not.toContain('unsafe-eval')
  expect(res!.headers()['cache-control']).toBe('no-cache')
  const script = await page.locator('script[type=module]').getAttribute('src')
  const asset = await api(server).request('GET', script!)
  expect(asset.headers.get('cache-control')).toContain('immutable')
  // No inline script in the page at all.
  expect(await page.locator('script:not([src])').count()).toBe(0)
})
