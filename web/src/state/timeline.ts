import type { Message, ReactionCount } from '../api/types'

// Pure functions over a channel's list of messages: merging pages and
// live frames, optimistic sends, reactions. Lists are ascending by seq;
// pending messages (no seq yet) sort after every stored message, in the
// order they were sent. No function mutates its input.

export type SendState = 'sending' | 'failed'

export interface Msg extends Message {
  /** set while the message is an optimistic send not yet acknowledged */
  pending?: SendState
  /** why the send failed, for the person to read */
  error?: string
}

function order(a: Msg, b: Msg): number {
  const ap = a.pending ? 1 : 0
  const bp = b.pending ? 1 : 0
  if (ap !== bp) return ap - bp
  if (ap) return a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0
  return a.seq - b.seq
}

/**
 * keepMe carries the viewer's own `me` flags from the version the client
 * holds into an incoming one: frames fanned out to everyone have me=false.
 */
function keepMe(old: ReactionCount[] | null | undefined, next: ReactionCount[] | null | undefined, fromFrame: boolean): ReactionCount[] {
  const n = next ?? []
  if (!fromFrame || !old) return n
  const mine = new Set(old.filter((r) => r.me).map((r) => r.emoji))
  return n.map((r) => (mine.has(r.emoji) ? { ...r, me: true } : r))
}

/**
 * merge folds messages (a REST page or live frames) into a list. A message
 * already held is replaced by the incoming version unless the held one is
 * newer (a tombstone is final; an edit is newer than the original). An
 * incoming message that answers a pending send (same client_msg_id and
 * sender) replaces the pending one.
 */
export function merge(list: Msg[], incoming: Message[], me = '', fromFrame = false): Msg[] {
  if (incoming.length === 0) return list
  const byId = new Map<string, number>()
  const byClient = new Map<string, number>()
  list.forEach((m, i) => {
    byId.set(m.id, i)
    if (m.pending && m.client_msg_id) byClient.set(m.client_msg_id, i)
  })
  const out = list.slice()
  const drop = new Set<number>()
  let sorted = true
  for (const m of incoming) {
    const at = byId.get(m.id)
    if (at !== undefined) {
      const held = out[at]!
      if (held.deleted && !m.deleted) continue
      // an edited copy is newer than an unedited one, and than an older edit
      if (held.edited_at && (!m.edited_at || held.edited_at > m.edited_at)) continue
      out[at] = { ...m, reactions: keepMe(held.reactions, m.reactions, fromFrame) }
      continue
    }
    const pi = m.client_msg_id && m.sender.id === me ? byClient.get(m.client_msg_id) : undefined
    if (pi !== undefined && !drop.has(pi)) {
      drop.add(pi)
    }
    const last = out[out.length - 1]
    if (last && !last.pending && last.seq > m.seq) sorted = false
    if (last && last.pending) sorted = false
    byId.set(m.id, out.length)
    out.push({ ...m, reactions: m.reactions ?? [] })
  }
  const kept = drop.size ? out.filter((_, i) => !drop.has(i)) : out
  if (!sorted || drop.size) kept.sort(order)
  return kept
}

/** addPending appends an optimistic send. */
export function addPending(list: Msg[], m: Msg): Msg[] {
  return [...list.filter((x) => !(x.pending && x.client_msg_id === m.client_msg_id)), { ...m, pending: 'sending' }]
}

/** setPending changes the state of an optimistic send (failed, or sending again). */
export function setPending(list: Msg[], clientMsgId: string, state: SendState, error?: string): Msg[] {
  let hit = false
  const out = list.map((m) => {
    if (m.pending && m.client_msg_id === clientMsgId) {
      hit = true
      return { ...m, pending: state, error }
    }
    return m
  })
  return hit ? out : list
}

/**
 * acked resolves an optimistic send with the id and seq the server gave
 * it. The message echo may already have replaced it (merge), or may follow.
 */
export function acked(list: Msg[], clientMsgId: string, id: string, seq: number): Msg[] {
  const i = list.findIndex((m) => m.pending && m.client_msg_id === clientMsgId)
  if (i < 0) return list
  if (list.some((m) => m.id === id)) return list.filter((_, j) => j !== i)
  const out = list.slice()
  const { pending: _p, error: _e, ...rest } = out[i]!
  out[i] = { ...rest, id, seq }
  return out.sort(order)
}

/** removePending drops an optimistic send the person gave up on. */
export function removePending(list: Msg[], clientMsgId: string): Msg[] {
  return list.filter((m) => !(m.pending && m.client_msg_id === clientMsgId))
}

/** tombstone marks a message deleted and drops its content. */
export function tombstone(list: Msg[], id: string): Msg[] {
  const i = list.findIndex((m) => m.id === id)
  if (i < 0) return list
  const out = list.slice()
  const m = out[i]!
  out[i] = { ...m, deleted: true, body: '', ciphertext: '', attachments: [], reactions: [], mentions: [] }
  return out
}

/** react applies a reaction frame to the message it names. */
export function react(list: Msg[], id: string, emoji: string, added: boolean, mine: boolean): Msg[] {
  const i = list.findIndex((m) => m.id === id)
  if (i < 0) return list
  const m = list[i]!
  const rs = (m.reactions ?? []).map((r) => ({ ...r }))
  const r = rs.find((x) => x.emoji === emoji)
  if (added) {
    if (r) {
      if (mine && r.me) return list // already counted (our own REST answer)
      r.count++
      if (mine) r.me = true
    } else rs.push({ emoji, count: 1, me: mine })
  } else if (r) {
    if (mine && !r.me) return list
    r.count--
    if (mine) r.me = false
  }
  const out = list.slice()
  out[i] = { ...m, reactions: rs.filter((x) => x.count > 0) }
  return out
}

/** roots is the main timeline: thread replies live in their thread. */
export function roots(list: Msg[]): Msg[] {
  return list.filter((m) => !m.thread_root_id)
}

/** replies is one thread's replies, ascending. */
export function replies(list: Msg[], rootId: string): Msg[] {
  return list.filter((m) => m.thread_root_id === rootId)
}

/** firstUnread is the index of the first message after lastRead not sent by me, or -1. */
export function firstUnread(list: Msg[], lastRead: number, me: string): number {
  return list.findIndex((m) => !m.pending && m.seq > lastRead && m.sender.id !== me)
}

/** newClientMsgId returns an id the server accepts ([A-Za-z0-9_-], ≤ 64). */
export function newClientMsgId(): string {
  const b = new Uint8Array(16)
  crypto.getRandomValues(b)
  return 'w' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}
