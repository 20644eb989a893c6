// The admins' compliance screen: a channel's retention, legal holds and the
// compliance export, as an admin uses them, and hidden from members.
import { readFile } from 'node:fs/promises'
import { api, expect, loginViaApi, registerViaApi, snap, test } from './fixtures'
import { closeContexts, signIn } from './helpers'
import { defaultPassword } from './api'

test.afterEach(closeContexts)

test('an admin sets retention, places and releases legal holds and downloads an export', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice', { displayName: 'Alice' })
  const ops = await loginViaApi(server, { username: 'ops', password: defaultPassword })
  const a = await loginViaApi(server, { username: 'alice', password: defaultPassword })
  const ch = await api(server).createChannel(ops, { name: 'records' })
  await api(server).joinChannel(a, ch.id)
  await api(server).postMessage(a, ch.id, 'the quarterly numbers')

  // A member has no compliance screen.
  const member = await signIn(browser, server, 'alice')
  await member.page.goto(server.url + '/settings/compliance')
  await expect(member.page.getByRole('link', { name: 'Compliance' })).toHaveCount(0)
  await expect(member.page.getByLabel('Display name')).toBeVisible()

  const { page } = await signIn(browser, server, 'ops')
  await page.goto(server.url + '/settings/compliance')
  await expect(page.getByRole('heading', { name: 'Compliance', exact: true })).toBeVisible()

  const retention = page.getByRole('form', { name: 'Retention' })
  await retention.getByLabel('Channel').selectOption({ label: 'records' })
  await retention.getByLabel(/Keep messages for/).fill('90')
  await retention.getByRole('button', { name: 'Save retention' }).click()
  await expect(page.getByText('Retention saved.')).toBeVisible()
  const got = await api(server).call<{ days?: number }>('GET', `/api/v1/admin/channels/${ch.id}/retention`, { auth: ops })
  expect(got.days).toBe(90)

  const holds = page.getByRole('form', { name: 'Legal holds' })
  await holds.getByLabel('Username').fill('alice')
  await holds.getByLabel('Reason').fill('case 7')
  await holds.getByRole('button', { name: 'Place hold' }).click()
  await expect(holds.getByRole('list', { name: 'Holds' }).getByText('@alice')).toBeVisible()
  await holds.getByLabel('Hold on').selectOption('channel')
  await holds.getByLabel('Channel to hold').selectOption({ label: 'records' })
  await holds.getByRole('button', { name: 'Place hold' }).click()
  await expect(holds.getByRole('list', { name: 'Holds' }).getByText('#records')).toBeVisible()
  const listed = await api(server).call<{ holds: { kind: string }[] }>('GET', '/api/v1/admin/legal-holds', { auth: ops })
  expect(listed.holds.map((h) => h.kind).sort()).toEqual(['channel', 'user'])
  await snap(page, 'compliance')
  await holds.getByRole('listitem').filter({ hasText: '#records' }).getByRole('button', { name: 'Release' }).click()
  await expect(holds.getByRole('list', { name: 'Holds' }).getByText('#records')).toHaveCount(0)

  const exp = page.getByRole('form', { name: 'Compliance export' })
  await exp.getByLabel('Format').selectOption('csv')
  const download = page.waitForEvent('download')
  await exp.getByRole('button', { name: 'Download export' }).click()
  const file = await (await download).path()
  const text = await readFile(file, 'utf8')
  expect(text.split('\n')[0]).toBe('id,channel_id,channel_name,seq,sender_type,sender_id,kind,body,thread_root_id,created_at,edited_at')
  expect(text).toContain('the quarterly numbers')
})
