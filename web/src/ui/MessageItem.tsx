import { memo } from 'preact/compat'
import { useMemo, useRef, useState } from 'preact/hooks'
import { Link2, MessageSquareReply, MoreHorizontal, Pencil, Pin, SmilePlus, Trash2 } from 'lucide-preact'
import { render } from '../lib/markdown'
import type { Msg } from '../state/timeline'
import { attempt, channels, deleteMessage, discard, displayName, editMessage, me, retry, toggleReaction, togglePin, toast, users } from '../state/store'
import { Avatar, Menu, clock, focusOnceAtEnd, fullTime } from './common'
import { editing, highlight, panel } from './panel'
import { EmojiPopover } from './EmojiPicker'

const MOD_ROLES = new Set(['owner', 'admin', 'moderator'])

export function permalink(m: { channel_id: string; id: string }): string {
  return `${location.origin}/c/${m.channel_id}/m/${m.id}`
}

function Body({ m }: { m: Msg }) {
  const myName = me.value?.username
  const html = useMemo(() => {
    let h = render(m.body ?? '')
    if (myName) h = h.split(`data-mention="${myName}"`).join(`data-mention="${myName}" data-me="1"`)
    return h
  }, [m.body, myName])
  // html is sanitised by render (markdown-it without raw HTML, then DOMPurify).
  return <div class="body" dangerouslySetInnerHTML={{ __html: html }} />
}

