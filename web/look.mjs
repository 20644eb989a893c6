import { chromium } from 'playwright-core'
const base = process.env.BASE ?? 'http://localhost:5173'
const api = process.env.API ?? 'http://127.0.0.1:18080'
async function call(method, path, body, token) {
  const r = await fetch(api + path, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: 'Bearer ' + token } : {}) }, body: body ? JSON.stringify(body) : undefined })
  const t = await r.text(); return t ? JSON.parse(t) : {}
}
for (const u of ['alice', 'bob']) await call('POST', '/api/v1/auth/register', { username: u, password: 'correct horse battery', display_name: u[0].toUpperCase() + u.slice(1) + ' Example' })
const a = await call('POST', '/api/v1/auth/login', { username: 'alice', password: 'correct horse battery' })
const b = await call('POST', '/api/v1/auth/login', { username: 'bob', password: 'correct horse battery' })
let ch = (await call('GET', '/api/v1/channels', null, a.access_token)).channels?.find(c => c.name === 'general')
if (!ch) {
  ch = (await call('POST', '/api/v1/channels', { name: 'general', kind: 'public', topic: 'Everything about the plant' }, a.access_token)).channel
  await call('POST', `/api/v1/channels/${ch.id}/join`, null, b.access_token)
  const bodies = ['Morning all! Line 3 is back up.', '**Great news** — thanks @alice for the quick fix', 'Here is the config:\n```\nset_point = 21\nmode = auto\n```', '- check valves\n- log readings\n- > quote me', 'See https://example.org/docs for details', '<img src=x onerror=alert(1)> should be text']
  let i = 0
  for (const body of bodies) await call('POST', `/api/v1/channels/${ch.id}/messages`, { client_msg_id: 'seed' + i, body }, (i++ % 2 ? a : b).access_token)
}
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] })
const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
const page = await ctx.newPage()
page.on('console', m => console.log('console:', m.type(), m.text()))
page.on('pageerror', e => console.log('pageerror:', e.message))
await page.goto(base + '/')
await page.screenshot({ path: '/tmp/look/01-login.png' })
await page.getByLabel('Username').fill('alice')
await page.getByLabel('Password').fill('correct horse battery')
await page.getByRole('button', { name: 'Sign in' }).click()
await page.waitForTimeout(2500)
await page.screenshot({ path: '/tmp/look/02-channel.png' })
await page.getByRole('textbox', { name: /Message #general/ }).fill('Hello from the **browser** :)')
await page.keyboard.press('Enter')
await page.waitForTimeout(1000)
await page.screenshot({ path: '/tmp/look/03-sent.png' })
await ctx.close()
const ctx2 = await browser.newContext({ viewport: { width: 390, height: 800 } })
const p2 = await ctx2.newPage()
await p2.goto(base + '/')
await p2.getByLabel('Username').fill('bob')
await p2.getByLabel('Password').fill('correct horse battery')
await p2.getByRole('button', { name: 'Sign in' }).click()
await p2.waitForTimeout(2000)
await p2.screenshot({ path: '/tmp/look/04-phone.png' })
await browser.close()
