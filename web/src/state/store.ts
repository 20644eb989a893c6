import { batch, computed, signal } from '@preact/signals'
import { api, auth, logout as apiLogout, q } from '../api/http'
import { ApiError, humanError } from '../api/errors'
import { Socket, type ConnState } from '../api/socket'
import type { ErrorFrame, ServerFrame } from '../api/types.gen'
import type { Channel, Member, Message, User } from '../api/types'
import { Positions } from './positions'
import * as tl from './timeline'
import type { Msg } from './timeline'
import { notifyMessage } from './notify'

// The client's state: signals the UI reads, and the actions that change
// them. REST loads and socket frames both land here, through the pure
// timeline functions, so a message is merged the same way whichever way it
// arrived.

export interface Timeline {
  msgs: Msg[]
  loaded: boolean
  loading: boolean
  hasMoreBefore: boolean
  /** true when the window is detached from the live end (a permalink far back) */
  hasMoreAfter: boolean
  /** the read position when the channel was opened: where the "new" divider goes */
  readAtOpen: number
  /** the seqs the window's REST pages cover (from = Infinity until a page is loaded) */
  from: number
  to: number
}

export interface Toast {
  id: number
  text: string
  kind: 'error' | 'info'
}

const emptyTimeline: Timeline = { msgs: [], loaded: false, loading: false, hasMoreBefore: true, hasMoreAfter: false, readAtOpen: 0, from: Infinity, to: 0 }

export const me = signal<User | null>(null)
export const booted = signal(false)
export const conn = signal<ConnState>('offline')
export const channels = signal<Record<string, Channel>>({})
export const users = signal<Record<string, User>>({})
export const timelines = signal<Record<string, Timeline>>({})
export const typing = signal<Record<string, Record<string, number>>>({})
export const presence = signal<Record<string, string>>({})
export const receipts = signal<Record<string, Record<string, number>>>({})
export const members = signal<Record<string, Member[]>>({})
export const active = signal('')
export const toasts = signal<Toast[]>([])
export const myStatus = signal<'online' | 'away' | 'dnd'>('online')
/** The connection id of this tab's socket (its hello), for the admins' connection list. */
export const connectionId = signal('')

export const positions = new Positions()
const PAGE = 50
let readyCount = 0

export const channelList = computed(() => {
  const all = Object.values(channels.value).filter((c) => !c.archived)
  const name = (c: Channel) => channelTitle(c).toLowerCase()
  const visible = (c: Channel) => !c.hidden || c.unread_count > 0 || c.id === active.value
  return {
    channels: all.filter((c) => c.kind !== 'direct').sort((a, b) => name(a).localeCompare(name(b))),
    direct: all
      .filter((c) => c.kind === 'direct' && visible(c))
      .sort((a, b) => (b.last_seq || 0) - (a.last_seq || 0) || name(a).localeCompare(name(b))),
  }
})

/** attention is what the tab title and badge count: mentions, and unread DMs. */
export const attention = computed(() => {
  let n = 0
  for (const c of Object.values(channels.value)) {
    if (c.muted || c.notify === 'none') continue
    n += c.kind === 'direct' ? c.unread_count : c.mention_count
  }
  return n
})

export function timeline(id: string): Timeline {
  return timelines.value[id] ?? emptyTimeline
}

function setTimeline(id: string, f: (t: Timeline) => Timeline) {
  timelines.value = { ...timelines.value, [id]: f(timelines.value[id] ?? emptyTimeline) }
}

function setChannel(id: string, f: (c: Channel) => Channel) {
  const c = channels.value[id]
  if (c) channels.value = { ...channels.value, [id]: f(c) }
}

let toastSeq = 0
export function toast(text: string, kind: Toast['kind'] = 'error') {
  const id = ++toastSeq
  toasts.value = [...toasts.value, { id, text, kind }]
  setTimeout(() => dismissToast(id), kind === 'error' ? 8000 : 4000)
}
export function dismissToast(id: number) {
  toasts.value = toasts.value.filter((t) => t.id !== id)
}

/** act runs an action, shows its failure as a toast, and says whether it worked. */
export async function act(f: () => Promise<unknown>): Promise<boolean> {
  try {
    await f()
    return true
  } catch (e) {
    toast(humanError(e))
    return false
  }
}

/** attempt runs an action and shows its failure as a toast. */
export async function attempt<T>(f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f()
  } catch (e) {
    toast(humanError(e))
    return undefined
  }
}

// ---- users ----------------------------------------------------------------

const userLoads = new Map<string, Promise<void>>()

