import { describe, expect, it } from 'vitest'
import { render } from './markdown'

describe('render', () => {
  it('renders the everyday Markdown', () => {
    const h = render('**bold** _it_ `code`\n\n```\nblock\n```\n\n- a\n- b\n\n> quote\n\n[site](https://example.org)')
    expect(h).toContain('<strong>bold</strong>')
    expect(h).toContain('<em>it</em>')
    expect(h).toContain('<code>code</code>')
    expect(h).toContain('<pre><code>block')
    expect(h).toContain('<li>a</li>')
    expect(h).toContain('<blockquote>')
    expect(h).toMatch(/<a href="https:\/\/example.org" target="_blank" rel="noopener noreferrer nofollow">site<\/a>/)
  })

  it('keeps raw HTML as text', () => {
    const h = render('<img src=x onerror="alert(1)"><script>alert(2)</script>')
    expect(h).not.toContain('<img')
    expect(h).not.toContain('<script')
    expect(h).toContain('&lt;img')
  })

  it('drops javascript: and data: links', () => {
    for (const src of ['[x](javascript:alert(1))', '[x](JaVaScRiPt:alert(1))', '[x](data:text/html,<b>x</b>)', '<javascript:alert(1)>', '[x](vbscript:msgbox)']) {
      const h = render(src)
      expect(h).not.toMatch(/href="(?!https?:)/i)
      expect(h.toLowerCase()).not.toContain('href="javascript')
    }
  })

  it('does not load images', () => {
    expect(render('![t](https://tracker.example/p.gif)')).not.toContain('<img')
  })

  it('marks mentions and channels but not inside code or links', () => {
    const h = render('hi @alice see #general `@bob` [@carol](https://e.org)')
    expect(h).toContain('<span class="mention" data-mention="alice">@alice</span>')
    expect(h).toContain('<span class="channel-ref" data-channel="general">#general</span>')
    expect(h).toContain('<code>@bob</code>')
    expect(h).not.toContain('data-mention="carol"')
  })

  it('escapes hostile mention names', () => {
    const h = render('@a"onmouseover=x')
    expect(h).not.toContain('onmouseover=x"')
  })
})
