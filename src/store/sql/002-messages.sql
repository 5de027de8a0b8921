-- SPDX-License-Identifier: GPL-3.0-or-later
-- Version 2: folders, messages, raw messages, threading, full-text search,
-- POP UIDL records and the journal of local changes to replay.

CREATE TABLE folders (
  id            INTEGER PRIMARY KEY,
  account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  path          TEXT NOT NULL,            -- server name, UTF-8
  display_name  TEXT NOT NULL DEFAULT '',
  parent_id     INTEGER REFERENCES folders (id) ON DELETE CASCADE,
  delimiter     TEXT,                     -- NULL for a flat namespace
  role          TEXT NOT NULL DEFAULT 'none'
                CHECK (role IN ('none', 'inbox', 'sent', 'drafts', 'trash',
                                'junk', 'archive', 'outbox')),
  subscribed    INTEGER NOT NULL DEFAULT 1,
  selectable    INTEGER NOT NULL DEFAULT 1,
  uidvalidity   INTEGER,
  uidnext       INTEGER,
  highestmodseq INTEGER,
  total_count   INTEGER NOT NULL DEFAULT 0,   -- kept by the triggers below
  unread_count  INTEGER NOT NULL DEFAULT 0,
  UNIQUE (account_id, path)
);
CREATE INDEX folders_role ON folders (role, id);
CREATE INDEX folders_parent ON folders (parent_id);

-- One row per message in a folder.  flags is a MailerMessageFlags mask
-- (seen 1, answered 2, flagged 4, deleted 8, draft 16).
CREATE TABLE messages (
  id             INTEGER PRIMARY KEY,
  folder_id      INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
  uid            INTEGER,                 -- IMAP UID; NULL until the server assigns one
  uidl           TEXT,                    -- POP3 UIDL
  message_id     TEXT,                    -- without <>
  in_reply_to    TEXT,
  refs           TEXT,                    -- References, space-separated, without <>
  thread_id      INTEGER NOT NULL DEFAULT 0,
  subject        TEXT NOT NULL DEFAULT '',
  from_name      TEXT NOT NULL DEFAULT '',
  from_address   TEXT NOT NULL DEFAULT '',
  to_list        TEXT NOT NULL DEFAULT '',
  cc_list        TEXT NOT NULL DEFAULT '',
  date           INTEGER NOT NULL DEFAULT 0,   -- unix time, for sorting
  size           INTEGER NOT NULL DEFAULT 0,
  flags          INTEGER NOT NULL DEFAULT 0,
  keywords       TEXT NOT NULL DEFAULT '',     -- IMAP keywords, space-separated
  has_attachment INTEGER NOT NULL DEFAULT 0,
  preview        TEXT NOT NULL DEFAULT '',
  body_state     INTEGER NOT NULL DEFAULT 0    -- 0 none, 1 partial, 2 complete
                 CHECK (body_state BETWEEN 0 AND 2),
  modseq         INTEGER
);
-- The message list: one folder, newest first.  Covering for the id list.
CREATE INDEX messages_folder_date ON messages (folder_id, date DESC, id DESC);
-- The unified inbox walks this one and keeps rows of inbox folders.
CREATE INDEX messages_date ON messages (date DESC, id DESC, folder_id);
CREATE UNIQUE INDEX messages_folder_uid ON messages (folder_id, uid) WHERE uid IS NOT NULL;
CREATE UNIQUE INDEX messages_folder_uidl ON messages (folder_id, uidl) WHERE uidl IS NOT NULL;
CREATE INDEX messages_thread ON messages (thread_id);

-- Raw messages, stored once and exactly as received.
CREATE TABLE bodies (
  message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
  raw        BLOB NOT NULL
);

-- Threading: every Message-ID seen (a message's own, and those it refers
-- to) maps to the conversation it belongs to.
CREATE TABLE thread_refs (
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  msgid      TEXT NOT NULL,
  thread_id  INTEGER NOT NULL,
  PRIMARY KEY (account_id, msgid)
) WITHOUT ROWID;
CREATE INDEX thread_refs_thread ON thread_refs (thread_id);

-- Fallback for replies that lost their References: base subject -> thread.
CREATE TABLE thread_subjects (
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  subject    TEXT NOT NULL,
  thread_id  INTEGER NOT NULL,
  PRIMARY KEY (account_id, subject)
) WITHOUT ROWID;

-- POP3: every UIDL ever downloaded, so nothing is downloaded twice.
CREATE TABLE pop_uidls (
  account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  uidl            TEXT NOT NULL,
  message_id      INTEGER REFERENCES messages (id) ON DELETE SET NULL,
  downloaded      INTEGER NOT NULL DEFAULT (unixepoch()),
  deleted_locally INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, uidl)
) WITHOUT ROWID;

-- Local changes waiting to be replayed to the server, oldest first.
-- One row per message and operation; uid is the server UID at the time.
CREATE TABLE journal (
  id             INTEGER PRIMARY KEY,
  account_id     INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  folder_id      INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
  message_id     INTEGER,                 -- local row; NULL once gone
  uid            INTEGER,
  uidl           TEXT,
  op             TEXT NOT NULL CHECK (op IN ('flags', 'delete', 'move')),
  add_flags      INTEGER NOT NULL DEFAULT 0,
  remove_flags   INTEGER NOT NULL DEFAULT 0,
  dest_folder_id INTEGER REFERENCES folders (id) ON DELETE SET NULL,
  created        INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE INDEX journal_account ON journal (account_id, id);

-- Full-text search: rowid is messages.id.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
  subject, addresses, body,
  tokenize = 'unicode61 remove_diacritics 2'
);

-- Folder counts follow the messages.  (flags & 9) = 0 means unseen and
-- not deleted.
CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
  UPDATE folders SET total_count = total_count + 1,
                     unread_count = unread_count + ((new.flags & 9) = 0)
   WHERE id = new.folder_id;
END;
CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
  UPDATE folders SET total_count = total_count - 1,
                     unread_count = unread_count - ((old.flags & 9) = 0)
   WHERE id = old.folder_id;
  DELETE FROM messages_fts WHERE rowid = old.id;
END;
CREATE TRIGGER messages_count_update AFTER UPDATE OF flags, folder_id ON messages
  WHEN old.flags != new.flags OR old.folder_id != new.folder_id BEGIN
  UPDATE folders SET total_count = total_count - 1,
                     unread_count = unread_count - ((old.flags & 9) = 0)
   WHERE id = old.folder_id;
  UPDATE folders SET total_count = total_count + 1,
                     unread_count = unread_count + ((new.flags & 9) = 0)
   WHERE id = new.folder_id;
END;