// What a deleted account is called everywhere (the server says so too).
export const DELETED_USER = 'Deleted user'

export function displayName(id: string): string {
  const u = users.value[id]
  if (!u) return 'Someone'
  if (u.deleted) return DELETED_USER
  return u.display_name || u.username
}

// refreshUser reads a user again: someone who left a channel may have had
// their account deleted, and their messages should say so at once.
const userRefreshes = new Set<string>()

export function refreshUser(id: string) {
  if (!id || userRefreshes.has(id) || !users.value[id] || users.value[id]!.deleted) return
  userRefreshes.add(id)
  api<{ user: User }>('GET', `/api/v1/users/${encodeURIComponent(id)}`)
    .then((r) => {
      users.value = { ...users.value, [r.user.id]: r.user }
    })
    .catch(() => {})
    .finally(() => userRefreshes.delete(id))
}

export function ensureUsers(ids: Iterable<string>) {
  for (const id of ids) {
    if (!id || users.value[id] || userLoads.has(id)) continue
    const p = api<{ user: User }>('GET', `/api/v1/users/${encodeURIComponent(id)}`)
      .then((r) => {
        users.value = { ...users.value, [r.user.id]: r.user }
      })
      .catch(() => {
        /* shown as "Someone"; retried on the next sight */
        setTimeout(() => userLoads.delete(id), 30_000)
      })
    userLoads.set(id, p)
  }
}

export function rememberUsers(list: User[]) {
  if (list.length === 0) return
  const next = { ...users.value }
  for (const u of list) next[u.id] = u
  users.value = next
}

export function channelTitle(c: Channel): string {
  if (c.kind !== 'direct') return c.name ?? ''
  const others = (c.members ?? []).filter((id) => id !== me.value?.id)
  if (others.length === 0) return displayName(me.value?.id ?? '') + ' (you)'
  return others.map(displayName).join(', ')
}

// ---- session --------------------------------------------------------------

const socket = new Socket({
  positions: () => positions.snapshot(),
  state: (s) => {
    conn.value = s
  },
  ready: (hello) => {
    connectionId.value = hello.connection_id
    onReady()
  },
  frame: (f) => onFrame(f),
  signedOut: () => {
    toast('Your session has ended. Sign in again.', 'info')
    reset()
  },
  refused: (reason) => toast(`The server refused the real-time connection${reason ? ': ' + reason : ''}. Reload the page to try again.`),
})

auth.onChange((t) => {
  if (t && !me.value) void start() // signed in, here or in another tab
  else if (t) me.value = t.user
  else if (me.value) reset()
})

/** ssoError is a failed single sign-on's message, for the login page (or a toast once signed in). */
export const ssoError = signal('')

/** boot restores a session from the refresh cookie, if there is one. */
export async function boot() {
  try {
    if (await auth.refresh()) await start()
  } catch (e) {
    if (!(e instanceof ApiError && e.offline)) toast(humanError(e))
    else setTimeout(boot, 3000)
  } finally {
    booted.value = true
    if (ssoError.value && me.value) {
      toast(ssoError.value)
      ssoError.value = ''
    }
  }
}

let started: Promise<void> | null = null

/** start runs after a login: loads the user's channels and connects (once per sign-in). */
export function start(): Promise<void> {
  started ??= run().catch((e) => {
    started = null
    throw e
  })
  return started
  async function run() {
    await startSession()
  }
}

async function startSession() {
  me.value = auth.currentUser
  if (me.value) rememberUsers([me.value])
  await loadChannels()
  socket.start()
}

export async function signOut() {
  socket.stop()
  try {
    await apiLogout()
  } catch {
    /* signed out locally either way */
  }
  clearDrafts()
  reset()
}

function reset() {
  readyCount = 0
  started = null
  myStatus.value = 'online'
  for (const o of outbox.values()) clearTimeout(o.timer)
  threadRoots.value = {}
  socket.stop()
  batch(() => {
    me.value = null
    channels.value = {}
    timelines.value = {}
    typing.value = {}
    presence.value = {}
    receipts.value = {}
    members.value = {}
    active.value = ''
  })
  outbox.clear()
  for (const id of Object.keys(positions.snapshot())) positions.forget(id)
}


function onReady() {
  readyCount++
  if (readyCount > 1) {
    // Channels joined while away are not in the replay: list them again.
    void loadChannels().catch(() => {})
  }
  if (myStatus.value !== 'online') socket.send({ type: 'presence', status: myStatus.value })
  for (const [id, o] of outbox) if (o.state === 'sending') transmit(id, o)
  const a = active.value
  if (a) markRead(a)
}

