import { focusOnce } from './common'
import { useEffect, useState } from 'preact/hooks'
import { useLocation } from 'preact-iso'
import { X, Search as SearchIcon, UserMinus, UserPlus } from 'lucide-preact'
import { api, q } from '../api/http'
import { humanError } from '../api/errors'
import type { Message, User } from '../api/types'
import { act, channelTitle, channels, displayName, ensureUsers, loadMembers, loadThread, me, members, rememberUsers, threadRoots, timeline, toast, users } from '../state/store'
import { replies } from '../state/timeline'
import { Avatar, PresenceDot, clock, dayLabel, statusLabel } from './common'
import { Composer } from './Composer'
import { MessageItem } from './MessageItem'
import { panel } from './panel'
import { presence } from '../state/store'

function PanelHead({ title, sub }: { title: string; sub?: string }) {
  return (
    <div class="panel-head">
      <h2 class="ellipsis">
        {title} {sub && <span class="muted" style={{ fontSize: 13, fontWeight: 400 }}>{sub}</span>}
      </h2>
      <button class="icon-btn" aria-label="Close panel" title="Close (Esc)" onClick={() => (panel.value = null)}>
        <X size={18} />
      </button>
    </div>
  )
}

export function SidePanel() {
  const p = panel.value
  if (!p) return null
  return (
    <aside class="panel" aria-label={p.kind === 'thread' ? 'Thread' : p.kind === 'search' ? 'Search' : 'Members'}>
      {p.kind === 'thread' && <ThreadPanel channelId={p.channelId} rootId={p.rootId} />}
      {p.kind === 'search' && <SearchPanel initial={p.query ?? ''} />}
      {p.kind === 'members' && <MembersPanel channelId={p.channelId} />}
    </aside>
  )
}

function ThreadPanel({ channelId, rootId }: { channelId: string; rootId: string }) {
  const [err, setErr] = useState('')
  useEffect(() => {
    setErr('')
    loadThread(rootId).catch((e) => setErr(humanError(e)))
  }, [rootId])
  const t = timeline(channelId)
  const root = t.msgs.find((m) => m.id === rootId) ?? threadRoots.value[rootId]
  const list = replies(t.msgs, rootId)
  const c = channels.value[channelId]
  return (
    <>
      <PanelHead title="Thread" sub={c ? (c.kind === 'direct' ? channelTitle(c) : '#' + c.name) : ''} />
      <div class="panel-body">
        {err && <p class="notice error">{err}</p>}
        {root && (
          <div class="thread-root">
            <MessageItem m={root} cont={false} inThread />
          </div>
        )}
        <div class="replies-count">{list.length === 0 ? 'No replies yet. Start the thread below.' : `${list.length} ${list.length === 1 ? 'reply' : 'replies'}`}</div>
        {list.map((m, i) => (
          <MessageItem key={m.pending ? 'p:' + m.client_msg_id : m.id} m={m} cont={i > 0 && list[i - 1]!.sender.id === m.sender.id} inThread />
        ))}
      </div>
      <Composer channelId={channelId} threadRootId={rootId} placeholder="Reply in thread" autofocusKey={rootId} />
    </>
  )
}

interface Hit {
  message: Message
  highlights: { start: number; end: number }[]
}

/** Marked shows a body with the server's highlight offsets (in code points) as <mark>, never as HTML. */
function Marked({ body, hl }: { body: string; hl: { start: number; end: number }[] }) {
  // Offsets are into the body as the server holds it: count in code points.
  const cps = Array.from(body)
  const parts: preact.JSX.Element[] = []
  let at = 0
  const sorted = [...hl].sort((a, b) => a.start - b.start)
  for (const h of sorted) {
    if (h.start < at || h.end > cps.length) continue
    if (h.start > at) parts.push(<span>{cps.slice(at, h.start).join('')}</span>)
    parts.push(<mark>{cps.slice(h.start, h.end).join('')}</mark>)
    at = h.end
  }
  if (at < cps.length) parts.push(<span>{cps.slice(at).join('')}</span>)
  return <div class="ellipsis-3">{parts}</div>
}

