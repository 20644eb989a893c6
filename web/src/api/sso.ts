// Single sign-on: the providers for the login page's buttons, the result
// the server's callback reports in the URL (?sso=… or ?sso_error=…), and
// the linked identities of the settings page. The flow itself is browser
// navigation: /api/v1/auth/oidc/{id}/start redirects to the provider, whose
// redirect back sets the refresh cookie, and boot() then signs in with it.
import { api, publicApi } from './http'
import type { IdentityInfo, SsoLinkResponse, SsoProvidersResponse } from './types'

export type SsoProvider = SsoProvidersResponse['providers'][number]

export async function ssoProviders(): Promise<SsoProvider[]> {
  try {
    return (await publicApi<SsoProvidersResponse>('GET', '/api/v1/auth/oidc/providers')).providers
  } catch {
    return []
  }
}

export function ssoStartURL(id: string): string {
  return `/api/v1/auth/oidc/${encodeURIComponent(id)}/start`
}

const MESSAGES: Record<string, string> = {
  invalid_state: 'That sign-in link expired or was already used. Start again.',
  provider_error: 'The sign-in provider did not let you in.',
  invalid_token: 'The sign-in provider’s answer could not be verified. Try again; if it keeps happening, tell your administrator.',
  signup_disabled: 'No account is linked to that sign-in yet. Sign in with your password and link it in Settings, or ask an administrator.',
  identity_in_use: 'That sign-in is already linked to another account.',
  account_disabled: 'This account is disabled.',
  unavailable: 'The sign-in provider cannot be reached right now. Try again shortly.',
}

/**
 * takeSsoResult reads the callback's outcome from the URL once and removes
 * it, so a reload does not show it again.
 */
export function takeSsoResult(): { ok?: string; error?: string } {
  const params = new URLSearchParams(location.search)
  const ok = params.get('sso') ?? undefined
  const code = params.get('sso_error') ?? undefined
  if (ok === undefined && code === undefined) return {}
  params.delete('sso')
  params.delete('sso_error')
  const rest = params.toString()
  history.replaceState(history.state, '', location.pathname + (rest ? '?' + rest : '') + location.hash)
  return { ok, error: code === undefined ? undefined : (MESSAGES[code] ?? 'Single sign-on did not work. Try again.') }
}

export async function identities(): Promise<IdentityInfo[]> {
  return (await api<{ identities: IdentityInfo[] }>('GET', '/api/v1/users/me/identities')).identities
}

/** linkIdentity starts a link flow and navigates the browser to the provider. */
export async function linkIdentity(id: string): Promise<void> {
  const r = await api<SsoLinkResponse>('POST', `/api/v1/auth/oidc/${encodeURIComponent(id)}/link`)
  location.assign(r.url)
}

export async function unlinkIdentity(id: string): Promise<void> {
  await api('DELETE', `/api/v1/users/me/identities/${encodeURIComponent(id)}`)
}
