import { useEffect, useMemo, useState } from 'preact/hooks'
import { useLocation } from 'preact-iso'
import { Hash, Lock } from 'lucide-preact'
import { api, q } from '../api/http'
import { humanError } from '../api/errors'
import type { Channel, User } from '../api/types'
import { channelList, channelTitle, createChannel, joinChannel, me, openDirect, rememberUsers, toast } from '../state/store'
import { Avatar, Modal, PresenceDot } from './common'
import { dialog } from './panel'

export function Dialogs() {
  const d = dialog.value
  const close = () => (dialog.value = null)
  if (d === 'switcher') return <Switcher onClose={close} />
  if (d === 'create') return <CreateChannel onClose={close} />
  if (d === 'browse') return <Browse onClose={close} />
  if (d === 'dm') return <NewDirect onClose={close} />
  if (d === 'shortcuts') return <Shortcuts onClose={close} />
  return null
}

function Switcher({ onClose }: { onClose: () => void }) {
  const [text, setText] = useState('')
  const [sel, setSel] = useState(0)
  const loc = useLocation()
  const all = [...channelList.value.channels, ...channelList.value.direct]
  const list = useMemo(() => {
    const s = text.trim().toLowerCase()
    const scored = all
      .map((c) => {
        const name = channelTitle(c).toLowerCase()
        const i = s ? name.indexOf(s) : 0
        // prefix matches first, then the rest; unread ones first within each
        return { c, hit: i >= 0, score: (i === 0 ? 0 : 1000) - Math.min(c.unread_count, 999) }
      })
      .filter((x) => x.hit)
      .sort((a, b) => a.score - b.score)
    return scored.map((x) => x.c).slice(0, 12)
  }, [text, all.length])
  const go = (c: Channel) => {
    onClose()
    loc.route(`/c/${c.id}`)
  }
  return (
    <Modal title="Jump to…" onClose={onClose}>
      <input
        class="input"
        style={{ width: '100%' }}
        aria-label="Channel or person"
        placeholder="Type a channel or a person's name"
        value={text}
        role="combobox"
        aria-expanded="true"
        aria-controls="switcher-list"
        onInput={(e) => {
          setText(e.currentTarget.value)
          setSel(0)
        }}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
            e.preventDefault()
            setSel((sel + (e.key === 'ArrowDown' ? 1 : list.length - 1)) % Math.max(1, list.length))
          } else if (e.key === 'Enter' && list[sel]) {
            e.preventDefault()
            go(list[sel]!)
          }
        }}
      />
      <ul class="choice-list" id="switcher-list" role="listbox" aria-label="Matches">
        {list.map((c, i) => {
          const other = c.kind === 'direct' ? (c.members ?? []).find((x) => x !== me.value?.id) : undefined
          return (
            <li key={c.id} role="option" aria-selected={i === sel}>
              <button onClick={() => go(c)} tabIndex={-1}>
                {c.kind === 'direct' ? other && <PresenceDot userId={other} /> : c.kind === 'private' ? <Lock size={15} /> : <Hash size={15} />}
                <span class="grow ellipsis">{channelTitle(c)}</span>
                {c.unread_count > 0 && <span class="badge">{c.unread_count}</span>}
              </button>
            </li>
          )
        })}
        {list.length === 0 && <li class="muted" style={{ padding: 12 }}>Nothing matches. Browse channels to join one.</li>}
      </ul>
    </Modal>
  )
}

function CreateChannel({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState('')
  const [topic, setTopic] = useState('')
  const [priv, setPriv] = useState(false)
  const [err, setErr] = useState('')
  const [busy, setBusy] = useState(false)
  const loc = useLocation()
  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setErr('')
    try {
      const c = await createChannel(name.trim(), priv ? 'private' : 'public', topic.trim())
      onClose()
      loc.route(`/c/${c.id}`)
    } catch (x) {
      setErr(humanError(x))
      setBusy(false)
    }
  }
  return (
    <Modal title="Create a channel" onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        <div class="field">
          <label for="cc-name">Name</label>
          <input id="cc-name" required value={name} placeholder="e.g. plant-floor" onInput={(e) => setName(e.currentTarget.value)} />
          <span class="hint">Lower-case letters, digits and dashes work best: people type #{name || 'name'}.</span>
        </div>
        <div class="field">
          <label for="cc-topic">Topic (optional)</label>
          <input id="cc-topic" value={topic} onInput={(e) => setTopic(e.currentTarget.value)} />
        </div>
        <label class="row">
          <input type="checkbox" checked={priv} onChange={(e) => setPriv(e.currentTarget.checked)} />
          <span>
            <strong>Private</strong> <span class="muted">— only invited members can find and read it</span>
          </span>
        </label>
        {err && (
          <p class="error-text" role="alert">
            {err}
          </p>
        )}
        <div class="row">
          <span class="grow" />
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button class="btn primary" type="submit" disabled={busy || !name.trim()}>
            Create channel
          </button>
        </div>
      </form>
    </Modal>
  )
}

