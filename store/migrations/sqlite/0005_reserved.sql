-- rollout: expand
-- Placeholder: version 5 is taken by another branch of the scale-out work.
-- The migration runner wants versions without gaps (loadMigrations), so this
-- branch carries an empty 0005 to reach 0006. Delete this file when the
-- branch with the real 0005 is merged (two 0005 files fail every Open).
SELECT 1;
