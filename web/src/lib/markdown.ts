import MarkdownIt, { type Token } from 'markdown-it'
import DOMPurify from 'dompurify'

// Message text to safe HTML, in two independent layers: markdown-it
// (CommonMark) with raw HTML disabled, so `<img onerror=…>` stays text, and
// its link validation, which refuses javascript:, vbscript: and data: URLs;
// then DOMPurify over the result with a short allow-list of elements and
// attributes, so even a parser bug cannot inject markup. Images are off:
// a message must not make every reader's browser fetch a URL of the
// sender's choosing. Links open in a new tab without a referrer.

const md = new MarkdownIt('commonmark', { html: false, linkify: true, breaks: true, typographer: false })
md.enable(['linkify', 'strikethrough', 'table'])
md.disable(['image', 'html_block', 'html_inline'])

// @mentions and #channels become spans (and channel links) the UI styles.
const MENTION = /(^|[\s(])([@#])([A-Za-z0-9][A-Za-z0-9_.-]{0,63})/g

md.core.ruler.push('unhidra_mentions', (state) => {
  for (const block of state.tokens) {
    if (block.type !== 'inline' || !block.children) continue
    const out: Token[] = []
    let inLink = 0
    for (const t of block.children) {
      if (t.type === 'link_open') inLink++
      if (t.type === 'link_close') inLink--
      if (t.type !== 'text' || inLink > 0 || !t.content.match(/[@#]/)) {
        out.push(t)
        continue
      }
      let last = 0
      const text = t.content
      for (const m of text.matchAll(MENTION)) {
        const start = (m.index ?? 0) + (m[1] ?? '').length
        if (start > last) {
          const tt = new state.Token('text', '', 0)
          tt.content = text.slice(last, start)
          out.push(tt)
        }
        const mt = new state.Token(m[2] === '@' ? 'unhidra_mention' : 'unhidra_channel', '', 0)
        mt.content = m[3] ?? ''
        out.push(mt)
        last = start + 1 + (m[3] ?? '').length
      }
      if (last < text.length) {
        const tt = new state.Token('text', '', 0)
        tt.content = text.slice(last)
        out.push(tt)
      }
    }
    block.children = out
  }
})

const esc = md.utils.escapeHtml
md.renderer.rules.unhidra_mention = (tokens, i) => {
  const name = tokens[i]!.content
  return `<span class="mention" data-mention="${esc(name)}">@${esc(name)}</span>`
}
md.renderer.rules.unhidra_channel = (tokens, i) => {
  const name = tokens[i]!.content
  return `<span class="channel-ref" data-channel="${esc(name)}">#${esc(name)}</span>`
}

const ALLOWED_TAGS = [
  'p', 'br', 'strong', 'em', 's', 'del', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'a', 'span',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'table', 'thead', 'tbody', 'tr', 'th', 'td',
]
const ALLOWED_ATTR = ['href', 'class', 'data-mention', 'data-channel', 'start', 'title']

let hooked = false
function hook() {
  if (hooked) return
  hooked = true
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      const href = node.getAttribute('href') ?? ''
      if (!/^(https?:|mailto:)/i.test(href)) {
        node.removeAttribute('href')
      } else {
        node.setAttribute('target', '_blank')
        node.setAttribute('rel', 'noopener noreferrer nofollow')
      }
    }
  })
}

// Rendered bodies, most recently used last: a virtualised list mounts a
// row again each time it scrolls back into view, and parsing plus
// sanitising is the costliest thing a row does.
const cache = new Map<string, string>()
const CACHE_MAX = 2000

/** render returns sanitised HTML for a message body. */
export function render(body: string): string {
  const hit = cache.get(body)
  if (hit !== undefined) {
    cache.delete(body)
    cache.set(body, hit)
    return hit
  }
  const html = renderUncached(body)
  cache.set(body, html)
  if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value!)
  return html
}

function renderUncached(body: string): string {
  hook()
  const html = md.render(body)
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR: [...ALLOWED_ATTR, 'target', 'rel'],
    ALLOW_DATA_ATTR: true,
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i,
  })
}

/** plain is a one-line text preview of a body (for notifications, search, replies). */
export function plain(body: string, max = 140): string {
  const s = body.replace(/```[\s\S]*?```/g, '[code]').replace(/[*_`~>#]/g, '').replace(/\s+/g, ' ').trim()
  return s.length > max ? s.slice(0, max - 1) + '…' : s
}
