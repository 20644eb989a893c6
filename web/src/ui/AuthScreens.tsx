import { useEffect, useState } from 'preact/hooks'
import { login, loginMFA, publicApi } from '../api/http'
import { humanError } from '../api/errors'
import { ssoError, start } from '../state/store'
import { ssoProviders, ssoStartURL, type SsoProvider } from '../api/sso'
import { PasskeyCancelled, passkeysSupported, signInWithPasskey } from '../api/passkey'

export interface ServerInfo {
  version: string
  registration: 'open' | 'invite' | 'closed'
  password_login?: 'on' | 'sso-only'
  needs_setup: boolean
  web: boolean
}

export async function serverInfo(): Promise<ServerInfo | null> {
  try {
    const r = await publicApi<{ server: ServerInfo }>('GET', '/api/v1/server')
    return r.server
  } catch {
    return null
  }
}

type Mode = 'login' | 'register' | 'setup'

export function AuthScreen() {
  const [info, setInfo] = useState<ServerInfo | null>(null)
  const [mode, setMode] = useState<Mode>('login')
  useEffect(() => {
    void serverInfo().then((i) => {
      setInfo(i)
      if (i?.needs_setup) setMode('setup')
      const invite = new URLSearchParams(location.search).get('invite')
      if (invite && i?.registration !== 'closed') setMode('register')
    })
  }, [])
  return (
    <main class="auth">
      <div class="auth-card">
        <div class="brand">
          <img src="/icon.svg" alt="" width={32} height={32} /> Unhidra
        </div>
        {mode === 'login' && <Login info={info} onMode={setMode} />}
        {mode === 'register' && <Register info={info} onMode={setMode} setup={false} />}
        {mode === 'setup' && <Register info={info} onMode={setMode} setup={true} />}
      </div>
    </main>
  )
}

function Login({ info, onMode }: { info: ServerInfo | null; onMode: (m: Mode) => void }) {
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [err, setErr] = useState(() => {
    const m = ssoError.value
    ssoError.value = ''
    return m
  })
  const [busy, setBusy] = useState(false)
  const [ticket, setTicket] = useState('')
  const [code, setCode] = useState('')
  const [providers, setProviders] = useState<SsoProvider[]>([])
  useEffect(() => {
    void ssoProviders().then(setProviders)
  }, [])
  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setErr('')
    try {
      const r = await login(username.trim(), password)
      if ('mfa_required' in r && r.mfa_required) {
        setTicket(r.mfa_ticket)
        setBusy(false)
        return
      }
      await start()
    } catch (x) {
      setErr(humanError(x))
      setBusy(false)
    }
  }
  const passkey = async () => {
    setBusy(true)
    setErr('')
    try {
      await signInWithPasskey()
      await start()
    } catch (x) {
      if (!(x instanceof PasskeyCancelled)) setErr(humanError(x))
      setBusy(false)
    }
  }
  const submitCode = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setErr('')
    try {
      await loginMFA(ticket, code.trim())
      await start()
    } catch (x) {
      setErr(humanError(x))
      setBusy(false)
      // A dead ticket needs the password again.
      if (x instanceof Error && /sign in again/.test(x.message)) {
        setTicket('')
        setCode('')
      }
    }
  }
  if (ticket) {
    return (
      <form class="stack" onSubmit={submitCode}>
        <div>
          <h1>Two-factor authentication</h1>
          <p class="lead">Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
        </div>
        <div class="field">
          <label for="login-code">Authentication code</label>
          <input id="login-code" autocomplete="one-time-code" inputMode="numeric" autocapitalize="none" spellcheck={false} required value={code} onInput={(e) => setCode(e.currentTarget.value)} autofocus />
        </div>
        {err && (
          <p class="error-text" role="alert">
            {err}
          </p>
        )}
        <button class="btn primary block" type="submit" disabled={busy}>
          {busy ? 'Verifying…' : 'Verify'}
        </button>
        <p class="auth-switch">
          <button
            type="button"
            onClick={() => {
              setTicket('')
              setCode('')
              setErr('')
            }}
          >
            Back to sign in
          </button>
        </p>
      </form>
    )
  }
  return (
    <form class="stack" onSubmit={submit}>
      <div>
        <h1>Welcome back</h1>
        <p class="lead">Sign in to your team's conversations.</p>
      </div>
      <div class="field">
        <label for="login-username">Username</label>
        <input id="login-username" autocomplete="username" autocapitalize="none" spellcheck={false} required value={username} onInput={(e) => setUsername(e.currentTarget.value)} autofocus />
      </div>
      <div class="field">
        <label for="login-password">Password</label>
        <input id="login-password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      </div>
      {err && (
        <p class="error-text" role="alert">
          {err}
        </p>
      )}
      <button class="btn primary block" type="submit" disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
      {passkeysSupported() && (
        <button type="button" class="btn block" onClick={() => void passkey()} disabled={busy}>
          Sign in with a passkey
        </button>
      )}
      {providers.length > 0 && (
        <div class="stack sso" aria-label="Single sign-on">
          <p class="muted sso-or">or</p>
          {providers.map((p) => (
            // A full navigation, not a link: the router would take a link
            // to a same-origin path as one of the client's own routes.
            <button key={p.id} type="button" class="btn block" onClick={() => location.assign(ssoStartURL(p.id))}>
              {p.name}
            </button>
          ))}
        </div>
      )}
      {info?.registration !== 'closed' && (
        <p class="auth-switch">
          New here?{' '}
          <button type="button" onClick={() => onMode('register')}>
            Create an account
          </button>
        </p>
      )}
    </form>
  )
}

