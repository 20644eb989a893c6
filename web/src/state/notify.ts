import type { Channel, Message } from '../api/types'

// Desktop notifications, the notification sound and the tab title badge.
// Permission is asked for only when the person turns notifications on
// (the banner in the sidebar), never on page load.

const SOUND = 'unhidra.sound'

export function notificationsSupported(): boolean {
  return typeof Notification !== 'undefined'
}

export function notificationPermission(): NotificationPermission | 'unsupported' {
  return notificationsSupported() ? Notification.permission : 'unsupported'
}

const DISMISSED = 'unhidra.notifications.dismissed'

/** notificationsDismissed: the person said "Not now" to the offer; it is not shown again in this browser. */
export function notificationsDismissed(): boolean {
  try {
    return localStorage.getItem(DISMISSED) === '1'
  } catch {
    return false
  }
}

export function dismissNotifications() {
  try {
    localStorage.setItem(DISMISSED, '1')
  } catch {
    /* this session only */
  }
}

export async function askNotificationPermission(): Promise<NotificationPermission | 'unsupported'> {
  if (!notificationsSupported()) return 'unsupported'
  return Notification.requestPermission()
}

export function soundOn(): boolean {
  try {
    return localStorage.getItem(SOUND) !== 'off'
  } catch {
    return true
  }
}

export function setSound(on: boolean) {
  try {
    localStorage.setItem(SOUND, on ? 'on' : 'off')
  } catch {
    /* ignore */
  }
}

let audio: AudioContext | null = null
function chime() {
  if (!soundOn()) return
  try {
    audio ??= new AudioContext()
    const t = audio.currentTime
    const o = audio.createOscillator()
    const g = audio.createGain()
    o.type = 'sine'
    o.frequency.setValueAtTime(880, t)
    o.frequency.exponentialRampToValueAtTime(660, t + 0.18)
    g.gain.setValueAtTime(0.0001, t)
    g.gain.exponentialRampToValueAtTime(0.15, t + 0.02)
    g.gain.exponentialRampToValueAtTime(0.0001, t + 0.3)
    o.connect(g).connect(audio.destination)
    o.start(t)
    o.stop(t + 0.32)
  } catch {
    /* no audio (autoplay policy); the badge still shows */
  }
}

/**
 * notifyMessage tells the person about a message from someone else: a
 * desktop notification and a sound for a mention or a DM, following the
 * channel's notification level and mute.
 */
export function notifyMessage(c: Channel, m: Message, author: string, mentioned: boolean, viewing: boolean) {
  if (viewing || c.muted) return
  const level = c.notify || (c.kind === 'direct' ? 'all' : 'mentions')
  if (level === 'none') return
  const important = c.kind === 'direct' || mentioned
  if (!important && level !== 'all') return
  if (important) chime()
  if (notificationPermission() !== 'granted' || (document.visibilityState === 'visible' && document.hasFocus())) return
  const body = m.deleted ? '' : (m.body ?? '').slice(0, 140)
  try {
    const title = c.kind === 'direct' ? author : mentioned ? `${author} mentioned you in #${c.name ?? ''}` : `${author} in #${c.name ?? ''}`
    const n = new Notification(title, {
      body,
      tag: 'unhidra:' + c.id,
      icon: '/icon-192.png',
    })
    n.onclick = () => {
      window.focus()
      history.pushState(null, '', `/c/${c.id}/m/${m.id}`)
      dispatchEvent(new PopStateEvent('popstate'))
      n.close()
    }
  } catch {
    /* some platforms need a service worker for notifications */
  }
}

/** title shows the count of things that need the person in the tab title. */
export function setTitle(count: number, channel: string) {
  const base = channel ? `${channel} · Unhidra` : 'Unhidra'
  document.title = count > 0 ? `(${count}) ${base}` : base
}
