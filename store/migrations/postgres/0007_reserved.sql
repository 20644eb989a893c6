-- rollout: expand
-- Reserved: another branch adds migration 0007; this placeholder keeps the
-- version sequence gap-free until it is merged (then this file is replaced).
SELECT 1;