export const MessageItem = memo(function MessageItem(props: { m: Msg; cont: boolean; inThread?: boolean; seen?: string }) {
  const { m, cont, inThread } = props
  const [menu, setMenu] = useState(false)
  const [picker, setPicker] = useState(false)
  const pickerBtn = useRef<HTMLButtonElement>(null)
  const mine = m.sender.id === me.value?.id
  const ch = channels.value[m.channel_id]
  const canModerate = !!ch?.role && MOD_ROLES.has(ch.role)
  const isEditing = editing.value === m.id
  const author = m.sender.type === 'device' ? 'Device' : displayName(m.sender.id)
  const u = users.value[m.sender.id]
  const mentioned = !mine && !!me.value && (m.mentions ?? []).some((x) => x === me.value!.id || x === 'channel')
  const cls = ['msg', cont ? 'cont' : '', m.deleted ? 'deleted' : '', m.pending ? 'pending' : '', highlight.value === m.id ? 'highlight' : '', mentioned ? 'mentioned' : '']
    .filter(Boolean)
    .join(' ')

  const onCopy = async () => {
    setMenu(false)
    try {
      await navigator.clipboard.writeText(permalink(m))
      toast('Link copied.', 'info')
    } catch {
      toast('Copy failed: your browser blocked the clipboard.', 'error')
    }
  }

  return (
    <article class={cls} id={'msg-' + m.id} data-message-id={m.id} aria-label={`${author}, ${clock(m.created_at)}`} tabIndex={0}>
      <div class="gutter">{cont ? <time dateTime={m.created_at}>{clock(m.created_at)}</time> : <Avatar userId={m.sender.id} size={36} />}</div>
      {!cont && (
        <div class="meta">
          <span class={'author' + (u?.deleted ? ' deleted-user' : '')} title={u ? (u.deleted ? 'This account was deleted' : '@' + u.username) : undefined}>
            {author}
          </span>
          <time dateTime={m.created_at} title={fullTime(m.created_at)}>
            {clock(m.created_at)}
          </time>
          {m.pinned && (
            <span class="faint" title="Pinned">
              <Pin size={12} aria-label="Pinned" />
            </span>
          )}
        </div>
      )}
      <div class="content">
        {m.deleted ? (
          <div class="body">This message was deleted.</div>
        ) : isEditing ? (
          <EditBox m={m} />
        ) : (
          <>
            <Body m={m} />
            {m.edited_at && <span class="edited">(edited)</span>}
          </>
        )}
        {m.pending === 'sending' && <div class="sending">Sending…</div>}
        {m.pending === 'failed' && (
          <div class="failed" role="alert">
            <span>{m.error || 'Not sent.'}</span>
            <button onClick={() => retry(m.client_msg_id)}>Retry</button>
            <button onClick={() => discard(m.client_msg_id)}>Discard</button>
          </div>
        )}
        {!m.deleted && (m.reactions ?? []).length > 0 && (
          <div class="reactions">
            {(m.reactions ?? []).map((r) => (
              <button
                key={r.emoji}
                class="reaction"
                aria-pressed={r.me}
                aria-label={`${r.emoji} ${r.count} ${r.count === 1 ? 'reaction' : 'reactions'}${r.me ? ', including yours' : ''}`}
                onClick={() => attempt(() => toggleReaction(m, r.emoji))}
              >
                <span>{r.emoji}</span>
                <span>{r.count}</span>
              </button>
            ))}
          </div>
        )}
        {!inThread && m.reply_count > 0 && (
          <button class="thread-link" onClick={() => (panel.value = { kind: 'thread', channelId: m.channel_id, rootId: m.id })}>
            <MessageSquareReply size={14} /> {m.reply_count} {m.reply_count === 1 ? 'reply' : 'replies'}
          </button>
        )}
        {props.seen && <div class="seen">{props.seen}</div>}
      </div>
      {!m.pending && !m.deleted && !isEditing && (
        <div class={'msg-actions' + (menu || picker ? ' open' : '')} role="toolbar" aria-label="Message actions">
          <button ref={pickerBtn} class="icon-btn" aria-label="Add reaction" title="Add reaction" onClick={() => setPicker(!picker)}>
            <SmilePlus size={16} />
          </button>
          {!inThread && (
            <button class="icon-btn" aria-label="Reply in thread" title="Reply in thread" onClick={() => (panel.value = { kind: 'thread', channelId: m.channel_id, rootId: m.id })}>
              <MessageSquareReply size={16} />
            </button>
          )}
          {mine && (
            <button class="icon-btn" aria-label="Edit message" title="Edit" onClick={() => (editing.value = m.id)}>
              <Pencil size={16} />
            </button>
          )}
          <button class="icon-btn" aria-label="More actions" aria-haspopup="menu" aria-expanded={menu} onClick={() => setMenu(!menu)}>
            <MoreHorizontal size={16} />
          </button>
          {picker && (
            <EmojiPopover
              onPick={(e) => {
                setPicker(false)
                void attempt(() => toggleReaction(m, e))
              }}
              onClose={() => setPicker(false)}
              anchor={pickerBtn.current}
            />
          )}
          {menu && (
            <Menu label="Message" onClose={() => setMenu(false)} style={{ right: 0, top: 36 }}>
              <button role="menuitem" onClick={onCopy}>
                <Link2 size={15} /> Copy link
              </button>
              <button
                role="menuitem"
                onClick={() => {
                  setMenu(false)
                  void attempt(() => togglePin(m))
                }}
              >
                <Pin size={15} /> {m.pinned ? 'Unpin' : 'Pin to channel'}
              </button>
              {(mine || canModerate) && (
                <>
                  <hr />
                  <button
                    role="menuitem"
                    class="danger"
                    onClick={() => {
                      setMenu(false)
                      if (confirm('Delete this message? It is removed for everyone, with its reactions and history.')) void attempt(() => deleteMessage(m))
                    }}
                  >
                    <Trash2 size={15} /> Delete message
                  </button>
                </>
              )}
            </Menu>
          )}
        </div>
      )}
    </article>
  )
})

function EditBox({ m }: { m: Msg }) {
  const [text, setText] = useState(m.body ?? '')
  const save = async () => {
    const t = text.trim()
    if (!t) return
    if (t !== m.body) await attempt(() => editMessage(m, t))
    editing.value = ''
  }
  return (
    <div class="edit-box">
      <textarea
        aria-label="Edit message"
        value={text}
        autofocus
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey) {
            e.preventDefault()
            void save()
          } else if (e.key === 'Escape') {
            e.preventDefault()
            e.stopPropagation()
            editing.value = ''
          }
        }}
        ref={focusOnceAtEnd}
      />
      <div class="row muted">
        <span>
          Enter to save · Esc to cancel
        </span>
        <span class="grow" />
        <button class="btn small" onClick={() => (editing.value = '')}>
          Cancel
        </button>
        <button class="btn small primary" onClick={save}>
          Save
        </button>
      </div>
    </div>
  )
}
