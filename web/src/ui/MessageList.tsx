import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks'
import { ArrowDown, ArrowUp, Hash, Lock } from 'lucide-preact'
import { channelTitle, channels, displayName, loadLatest, loadNewer, loadOlder, markRead, me, receipts, timeline } from '../state/store'
import { firstUnread, roots, type Msg } from '../state/timeline'
import { dayLabel } from './common'
import { MessageItem } from './MessageItem'
import { highlight } from './panel'
import { useVirtualizer } from './virtual'

type Row =
  | { kind: 'intro'; key: string }
  | { kind: 'edge'; key: string }
  | { kind: 'day'; key: string; label: string }
  | { kind: 'new'; key: string }
  | { kind: 'msg'; key: string; m: Msg; cont: boolean; seen?: string }

const GROUP_MS = 5 * 60 * 1000

function firstMessageKey(rows: Row[]): string {
  return rows.find((r) => r.kind === 'msg')?.key ?? ''
}

// Each message's local day and time, worked out once per message object
// (buildRows runs again for every page and every live message).
const dayOf = new WeakMap<Msg, { day: string; at: number }>()
function when(m: Msg): { day: string; at: number } {
  let w = dayOf.get(m)
  if (!w) {
    const d = new Date(m.created_at)
    w = { day: d.toDateString(), at: d.getTime() }
    dayOf.set(m, w)
  }
  return w
}

/** buildRows lays out the timeline: day separators, the "new" divider, and runs of one author. */
function buildRows(msgs: Msg[], hasMoreBefore: boolean, readAtOpen: number, meId: string, seen: string, lastMine: string): Row[] {
  const rows: Row[] = [hasMoreBefore ? { kind: 'edge', key: 'edge' } : { kind: 'intro', key: 'intro' }]
  const unreadAt = readAtOpen > 0 ? firstUnread(msgs, readAtOpen, meId) : -1
  let prev: Msg | undefined
  let prevDay = ''
  msgs.forEach((m, i) => {
    const { day, at } = when(m)
    if (day !== prevDay) {
      rows.push({ kind: 'day', key: 'day:' + day, label: dayLabel(m.created_at) })
      prevDay = day
      prev = undefined
    }
    if (i === unreadAt) {
      rows.push({ kind: 'new', key: 'new' })
      prev = undefined
    }
    const cont = !!prev && prev.sender.id === m.sender.id && !prev.deleted && at - when(prev).at < GROUP_MS
    rows.push({ kind: 'msg', key: m.pending ? 'p:' + m.client_msg_id : m.id, m, cont, seen: m.id === lastMine ? seen : undefined })
    prev = m
  })
  return rows
}

