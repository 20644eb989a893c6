// Package ratelimit provides the server's abuse limits: [Spec], the "N/s",
// "N/min", "N/h" or "0" form the --rate-* flags take; [Limiter], a keyed
// token bucket for per-IP, per-user and per-connection limits; and
// [Backoff], the per-account delay after failed logins.
//
// # Guarantees
//
//   - Memory is bounded. A Limiter or Backoff never holds more than its
//     MaxKeys keys, however many distinct keys a flood presents; at the bound
//     the least recently used key is forgotten. Keys whose state carries no
//     information any more (a full bucket, failures that have decayed) are
//     dropped lazily, a few per call, or all at once by Sweep.
//   - Time comes from the injected Now and is measured as a difference from
//     the moment of construction, so with the default time.Now the monotonic
//     clock is used: a wall-clock step neither releases nor extends a limit.
//   - Keys are spread over up to 32 independently locked shards by a hash
//     seeded per instance, so concurrent callers rarely share a lock and a
//     client cannot choose keys that all land in one shard to evict a
//     victim's state early.
//   - Every method is safe for concurrent use, and nothing is package-level
//     state: each Limiter and Backoff owns its clock, seed and table.
//
// # Limiter
//
// A Limiter with Spec N/Per admits Burst events at once (N by default) and
// then one every Per/N. A refused event costs nothing, so a client that waits
// out the returned retryAfter is admitted. A disabled Spec ("0") admits
// everything and keeps no state.
//
// # Backoff and the two keys of a login
//
// The auth service keeps two Backoffs. The first is keyed by account and
// client network (NetworkKey in package clientip: the /24 or /64) with the
// default Max of 5 minutes: after Free failures from one network each further
// try there waits twice as long as the last, so guessing from any one place
// soon slows to one try per Max.
//
// That alone does not stop a distributed attacker, whose every network starts
// with Free free tries. So the second Backoff is keyed by the account alone:
// after Free failures from anywhere, at most one try per wait is admitted
// against that account in total. Its Max is deliberately small (30 s) because
// anyone on any network can drive it to its cap: a small cap means the worst
// such an attacker can do to the real user is make them wait Max between
// tries. It is a delay, never a lockout — no number of failures makes a wait
// longer than Max, and failures are forgotten Forget (15 minutes) after the
// last one. The real user's own (account, network) key is unaffected by
// failures elsewhere.
//
// The admitted try is first come, first served: an attacker who polls the
// account continuously will take most of the slots, and the real user may
// see several short Retry-After answers in a row while the attack lasts. The
// per-IP login rate limit bounds how fast any one network can poll; giving a
// known device priority would need state this package does not have.
//
// Check only looks, so a burst of parallel requests arriving the moment a
// wait ends would all pass it before the first Fail landed, and the
// account-wide bound would be worth little against a botnet. Reserve closes
// that gap: the try it admits counts as a failure until it is reported. A
// login then goes:
//
//	if d := perNetwork.Reserve(netKey); d > 0 {
//		return rateLimited(d)
//	}
//	if d := perAccount.Reserve(account); d > 0 {
//		perNetwork.Release(netKey) // this try never happened
//		return rateLimited(d)
//	}
//	if !passwordOK {
//		perNetwork.Fail(netKey)
//		perAccount.Fail(account)
//		return unauthenticated()
//	}
//	perNetwork.Succeed(netKey)
//	perAccount.Release(account)
//
// The account-wide key is released, not cleared, on success: clearing it
// would hand a distributed attacker Free fresh tries after every legitimate
// login. It decays on its own.
//
// An unknown username must take the failure path too, or the backoff would
// tell which accounts exist.
package ratelimit