export function setStatus(s: 'online' | 'away' | 'dnd') {
  myStatus.value = s
  socket.send({ type: 'presence', status: s })
  if (me.value) presence.value = { ...presence.value, [me.value.id]: s }
}

/** dropConnection closes the socket so the next poke reconnects (used by "Reconnect now"). */
export function reconnectNow() {
  socket.poke()
}

// ---- channels -------------------------------------------------------------

export async function loadChannels() {
  const r = await api<{ channels: Channel[] }>('GET', '/api/v1/channels')
  const next: Record<string, Channel> = {}
  const dmUsers: string[] = []
  for (const c of r.channels) {
    // The list was read before this client's latest read positions reached
    // the server (a reconnect marks the open channel read meanwhile): the
    // client's own newer position wins.
    const old = channels.value[c.id]
    if (old && old.last_read_seq > c.last_read_seq) {
      c.last_read_seq = old.last_read_seq
      if (c.last_read_seq >= c.last_seq) c.unread_count = c.mention_count = 0
    }
    next[c.id] = c
    // A channel already followed keeps its position: only applied events
    // move it, so a resume never skips what this client has not seen.
    if (!positions.has(c.id)) positions.follow(c.id, c.last_seq)
    if (c.kind === 'direct') dmUsers.push(...(c.members ?? []))
  }
  for (const id of Object.keys(channels.value)) if (!next[id]) positions.forget(id)
  channels.value = next
  ensureUsers(dmUsers)
  // The dots beside direct messages: the presence of their members.
  for (const c of r.channels.filter((c) => c.kind === 'direct' && !c.hidden).slice(0, 30)) void loadPresence(c.id).catch(() => {})
}

export async function refreshChannel(id: string) {
  try {
    const r = await api<{ channel: Channel }>('GET', `/api/v1/channels/${id}`)
    channels.value = { ...channels.value, [id]: { ...channels.value[id], ...r.channel } }
    if (!positions.has(id)) positions.follow(id, r.channel.last_seq)
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) removeChannel(id)
  }
}

function removeChannel(id: string) {
  const { [id]: _, ...rest } = channels.value
  channels.value = rest
  positions.forget(id)
  const { [id]: _t, ...tls } = timelines.value
  timelines.value = tls
}

export async function createChannel(name: string, kind: 'public' | 'private', topic: string): Promise<Channel> {
  const r = await api<{ channel: Channel }>('POST', '/api/v1/channels', { name, kind, topic: topic || undefined })
  channels.value = { ...channels.value, [r.channel.id]: { ...r.channel, role: 'owner' } }
  positions.follow(r.channel.id, r.channel.last_seq)
  return r.channel
}

export async function openDirect(userIds: string[]): Promise<Channel> {
  const r = await api<{ channel: Channel }>('POST', '/api/v1/channels', { kind: 'direct', members: userIds, encrypted: false })
  await refreshChannel(r.channel.id)
  if (channels.value[r.channel.id]?.hidden) await setPrefs(r.channel.id, { hidden: false })
  return r.channel
}

export async function joinChannel(id: string) {
  await api('POST', `/api/v1/channels/${id}/join`)
  await refreshChannel(id)
}

export async function leaveChannel(id: string) {
  await api('POST', `/api/v1/channels/${id}/leave`)
  removeChannel(id)
}

export async function setPrefs(id: string, prefs: { muted?: boolean; notify?: string; hidden?: boolean }) {
  const r = await api<{ channel: Channel }>('PATCH', `/api/v1/channels/${id}/prefs`, prefs)
  setChannel(id, (c) => ({ ...c, ...r.channel, unread_count: c.unread_count, mention_count: c.mention_count }))
}

export async function updateChannel(id: string, patch: { name?: string; topic?: string; purpose?: string }) {
  const r = await api<{ channel: Channel }>('PATCH', `/api/v1/channels/${id}`, patch)
  setChannel(id, (c) => ({ ...c, ...r.channel, role: c.role, unread_count: c.unread_count, mention_count: c.mention_count }))
}

const MAX_MEMBER_PAGES = 10 // 2,000 members: enough for the panel, receipts and autocomplete

export async function loadMembers(id: string) {
  const all: Member[] = []
  let cursor = ''
  for (let page = 0; page < MAX_MEMBER_PAGES; page++) {
    const r = await api<{ members: Member[]; next_cursor?: string }>('GET', `/api/v1/channels/${id}/members${q({ limit: 200, cursor })}`)
    all.push(...r.members)
    if (!r.next_cursor) break
    cursor = r.next_cursor
  }
  members.value = { ...members.value, [id]: all }
  const rc: Record<string, number> = { ...(receipts.value[id] ?? {}) }
  for (const m of all) rc[m.user_id] = Math.max(rc[m.user_id] ?? 0, m.last_read_seq)
  receipts.value = { ...receipts.value, [id]: rc }
  ensureUsers(all.map((m) => m.user_id))
}

