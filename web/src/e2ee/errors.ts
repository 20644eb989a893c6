// The refusals of docs/protocol.md ("Errors"). Every function of this
// module throws an E2EEError whose code is one of these names, the same
// names the Go package's sentinels have in the test vectors, so a caller
// decides on `err.code` and the message is detail for a log.

export type ErrorCode =
  | 'invalid_message'
  | 'unsupported_version'
  | 'invalid_key'
  | 'bad_signature'
  | 'decrypt'
  | 'duplicate'
  | 'too_many_skipped'
  | 'wrong_session'
  | 'missing_prekey'
  | 'truncated'
  | 'wrong_recovery_key'
  | 'mismatch'
  | 'exhausted'

export class E2EEError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, detail: string) {
    super(`e2ee: ${code}: ${detail}`)
    this.name = 'E2EEError'
    this.code = code
  }
}

/** fail throws an E2EEError; its return type lets callers write `return fail(…)`. */
export function fail(code: ErrorCode, detail: string): never {
  throw new E2EEError(code, detail)
}

/** errorCode is the code of an E2EEError, '' for no error, 'other: …' for anything else. */
export function errorCode(err: unknown): string {
  if (err === undefined || err === null) return ''
  if (err instanceof E2EEError) return err.code
  return 'other: ' + String(err)
}
