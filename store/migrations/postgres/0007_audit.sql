-- rollout: expand
-- The audit log (store/auditstore, docs/audit.md). Services write events
-- into audit_outbox in the transaction of the action they record; the one
-- node holding the audit_lease row moves them, in order, into audit_log,
-- linking each entry to the one before by hash, and signs checkpoints.
-- Rows hold ids and small metadata, never message content.

CREATE TABLE audit_outbox (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    action      TEXT   NOT NULL,
    actor_type  TEXT   NOT NULL,
    actor_id    TEXT   NOT NULL,
    target_type TEXT   NOT NULL,
    target_id   TEXT   NOT NULL,
    ip          TEXT   NOT NULL,
    result      TEXT   NOT NULL,
    reason      TEXT   NOT NULL,
    metadata    TEXT   NOT NULL
);

CREATE TABLE audit_log (
    seq         BIGINT NOT NULL PRIMARY KEY,
    at          BIGINT NOT NULL,
    action      TEXT   NOT NULL,
    actor_type  TEXT   NOT NULL,
    actor_id    TEXT   NOT NULL,
    target_type TEXT   NOT NULL,
    target_id   TEXT   NOT NULL,
    ip          TEXT   NOT NULL,
    result      TEXT   NOT NULL,
    reason      TEXT   NOT NULL,
    metadata    TEXT   NOT NULL,
    prev_hash   BYTEA  NOT NULL,
    hash        BYTEA  NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);

CREATE TABLE audit_checkpoints (
    seq       BIGINT NOT NULL PRIMARY KEY,
    hash      BYTEA  NOT NULL,
    at        BIGINT NOT NULL,
    key_id    TEXT   NOT NULL,
    signature BYTEA  NOT NULL
);

-- One row per singleton job: 'chain' is the chainer's lease; position is
-- what a job has done so far ('syslog': the last entry forwarded). The
-- jobs insert their rows when they first run.
CREATE TABLE audit_lease (
    name       TEXT   NOT NULL PRIMARY KEY,
    owner      TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    position   BIGINT NOT NULL DEFAULT 0
);

-- The log and its checkpoints are append-only: no UPDATE, DELETE or
-- TRUNCATE, whoever asks (a superuser included, which grants alone would
-- not stop).
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