function Browse({ onClose }: { onClose: () => void }) {
  const [text, setText] = useState('')
  const [list, setList] = useState<Channel[] | null>(null)
  const [err, setErr] = useState('')
  const loc = useLocation()
  useEffect(() => {
    const t = setTimeout(() => {
      api<{ channels: Channel[] }>('GET', `/api/v1/channels/browse${q({ q: text.trim() })}`)
        .then((r) => setList(r.channels))
        .catch((e) => setErr(humanError(e)))
    }, 150)
    return () => clearTimeout(t)
  }, [text])
  const join = async (c: Channel) => {
    try {
      await joinChannel(c.id)
      onClose()
      loc.route(`/c/${c.id}`)
    } catch (e) {
      toast(humanError(e))
    }
  }
  return (
    <Modal
      title="Browse channels"
      onClose={onClose}
      footer={
        <button class="btn" onClick={() => (dialog.value = 'create')}>
          Create a new channel
        </button>
      }
    >
      <input class="input" style={{ width: '100%' }} aria-label="Search public channels" placeholder="Search public channels" value={text} onInput={(e) => setText(e.currentTarget.value)} />
      {err && <p class="error-text">{err}</p>}
      <ul class="choice-list">
        {list?.map((c) => (
          <li key={c.id}>
            <div class="choice">
              <Hash size={16} />
              <span class="grow">
                <strong>{c.name}</strong>
                {c.topic && <span class="muted ellipsis" style={{ display: 'block', fontSize: 13 }}>{c.topic}</span>}
              </span>
              <button class="btn small primary" onClick={() => join(c)} aria-label={`Join ${c.name}`}>
                Join
              </button>
            </div>
          </li>
        ))}
        {list && list.length === 0 && <li class="muted" style={{ padding: 12 }}>{text ? 'No public channel by that name that you have not joined.' : 'You are in every public channel already. Create a new one?'}</li>}
      </ul>
    </Modal>
  )
}

function NewDirect({ onClose }: { onClose: () => void }) {
  const [text, setText] = useState('')
  const [found, setFound] = useState<User[]>([])
  const [picked, setPicked] = useState<User[]>([])
  const [busy, setBusy] = useState(false)
  const loc = useLocation()
  useEffect(() => {
    const s = text.trim()
    if (!s) {
      setFound([])
      return
    }
    const t = setTimeout(() => {
      api<{ users: User[] }>('GET', `/api/v1/users${q({ q: s })}`)
        .then((r) => {
          rememberUsers(r.users)
          setFound(r.users.filter((u) => u.id !== me.value?.id))
        })
        .catch(() => setFound([]))
    }, 150)
    return () => clearTimeout(t)
  }, [text])
  const start = async () => {
    if (picked.length === 0) return
    setBusy(true)
    try {
      const c = await openDirect(picked.map((u) => u.id))
      onClose()
      loc.route(`/c/${c.id}`)
    } catch (e) {
      toast(humanError(e))
      setBusy(false)
    }
  }
  return (
    <Modal
      title="New direct message"
      onClose={onClose}
      footer={
        <>
          <button class="btn" onClick={onClose}>
            Cancel
          </button>
          <button class="btn primary" disabled={picked.length === 0 || busy} onClick={start}>
            {picked.length > 1 ? 'Start group conversation' : 'Start conversation'}
          </button>
        </>
      }
    >
      {picked.length > 0 && (
        <div class="row" style={{ flexWrap: 'wrap', marginBottom: 8 }}>
          {picked.map((u) => (
            <button key={u.id} class="btn small" aria-label={`Remove ${u.display_name || u.username}`} onClick={() => setPicked(picked.filter((p) => p.id !== u.id))}>
              {u.display_name || u.username} ×
            </button>
          ))}
        </div>
      )}
      <input class="input" style={{ width: '100%' }} aria-label="Find people" placeholder="Find people by name or username" value={text} onInput={(e) => setText(e.currentTarget.value)} />
      <ul class="choice-list">
        {found
          .filter((u) => !picked.some((p) => p.id === u.id))
          .map((u) => (
            <li key={u.id}>
              <button
                onClick={() => {
                  setPicked([...picked, u])
                  setText('')
                }}
              >
                <Avatar userId={u.id} size={28} showPresence />
                <span class="grow">
                  <strong>{u.display_name || u.username}</strong> <span class="muted">@{u.username}</span>
                </span>
              </button>
            </li>
          ))}
        {text && found.length === 0 && <li class="muted" style={{ padding: 12 }}>No one by that name.</li>}
      </ul>
    </Modal>
  )
}

const SHORTCUTS: [string, string][] = [
  ['Ctrl/⌘ K', 'Jump to a channel or person'],
  ['Ctrl/⌘ Shift F', 'Search messages'],
  ['Enter', 'Send'],
  ['Shift Enter', 'New line'],
  ['↑ in an empty message box', 'Edit your last message'],
  ['Esc', 'Close a panel, dialog or editor'],
  ['Alt ↑ / Alt ↓', 'Previous / next channel'],
  ['Alt Shift ↑ / ↓', 'Previous / next unread channel'],
]

function Shortcuts({ onClose }: { onClose: () => void }) {
  return (
    <Modal title="Keyboard shortcuts" onClose={onClose}>
      <table style={{ width: '100%', borderCollapse: 'collapse' }}>
        <tbody>
          {SHORTCUTS.map(([k, v]) => (
            <tr key={k}>
              <td style={{ padding: '6px 0' }}>
                <span class="kbd">{k}</span>
              </td>
              <td>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Modal>
  )
}
