// The test object the browser tests import instead of @playwright/test's:
// every test gets its own `unhidra serve` (fresh data directory, ephemeral
// port, its own setup token), and `baseURL` points at it, so page.goto('/')
// opens that server's client.
import { test as base, expect } from '@playwright/test'
import { startServer, type Server } from './server'

export interface Fixtures {
  /** Extra `unhidra serve` flags for this file or block: test.use({ serverArgs: ['--registration=invite'] }). */
  serverArgs: string[]
  /** A server of this test's own, stopped (and its data removed) after the test. */
  server: Server
}

export const test = base.extend<Fixtures>({
  serverArgs: [[], { option: true }],
  server: async ({ serverArgs }, use, testInfo) => {
    const server = await startServer({ args: serverArgs })
    try {
      await use(server)
    } finally {
      await server.stop()
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach('server.log', { body: server.log(), contentType: 'text/plain' })
      }
    }
  },
  baseURL: async ({ server }, use) => {
    await use(server.url)
  },
})

export { expect }
export type { Server } from './server'
export { startServer, defaultServerArgs } from './server'
export { api, registerViaApi, loginViaApi, defaultPassword, ApiError } from './api'
export type { Api, Account, Session, User, Channel, Message, RequestOptions, Response } from './api'
export { loginViaUi, snap, artifactsDir } from './ui'
