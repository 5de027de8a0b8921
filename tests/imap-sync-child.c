/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Helper for test-imap-faults: local changes and an IMAP sync run in a
 * process of its own, so that the test can kill it with SIGKILL at any
 * moment.
 *
 *   imap-sync-child STORE-DIR HOST PORT SECURITY PIN USER sync
 *   imap-sync-child STORE-DIR HOST PORT SECURITY PIN USER change CHANGE...
 *
 * SECURITY is tls, starttls or none; PIN is the server certificate's
 * SHA-256 or "-".  The password comes from the environment variable
 * MAILER_TEST_IMAP_PASSWORD.  The IMAP account for USER on HOST:PORT is
 * reused if the store has it, created otherwise.
 *
 * "change" makes the changes through the store, as the user would (each
 * one recorded in the journal in its own transaction), then runs a sync.
 * A CHANGE names a message by its Message-ID (without <>):
 *
 *   flag:MESSAGE-ID:ADD:REMOVE     flag masks, as MailerMessageFlags
 *   move:MESSAGE-ID:FOLDER-PATH
 *   delete:MESSAGE-ID
 *
 * Lines it prints on stdout:
 *
 *   account ID
 *   change N                   (the Nth CHANGE, from 0, is committed)
 *   syncing
 *   online                     (logged in: the replay of the journal starts)
 *   replayed                   (the replay is done: the folders are synced)
 *   done NEW REPLAYED VANISHED FLAG-CHANGES
 *
 * It exits 0 after a complete sync, 1 when the sync failed (the error on
 * stderr), 2 when the store or the arguments could not be used.
 */
#include "config.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailer-imap-sync.h"
#include "mailer-test-util.h"

static void G_GNUC_NORETURN
die (int           status,
     const char   *what,
     const GError *error)
{
  g_printerr ("imap-sync-child: %s: %s\n", what, error ? error->message : "failed");
  exit (status);
}

static MailerSecurity
parse_security (const char *text)
{
  if (g_str_equal (text, "tls"))
    return MAILER_SECURITY_TLS;
  if (g_str_equal (text, "starttls"))
    return MAILER_SECURITY_STARTTLS;
  if (g_str_equal (text, "none"))
    return MAILER_SECURITY_NONE;
  g_printerr ("imap-sync-child: unknown security “%s”\n", text);
  exit (2);
}

/* The account an earlier run created, or a new one, saved. */
static MailerAccount *
load_account (MailerStore *store,
              const char  *host,
              guint16      port,
              const char  *user)
{
  g_autoptr(GPtrArray) accounts = NULL;
  g_autoptr(MailerAccount) account = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  accounts = mailer_store_list_accounts (store, &error);
  if (accounts == NULL)
    die (2, "listing accounts", error);
  for (guint i = 0; i < accounts->len; i++)
    {
      MailerAccount *candidate = g_ptr_array_index (accounts, i);

      if (mailer_account_get_kind (candidate) == MAILER_ACCOUNT_KIND_IMAP &&
          g_strcmp0 (mailer_account_get_host (candidate), host) == 0 &&
          mailer_account_get_port (candidate) == port &&
          g_strcmp0 (mailer_account_get_username (candidate), user) == 0)
        return g_object_ref (candidate);
    }

  account = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
  mailer_account_set_host (account, host);
  mailer_account_set_prefetch_days (account, 0);
  mailer_account_set_port (account, port);
  mailer_account_set_username (account, user);
  mailer_store_save_account_async (store, account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 60);
  if (!mailer_store_save_account_finish (store, result, &error))
    die (2, "saving the account", error);
  return g_steal_pointer (&account);
}

/* The store's row for a Message-ID in one of the account's folders, and
 * the id of a folder by path; 0 when there is none.  Read straight from
 * the database, which the store keeps in WAL mode. */
static gint64
lookup (sqlite3    *db,
        const char *sql,
        gint64      account_id,
        const char *text)
{
  sqlite3_stmt *stmt = NULL;
  gint64 id = 0;

  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      g_printerr ("imap-sync-child: %s\n", sqlite3_errmsg (db));
      exit (2);
    }
  sqlite3_bind_int64 (stmt, 1, account_id);
  sqlite3_bind_text (stmt, 2, text, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    id = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return id;
}

