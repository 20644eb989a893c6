// The admins' System and Connections screens: closing registration turns
// a fresh visitor away at once (and refuses one whose form was already
// open), resetting it to the flag's default lets them in again; the
// connection list shows the admin's own tab and disconnects another
// user's connection, which comes back by itself.
import { api, defaultPassword, expect, registerViaApi, snap, test } from './fixtures'
import { closeContexts, newPage, signIn } from './helpers'

test.afterEach(closeContexts)

test('an admin closes and reopens registration; a fresh visitor is refused, then welcome', async ({ server, browser }) => {
  test.setTimeout(60_000)
  await registerViaApi(server, 'ops', { admin: true })
  const { page } = await signIn(browser, server, 'ops')
  await page.goto(server.url + '/settings/system')
  const form = page.getByRole('form', { name: 'System settings' })
  const registration = form.getByLabel(/^Registration/)
  await expect(registration).toHaveValue('open')
  await expect(form.getByText('Default: Open: anyone may create an account')).toBeVisible()
  await expect(form.getByRole('button', { name: 'Reset Registration to its default' })).toBeDisabled()

  // A visitor who opened the form before the change.
  const early = await newPage(browser, server)
  await early.goto('/')
  await early.getByRole('button', { name: 'Create an account' }).click()
  await expect(early.getByRole('button', { name: 'Create account' })).toBeVisible()

  await registration.selectOption('closed')
  await form.getByRole('button', { name: 'Save changes' }).click()
  await expect(page.getByText('Settings saved.')).toBeVisible()
  await expect(form.getByText('Changed here')).toBeVisible()
  await snap(page, 'admin-system-closed')

  // A fresh visitor: no way to create an account.
  const fresh = await newPage(browser, server)
  await fresh.goto('/')
  await expect(fresh.getByRole('heading', { name: 'Welcome back' })).toBeVisible()
  await expect(fresh.getByRole('button', { name: 'Create an account' })).toHaveCount(0)
  await snap(fresh, 'visitor-registration-closed')
  // The early visitor's form is refused by the server.
  await early.getByLabel('Username').fill('eve')
  await early.getByLabel('Password').fill('the first visitor passphrase')
  await early.getByRole('button', { name: 'Create account' }).click()
  await expect(early.getByRole('alert')).toContainText('registration is closed')
  await snap(early, 'visitor-register-refused')

  // Back to the flag's default: the next fresh visitor gets in.
  await form.getByRole('button', { name: 'Reset Registration to its default' }).click()
  await expect(page.getByText('Registration is back to its default.')).toBeVisible()
  await expect(registration).toHaveValue('open')
  await expect(form.getByText('Changed here')).toHaveCount(0)
  const later = await newPage(browser, server)
  await later.goto('/')
  await later.getByRole('button', { name: 'Create an account' }).click()
  await later.getByLabel('Username').fill('lou')
  await later.getByLabel('Password').fill('the second visitor passphrase')
  await later.getByRole('button', { name: 'Create account' }).click()
  await expect(later.getByRole('navigation', { name: 'Channels and direct messages' })).toBeVisible()

  // A value outside the rules is not sent: the field says it is invalid.
  const retention = form.getByLabel(/^Message retention/)
  await retention.fill('-5')
  await form.getByRole('button', { name: 'Save changes' }).click()
  expect(await retention.evaluate((e) => (e as HTMLInputElement).validity.valid)).toBe(false)
  await retention.fill('0')
  // Single sign-on only needs a break-glass admin first: the server says so.
  await form.getByLabel(/^Password sign-in/).selectOption('sso-only')
  await form.getByRole('button', { name: 'Save changes' }).click()
  await expect(form.getByRole('alert')).toContainText('break-glass')
  await snap(page, 'admin-system-refused')
  const settings = await api(server).call('GET', '/api/v1/admin/settings', { auth: await api(server).login('ops', defaultPassword) })
  expect(JSON.stringify(settings)).not.toContain('"override"')
})

test('an admin sees their own connection and disconnects another', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'mia', { displayName: 'Mia' })
  const mia = await signIn(browser, server, 'mia')
  const { page } = await signIn(browser, server, 'ops')
  await page.goto(server.url + '/settings/connections')
  const table = page.getByRole('table', { name: 'Connections' })
  const own = table.getByRole('row').filter({ hasText: '@ops' })
  await expect(own.getByText('This tab')).toBeVisible()
  await expect(own).toContainText('Chrome on Linux')
  const hers = table.getByRole('row').filter({ hasText: '@mia' })
  await expect(hers).toHaveCount(1)
  await snap(page, 'admin-connections')

  const ops = await api(server).login('ops', defaultPassword)
  type Conns = { connections: { id: string; username: string }[] }
  const miaConns = async () => (await api(server).call<Conns>('GET', '/api/v1/admin/connections', { auth: ops })).connections.filter((c) => c.username === 'mia')
  const [before] = await miaConns()
  expect(before).toBeDefined()

  await hers.getByRole('button', { name: /^Disconnect @mia/ }).click()
  await expect(page.getByText(/Disconnected @mia's/)).toBeVisible()
  // Her tab connects again by itself, as a new connection.
  await expect(async () => {
    const now = await miaConns()
    expect(now.length).toBe(1)
    expect(now[0]!.id).not.toBe(before!.id)
  }).toPass({ timeout: 15_000 })
  await page.getByRole('button', { name: 'Refresh' }).click()
  await expect(table.getByRole('row').filter({ hasText: '@mia' })).toHaveCount(1)
  await expect(mia.page.getByRole('navigation', { name: 'Channels and direct messages' })).toBeVisible()
  await snap(page, 'admin-connections-after')
})
