// Reading back: infinite scroll to the channel's first message, and a
// permalink to an old message that opens the window around it.
import { api, expect, loginViaApi, registerViaApi, snap, test } from './fixtures'
import { closeContexts, messageWith, signIn, timeline } from './helpers'
import { defaultPassword } from './api'

test.afterEach(closeContexts)

test('scrolling back loads older pages to the first message; a permalink opens an old message highlighted', async ({ server, browser }) => {
  test.setTimeout(60_000)
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice')
  const a = await loginViaApi(server, { username: 'alice', password: defaultPassword })
  const ch = await api(server).createChannel(a, { name: 'archive' })
  const ids: string[] = []
  for (let i = 1; i <= 180; i++) ids.push((await api(server).postMessage(a, ch.id, `history line ${i}`)).id)

  const { page } = await signIn(browser, server, 'alice')
  await page.getByRole('link', { name: /^#archive/ }).click()
  await expect(messageWith(page, 'history line 180')).toBeVisible()
  // Only a window of rows is in the DOM.
  expect(await timeline(page).locator('article.msg').count()).toBeLessThan(60)

  // Scroll to the top until the channel's beginning shows.
  const intro = timeline(page).getByText('This is the very beginning')
  for (let i = 0; i < 40 && !(await intro.isVisible()); i++) {
    await timeline(page).evaluate((el) => (el.scrollTop = 0))
    await page.waitForTimeout(150)
  }
  await expect(intro).toBeVisible()
  await expect(timeline(page).getByText('history line 1', { exact: true })).toBeVisible()
  expect(await timeline(page).locator('article.msg').count()).toBeLessThan(60)
  await snap(page, 'history-top')

  // A permalink to message 20 in a fresh tab: the window around it, highlighted.
  const tab = await page.context().newPage()
  await tab.goto(`/c/${ch.id}/m/${ids[19]}`)
  const target = tab.locator(`#msg-${ids[19]}`)
  await expect(target).toBeVisible()
  await expect(target).toHaveClass(/highlight/)
  await expect(target).toContainText('history line 20')
  await snap(tab, 'permalink')
  // Jump to latest brings the live end back.
  await tab.getByRole('button', { name: 'Jump to latest' }).click()
  await expect(messageWith(tab, 'history line 180')).toBeVisible()
})
