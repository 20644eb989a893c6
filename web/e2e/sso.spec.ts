// Single sign-on in the browser: a real OpenID Connect provider (the Go
// program internal/oidctest/cmd, zitadel/oidc's op package) and a server
// configured with it; the login page's button takes the browser through
// the provider and back, signed in. The failure paths are tested in Go
// (httpapi/sso_test.go); here the one that shows on the login page.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { test, expect } from '@playwright/test'
import { startServer, type Server } from './server'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const providerBin = path.join(repoRoot, 'web', '.e2e', 'oidctest')

interface Provider {
  issuer: string
  proc: ChildProcess
}

test.beforeAll(() => {
  const r = spawnSync('go', ['build', '-o', providerBin, './internal/oidctest/cmd'], { cwd: repoRoot, stdio: 'inherit' })
  if (r.status !== 0) throw new Error('cannot build internal/oidctest/cmd')
})

async function startProvider(): Promise<Provider> {
  const proc = spawn(providerBin, [], { stdio: ['pipe', 'pipe', 'inherit'] })
  const issuer = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('oidctest did not start')), 10_000)
    createInterface({ input: proc.stdout! }).once('line', (line) => {
      clearTimeout(timer)
      resolve((JSON.parse(line) as { issuer: string }).issuer)
    })
    proc.once('exit', (code) => reject(new Error(`oidctest exited (${code})`)))
  })
  return { issuer, proc }
}

let provider: Provider
let server: Server
let configDir = ''

test.beforeEach(async () => {
  provider = await startProvider()
  configDir = await mkdtemp(path.join(tmpdir(), 'unhidra-sso-'))
  const config = path.join(configDir, 'unhidra.toml')
  await writeFile(
    config,
    `[[oidc]]
id = "corp"
name = "Sign in with Corp"
issuer = "${provider.issuer}"
client_id = "unhidra"
client_secret = "unhidra-secret"
allow_signup = false
`,
  )
  server = await startServer({ args: [`--config=${config}`] })
  const r = await fetch(provider.issuer + '/oidctest/redirect', { method: 'POST', body: server.url + '/api/v1/auth/oidc/corp/callback' })
  expect(r.status).toBe(204)
})

test.afterEach(async () => {
  await server?.stop()
  provider?.proc.stdin?.end()
  provider?.proc.kill()
  if (configDir) await rm(configDir, { recursive: true, force: true })
})

async function signInAs(subject: string, preferred: string, name: string) {
  const r = await fetch(provider.issuer + '/oidctest/user', {
    method: 'POST',
    body: JSON.stringify({ subject, preferred_username: preferred, name }),
  })
  expect(r.status).toBe(204)
}

async function register(username: string, setupToken?: string) {
  const r = await fetch(server.url + '/api/v1/auth/register', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password: 'correct horse battery staple', setup_token: setupToken }),
  })
  expect(r.status).toBe(201)
}

test('the login page signs in through the provider, and refuses an unlinked identity', async ({ page }) => {
  await register('ops', server.setupToken) // past the first-run setup screen
  // Signup through the provider is off: a first sign-in is refused, with
  // the reason on the login page, and creates nothing.
  await signInAs('e2e-olivia', 'olivia', 'Olivia Olsen')
  await page.goto(server.url + '/')
  await page.getByRole('button', { name: 'Sign in with Corp' }).click()
  await expect(page.getByRole('alert')).toContainText('No account is linked')
  expect(new URL(page.url()).search).toBe('')

  // Olivia signs in with her password and links the identity in settings.
  await register('olivia')
  await page.getByLabel('Username').fill('olivia')
  await page.getByLabel('Password').fill('correct horse battery staple')
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await expect(page.getByRole('button', { name: /Your account/ })).toBeVisible()
  await page.goto(server.url + '/settings/sign-in')
  await expect(page.getByText('No sign-in is linked to this account.')).toBeVisible()
  await page.getByRole('button', { name: 'Link Sign in with Corp' }).click()
  await expect(page.getByText('Sign-in linked to your account.')).toBeVisible()
  await page.goto(server.url + '/settings/sign-in')
  await expect(page.getByRole('list', { name: 'Linked sign-ins' })).toContainText('Sign in with Corp')

  // Signed out, the button now signs her in.
  await page.context().clearCookies()
  await page.goto(server.url + '/')
  await page.getByRole('button', { name: 'Sign in with Corp' }).click()
  await expect(page.getByRole('button', { name: /Your account/ })).toBeVisible()
  expect(new URL(page.url()).search).toBe('')
  const cookies = await page.context().cookies(server.url + '/api/v1/auth/')
  expect(cookies.find((c) => c.name === 'unhidra_refresh')?.httpOnly).toBe(true)
})
