// The admins' channel screen: every public and private channel, member or
// not, with its size and last activity; its members; archiving it
// (docs/api.md "Administration"). Direct messages are only counted.
import { Fragment } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { Hash, Lock, ShieldCheck } from 'lucide-preact'
import { api, q } from '../api/http'
import { humanError } from '../api/errors'
import type { AdminChannel, AdminChannelsResponse, Member, MembersResponse } from '../api/types.gen'
import { displayName, ensureUsers, toast } from '../state/store'
import { clock, fullTime } from './common'

export function AdminChannels() {
  const [query, setQuery] = useState('')
  const [list, setList] = useState<AdminChannel[]>([])
  const [next, setNext] = useState('')
  const [direct, setDirect] = useState(0)
  const [err, setErr] = useState('')
  const [open, setOpen] = useState<string | null>(null)
  const load = async (text: string, cursor = '') => {
    setErr('')
    try {
      const r = await api<AdminChannelsResponse>('GET', '/api/v1/admin/channels' + q({ q: text.trim(), cursor, limit: 50 }))
      setList((l) => (cursor ? [...l, ...r.channels] : r.channels))
      setNext(r.next_cursor ?? '')
      setDirect(r.direct_count)
    } catch (x) {
      setErr(humanError(x))
    }
  }
  // Search as the admin types, a moment after the last key.
  useEffect(() => {
    const t = setTimeout(() => void load(query), 200)
    return () => clearTimeout(t)
  }, [query])
  const archive = async (c: AdminChannel) => {
    if (!confirm(`Archive #${c.name}? It becomes read-only for everyone in it, for good.`)) return
    setErr('')
    try {
      await api('POST', `/api/v1/admin/channels/${c.id}/archive`)
      setList((l) => l.map((x) => (x.id === c.id ? { ...x, archived: true, archived_at: new Date().toISOString() } : x)))
      toast(`#${c.name} archived.`, 'info')
    } catch (x) {
      setErr(humanError(x))
    }
  }
  return (
    <div class="stack">
      <h2>Channels</h2>
      <p class="muted">
        Every public and private channel on the server, whether you are in it or not. Messages stay private to their members: this screen shows
        no history. {direct > 0 && `Besides these, there ${direct === 1 ? 'is 1 direct conversation' : `are ${direct} direct conversations`}.`}
      </p>
      <input type="search" aria-label="Search channels" placeholder="Search channels by name" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
      {err && <p class="error-text">{err}</p>}
      <table class="admin-table" aria-label="Channels">
        <thead>
          <tr>
            <th scope="col">Channel</th>
            <th scope="col">Members</th>
            <th scope="col">Created</th>
            <th scope="col">Last activity</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list.map((c) => (
            <Fragment key={c.id}>
              <tr>
                <td>
                  <span class="row nowrap" style={{ gap: 4 }}>
                    {c.kind === 'private' ? <Lock size={14} aria-label="Private" /> : <Hash size={14} aria-label="Public" />}
                    <strong>{c.name}</strong>
                    {c.encrypted && <ShieldCheck size={14} aria-label="End-to-end encrypted" />}
                  </span>
                </td>
                <td>{c.member_count}</td>
                <td class="nowrap">
                  <When iso={c.created_at} />
                </td>
                <td class="nowrap">{c.last_activity_at ? <When iso={c.last_activity_at} /> : '—'}</td>
                <td>{c.archived ? 'Archived' : 'Active'}</td>
                <td>
                  <div class="row">
                    <button
                      class="btn small"
                      aria-expanded={open === c.id}
                      aria-label={`Members of #${c.name}`}
                      onClick={() => setOpen(open === c.id ? null : c.id)}
                    >
                      Members
                    </button>
                    {!c.archived && (
                      <button class="btn small danger" aria-label={`Archive #${c.name}`} onClick={() => void archive(c)}>
                        Archive
                      </button>
                    )}
                  </div>
                </td>
              </tr>
              {open === c.id && (
                <tr>
                  <td colSpan={6}>
                    <Members channel={c} />
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
          {list.length === 0 && !err && (
            <tr>
              <td colSpan={6} class="muted">
                {query.trim() ? 'No channel matches.' : 'No channels yet.'}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {next && (
        <button class="btn" onClick={() => void load(query, next)}>
          Show more
        </button>
      )}
    </div>
  )
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' })

// When shows a time of today as the clock, an earlier one as its date; the
// full time is its tooltip.
function When({ iso }: { iso: string }) {
  const d = new Date(iso)
  const today = d.toDateString() === new Date().toDateString()
  return (
    <time dateTime={iso} title={fullTime(iso)}>
      {today ? clock(iso) : dateFmt.format(d)}
    </time>
  )
}

const ROLE_LABEL: Record<string, string> = { owner: 'Owner', admin: 'Admin', moderator: 'Moderator', member: 'Member' }

function Members({ channel }: { channel: AdminChannel }) {
  const [members, setMembers] = useState<Member[] | null>(null)
  const [next, setNext] = useState('')
  const [err, setErr] = useState('')
  const load = async (cursor = '') => {
    try {
      const r = await api<MembersResponse>('GET', `/api/v1/admin/channels/${channel.id}/members` + q({ cursor, limit: 100 }))
      ensureUsers(r.members.map((m) => m.user_id))
      setMembers((l) => (cursor && l ? [...l, ...r.members] : r.members))
      setNext(r.next_cursor ?? '')
    } catch (x) {
      setErr(humanError(x))
    }
  }
  useEffect(() => void load(), [channel.id])
  if (err) return <p class="error-text">{err}</p>
  if (!members) return <p class="muted">Loading members…</p>
  return (
    <div class="stack" role="group" aria-label={`Members of #${channel.name}`}>
      {members.length === 0 ? (
        <p class="muted">Nobody is in this channel.</p>
      ) : (
        <ul class="admin-members">
          {members.map((m) => (
            <li key={m.user_id}>
              {displayName(m.user_id)} <span class="muted">{ROLE_LABEL[m.role] ?? m.role}</span>
            </li>
          ))}
        </ul>
      )}
      {next && (
        <button class="btn small" onClick={() => void load(next)}>
          More members
        </button>
      )}
    </div>
  )
}