function SearchPanel({ initial }: { initial: string }) {
  const [query, setQuery] = useState(initial)
  const [hits, setHits] = useState<Hit[] | null>(null)
  const [cursor, setCursor] = useState('')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState('')
  const loc = useLocation()
  useEffect(() => setQuery(initial), [initial])
  const run = async (more = false) => {
    const text = query.trim()
    if (!text) return
    setBusy(true)
    setErr('')
    try {
      const r = await api<{ hits: Hit[]; next_cursor?: string }>('GET', `/api/v1/search${q({ q: text, limit: 30, cursor: more ? cursor : undefined })}`)
      ensureUsers(r.hits.map((h) => h.message.sender.id))
      setHits(more && hits ? [...hits, ...r.hits] : r.hits)
      setCursor(r.next_cursor ?? '')
    } catch (e) {
      setErr(humanError(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <>
      <PanelHead title="Search" />
      <form
        class="search-form"
        role="search"
        onSubmit={(e) => {
          e.preventDefault()
          void run()
        }}
      >
        <div class="row">
          <input class="input grow" type="search" aria-label="Search messages" placeholder="Search messages" value={query} onInput={(e) => setQuery(e.currentTarget.value)} ref={focusOnce} />
          <button class="btn primary" type="submit" aria-label="Run search" disabled={busy}>
            <SearchIcon size={16} />
          </button>
        </div>
        <p class="hint">
          Words, "exact phrases", and <code>in:channel</code> <code>from:username</code> <code>before:2026-12-31</code> <code>after:2026-01-01</code>.
        </p>
      </form>
      <div class="panel-body">
        {err && <p class="notice error" style={{ margin: 16 }}>{err}</p>}
        {hits && hits.length === 0 && (
          <div class="empty">
            <div>
              <h2>No results</h2>
              <p>Try fewer words, or check the channel and user filters.</p>
            </div>
          </div>
        )}
        {hits?.map((h) => {
          const c = channels.value[h.message.channel_id]
          return (
            <button key={h.message.id} class="hit" onClick={() => loc.route(`/c/${h.message.channel_id}/m/${h.message.id}`)}>
              <div class="where">
                {c ? (c.kind === 'direct' ? channelTitle(c) : '#' + c.name) : ''} · {displayName(h.message.sender.id)} · {dayLabel(h.message.created_at)} {clock(h.message.created_at)}
              </div>
              <Marked body={h.message.body ?? ''} hl={h.highlights ?? []} />
            </button>
          )
        })}
        {cursor && (
          <div style={{ padding: 16, textAlign: 'center' }}>
            <button class="btn" disabled={busy} onClick={() => run(true)}>
              More results
            </button>
          </div>
        )}
      </div>
    </>
  )
}

function AddPeople({ channelId }: { channelId: string }) {
  const [text, setText] = useState('')
  const [found, setFound] = useState<User[]>([])
  const inChannel = new Set((members.value[channelId] ?? []).map((m) => m.user_id))
  useEffect(() => {
    const s = text.trim()
    if (!s) return setFound([])
    const t = setTimeout(() => {
      api<{ users: User[] }>('GET', `/api/v1/users${q({ q: s })}`)
        .then((r) => {
          rememberUsers(r.users)
          setFound(r.users)
        })
        .catch(() => setFound([]))
    }, 150)
    return () => clearTimeout(t)
  }, [text])
  const add = async (u: User) => {
    if (await act(() => api('PUT', `/api/v1/channels/${channelId}/members/${u.id}`, { role: 'member' }))) {
      setText('')
      toast(`${u.display_name || u.username} was added.`, 'info')
      await loadMembers(channelId).catch(() => {})
    }
  }
  const candidates = found.filter((u) => !inChannel.has(u.id))
  return (
    <div class="search-form">
      <input class="input" style={{ width: '100%' }} aria-label="Add people to this channel" placeholder="Add people by name or username" value={text} onInput={(e) => setText(e.currentTarget.value)} />
      {text && (
        <ul class="choice-list" aria-label="People to add">
          {candidates.map((u) => (
            <li key={u.id}>
              <button onClick={() => add(u)} aria-label={`Add ${u.display_name || u.username}`}>
                <Avatar userId={u.id} size={24} />
                <span class="grow">
                  {u.display_name || u.username} <span class="muted">@{u.username}</span>
                </span>
                <UserPlus size={15} />
              </button>
            </li>
          ))}
          {candidates.length === 0 && <li class="muted" style={{ padding: 8 }}>No one to add by that name.</li>}
        </ul>
      )}
    </div>
  )
}

function MembersPanel({ channelId }: { channelId: string }) {
  useEffect(() => {
    void loadMembers(channelId).catch(() => {})
  }, [channelId])
  const list = members.value[channelId] ?? []
  const myRole = channels.value[channelId]?.role ?? ''
  const manage = myRole === 'owner' || myRole === 'admin'
  const remove = async (uid: string) => {
    if (!confirm(`Remove ${displayName(uid)} from this channel?`)) return
    if (await act(() => api('DELETE', `/api/v1/channels/${channelId}/members/${uid}`))) await loadMembers(channelId).catch(() => {})
  }
  const rank = (s: string) => (s === 'online' ? 0 : s === 'dnd' ? 1 : s === 'away' ? 2 : 3)
  const sorted = [...list].sort((a, b) => rank(presence.value[a.user_id] ?? '') - rank(presence.value[b.user_id] ?? '') || displayName(a.user_id).localeCompare(displayName(b.user_id)))
  return (
    <>
      <PanelHead title="Members" sub={String(list.length)} />
      {channels.value[channelId]?.kind !== 'direct' && <AddPeople channelId={channelId} />}
      <div class="panel-body">
        {sorted.map((m) => {
          const u = users.value[m.user_id]
          return (
            <div class="member-row" key={m.user_id}>
              <Avatar userId={m.user_id} size={32} showPresence />
              <div class="grow">
                <div class="ellipsis">
                  <strong>{displayName(m.user_id)}</strong> {m.user_id === me.value?.id && <span class="muted">(you)</span>}
                </div>
                <div class="muted ellipsis" style={{ fontSize: 12 }}>
                  {u ? '@' + u.username : ''} · {statusLabel(presence.value[m.user_id] ?? 'offline')}
                  {m.role !== 'member' ? ' · ' + m.role : ''}
                </div>
              </div>
              {manage && m.user_id !== me.value?.id ? (
                <button class="icon-btn" aria-label={`Remove ${displayName(m.user_id)}`} title="Remove from channel" onClick={() => remove(m.user_id)}>
                  <UserMinus size={15} />
                </button>
              ) : (
                <PresenceDot userId={m.user_id} />
              )}
            </div>
          )
        })}
      </div>
    </>
  )
}
