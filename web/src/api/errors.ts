// ApiError is what every failed call becomes: the server's documented
// error code, its human message, and the HTTP status (0 when the network
// failed before any answer).
export class ApiError extends Error {
  readonly code: string
  readonly status: number
  readonly retryAfter: number

  constructor(code: string, message: string, status: number, retryAfter = 0) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.status = status
    this.retryAfter = retryAfter
  }

  get offline(): boolean {
    return this.status === 0
  }
}

// humanError turns any failure into a sentence a person understands.
export function humanError(e: unknown): string {
  if (e instanceof ApiError) {
    switch (e.code) {
      case 'network':
        return 'Cannot reach the server. Check your connection; Unhidra retries on its own.'
      case 'rate_limited':
        return e.retryAfter > 0
          ? `Too many attempts. Try again in ${e.retryAfter} second${e.retryAfter === 1 ? '' : 's'}.`
          : 'Too many attempts. Wait a moment and try again.'
      case 'internal':
        return 'Something went wrong on the server. Try again; if it keeps happening, tell your administrator.'
      case 'unauthenticated':
        return e.message || 'Your session has ended. Sign in again.'
      default:
        return e.message || 'That did not work.'
    }
  }
  if (e instanceof Error) return e.message
  return String(e)
}
