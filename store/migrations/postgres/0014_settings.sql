-- rollout: expand
-- Settings an admin changes while the server runs (package settings). A
-- row is an override of the node's configured default (its flag); no row
-- means the default. value is the setting's JSON value ("invite", 30).
-- Every node reads the table at start, on a bus notification and
-- periodically; a key this binary does not know is ignored.

CREATE TABLE settings (
    key        TEXT   NOT NULL PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_by TEXT   NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);
