// Runs once before the browser tests: makes sure the client is built and
// builds the server binary that embeds it, then tells the workers where the
// binary is (UNHIDRA_E2E_BIN).
//
//   UNHIDRA_E2E_BUILD  the shell command, run from the repository root, that
//                      builds the binary; default
//                      `go build -tags webui -o web/.e2e/unhidra ./cmd/unhidra`.
//                      Empty: build nothing.
//   UNHIDRA_E2E_BIN    the binary to test; default web/.e2e/unhidra. Set
//                      alone (UNHIDRA_E2E_BUILD unset), nothing is built.
import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { FullConfig } from '@playwright/test'

export const defaultBuild = 'go build -tags webui -o web/.e2e/unhidra ./cmd/unhidra'

export default function globalSetup(config: FullConfig): void {
  const webDir = path.dirname(config.configFile ?? path.join(process.cwd(), 'playwright.config.ts'))
  const repoRoot = path.resolve(webDir, '..')

  // Screenshots of this run only.
  rmSync(path.join(webDir, 'artifacts'), { recursive: true, force: true })

  const binEnv = process.env.UNHIDRA_E2E_BIN
  const bin = path.resolve(repoRoot, binEnv || 'web/.e2e/unhidra')
  const build = process.env.UNHIDRA_E2E_BUILD ?? (binEnv ? '' : defaultBuild)

  if (build !== '') {
    if (!existsSync(path.join(webDir, 'dist', 'index.html'))) {
      run('npm run build', webDir)
    }
    run(build, repoRoot)
  }
  try {
    accessSync(bin, constants.X_OK)
  } catch {
    throw new Error(`e2e: no executable server binary at ${bin}`)
  }
  process.env.UNHIDRA_E2E_BIN = bin
}

function run(cmd: string, cwd: string): void {
  console.log(`e2e: ${cmd}`)
  const r = spawnSync('sh', ['-c', cmd], { cwd, stdio: 'inherit' })
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error(`e2e: \`${cmd}\` failed (${r.signal ?? `exit ${r.status}`})`)
}
