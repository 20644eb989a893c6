// Passkeys through the web client, with Chromium's virtual authenticator
// (Chrome DevTools Protocol, WebAuthn domain) standing in for a phone or a
// security key: register two, sign in with each without a username, rename
// and remove one, and a removed passkey no longer signs in.
//
// Passkeys need a domain name as relying party (browsers refuse an IP), so
// these pages load the server as http://localhost:PORT.
import type { Browser, CDPSession, Page } from '@playwright/test'
import { expect, registerViaApi, snap, test } from './fixtures'
import { closeContexts, watchForErrors } from './helpers'
import { defaultPassword, loginViaUi } from './fixtures'
import type { Server } from './fixtures'

test.afterEach(closeContexts)

const opened: { close(): Promise<void> }[] = []
test.afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close().catch(() => {})))
})

interface Device {
  page: Page
  cdp: CDPSession
  authenticatorId: string
}

/** device opens a fresh browser (own cookies) at localhost with a virtual platform authenticator. */
async function device(browser: Browser, server: Server): Promise<Device> {
  const ctx = await browser.newContext({ baseURL: server.url.replace('127.0.0.1', 'localhost'), viewport: { width: 1280, height: 800 } })
  opened.push(ctx)
  const page = await ctx.newPage()
  watchForErrors(page)
  const cdp = await ctx.newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  })
  return { page, cdp, authenticatorId }
}

async function credentials(d: Device) {
  return (await d.cdp.send('WebAuthn.getCredentials', { authenticatorId: d.authenticatorId })).credentials
}

const channels = (page: Page) => page.getByRole('navigation', { name: 'Channels and direct messages' })

test('register passkeys, sign in with them without a username, rename and remove', async ({ server, browser }) => {
  await registerViaApi(server, 'ops', { admin: true })
  await registerViaApi(server, 'alice', { displayName: 'Alice' })

  // Alice signs in with her password on her laptop and adds a passkey.
  const laptop = await device(browser, server)
  await laptop.page.goto('/')
  await loginViaUi(laptop.page, 'alice', defaultPassword)
  await expect(channels(laptop.page)).toBeVisible()
  await laptop.page.goto('/settings/passkeys')
  await expect(laptop.page.getByText('No passkeys yet.')).toBeVisible()
  await laptop.page.getByLabel('Name for the new passkey').fill('Work laptop')
  await laptop.page.getByRole('button', { name: 'Add a passkey' }).click()
  const list = laptop.page.getByRole('list', { name: 'Your passkeys' })
  await expect(list.getByText('Work laptop')).toBeVisible()
  const laptopCreds = await credentials(laptop)
  expect(laptopCreds).toHaveLength(1)
  expect(laptopCreds[0]!.isResidentCredential).toBe(true)
  expect(laptopCreds[0]!.rpId).toBe('localhost')

  // The same authenticator cannot hold a second passkey for her.
  await laptop.page.getByLabel('Name for the new passkey').fill('Again')
  await laptop.page.getByRole('button', { name: 'Add a passkey' }).click()
  await expect(laptop.page.getByRole('alert')).toContainText('already holds a passkey')

  // A second authenticator (a security key) on the same browser.
  await laptop.cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: laptop.authenticatorId, enabled: false })
  await laptop.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: laptop.authenticatorId })
  const key = await laptop.cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  })
  await laptop.page.getByLabel('Name for the new passkey').fill('Security key')
  await laptop.page.getByRole('button', { name: 'Add a passkey' }).click()
  await expect(list.getByText('Security key')).toBeVisible()
  await expect(list.getByRole('listitem')).toHaveCount(2)
  const keyCreds = (await laptop.cdp.send('WebAuthn.getCredentials', { authenticatorId: key.authenticatorId })).credentials
  expect(keyCreds).toHaveLength(1)
  await snap(laptop.page, 'passkeys-two')

  // A new browser holding the laptop's passkey signs in with it alone: no
  // username, no password.
  const phone = await device(browser, server)
  await phone.cdp.send('WebAuthn.addCredential', { authenticatorId: phone.authenticatorId, credential: laptopCreds[0]! })
  await phone.page.goto('/')
  await snap(phone.page, 'passkeys-login-screen')
  await phone.page.getByRole('button', { name: 'Sign in with a passkey' }).click()
  await expect(channels(phone.page)).toBeVisible()
  await phone.page.goto('/settings/profile')
  await expect(phone.page.getByLabel('Display name')).toHaveValue('Alice')
  // The authenticator's counter moved, and the server saw it.
  const after = await credentials(phone)
  expect(after[0]!.signCount).toBeGreaterThan(laptopCreds[0]!.signCount)
  await phone.page.goto('/settings/passkeys')
  const phoneList = phone.page.getByRole('list', { name: 'Your passkeys' })
  await expect(phoneList.getByRole('listitem').filter({ hasText: 'Work laptop' })).toContainText('last used')

  // Rename the security key, then remove the laptop's passkey.
  await phoneList.getByRole('button', { name: 'Rename Security key' }).click()
  await phone.page.getByLabel('Passkey name').fill('YubiKey')
  await phone.page.getByRole('button', { name: 'Save' }).click()
  await expect(phoneList.getByText('YubiKey')).toBeVisible()
  phone.page.once('dialog', (d) => void d.accept())
  await phoneList.getByRole('button', { name: 'Remove Work laptop' }).click()
  await expect(phoneList.getByRole('listitem')).toHaveCount(1)
  await snap(phone.page, 'passkeys-renamed-removed')

  // The removed passkey no longer signs in: a third browser with it is refused.
  const stolen = await device(browser, server)
  await stolen.cdp.send('WebAuthn.addCredential', { authenticatorId: stolen.authenticatorId, credential: after[0]! })
  await stolen.page.goto('/')
  await stolen.page.getByRole('button', { name: 'Sign in with a passkey' }).click()
  await expect(stolen.page.getByRole('alert')).toContainText('This passkey was not accepted')
  await expect(channels(stolen.page)).toBeHidden()
  await snap(stolen.page, 'passkeys-removed-refused')

  // The security key still does.
  const desk = await device(browser, server)
  await desk.cdp.send('WebAuthn.addCredential', { authenticatorId: desk.authenticatorId, credential: keyCreds[0]! })
  await desk.page.goto('/')
  await desk.page.getByRole('button', { name: 'Sign in with a passkey' }).click()
  await expect(channels(desk.page)).toBeVisible()
})
