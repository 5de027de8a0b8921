-- SPDX-License-Identifier: GPL-3.0-or-later
-- Version 6: a message can be stored before its text is read.
--
-- A download commits each message with what its header section says (the
-- list shows it at once, and its UIDL is recorded with it); reading its
-- text for the preview, the attachment mark and the search index of the
-- body is the most expensive part of storing it, and waits for a pass in
-- the background (mailer-store-indexer.c) that finds such messages here,
-- also after a crash.

ALTER TABLE messages ADD COLUMN text_indexed INTEGER NOT NULL DEFAULT 1;
CREATE INDEX messages_text_pending ON messages (id) WHERE text_indexed = 0;