function Register({ info, onMode, setup }: { info: ServerInfo | null; onMode: (m: Mode) => void; setup: boolean }) {
  const [username, setUsername] = useState('')
  const [display, setDisplay] = useState('')
  const [password, setPassword] = useState('')
  const [token, setToken] = useState('')
  const [invite, setInvite] = useState(() => new URLSearchParams(location.search).get('invite') ?? '')
  const [err, setErr] = useState('')
  const [busy, setBusy] = useState(false)
  const needInvite = !setup && info?.registration === 'invite'
  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setErr('')
    try {
      await publicApi('POST', '/api/v1/auth/register', {
        username: username.trim(),
        password,
        display_name: display.trim() || undefined,
        setup_token: setup ? token.trim() : undefined,
        invite: needInvite || invite ? invite.trim() || undefined : undefined,
      })
      await login(username.trim(), password)
      if (invite) history.replaceState(null, '', '/')
      await start()
    } catch (x) {
      setErr(humanError(x))
      setBusy(false)
    }
  }
  return (
    <form class="stack" onSubmit={submit}>
      <div>
        <h1>{setup ? 'Set up this server' : 'Create your account'}</h1>
        <p class="lead">
          {setup
            ? 'No administrator exists yet. Paste the one-time setup token from the server log to claim this server as its admin.'
            : 'Join your team on Unhidra.'}
        </p>
      </div>
      {setup && (
        <div class="field">
          <label for="reg-token">Setup token</label>
          <input id="reg-token" required autocomplete="off" spellcheck={false} value={token} onInput={(e) => setToken(e.currentTarget.value)} autofocus />
          <span class="hint">
            Printed by <code>unhidra serve</code> at start-up ("setup token"). It works once.
          </span>
        </div>
      )}
      {needInvite && (
        <div class="field">
          <label for="reg-invite">Invite code</label>
          <input id="reg-invite" required autocomplete="off" value={invite} onInput={(e) => setInvite(e.currentTarget.value)} />
        </div>
      )}
      <div class="field">
        <label for="reg-username">Username</label>
        <input id="reg-username" autocomplete="username" autocapitalize="none" spellcheck={false} required value={username} onInput={(e) => setUsername(e.currentTarget.value)} autofocus={!setup} />
        <span class="hint">Letters, digits, dots, dashes and underscores; people mention you with @{username || 'username'}.</span>
      </div>
      <div class="field">
        <label for="reg-display">Display name</label>
        <input id="reg-display" autocomplete="name" value={display} onInput={(e) => setDisplay(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="reg-password">Password</label>
        <input id="reg-password" type="password" autocomplete="new-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      </div>
      {err && (
        <p class="error-text" role="alert">
          {err}
        </p>
      )}
      <button class="btn primary block" type="submit" disabled={busy}>
        {busy ? 'Creating…' : setup ? 'Claim server as admin' : 'Create account'}
      </button>
      <p class="auth-switch">
        {setup ? 'Already set up? ' : 'Have an account? '}
        <button type="button" onClick={() => onMode('login')}>
          Sign in
        </button>
      </p>
    </form>
  )
}