/**
 * loadPresence reads the presence of a channel's members (its first page:
 * the socket's presence frames carry every change after that).
 */
export async function loadPresence(id: string) {
  const r = await api<{ presence: Record<string, string> }>('GET', `/api/v1/channels/${id}/presence${q({ limit: 200 })}`)
  const next = { ...presence.value }
  const c = channels.value[id]
  const ids = members.value[id]?.map((m) => m.user_id) ?? c?.members ?? []
  for (const uid of ids) if (!r.presence[uid] && uid !== me.value?.id) next[uid] = 'offline'
  Object.assign(next, r.presence)
  presence.value = next
}

// ---- timelines ------------------------------------------------------------

function senders(ms: Message[]): string[] {
  return ms.map((m) => m.sender.id)
}

export async function openChannel(id: string) {
  active.value = id
  const c = channels.value[id]
  const t = timeline(id)
  // The "new messages" divider marks what was unread when the channel
  // opened; messages arriving while it is open are read as they come.
  setTimeline(id, (t) => ({ ...t, readAtOpen: c && c.unread_count > 0 ? c.last_read_seq : Number.MAX_SAFE_INTEGER }))
  if (!t.loaded && !t.loading) await loadLatest(id)
  if (active.value !== id) return // moved on while it loaded
  if (!members.value[id]) void loadMembers(id).then(() => loadPresence(id)).catch(() => {})
  else void loadPresence(id).catch(() => {})
  markRead(id)
}

// A channel's timeline is a window of its messages: REST pages covering the
// seqs from..to, plus live frames at the end while the window reaches the
// live end (hasMoreAfter false). Loads page from the window's bounds, never
// from whatever messages the list happens to hold (thread replies and
// thread roots from elsewhere in the channel live outside the window).
// While a page is loading, the channel's timeline frames are held and
// applied after it, so nothing that happens during a load is lost.

type Page = { messages: Message[]; has_more: boolean }

const held = new Map<string, { depth: number; frames: TimelineFrame[] }>()

async function loading<T>(id: string, f: () => Promise<T>): Promise<T> {
  const h = held.get(id) ?? { depth: 0, frames: [] }
  h.depth++
  held.set(id, h)
  setTimeline(id, (t) => ({ ...t, loading: true }))
  try {
    return await f()
  } finally {
    if (--h.depth === 0) {
      held.delete(id)
      setTimeline(id, (t) => ({ ...t, loading: false }))
      for (const fr of h.frames) applyToTimeline(fr)
    }
  }
}

function bounds(ms: Message[]): { lo: number; hi: number } {
  let lo = Infinity
  let hi = 0
  for (const m of ms) {
    lo = Math.min(lo, m.seq)
    hi = Math.max(hi, m.seq)
  }
  return { lo, hi }
}

/** loadLatest loads the newest page; a window that was elsewhere is replaced, keeping pending sends. */
export async function loadLatest(id: string, replace = false) {
  await loading(id, async () => {
    const r = await api<Page>('GET', `/api/v1/channels/${id}/messages${q({ limit: PAGE })}`)
    ensureUsers(senders(r.messages))
    const { lo, hi } = bounds(r.messages)
    setTimeline(id, (t) => {
      // Keep what is held only if the page overlaps it: else there would be a hole between.
      const overlaps = !replace && !t.hasMoreAfter && t.loaded && t.to >= lo
      const base = overlaps ? t.msgs : t.msgs.filter((m) => m.pending)
      return {
        ...t,
        msgs: tl.merge(base, r.messages, me.value?.id),
        loaded: true,
        hasMoreBefore: overlaps ? t.hasMoreBefore && t.from <= lo : r.has_more,
        hasMoreAfter: false,
        from: overlaps ? Math.min(t.from, lo) : lo,
        to: Math.max(overlaps ? t.to : 0, hi),
      }
    })
  })
}

export async function loadOlder(id: string) {
  const t = timeline(id)
  if (t.loading || !t.hasMoreBefore) return
  if (!t.loaded || t.from === Infinity) return loadLatest(id)
  try {
    await loading(id, async () => {
      const r = await api<Page>('GET', `/api/v1/channels/${id}/messages${q({ before: t.from, limit: PAGE })}`)
      ensureUsers(senders(r.messages))
      const { lo } = bounds(r.messages)
      setTimeline(id, (t) => ({ ...t, msgs: tl.merge(t.msgs, r.messages, me.value?.id), hasMoreBefore: r.has_more, from: Math.min(t.from, lo) }))
    })
  } catch (e) {
    toast(humanError(e))
  }
}

