-- rollout: expand
-- Placeholder so that the numbering has no gap on this branch; replaced by
-- the migration of this number when branches are merged.
SELECT 1;
