import { useEffect, useState } from 'preact/hooks'
import { useLocation } from 'preact-iso'
import { ArrowLeft, Monitor } from 'lucide-preact'
import { api, auth } from '../api/http'
import { humanError } from '../api/errors'
import type { IdentityInfo, Session, User } from '../api/types'
import type { AccessToken, TOTPStatus } from '../api/types.gen'
import { me, rememberUsers, toast } from '../state/store'
import { askNotificationPermission, notificationPermission, setSound, soundOn } from '../state/notify'
import { describeAgent, fullTime } from './common'
import { identities, linkIdentity, ssoProviders, unlinkIdentity, type SsoProvider } from '../api/sso'
import { getTheme, setTheme, type Theme } from './theme'
import { AdminChannels } from './AdminChannels'
import { AdminUsers } from './AdminUsers'
import { Passkeys } from './Passkeys'
import { AuditLog } from './AuditLog'
import { Compliance } from './Compliance'
import { AdminSystem } from './AdminSystem'
import { AdminConnections } from './AdminConnections'

const TABS = [
  ['profile', 'Profile'],
  ['password', 'Password'],
  ['sessions', 'Active sessions'],
  ['passkeys', 'Passkeys'],
  ['security', 'Two-factor authentication'],
  ['tokens', 'Access tokens'],
  ['sign-in', 'Single sign-on'],
  ['appearance', 'Appearance'],
  ['notifications', 'Notifications'],
  ['users', 'Users'],
  ['channels', 'Channels'],
  ['system', 'System'],
  ['connections', 'Connections'],
  ['compliance', 'Compliance'],
  ['audit', 'Audit log'],
] as const

// The tabs only admins see.
const ADMIN_TABS: readonly string[] = ['users', 'channels', 'system', 'connections', 'compliance', 'audit']

