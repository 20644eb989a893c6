-- rollout: expand
-- Rate limits and login backoffs that every node enforces together
-- (store/ratestore): the state lives here rather than in each node's memory,
-- so N nodes allow the limit once, not N times, and a restart forgets
-- nothing. Instants are unix nanoseconds of the deciding node's clock.
-- Keys are namespace:key, or namespace#hash for keys that are long or not
-- valid text, so no key is longer than about 170 bytes.

-- A GCRA bucket per key: full_at is the instant the bucket is full again.
-- A row whose full_at has passed says nothing and is swept.
CREATE TABLE rate_limits (
    key     TEXT    NOT NULL PRIMARY KEY,
    full_at INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_limits_full_at ON rate_limits (full_at);

-- A failed-login backoff per key (ratelimit.BackoffState): failures and
-- reserved tries in flight. empty_at is when the row says nothing any more
-- (its failures forgotten, its reservations lapsed); rows past it are swept.
CREATE TABLE backoffs (
    key       TEXT    NOT NULL PRIMARY KEY,
    fails     INTEGER NOT NULL,
    last_fail INTEGER NOT NULL,
    held      INTEGER NOT NULL,
    held_at   INTEGER NOT NULL,
    empty_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX backoffs_empty_at ON backoffs (empty_at);
