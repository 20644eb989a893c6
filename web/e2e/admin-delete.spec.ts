// The admins deleting accounts (Settings → Users) both ways, what another
// member sees of it, and the admins' channel screen (Settings → Channels).
import { api, expect, loginViaApi, registerViaApi, snap, test } from './fixtures'
import { closeContexts, messageWith, signIn, sidebarLink, timeline } from './helpers'
import { defaultPassword } from './api'

test.afterEach(closeContexts)

test('an admin deletes one user keeping their messages and another erasing them; a member sees "Deleted user"', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice', { displayName: 'Alice' })
  await registerViaApi(server, 'bob', { displayName: 'Bob Builder' })
  await registerViaApi(server, 'carol', { displayName: 'Carol Singer' })
  const ops = await loginViaApi(server, { username: 'ops', password: defaultPassword })
  const a = await loginViaApi(server, { username: 'alice', password: defaultPassword })
  const b = await loginViaApi(server, { username: 'bob', password: defaultPassword })
  const c = await loginViaApi(server, { username: 'carol', password: defaultPassword })
  const ch = await api(server).createChannel(ops, { name: 'general' })
  for (const s of [a, b, c]) await api(server).joinChannel(s, ch.id)
  await api(server).postMessage(b, ch.id, 'bob keeps this one')
  await api(server).postMessage(c, ch.id, 'carol erases this one')
  await api(server).postMessage(a, ch.id, 'alice says hello')

  // Alice watches the channel.
  const alice = await signIn(browser, server, 'alice')
  await sidebarLink(alice.page, /general/).click()
  await expect(messageWith(alice.page, 'bob keeps this one')).toContainText('Bob Builder')
  await expect(messageWith(alice.page, 'carol erases this one')).toContainText('Carol Singer')

  const { page } = await signIn(browser, server, 'ops')
  await page.goto(server.url + '/settings/users')
  const table = page.getByRole('table', { name: 'Users' })

  // Anonymise bob: the dialog insists on a choice.
  await table.getByRole('button', { name: 'Delete @bob' }).click()
  const dialog = page.getByRole('dialog', { name: 'Delete @bob?' })
  await expect(dialog.getByRole('button', { name: 'Delete account' })).toBeDisabled()
  await dialog.getByLabel(/Anonymise \(keep messages\)/).check()
  await snap(page, 'admin-delete-dialog')
  await dialog.getByRole('button', { name: 'Delete account' }).click()
  await expect(page.getByText(/@bob deleted: 1 message kept/)).toBeVisible()
  await expect(dialog).toHaveCount(0)
  await expect(table.getByText('@bob')).toHaveCount(0)
  await expect(table.getByRole('row').filter({ hasText: 'Deleted user' })).toHaveCount(1)

  // Alice sees his message stay, its author now "Deleted user", live.
  const kept = messageWith(alice.page, 'bob keeps this one')
  await expect(kept).toContainText('Deleted user')
  await expect(kept).not.toContainText('Bob Builder')
  // Bob is signed out: his session no longer works, nor his password.
  expect((await api(server).request('GET', '/api/v1/users/me', { auth: b })).status).toBe(401)
  expect((await api(server).request('POST', '/api/v1/auth/login', { json: { username: 'bob', password: defaultPassword } })).status).toBe(401)

  // Erase carol.
  await table.getByRole('button', { name: 'Delete @carol' }).click()
  const dialog2 = page.getByRole('dialog', { name: 'Delete @carol?' })
  await dialog2.getByLabel(/Erase \(delete their messages\)/).check()
  await dialog2.getByRole('button', { name: 'Delete account' }).click()
  await expect(page.getByText(/@carol deleted: 1 message erased/)).toBeVisible()
  await expect(table.getByRole('row').filter({ hasText: 'Deleted user' })).toHaveCount(2)
  await snap(page, 'admin-users-deleted')

  // Alice: carol's words are gone, bob's stay under "Deleted user", her own
  // untouched; the same after a reload.
  await expect(timeline(alice.page).getByText('carol erases this one')).toHaveCount(0)
  await expect(messageWith(alice.page, 'alice says hello')).toBeVisible()
  await snap(alice.page, 'member-sees-deleted-users')
  await alice.page.reload()
  await expect(messageWith(alice.page, 'bob keeps this one')).toContainText('Deleted user')
  await expect(timeline(alice.page).getByText('carol erases this one')).toHaveCount(0)
  await expect(timeline(alice.page).getByText('Carol Singer')).toHaveCount(0)

  // The API says the same.
  const msgs = await api(server).listMessages(a, ch.id)
  const bobs = msgs.find((m) => m.body === 'bob keeps this one')!
  expect(bobs.sender).toEqual({ type: 'user', id: b.user.id })
  const prof = await api(server).call<{ user: { deleted: boolean; display_name: string } }>('GET', `/api/v1/users/${b.user.id}`, { auth: a })
  expect(prof.user).toMatchObject({ deleted: true, display_name: 'Deleted user' })
  expect(msgs.filter((m) => (m.sender as { id: string }).id === c.user.id).every((m) => m.deleted && !m.body)).toBe(true)
  const found = await api(server).call<{ hits: unknown[] }>('GET', '/api/v1/search?q=erases', { auth: a })
  expect(found.hits).toHaveLength(0)
})

test('an admin lists every channel, looks at its members and archives one; members have no such screen', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice', { displayName: 'Alice' })
  const ops = await loginViaApi(server, { username: 'ops', password: defaultPassword })
  const a = await loginViaApi(server, { username: 'alice', password: defaultPassword })
  await api(server).createChannel(ops, { name: 'general' })
  const hidden = await api(server).createChannel(a, { name: 'hidden-room', kind: 'private' })
  await api(server).postMessage(a, hidden.id, 'only alice reads this')
  await api(server).createChannel(a, { kind: 'direct', members: [ops.user.id] })

  const member = await signIn(browser, server, 'alice')
  await member.page.goto(server.url + '/settings/channels')
  await expect(member.page.getByRole('link', { name: 'Channels', exact: true })).toHaveCount(0)
  await expect(member.page.getByLabel('Display name')).toBeVisible()

  const { page } = await signIn(browser, server, 'ops')
  await page.goto(server.url + '/settings/channels')
  await expect(page.getByRole('heading', { name: 'Channels', exact: true })).toBeVisible()
  const table = page.getByRole('table', { name: 'Channels' })
  await expect(table.getByRole('row').filter({ hasText: 'general' })).toBeVisible()
  const row = table.getByRole('row').filter({ hasText: 'hidden-room' })
  await expect(row).toContainText('Active')
  await expect(page.getByText(/1 direct conversation/)).toBeVisible()
  await expect(page.getByText('only alice reads this')).toHaveCount(0)

  await page.getByLabel('Search channels').fill('hidden')
  await expect(table.getByRole('row').filter({ hasText: 'general' })).toHaveCount(0)
  await row.getByRole('button', { name: 'Members of #hidden-room' }).click()
  await expect(table.getByLabel('Members of #hidden-room').getByText('Alice')).toBeVisible()
  await snap(page, 'admin-channels')

  page.once('dialog', (d) => void d.accept())
  await row.getByRole('button', { name: 'Archive #hidden-room' }).click()
  await expect(page.getByText('#hidden-room archived.')).toBeVisible()
  await expect(row).toContainText('Archived')
  const post = await api(server).request('POST', `/api/v1/channels/${hidden.id}/messages`, { auth: a, json: { client_msg_id: 'late', body: 'too late' } })
  expect(post.status).toBe(403)
})
