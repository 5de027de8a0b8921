-- Schema version 8 as Mailer wrote it, with an account, its inbox, one
-- read message and one change waiting in the journal: the starting point
-- of the upgrade test.  Never edit.
BEGIN;

CREATE TABLE accounts (
  id                 INTEGER PRIMARY KEY,
  uuid               TEXT NOT NULL UNIQUE,
  kind               TEXT NOT NULL CHECK (kind IN ('imap', 'pop3')),
  display_name       TEXT NOT NULL DEFAULT '',
  address            TEXT NOT NULL DEFAULT '',
  host               TEXT NOT NULL,
  port               INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
  security           TEXT NOT NULL CHECK (security IN ('tls', 'starttls', 'none')),
  username           TEXT NOT NULL DEFAULT '',
  pinned_certificate TEXT,
  position           INTEGER NOT NULL DEFAULT 0,
  created            INTEGER NOT NULL DEFAULT (unixepoch())
);

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
CREATE INDEX messages_folder_date ON messages (folder_id, date DESC, id DESC, thread_id);
CREATE INDEX messages_date ON messages (date DESC, id DESC, folder_id);
CREATE UNIQUE INDEX messages_folder_uid ON messages (folder_id, uid) WHERE uid IS NOT NULL;
CREATE UNIQUE INDEX messages_folder_uidl ON messages (folder_id, uidl) WHERE uidl IS NOT NULL;
CREATE INDEX messages_thread ON messages (thread_id);

CREATE TABLE bodies (
  message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
  raw        BLOB NOT NULL
);

CREATE TABLE thread_refs (
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  msgid      TEXT NOT NULL,
  thread_id  INTEGER NOT NULL,
  PRIMARY KEY (account_id, msgid)
) WITHOUT ROWID;
CREATE INDEX thread_refs_thread ON thread_refs (thread_id);

CREATE TABLE thread_subjects (
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  subject    TEXT NOT NULL,
  thread_id  INTEGER NOT NULL,
  PRIMARY KEY (account_id, subject)
) WITHOUT ROWID;

CREATE TABLE pop_uidls (
  account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  uidl            TEXT NOT NULL,
  message_id      INTEGER REFERENCES messages (id) ON DELETE SET NULL,
  downloaded      INTEGER NOT NULL DEFAULT (unixepoch()),
  deleted_locally INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, uidl)
) WITHOUT ROWID;

CREATE TABLE journal (
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
CREATE INDEX journal_account ON journal (account_id, id);

CREATE VIRTUAL TABLE messages_fts USING fts5 (
  subject, addresses, body,
  tokenize = 'unicode61 remove_diacritics 2'
);

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

ALTER TABLE accounts ADD COLUMN leave_on_server INTEGER NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN keep_days INTEGER NOT NULL DEFAULT 0 CHECK (keep_days >= 0);
ALTER TABLE accounts ADD COLUMN delete_when_deleted INTEGER NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN size_limit INTEGER NOT NULL DEFAULT 0 CHECK (size_limit >= 0);
ALTER TABLE accounts ADD COLUMN check_interval INTEGER NOT NULL DEFAULT 600 CHECK (check_interval >= 0);
ALTER TABLE accounts ADD COLUMN prefetch_days INTEGER NOT NULL DEFAULT 30
  CHECK (prefetch_days BETWEEN 0 AND 36500);
ALTER TABLE messages ADD COLUMN text_indexed INTEGER NOT NULL DEFAULT 1;
CREATE INDEX messages_text_pending ON messages (id) WHERE text_indexed = 0;
INSERT INTO accounts (id, uuid, kind, display_name, address, host, port, security, username)
  VALUES (1, '5f0e4a9c-2b7d-4e61-8c3a-7d9e1f2a3b4c', 'pop3', 'Upgraded', 'alex@example.org',
          'mail.example.org', 995, 'tls', 'alex');
INSERT INTO folders (id, account_id, path, role) VALUES (1, 1, 'INBOX', 'inbox');
INSERT INTO messages (id, folder_id, uidl, message_id, thread_id, subject, from_name, from_address,
                      to_list, date, size, flags, preview, body_state)
  VALUES (1, 1, 'UIDL-v2-0001', 'v2-0001@example.org', 1, 'Kept across upgrades', 'Sam',
          'sam@example.org', 'Alex <alex@example.org>', 1767225600, 120, 1, 'Still here.', 2);
INSERT INTO messages_fts (rowid, subject, addresses, body)
  VALUES (1, 'Kept across upgrades', 'Sam sam@example.org Alex <alex@example.org>', 'Still here.');
INSERT INTO bodies (message_id, raw)
  VALUES (1, CAST ('Message-ID: <v2-0001@example.org>' || char (13, 10) || 'Subject: Kept across upgrades'
                   || char (13, 10, 13, 10) || 'Still here.' || char (13, 10) AS BLOB));
INSERT INTO thread_refs (account_id, msgid, thread_id) VALUES (1, 'v2-0001@example.org', 1);
INSERT INTO pop_uidls (account_id, uidl, message_id) VALUES (1, 'UIDL-v2-0001', 1);
INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 8);
INSERT INTO journal (id, account_id, folder_id, message_id, uidl, op, add_flags, created)
  VALUES (1, 1, 1, 1, 'UIDL-v2-0001', 'flags', 2, 1767225700);
PRAGMA user_version = 8;
COMMIT;
