// Unhidra's end-to-end encryption protocol for the web client: the same
// protocol as the Go package e2ee/, byte for byte, specified by
// docs/protocol.md and checked against the JSON vectors the Go
// implementation generates (e2ee/testdata/vectors).
//
// The module is pure: no DOM, no network, no storage, no clock (callers
// pass `now` in Unix seconds) and no global state. Every primitive comes
// from the audited @noble libraries. Every random input is read from the
// RandomSource the caller passes (default: crypto.getRandomValues) in the
// order docs/protocol.md gives, so keys and messages are reproducible from
// seeds. Every refusal is an E2EEError whose `code` is a docs/protocol.md
// error name. States (Session, SenderKey, InboundSenderKey, ClientKeys)
// change only when an operation succeeds and serialise to versioned bytes
// in the Go implementation's layouts, with a generation counter the caller
// uses to never save an older state over a newer one.

export * from './accept'
export * from './backup'
export {
  base64, checkID, compareIDs, hex, messageType, scriptedRandom, systemRandom, unbase64, unhex, unixSeconds, Version,
  TypeApplication, TypeMessage, TypePrekeyMessage, TypeSenderKeyDistribution, TypeSenderKeyMessage, TypeSenderKeyRequest,
  type RandomSource,
} from './bytes'
export * from './directory'
export * from './envelope'
export * from './errors'
export * from './file'
export * from './identity'
export { PadBlock } from './kdf'
export * from './keys'
export * from './prekey'
export { KEMCiphertextSize, KEMPublicKeySize, KEMSeedSize, KeySize, SignatureSize } from './primitives'
export * from './safety'
export * from './senderkey'
export {
  initiate, marshalPrekeyMessage, MaxPreviousChains, MaxSkip, MaxSkippedKeys, parsePrekeyMessage, parseRatchetMessage, respond,
  Session, SkippedKeyMaxAge, type PrekeyMessage,
} from './session'
