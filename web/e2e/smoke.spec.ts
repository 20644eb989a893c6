// The harness itself: a server of the test's own, its API, and Chromium
// loading the client it serves.
import { api, expect, registerViaApi, snap, test } from './fixtures'

test('the server answers /healthz and serves the client at /', async ({ server, page }) => {
  const health = await api(server).request('GET', '/healthz')
  expect(health.status).toBe(200)

  const res = await page.goto('/')
  expect(res?.status()).toBe(200)
  await expect(page).toHaveTitle('Unhidra')
  await expect(page.locator('#app')).not.toBeEmpty()
  await snap(page, 'smoke-home')
})

test('the API helpers arrange state: an admin, a member, a channel and messages', async ({ server }) => {
  expect(server.setupToken).not.toBe('')
  const a = api(server)

  const admin = await registerViaApi(server, 'alice', { admin: true, displayName: 'Alice' })
  expect(admin.user.role).toBe('admin')
  const member = await registerViaApi(server, 'bob')
  expect(member.user.role).toBe('member')

  const alice = await a.login(admin.username, admin.password)
  const bob = await a.login(member.username, member.password)
  const channel = await a.createChannel(alice, { name: 'general' })
  await a.joinChannel(bob, channel.id)

  const first = await a.postMessage(alice, channel.id, 'hello from the API')
  const again = await a.postMessage(alice, channel.id, 'hello from the API', { clientMsgId: first.client_msg_id })
  expect(again.id).toBe(first.id)
  await a.postMessage(bob, channel.id, 'hi alice')

  const messages = await a.listMessages(bob, channel.id)
  expect(messages.map((m) => m.body)).toEqual(['hello from the API', 'hi alice'])
  expect(messages[1]!.seq).toBeGreaterThan(messages[0]!.seq)

  const denied = await a.request('GET', `/api/v1/channels/${channel.id}/messages`)
  expect(denied.status).toBe(401)
})

test('restart keeps the data and the address', async ({ server }) => {
  const account = await registerViaApi(server, 'carol', { admin: true })
  const url = server.url
  await server.restart()
  expect(server.url).toBe(url)
  expect(server.setupToken).toBe('')
  const session = await api(server).login(account.username, account.password)
  expect(session.user.username).toBe('carol')
})
