-- SPDX-License-Identifier: GPL-3.0-or-later
-- Version 7: the journal learns two things.
--
-- 'append': a message stored here first (a copy from another account, a
-- sent message, a draft) waits in the journal to be uploaded to its folder
-- on the server; add_flags holds the flags it goes up with.
--
-- modseq: the message's CONDSTORE mod-sequence as this side knew it when
-- the change was made.  Replayed with UNCHANGEDSINCE, a change made to a
-- message that another client has changed since (the server's MODSEQ is
-- higher) is not applied: the other client's change is the newer one.
--
-- SQLite cannot widen a CHECK constraint in place: the table is rebuilt.

CREATE TABLE journal_v7 (
  id             INTEGER PRIMARY KEY,
  account_id     INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  folder_id      INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
  message_id     INTEGER,                 -- local row; NULL once gone
  uid            INTEGER,
  uidl           TEXT,
  op             TEXT NOT NULL CHECK (op IN ('flags', 'delete', 'move', 'append')),
  add_flags      INTEGER NOT NULL DEFAULT 0,
  remove_flags   INTEGER NOT NULL DEFAULT 0,
  dest_folder_id INTEGER REFERENCES folders (id) ON DELETE SET NULL,
  created        INTEGER NOT NULL DEFAULT (unixepoch()),
  modseq         INTEGER
);
INSERT INTO journal_v7 (id, account_id, folder_id, message_id, uid, uidl, op,
                        add_flags, remove_flags, dest_folder_id, created)
  SELECT id, account_id, folder_id, message_id, uid, uidl, op,
         add_flags, remove_flags, dest_folder_id, created
    FROM journal;
DROP TABLE journal;
ALTER TABLE journal_v7 RENAME TO journal;
CREATE INDEX journal_account ON journal (account_id, id);
