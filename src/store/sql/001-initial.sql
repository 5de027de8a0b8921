-- SPDX-License-Identifier: GPL-3.0-or-later
-- Version 1: accounts.  Settings only: passwords live in the keyring.

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