export function MessageList({ channelId }: { channelId: string }) {
  const t = timeline(channelId)
  const c = channels.value[channelId]
  const meId = me.value?.id ?? ''
  const scroller = useRef<HTMLDivElement>(null)
  const atBottom = useRef(true)
  // the row to hold still while an older page loads, and the first message then
  const anchor = useRef<{ key: string; offset: number; first: string } | null>(null)
  const [showJump, setShowJump] = useState(false)
  const [dividerAbove, setDividerAbove] = useState(false)

  const msgs = useMemo(() => roots(t.msgs), [t.msgs])
  // "Seen by": on my latest stored message, the members whose read position reached it.
  const lastMine = useMemo(() => [...msgs].reverse().find((m) => m.sender.id === meId && !m.pending && !m.deleted), [msgs, meId])
  const rc = receipts.value[channelId]
  const seen = useMemo(() => {
    if (!lastMine || !rc) return ''
    const who = Object.entries(rc)
      .filter(([uid, seq]) => uid !== meId && seq >= lastMine.seq)
      .map(([uid]) => uid)
    if (who.length === 0) return ''
    if (c?.kind === 'direct' && (c.members?.length ?? 0) <= 2) return 'Seen'
    const names = who.slice(0, 3).map(displayName)
    return 'Seen by ' + names.join(', ') + (who.length > 3 ? ` and ${who.length - 3} more` : '')
  }, [lastMine, rc, meId, c?.kind])

  const rows = useMemo(() => buildRows(msgs, t.hasMoreBefore, t.readAtOpen, meId, seen, lastMine?.id ?? ''), [msgs, t.hasMoreBefore, t.readAtOpen, meId, seen, lastMine?.id])

  // The virtualiser keys its measurement cache on these functions: they
  // must keep their identity across renders (rows are read through a ref),
  // or every render would lay out every row again.
  const rowsRef = useRef(rows)
  rowsRef.current = rows
  const fns = useMemo(
    () => ({
      getScrollElement: () => scroller.current,
      estimateSize: (i: number) => {
        const r = rowsRef.current[i]
        if (!r) return 80
        if (r.kind === 'msg') return r.cont ? 40 : 80
        if (r.kind === 'intro') return 140
        return 36
      },
      getItemKey: (i: number) => rowsRef.current[i]?.key ?? i,
    }),
    [],
  )
  const v = useVirtualizer({ count: rows.length, ...fns, overscan: 8, paddingEnd: 8 })
  const dividerAt = useMemo(() => rows.findIndex((r) => r.kind === 'new'), [rows])
  const highlightAt = useMemo(() => (highlight.value ? rows.findIndex((r) => r.kind === 'msg' && r.m.id === highlight.value) : -1), [rows, highlight.value])

  // A new channel opens at the first unread message, or at the bottom.
  const opened = useRef('')
  useLayoutEffect(() => {
    if (!t.loaded || opened.current === channelId) return
    opened.current = channelId
    atBottom.current = true
    const h = highlight.value
    const target = h ? rows.findIndex((r) => r.kind === 'msg' && r.m.id === h) : -1
    const divider = rows.findIndex((r) => r.kind === 'new')
    if (target >= 0) {
      atBottom.current = false
      v.scrollToIndex(target, { align: 'center' })
    } else if (divider >= 0 && rows.length - divider > 12) {
      atBottom.current = false
      v.scrollToIndex(divider, { align: 'start' })
    } else v.scrollToIndex(rows.length - 1, { align: 'end' })
  }, [t.loaded, channelId, rows.length])

  // Permalinks within an open channel: scroll to the message once it is
  // in the list (not again while the person scrolls on).
  const scrolledTo = useRef('')
  useEffect(() => {
    const h = highlight.value
    if (!h || highlightAt < 0 || scrolledTo.current === h) return
    scrolledTo.current = h
    atBottom.current = false
    v.scrollToIndex(highlightAt, { align: 'center' })
  }, [highlight.value, highlightAt])

  // Keep the view still when older messages are prepended, and at the bottom
  // when it was there.
  useLayoutEffect(() => {
    const a = anchor.current
    if (a && firstMessageKey(rows) !== a.first) {
      // the older page is in: put the anchored message back where it was
      anchor.current = null
      const i = rows.findIndex((r) => r.key === a.key)
      // getVirtualItems brings the measurements up to date with the rows
      // measured in this commit before the anchor's position is read.
      v.getVirtualItems()
      const m = v.measurementsCache[i]
      if (i >= 0 && m) {
        v.scrollToOffset(m.start - a.offset)
        return
      }
    }
    if (atBottom.current && opened.current === channelId && !t.hasMoreAfter) v.scrollToIndex(rows.length - 1, { align: 'end' })
  }, [rows])

  const onScroll = () => {
    const el = scroller.current
    if (!el) return
    const gap = el.scrollHeight - el.scrollTop - el.clientHeight
    atBottom.current = gap < 48
    setShowJump(gap > 600 || t.hasMoreAfter)
    const first = v.getVirtualItems()[0]
    setDividerAbove(dividerAt >= 0 && !!first && first.index > dividerAt)
    if (el.scrollTop < 400 && t.hasMoreBefore && !t.loading && !anchor.current) {
      const top = v.getVirtualItems().find((it) => rows[it.index]?.kind === 'msg' && it.start + it.size > el.scrollTop)
      if (top) anchor.current = { key: String(rows[top.index]!.key), offset: top.start - el.scrollTop, first: firstMessageKey(rows) }
      // After the load (and the render it causes, which uses the anchor),
      // stop holding: an error or an empty page changed nothing.
      void loadOlder(channelId).finally(() => setTimeout(() => (anchor.current = null), 0))
    }
    if (gap < 400 && t.hasMoreAfter && !t.loading) void loadNewer(channelId)
    if (atBottom.current && !t.hasMoreAfter) markRead(channelId)
  }

  const jumpLatest = async () => {
    highlight.value = ''
    if (t.hasMoreAfter) await loadLatest(channelId)
    atBottom.current = true
    v.scrollToIndex(rows.length - 1, { align: 'end' })
  }

  const items = v.getVirtualItems()
  return (
    <div class="timeline-wrap">
      <div class="timeline" ref={scroller} onScroll={onScroll} role="log" aria-label={`Messages in ${c ? channelTitle(c) : 'channel'}`} aria-live="polite" aria-relevant="additions">
        <div class="timeline-inner" style={{ height: v.getTotalSize() }}>
          {items.map((it) => {
            const r = rows[it.index]
            if (!r) return null
            return (
              <div key={it.key} class="vrow" data-index={it.index} ref={v.measureElement} style={{ transform: `translateY(${it.start}px)` }}>
                {r.kind === 'msg' ? (
                  <MessageItem m={r.m} cont={r.cont} seen={r.seen} />
                ) : r.kind === 'day' ? (
                  <div class="divider" role="separator">
                    {r.label}
                  </div>
                ) : r.kind === 'new' ? (
                  <div class="divider new" role="separator" aria-label="New messages">
                    New messages
                  </div>
                ) : r.kind === 'edge' ? (
                  <div class="timeline-edge">{t.loading ? 'Loading earlier messages…' : ' '}</div>
                ) : (
                  <Intro channelId={channelId} />
                )}
              </div>
            )
          })}
        </div>
      </div>
      {dividerAbove && (
        <button class="btn small jump top" onClick={() => v.scrollToIndex(dividerAt, { align: 'start' })}>
          <ArrowUp size={14} /> Jump to unread
        </button>
      )}
      {showJump && (
        <button class="btn small jump bottom" onClick={jumpLatest}>
          <ArrowDown size={14} /> Jump to latest
        </button>
      )}
    </div>
  )
}

function Intro({ channelId }: { channelId: string }) {
  const c = channels.value[channelId]
  if (!c) return null
  if (c.kind === 'direct')
    return (
      <div class="channel-intro">
        <h2>{channelTitle(c)}</h2>
        <p class="muted">This is the start of your direct conversation. Only the people in it can read it.</p>
      </div>
    )
  return (
    <div class="channel-intro">
      <h2>
        {c.kind === 'private' ? <Lock size={20} /> : <Hash size={20} />} {c.name}
      </h2>
      <p class="muted">
        This is the very beginning of {c.kind === 'private' ? 'the private channel' : 'the channel'} <strong>#{c.name}</strong>.
        {c.topic ? ` Topic: ${c.topic}` : ' Say hello, or invite the people who should be here.'}
      </p>
    </div>
  )
}
