-- rollout: expand
-- The audit log (store/auditstore, docs/audit.md). Services write events
-- into audit_outbox in the transaction of the action they record; the one
-- node holding the audit_lease row moves them, in order, into audit_log,
-- linking each entry to the one before by hash, and signs checkpoints.
-- Rows hold ids and small metadata, never message content.

CREATE TABLE audit_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    actor_type  TEXT    NOT NULL,
    actor_id    TEXT    NOT NULL,
    target_type TEXT    NOT NULL,
    target_id   TEXT    NOT NULL,
    ip          TEXT    NOT NULL,
    result      TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    metadata    TEXT    NOT NULL
);

CREATE TABLE audit_log (
    seq         INTEGER NOT NULL PRIMARY KEY,
    at          INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    actor_type  TEXT    NOT NULL,
    actor_id    TEXT    NOT NULL,
    target_type TEXT    NOT NULL,
    target_id   TEXT    NOT NULL,
    ip          TEXT    NOT NULL,
    result      TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    metadata    TEXT    NOT NULL,
    prev_hash   BLOB    NOT NULL,
    hash        BLOB    NOT NULL
) STRICT;
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);

CREATE TABLE audit_checkpoints (
    seq       INTEGER NOT NULL PRIMARY KEY,
    hash      BLOB    NOT NULL,
    at        INTEGER NOT NULL,
    key_id    TEXT    NOT NULL,
    signature BLOB    NOT NULL
) STRICT;

-- One row per singleton job: 'chain' is the chainer's lease; position is
-- what a job has done so far ('syslog': the last entry forwarded). The
-- jobs insert their rows when they first run.
CREATE TABLE audit_lease (
    name       TEXT    NOT NULL PRIMARY KEY,
    owner      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    position   INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The log and its checkpoints are append-only (SQLite has no TRUNCATE; a
-- DELETE without WHERE fires these triggers too).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused'); END;
