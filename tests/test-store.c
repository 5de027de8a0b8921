/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Store tests: schema creation and versioning, accounts round-trip
 * through the writer thread, refusal of a database from a newer version.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "mailer-store.h"
#include "mailer-test-util.h"

static char *
make_store_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "store-test", NULL);
}

static void
save_account (MailerStore   *store,
              MailerAccount *account)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  g_autoptr(GError) error = NULL;

  mailer_store_save_account_async (store, account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_save_account_finish (store, result, &error));
  g_assert_no_error (error);
}

static void
test_schema_created (void)
{
  g_autofree char *dir = make_store_dir ();
  g_autofree char *db = g_build_filename (dir, "mailer.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MailerStore) store = NULL;
  GStatBuf st;

  store = mailer_store_open (dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store);
  g_assert_cmpuint (mailer_store_get_latest_schema_version (), >=, 1);
  g_assert_cmpuint (mailer_store_get_schema_version (store), ==,
                    mailer_store_get_latest_schema_version ());
  g_assert_true (g_file_test (db, G_FILE_TEST_IS_REGULAR));

  /* The mail folder is private to the user. */
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0077, ==, 0);
}

static void
test_accounts_roundtrip (void)
{
  g_autofree char *dir = make_store_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MailerStore) store = NULL;
  g_autoptr(MailerAccount) imap = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
  g_autoptr(MailerAccount) pop = mailer_account_new (MAILER_ACCOUNT_KIND_POP3);
  g_autoptr(GPtrArray) accounts = NULL;
  MailerAccount *loaded;

  store = mailer_store_open (dir, &error);
  g_assert_no_error (error);

  g_object_set (imap,
                "display-name", "Büro",
                "address", "ana@example.org",
                "host", "imap.example.org",
                "port", 993,
                "security", MAILER_SECURITY_TLS,
                "username", "ana",
                "pinned-certificate", "ab12",
                NULL);
  g_object_set (pop,
                "display-name", "Home",
                "address", "ana@example.net",
                "host", "pop.example.net",
                "port", 110,
                "security", MAILER_SECURITY_STARTTLS,
                "username", "ana.home",
                "leave-on-server", FALSE,
                "keep-days", 14,
                "delete-when-deleted", FALSE,
                "size-limit", (guint64) 5 * 1024 * 1024 * 1024,
                "check-interval", 0,
                NULL);

  save_account (store, imap);
  save_account (store, pop);
  g_assert_cmpint (mailer_account_get_id (imap), >, 0);
  g_assert_cmpint (mailer_account_get_id (pop), >, mailer_account_get_id (imap));

  /* Saving again updates in place. */
  mailer_account_set_display_name (imap, "Work");
  save_account (store, imap);

  /* A fresh store on the same dir sees what was committed. */
  g_clear_object (&store);
  store = mailer_store_open (dir, &error);
  g_assert_no_error (error);
  accounts = mailer_store_list_accounts (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (accounts->len, ==, 2);

  loaded = g_ptr_array_index (accounts, 0);
  g_assert_cmpstr (mailer_account_get_uuid (loaded), ==, mailer_account_get_uuid (imap));
  g_assert_cmpint (mailer_account_get_id (loaded), ==, mailer_account_get_id (imap));
  g_assert_cmpint (mailer_account_get_kind (loaded), ==, MAILER_ACCOUNT_KIND_IMAP);
  g_assert_cmpstr (mailer_account_get_display_name (loaded), ==, "Work");
  g_assert_cmpstr (mailer_account_get_address (loaded), ==, "ana@example.org");
  g_assert_cmpstr (mailer_account_get_host (loaded), ==, "imap.example.org");
  g_assert_cmpuint (mailer_account_get_port (loaded), ==, 993);
  g_assert_cmpint (mailer_account_get_security (loaded), ==, MAILER_SECURITY_TLS);
  g_assert_cmpstr (mailer_account_get_username (loaded), ==, "ana");
  g_assert_cmpstr (mailer_account_get_pinned_certificate (loaded), ==, "ab12");

  loaded = g_ptr_array_index (accounts, 1);
  g_assert_cmpint (mailer_account_get_kind (loaded), ==, MAILER_ACCOUNT_KIND_POP3);
  g_assert_cmpint (mailer_account_get_security (loaded), ==, MAILER_SECURITY_STARTTLS);
  g_assert_null (mailer_account_get_pinned_certificate (loaded));
  g_assert_false (mailer_account_get_leave_on_server (loaded));
  g_assert_cmpuint (mailer_account_get_keep_days (loaded), ==, 14);
  g_assert_false (mailer_account_get_delete_when_deleted (loaded));
  g_assert_cmpuint (mailer_account_get_size_limit (loaded), ==, (guint64) 5 * 1024 * 1024 * 1024);
  g_assert_cmpuint (mailer_account_get_check_interval (loaded), ==, 0);

  /* Defaults: keep a copy on the server, check every ten minutes. */
  loaded = g_ptr_array_index (accounts, 0);
  g_assert_true (mailer_account_get_leave_on_server (loaded));
  g_assert_true (mailer_account_get_delete_when_deleted (loaded));
  g_assert_cmpuint (mailer_account_get_check_interval (loaded), ==, 600);
}

static void
test_account_needs_server (void)
{
  g_autofree char *dir = make_store_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MailerStore) store = mailer_store_open (dir, &error);
  g_autoptr(MailerAccount) account = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  g_assert_no_error (error);
  mailer_store_save_account_async (store, account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_false (mailer_store_save_account_finish (store, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpint (mailer_account_get_id (account), ==, 0);
}

static void
test_newer_schema_refused (void)
{
  g_autofree char *dir = make_store_dir ();
  g_autofree char *db_path = g_build_filename (dir, "mailer.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MailerStore) store = NULL;
  sqlite3 *db = NULL;

  store = mailer_store_open (dir, &error);
  g_assert_no_error (error);
  g_clear_object (&store);

  g_assert_cmpint (sqlite3_open (db_path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA user_version = 999", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  store = mailer_store_open (dir, &error);
  g_assert_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_TOO_NEW);
  g_assert_null (store);
}

static void
test_no_secret_columns (void)
{
  g_autofree char *dir = make_store_dir ();
  g_autofree char *db_path = g_build_filename (dir, "mailer.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MailerStore) store = mailer_store_open (dir, &error);
  sqlite3_stmt *stmt = NULL;
  sqlite3 *db = NULL;
  guint columns = 0;

  g_assert_no_error (error);
  g_assert_cmpint (sqlite3_open (db_path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "SELECT m.name, p.name FROM sqlite_schema m,"
                                       " pragma_table_info(m.name) p WHERE m.type = 'table'",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      const char *column = (const char *) sqlite3_column_text (stmt, 1);

      columns++;
      g_assert_null (strstr (column, "pass"));
      g_assert_null (strstr (column, "secret"));
      g_assert_null (strstr (column, "token"));
    }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  g_assert_cmpuint (columns, >, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/store/schema-created", test_schema_created);
  g_test_add_func ("/store/accounts/roundtrip", test_accounts_roundtrip);
  g_test_add_func ("/store/accounts/needs-server", test_account_needs_server);
  g_test_add_func ("/store/newer-schema-refused", test_newer_schema_refused);
  g_test_add_func ("/store/no-secret-columns", test_no_secret_columns);

  return g_test_run ();
}
