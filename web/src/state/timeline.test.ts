import { describe, expect, it } from 'vitest'
import type { Message } from '../api/types'
import * as tl from './timeline'

let n = 0
function msg(seq: number, extra: Partial<Message> = {}): Message {
  return {
    id: 'm' + seq,
    channel_id: 'c',
    seq,
    client_msg_id: 'k' + seq,
    sender: { type: 'user', id: 'bob' },
    kind: 'text',
    body: 'hello ' + seq,
    reply_count: 0,
    reactions: [],
    attachments: [],
    pinned: false,
    created_at: new Date(1_700_000_000_000 + seq * 1000).toISOString(),
    deleted: false,
    ...extra,
  }
}
function pending(id: string, body: string): tl.Msg {
  return { ...msg(0), id: 'pending:' + id, client_msg_id: id, sender: { type: 'user', id: 'me' }, body, created_at: new Date(1_800_000_000_000 + n++).toISOString() }
}
const seqs = (l: tl.Msg[]) => l.map((m) => m.seq)

describe('merge', () => {
  it('orders pages and live frames by seq and drops duplicates', () => {
    let l = tl.merge([], [msg(5), msg(7)])
    l = tl.merge(l, [msg(1), msg(3)]) // an older page
    l = tl.merge(l, [msg(7), msg(9)]) // a replay overlapping the live end
    expect(seqs(l)).toEqual([1, 3, 5, 7, 9])
  })

  it('keeps a tombstone over an older copy of the message', () => {
    let l = tl.merge([], [msg(1)])
    l = tl.tombstone(l, 'm1')
    l = tl.merge(l, [msg(1)]) // a late page still holding the text
    expect(l[0]!.deleted).toBe(true)
    expect(l[0]!.body).toBe('')
  })

  it('keeps a newer edit over an older version', () => {
    let l = tl.merge([], [msg(1, { body: 'v2', edited_at: '2026-01-02T00:00:00Z' })])
    l = tl.merge(l, [msg(1, { body: 'v1', edited_at: '2026-01-01T00:00:00Z' })])
    expect(l[0]!.body).toBe('v2')
  })

  it('keeps an edit over a stale unedited copy from a late page', () => {
    let l = tl.merge([], [msg(1, { body: 'v1' })])
    l = tl.merge(l, [msg(1, { body: 'v2', edited_at: '2026-01-02T00:00:00Z' })], 'me', true)
    l = tl.merge(l, [msg(1, { body: 'v1' })]) // a page built before the edit
    expect(l[0]!.body).toBe('v2')
  })

  it('keeps my reaction flag when a fanned-out frame says me=false', () => {
    let l = tl.merge([], [msg(1, { reactions: [{ emoji: '👍', count: 1, me: true }] })])
    l = tl.merge(l, [msg(1, { reactions: [{ emoji: '👍', count: 2, me: false }] })], 'me', true)
    expect(l[0]!.reactions).toEqual([{ emoji: '👍', count: 2, me: true }])
  })
})

describe('optimistic sends', () => {
  it('shows a pending send after stored messages and replaces it on ack', () => {
    let l = tl.merge([], [msg(1)])
    l = tl.addPending(l, pending('a', 'mine'))
    l = tl.merge(l, [msg(2)]) // someone else's message lands while mine is in flight
    expect(l.map((m) => m.pending ?? m.seq)).toEqual([1, 2, 'sending'])
    l = tl.acked(l, 'a', 'm3', 3)
    expect(seqs(l)).toEqual([1, 2, 3])
    expect(l[2]!.pending).toBeUndefined()
    // the echo after the ack changes nothing
    l = tl.merge(l, [msg(3, { client_msg_id: 'a', sender: { type: 'user', id: 'me' }, body: 'mine' })], 'me', true)
    expect(l).toHaveLength(3)
  })

  it('replaces the pending send when the echo comes before the ack (a replay after reconnect)', () => {
    let l = tl.addPending([], pending('a', 'mine'))
    l = tl.merge(l, [msg(4, { client_msg_id: 'a', sender: { type: 'user', id: 'me' } })], 'me', true)
    expect(l).toHaveLength(1)
    expect(l[0]!.pending).toBeUndefined()
    l = tl.acked(l, 'a', 'm4', 4) // the ack arrives late: still one message
    expect(l).toHaveLength(1)
  })

  it('never duplicates a send retried after a failure', () => {
    let l = tl.addPending([], pending('a', 'x'))
    l = tl.setPending(l, 'a', 'failed', 'no answer')
    expect(l[0]!.pending).toBe('failed')
    l = tl.addPending(l, pending('a', 'x')) // retry with the same client_msg_id
    expect(l).toHaveLength(1)
    l = tl.acked(l, 'a', 'm1', 1)
    expect(l).toHaveLength(1)
    expect(l[0]!.id).toBe('m1')
  })

  it('does not take another sender\'s message with the same client_msg_id for mine', () => {
    let l = tl.addPending([], pending('a', 'x'))
    l = tl.merge(l, [msg(1, { client_msg_id: 'a' })], 'me', true) // bob chose the same id
    expect(l).toHaveLength(2)
  })

  it('makes ids the server accepts', () => {
    const id = tl.newClientMsgId()
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/)
    expect(tl.newClientMsgId()).not.toBe(id)
  })
})

describe('reactions', () => {
  it('counts adds and removals, mine once', () => {
    let l = tl.merge([], [msg(1)])
    l = tl.react(l, 'm1', '🎉', true, false)
    l = tl.react(l, 'm1', '🎉', true, true)
    l = tl.react(l, 'm1', '🎉', true, true) // my own REST answer already counted it
    expect(l[0]!.reactions).toEqual([{ emoji: '🎉', count: 2, me: true }])
    l = tl.react(l, 'm1', '🎉', false, true)
    l = tl.react(l, 'm1', '🎉', false, false)
    expect(l[0]!.reactions).toEqual([])
  })
})

describe('views', () => {
  it('splits roots from thread replies and finds the first unread', () => {
    const l = tl.merge([], [msg(1), msg(2, { thread_root_id: 'm1' }), msg(3, { sender: { type: 'user', id: 'me' } }), msg(4)])
    expect(seqs(tl.roots(l))).toEqual([1, 3, 4])
    expect(seqs(tl.replies(l, 'm1'))).toEqual([2])
    expect(tl.firstUnread(l, 2, 'me')).toBe(3)
    expect(tl.firstUnread(l, 4, 'me')).toBe(-1)
  })
})
