-- The publication: a scheduled closing date for the signatures (issue 7). Different from
-- `closed_at` (0005), which records when the campaign's status became `closed`: `closing_at` is
-- set in advance by an organiser, and from that instant the form closes by itself (decided on
-- each request from the clock, like the launch).
ALTER TABLE campaigns ADD COLUMN closing_at timestamptz;
