// Package ratelimit provides the server's abuse limits: [Spec], the "N/s",
// "N/min", "N/h" or "0" form the --rate-* flags take; [Limiter], a keyed
// token bucket for per-IP, per-user and per-connection limits; and
// [Backoff], the per-account delay after failed logins. [Rate] and
// [BackoffRules] are their arithmetic, which store/ratestore applies to
// database rows for the limits that every node shares.
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
// # Limits across nodes
//
// A Limiter or Backoff holds its state in one process: several `unhidra
// serve` nodes behind a load balancer would each allow the limit, three
// nodes three times the logins. Limits that must hold for the cluster
// (login and registration per client IP, the failed-login backoffs, device
// registration next) therefore keep their state in the database, through
// store/ratestore, which applies this package's arithmetic (Rate.Ceiling
// and Rate.Next, BackoffRules) to rows, so that its decisions are exactly
// these types' decisions. The database rather than the bus or a cache:
// every node always has it, whichever bus it runs (in-process, NATS or
// Redis); it is one code path for one node (SQLite) and many (PostgreSQL);
// it survives restarts; and logins and registrations already cost an
// Argon2 hash, beside which a row write is cheap. The consumers take small
// interfaces of the database's shape (a context in, an error out: a limit
// that cannot be checked refuses, it never admits), which WithContext gives
// the in-memory types too. The in-memory Limiter stays in front of the
// shared one as a cheap node-local first filter (httpapi explains why);
// limits that only guard one node's resources (per WebSocket connection,
// per frame) stay in memory alone.
//
// # Limiter
//
// A Limiter with Spec N/Per admits Burst events at once (N by default) and
// then one every Per/N. A refused event costs nothing, so a client that waits
// out the returned retryAfter is admitted. A disabled Spec ("0") admits
// everything and keeps no state.
//
// # Backoff and the keys of a login
//
// The auth service keeps three Backoffs and promises: an attacker can slow
// the real user down, never lock them out. Precisely:
//
//   - A login that presents a valid device token of the account (issued by
//     an earlier successful login, see auth/device.go) is judged only by the
//     failures of that device token: failures from any network, or with any
//     other token, never refuse or delay it.
//   - A login without one, from a client network (NetworkKey in package
//     clientip: the /24 or /64) that has no remembered failure against the
//     account, is never refused because of failures elsewhere. The
//     account-wide key can only make it wait, at most 1 s per attempt
//     (auth.Config.MaxAccountDelay), on the server, before the password is
//     checked.
//   - A login without a device token from a network that has failed against
//     the account is judged by that network's key and, once the account has
//     had Free failures from anywhere, by the account-wide key too: it may
//     be refused with a Retry-After of up to the account-wide Max (30 s).
//
// The first Backoff is keyed by account and client network, with the
// default Max of 5 minutes: after Free failures from one network each
// further try there waits twice as long as the last, so guessing from any
// one place soon slows to one try per Max. The device Backoff is the same,
// keyed by account and device token instead.
//
// The network key alone does not stop a distributed attacker, whose every
// network starts with Free free tries. So the third Backoff is keyed by the
// account alone (Free 20, Max 30 s). Once it is past Free, a network that
// has failed against the account is refused until the account-wide wait
// ends, so each attacker network gets its first try and little more; a
// network that has not failed, the real user's new laptop as much as an
// attacker's fresh address, is admitted after a bounded delay. What that
// leaves an attacker with many networks (trivially many IPv6 /64s) is about
// one guess per fresh network per Forget window, each made to wait 1 s; the
// password policy, the per-IP rate limit and the hashing cost bound the
// rest. A real user who mistypes during such an attack without a device
// token turns their own network into one that failed, and waits like the
// attacker until their failure is forgotten (15 minutes) or until they use a
// device that has logged in before.
//
// Check only looks, so a burst of parallel requests arriving the moment a
// wait ends would all pass it before the first Fail landed, and the
// account-wide bound would be worth little against a botnet. Reserve closes
// that gap: the try it admits counts as a failure until it is reported;
// Admit does the same for a try that is delayed rather than refused. A login
// without a device token then goes:
//
//	clean := perNetwork.Failures(netKey) == 0
//	if d := perNetwork.Reserve(netKey); d > 0 {
//		return rateLimited(d)
//	}
//	if !clean {
//		if d := perAccount.Reserve(account); d > 0 {
//			perNetwork.Release(netKey) // this try never happened
//			return rateLimited(d)
//		}
//	} else if d := perAccount.Admit(account); d > 0 {
//		sleep(min(d, time.Second))
//	}
//	if !passwordOK {
//		perNetwork.Fail(netKey)
//		perAccount.Fail(account)
//		return unauthenticated()
//	}
//	perNetwork.Succeed(netKey)
//	perAccount.Release(account)
//
// and one with a valid device token uses only perDevice.Reserve, Fail and
// Succeed on its device key.
//
// The account-wide key is released, not cleared, on success: clearing it
// would hand a distributed attacker Free fresh tries after every legitimate
// login. It decays on its own.
//
// An unknown username must take the failure path too, or the backoff would
// tell which accounts exist.
package ratelimit
