import { useState } from 'preact/hooks'
import { useLocation } from 'preact-iso'
import { BellOff, BellRing, CheckCheck, Compass, Hash, Keyboard, Lock, LogOut, Plus, Search, Settings as SettingsIcon, SquarePen } from 'lucide-preact'
import { act, active, channelList, channelTitle, markAllRead, me, myStatus, setStatus, signOut } from '../state/store'
import { askNotificationPermission, dismissNotifications, notificationPermission, notificationsDismissed } from '../state/notify'
import type { Channel } from '../api/types'
import { Avatar, Menu, PresenceDot, statusLabel } from './common'
import { dialog, panel } from './panel'

function Item({ c }: { c: Channel }) {
  const loc = useLocation()
  const current = active.value === c.id && loc.path.startsWith('/c/')
  const unread = c.unread_count > 0 && !c.muted
  const other = c.kind === 'direct' ? (c.members ?? []).find((x) => x !== me.value?.id) : undefined
  const badge = c.kind === 'direct' ? c.unread_count : c.mention_count
  const title = channelTitle(c)
  const label = `${c.kind === 'direct' ? title : '#' + title}${badge ? `, ${badge} ${c.kind === 'direct' ? 'unread' : badge === 1 ? 'mention' : 'mentions'}` : unread ? ', unread' : ''}${c.muted ? ', muted' : ''}`
  return (
    <a href={`/c/${c.id}`} class={'side-item' + (unread ? ' unread' : '')} aria-current={current ? 'page' : undefined} aria-label={label} data-channel-id={c.id}>
      {c.kind === 'direct' ? other ? <PresenceDot userId={other} /> : <span class="dot online" /> : c.kind === 'private' ? <Lock size={15} /> : <Hash size={15} />}
      <span class="name">{title}</span>
      {c.muted && <BellOff size={13} class="muted-icon" aria-hidden="true" />}
      {badge > 0 && !c.muted && (
        <span class="badge" aria-hidden="true">
          {badge > 99 ? '99+' : badge}
        </span>
      )}
    </a>
  )
}

export function Sidebar() {
  const loc = useLocation()
  const [menu, setMenu] = useState(false)
  const [perm, setPerm] = useState(() => (notificationsDismissed() ? 'denied' : notificationPermission()))
  const u = me.value
  const { channels: chans, direct } = channelList.value
  if (!u) return null
  return (
    <nav class="sidebar" aria-label="Channels and direct messages">
      <div class="side-head">
        <div style={{ position: 'relative', flex: 1, minWidth: 0 }}>
          <button class="me" aria-haspopup="menu" aria-expanded={menu} aria-label={`Your account: ${u.display_name || u.username}, ${statusLabel(myStatus.value)}`} onClick={() => setMenu(!menu)}>
            <Avatar userId={u.id} size={32} showPresence />
            <span class="grow">
              <span class="ellipsis" style={{ display: 'block', fontWeight: 700, color: '#fff' }}>
                {u.display_name || u.username}
              </span>
              <span class="ellipsis" style={{ display: 'block', fontSize: 12 }}>
                {statusLabel(myStatus.value)}
              </span>
            </span>
          </button>
          {menu && (
            <Menu label="Account" onClose={() => setMenu(false)} style={{ left: 0, top: 46 }}>
              <div class="label">Status</div>
              {(['online', 'away', 'dnd'] as const).map((s) => (
                <button
                  key={s}
                  role="menuitemradio"
                  aria-checked={myStatus.value === s}
                  onClick={() => {
                    setMenu(false)
                    setStatus(s)
                  }}
                >
                  <span class={'dot ' + s} /> {statusLabel(s)}
                </button>
              ))}
              <hr />
              <button
                role="menuitem"
                onClick={() => {
                  setMenu(false)
                  loc.route('/settings/profile')
                }}
              >
                <SettingsIcon size={15} /> Profile and settings
              </button>
              <button
                role="menuitem"
                onClick={() => {
                  setMenu(false)
                  dialog.value = 'shortcuts'
                }}
              >
                <Keyboard size={15} /> Keyboard shortcuts
              </button>
              <hr />
              <button
                role="menuitem"
                onClick={() => {
                  setMenu(false)
                  panel.value = null
                  dialog.value = null
                  void signOut().then(() => loc.route('/'))
                }}
              >
                <LogOut size={15} /> Sign out
              </button>
            </Menu>
          )}
        </div>
        <button class="icon-btn" aria-label="New direct message" title="New direct message" onClick={() => (dialog.value = 'dm')}>
          <SquarePen size={18} />
        </button>
      </div>
      <button class="side-search" onClick={() => (dialog.value = 'switcher')} aria-label="Jump to a channel or person (Ctrl+K)">
        <Search size={14} /> <span class="grow" style={{ textAlign: 'left' }}>Jump to…</span> <span class="kbd" style={{ color: 'inherit', borderColor: 'currentColor' }}>Ctrl K</span>
      </button>
      <div class="side-scroll">
        {perm === 'default' && (
          <div class="side-section" style={{ margin: '8px 12px', padding: 10, borderRadius: 8, background: 'var(--side-hover)', fontSize: 13 }}>
            <div style={{ marginBottom: 6 }}>Get a desktop notification when someone mentions you or sends you a direct message.</div>
            <button class="btn small primary" onClick={() => void askNotificationPermission().then(setPerm)}>
              <BellRing size={14} /> Turn on notifications
            </button>{' '}
            <button
              class="btn small ghost"
              style={{ color: 'inherit' }}
              onClick={() => {
                dismissNotifications()
                setPerm('denied')
              }}
            >
              Not now
            </button>
          </div>
        )}
        <section class="side-section" aria-labelledby="side-channels">
          <h2 id="side-channels">
            Channels
            {/* Guests see only the channels they were added to. */}
            {me.value?.role !== 'guest' && (
              <span>
                <button class="icon-btn" aria-label="Browse channels" title="Browse channels" onClick={() => (dialog.value = 'browse')}>
                  <Compass size={15} />
                </button>
                <button class="icon-btn" aria-label="Create channel" title="Create channel" onClick={() => (dialog.value = 'create')}>
                  <Plus size={16} />
                </button>
              </span>
            )}
          </h2>
          {chans.map((c) => (
            <Item key={c.id} c={c} />
          ))}
          {chans.length === 0 && me.value?.role !== 'guest' && (
            <button class="side-item" onClick={() => (dialog.value = 'browse')}>
              <Compass size={15} /> <span class="name">Browse channels</span>
            </button>
          )}
        </section>
        <section class="side-section" aria-labelledby="side-dms">
          <h2 id="side-dms">
            Direct messages
            <button class="icon-btn" aria-label="Start a direct message" title="New direct message" onClick={() => (dialog.value = 'dm')}>
              <Plus size={16} />
            </button>
          </h2>
          {direct.map((c) => (
            <Item key={c.id} c={c} />
          ))}
          {direct.length === 0 && <p style={{ padding: '0 16px', fontSize: 13, color: 'var(--side-muted)', margin: 4 }}>No conversations yet.</p>}
        </section>
      </div>
      <div class="side-foot row">
        <button onClick={() => void act(markAllRead)}>
          <CheckCheck size={13} /> Mark all read
        </button>
      </div>
    </nav>
  )
}