export async function loadNewer(id: string) {
  const t = timeline(id)
  if (t.loading || !t.hasMoreAfter) return
  try {
    await loading(id, async () => {
      const r = await api<Page>('GET', `/api/v1/channels/${id}/messages${q({ after: t.to, limit: PAGE })}`)
      ensureUsers(senders(r.messages))
      const { hi } = bounds(r.messages)
      setTimeline(id, (t) => ({ ...t, msgs: tl.merge(t.msgs, r.messages, me.value?.id), hasMoreAfter: r.has_more, to: Math.max(t.to, hi) }))
    })
  } catch (e) {
    toast(humanError(e))
  }
}

/** loadAround loads the window around one message (a permalink) and returns the message. */
export async function loadAround(channelId: string, messageId: string): Promise<Message> {
  const { message } = await api<{ message: Message }>('GET', `/api/v1/messages/${messageId}`)
  const target = message.thread_root_id ? (await api<{ message: Message }>('GET', `/api/v1/messages/${message.thread_root_id}`)).message : message
  const t = timeline(channelId)
  if (t.loaded && target.seq >= t.from && target.seq <= t.to) return message
  await loading(channelId, async () => {
    const [before, after] = await Promise.all([
      api<Page>('GET', `/api/v1/channels/${channelId}/messages${q({ before: target.seq + 1, limit: 25 })}`),
      api<Page>('GET', `/api/v1/channels/${channelId}/messages${q({ after: target.seq, limit: 25 })}`),
    ])
    ensureUsers([...senders(before.messages), ...senders(after.messages)])
    const { lo, hi } = bounds([...before.messages, ...after.messages])
    setTimeline(channelId, (t) => ({
      ...t,
      msgs: tl.merge(t.msgs.filter((m) => m.pending), [...before.messages, ...after.messages], me.value?.id),
      loaded: true,
      hasMoreBefore: before.has_more,
      hasMoreAfter: after.has_more,
      from: lo,
      to: hi,
    }))
  })
  return message
}

/** threadRoots holds roots of threads opened from outside the channel's window. */
export const threadRoots = signal<Record<string, Msg>>({})

export async function loadThread(rootId: string): Promise<{ root: Message; hasMore: boolean }> {
  const r = await api<{ root: Message; replies: Message[]; has_more: boolean }>('GET', `/api/v1/messages/${rootId}/thread${q({ limit: 200 })}`)
  ensureUsers([r.root.sender.id, ...senders(r.replies)])
  const ch = r.root.channel_id
  const t = timeline(ch)
  const inWindow = t.msgs.some((m) => m.id === rootId)
  if (!inWindow) threadRoots.value = { ...threadRoots.value, [rootId]: r.root }
  // Replies never show in the main timeline, so they can join the list
  // wherever they are; the root only where the window already holds it.
  setTimeline(ch, (t) => ({ ...t, msgs: tl.merge(t.msgs, inWindow ? [r.root, ...r.replies] : r.replies, me.value?.id) }))
  return { root: r.root, hasMore: r.has_more }
}

// ---- sending --------------------------------------------------------------

interface Outgoing {
  channelId: string
  body: string
  threadRootId?: string
  state: tl.SendState
  timer?: ReturnType<typeof setTimeout>
}

/** outbox holds the optimistic sends not yet acknowledged, by client_msg_id. */
export const outbox = new Map<string, Outgoing>()
const ACK_WITHIN = 15_000

export function send(channelId: string, body: string, threadRootId?: string) {
  const u = me.value
  if (!u) return
  const id = tl.newClientMsgId()
  const o: Outgoing = { channelId, body, threadRootId, state: 'sending' }
  outbox.set(id, o)
  const pending: Msg = {
    id: 'pending:' + id,
    channel_id: channelId,
    seq: 0,
    client_msg_id: id,
    sender: { type: 'user', id: u.id },
    kind: 'text',
    body,
    thread_root_id: threadRootId,
    reply_count: 0,
    reactions: [],
    attachments: [],
    pinned: false,
    created_at: new Date().toISOString(),
    deleted: false,
  }
  setTimeline(channelId, (t) => ({ ...t, msgs: tl.addPending(t.msgs, pending) }))
  transmit(id, o)
}

