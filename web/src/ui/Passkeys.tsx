import { useEffect, useState } from 'preact/hooks'
import { KeyRound } from 'lucide-preact'
import { humanError } from '../api/errors'
import { addPasskey, listPasskeys, PasskeyCancelled, passkeysSupported, removePasskey, renamePasskey, type Passkey } from '../api/passkey'
import { toast } from '../state/store'
import { fullTime } from './common'

/** Passkeys is the settings tab where users add, rename and remove their passkeys. */
export function Passkeys() {
  const [list, setList] = useState<Passkey[] | null>(null)
  const [name, setName] = useState('')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState('')
  const [editing, setEditing] = useState<{ id: string; name: string } | null>(null)
  const load = () =>
    listPasskeys()
      .then(setList)
      .catch((e) => setErr(humanError(e)))
  useEffect(() => void load(), [])
  const add = async (e: Event) => {
    e.preventDefault()
    setErr('')
    setBusy(true)
    try {
      const k = await addPasskey(name.trim() || defaultName())
      toast(`Passkey “${k.name}” added.`, 'info')
      setName('')
      await load()
    } catch (x) {
      if (!(x instanceof PasskeyCancelled)) setErr(humanError(x))
    } finally {
      setBusy(false)
    }
  }
  const saveName = async (e: Event) => {
    e.preventDefault()
    if (!editing) return
    try {
      await renamePasskey(editing.id, editing.name.trim())
      setEditing(null)
      await load()
    } catch (x) {
      setErr(humanError(x))
    }
  }
  const remove = async (k: Passkey) => {
    if (!confirm(`Remove the passkey “${k.name}”? It stops signing you in at once.`)) return
    try {
      await removePasskey(k.id)
      await load()
    } catch (x) {
      toast(humanError(x))
    }
  }
  const supported = passkeysSupported()
  return (
    <div class="stack">
      <h2>Passkeys</h2>
      <p class="muted">
        Sign in without a password: your device unlocks the passkey with its screen lock, fingerprint or face. A passkey works only on this site, so a
        look-alike page cannot use it.
      </p>
      {!supported && <p class="notice">This browser cannot use passkeys here (they need a secure connection and a browser that supports them).</p>}
      <form class="row" onSubmit={add}>
        <div class="field grow">
          <label for="pk-name">Name for the new passkey</label>
          <input id="pk-name" maxLength={64} value={name} placeholder={defaultName()} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <button class="btn primary" type="submit" disabled={!supported || busy} style={{ alignSelf: 'flex-end' }}>
          {busy ? 'Waiting for your device…' : 'Add a passkey'}
        </button>
      </form>
      {err && (
        <p class="error-text" role="alert">
          {err}
        </p>
      )}
      {list?.length === 0 && <p class="muted">No passkeys yet.</p>}
      <ul class="list" aria-label="Your passkeys" style={{ padding: 0 }}>
        {list?.map((k) => (
          <li class="session-row" key={k.id}>
            <KeyRound size={18} aria-hidden="true" />
            <div class="grow">
              {editing?.id === k.id ? (
                <form class="row" onSubmit={saveName}>
                  <input aria-label="Passkey name" maxLength={64} required value={editing.name} onInput={(e) => setEditing({ id: k.id, name: e.currentTarget.value })} autofocus />
                  <button class="btn small primary" type="submit">
                    Save
                  </button>
                  <button class="btn small" type="button" onClick={() => setEditing(null)}>
                    Cancel
                  </button>
                </form>
              ) : (
                <div>
                  <strong>{k.name}</strong> {k.backup_eligible && <span class="muted">synced</span>}
                </div>
              )}
              <div class="muted" style={{ fontSize: 13 }}>
                added {fullTime(k.created_at)} · {k.last_used_at ? `last used ${fullTime(k.last_used_at)}` : 'never used'}
              </div>
            </div>
            {editing?.id !== k.id && (
              <button class="btn small" aria-label={`Rename ${k.name}`} onClick={() => setEditing({ id: k.id, name: k.name })}>
                Rename
              </button>
            )}
            <button class="btn small" aria-label={`Remove ${k.name}`} onClick={() => void remove(k)}>
              Remove
            </button>
          </li>
        ))}
      </ul>
    </div>
  )
}

// defaultName names a passkey after the device it is made on.
function defaultName(): string {
  const ua = navigator.userAgent
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iPhone' : /Mac OS X/.test(ua) ? 'Mac' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : 'This device'
  return os === 'This device' ? os : `${os} device`
}
