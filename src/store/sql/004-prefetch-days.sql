-- SPDX-License-Identifier: GPL-3.0-or-later
-- Version 4: IMAP bodies downloaded ahead for offline reading: mail from
-- the last prefetch_days days (0 = none, 36500 = all of it).

ALTER TABLE accounts ADD COLUMN prefetch_days INTEGER NOT NULL DEFAULT 30
  CHECK (prefetch_days BETWEEN 0 AND 36500);
