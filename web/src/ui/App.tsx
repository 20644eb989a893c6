import { useEffect } from 'preact/hooks'
import { LocationProvider, Route, Router, useLocation, useRoute } from 'preact-iso'
import { MessagesSquare, Compass, Plus, WifiOff } from 'lucide-preact'
import { active, attention, booted, channelList, channelTitle, channels, conn, dismissToast, me, reconnectNow, toasts } from '../state/store'
import { setTitle } from '../state/notify'
import { AuthScreen } from './AuthScreens'
import { ChannelView } from './ChannelView'
import { Dialogs } from './Dialogs'
import { SidePanel } from './Panels'
import { Settings } from './Settings'
import { Sidebar } from './Sidebar'
import { Empty } from './common'
import { dialog, editing, panel } from './panel'

export function App() {
  return (
    <LocationProvider>
      <Root />
    </LocationProvider>
  )
}

function Root() {
  if (!booted.value)
    return (
      <div class="auth" aria-busy="true">
        <span class="sr-only">Loading Unhidra…</span>
      </div>
    )
  if (!me.value) return <AuthScreen />
  return <Shell />
}

function ChannelRoute() {
  const { params } = useRoute()
  return <ChannelView id={params.id ?? ''} messageId={params.mid} />
}

function SettingsRoute() {
  const { params } = useRoute()
  return <Settings tab={params.tab} />
}

function Home() {
  const loc = useLocation()
  const { channels: chans, direct } = channelList.value
  useEffect(() => {
    active.value = ''
    // On a wide screen, open the last channel (or the first) rather than an empty page.
    if (window.matchMedia('(min-width: 761px)').matches) {
      let last = ''
      try {
        last = localStorage.getItem('unhidra.last.' + me.value?.id) ?? ''
      } catch {
        /* none */
      }
      const lastCh = last ? channels.value[last] : undefined
      const target = (lastCh && !lastCh.hidden && !lastCh.archived ? lastCh : undefined) || chans[0] || direct[0]
      if (target) loc.route(`/c/${target.id}`, true)
    }
  }, [chans.length + direct.length])
  return (
    <div class="main">
      <Empty icon={<MessagesSquare size={28} />} title={chans.length + direct.length === 0 ? 'Welcome to Unhidra' : 'Pick a conversation'}>
        <p>{chans.length + direct.length === 0 ? 'You are not in any channel yet. Join one your team already uses, or start your own.' : 'Choose a channel or a direct message on the left, or press Ctrl+K to jump to one.'}</p>
        <div class="row" style={{ justifyContent: 'center' }}>
          <button class="btn primary" onClick={() => (dialog.value = 'browse')}>
            <Compass size={16} /> Browse channels
          </button>
          <button class="btn" onClick={() => (dialog.value = 'create')}>
            <Plus size={16} /> Create a channel
          </button>
        </div>
      </Empty>
    </div>
  )
}

function NotFound() {
  const loc = useLocation()
  return (
    <div class="main">
      <Empty icon={<Compass size={28} />} title="Nothing here">
        <p>This address does not lead anywhere in Unhidra.</p>
        <button class="btn primary" onClick={() => loc.route('/')}>
          Back to your channels
        </button>
      </Empty>
    </div>
  )
}

function ConnBanner() {
  const s = conn.value
  if (s === 'online' || s === 'offline') return null
  return (
    <div class="conn-banner" role="status" aria-live="polite">
      <WifiOff size={14} aria-hidden="true" />
      <span>{s === 'connecting' ? 'Connecting…' : 'Reconnecting…'} Messages you send now go out when the connection is back.</span>
      <button onClick={reconnectNow}>Retry now</button>
    </div>
  )
}

function Toasts() {
  return (
    <div class="toasts" role="status" aria-live="polite">
      {toasts.value.map((t) => (
        <div key={t.id} class={'toast ' + t.kind}>
          <span>{t.text}</span>
          <button aria-label="Dismiss" onClick={() => dismissToast(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  )
}

function moveChannel(dir: 1 | -1, unreadOnly: boolean): string | undefined {
  const { channels: chans, direct } = channelList.value
  const all = [...chans, ...direct]
  const i = all.findIndex((c) => c.id === active.value)
  for (let k = 1; k <= all.length; k++) {
    const c = all[(i + dir * k + all.length * 2) % all.length]
    if (c && (!unreadOnly || c.unread_count > 0)) return c.id
  }
  return undefined
}

function Shell() {
  const loc = useLocation()
  const inChannel = loc.path.startsWith('/c/') || loc.path.startsWith('/settings')

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey
      if (mod && !e.shiftKey && e.key.toLowerCase() === 'k') {
        e.preventDefault()
        dialog.value = dialog.value === 'switcher' ? null : 'switcher'
      } else if (mod && e.shiftKey && e.key.toLowerCase() === 'f') {
        e.preventDefault()
        panel.value = { kind: 'search' }
      } else if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
        const id = moveChannel(e.key === 'ArrowDown' ? 1 : -1, e.shiftKey)
        if (id) {
          e.preventDefault()
          loc.route(`/c/${id}`)
        }
      } else if (e.key === 'Escape' && !e.defaultPrevented) {
        if (dialog.value) dialog.value = null
        else if (editing.value) editing.value = ''
        else if (panel.value) panel.value = null
      }
    }
    document.addEventListener('keydown', onKey)
    return () => document.removeEventListener('keydown', onKey)
  }, [])

  // The tab title carries the count of mentions and unread DMs.
  const a = active.value
  const c = a ? channels.value[a] : undefined
  useEffect(() => setTitle(attention.value, c ? (c.kind === 'direct' ? channelTitle(c) : '#' + c.name) : ''), [attention.value, c?.name, a])
  useEffect(() => {
    if (a)
      try {
        localStorage.setItem('unhidra.last.' + me.value?.id, a)
      } catch {
        /* ignore */
      }
  }, [a])
  // A thread of another channel closes when the channel changes.
  useEffect(() => {
    const p = panel.value
    if (p && (p.kind === 'thread' || p.kind === 'members') && p.channelId !== a && a) panel.value = null
  }, [a])

  return (
    <div class={'shell' + (inChannel ? ' in-channel' : '')}>
      <Sidebar />
      <div class="main-col">
        <ConnBanner />
        <Router>
          <Route path="/" component={Home} />
          <Route path="/c/:id" component={ChannelRoute} />
          <Route path="/c/:id/m/:mid" component={ChannelRoute} />
          <Route path="/settings" component={SettingsRoute} />
          <Route path="/settings/:tab" component={SettingsRoute} />
          <Route default component={NotFound} />
        </Router>
      </div>
      <SidePanel />
      <Dialogs />
      <Toasts />
    </div>
  )
}
