// The shapes the client uses, re-exported from the types generated from
// the Go protocol package (types.gen.ts, checked by a Go test) under the
// names the client's code reads best with.
export type {
  User,
  Channel,
  Member,
  Message,
  Sender,
  ReactionCount,
  Session,
  IdentityInfo,
  SsoLinkResponse,
  SsoProvidersResponse,
  Passkey,
  PasskeyBegin,
  PasskeyResponse,
  PasskeysResponse,
} from './types.gen'
export type { Tokens } from './http'
