// Emoji data (unicode-emoji-json), loaded on first use so it is not part
// of the first screen's JavaScript.

export interface Emoji {
  emoji: string
  name: string
  slug: string
}
export interface EmojiGroup {
  name: string
  slug: string
  emojis: Emoji[]
}

let groups: Promise<EmojiGroup[]> | null = null

export function loadEmoji(): Promise<EmojiGroup[]> {
  groups ??= import('unicode-emoji-json/data-by-group.json').then((m) =>
    (m.default as unknown as EmojiGroup[]).map((g) => ({ name: g.name, slug: g.slug, emojis: g.emojis.map((e) => ({ emoji: e.emoji, name: e.name, slug: e.slug })) })),
  )
  return groups
}

export function searchEmoji(all: EmojiGroup[], q: string, limit = 64): Emoji[] {
  const s = q.toLowerCase().replace(/^:/, '')
  if (!s) return []
  const out: Emoji[] = []
  const later: Emoji[] = []
  for (const g of all)
    for (const e of g.emojis) {
      if (e.slug.startsWith(s) || e.name.startsWith(s)) out.push(e)
      else if (e.slug.includes(s) || e.name.includes(s)) later.push(e)
    }
  return [...out, ...later].slice(0, limit)
}

const RECENT = 'unhidra.emoji.recent'
export const DEFAULT_RECENT = ['👍', '❤️', '😂', '🎉', '👀', '🙏', '✅', '🔥']

export function recentEmoji(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(RECENT) ?? '[]') as unknown
    if (Array.isArray(v) && v.every((x) => typeof x === 'string') && v.length) return v.slice(0, 16)
  } catch {
    /* default */
  }
  return DEFAULT_RECENT
}

export function useEmoji(e: string) {
  try {
    const list = [e, ...recentEmoji().filter((x) => x !== e)].slice(0, 16)
    localStorage.setItem(RECENT, JSON.stringify(list))
  } catch {
    /* ignore */
  }
}
