// The person's own settings and a channel's: profile, password, sessions,
// notification level and mute, desktop notifications.
import { api, expect, loginViaApi, registerViaApi, snap, test } from './fixtures'
import { closeContexts, send, sidebarLink, signIn } from './helpers'
import { defaultPassword } from './api'

test.afterEach(closeContexts)

test('profile, password change and signing out everywhere else', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice', { displayName: 'Alice' })
  const elsewhere = await loginViaApi(server, { username: 'alice', password: defaultPassword })
  const { page } = await signIn(browser, server, 'alice')
  await page.getByRole('button', { name: /Your account/ }).click()
  await page.getByRole('menuitem', { name: 'Profile and settings' }).click()
  await page.getByLabel('Display name').fill('Alice Liddell')
  await page.getByLabel('Status message').fill('Down the rabbit hole')
  await page.getByRole('button', { name: 'Save profile' }).click()
  await expect(page.getByText('Profile saved.')).toBeVisible()
  const me = await api(server).call<{ user: { display_name: string; status_text: string } }>('GET', '/api/v1/users/me', { auth: elsewhere })
  expect(me.user).toMatchObject({ display_name: 'Alice Liddell', status_text: 'Down the rabbit hole' })

  await page.getByRole('link', { name: 'Active sessions' }).click()
  await expect(page.getByText('This session')).toBeVisible()
  await expect(page.locator('.session-row')).toHaveCount(2)
  await snap(page, 'sessions')
  page.once('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: 'Sign out everywhere else' }).click()
  await expect(page.locator('.session-row')).toHaveCount(1)
  const refused = await api(server).request('POST', '/api/v1/auth/refresh', { json: { refresh_token: elsewhere.refreshToken } })
  expect(refused.status).toBe(401)

  await page.getByRole('link', { name: 'Password' }).click()
  await page.getByLabel('Current password').fill('not my password at all')
  await page.getByLabel('New password', { exact: true }).fill('an even longer passphrase')
  await page.getByLabel('New password again').fill('an even longer passphrase')
  await page.getByRole('button', { name: 'Change password' }).click()
  await expect(page.getByRole('alert')).toBeVisible()
  await page.getByLabel('Current password').fill(defaultPassword)
  await page.getByRole('button', { name: 'Change password' }).click()
  await expect(page.getByText('Password changed.')).toBeVisible()
  await api(server).login('alice', 'an even longer passphrase')
})

test('mute, notification level, desktop notifications and mark all read', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice', { displayName: 'Alice' })
  await registerViaApi(server, 'bob', { displayName: 'Bob' })
  const a = await loginViaApi(server, { username: 'alice', password: defaultPassword })
  const b = await loginViaApi(server, { username: 'bob', password: defaultPassword })
  const loud = await api(server).createChannel(b, { name: 'loud' })
  const quiet = await api(server).createChannel(b, { name: 'quiet' })
  const here = await api(server).createChannel(b, { name: 'here' })
  for (const c of [loud, quiet, here]) await api(server).joinChannel(a, c.id)

  // Desktop notifications are shown through the Notification API once allowed.
  const { page } = await signIn(browser, server, 'alice')
  await page.context().grantPermissions(['notifications'])
  await page.evaluate(() => {
    const w = window as unknown as { __notes: string[]; Notification: unknown }
    w.__notes = []
    const Real = Notification
    class Recording extends Real {
      constructor(title: string, opts?: NotificationOptions) {
        super(title, opts)
        w.__notes.push(title + ': ' + (opts?.body ?? ''))
      }
    }
    w.Notification = Recording
  })
  await sidebarLink(page, /^#here/).click()

  // Mute "quiet"; "loud" notifies about every message.
  await sidebarLink(page, /^#quiet/).click()
  await page.getByRole('button', { name: 'Channel settings' }).click()
  await page.getByRole('menuitem', { name: 'Mute channel' }).click()
  await expect(sidebarLink(page, /^#quiet, muted/)).toBeVisible()
  await sidebarLink(page, /^#loud/).click()
  await page.getByRole('button', { name: 'Channel settings' }).click()
  await page.getByRole('menuitemradio', { name: /All new messages/ }).click()
  await sidebarLink(page, /^#here/).click()

  // Seen from the page in the background: the browser would show these.
  await page.evaluate(() => Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true }))
  await api(server).postMessage(b, quiet.id, 'nobody hears this @alice')
  await api(server).postMessage(b, loud.id, 'everyone hears this')
  await expect.poll(() => page.evaluate(() => (window as unknown as { __notes: string[] }).__notes)).toEqual(['Bob in #loud: everyone hears this'])
  await page.evaluate(() => Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true }))

  // The settings survive a reload (they are the server's).
  await page.reload()
  await expect(sidebarLink(page, /^#quiet.*muted/)).toBeVisible()
  await sidebarLink(page, /^#loud/).click()
  await page.getByRole('button', { name: 'Channel settings' }).click()
  await expect(page.getByRole('menuitemradio', { name: /All new messages/ })).toHaveAttribute('aria-checked', 'true')
  await page.keyboard.press('Escape')

  // Mark all read clears every unread channel.
  await api(server).postMessage(b, here.id, 'one more')
  await api(server).postMessage(b, quiet.id, 'and another')
  await sidebarLink(page, /^#loud/).click()
  await page.getByRole('button', { name: 'Mark all read' }).click()
  await expect(page.locator('.side-item.unread')).toHaveCount(0)
  await send(page, 'Message #loud', 'all caught up')
})
