import { signal } from '@preact/signals'

// What the right-hand panel shows: a thread, search, or a channel's members.
export type Panel =
  | { kind: 'thread'; channelId: string; rootId: string }
  | { kind: 'search'; query?: string }
  | { kind: 'members'; channelId: string }
  | null

export const panel = signal<Panel>(null)

/** dialog names the modal open over the app. */
export type Dialog = 'switcher' | 'create' | 'browse' | 'dm' | 'shortcuts' | null
export const dialog = signal<Dialog>(null)

/** highlight is the message a permalink pointed at, shown highlighted for a while. */
export const highlight = signal('')

/** editing is the message whose inline editor is open. */
export const editing = signal('')