function transmit(clientMsgId: string, o: Outgoing) {
  clearTimeout(o.timer)
  const sent = socket.send({ type: 'send', client_msg_id: clientMsgId, channel_id: o.channelId, body: o.body, thread_root_id: o.threadRootId })
  if (!sent) return // resent after the next hello
  o.timer = setTimeout(() => {
    // No ack: the connection may be dead; it is resent on reconnect, and
    // shown as failed so the person knows.
    if (outbox.get(clientMsgId) === o) fail(clientMsgId, 'Not sent yet: no answer from the server.')
    socket.poke()
  }, ACK_WITHIN)
}

function fail(clientMsgId: string, why: string) {
  const o = outbox.get(clientMsgId)
  if (!o) return
  clearTimeout(o.timer)
  o.state = 'failed'
  setTimeline(o.channelId, (t) => ({ ...t, msgs: tl.setPending(t.msgs, clientMsgId, 'failed', why) }))
}

export function retry(clientMsgId: string) {
  const o = outbox.get(clientMsgId)
  if (!o) return
  o.state = 'sending'
  setTimeline(o.channelId, (t) => ({ ...t, msgs: tl.setPending(t.msgs, clientMsgId, 'sending') }))
  transmit(clientMsgId, o)
}

export function discard(clientMsgId: string) {
  const o = outbox.get(clientMsgId)
  if (!o) return
  clearTimeout(o.timer)
  outbox.delete(clientMsgId)
  setTimeline(o.channelId, (t) => ({ ...t, msgs: tl.removePending(t.msgs, clientMsgId) }))
}

export async function editMessage(m: Msg, body: string) {
  const r = await api<{ message: Message }>('PATCH', `/api/v1/messages/${m.id}`, { body })
  setTimeline(m.channel_id, (t) => ({ ...t, msgs: tl.merge(t.msgs, [r.message], me.value?.id) }))
}

export async function deleteMessage(m: Msg) {
  await api('DELETE', `/api/v1/messages/${m.id}`)
  setTimeline(m.channel_id, (t) => ({ ...t, msgs: tl.tombstone(t.msgs, m.id) }))
}

export async function toggleReaction(m: Msg, emoji: string) {
  const mine = (m.reactions ?? []).some((r) => r.emoji === emoji && r.me)
  const path = `/api/v1/messages/${m.id}/reactions/${encodeURIComponent(emoji)}`
  const r = await api<{ message: Message } | undefined>(mine ? 'DELETE' : 'PUT', path)
  if (r?.message) setTimeline(m.channel_id, (t) => ({ ...t, msgs: tl.merge(t.msgs, [r.message], me.value?.id) }))
}

export async function togglePin(m: Msg) {
  await api(m.pinned ? 'DELETE' : 'PUT', `/api/v1/messages/${m.id}/pin`)
}

// ---- typing and read positions --------------------------------------------

let lastTyping = 0
let lastTypingChannel = ''
export function typed(channelId: string) {
  const now = Date.now()
  if (channelId === lastTypingChannel && now - lastTyping < 3000) return
  lastTyping = now
  lastTypingChannel = channelId
  socket.send({ type: 'typing', channel_id: channelId })
}

export function markRead(id: string) {
  const c = channels.value[id]
  if (!c) return
  if (typeof document !== 'undefined' && document.visibilityState === 'hidden') return
  const t = timeline(id)
  const stored = t.msgs.filter((m) => !m.pending)
  const last = Math.max(c.last_seq, stored[stored.length - 1]?.seq ?? 0)
  if (t.hasMoreAfter) return
  if (c.unread_count === 0 && c.mention_count === 0 && c.last_read_seq >= last) return
  setChannel(id, (c) => ({ ...c, unread_count: 0, mention_count: 0, last_read_seq: Math.max(c.last_read_seq, last) }))
  if (!socket.send({ type: 'read', channel_id: id, seq: last })) {
    void api('POST', `/api/v1/channels/${id}/read`, { seq: last }).catch(() => {})
  }
}

export async function markAllRead() {
  await api('POST', '/api/v1/channels/read-all')
  const next: Record<string, Channel> = {}
  for (const [id, c] of Object.entries(channels.value)) next[id] = { ...c, unread_count: 0, mention_count: 0, last_read_seq: c.last_seq }
  channels.value = next
}

if (typeof document !== 'undefined') {
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && active.value) markRead(active.value)
  })
  setInterval(() => {
    // typing indicators fade after a few seconds without a new frame
    const now = Date.now()
    let changed = false
    const next: Record<string, Record<string, number>> = {}
    for (const [ch, byUser] of Object.entries(typing.value)) {
      const kept: Record<string, number> = {}
      for (const [u, until] of Object.entries(byUser)) {
        if (until > now) kept[u] = until
        else changed = true
      }
      if (Object.keys(kept).length) next[ch] = kept
    }
    if (changed) typing.value = next
  }, 1000)
}

