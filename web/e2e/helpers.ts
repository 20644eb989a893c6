// Scenario helpers: a signed-in browser user, and the locators the specs
// share. Everything is found by role and accessible name, the way a screen
// reader finds it, so the specs also hold the client to labelled controls.
import type { Browser, BrowserContext, Page } from '@playwright/test'
import { expect } from '@playwright/test'
import { loginViaUi } from './ui'
import type { Server } from './server'
import { defaultPassword } from './api'

export interface BrowserUser {
  page: Page
  close(): Promise<void>
}

const contexts: BrowserContext[] = []

/** closeContexts closes what signIn and newPage opened; specs call it in afterEach. */
export async function closeContexts() {
  await Promise.all(contexts.splice(0).map((c) => c.close().catch(() => {})))
}

/** newPage opens a fresh context (own cookies and storage) on the server. */
export async function newPage(browser: Browser, server: Server, opts: { width?: number; height?: number } = {}): Promise<Page> {
  const ctx = await browser.newContext({ baseURL: server.url, viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 } })
  contexts.push(ctx)
  const page = await ctx.newPage()
  watchForErrors(page)
  return page
}

/** signIn opens a fresh browser context for a user and signs in through the UI. */
export async function signIn(browser: Browser, server: Server, username: string, opts: { width?: number; height?: number } = {}): Promise<BrowserUser> {
  const page = await newPage(browser, server, opts)
  await page.goto('/')
  await loginViaUi(page, username, defaultPassword)
  await expect(page.getByRole('navigation', { name: 'Channels and direct messages' })).toBeVisible()
  return { page, close: () => page.context().close() }
}

/**
 * watchForErrors fails the test on an uncaught script error or a
 * Content-Security-Policy violation in the page.
 */
export function watchForErrors(page: Page) {
  page.on('pageerror', (e) => {
    throw new Error('uncaught error in the page: ' + e.message)
  })
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) throw new Error('CSP violation: ' + m.text())
  })
}

export const composer = (page: Page, name: string | RegExp) => page.getByRole('textbox', { name })
export const timeline = (page: Page) => page.getByRole('log')
export const messageWith = (page: Page, text: string | RegExp) => timeline(page).locator('article.msg', { hasText: text })
export const sidebarLink = (page: Page, name: RegExp) => page.getByRole('navigation', { name: 'Channels and direct messages' }).getByRole('link', { name })

/** send types a message into a composer and presses Enter. */
export async function send(page: Page, box: string | RegExp, text: string) {
  const c = composer(page, box)
  await c.fill(text)
  await c.press('Enter')
}
