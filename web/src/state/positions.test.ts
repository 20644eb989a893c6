import { describe, expect, it } from 'vitest'
import { Positions } from './positions'

describe('Positions', () => {
  it('advances on channel events only, never backwards', () => {
    const p = new Positions()
    p.follow('c', 10)
    expect(p.observe('message', 'c', 11)).toBe('new')
    expect(p.observe('read', 'c', 99)).toBe('none') // a read position, not an event
    expect(p.observe('typing', 'c', 0)).toBe('none')
    expect(p.observe('message', 'c', 11)).toBe('old') // replay overlap
    expect(p.observe('reaction', 'c', 9)).toBe('old')
    expect(p.get('c')).toBe(11)
    expect(p.snapshot()).toEqual({ c: 11 })
  })

  it('reports a gap so the channel is reloaded', () => {
    const p = new Positions()
    p.follow('c', 3)
    expect(p.observe('message_deleted', 'c', 6)).toBe('gap')
    expect(p.get('c')).toBe(6)
  })

  it('follows new channels and forgets left ones', () => {
    const p = new Positions()
    expect(p.observe('member_joined', 'n', 4)).toBe('new')
    p.follow('n', 2) // a channel list loaded later does not rewind it
    expect(p.get('n')).toBe(4)
    p.forget('n')
    expect(p.has('n')).toBe(false)
    expect(p.snapshot()).toEqual({})
  })
})