// ---- frames ---------------------------------------------------------------

type TimelineFrame = Extract<ServerFrame, { type: 'message' | 'message_updated' | 'message_deleted' | 'reaction' }>

function isTimelineFrame(f: ServerFrame): f is TimelineFrame {
  return f.type === 'message' || f.type === 'message_updated' || f.type === 'message_deleted' || f.type === 'reaction'
}

/**
 * applyToTimeline applies a frame to the channel's messages: a new message
 * joins the window only at the live end; an update, a delete or a reaction
 * changes a message the client holds (in the window or as a thread root)
 * and nothing else, so no message from elsewhere in the channel lands in
 * the window.
 */
function applyToTimeline(f: TimelineFrame) {
  const ch = f.channel_id
  const meId = me.value?.id
  const h = held.get(ch)
  if (h) {
    h.frames.push(f)
    return
  }
  const t = timelines.value[ch]
  if (f.type === 'message' || f.type === 'message_updated') {
    const m = f.message
    const roots = threadRoots.value
    if (roots[m.id]) threadRoots.value = { ...roots, [m.id]: tl.merge([roots[m.id]!], [m], meId, true)[0]! }
    if (!t || !t.loaded) return
    const holds = t.msgs.some((x) => x.id === m.id)
    const atLiveEnd = f.type === 'message' && !t.hasMoreAfter
    const answersMine = m.sender.id === meId && outbox.has(m.client_msg_id)
    if (holds || atLiveEnd || answersMine || (m.thread_root_id && !t.hasMoreAfter)) {
      setTimeline(ch, (t) => ({ ...t, msgs: tl.merge(t.msgs, [m], meId, true), to: atLiveEnd && !m.thread_root_id ? Math.max(t.to, m.seq) : t.to }))
    }
    return
  }
  if (f.type === 'message_deleted') {
    const roots = threadRoots.value
    if (roots[f.message_id]) threadRoots.value = { ...roots, [f.message_id]: tl.tombstone([roots[f.message_id]!], f.message_id)[0]! }
    return setTimeline(ch, (t) => ({ ...t, msgs: tl.tombstone(t.msgs, f.message_id) }))
  }
  // A reaction in an encrypted channel carries ciphertext, not an emoji:
  // the client shows those once it can decrypt them.
  const emoji = f.type === 'reaction' ? f.emoji : undefined
  if (f.type === 'reaction' && emoji) setTimeline(ch, (t) => ({ ...t, msgs: tl.react(t.msgs, f.message_id, emoji, f.added, f.user_id === meId) }))
}

/** onFrame applies one server frame to the state (the socket calls it; so do the unit tests). */
export function onFrame(f: ServerFrame) {
  if ('channel_id' in f && 'seq' in f) {
    const pos = positions.observe(f.type, f.channel_id, f.seq)
    // Events were skipped (should not happen within one socket): reload.
    if (pos === 'gap') void resync(f.channel_id)
    if (isTimelineFrame(f)) {
      // A replayed event the client has applied already changes nothing
      // (reactions are counts: applying one twice would count it twice).
      if (pos !== 'old' || f.type !== 'reaction') applyToTimeline(f)
      if (f.type === 'message' || f.type === 'message_updated') onMessage(f.type, f.message, pos)
      return
    }
  }
  const meId = me.value?.id
  switch (f.type) {
    case 'ack':
      return onAck(f.client_msg_id, f.message_id, f.seq)
    case 'error':
      return onError(f)
    case 'channel_updated': {
      const c = f.channel
      if (c.archived) return removeChannel(f.channel_id)
      return setChannel(f.channel_id, (old) => ({ ...old, name: c.name, topic: c.topic, purpose: c.purpose, last_seq: Math.max(old.last_seq, f.seq) }))
    }
    case 'member_joined': {
      const ch = f.channel_id
      if (f.user_id === meId && !channels.value[ch]) return void refreshChannel(ch)
      ensureUsers([f.user_id])
      if (members.value[ch]) void loadMembers(ch).catch(() => {})
      return setChannel(ch, (c) => ({ ...c, last_seq: Math.max(c.last_seq, f.seq) }))
    }
    case 'member_left': {
      const ch = f.channel_id
      if (f.user_id === meId) {
        if (active.value === ch) toast('You are no longer a member of that channel.', 'info')
        return removeChannel(ch)
      }
      if (members.value[ch]) members.value = { ...members.value, [ch]: members.value[ch]!.filter((m) => m.user_id !== f.user_id) }
      refreshUser(f.user_id)
      return
    }
    case 'typing': {
      if (f.user_id === meId) return
      typing.value = { ...typing.value, [f.channel_id]: { ...(typing.value[f.channel_id] ?? {}), [f.user_id]: Date.now() + 6000 } }
      ensureUsers([f.user_id])
      return
    }
    case 'read': {
      const { channel_id: ch, user_id: uid, seq } = f
      const rc = receipts.value[ch] ?? {}
      if ((rc[uid] ?? 0) < seq) receipts.value = { ...receipts.value, [ch]: { ...rc, [uid]: seq } }
      if (uid === meId) {
        // read on another of my devices
        setChannel(ch, (c) =>
          seq >= c.last_read_seq
            ? { ...c, last_read_seq: seq, unread_count: seq >= c.last_seq ? 0 : c.unread_count, mention_count: seq >= c.last_seq ? 0 : c.mention_count }
            : c,
        )
      }
      return
    }
    case 'presence': {
      const next = { ...presence.value }
      for (const s of ['online', 'away', 'dnd', 'offline'] as const) for (const id of f[s] ?? []) next[id] = s
      presence.value = next
      return
    }
    case 'resync_required':
      return void resync(f.channel_id)
  }
}

