-- rollout: expand
-- Audit retention (store/auditstore/prune.go, docs/audit.md "Retention").
-- A prune removes the oldest entries of audit_log, a prefix ending at a
-- signed checkpoint, and records in audit_prunes, in the same transaction,
-- the seq and hash of the last entry it removed, signed with the checkpoint
-- key: verification starts from the newest of these anchors.
--
-- audit_prunes is append-only like the log (no UPDATE, DELETE or
-- TRUNCATE). A DELETE of a log or checkpoint row is let through only in
-- the transaction that inserted an anchor at or above its seq (the
-- anchor row's xmin is the current transaction); everything else is
-- refused as before, whoever asks. The database cannot check an Ed25519
-- signature: an anchor written by someone without the key lets the
-- trigger through, and verification then refuses its signature.

CREATE TABLE audit_prunes (
    through_seq BIGINT NOT NULL PRIMARY KEY,
    hash        BYTEA  NOT NULL,
    at          BIGINT NOT NULL,
    key_id      TEXT   NOT NULL,
    signature   BYTEA  NOT NULL
);

-- The same function the triggers of 0007 call, replaced in place.
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_LEVEL = 'ROW' AND TG_TABLE_NAME IN ('audit_log', 'audit_checkpoints') THEN
        IF EXISTS (SELECT 1 FROM audit_prunes
                   WHERE through_seq >= OLD.seq AND xmin = pg_current_xact_id()::xid) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_prunes_append_only BEFORE UPDATE OR DELETE ON audit_prunes
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_prunes_no_truncate BEFORE TRUNCATE ON audit_prunes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
