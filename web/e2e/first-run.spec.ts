// The operator's first start: the server has no admin, the page offers to
// claim it with the setup token from the log.
import { expect, snap, test } from './fixtures'
import { closeContexts, newPage, watchForErrors } from './helpers'

test.afterEach(closeContexts)

test('claims the server as admin from the browser with the setup token', async ({ server, page }) => {
  watchForErrors(page)
  await page.goto('/')
  await expect(page.getByRole('heading', { name: 'Set up this server' })).toBeVisible()
  await snap(page, 'first-run')

  // A wrong token is refused in words a person understands, and nothing is created.
  await page.getByLabel('Setup token').fill('uhs_wrong')
  await page.getByLabel('Username').fill('ops')
  await page.getByLabel('Password').fill('a long admin passphrase')
  await page.getByRole('button', { name: 'Claim server as admin' }).click()
  await expect(page.getByRole('alert')).toContainText('setup token is not valid')

  await page.getByLabel('Setup token').fill(server.setupToken)
  await page.getByRole('button', { name: 'Claim server as admin' }).click()
  await expect(page.getByRole('heading', { name: 'Welcome to Unhidra' })).toBeVisible()
  await expect(page.getByRole('button', { name: /Your account: ops/ })).toBeVisible()
  await snap(page, 'empty-home')

  // The token is spent: a reload shows the ordinary sign-in for someone new.
  const other = await newPage(page.context().browser()!, server)
  await other.goto('/')
  await expect(other.getByRole('heading', { name: 'Welcome back' })).toBeVisible()
  await snap(other, 'login')
})
