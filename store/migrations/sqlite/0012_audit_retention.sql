-- rollout: expand
-- Audit retention (store/auditstore/prune.go, docs/audit.md "Retention").
-- A prune removes the oldest entries of audit_log, a prefix ending at a
-- signed checkpoint, and records in audit_prunes, in the same transaction,
-- the seq and hash of the last entry it removed, signed with the checkpoint
-- key: verification starts from the newest of these anchors.
--
-- audit_prunes is append-only like the log. The log's and the checkpoints'
-- DELETE triggers now let through only rows at or below the newest anchor:
-- the prune deletes them in the transaction that records the anchor, so
-- once it commits no such row is left and the triggers refuse every DELETE
-- again. SQLite cannot tell one transaction from another, nor check an
-- Ed25519 signature: an anchor written by someone without the key lets the
-- triggers through, and verification then refuses its signature.

CREATE TABLE audit_prunes (
    through_seq INTEGER NOT NULL PRIMARY KEY,
    hash        BLOB    NOT NULL,
    at          INTEGER NOT NULL,
    key_id      TEXT    NOT NULL,
    signature   BLOB    NOT NULL
) STRICT;

CREATE TRIGGER audit_prunes_no_update BEFORE UPDATE ON audit_prunes
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_prunes_no_delete BEFORE DELETE ON audit_prunes
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused'); END;

-- Replaced in place (SQLite has no CREATE OR REPLACE TRIGGER), in this
-- migration's transaction: a binary of the previous version, which never
-- deletes, finds triggers of the same names refusing the same statements.
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.seq > COALESCE((SELECT MAX(through_seq) FROM audit_prunes), 0)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused'); END;
DROP TRIGGER audit_checkpoints_no_delete;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
WHEN OLD.seq > COALESCE((SELECT MAX(through_seq) FROM audit_prunes), 0)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused'); END;
