// The admins' compliance screen: each channel's retention, legal holds and
// the compliance export (docs/api.md "Administration").
import { useEffect, useState } from 'preact/hooks'
import { api, auth, q } from '../api/http'
import { humanError } from '../api/errors'
import type { Hold, HoldsResponse, RetentionResponse, SweepResponse, UsersResponse } from '../api/types.gen'
import { channels, toast } from '../state/store'
import { fullTime } from './common'

export function Compliance() {
  const list = Object.values(channels.value)
    .filter((c) => c.kind !== 'direct')
    .map((c) => [c.id, c.name ?? c.id] as const)
    .sort((a, b) => a[1].localeCompare(b[1]))
  return (
    <div class="stack">
      <h2>Compliance</h2>
      <Retention channelIDs={list} />
      <Holds channelIDs={list} />
      <Export />
    </div>
  )
}

function Retention({ channelIDs }: { channelIDs: (readonly [string, string])[] }) {
  const [id, setID] = useState(channelIDs[0]?.[0] ?? '')
  const [cur, setCur] = useState<RetentionResponse | null>(null)
  const [days, setDays] = useState('')
  const [err, setErr] = useState('')
  useEffect(() => {
    if (!id) return
    setErr('')
    api<RetentionResponse>('GET', `/api/v1/admin/channels/${id}/retention`)
      .then((r) => {
        setCur(r)
        setDays(r.days === undefined ? '' : String(r.days))
      })
      .catch((x) => setErr(humanError(x)))
  }, [id])
  const save = async (e: Event) => {
    e.preventDefault()
    setErr('')
    try {
      const r =
        days.trim() === ''
          ? await api<RetentionResponse>('DELETE', `/api/v1/admin/channels/${id}/retention`)
          : await api<RetentionResponse>('PUT', `/api/v1/admin/channels/${id}/retention`, { days: Number(days) })
      setCur(r)
      toast('Retention saved.', 'info')
    } catch (x) {
      setErr(humanError(x))
    }
  }
  const sweep = async () => {
    try {
      const r = await api<SweepResponse>('POST', '/api/v1/admin/retention/sweep')
      toast(`${r.deleted} expired message${r.deleted === 1 ? '' : 's'} deleted.`, 'info')
    } catch (x) {
      setErr(humanError(x))
    }
  }
  const server = cur ? (cur.server_days === 0 ? 'keeps messages forever' : `keeps messages ${cur.server_days} days`) : ''
  return (
    <form class="stack" onSubmit={save} aria-label="Retention">
      <h3>Retention</h3>
      <p class="muted">Expired messages are deleted for good, as a delete does. The server {server}; a channel may keep them longer or shorter.</p>
      {err && <p class="error-text">{err}</p>}
      <label>
        Channel
        <select value={id} onChange={(e) => setID(e.currentTarget.value)}>
          {channelIDs.map(([cid, name]) => (
            <option key={cid} value={cid}>
              {name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Keep messages for (days; 0 forever, empty for the server's)
        <input name="days" inputMode="numeric" value={days} onInput={(e) => setDays(e.currentTarget.value)} />
      </label>
      <div class="row">
        <button class="btn primary" type="submit" disabled={!id}>
          Save retention
        </button>
        <button class="btn" type="button" onClick={sweep}>
          Delete expired messages now
        </button>
      </div>
    </form>
  )
}

function Holds({ channelIDs }: { channelIDs: (readonly [string, string])[] }) {
  const [holds, setHolds] = useState<Hold[] | null>(null)
  const [kind, setKind] = useState<'user' | 'channel'>('user')
  const [target, setTarget] = useState('')
  const [reason, setReason] = useState('')
  const [names, setNames] = useState<Record<string, string>>({})
  const [err, setErr] = useState('')
  const load = () =>
    api<HoldsResponse>('GET', '/api/v1/admin/legal-holds')
      .then((r) => setHolds(r.holds))
      .catch((x) => setErr(humanError(x)))
  useEffect(() => void load(), [])
  const place = async (e: Event) => {
    e.preventDefault()
    setErr('')
    try {
      let id = target
      if (kind === 'user') {
        const r = await api<UsersResponse>('GET', '/api/v1/users' + q({ q: target.trim(), limit: 5 }))
        const u = r.users.find((x) => x.username.toLowerCase() === target.trim().toLowerCase())
        if (!u) throw new Error(`No user is called ${target.trim()}.`)
        id = u.id
        setNames((n) => ({ ...n, [u.id]: '@' + u.username }))
      }
      await api('PUT', `/api/v1/admin/legal-holds/${kind}/${id}`, reason.trim() ? { reason: reason.trim() } : {})
      setTarget('')
      setReason('')
      await load()
    } catch (x) {
      setErr(humanError(x))
    }
  }
  const release = async (h: Hold) => {
    try {
      await api('DELETE', `/api/v1/admin/legal-holds/${h.kind}/${h.target_id}`)
      await load()
    } catch (x) {
      setErr(humanError(x))
    }
  }
  const label = (h: Hold) =>
    h.kind === 'channel' ? '#' + (channelIDs.find(([id]) => id === h.target_id)?.[1] ?? h.target_id) : (names[h.target_id] ?? h.target_id)
  return (
    <form class="stack" onSubmit={place} aria-label="Legal holds">
      <h3>Legal holds</h3>
      <p class="muted">Retention deletes none of the messages of a user or a channel on hold.</p>
      {err && <p class="error-text">{err}</p>}
      <ul class="plain" aria-label="Holds">
        {holds?.length === 0 && <li class="muted">No holds.</li>}
        {holds?.map((h) => (
          <li key={h.kind + h.target_id} class="row">
            <span class="grow">
              {label(h)} {h.reason && <span class="muted">— {h.reason}</span>} <span class="muted">since {fullTime(h.created_at)}</span>
            </span>
            <button class="btn small" type="button" onClick={() => release(h)}>
              Release
            </button>
          </li>
        ))}
      </ul>
      <div class="row">
        <select aria-label="Hold on" value={kind} onChange={(e) => setKind(e.currentTarget.value as 'user' | 'channel')}>
          <option value="user">User</option>
          <option value="channel">Channel</option>
        </select>
        {kind === 'user' ? (
          <input aria-label="Username" placeholder="username" value={target} onInput={(e) => setTarget(e.currentTarget.value)} />
        ) : (
          <select aria-label="Channel to hold" value={target} onChange={(e) => setTarget(e.currentTarget.value)}>
            <option value="">Choose a channel</option>
            {channelIDs.map(([cid, name]) => (
              <option key={cid} value={cid}>
                {name}
              </option>
            ))}
          </select>
        )}
        <input aria-label="Reason" placeholder="reason (optional)" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        <button class="btn primary" type="submit" disabled={!target.trim()}>
          Place hold
        </button>
      </div>
    </form>
  )
}

function Export() {
  const today = new Date().toISOString().slice(0, 10)
  const [from, setFrom] = useState(new Date(Date.now() - 30 * 86400_000).toISOString().slice(0, 10))
  const [to, setTo] = useState(today)
  const [format, setFormat] = useState<'jsonl' | 'csv'>('jsonl')
  const [err, setErr] = useState('')
  const run = async (e: Event) => {
    e.preventDefault()
    setErr('')
    try {
      if (!auth.accessToken || auth.remaining < 5_000) await auth.refresh()
      // The end date is inclusive on screen: the export's "to" is the next midnight.
      const end = new Date(to + 'T00:00:00Z')
      end.setUTCDate(end.getUTCDate() + 1)
      const url = '/api/v1/admin/compliance/export' + q({ from: from + 'T00:00:00Z', to: end.toISOString().replace(/\.\d+Z$/, 'Z'), format })
      const r = await fetch(url, { headers: { Authorization: 'Bearer ' + auth.accessToken } })
      if (!r.ok) {
        const body = (await r.json().catch(() => null)) as { error?: { message?: string } } | null
        throw new Error(body?.error?.message ?? `The export failed (${r.status}).`)
      }
      const blob = await r.blob()
      const a = document.createElement('a')
      a.href = URL.createObjectURL(blob)
      a.download = `unhidra-export-${from}-${to}.${format}`
      a.click()
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000)
    } catch (x) {
      setErr(humanError(x))
    }
  }
  return (
    <form class="stack" onSubmit={run} aria-label="Compliance export">
      <h3>Compliance export</h3>
      <p class="muted">Every message of the standard channels in the date range (UTC). End-to-end encrypted channels are not the server's to export.</p>
      {err && <p class="error-text">{err}</p>}
      <div class="row">
        <label>
          From <input type="date" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
        </label>
        <label>
          To <input type="date" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        </label>
        <select aria-label="Format" value={format} onChange={(e) => setFormat(e.currentTarget.value as 'jsonl' | 'csv')}>
          <option value="jsonl">JSON lines</option>
          <option value="csv">CSV</option>
        </select>
        <button class="btn primary" type="submit">
          Download export
        </button>
      </div>
    </form>
  )
}
