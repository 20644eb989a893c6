import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Channel, Message } from '../api/types'
import { auth } from '../api/http'
import * as store from './store'

// The store against a fake fetch: REST pages arrive when the test says, so
// frames can land in the middle of a load the way they do on a real
// network.

const CH = 'c1'

function msg(seq: number, extra: Partial<Message> = {}): Message {
  return {
    id: 'm' + seq, channel_id: CH, seq, client_msg_id: 'k' + seq, sender: { type: 'user', id: 'bob' }, kind: 'text',
    body: 'm' + seq, reply_count: 0, reactions: [], attachments: [], pinned: false,
    created_at: new Date(1_700_000_000_000 + seq * 1000).toISOString(), deleted: false, ...extra,
  }
}

function channel(extra: Partial<Channel> = {}): Channel {
  return {
    id: CH, name: 'general', kind: 'public', encrypted: false, topic: '', purpose: '', created_by: 'bob',
    created_at: '', updated_at: '', archived: false, last_seq: 10, last_read_seq: 10, unread_count: 0,
    mention_count: 0, muted: false, hidden: false, role: 'member', ...extra,
  } as Channel
}

type Pending = { url: string; resolve: (body: unknown) => void }
let pending: Pending[] = []

beforeEach(() => {
  pending = []
  vi.stubGlobal('fetch', (url: string) =>
    new Promise((resolve) => {
      pending.push({ url, resolve: (body) => resolve(new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } })) })
    }),
  )
  auth.set({ access_token: 'tok', expires_in: 900, session_id: 's', user: { id: 'me', username: 'me', display_name: 'Me', status_text: '', role: 'member', disabled: false, deleted: false, created_at: '', updated_at: '' } }, Date.now(), false)
  store.me.value = auth.currentUser
  store.users.value = { bob: { id: 'bob', username: 'bob', display_name: 'Bob', status_text: '', role: 'member', disabled: false, deleted: false, created_at: '', updated_at: '' } }
  store.channels.value = { [CH]: channel() }
  store.timelines.value = {}
  store.positions.forget(CH)
  store.positions.follow(CH, 10)
})

afterEach(() => vi.unstubAllGlobals())

/** answer resolves the first pending request whose URL contains part. */
async function answer(part: string, body: unknown) {
  for (let i = 0; i < 50 && !pending.some((p) => p.url.includes(part)); i++) await new Promise((r) => setTimeout(r, 1))
  const i = pending.findIndex((p) => p.url.includes(part))
  if (i < 0) throw new Error('no request for ' + part + ' among ' + pending.map((p) => p.url).join(', '))
  pending.splice(i, 1)[0]!.resolve(body)
  await new Promise((r) => setTimeout(r, 1))
}

const seqs = () => store.timeline(CH).msgs.map((m) => m.seq)

describe('store', () => {
  it('holds frames that arrive during a page load and applies them after it', async () => {
    const load = store.loadLatest(CH)
    // posted after the server built the page, delivered before the page arrives
    store.onFrame({ type: 'message', channel_id: CH, seq: 11, message: msg(11) })
    store.onFrame({ type: 'message_deleted', channel_id: CH, seq: 12, message_id: 'm9' })
    await answer('/messages', { messages: [msg(8), msg(9), msg(10)], has_more: true })
    await load
    expect(seqs()).toEqual([8, 9, 10, 11])
    expect(store.timeline(CH).msgs.find((m) => m.id === 'm9')!.deleted).toBe(true)
    expect(store.positions.get(CH)).toBe(12)
  })

  it('keeps updates of messages outside the window out of it, and pages from the window bounds', async () => {
    const load = store.loadLatest(CH)
    await answer('/messages', { messages: [msg(40), msg(41)], has_more: true })
    await load
    // an old thread root's reply count changes: not a message the window holds
    store.onFrame({ type: 'message_updated', channel_id: CH, seq: 42, message: msg(3, { reply_count: 2 }) })
    expect(seqs()).toEqual([40, 41])
    // a thread reply joins the list but not the window: older pages still start at 40
    store.onFrame({ type: 'message', channel_id: CH, seq: 43, message: msg(43, { thread_root_id: 'm3' }) })
    const older = store.loadOlder(CH)
    const req = pending.find((p) => p.url.includes('/messages'))!
    expect(req.url).toContain('before=40')
    await answer('/messages', { messages: [msg(38), msg(39)], has_more: false })
    await older
    expect(store.timeline(CH).msgs.filter((m) => !m.thread_root_id).map((m) => m.seq)).toEqual([38, 39, 40, 41])
  })

  it('a resync replaces the window instead of leaving a hidden gap', async () => {
    const first = store.loadLatest(CH)
    await answer('/messages', { messages: [msg(1), msg(2)], has_more: false })
    await first
    store.onFrame({ type: 'resync_required', channel_id: CH })
    await answer(`/channels/${CH}`, { channel: channel({ last_seq: 5000 }) })
    await answer('/messages', { messages: [msg(4990), msg(5000)], has_more: true })
    await new Promise((r) => setTimeout(r, 5))
    expect(seqs()).toEqual([4990, 5000])
    expect(store.timeline(CH).hasMoreBefore).toBe(true)
  })

  it('counts a new message from someone else as unread once, and a replayed reaction once', async () => {
    const load = store.loadLatest(CH)
    await answer('/messages', { messages: [msg(10)], has_more: false })
    await load
    store.active.value = 'elsewhere'
    store.onFrame({ type: 'message', channel_id: CH, seq: 11, message: msg(11, { mentions: ['me'] }) })
    store.onFrame({ type: 'message', channel_id: CH, seq: 11, message: msg(11, { mentions: ['me'] }) }) // replay overlap
    expect(store.channels.value[CH]).toMatchObject({ unread_count: 1, mention_count: 1, last_seq: 11 })
    store.onFrame({ type: 'reaction', channel_id: CH, seq: 12, message_id: 'm11', emoji: '👍', user_id: 'bob', added: true })
    store.onFrame({ type: 'reaction', channel_id: CH, seq: 12, message_id: 'm11', emoji: '👍', user_id: 'bob', added: true })
    expect(store.timeline(CH).msgs.find((m) => m.id === 'm11')!.reactions).toEqual([{ emoji: '👍', count: 1, me: false }])
  })
})
