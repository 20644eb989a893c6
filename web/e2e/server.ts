// A real `unhidra serve` for the browser tests: its own temporary data
// directory (SQLite, keys, files), an ephemeral loopback port read from its
// log, and the one-time setup token it logs while no admin exists.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'

/** A running server. */
export interface Server {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly url: string
  /** host:port it listens on. */
  readonly addr: string
  /**
   * The setup token the server logged at start while no admin existed:
   * registering with it makes that user the admin. Empty when the data
   * directory already had an admin (after restart()).
   */
  readonly setupToken: string
  /** The temporary data directory (removed by stop()). */
  readonly dataDir: string
  /** Everything the server has logged so far, one JSON object a line. */
  log(): string
  /**
   * Stops the process (SIGTERM, then SIGKILL if it does not exit in time)
   * and starts it again on the same address and data directory: the state
   * survives, connected browsers see the server go away and come back.
   */
  restart(): Promise<void>
  /** Stops the process and removes the data directory. Idempotent. */
  stop(): Promise<void>
}

export interface StartOptions {
  /** Extra `unhidra serve` flags; they come last, so they override the defaults below. */
  args?: string[]
  /** The binary; default: UNHIDRA_E2E_BIN, as set by the global setup. */
  binary?: string
}

/**
 * Flags every test server gets. Rate limits on login and registration are
 * off because every test registers and signs in users from 127.0.0.1; the
 * other limits keep their defaults. The embedded MQTT broker is off so that
 * servers in parallel do not compete for its port.
 */
export const defaultServerArgs: readonly string[] = [
  '--mqtt-addr=',
  '--log-format=json',
  '--log-level=info',
  '--rate-login=0',
  '--rate-register=0',
  '--shutdown-timeout=2s',
]

const startTimeoutMs = 20_000
const stopTimeoutMs = 5_000

const running = new Set<ChildProcess>()
// A worker that exits without running its fixtures' teardown (a timeout, an
// interrupt) still takes its servers with it.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/** The binary the global setup built (or UNHIDRA_E2E_BIN named). */
export function serverBinary(): string {
  const bin = process.env.UNHIDRA_E2E_BIN
  if (!bin) throw new Error('UNHIDRA_E2E_BIN is not set: run the suite with `npx playwright test` so the global setup builds the binary')
  return bin
}

/** Starts a server on a fresh data directory and waits until /readyz answers 200. */
export async function startServer(opts: StartOptions = {}): Promise<Server> {
  const binary = opts.binary ?? serverBinary()
  const dataDir = await mkdtemp(path.join(tmpdir(), 'unhidra-e2e-'))
  const lines: string[] = []
  let child: ChildProcess | undefined
  let addr = '127.0.0.1:0'
  let url = ''
  let setupToken = ''
  let stopped = false

  const launch = async (): Promise<void> => {
    const args = ['serve', `--addr=${addr}`, `--data=${dataDir}`, ...defaultServerArgs, ...(opts.args ?? [])]
    const proc = spawn(binary, args, { env: serverEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    running.add(proc)
    proc.once('exit', () => running.delete(proc))
    const listening = new Promise<{ addr: string; url: string; setupToken: string }>((resolve, reject) => {
      let token = ''
      const timer = setTimeout(() => reject(new Error(`unhidra serve did not log its address within ${startTimeoutMs} ms\n${lines.join('\n')}`)), startTimeoutMs)
      const onLine = (line: string) => {
        lines.push(line)
        const rec = parseRecord(line)
        if (!rec) return
        if (typeof rec.setup_token === 'string') token = rec.setup_token
        if (rec.msg === 'unhidra listening' && typeof rec.addr === 'string' && typeof rec.url === 'string') {
          clearTimeout(timer)
          resolve({ addr: rec.addr, url: rec.url, setupToken: token })
        }
      }
      createInterface({ input: proc.stdout! }).on('line', onLine)
      createInterface({ input: proc.stderr! }).on('line', onLine)
      proc.once('error', (err) => {
        clearTimeout(timer)
        reject(new Error(`cannot run ${binary}: ${err.message}`))
      })
      proc.once('exit', (code, signal) => {
        clearTimeout(timer)
        // Give readline the last lines before reporting them.
        setImmediate(() => reject(new Error(`unhidra serve exited (${signal ?? code}) before listening\n${lines.join('\n')}`)))
      })
    })
    try {
      const got = await listening
      addr = got.addr
      url = got.url
      setupToken = got.setupToken
      await waitReady(url)
    } catch (err) {
      await kill(proc)
      throw err
    }
  }

  const stopProcess = async (): Promise<void> => {
    if (child) await kill(child)
    child = undefined
  }

  try {
    await launch()
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true })
    throw err
  }

  return {
    get url() {
      return url
    },
    get addr() {
      return addr
    },
    get setupToken() {
      return setupToken
    },
    dataDir,
    log: () => lines.join('\n'),
    async restart() {
      if (stopped) throw new Error('restart after stop')
      await stopProcess()
      await launch()
    },
    async stop() {
      if (stopped) return
      stopped = true
      await stopProcess()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

// serverEnv is this process's environment without UNHIDRA_* variables, so a
// developer's own settings (UNHIDRA_DB, UNHIDRA_ADDR, …) never reach a test
// server: its flags say everything.
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('UNHIDRA_')) env[k] = v
  }
  return env
}

function parseRecord(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    const v: unknown = JSON.parse(line)
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

// waitReady polls /readyz until it answers 200: the server has logged its
// address, so this normally succeeds at once.
async function waitReady(url: string): Promise<void> {
  const deadline = Date.now() + startTimeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/readyz`)
      if (res.status === 200) return
      last = `status ${res.status}`
    } catch (err) {
      last = String(err)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${url}/readyz did not answer 200 (${last})`)
}

// kill stops a server gracefully and waits for it to exit.
async function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), stopTimeoutMs)
  await exited
  clearTimeout(timer)
}