async function resync(id: string) {
  await refreshChannel(id)
  // Too much was missed to replay: start the window again from the newest page.
  if (timelines.value[id]?.loaded) await loadLatest(id, true).catch(() => {})
}

function onAck(clientMsgId: string, messageId: string, seq: number) {
  const o = outbox.get(clientMsgId)
  if (!o) return
  clearTimeout(o.timer)
  outbox.delete(clientMsgId)
  setTimeline(o.channelId, (t) => ({ ...t, msgs: tl.acked(t.msgs, clientMsgId, messageId, seq) }))
}

function onError(f: ErrorFrame) {
  const ref = f.ref ?? ''
  const msg = f.message || 'The server refused that.'
  if (ref && outbox.has(ref)) {
    if (f.code === 'rate_limited') {
      // try again shortly; the server said slow down, not no
      const o = outbox.get(ref)!
      setTimeout(() => o.state === 'sending' && transmit(ref, o), 1500)
      return
    }
    return fail(ref, msg)
  }
  toast(msg)
}

function onMessage(type: string, m: Message, pos: string) {
  if (!m) return
  const ch = m.channel_id
  const mine = m.sender.id === me.value?.id
  ensureUsers([m.sender.id])
  if (mine && outbox.has(m.client_msg_id)) onAck(m.client_msg_id, m.id, m.seq)
  const c = channels.value[ch]
  if (!c) {
    void refreshChannel(ch)
    return
  }
  const isNew = type === 'message' && pos !== 'old'
  if (!isNew) return
  const mentioned = !!me.value && (m.mentions ?? []).some((x) => x === me.value!.id || x === 'channel')
  const viewing = active.value === ch && document.visibilityState === 'visible' && !timeline(ch).hasMoreAfter
  setChannel(ch, (c) => ({
    ...c,
    last_seq: Math.max(c.last_seq, m.seq),
    hidden: false,
    unread_count: mine || viewing || m.thread_root_id ? c.unread_count : c.unread_count + 1,
    mention_count: !mine && !viewing && mentioned ? c.mention_count + 1 : c.mention_count,
    last_read_seq: mine ? Math.max(c.last_read_seq, m.seq) : c.last_read_seq,
  }))
  if (viewing) markRead(ch)
  if (!mine) notifyMessage(c, m, displayName(m.sender.id), mentioned, viewing)
}

// ---- drafts ---------------------------------------------------------------

const DRAFT = 'unhidra.draft.'
function draftKey(key: string): string {
  return DRAFT + (me.value?.id ?? '') + '.' + key
}
export function loadDraft(key: string): string {
  try {
    return localStorage.getItem(draftKey(key)) ?? ''
  } catch {
    return ''
  }
}
export function saveDraft(key: string, text: string) {
  try {
    if (text) localStorage.setItem(draftKey(key), text)
    else localStorage.removeItem(draftKey(key))
  } catch {
    /* storage full or off: drafts are a comfort */
  }
}
function clearDrafts() {
  try {
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const k = localStorage.key(i)
      if (k?.startsWith(DRAFT)) localStorage.removeItem(k)
    }
  } catch {
    /* nothing to clear */
  }
}
