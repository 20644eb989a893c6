// @vitest-environment node
//
// Known-answer tests of the primitives as this module calls them, with the
// published vectors the Go tests use (e2ee/kat_test.go): RFC 7748 §5.2 and
// §6.1, RFC 8032 §7.1, RFC 8439 §2.8.2, RFC 5869 Appendix A, and the
// accumulated ML-KEM-768 vectors of C2SP CCTV.

import { x25519 } from '@noble/curves/ed25519.js'
import { extract } from '@noble/hashes/hkdf.js'
import { shake128 } from '@noble/hashes/sha3.js'
import { describe, expect, it } from 'vitest'
import { checkDHPublic, verifySignature } from './accept'
import { hex, unhex, utf8 } from './bytes'
import { errorCode } from './errors'
import { DHKey, KEMKey, SigningKey } from './keys'
import { hkdfSHA256, mlkemEncapsulate, open, seal, sha256 } from './primitives'

function seq(from: number, to: number): Uint8Array {
  const b = new Uint8Array(to - from + 1)
  for (let i = 0; i < b.length; i++) b[i] = from + i
  return b
}

describe('RFC 7748', () => {
  it('§5.2 vectors, the protocol refusing the top-bit one', () => {
    for (const [k, u, out] of [
      ['a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4', 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c', 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552'],
      ['4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d', 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493', '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957'],
    ] as const) {
      const uu = unhex(u)
      uu[31]! &= 0x7f
      expect(hex(new DHKey(unhex(k)).dh(uu))).toBe(out)
    }
    expect(errorCode((() => { try { checkDHPublic(unhex('e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493')) } catch (e) { return e } })())).toBe('invalid_key')
  })

  it('§5.2 iterated 1,000 times', () => {
    let k = new Uint8Array(32)
    let u = new Uint8Array(32)
    k[0] = 9
    u[0] = 9
    for (let i = 1; i <= 1000; i++) {
      const out = x25519.getSharedSecret(k, u)
      u = k
      k = out
      if (i === 1) expect(hex(k)).toBe('422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079')
    }
    expect(hex(k)).toBe('684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51')
  }, 120_000)

  it('§6.1 Diffie-Hellman through the module key type', () => {
    const alice = new DHKey(unhex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'))
    const bob = new DHKey(unhex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'))
    expect(hex(alice.publicKey)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a')
    expect(hex(bob.publicKey)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f')
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742'
    expect(hex(alice.dh(bob.publicKey))).toBe(shared)
    expect(hex(bob.dh(alice.publicKey))).toBe(shared)
  })
})

describe('RFC 8032 §7.1', () => {
  for (const [name, seed, pub, msg, sig] of [
    ['test 1', '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', '',
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'],
    ['test 2', '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', '72',
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'],
    ['test 3', 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7', 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025', 'af82',
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a'],
  ] as const) {
    it(name, () => {
      const k = new SigningKey(unhex(seed))
      expect(hex(k.publicKey)).toBe(pub)
      const s = k.sign(unhex(msg))
      expect(hex(s)).toBe(sig)
      verifySignature(k.publicKey, unhex(msg), s)
    })
  }
})

describe('RFC 8439 §2.8.2', () => {
  it('AEAD_CHACHA20_POLY1305', () => {
    const key = seq(0x80, 0x9f)
    const nonce = unhex('070000004041424344454647')
    const aad = unhex('50515253c0c1c2c3c4c5c6c7')
    const pt = utf8("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")
    const ct = seal(key, nonce, pt, aad)
    expect(hex(ct)).toBe(
      'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
      '1ae10b594f09e26a7e902ecbd0600691')
    expect(open(key, nonce, ct, aad)).toEqual(pt)
    ct[ct.length - 1]! ^= 1
    expect(() => open(key, nonce, ct, aad)).toThrow(/decrypt/)
  })
})

describe('RFC 5869', () => {
  for (const [name, ikm, salt, info, l, prk, okm] of [
    ['A.1', new Uint8Array(22).fill(0x0b), seq(0x00, 0x0c), seq(0xf0, 0xf9), 42, '077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5',
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865'],
    ['A.2', seq(0x00, 0x4f), seq(0x60, 0xaf), seq(0xb0, 0xff), 82, '06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244',
      'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87'],
    ['A.3', new Uint8Array(22).fill(0x0b), new Uint8Array(0), new Uint8Array(0), 42, '19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04',
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8'],
  ] as const) {
    it(name, () => {
      expect(hex(extract(sha256, ikm, salt.length ? salt : undefined))).toBe(prk)
      expect(hex(hkdfSHA256(ikm, salt, info, l))).toBe(okm)
    })
  }
})

describe('ML-KEM-768', () => {
  it('the accumulated vectors of C2SP CCTV (100 key pairs)', () => {
    const s = shake128.create({})
    const o = shake128.create({})
    for (let i = 0; i < 100; i++) {
      const k = new KEMKey(s.xof(64))
      o.update(k.publicKey)
      const { ciphertext, sharedSecret } = mlkemEncapsulate(k.publicKey, s.xof(32))
      o.update(ciphertext)
      o.update(sharedSecret)
      expect(k.decapsulate(ciphertext)).toEqual(sharedSecret)
      o.update(k.decapsulate(s.xof(1088)))
    }
    expect(hex(o.xof(32))).toBe('1114b1b6699ed191734fa339376afa7e285c9e6acf6ff0177d346696ce564415')
  }, 120_000)
})
