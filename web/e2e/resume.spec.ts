// The laptop lid: the network goes away with the socket open, messages are
// posted meanwhile, the network comes back. The client shows that it is
// reconnecting, resumes, and shows every missed message once, in order;
// what was typed while away is sent once when the connection is back.
import { api, expect, loginViaApi, registerViaApi, snap, test } from './fixtures'
import { closeContexts, composer, messageWith, send, signIn, timeline } from './helpers'
import { defaultPassword } from './api'

test.afterEach(closeContexts)

test('offline then online: reconnecting state, every missed message in order, pending sends go out once', async ({ server, browser }) => {
  test.setTimeout(60_000)
  const admin = await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice', { displayName: 'Alice' })
  await registerViaApi(server, 'bob', { displayName: 'Bob' })
  const opsApi = await loginViaApi(server, admin)
  const bobApi = await loginViaApi(server, { username: 'bob', password: defaultPassword })
  const aliceApi = await loginViaApi(server, { username: 'alice', password: defaultPassword })
  const a = api(server)
  const ch = await a.createChannel(bobApi, { name: 'ops-room' })
  await a.joinChannel(aliceApi, ch.id)
  await a.postMessage(bobApi, ch.id, 'before the lid closed')

  const { page } = await signIn(browser, server, 'alice')
  await page.getByRole('link', { name: /^#ops-room/ }).click()
  await expect(messageWith(page, 'before the lid closed')).toBeVisible()

  // The lid closes: no network, and the server drops the socket for real
  // (an admin closes the user's connections; Playwright's offline mode
  // alone does not cut an open WebSocket).
  await page.context().setOffline(true)
  const closed = await a.call<{ closed: number }>('DELETE', `/api/v1/admin/users/${aliceApi.user.id}/connections`, { auth: opsApi })
  expect(closed.closed).toBe(1)
  await expect(page.getByRole('status').filter({ hasText: 'Reconnecting…' })).toBeVisible()
  await snap(page, 'reconnecting')

  // While away: others talk, and Alice writes a message that cannot go yet.
  for (let i = 1; i <= 5; i++) await a.postMessage(bobApi, ch.id, `missed message ${i}`)
  await send(page, 'Message #ops-room', 'typed while offline')
  await expect(messageWith(page, 'typed while offline')).toContainText('Sending…')

  // The lid opens.
  await page.context().setOffline(false)
  await expect(page.getByRole('status').filter({ hasText: 'Reconnecting…' })).toHaveCount(0, { timeout: 15_000 })
  await expect(messageWith(page, 'missed message 5')).toBeVisible()
  await expect(messageWith(page, 'typed while offline')).not.toContainText('Sending…')

  // Every missed message once, in order, and the offline send stored once.
  const texts = await timeline(page).locator('article.msg .body').allTextContents()
  const seen = texts.map((t) => t.trim()).filter((t) => /missed message|typed while offline|before the lid/.test(t))
  expect(seen).toEqual(['before the lid closed', 'missed message 1', 'missed message 2', 'missed message 3', 'missed message 4', 'missed message 5', 'typed while offline'])
  const stored = await a.listMessages(bobApi, ch.id)
  expect(stored.filter((m) => m.body === 'typed while offline')).toHaveLength(1)

  // Still live after the resume.
  await a.postMessage(bobApi, ch.id, 'welcome back')
  await expect(messageWith(page, 'welcome back')).toBeVisible()
  await snap(page, 'resumed')
})

test('a send refused by the server is marked failed with a retry, and never doubled', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice')
  const aliceApi = await loginViaApi(server, { username: 'alice', password: defaultPassword })
  const ch = await api(server).createChannel(aliceApi, { name: 'limits' })
  const { page } = await signIn(browser, server, 'alice')
  await page.getByRole('link', { name: /^#limits/ }).click()
  // A body over the server's size limit is refused by the server, not the client.
  await composer(page, 'Message #limits').fill('x'.repeat(40_000))
  await composer(page, 'Message #limits').press('Enter')
  const failed = timeline(page).getByRole('alert')
  await expect(failed).toBeVisible()
  await expect(failed.getByRole('button', { name: 'Retry' })).toBeVisible()
  await snap(page, 'send-failed')
  await failed.getByRole('button', { name: 'Discard' }).click()
  await expect(timeline(page).getByRole('alert')).toHaveCount(0)
  expect(await api(server).listMessages(aliceApi, ch.id)).toHaveLength(0)
})

test.describe('short-lived access tokens', () => {
  test.use({ serverArgs: ['--access-ttl=1m'] })
  test('the open socket renews its token before expiry and stays live', async ({ server, browser }) => {
    test.setTimeout(120_000)
    await registerViaApi(server, 'ops', { admin: true })
    await registerViaApi(server, 'alice')
    await registerViaApi(server, 'bob')
    const bobApi = await loginViaApi(server, { username: 'bob', password: defaultPassword })
    const aliceApi = await loginViaApi(server, { username: 'alice', password: defaultPassword })
    const ch = await api(server).createChannel(bobApi, { name: 'night-shift' })
    await api(server).joinChannel(aliceApi, ch.id)
    const { page } = await signIn(browser, server, 'alice')
    await page.getByRole('link', { name: /^#night-shift/ }).click()
    let closes = 0
    page.on('websocket', (ws) => ws.on('close', () => closes++))
    // Past the first token's expiry the same socket still delivers (the
    // server closes a socket with 4001 at expiry unless it renewed).
    await page.waitForTimeout(65_000)
    const fresh = await loginViaApi(server, { username: 'bob', password: defaultPassword })
    await api(server).postMessage(fresh, ch.id, 'still here?')
    await expect(messageWith(page, 'still here?')).toBeVisible()
    await send(page, 'Message #night-shift', 'yes')
    await expect(messageWith(page, 'yes')).not.toContainText('Sending…')
    expect(closes).toBe(0)
  })
})
