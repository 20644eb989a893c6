import type { ComponentChildren, JSX } from 'preact'
import { useEffect, useRef } from 'preact/hooks'
import { X } from 'lucide-preact'
import { presence, users } from '../state/store'

const PALETTE = ['#4f46e5', '#0e7490', '#b45309', '#be185d', '#15803d', '#7c3aed', '#b91c1c', '#1d4ed8', '#a16207', '#0f766e']

function colour(id: string): string {
  let h = 0
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) | 0
  return PALETTE[Math.abs(h) % PALETTE.length]!
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean)
  const s = parts.length > 1 ? parts[0]![0]! + parts[1]![0]! : (parts[0] ?? '?').slice(0, 2)
  return s.toUpperCase()
}

export function Avatar({ userId, size = 36, showPresence = false }: { userId: string; size?: number; showPresence?: boolean }) {
  const u = users.value[userId]
  const name = u ? (u.deleted ? '?' : u.display_name || u.username) : '?'
  const status = presence.value[userId] ?? 'offline'
  return (
    <span
      class={'avatar' + (u?.deleted ? ' deleted-user' : '')}
      style={{ width: size, height: size, background: u?.deleted ? undefined : colour(userId), fontSize: Math.round(size * 0.4) }}
      aria-hidden="true"
    >
      {initials(name)}
      {showPresence && <span class={'presence ' + status} />}
    </span>
  )
}

export function PresenceDot({ userId }: { userId: string }) {
  const s = presence.value[userId] ?? 'offline'
  return <span class={'dot ' + s} role="img" aria-label={statusLabel(s)} title={statusLabel(s)} />
}

export function statusLabel(s: string): string {
  switch (s) {
    case 'online':
      return 'Online'
    case 'away':
      return 'Away'
    case 'dnd':
      return 'Do not disturb'
    default:
      return 'Offline'
  }
}

/** Modal is a dialog with a backdrop: Esc and a click outside close it, focus moves in and back. */
export function Modal(props: { title: string; onClose: () => void; children: ComponentChildren; footer?: ComponentChildren; wide?: boolean; label?: string }) {
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null
    const first = ref.current?.querySelector<HTMLElement>('[autofocus], input, textarea, select, button:not(.icon-btn)')
    first?.focus()
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation()
        props.onClose()
      }
      if (e.key === 'Tab' && ref.current) {
        const f = Array.from(ref.current.querySelectorAll<HTMLElement>('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])')).filter((x) => !x.hasAttribute('disabled'))
        if (f.length === 0) return
        const a = f[0]!
        const z = f[f.length - 1]!
        if (e.shiftKey && document.activeElement === a) {
          z.focus()
          e.preventDefault()
        } else if (!e.shiftKey && document.activeElement === z) {
          a.focus()
          e.preventDefault()
        }
      }
    }
    document.addEventListener('keydown', onKey, true)
    return () => {
      document.removeEventListener('keydown', onKey, true)
      before?.focus?.()
    }
  }, [])
  return (
    <div class="backdrop" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class={'dialog' + (props.wide ? ' wide' : '')} role="dialog" aria-modal="true" aria-label={props.label ?? props.title} ref={ref}>
        <div class="dialog-head">
          <h2>{props.title}</h2>
          <button class="icon-btn" aria-label="Close" onClick={props.onClose}>
            <X size={18} />
          </button>
        </div>
        <div class="dialog-body">{props.children}</div>
        {props.footer && <div class="dialog-foot">{props.footer}</div>}
      </div>
    </div>
  )
}

/** Menu is a popup list anchored where it is rendered; Esc or a click elsewhere closes it. */
export function Menu(props: { onClose: () => void; children: ComponentChildren; label: string; style?: JSX.CSSProperties }) {
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => {
    ref.current?.querySelector<HTMLElement>('button, a')?.focus()
    const onDown = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) props.onClose()
    }
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation()
        props.onClose()
      }
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        const items = Array.from(ref.current?.querySelectorAll<HTMLElement>('button, a') ?? [])
        const i = items.indexOf(document.activeElement as HTMLElement)
        const next = items[(i + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length]
        next?.focus()
        e.preventDefault()
      }
    }
    setTimeout(() => document.addEventListener('mousedown', onDown), 0)
    document.addEventListener('keydown', onKey, true)
    return () => {
      document.removeEventListener('mousedown', onDown)
      document.removeEventListener('keydown', onKey, true)
    }
  }, [])
  return (
    <div class="menu" role="menu" aria-label={props.label} ref={ref} style={props.style}>
      {props.children}
    </div>
  )
}

export function Empty(props: { icon: ComponentChildren; title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <div>
        <div class="art">{props.icon}</div>
        <h2>{props.title}</h2>
        {props.children}
      </div>
    </div>
  )
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' })
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' })
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

export function clock(iso: string): string {
  return timeFmt.format(new Date(iso))
}
export function fullTime(iso: string): string {
  return fullFmt.format(new Date(iso))
}
export function dayLabel(iso: string): string {
  const d = new Date(iso)
  const today = new Date()
  const y = new Date(today)
  y.setDate(today.getDate() - 1)
  if (d.toDateString() === today.toDateString()) return 'Today'
  if (d.toDateString() === y.toDateString()) return 'Yesterday'
  return dayFmt.format(d)
}

/** focusOnce is a ref that focuses its element when it first mounts. */
export function focusOnce(el: HTMLElement | null) {
  if (el && !el.dataset.focused) {
    el.dataset.focused = '1'
    el.focus()
  }
}

/** focusOnceAtEnd focuses a text field once, with the caret after its text. */
export function focusOnceAtEnd(el: HTMLTextAreaElement | null) {
  if (el && !el.dataset.focused) {
    el.dataset.focused = '1'
    el.focus()
    el.setSelectionRange(el.value.length, el.value.length)
  }
}

/** describeAgent names the browser and system of a User-Agent, for people. */
export function describeAgent(ua: string): string {
  const browser = /Edg\//.test(ua) ? 'Edge' : /Chrome\//.test(ua) ? 'Chrome' : /Firefox\//.test(ua) ? 'Firefox' : /Safari\//.test(ua) ? 'Safari' : /unhidra/i.test(ua) ? 'Unhidra CLI' : 'Unknown client'
  const os = /Windows/.test(ua) ? 'Windows' : /Mac OS X/.test(ua) ? 'macOS' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Linux/.test(ua) ? 'Linux' : ''
  return os ? `${browser} on ${os}` : browser
}