export function Settings({ tab }: { tab?: string }) {
  const loc = useLocation()
  const admin = me.value?.role === 'admin'
  const tabs = TABS.filter(([k]) => admin || !ADMIN_TABS.includes(k))
  const t = tabs.some(([k]) => k === tab) ? tab : 'profile'
  return (
    <div class="main">
      <header class="chan-head">
        <button class="icon-btn" aria-label="Back to chat" onClick={() => loc.route('/')}>
          <ArrowLeft size={18} />
        </button>
        <h1>Settings</h1>
      </header>
      <div class="settings">
        <nav aria-label="Settings sections">
          {tabs.map(([k, label]) => (
            <a key={k} href={`/settings/${k}`} aria-current={k === t ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <section>
          {t === 'profile' && <Profile />}
          {t === 'password' && <Password />}
          {t === 'sessions' && <Sessions />}
          {t === 'passkeys' && <Passkeys />}
          {t === 'security' && <TwoFactor />}
          {t === 'tokens' && <AccessTokens />}
          {t === 'sign-in' && <SignIn />}
          {t === 'appearance' && <Appearance />}
          {t === 'notifications' && <Notifications />}
          {t === 'users' && <AdminUsers />}
          {t === 'channels' && <AdminChannels />}
          {t === 'system' && <AdminSystem />}
          {t === 'connections' && <AdminConnections />}
          {t === 'compliance' && <Compliance />}
          {t === 'audit' && <AuditLog />}
        </section>
      </div>
    </div>
  )
}

function Profile() {
  const u = me.value!
  const [name, setName] = useState(u.display_name)
  const [status, setStatusText] = useState(u.status_text)
  const [err, setErr] = useState('')
  const save = async (e: Event) => {
    e.preventDefault()
    setErr('')
    try {
      const r = await api<{ user: User }>('PATCH', '/api/v1/users/me', { display_name: name.trim(), status_text: status.trim() })
      me.value = r.user
      auth.setUser(r.user)
      rememberUsers([r.user])
      toast('Profile saved.', 'info')
    } catch (x) {
      setErr(humanError(x))
    }
  }
  return (
    <form class="stack" onSubmit={save}>
      <h2>Profile</h2>
      <p class="muted">
        Signed in as <strong>@{u.username}</strong>
        {u.role === 'admin' ? ' · administrator' : ''}.
      </p>
      <div class="field">
        <label for="p-name">Display name</label>
        <input id="p-name" value={name} maxLength={64} onInput={(e) => setName(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="p-status">Status message</label>
        <input id="p-status" value={status} maxLength={140} placeholder="e.g. On site until 3pm" onInput={(e) => setStatusText(e.currentTarget.value)} />
      </div>
      {err && (
        <p class="error-text" role="alert">
          {err}
        </p>
      )}
      <div>
        <button class="btn primary" type="submit">
          Save profile
        </button>
      </div>
    </form>
  )
}

function Password() {
  const [old, setOld] = useState('')
  const [next, setNext] = useState('')
  const [again, setAgain] = useState('')
  const [err, setErr] = useState('')
  const save = async (e: Event) => {
    e.preventDefault()
    setErr('')
    if (next !== again) return setErr('The two new passwords differ.')
    try {
      await api('POST', '/api/v1/users/me/password', { old_password: old, new_password: next })
      setOld('')
      setNext('')
      setAgain('')
      toast('Password changed. Your other sessions were signed out.', 'info')
    } catch (x) {
      setErr(humanError(x))
    }
  }
  return (
    <form class="stack" onSubmit={save}>
      <h2>Change password</h2>
      <p class="muted">Changing your password signs out every other session.</p>
      <div class="field">
        <label for="pw-old">Current password</label>
        <input id="pw-old" type="password" autocomplete="current-password" required value={old} onInput={(e) => setOld(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="pw-new">New password</label>
        <input id="pw-new" type="password" autocomplete="new-password" required value={next} onInput={(e) => setNext(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="pw-again">New password again</label>
        <input id="pw-again" type="password" autocomplete="new-password" required value={again} onInput={(e) => setAgain(e.currentTarget.value)} />
      </div>
      {err && (
        <p class="error-text" role="alert">
          {err}
        </p>
      )}
      <div>
        <button class="btn primary" type="submit">
          Change password
        </button>
      </div>
    </form>
  )
}

function Sessions() {
  const [list, setList] = useState<Session[] | null>(null)
  const [err, setErr] = useState('')
  const load = () =>
    api<{ sessions: Session[] }>('GET', '/api/v1/users/me/sessions')
      .then((r) => setList(r.sessions))
      .catch((e) => setErr(humanError(e)))
  useEffect(() => void load(), [])
  const revoke = async (id: string) => {
    try {
      await api('DELETE', `/api/v1/users/me/sessions/${id}`)
      await load()
    } catch (e) {
      toast(humanError(e))
    }
  }
  const revokeOthers = async () => {
    if (!confirm('Sign out every other session? Your other devices will need to sign in again.')) return
    try {
      await api('DELETE', '/api/v1/users/me/sessions')
      toast('Signed out everywhere else.', 'info')
      await load()
    } catch (e) {
      toast(humanError(e))
    }
  }
  return (
    <div>
      <h2>Active sessions</h2>
      <p class="muted">Every browser and device signed in to your account. Sign out any you do not recognise.</p>
      {err && <p class="error-text">{err}</p>}
      {list?.map((s) => (
        <div class="session-row" key={s.id}>
          <Monitor size={20} />
          <div class="grow">
            <div>
              <strong>{describeAgent(s.user_agent)}</strong> {s.current && <span class="badge soft" style={{ background: 'var(--accent-soft)', color: 'var(--accent)' }}>This session</span>}
            </div>
            <div class="muted" style={{ fontSize: 13 }}>
              {s.ip} · last active {fullTime(s.last_used_at)} · signed in {fullTime(s.created_at)}
            </div>
          </div>
          {!s.current && (
            <button class="btn small" onClick={() => revoke(s.id)}>
              Sign out
            </button>
          )}
        </div>
      ))}
      <p>
        <button class="btn danger" onClick={revokeOthers} disabled={!list || list.length < 2}>
          Sign out everywhere else
        </button>
      </p>
    </div>
  )
}

function Appearance() {
  const [t, setT] = useState<Theme>(getTheme())
  const pick = (x: Theme) => {
    setT(x)
    setTheme(x)
  }
  return (
    <div class="stack">
      <h2>Appearance</h2>
      <fieldset style={{ border: 0, padding: 0 }}>
        <legend class="muted" style={{ marginBottom: 8 }}>
          Theme
        </legend>
        {(['system', 'light', 'dark'] as const).map((x) => (
          <label key={x} class="row" style={{ padding: '6px 0' }}>
            <input type="radio" name="theme" checked={t === x} onChange={() => pick(x)} />
            {x === 'system' ? 'Follow the system setting' : x === 'light' ? 'Light' : 'Dark'}
          </label>
        ))}
      </fieldset>
    </div>
  )
}

function Notifications() {
  const [perm, setPerm] = useState(notificationPermission())
  const [sound, setSoundState] = useState(soundOn())
  return (
    <div class="stack">
      <h2>Notifications</h2>
      <p class="muted">Desktop notifications come for direct messages and mentions, following each channel's notification setting (in its bell menu).</p>
      <div>
        {perm === 'granted' && <p>Desktop notifications are on for this browser.</p>}
        {perm === 'denied' && <p class="notice">Your browser blocks notifications from this site. Allow them in the browser's site settings.</p>}
        {perm === 'unsupported' && <p class="notice">This browser cannot show desktop notifications.</p>}
        {perm === 'default' && (
          <button class="btn primary" onClick={() => void askNotificationPermission().then(setPerm)}>
            Turn on desktop notifications
          </button>
        )}
      </div>
      <label class="row">
        <input
          type="checkbox"
          checked={sound}
          onChange={(e) => {
            setSoundState(e.currentTarget.checked)
            setSound(e.currentTarget.checked)
          }}
        />
        Play a sound for mentions and direct messages
      </label>
    </div>
  )
}

function SignIn() {
  const [ids, setIds] = useState<IdentityInfo[] | null>(null)
  const [providers, setProviders] = useState<SsoProvider[]>([])
  const [err, setErr] = useState('')
  const load = () => {
    identities().then(setIds, (x) => setErr(humanError(x)))
    void ssoProviders().then(setProviders)
  }
  useEffect(load, [])
  const link = async (id: string) => {
    setErr('')
    try {
      await linkIdentity(id)
    } catch (x) {
      setErr(humanError(x))
    }
  }
  const unlink = async (id: string) => {
    setErr('')
    try {
      await unlinkIdentity(id)
      load()
    } catch (x) {
      setErr(humanError(x))
    }
  }
  const linked = new Set((ids ?? []).map((i) => i.provider))
  return (
    <div class="stack">
      <h2>Single sign-on</h2>
      <p class="muted">Sign in with your organisation’s account. Linking asks the provider to confirm it is you.</p>
      {err && (
        <p class="error-text" role="alert">
          {err}
        </p>
      )}
      {ids && ids.length === 0 && <p>No sign-in is linked to this account.</p>}
      <ul class="list" aria-label="Linked sign-ins">
        {(ids ?? []).map((i) => (
          <li key={i.provider} class="row">
            <span>
              <strong>{i.provider_name || i.provider}</strong> <span class="muted">since {fullTime(i.created_at)}</span>
            </span>
            <button class="btn" onClick={() => void unlink(i.provider)}>
              Unlink
            </button>
          </li>
        ))}
      </ul>
      {providers
        .filter((p) => !linked.has(p.id))
        .map((p) => (
          <button key={p.id} class="btn" onClick={() => void link(p.id)}>
            Link {p.name}
          </button>
        ))}
    </div>
  )
}

function RecoveryCodes({ codes }: { codes: string[] }) {
  return (
    <div class="stack">
      <p class="notice">Save these recovery codes somewhere safe. Each works once in place of a code, if you lose your authenticator. They are shown only now.</p>
      <ul class="recovery-codes" aria-label="Recovery codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
    </div>
  )
}

function TwoFactor() {
  const [st, setSt] = useState<TOTPStatus | null>(null)
  const [enrol, setEnrol] = useState<{ secret: string; otpauth_uri: string; qr_png: string } | null>(null)
  const [codes, setCodes] = useState<string[] | null>(null)
  const [code, setCode] = useState('')
  const [pw, setPw] = useState('')
  const [err, setErr] = useState('')
  const load = () =>
    api<{ totp: TOTPStatus }>('GET', '/api/v1/users/me/totp')
      .then((r) => setSt(r.totp))
      .catch((e) => setErr(humanError(e)))
  useEffect(() => void load(), [])
  const start = async () => {
    setErr('')
    setCodes(null)
    try {
      const r = await api<{ totp: { secret: string; otpauth_uri: string; qr_png: string } }>('POST', '/api/v1/users/me/totp')
      setEnrol(r.totp)
    } catch (e) {
      setErr(humanError(e))
    }
  }
  const confirm = async (e: Event) => {
    e.preventDefault()
    setErr('')
    try {
      const r = await api<{ recovery_codes: string[] }>('POST', '/api/v1/users/me/totp/confirm', { code: code.trim() })
      setCodes(r.recovery_codes)
      setEnrol(null)
      setCode('')
      toast('Two-factor authentication is on.', 'info')
      await load()
    } catch (x) {
      setErr(humanError(x))
    }
  }
  const disable = async (e: Event) => {
    e.preventDefault()
    setErr('')
    try {
      await api('POST', '/api/v1/users/me/totp/disable', { password: pw, code: code.trim() })
      setPw('')
      setCode('')
      setCodes(null)
      toast('Two-factor authentication is off.', 'info')
      await load()
    } catch (x) {
      setErr(humanError(x))
    }
  }
  const regenerate = async () => {
    setErr('')
    try {
      const r = await api<{ recovery_codes: string[] }>('POST', '/api/v1/users/me/recovery-codes', { code: code.trim() })
      setCodes(r.recovery_codes)
      setCode('')
    } catch (x) {
      setErr(humanError(x))
    }
  }
  const error = err && (
    <p class="error-text" role="alert">
      {err}
    </p>
  )
  return (
    <div class="stack">
      <h2>Two-factor authentication</h2>
      <p class="muted">With two-factor on, signing in with your password also asks for a code from an authenticator app.</p>
      {codes && <RecoveryCodes codes={codes} />}
      {st && !st.enabled && !enrol && (
        <div>
          <button class="btn primary" onClick={start}>
            Set up two-factor authentication
          </button>
          {error}
        </div>
      )}
      {enrol && (
        <form class="stack" onSubmit={confirm}>
          <p>Scan this QR code with your authenticator app, or type the secret in by hand.</p>
          <img src={`data:image/png;base64,${enrol.qr_png}`} width={200} height={200} alt={`QR code of ${enrol.otpauth_uri}`} />
          <div class="field">
            <label for="totp-secret">Secret</label>
            <input id="totp-secret" readOnly value={enrol.secret} />
          </div>
          <div class="field">
            <label for="totp-code">Code from the app</label>
            <input id="totp-code" autocomplete="one-time-code" inputMode="numeric" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          </div>
          {error}
          <div>
            <button class="btn primary" type="submit">
              Turn on two-factor
            </button>
          </div>
        </form>
      )}
      {st?.enabled && (
        <form class="stack" onSubmit={disable}>
          <p>
            Two-factor authentication is <strong>on</strong>; {st.recovery_codes_left} recovery code{st.recovery_codes_left === 1 ? '' : 's'} left.
          </p>
          <div class="field">
            <label for="totp-current">Current code or recovery code</label>
            <input id="totp-current" autocomplete="one-time-code" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="totp-password">Password (to turn it off)</label>
            <input id="totp-password" type="password" autocomplete="current-password" value={pw} onInput={(e) => setPw(e.currentTarget.value)} />
          </div>
          {error}
          <div class="row">
            <button class="btn" type="button" onClick={regenerate}>
              New recovery codes
            </button>
            <button class="btn danger" type="submit" disabled={!pw}>
              Turn off two-factor
            </button>
          </div>
        </form>
      )}
    </div>
  )
}

const SCOPES = [
  ['read', 'Read: everything you can read'],
  ['write', 'Write: also post, edit and change'],
  ['admin', 'Admin: the admin API (administrators)'],
] as const

function AccessTokens() {
  const [list, setList] = useState<AccessToken[] | null>(null)
  const [name, setName] = useState('')
  const [scopes, setScopes] = useState<string[]>(['read'])
  const [days, setDays] = useState(30)
  const [secret, setSecret] = useState('')
  const [err, setErr] = useState('')
  const load = () =>
    api<{ tokens: AccessToken[] }>('GET', '/api/v1/users/me/tokens')
      .then((r) => setList(r.tokens))
      .catch((e) => setErr(humanError(e)))
  useEffect(() => void load(), [])
  const create = async (e: Event) => {
    e.preventDefault()
    setErr('')
    try {
      const r = await api<{ secret: string }>('POST', '/api/v1/users/me/tokens', { name: name.trim(), scopes, expires_in_s: days * 86400 })
      setSecret(r.secret)
      setName('')
      await load()
    } catch (x) {
      setErr(humanError(x))
    }
  }
  const revoke = async (t: AccessToken) => {
    if (!confirm(`Revoke the token "${t.name}"? Scripts using it stop working at once.`)) return
    try {
      await api('DELETE', `/api/v1/users/me/tokens/${t.id}`)
      await load()
    } catch (x) {
      toast(humanError(x))
    }
  }
  return (
    <div class="stack">
      <h2>Access tokens</h2>
      <p class="muted">
        Personal access tokens let scripts use the API as you (<code>Authorization: Bearer uhp_…</code>), limited to their scopes. They cannot change your password, sessions, two-factor or tokens.
      </p>
      {secret && (
        <div class="stack">
          <p class="notice">Copy the new token now: it is shown only once.</p>
          <div class="field">
            <label for="tok-secret">New token</label>
            <input id="tok-secret" readOnly value={secret} />
          </div>
        </div>
      )}
      <form class="stack" onSubmit={create}>
        <div class="field">
          <label for="tok-name">Token name</label>
          <input id="tok-name" required maxLength={64} value={name} placeholder="e.g. deploy script" onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <fieldset style={{ border: 0, padding: 0 }}>
          <legend class="muted">Scopes</legend>
          {SCOPES.map(([k, label]) => (
            <label key={k} class="row" style={{ padding: '4px 0' }}>
              <input
                type="checkbox"
                checked={scopes.includes(k)}
                onChange={(e) => setScopes(e.currentTarget.checked ? [...scopes, k] : scopes.filter((x) => x !== k))}
              />
              {label}
            </label>
          ))}
        </fieldset>
        <div class="field">
          <label for="tok-days">Expires after (days, at most 366)</label>
          <input id="tok-days" type="number" min={1} max={366} required value={days} onInput={(e) => setDays(Number(e.currentTarget.value))} />
        </div>
        {err && (
          <p class="error-text" role="alert">
            {err}
          </p>
        )}
        <div>
          <button class="btn primary" type="submit" disabled={scopes.length === 0}>
            Create token
          </button>
        </div>
      </form>
      {list?.length === 0 && <p class="muted">No access tokens yet.</p>}
      {list?.map((t) => (
        <div class="session-row token-row" key={t.id}>
          <div class="grow">
            <div>
              <strong>{t.name}</strong> <span class="muted">{t.scopes.join(', ')}</span>
            </div>
            <div class="muted" style={{ fontSize: 13 }}>
              expires {fullTime(t.expires_at)} · {t.last_used_at ? `last used ${fullTime(t.last_used_at)}` : 'never used'}
            </div>
          </div>
          <button class="btn small" aria-label={`Revoke ${t.name}`} onClick={() => revoke(t)}>
            Revoke
          </button>
        </div>
      ))}
    </div>
  )
}
