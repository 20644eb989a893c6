// The envelope of every ciphertext the server stores or relays
// (docs/protocol.md "Envelope"), and the pairwise application payload.

import { checkID, messageType, readHeader, Reader, TypeApplication, TypeMessage, TypePrekeyMessage, Version, Writer, concat } from './bytes'
import { fail } from './errors'
import { parseSenderKeyMessage } from './senderkey'
import { parsePrekeyMessage, parseRatchetMessage } from './session'

/** Group protocols: the byte is there so MLS can be added without a new envelope version. */
export const GroupPairwise = 0x00
export const GroupSenderKeys = 0x01
export const GroupMLS = 0x02

export interface Envelope {
  groupProtocol: number
  senderUserId: string
  senderClientId: string
  body: Uint8Array
}

export function marshalEnvelope(e: Envelope): Uint8Array {
  checkID(e.senderUserId)
  checkID(e.senderClientId)
  return new Writer().u8(Version).u8(e.groupProtocol).str8(e.senderUserId).str8(e.senderClientId).raw(e.body).bytes()
}

/** parseEnvelope decodes an envelope and checks that its body has the layout its group protocol implies. */
export function parseEnvelope(b: Uint8Array): Envelope {
  const r = new Reader(b)
  const v = r.u8()
  const gp = r.u8()
  if (v !== Version) fail('unsupported_version', `envelope version ${v}`)
  const senderUserId = r.id()
  const senderClientId = r.id()
  const body = r.rest()
  switch (gp) {
    case GroupPairwise: {
      const t = messageType(body)
      if (t === TypeMessage) parseRatchetMessage(body)
      else if (t === TypePrekeyMessage) parsePrekeyMessage(body)
      else fail('invalid_message', `pairwise envelope of type ${t}`)
      break
    }
    case GroupSenderKeys:
      parseSenderKeyMessage(body)
      break
    case GroupMLS:
      fail('unsupported_version', `MLS envelopes are not supported by protocol version ${Version}`)
      break
    default:
      fail('unsupported_version', `group protocol ${gp}`)
  }
  return { groupProtocol: gp, senderUserId, senderClientId, body }
}

/** marshalApplication wraps application bytes (the client's own format) for a pairwise session. */
export function marshalApplication(body: Uint8Array): Uint8Array {
  return concat(new Uint8Array([Version, TypeApplication]), body)
}

export function parseApplication(b: Uint8Array): Uint8Array {
  const r = new Reader(b)
  readHeader(r, TypeApplication)
  return r.rest()
}
