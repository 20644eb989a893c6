import { useEffect, useState } from 'preact/hooks'
import { useLocation } from 'preact-iso'
import { ArrowLeft, Monitor } from 'lucide-preact'
import { api, auth } from '../api/http'
import { humanError } from '../api/errors'
import type { IdentityInfo, Session, User } from '../api/types'
import { me, rememberUsers, toast } from '../state/store'
import { askNotificationPermission, notificationPermission, setSound, soundOn } from '../state/notify'
import { fullTime } from './common'
import { identities, linkIdentity, ssoProviders, unlinkIdentity, type SsoProvider } from '../api/sso'
import { getTheme, setTheme, type Theme } from './theme'
import { AdminUsers } from './AdminUsers'
import { Compliance } from './Compliance'

const TABS = [
  ['profile', 'Profile'],
  ['password', 'Password'],
  ['sessions', 'Active sessions'],
  ['sign-in', 'Single sign-on'],
  ['appearance', 'Appearance'],
  ['notifications', 'Notifications'],
  ['users', 'Users'],
  ['compliance', 'Compliance'],
] as const

// The tabs only admins see.
const ADMIN_TABS: readonly string[] = ['users', 'compliance']

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
          {t === 'sign-in' && <SignIn />}
          {t === 'appearance' && <Appearance />}
          {t === 'notifications' && <Notifications />}
          {t === 'users' && <AdminUsers />}
          {t === 'compliance' && <Compliance />}
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

function describeAgent(ua: string): string {
  const browser = /Edg\//.test(ua) ? 'Edge' : /Chrome\//.test(ua) ? 'Chrome' : /Firefox\//.test(ua) ? 'Firefox' : /Safari\//.test(ua) ? 'Safari' : /unhidra/i.test(ua) ? 'Unhidra CLI' : 'Unknown client'
  const os = /Windows/.test(ua) ? 'Windows' : /Mac OS X/.test(ua) ? 'macOS' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Linux/.test(ua) ? 'Linux' : ''
  return os ? `${browser} on ${os}` : browser
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
