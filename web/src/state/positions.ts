// Resume positions: per channel, the seq of the last channel event the
// client has applied. Only frames that carry a durable channel event move
// them (API.md: a read receipt's seq is a read position, not an event), and
// a position never moves back, so a replayed or doubled frame cannot rewind
// what the next resume asks for.

const CHANNEL_EVENTS = new Set([
  'message',
  'message_updated',
  'message_deleted',
  'reaction',
  'channel_updated',
  'member_joined',
  'member_left',
])

export function isChannelEvent(type: string): boolean {
  return CHANNEL_EVENTS.has(type)
}

export class Positions {
  private at = new Map<string, number>()

  /** get is the position of a channel (0: from its start). */
  get(channelId: string): number {
    return this.at.get(channelId) ?? 0
  }

  /** has reports whether the channel is followed. */
  has(channelId: string): boolean {
    return this.at.has(channelId)
  }

  /** follow starts tracking a channel from seq unless it is further already. */
  follow(channelId: string, seq: number) {
    const cur = this.at.get(channelId)
    if (cur === undefined || seq > cur) this.at.set(channelId, seq)
  }

  /** forget stops tracking a channel (left or removed). */
  forget(channelId: string) {
    this.at.delete(channelId)
  }

  /**
   * observe advances a position from a frame. It returns 'new' for an event
   * past the position, 'old' for one already applied (a replay overlap) and
   * 'gap' when events were skipped: the caller reloads that channel.
   */
  observe(type: string, channelId: string, seq: number): 'new' | 'old' | 'gap' | 'none' {
    if (!isChannelEvent(type) || !channelId || !seq) return 'none'
    const cur = this.at.get(channelId)
    if (cur === undefined) {
      this.at.set(channelId, seq)
      return 'new'
    }
    if (seq <= cur) return 'old'
    this.at.set(channelId, seq)
    return seq === cur + 1 ? 'new' : 'gap'
  }

  /** snapshot is the resume frame's positions. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.at)
  }
}
