// Two-factor sign-in and personal access tokens, through the settings
// screens and the login screen.
import { createHmac } from 'node:crypto'
import { api, expect, registerViaApi, snap, test } from './fixtures'
import { closeContexts, newPage, signIn } from './helpers'
import { defaultPassword, loginViaUi } from './fixtures'

test.afterEach(closeContexts)

/** totp is RFC 6238's code (SHA-1, 6 digits, 30 s) of a base32 secret at time t (ms). */
function totp(secret: string, t: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = ''
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0')
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)))
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(Math.floor(t / 30_000)))
  const h = createHmac('sha1', key).update(counter).digest()
  const o = h.readUInt8(h.length - 1) & 0xf
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0')
}

test('turn on two-factor, sign in with a code, turn it off', async ({ server, browser }) => {
  // Keep the test inside one 30-second step and its successor.
  const left = 30_000 - (Date.now() % 30_000)
  if (left < 15_000) await new Promise((r) => setTimeout(r, left + 200))
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice', { displayName: 'Alice' })
  const { page } = await signIn(browser, server, 'alice')
  await page.goto('/settings/security')
  await page.getByRole('button', { name: 'Set up two-factor authentication' }).click()
  await expect(page.getByRole('img', { name: /QR code of otpauth:\/\/totp\/Unhidra:alice/ })).toBeVisible()
  const secret = await page.getByLabel('Secret').inputValue()
  expect(secret).toMatch(/^[A-Z2-7]+$/)
  await page.getByLabel('Code from the app').fill('000000')
  await page.getByRole('button', { name: 'Turn on two-factor' }).click()
  await expect(page.getByRole('alert')).toBeVisible()
  const now = Date.now()
  await page.getByLabel('Code from the app').fill(totp(secret, now))
  await page.getByRole('button', { name: 'Turn on two-factor' }).click()
  const codes = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem')
  await expect(codes).toHaveCount(10)
  const recovery = await codes.first().innerText()
  await expect(page.getByText(/10 recovery codes left/)).toBeVisible()
  await snap(page, 'two-factor-on')

  // Another browser: the password is not enough; a wrong code is refused,
  // the right one signs in.
  const other = await newPage(browser, server)
  await other.goto('/')
  await loginViaUi(other, 'alice', defaultPassword)
  await expect(other.getByRole('heading', { name: 'Two-factor authentication' })).toBeVisible()
  await other.getByLabel('Authentication code').fill(totp(secret, now)) // spent by the enrolment
  await other.getByRole('button', { name: 'Verify' }).click()
  await expect(other.getByRole('alert')).toBeVisible()
  await snap(other, 'two-factor-login')
  await other.getByLabel('Authentication code').fill(totp(secret, now + 30_000))
  await other.getByRole('button', { name: 'Verify' }).click()
  await expect(other.getByRole('navigation', { name: 'Channels and direct messages' })).toBeVisible()

  // A third with a recovery code.
  const third = await newPage(browser, server)
  await third.goto('/')
  await loginViaUi(third, 'alice', defaultPassword)
  await third.getByLabel('Authentication code').fill(recovery)
  await third.getByRole('button', { name: 'Verify' }).click()
  await expect(third.getByRole('navigation', { name: 'Channels and direct messages' })).toBeVisible()

  // Off again, with the password and a recovery code.
  await page.getByLabel('Current code or recovery code').fill(await codes.nth(1).innerText())
  await page.getByLabel('Password (to turn it off)').fill(defaultPassword)
  await page.getByRole('button', { name: 'Turn off two-factor' }).click()
  await expect(page.getByRole('button', { name: 'Set up two-factor authentication' })).toBeVisible()
  await api(server).login('alice', defaultPassword)
})

test('create, use and revoke a personal access token', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice', { displayName: 'Alice' })
  const { page } = await signIn(browser, server, 'alice')
  await page.goto('/settings/tokens')
  await expect(page.getByText('No access tokens yet.')).toBeVisible()
  await page.getByLabel('Token name').fill('deploy script')
  await page.getByRole('button', { name: 'Create token' }).click()
  const secret = await page.getByLabel('New token').inputValue()
  expect(secret).toMatch(/^uhp_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/)
  await expect(page.locator('.token-row')).toHaveCount(1)
  await snap(page, 'access-tokens')

  const me = await api(server).request('GET', '/api/v1/users/me', { auth: secret })
  expect(me.status).toBe(200)
  const post = await api(server).request('POST', '/api/v1/channels', { auth: secret, json: { name: 'nope', kind: 'public' } })
  expect(post.status).toBe(403)

  page.once('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: 'Revoke deploy script' }).click()
  await expect(page.locator('.token-row')).toHaveCount(0)
  const after = await api(server).request('GET', '/api/v1/users/me', { auth: secret })
  expect(after.status).toBe(401)
})
