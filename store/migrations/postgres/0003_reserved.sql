-- Version 3 is reserved for a change made alongside this one, which brings
-- its own 0003 file; this placeholder keeps the versions gap-free until
-- then and must be deleted when that file arrives.
SELECT 1;