static void
make_change (MailerStore *store,
             sqlite3     *db,
             gint64       account_id,
             const char  *change)
{
  g_auto(GStrv) parts = g_strsplit (change, ":", 4);
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;
  guint n = g_strv_length (parts);
  gint64 id;

  if (n < 2)
    {
      g_printerr ("imap-sync-child: bad change “%s”\n", change);
      exit (2);
    }
  id = lookup (db,
               "SELECT m.id FROM messages m JOIN folders f ON f.id = m.folder_id"
               " WHERE f.account_id = ?1 AND m.message_id = ?2",
               account_id, parts[1]);
  /* Gone already (a change made before a kill): nothing to do. */
  if (id == 0)
    return;
  g_array_append_val (ids, id);

  if (g_str_equal (parts[0], "flag") && n == 4)
    mailer_store_set_flags_async (store, ids, atoi (parts[2]), atoi (parts[3]), TRUE, NULL,
                                  mailer_test_store_result_cb, &pending);
  else if (g_str_equal (parts[0], "move") && n == 3)
    {
      gint64 dest = lookup (db, "SELECT id FROM folders WHERE account_id = ?1 AND path = ?2",
                            account_id, parts[2]);

      if (dest == 0)
        {
          g_printerr ("imap-sync-child: no folder “%s”\n", parts[2]);
          exit (2);
        }
      mailer_store_move_messages_async (store, ids, dest, TRUE, NULL, mailer_test_store_result_cb, &pending);
    }
  else if (g_str_equal (parts[0], "delete") && n == 2)
    mailer_store_delete_messages_async (store, ids, TRUE, NULL, mailer_test_store_result_cb, &pending);
  else
    {
      g_printerr ("imap-sync-child: bad change “%s”\n", change);
      exit (2);
    }
  result = mailer_test_wait_result (&pending, 60);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    die (2, "making a change", error);
}

static void
state_cb (MailerAccount *account,
          GParamSpec    *pspec,
          gpointer       user_data)
{
  if (mailer_account_get_connection_state (account) == MAILER_CONNECTION_STATE_SYNCING)
    {
      printf ("online\n");
      fflush (stdout);
    }
}

static void
status_cb (MailerAccount *account,
           GParamSpec    *pspec,
           gboolean      *replayed)
{
  const char *status = mailer_account_get_status_message (account);

  if (!*replayed && status != NULL && g_str_has_prefix (status, "Checking "))
    {
      *replayed = TRUE;
      printf ("replayed\n");
      fflush (stdout);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(MailerStore) store = NULL;
  g_autoptr(MailerAccount) account = NULL;
  g_autoptr(MailerImapSync) sync = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;
  MailerImapSyncResult out = { 0, };
  const char *password = g_getenv ("MAILER_TEST_IMAP_PASSWORD");
  guint64 port = 0;
  gboolean change;
  gboolean replayed = FALSE;

  if (argc < 8 || password == NULL ||
      !g_ascii_string_to_unsigned (argv[3], 10, 1, 65535, &port, NULL) ||
      (!g_str_equal (argv[7], "sync") && !g_str_equal (argv[7], "change")))
    {
      g_printerr ("Usage: MAILER_TEST_IMAP_PASSWORD=... %s STORE-DIR HOST PORT SECURITY PIN USER"
                  " sync|change [CHANGE...]\n", argv[0]);
      return 2;
    }
  change = g_str_equal (argv[7], "change");

  store = mailer_store_open (argv[1], &error);
  if (store == NULL)
    die (2, "opening the store", error);

  account = load_account (store, argv[2], (guint16) port, argv[6]);
  mailer_account_set_security (account, parse_security (argv[4]));
  mailer_account_set_pinned_certificate (account, g_str_equal (argv[5], "-") ? NULL : argv[5]);
  printf ("account %" G_GINT64_FORMAT "\n", mailer_account_get_id (account));
  fflush (stdout);

  if (change)
    {
      g_autofree char *path = g_build_filename (argv[1], "mailer.db", NULL);
      sqlite3 *db = NULL;

      if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        {
          g_printerr ("imap-sync-child: %s\n", sqlite3_errmsg (db));
          return 2;
        }
      sqlite3_busy_timeout (db, 10000);
      for (int i = 8; i < argc; i++)
        {
          make_change (store, db, mailer_account_get_id (account), argv[i]);
          printf ("change %d\n", i - 8);
          fflush (stdout);
        }
      sqlite3_close (db);
    }

  printf ("syncing\n");
  fflush (stdout);
  g_signal_connect (account, "notify::connection-state", G_CALLBACK (state_cb), NULL);
  g_signal_connect (account, "notify::status-message", G_CALLBACK (status_cb), &replayed);
  sync = mailer_imap_sync_new (store, account, password);
  mailer_imap_sync_run_async (sync, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 120);
  if (!mailer_imap_sync_run_finish (sync, result, &out, &error))
    die (1, "the sync failed", error);

  printf ("done %u %u %u %u\n", out.n_new, out.n_replayed, out.n_vanished, out.n_flag_changes);
  fflush (stdout);
  return 0;
}
