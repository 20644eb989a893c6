// The admins' user screen, and what a guest then sees: an admin makes a
// member a guest, signs them out everywhere, disables and enables them.
import { api, expect, loginViaApi, registerViaApi, snap, test } from './fixtures'
import { closeContexts, signIn } from './helpers'
import { defaultPassword } from './api'

test.afterEach(closeContexts)

test('an admin makes a guest, signs them out and disables them; the guest sees only their channels', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'gina', { displayName: 'Gina' })
  const ops = await loginViaApi(server, { username: 'ops', password: defaultPassword })
  const lobby = await api(server).createChannel(ops, { name: 'lobby' })
  const project = await api(server).createChannel(ops, { name: 'project', kind: 'private' })
  const gina = await loginViaApi(server, { username: 'gina', password: defaultPassword })
  await api(server).call('PUT', `/api/v1/channels/${project.id}/members/${gina.user.id}`, { auth: ops, json: { role: 'member' } })

  const { page } = await signIn(browser, server, 'ops')
  await page.goto(server.url + '/settings/users')
  const table = page.getByRole('table', { name: 'Users' })
  await expect(table.getByText('@gina')).toBeVisible()
  await table.getByLabel('Role of gina').selectOption('guest')
  await expect(page.getByText('@gina updated.')).toBeVisible()
  await snap(page, 'admin-users')

  // The guest's own browser: the private channel she was added to, no
  // public channel, no browsing or creating.
  const guest = await signIn(browser, server, 'gina')
  await expect(guest.page.getByRole('link', { name: /project/ })).toBeVisible()
  await expect(guest.page.getByRole('link', { name: /lobby/ })).toHaveCount(0)
  await expect(guest.page.getByRole('button', { name: 'Create channel' })).toHaveCount(0)
  await expect(guest.page.getByRole('button', { name: 'Browse channels' })).toHaveCount(0)
  const seen = await api(server).request('GET', `/api/v1/channels/${lobby.id}`, { auth: gina })
  expect(seen.status).toBe(404)

  // Signed out everywhere: her refresh token no longer works.
  await table.getByRole('button', { name: 'Sign @gina out everywhere' }).click()
  await expect(page.getByText(/@gina signed out of/)).toBeVisible()
  const refused = await api(server).request('POST', '/api/v1/auth/refresh', { json: { refresh_token: gina.refreshToken } })
  expect(refused.status).toBe(401)

  const row = table.getByRole('row').filter({ hasText: '@gina' })
  await row.getByRole('button', { name: 'Disable' }).click()
  await expect(row.getByText('Disabled')).toBeVisible()
  expect((await api(server).request('POST', '/api/v1/auth/login', { json: { username: 'gina', password: defaultPassword } })).status).toBe(401)
  await row.getByRole('button', { name: 'Enable' }).click()
  await expect(row.getByText('Active')).toBeVisible()
  await api(server).login('gina', defaultPassword)
})

test('an admin reads the audit log and checks its chain', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice', { displayName: 'Alice' })
  const wrong = await api(server).request('POST', '/api/v1/auth/login', { json: { username: 'alice', password: 'not her password at all' } })
  expect(wrong.status).toBe(401)
  const { page } = await signIn(browser, server, 'ops')
  await page.goto(server.url + '/settings/audit')
  const table = page.getByRole('table', { name: 'Audit entries' })
  // The chain takes events in within a moment; reload until the failed login shows.
  await expect(async () => {
    await page.reload()
    await expect(table.getByRole('row').filter({ hasText: 'auth.login' }).filter({ hasText: 'failed (bad_password)' })).toBeVisible({ timeout: 1000 })
  }).toPass({ timeout: 20_000 })
  await page.getByRole('button', { name: 'Check the chain' }).click()
  await expect(page.getByText(/Intact: \d+ entries/)).toBeVisible()
  await snap(page, 'audit-log')
})
