// Private keys, each kept as the bytes it is derived from (docs/protocol.md
// "Randomness"): an Ed25519 key is its 32-byte seed, an X25519 key its 32
// private bytes, an ML-KEM-768 key its 64-byte seed d || z.

import { checkDHPublic } from './accept'
import { readRand, type RandomSource } from './bytes'
import { fail } from './errors'
import {
  ed25519Public,
  ed25519Sign,
  KEMSeedSize,
  KeySize,
  mlkemDecapsulate,
  mlkemKeygen,
  x25519Public,
  x25519Raw,
} from './primitives'

/** SigningKey is an Ed25519 private key, kept as its seed. */
export class SigningKey {
  readonly publicKey: Uint8Array
  private readonly seedBytes: Uint8Array

  constructor(seed: Uint8Array) {
    if (!(seed instanceof Uint8Array) || seed.length !== KeySize) fail('invalid_key', `signing seed must be ${KeySize} bytes`)
    this.seedBytes = seed.slice()
    this.publicKey = ed25519Public(this.seedBytes)
  }

  static generate(rand?: RandomSource): SigningKey {
    return new SigningKey(readRand(rand, KeySize))
  }

  /** seed returns a copy of the 32-byte seed, the whole private key. */
  seed(): Uint8Array {
    return this.seedBytes.slice()
  }

  /**
   * sign signs an already domain-separated message (see context()); every
   * signature of the protocol has its own label.
   */
  sign(msg: Uint8Array): Uint8Array {
    return ed25519Sign(this.seedBytes, msg)
  }
}

/** DHKey is an X25519 private key: any 32 bytes, clamped as RFC 7748 says. */
export class DHKey {
  private readonly priv: Uint8Array
  private pub: Uint8Array | undefined

  constructor(priv: Uint8Array) {
    if (!(priv instanceof Uint8Array) || priv.length !== KeySize) fail('invalid_key', `X25519 private key must be ${KeySize} bytes`)
    this.priv = priv.slice()
  }

  /** publicKey is X25519(priv, 9), computed when first needed (a loaded session may never need it). */
  get publicKey(): Uint8Array {
    if (!this.pub) this.pub = x25519Public(this.priv)
    return this.pub
  }

  static generate(rand?: RandomSource): DHKey {
    return new DHKey(readRand(rand, KeySize))
  }

  /** bytes returns a copy of the 32 private bytes as given (unclamped). */
  bytes(): Uint8Array {
    return this.priv.slice()
  }

  /** dh is X25519(this, pub) after pub's acceptance rule; an all-zero result is refused too. */
  dh(pub: Uint8Array): Uint8Array {
    checkDHPublic(pub)
    return x25519Raw(this.priv, pub)
  }
}

/** KEMKey is an ML-KEM-768 decapsulation key, kept as its 64-byte seed. */
export class KEMKey {
  readonly publicKey: Uint8Array
  private readonly seedBytes: Uint8Array
  private readonly expanded: Uint8Array

  constructor(seed: Uint8Array) {
    if (!(seed instanceof Uint8Array) || seed.length !== KEMSeedSize) fail('invalid_key', `ML-KEM seed must be ${KEMSeedSize} bytes`)
    this.seedBytes = seed.slice()
    const { publicKey, secretKey } = mlkemKeygen(this.seedBytes)
    this.publicKey = publicKey
    this.expanded = secretKey
  }

  static generate(rand?: RandomSource): KEMKey {
    return new KEMKey(readRand(rand, KEMSeedSize))
  }

  /** seed returns a copy of the 64-byte seed, the whole private key. */
  seed(): Uint8Array {
    return this.seedBytes.slice()
  }

  decapsulate(ciphertext: Uint8Array): Uint8Array {
    return mlkemDecapsulate(ciphertext, this.expanded)
  }
}
