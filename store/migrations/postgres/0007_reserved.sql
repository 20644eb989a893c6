-- rollout: expand
-- Reserved: its number is taken by a migration being written elsewhere.
SELECT 1;
