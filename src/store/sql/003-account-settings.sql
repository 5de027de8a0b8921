-- SPDX-License-Identifier: GPL-3.0-or-later
-- Version 3: per-account download settings.
--
-- POP3: leave_on_server 0 deletes each message from the server once it is
-- stored here; 1 keeps a copy there, for keep_days days after download
-- (0 = no limit), and, with delete_when_deleted, until it is deleted here.
-- size_limit: larger messages are downloaded in part (0 = no limit).
-- check_interval: seconds between automatic checks (0 = only on request).

ALTER TABLE accounts ADD COLUMN leave_on_server INTEGER NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN keep_days INTEGER NOT NULL DEFAULT 0 CHECK (keep_days >= 0);
ALTER TABLE accounts ADD COLUMN delete_when_deleted INTEGER NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN size_limit INTEGER NOT NULL DEFAULT 0 CHECK (size_limit >= 0);
ALTER TABLE accounts ADD COLUMN check_interval INTEGER NOT NULL DEFAULT 600 CHECK (check_interval >= 0);
