// Helpers of the e2ee tests (not part of the module's API): the committed
// JSON vectors of the Go implementation, read from the repository at test
// time, and a deterministic byte stream.

import { concat, unhex, utf8 } from './bytes'
import { sha256 } from './primitives'

const files = import.meta.glob('../../../e2ee/testdata/vectors/*.json', { eager: true, import: 'default' }) as Record<string, unknown>

/** vectorNames lists every committed vector file by name (without .json). */
export const vectorNames: string[] = Object.keys(files)
  .map((p) => p.replace(/^.*\//, '').replace(/\.json$/, ''))
  .sort()

export function loadVector<T>(name: string): T {
  const key = Object.keys(files).find((p) => p.endsWith(`/${name}.json`))
  if (!key) throw new Error(`no vector file ${name}.json`)
  return files[key] as T
}

/** h decodes a vector's hex field; an absent one (Go's omitempty) is empty. */
export function h(s: string | undefined | null): Uint8Array {
  return s ? unhex(s) : new Uint8Array(0)
}

/** DetRand is a deterministic stream of SHA-256(label || counter) blocks, for tests that need many keys. */
export function detRand(label: string): (n: number) => Uint8Array {
  let counter = 0n
  let buf: Uint8Array = new Uint8Array(0)
  return (n: number) => {
    while (buf.length < n) {
      const c = new Uint8Array(8)
      new DataView(c.buffer).setBigUint64(0, counter++)
      buf = concat(buf, sha256(concat(utf8(label), c)))
    }
    const out = buf.slice(0, n)
    buf = buf.slice(n)
    return out
  }
}

export const t0 = Date.UTC(2026, 0, 2, 3, 4, 5) / 1000

export function text(s: string): Uint8Array {
  return utf8(s)
}

export function str(b: Uint8Array): string {
  return new TextDecoder().decode(b)
}
