-- SPDX-License-Identifier: GPL-3.0-or-later
-- Version 9: one index fewer to keep up on every message stored.
--
-- messages_date (date, id, folder_id) was for walking every message by
-- date and keeping the inboxes' (the unified inbox); the query planner
-- reads the inboxes through messages_folder_date instead (one range per
-- inbox, then sorted), so it went unused while every insert paid for it.

DROP INDEX messages_date;
