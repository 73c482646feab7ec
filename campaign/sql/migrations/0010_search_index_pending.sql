-- The back office's search index (trigrams, GIN) takes new signatures in a pending list, merged
-- into the index by the insert that finds the list over gin_pending_list_limit (4 MB by
-- default): in a rush, about every 2,000 signatures, one batch of signings waited for the whole
-- merge, and those waits were the slowest signings (bench/RESULTS.md). The service now merges
-- the list itself, in the background, every few hundred signings it writes
-- (campaign/signing_batch.py; autovacuum does it too between rushes), and the limit is raised
-- so that an insert finds the list full only if that cleaning falls behind.
ALTER INDEX signatures_admin_search SET (gin_pending_list_limit = 16384);
