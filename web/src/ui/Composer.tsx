import { useEffect, useRef, useState } from 'preact/hooks'
import { SendHorizontal, Smile } from 'lucide-preact'
import { channelList, channels, loadDraft, me, members, saveDraft, send, typed, typing, displayName, users, timeline } from '../state/store'
import { roots } from '../state/timeline'
import { loadEmoji, searchEmoji, type EmojiGroup } from '../lib/emoji'
import { EmojiPopover } from './EmojiPicker'
import { editing } from './panel'
import { Avatar } from './common'

interface Suggestion {
  key: string
  label: string
  hint?: string
  insert: string
  userId?: string
}

/** trigger finds an @, # or : word ending at the caret. */
function trigger(text: string, caret: number): { ch: string; word: string; start: number } | null {
  const before = text.slice(0, caret)
  const m = before.match(/(^|[\s(])([@#:])([\p{L}\p{N}_.+-]*)$/u)
  if (!m) return null
  const word = m[3] ?? ''
  if (m[2] === ':' && word.length < 2) return null
  return { ch: m[2]!, word, start: caret - word.length - 1 }
}

let emojiData: EmojiGroup[] | null = null

export function Composer(props: { channelId: string; threadRootId?: string; placeholder: string; autofocusKey?: string }) {
  const { channelId, threadRootId } = props
  const draftKey = threadRootId ? 'thread:' + threadRootId : channelId
  const [text, setText] = useState(() => loadDraft(draftKey))
  const [sugs, setSugs] = useState<Suggestion[]>([])
  const [sel, setSel] = useState(0)
  const [picker, setPicker] = useState(false)
  const ta = useRef<HTMLTextAreaElement>(null)
  const emojiBtn = useRef<HTMLButtonElement>(null)
  const trig = useRef<{ start: number; end: number } | null>(null)

  useEffect(() => {
    setText(loadDraft(draftKey))
    setSugs([])
    if (!threadRootId || props.autofocusKey) requestAnimationFrame(() => ta.current?.focus())
  }, [draftKey])

  useEffect(() => {
    const el = ta.current
    if (!el) return
    el.style.height = 'auto'
    el.style.height = Math.min(el.scrollHeight, window.innerHeight * 0.4) + 'px'
  }, [text])

  const update = (value: string, caret: number) => {
    setText(value)
    saveDraft(draftKey, value)
    if (value) typed(channelId)
    const t = trigger(value, caret)
    if (!t) {
      setSugs([])
      trig.current = null
      return
    }
    trig.current = { start: t.start, end: caret }
    const w = t.word.toLowerCase()
    let list: Suggestion[] = []
    if (t.ch === '@') {
      const ids = (members.value[channelId] ?? []).map((m) => m.user_id)
      const c = channels.value[channelId]
      if (ids.length === 0 && c?.members) ids.push(...c.members)
      list = ids
        .filter((id) => id !== me.value?.id)
        .map((id) => users.value[id])
        .filter((u) => !!u)
        .filter((u) => u!.username.toLowerCase().startsWith(w) || u!.display_name.toLowerCase().includes(w))
        .slice(0, 8)
        .map((u) => ({ key: u!.id, label: u!.display_name || u!.username, hint: '@' + u!.username, insert: '@' + u!.username + ' ', userId: u!.id }))
      if (c?.kind !== 'direct' && 'channel'.startsWith(w)) list.push({ key: '@channel', label: '@channel', hint: 'Notify everyone in this channel', insert: '@channel ' })
    } else if (t.ch === '#') {
      list = channelList.value.channels
        .filter((c) => (c.name ?? '').toLowerCase().startsWith(w))
        .slice(0, 8)
        .map((c) => ({ key: c.id, label: '#' + c.name, hint: c.topic, insert: '#' + c.name + ' ' }))
    } else if (t.ch === ':') {
      if (!emojiData) {
        void loadEmoji().then((g) => {
          emojiData = g
        })
      } else {
        list = searchEmoji(emojiData, w, 8).map((e) => ({ key: e.emoji, label: e.emoji + '  :' + e.slug + ':', insert: e.emoji + ' ' }))
      }
    }
    setSugs(list)
    setSel(0)
  }

  const accept = (s: Suggestion) => {
    const t = trig.current
    if (!t) return
    const v = text.slice(0, t.start) + s.insert + text.slice(t.end)
    const caret = t.start + s.insert.length
    setSugs([])
    trig.current = null
    setText(v)
    saveDraft(draftKey, v)
    requestAnimationFrame(() => {
      ta.current?.focus()
      ta.current?.setSelectionRange(caret, caret)
    })
  }

  const submit = () => {
    const body = text.trim()
    if (!body) return
    send(channelId, body, threadRootId)
    setText('')
    saveDraft(draftKey, '')
    setSugs([])
  }

  const insert = (s: string) => {
    const el = ta.current
    const at = el ? el.selectionStart : text.length
    const v = text.slice(0, at) + s + text.slice(at)
    setText(v)
    saveDraft(draftKey, v)
    requestAnimationFrame(() => {
      el?.focus()
      el?.setSelectionRange(at + s.length, at + s.length)
    })
  }

  const onKeyDown = (e: KeyboardEvent) => {
    if (sugs.length) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault()
        setSel((sel + (e.key === 'ArrowDown' ? 1 : sugs.length - 1)) % sugs.length)
        return
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault()
        accept(sugs[sel]!)
        return
      }
      if (e.key === 'Escape') {
        e.preventDefault()
        e.stopPropagation()
        setSugs([])
        return
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault()
      submit()
      return
    }
    if (e.key === 'ArrowUp' && !text) {
      // edit my last message
      const list = roots(timeline(channelId).msgs).filter((m) => !threadRootId || m.thread_root_id === threadRootId)
      const all = threadRootId ? timeline(channelId).msgs.filter((m) => m.thread_root_id === threadRootId) : list
      const mine = [...all].reverse().find((m) => m.sender.id === me.value?.id && !m.deleted && !m.pending)
      if (mine) {
        e.preventDefault()
        editing.value = mine.id
      }
    }
  }

  const who = Object.keys(typing.value[channelId] ?? {}).filter((id) => id !== me.value?.id)
  const typingText =
    who.length === 0 ? '' : who.length === 1 ? `${displayName(who[0]!)} is typing…` : who.length === 2 ? `${displayName(who[0]!)} and ${displayName(who[1]!)} are typing…` : 'Several people are typing…'
  const listId = 'suggest-' + draftKey.replace(/[^A-Za-z0-9_-]/g, '')

  return (
    <div class="composer-wrap">
      {sugs.length > 0 && (
        <ul class="suggest" role="listbox" id={listId} aria-label="Suggestions">
          {sugs.map((s, i) => (
            <li key={s.key} role="option" aria-selected={i === sel} onMouseDown={(e) => (e.preventDefault(), accept(s))} onMouseEnter={() => setSel(i)}>
              {s.userId && <Avatar userId={s.userId} size={22} />}
              <span>{s.label}</span>
              {s.hint && <span class="muted ellipsis">{s.hint}</span>}
            </li>
          ))}
        </ul>
      )}
      <div class="composer">
        <textarea
          ref={ta}
          rows={1}
          value={text}
          placeholder={props.placeholder}
          aria-label={props.placeholder}
          aria-autocomplete="list"
          aria-controls={sugs.length ? listId : undefined}
          aria-expanded={sugs.length > 0}
          onInput={(e) => update(e.currentTarget.value, e.currentTarget.selectionStart)}
          onKeyDown={onKeyDown}
        />
        <div style={{ position: 'relative' }}>
          <button ref={emojiBtn} class="icon-btn" aria-label="Insert emoji" title="Emoji" aria-expanded={picker} onClick={() => setPicker(!picker)}>
            <Smile size={18} />
          </button>
          {picker && (
            <EmojiPopover
              onPick={(e) => {
                setPicker(false)
                insert(e)
              }}
              onClose={() => setPicker(false)}
              anchor={emojiBtn.current}
            />
          )}
        </div>
        <button class="icon-btn" aria-label="Send" title="Send (Enter)" disabled={!text.trim()} onClick={submit}>
          <SendHorizontal size={18} />
        </button>
      </div>
      <div class="typing-line" aria-live="polite">
        {typingText}
      </div>
    </div>
  )
}
