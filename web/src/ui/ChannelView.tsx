import { useEffect, useState } from 'preact/hooks'
import { useLocation } from 'preact-iso'
import { ArrowLeft, Bell, BellOff, Hash, Lock, LogOut, EyeOff, Search, Users, Pencil } from 'lucide-preact'
import { act, active, attempt, channelList, channelTitle, channels, leaveChannel, loadAround, me, members, openChannel, setPrefs, timeline, toast, updateChannel } from '../state/store'
import { humanError } from '../api/errors'
import { Composer } from './Composer'
import { MessageList } from './MessageList'
import { Menu, Modal, PresenceDot } from './common'
import { highlight, panel } from './panel'

export function ChannelView({ id, messageId }: { id: string; messageId?: string }) {
  const c = channels.value[id]
  const loc = useLocation()
  const [menu, setMenu] = useState(false)
  const [editTopic, setEditTopic] = useState(false)
  const [missing, setMissing] = useState(false)

  useEffect(() => {
    setMissing(false)
    if (!channels.value[id]) return
    let gone = false
    if (messageId) {
      highlight.value = messageId
      active.value = id
      loadAround(id, messageId)
        .then((m) => {
          // the person may have moved on while it loaded
          if (gone) return
          if (m.thread_root_id) panel.value = { kind: 'thread', channelId: id, rootId: m.thread_root_id }
          return openChannel(id)
        })
        .catch((e) => !gone && toast(humanError(e)))
      const t = setTimeout(() => {
        if (highlight.value === messageId) highlight.value = ''
      }, 4000)
      return () => {
        gone = true
        clearTimeout(t)
      }
    }
    void openChannel(id).catch((e) => toast(humanError(e)))
    return () => {
      gone = true
    }
  }, [id, messageId, !!c])

  useEffect(() => {
    const t = setTimeout(() => !channels.value[id] && setMissing(true), 1500)
    return () => clearTimeout(t)
  }, [id, !!c])

  if (!c) {
    return (
      <div class="main">
        <div class="empty">
          <div>
            <h2>{missing ? 'Channel not found' : 'Loading…'}</h2>
            {missing && <p>It may be private, archived, or you may have left it.</p>}
            {missing && (
              <button class="btn primary" onClick={() => loc.route('/')}>
                Back to your channels
              </button>
            )}
          </div>
        </div>
      </div>
    )
  }

  const title = channelTitle(c)
  const other = c.kind === 'direct' ? (c.members ?? []).find((x) => x !== me.value?.id) : undefined
  const level = c.notify || (c.kind === 'direct' ? 'all' : 'mentions')
  const memberCount = members.value[id]?.length ?? c.members?.length
  const setLevel = (n: string) => {
    setMenu(false)
    void attempt(() => setPrefs(id, { notify: n }))
  }

  return (
    <div class="main">
      <header class="chan-head">
        <button class="icon-btn back-btn" aria-label="Back to channels" onClick={() => loc.route('/')}>
          <ArrowLeft size={18} />
        </button>
        <h1 class="ellipsis">
          {c.kind === 'direct' ? other && <PresenceDot userId={other} /> : c.kind === 'private' ? <Lock size={16} aria-label="Private channel" /> : <Hash size={16} aria-hidden="true" />}
          <span class="ellipsis">{title}</span>
        </h1>
        {c.topic && <span class="topic">{c.topic}</span>}
        <span class="grow" />
        {c.muted && <BellOff size={16} class="faint" aria-label="Muted" />}
        {c.kind !== 'direct' && (
          <button class="btn ghost small" aria-label={`Members${memberCount ? ` (${memberCount})` : ''}`} onClick={() => (panel.value = panel.value?.kind === 'members' ? null : { kind: 'members', channelId: id })}>
            <Users size={16} /> {memberCount ?? ''}
          </button>
        )}
        <button class="icon-btn" aria-label="Search messages" title="Search (Ctrl+Shift+F)" onClick={() => (panel.value = { kind: 'search', query: c.kind !== 'direct' ? `in:${c.name} ` : '' })}>
          <Search size={18} />
        </button>
        <div style={{ position: 'relative' }}>
          <button class="icon-btn" aria-label="Channel settings" aria-haspopup="menu" aria-expanded={menu} onClick={() => setMenu(!menu)}>
            <Bell size={18} />
          </button>
          {menu && (
            <Menu label="Channel settings" onClose={() => setMenu(false)} style={{ right: 0, top: 36 }}>
              <div class="label">Notify me about</div>
              {(['all', 'mentions', 'none'] as const).map((n) => (
                <button key={n} role="menuitemradio" aria-checked={level === n} onClick={() => setLevel(n)}>
                  {level === n ? '●' : '○'} {n === 'all' ? 'All new messages' : n === 'mentions' ? 'Mentions and DMs only' : 'Nothing'}
                </button>
              ))}
              <hr />
              <button
                role="menuitem"
                onClick={() => {
                  setMenu(false)
                  void attempt(() => setPrefs(id, { muted: !c.muted }))
                }}
              >
                {c.muted ? <Bell size={15} /> : <BellOff size={15} />} {c.muted ? 'Unmute channel' : 'Mute channel'}
              </button>
              {c.kind !== 'direct' && (c.role === 'owner' || c.role === 'admin') && (
                <button
                  role="menuitem"
                  onClick={() => {
                    setMenu(false)
                    setEditTopic(true)
                  }}
                >
                  <Pencil size={15} /> Edit topic
                </button>
              )}
              {c.kind === 'direct' ? (
                <button
                  role="menuitem"
                  onClick={() => {
                    setMenu(false)
                    void attempt(async () => {
                      await setPrefs(id, { hidden: true })
                      const next = channelList.value.channels[0] ?? channelList.value.direct.find((d) => d.id !== id)
                      loc.route(next ? `/c/${next.id}` : '/')
                    })
                  }}
                >
                  <EyeOff size={15} /> Hide conversation
                </button>
              ) : (
                <button
                  role="menuitem"
                  onClick={() => {
                    setMenu(false)
                    void attempt(async () => {
                      await leaveChannel(id)
                      loc.route('/')
                    })
                  }}
                >
                  <LogOut size={15} /> Leave channel
                </button>
              )}
            </Menu>
          )}
        </div>
      </header>
      {timeline(id).loaded ? <MessageList key={id} channelId={id} /> : <div class="timeline" aria-busy="true" />}
      {c.archived ? (
        <p class="notice">This channel is archived: it can be read but not written to.</p>
      ) : (
        <Composer channelId={id} placeholder={c.kind === 'direct' ? `Message ${title}` : `Message #${c.name}`} />
      )}
      {editTopic && <TopicDialog id={id} onClose={() => setEditTopic(false)} />}
    </div>
  )
}

function TopicDialog({ id, onClose }: { id: string; onClose: () => void }) {
  const c = channels.value[id]!
  const [topic, setTopic] = useState(c.topic)
  const save = async (e: Event) => {
    e.preventDefault()
    if (await act(() => updateChannel(id, { topic }))) onClose()
  }
  return (
    <Modal title={`Topic of #${c.name}`} onClose={onClose}>
      <form class="stack" onSubmit={save}>
        <div class="field">
          <label for="topic">Topic</label>
          <input id="topic" value={topic} maxLength={250} onInput={(e) => setTopic(e.currentTarget.value)} />
        </div>
        <div class="row">
          <span class="grow" />
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button class="btn primary" type="submit">
            Save
          </button>
        </div>
      </form>
    </Modal>
  )
}
