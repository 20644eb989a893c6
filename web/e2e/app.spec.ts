// The client as an app: a phone-width window, the installable manifest and
// a service worker that caches the shell and never API data; the keyboard.
import { api, expect, loginViaApi, registerViaApi, snap, test } from './fixtures'
import { closeContexts, composer, messageWith, send, signIn } from './helpers'
import { defaultPassword } from './api'

test.afterEach(closeContexts)

test('works in a phone-width window: list, channel, back', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice', { displayName: 'Alice' })
  const a = await loginViaApi(server, { username: 'alice', password: defaultPassword })
  const ch = await api(server).createChannel(a, { name: 'field-team', topic: 'Out on site' })
  await api(server).postMessage(a, ch.id, 'Crew is on site at 7:30. Bring the **long** ladder.')
  const { page } = await signIn(browser, server, 'alice', { width: 390, height: 844 })
  await snap(page, 'phone-channels')
  await page.getByRole('link', { name: /^#field-team/ }).click()
  await expect(composer(page, 'Message #field-team')).toBeVisible()
  await expect(page.getByRole('navigation', { name: 'Channels and direct messages' })).toBeHidden()
  await send(page, 'Message #field-team', 'On my way')
  await expect(messageWith(page, 'On my way')).toBeVisible()
  await snap(page, 'phone-channel')
  await page.getByRole('button', { name: 'Back to channels' }).click()
  await expect(page.getByRole('navigation', { name: 'Channels and direct messages' })).toBeVisible()
})

test('installable: a manifest and a service worker that caches the shell, never API data', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice')
  const { page } = await signIn(browser, server, 'alice')
  const manifest = await api(server).request<{ name: string; display: string; icons: { sizes: string }[]; start_url: string }>('GET', '/manifest.webmanifest')
  expect(manifest.status).toBe(200)
  expect(manifest.body.display).toBe('standalone')
  expect(manifest.body.icons.map((i) => i.sizes)).toEqual(expect.arrayContaining(['192x192', '512x512']))
  await page.waitForFunction(async () => !!(await navigator.serviceWorker.getRegistration())?.active, null, { timeout: 10_000 })
  await page.reload()
  await expect(page.getByRole('button', { name: /Your account/ })).toBeVisible()
  const cached = await page.evaluate(async () => {
    const out: string[] = []
    for (const name of await caches.keys()) for (const r of await (await caches.open(name)).keys()) out.push(new URL(r.url).pathname)
    return out
  })
  expect(cached).toContain('/')
  expect(cached.some((p) => p.startsWith('/assets/'))).toBe(true)
  expect(cached.filter((p) => p.startsWith('/api/'))).toEqual([])
  // Offline, the installed app still opens (the shell comes from the cache).
  await page.context().setOffline(true)
  await page.reload()
  await expect(page.locator('#app')).not.toBeEmpty()
  await page.context().setOffline(false)
})

test('keyboard: Ctrl+K switches channel, Esc closes, arrow-up edits, focus is visible', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice')
  const a = await loginViaApi(server, { username: 'alice', password: defaultPassword })
  await api(server).createChannel(a, { name: 'alpha' })
  await api(server).createChannel(a, { name: 'beta' })
  const { page } = await signIn(browser, server, 'alice')
  await page.keyboard.press('Control+k')
  await expect(page.getByRole('dialog', { name: 'Jump to…' })).toBeVisible()
  await page.keyboard.press('Escape')
  await expect(page.getByRole('dialog')).toHaveCount(0)
  await page.keyboard.press('Control+k')
  await page.keyboard.type('beta')
  await page.keyboard.press('Enter')
  await expect(composer(page, 'Message #beta')).toBeFocused()
  await page.keyboard.type('frist')
  await page.keyboard.press('Enter')
  await expect(messageWith(page, 'frist')).not.toContainText('Sending…')
  await page.keyboard.press('ArrowUp')
  const edit = page.getByRole('textbox', { name: 'Edit message' })
  await expect(edit).toBeFocused()
  await edit.fill('first')
  await edit.press('Enter')
  await expect(messageWith(page, 'first')).toContainText('(edited)')
  // Tab reaches the controls with a visible focus ring.
  await page.keyboard.press('Shift+Tab')
  const ring = await page.evaluate(() => getComputedStyle(document.activeElement!).boxShadow)
  expect(ring).not.toBe('none')
  // The dark theme follows the system.
  await page.emulateMedia({ colorScheme: 'dark' })
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
  expect(bg).toBe('rgb(22, 22, 29)')
  await snap(page, 'dark')
})
