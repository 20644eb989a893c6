import type { JSX } from 'preact'
import { focusOnce } from './common'
import { useEffect, useRef, useState } from 'preact/hooks'
import { loadEmoji, recentEmoji, searchEmoji, useEmoji, type EmojiGroup } from '../lib/emoji'

const GROUP_ICONS: Record<string, string> = {
  smileys_emotion: '😀',
  people_body: '👋',
  animals_nature: '🐻',
  food_drink: '🍕',
  travel_places: '✈️',
  activities: '⚽',
  objects: '💡',
  symbols: '❤️',
  flags: '🏁',
}

/** EmojiPopover is the emoji picker: search, recent, and every group. */
/** placeNear puts a popup of size w×h next to an anchor, inside the window. */
function placeNear(anchor: HTMLElement, w: number, h: number): JSX.CSSProperties {
  const r = anchor.getBoundingClientRect()
  const top = r.bottom + 4 + h <= window.innerHeight ? r.bottom + 4 : Math.max(8, r.top - 4 - h)
  const left = Math.min(Math.max(8, r.right - w), window.innerWidth - w - 8)
  return { position: 'fixed', top, left, maxWidth: 'calc(100vw - 16px)' }
}

export function EmojiPopover(props: { onPick: (e: string) => void; onClose: () => void; style?: JSX.CSSProperties; anchor?: HTMLElement | null }) {
  const [groups, setGroups] = useState<EmojiGroup[] | null>(null)
  const [q, setQ] = useState('')
  const ref = useRef<HTMLDivElement>(null)
  const grid = useRef<HTMLDivElement>(null)
  useEffect(() => {
    void loadEmoji().then(setGroups)
    const onDown = (e: MouseEvent) => ref.current && !ref.current.contains(e.target as Node) && props.onClose()
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation()
        props.onClose()
      }
    }
    setTimeout(() => document.addEventListener('mousedown', onDown), 0)
    document.addEventListener('keydown', onKey, true)
    return () => {
      document.removeEventListener('mousedown', onDown)
      document.removeEventListener('keydown', onKey, true)
    }
  }, [])
  const pick = (e: string) => {
    useEmoji(e)
    props.onPick(e)
  }
  const results = groups && q ? searchEmoji(groups, q) : null
  return (
    <div class="emoji-picker" role="dialog" aria-label="Emoji picker" ref={ref} style={props.anchor ? placeNear(props.anchor, 340, 360) : props.style}>
      <div class="search">
        <input
          class="input"
          aria-label="Search emoji"
          placeholder="Search emoji"
          value={q}
          autofocus
          onInput={(e) => setQ(e.currentTarget.value)}
          ref={focusOnce}
          onKeyDown={(e) => {
            if (e.key !== 'Enter' || !q) return
            e.preventDefault()
            // The list may still be loading: pick the best match once it is in.
            const text = e.currentTarget.value
            void loadEmoji().then((g) => {
              const best = searchEmoji(g, text)[0]
              if (best) pick(best.emoji)
            })
          }}
        />
      </div>
      {!q && groups && (
        <div class="emoji-tabs" role="toolbar" aria-label="Emoji groups">
          {groups.map((g) => (
            <button key={g.slug} title={g.name} aria-label={g.name} onClick={() => grid.current?.querySelector(`[data-group="${g.slug}"]`)?.scrollIntoView()}>
              {GROUP_ICONS[g.slug] ?? g.emojis[0]?.emoji}
            </button>
          ))}
        </div>
      )}
      <div class="emoji-grid" ref={grid}>
        {!groups && <p class="muted">Loading…</p>}
        {results && results.length === 0 && <p class="muted">No emoji match “{q}”.</p>}
        {results?.map((e) => (
          <button key={e.emoji} title={e.name} aria-label={e.name} onClick={() => pick(e.emoji)}>
            {e.emoji}
          </button>
        ))}
        {!q && (
          <>
            <h3>Frequently used</h3>
            {recentEmoji().map((e) => (
              <button key={'r' + e} aria-label={e} onClick={() => pick(e)}>
                {e}
              </button>
            ))}
          </>
        )}
        {!q &&
          groups?.map((g) => [
            <h3 key={g.slug} data-group={g.slug}>
              {g.name}
            </h3>,
            ...g.emojis.map((e) => (
              <button key={e.emoji} title={e.name} aria-label={e.name} onClick={() => pick(e.emoji)}>
                {e.emoji}
              </button>
            )),
          ])}
      </div>
    </div>
  )
}
