-- rollout: expand
-- Placeholder for migration 0007, which another branch adds; this one only
-- keeps the numbering gap-free so that 0008 runs. Replace it with the real
-- 0007 when merging (it must stay a no-op on databases that ran it).
SELECT 1;
