// Package token issues and verifies Unhidra access tokens: short-lived JWTs
// signed with RS256 and published as a JWKS at /.well-known/jwks.json.
//
// A [KeySet] holds one active signing key and the retired keys that must still
// verify tokens signed before a rotation. An [Issuer] signs [Claims] with the
// active key and verifies tokens against the whole set.
//
// Guarantees of [Issuer.Verify]: it accepts a token only if
//
//   - the string is exactly a compact JWS as [Issuer.Issue] produces it
//     (three canonical base64url segments, no whitespace, at most 8 KiB);
//   - the header says alg RS256 and typ at+jwt, names a kid of the key set,
//     and carries no crit extensions: alg none, HMAC algorithms (the
//     public-key-as-HMAC-secret confusion), other RSA or EC algorithms and
//     keys embedded in the header are never considered;
//   - the RS256 signature verifies under that kid's public key;
//   - iss and aud match the Issuer's configuration, and exp, nbf, iat, sub,
//     sid, role and jti are all present;
//   - exp is in the future and nbf and iat are not, within the configured
//     leeway;
//   - when the key is retired: the token was issued before the key's
//     retirement and the retention window (KeyOptions.RetainFor) has not
//     run out, even if the key has not yet been pruned from disk.
//
// Every rejection is an error for which errors.Is(err, ErrInvalid) holds and
// whose unhidra error code is "unauthenticated"; its text carries detail for
// logs but never the token or any key material.
//
// Verify does not know about sessions: a token of a revoked session stays
// cryptographically valid until it expires, so callers that must react to
// revocation at once check the session (sid) as well.
//
// Keys on disk ([LoadOrCreate]) are PKCS#8 PEM files named
// <created>_<kid>.pem, 0600 in a 0700 directory. The creation time in the name
// is the only metadata: a key is retired when its successor is created, so a
// rotation is a single atomic file creation and a crash can never leave the
// metadata and the key disagreeing. The kid is the RFC 7638 thumbprint of the
// public key, so every node that loads the same key derives the same kid.
//
// A cluster shares one key set through the database ([OpenDB]): each key is
// a row (kid, generation, creation time, the PKCS#8 key sealed under the
// key-encryption key with package auth/seal, bound to its kid). The
// generation is unique, so when several nodes rotate at once exactly one new
// key is stored and the others adopt it. Every node reloads the set
// periodically ([KeySet.Refresh]) and, at most once a second, when Verify
// meets an unknown kid, so a key another node has just made verifies at
// once. Until its next refresh a node may still sign with the key another
// node retired; Verify allows for that interval on top of the leeway.
package token
