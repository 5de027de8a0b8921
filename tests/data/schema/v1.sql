-- Schema version 1 as Mailer 0.1 wrote it, with one account: the
-- starting point of the upgrade test.  Never edit: add vN.sql for a new version.
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
INSERT INTO accounts (uuid, kind, display_name, address, host, port, security, username)
  VALUES ('0b6c5f3e-8f1e-4c3a-9a56-0d4b8e2f7a10', 'imap', 'Upgraded', 'alex@example.org',
          'mail.example.org', 993, 'tls', 'alex');
PRAGMA user_version = 1;
COMMIT;
