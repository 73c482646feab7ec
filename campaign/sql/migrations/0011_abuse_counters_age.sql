-- The index of the limits' counters by hour served only `campaign purge` (counters older than a
-- few days, once in a while: a sequential scan does). Signings paid for it twice in a rush: one
-- more index entry for each of their counters, and the campaign-wide sum (abuse_assess,
-- abuse_assess_batch: `window_start` = this hour and `key` = one of the campaign's shards)
-- planned on it rather than on the primary key while the table's statistics were those of an
-- empty table: every batch of signings read every counter of the hour, 125 million rows in
-- 10 s after 100,000 signings (bench/RESULTS.md), and the signings slowed down as they came.
DROP INDEX abuse_counters_age;
