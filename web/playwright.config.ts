// Browser end-to-end tests: Debian's Chromium against real `unhidra serve`
// processes (see e2e/fixtures.ts). `npm run e2e` runs them; scripts/test.sh
// runs them as part of `make test`.
import { defineConfig } from '@playwright/test'

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  globalSetup: './e2e/global-setup.ts',
  outputDir: 'test-results',
  // Two cores: two browsers at most, each with its own servers.
  workers: 2,
  fullyParallel: false,
  // A stray test.only fails the run in CI, not on a developer's machine.
  forbidOnly: !!process.env.CI,
  retries: 0,
  // The whole suite's budget, and each test's (fixtures included).
  globalTimeout: 6 * 60_000,
  timeout: 30_000,
  expect: { timeout: 5_000 },
  reporter: [['list'], ['json', { outputFile: '.e2e/results.json' }]],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
    viewport: { width: 1280, height: 800 },
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    video: 'off',
  },
})
