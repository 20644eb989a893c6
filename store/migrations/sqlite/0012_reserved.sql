-- rollout: expand
-- Placeholder: this number belongs to a migration of another change that
-- is merged before this one; drop this file when that change lands.
SELECT 1;
