// The admins' system settings: the settings that take effect while the
// server runs, on every node, each with the value in force, the flag's
// default and a way back to it (docs/api.md "Administration").
import { useEffect, useState } from 'preact/hooks'
import { api } from '../api/http'
import { humanError } from '../api/errors'
import type { Setting, SettingsResponse } from '../api/types.gen'
import { toast } from '../state/store'
import { fullTime } from './common'

const LABELS: Record<string, string> = {
  registration: 'Registration',
  password_login: 'Password sign-in',
  retention_days: 'Message retention (days)',
  password_min_length: 'Minimum password length',
}

const CHOICES: Record<string, string> = {
  open: 'Open: anyone may create an account',
  invite: 'Invite only',
  closed: 'Closed: nobody may create an account',
  on: 'On',
  'sso-only': 'Single sign-on only',
}

const show = (s: Setting, v: unknown) => (s.type === 'string' ? (CHOICES[String(v)] ?? String(v)) : v === 0 && s.key === 'retention_days' ? '0 (keep forever)' : String(v))

export function AdminSystem() {
  const [list, setList] = useState<Setting[] | null>(null)
  // The values being edited, by key, as the inputs hold them.
  const [draft, setDraft] = useState<Record<string, string>>({})
  const [err, setErr] = useState('')
  const [busy, setBusy] = useState(false)
  const take = (r: SettingsResponse) => {
    setList(r.settings)
    setDraft(Object.fromEntries(r.settings.map((s) => [s.key, String(s.value)])))
  }
  useEffect(() => {
    api<SettingsResponse>('GET', '/api/v1/admin/settings')
      .then(take)
      .catch((x) => setErr(humanError(x)))
  }, [])
  const patch = async (body: Record<string, unknown>, done: string) => {
    setBusy(true)
    setErr('')
    try {
      take(await api<SettingsResponse>('PATCH', '/api/v1/admin/settings', body))
      toast(done, 'info')
    } catch (x) {
      setErr(humanError(x))
    } finally {
      setBusy(false)
    }
  }
  const changed = (list ?? []).filter((s) => draft[s.key] !== String(s.value))
  const save = (e: Event) => {
    e.preventDefault()
    const body: Record<string, unknown> = {}
    for (const s of changed) {
      const v = draft[s.key] ?? ''
      body[s.key] = s.type === 'integer' && /^-?\d+$/.test(v.trim()) ? Number(v) : v
    }
    void patch(body, 'Settings saved. Every node applies them within seconds.')
  }
  return (
    <form class="stack" onSubmit={save} aria-label="System settings">
      <h2>System</h2>
      <p class="muted">
        These settings take effect at once, on every node. Each starts at the value of its server flag; a change here overrides the flag until you
        reset it.
      </p>
      {err && (
        <p class="error-text" role="alert">
          {err}
        </p>
      )}
      {list?.map((s) => {
        const id = 'setting-' + s.key
        return (
          <div class="field setting" key={s.key}>
            <label for={id}>
              {LABELS[s.key] ?? s.key}
              {s.source === 'override' ? <span class="setting-source override">Changed here</span> : <span class="setting-source default">Default</span>}
            </label>
            <div class="row">
              {s.type === 'string' ? (
                <select id={id} value={draft[s.key]} disabled={busy} onChange={(e) => setDraft({ ...draft, [s.key]: e.currentTarget.value })}>
                  {(s.choices ?? []).map((c) => (
                    <option key={c} value={c}>
                      {CHOICES[c] ?? c}
                    </option>
                  ))}
                </select>
              ) : (
                <input
                  id={id}
                  type="number"
                  inputMode="numeric"
                  min={s.min}
                  max={s.max}
                  step={1}
                  value={draft[s.key]}
                  disabled={busy}
                  onInput={(e) => setDraft({ ...draft, [s.key]: e.currentTarget.value })}
                />
              )}
              <button
                type="button"
                class="btn small"
                disabled={busy || s.source !== 'override'}
                aria-label={`Reset ${LABELS[s.key] ?? s.key} to its default`}
                onClick={() => void patch({ [s.key]: null }, `${LABELS[s.key] ?? s.key} is back to its default.`)}
              >
                Reset to default
              </button>
            </div>
            <span class="hint">{s.description}</span>
            <span class="hint">
              Default: {show(s, s.default)} (<code>{s.flag}</code>)
              {s.source === 'override' && s.updated_at ? ` · changed ${fullTime(s.updated_at)}` : ''}
            </span>
          </div>
        )
      })}
      {list && (
        <div>
          <button class="btn primary" type="submit" disabled={busy || changed.length === 0}>
            Save changes
          </button>
        </div>
      )}
    </form>
  )
}
