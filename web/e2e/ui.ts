// Browser-side helpers: the sign-in form and screenshots of the main screens.
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { test, type Page } from '@playwright/test'

/**
 * Signs in through the login screen: fills the fields labelled "Username"
 * and "Password" and presses the button named "Sign in". The page must be
 * showing the login screen. It does not wait for what comes after: assert
 * on the screen you expect next.
 */
export async function loginViaUi(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
}

/** Where snap() saves screenshots: web/artifacts/ (not in git). */
export function artifactsDir(): string {
  return path.resolve(test.info().project.testDir, '..', 'artifacts')
}

/**
 * Saves a full-page screenshot as web/artifacts/NAME.png (NAME may contain
 * letters, digits, '-', '_' and '.'; anything else becomes '-') and attaches
 * it to the test's report. Returns the file's path.
 */
export async function snap(page: Page, name: string): Promise<string> {
  const file = path.join(artifactsDir(), `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.png`)
  await mkdir(path.dirname(file), { recursive: true })
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' })
  await test.info().attach(name, { path: file, contentType: 'image/png' })
  return file
}
