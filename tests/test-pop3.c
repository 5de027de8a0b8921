/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Integration: POP3 download into the store against the private Dovecot
 * fixture.  Delete after download, leave on server (a second run downloads
 * nothing, a new message exactly one), delete on the server what was
 * deleted here, keep for N days, the size limit, STLS, sequential commands
 * without pipelining, a refused password, and reading mail offline.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#include "mailer-connection.h"
#include "mailer-message-list.h"
#include "mailer-pop3-parser.h"
#include "mailer-pop3-sync.h"
#include "mailer-test-dovecot.h"
#include "mailer-test-util.h"

#define USER "pat"
#define PASSWORD "pat's pass word"
#define N_MESSAGES 200

typedef struct
{
  MailerTestDovecot *dovecot;
  char *dir;
  MailerStore *store;
  MailerAccount *account;
} Fixture;

static GBytes *
make_message (guint n)
{
  g_autoptr(GString) text = g_string_new (NULL);

  g_string_append_printf (text,
                          "From: Sender %u <sender%u@example.org>\r\n"
                          "To: Pat <pat@example.org>\r\n"
                          "Subject: Message %u about zebra%u\r\n"
                          "Date: Mon, 16 Nov 2026 10:%02u:%02u +0000\r\n"
                          "Message-ID: <pop3-%u@example.org>\r\n"
                          "MIME-Version: 1.0\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "\r\n"
                          "Hello Pat, this is message %u.\r\n"
                          ".A line that starts with a dot.\r\n"
                          "..and one with two.\r\n",
                          n, n, n, n, (n / 60) % 60, n % 60, n, n);
  for (guint i = 0; i < n % 7; i++)
    g_string_append_printf (text, "Filler line %u of message %u, déjà vu.\r\n", i, n);
  return g_string_free_to_bytes (g_steal_pointer (&text));
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsCertificate) unused = NULL;
  g_autofree char *pin = NULL;

  fixture->dovecot = mailer_test_dovecot_new ();
  mailer_test_dovecot_add_user (fixture->dovecot, USER, PASSWORD);
  for (guint i = 1; i <= N_MESSAGES; i++)
    {
      g_autoptr(GBytes) message = make_message (i);

      g_assert_true (mailer_test_dovecot_seed_bytes (fixture->dovecot, USER, "INBOX", message, NULL, &error));
      g_assert_no_error (error);
    }
  g_assert_true (mailer_test_dovecot_start (fixture->dovecot, &error));
  g_assert_no_error (error);

  fixture->dir = g_dir_make_tmp ("mailer-pop3-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->store = mailer_store_open (fixture->dir, &error);
  g_assert_no_error (error);

  pin = mailer_certificate_get_sha256 (mailer_test_dovecot_get_certificate (fixture->dovecot));
  fixture->account = mailer_account_new (MAILER_ACCOUNT_KIND_POP3);
  mailer_account_set_host (fixture->account, "127.0.0.1");
  mailer_account_set_port (fixture->account,
                           mailer_test_dovecot_get_port (fixture->dovecot, MAILER_TEST_DOVECOT_POP3S));
  mailer_account_set_security (fixture->account, MAILER_SECURITY_TLS);
  mailer_account_set_username (fixture->account, USER);
  mailer_account_set_pinned_certificate (fixture->account, pin);
  {
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;

    mailer_store_save_account_async (fixture->store, fixture->account, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_store_save_account_finish (fixture->store, result, &error));
  }
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  mailer_test_dovecot_stop (fixture->dovecot);
  g_clear_object (&fixture->dovecot);
  g_clear_object (&fixture->account);
  g_clear_object (&fixture->store);
  remove_tree (fixture->dir);
  g_free (fixture->dir);
}

static gboolean
run_sync (Fixture               *fixture,
          const char            *password,
          gboolean               pipelining,
          MailerPop3SyncResult  *out,
          GError               **error)
{
  g_autoptr(MailerPop3Sync) sync = mailer_pop3_sync_new (fixture->store, fixture->account);
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_pop3_sync_set_pipelining (sync, pipelining);
  mailer_pop3_sync_run_async (sync, password, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 120);
  return mailer_pop3_sync_run_finish (sync, result, out, error);
}

static MailerPop3SyncResult
sync_ok (Fixture *fixture)
{
  MailerPop3SyncResult out = { 0, };
  g_autoptr(GError) error = NULL;

  g_assert_true (run_sync (fixture, PASSWORD, TRUE, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mailer_account_get_connection_state (fixture->account), ==, MAILER_CONNECTION_STATE_ONLINE);
  return out;
}

static gint
server_count (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  gint n = mailer_test_dovecot_count (fixture->dovecot, USER, "INBOX", &error);

  g_assert_no_error (error);
  return n;
}

static gint64
inbox_id (Fixture *fixture)
{
  g_autoptr(GPtrArray) folders = mailer_store_list_folders (fixture->store, mailer_account_get_id (fixture->account), NULL);

  g_assert_cmpuint (folders->len, ==, 1);
  g_assert_cmpint (mailer_folder_get_role (folders->pdata[0]), ==, MAILER_FOLDER_ROLE_INBOX);
  return mailer_folder_get_id (folders->pdata[0]);
}

static guint
local_count (Fixture *fixture)
{
  g_autoptr(MailerMessageList) list = mailer_message_list_new_for_folder (fixture->store, inbox_id (fixture), NULL);

  return g_list_model_get_n_items (G_LIST_MODEL (list));
}

/* Every stored message is the server's message, byte for byte, once. */
static void
assert_stored_exactly (Fixture *fixture,
                       guint    n)
{
  g_autoptr(MailerMessageList) list = mailer_message_list_new_for_folder (fixture->store, inbox_id (fixture), NULL);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, n);
  for (guint i = 0; i < n; i++)
    {
      gint64 id = mailer_message_list_get_id (list, i);
      g_autoptr(MailerMessage) message = mailer_store_get_message (fixture->store, id, NULL);
      g_autoptr(GBytes) raw = mailer_store_get_raw (fixture->store, id, NULL);
      guint number = 0;
      g_autoptr(GBytes) expected = NULL;

      g_assert_nonnull (raw);
      g_assert_cmpint (sscanf (mailer_message_get_subject (message), "Message %u", &number), ==, 1);
      expected = make_message (number);
      if (!g_bytes_equal (raw, expected))
        g_error ("Message %u differs from what the server has", number);
      g_assert_true (g_hash_table_add (seen, g_strdup (mailer_message_get_subject (message))));
      g_assert_cmpint (mailer_message_get_body_state (message), ==, MAILER_BODY_STATE_COMPLETE);
    }
}

static void
test_delete_after_download (Fixture       *fixture,
                            gconstpointer  user_data)
{
  MailerPop3SyncResult out;

  mailer_account_set_leave_on_server (fixture->account, FALSE);
  out = sync_ok (fixture);
  g_assert_cmpuint (out.n_on_server, ==, N_MESSAGES);
  g_assert_cmpuint (out.n_downloaded, ==, N_MESSAGES);
  g_assert_cmpuint (out.n_deleted, ==, N_MESSAGES);
  g_assert_cmpint (server_count (fixture), ==, 0);
  assert_stored_exactly (fixture, N_MESSAGES);
}

static void
test_leave_on_server (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autoptr(GBytes) late = make_message (N_MESSAGES + 1);
  g_autoptr(GError) error = NULL;
  MailerPop3SyncResult out;

  out = sync_ok (fixture);
  g_assert_cmpuint (out.n_downloaded, ==, N_MESSAGES);
  g_assert_cmpuint (out.n_deleted, ==, 0);
  g_assert_true (out.first_run);
  g_assert_cmpint (server_count (fixture), ==, N_MESSAGES);

  /* Nothing new: nothing downloaded. */
  out = sync_ok (fixture);
  g_assert_cmpuint (out.n_downloaded, ==, 0);
  g_assert_cmpuint (out.bytes, ==, 0);

  /* One new message: exactly that one. */
  g_assert_true (mailer_test_dovecot_append (fixture->dovecot, USER, "INBOX", late, NULL, NULL, &error));
  g_assert_no_error (error);
  out = sync_ok (fixture);
  g_assert_cmpuint (out.n_downloaded, ==, 1);
  /* News, for a notification, naming the message. */
  g_assert_false (out.first_run);
  {
    g_autoptr(GBytes) raw = mailer_store_get_raw (fixture->store, out.newest_id, &error);

    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (raw, late));
  }
  g_assert_cmpint (server_count (fixture), ==, N_MESSAGES + 1);
  assert_stored_exactly (fixture, N_MESSAGES + 1);
}

static void
test_delete_when_deleted_here (Fixture       *fixture,
                               gconstpointer  user_data)
{
  g_autoptr(MailerMessageList) list = NULL;
  g_autoptr(GArray) doomed = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;
  MailerPop3SyncResult out;

  sync_ok (fixture);

  /* Deleted here, offline: the next run removes them from the server. */
  list = mailer_message_list_new_for_folder (fixture->store, inbox_id (fixture), NULL);
  for (guint i = 0; i < 3; i++)
    {
      gint64 id = mailer_message_list_get_id (list, i * 10);

      g_array_append_val (doomed, id);
    }
  mailer_store_delete_messages_async (fixture->store, doomed, TRUE, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_delete_messages_finish (fixture->store, result, &error));

  out = sync_ok (fixture);
  g_assert_cmpuint (out.n_deleted, ==, 3);
  g_assert_cmpuint (out.n_downloaded, ==, 0);
  g_assert_cmpint (server_count (fixture), ==, N_MESSAGES - 3);
  g_assert_cmpuint (local_count (fixture), ==, N_MESSAGES - 3);

  /* With the option off, deleting here leaves the server alone. */
  mailer_account_set_delete_when_deleted (fixture->account, FALSE);
  g_array_set_size (doomed, 1);
  g_array_index (doomed, gint64, 0) = mailer_message_list_get_id (list, 0);
  mailer_store_delete_messages_async (fixture->store, doomed, TRUE, NULL, mailer_test_store_result_cb, &pending);
  g_clear_object (&result);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_delete_messages_finish (fixture->store, result, &error));
  out = sync_ok (fixture);
  g_assert_cmpuint (out.n_deleted, ==, 0);
  g_assert_cmpuint (out.n_downloaded, ==, 0);
  g_assert_cmpint (server_count (fixture), ==, N_MESSAGES - 3);
}

static void
test_keep_days (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autofree char *path = g_build_filename (fixture->dir, "mailer.db", NULL);
  MailerPop3SyncResult out;
  sqlite3 *db = NULL;

  mailer_account_set_keep_days (fixture->account, 7);
  out = sync_ok (fixture);
  g_assert_cmpuint (out.n_deleted, ==, 0);

  /* Fifty of them were downloaded eight days ago. */
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_exec (db,
                                 "UPDATE pop_uidls SET downloaded = downloaded - 8 * 86400"
                                 " WHERE uidl IN (SELECT uidl FROM pop_uidls ORDER BY uidl LIMIT 50)",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  out = sync_ok (fixture);
  g_assert_cmpuint (out.n_deleted, ==, 50);
  g_assert_cmpint (server_count (fixture), ==, N_MESSAGES - 50);
  g_assert_cmpuint (local_count (fixture), ==, N_MESSAGES);
}

static void
test_size_limit (Fixture       *fixture,
                 gconstpointer  user_data)
{
  g_autoptr(MailerMessageList) list = NULL;
  MailerPop3SyncResult out;
  guint partial = 0;

  /* Messages with filler lines are over the limit: headers and the first
   * lines only, and their server copy stays for "download the rest". */
  mailer_account_set_leave_on_server (fixture->account, FALSE);
  mailer_account_set_size_limit (fixture->account, 420);
  out = sync_ok (fixture);
  g_assert_cmpuint (out.n_downloaded, ==, N_MESSAGES);

  list = mailer_message_list_new_for_folder (fixture->store, inbox_id (fixture), NULL);
  for (guint i = 0; i < N_MESSAGES; i++)
    {
      g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (list), i);

      if (mailer_message_get_body_state (message) == MAILER_BODY_STATE_PARTIAL)
        {
          g_assert_cmpint (mailer_message_get_size (message), >, 420);
          partial++;
        }
      else
        g_assert_cmpint (mailer_message_get_size (message), <=, 420);
    }
  g_test_message ("%u of %u downloaded in part", partial, N_MESSAGES);
  g_assert_cmpuint (partial, >, 0);
  g_assert_cmpuint (partial, <, N_MESSAGES);
  g_assert_cmpint (server_count (fixture), ==, partial);

  /* "Download the rest": the whole message replaces its start. */
  for (guint i = 0; i < N_MESSAGES; i++)
    {
      g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (list), i);
      g_autoptr(MailerPop3Sync) sync = NULL;
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GBytes) raw = NULL;
      g_autoptr(GBytes) expected = NULL;
      g_autoptr(GError) error = NULL;
      GAsyncResult *pending = NULL;
      guint number = 0;

      if (mailer_message_get_body_state (message) != MAILER_BODY_STATE_PARTIAL)
        continue;
      sync = mailer_pop3_sync_new (fixture->store, fixture->account);
      mailer_pop3_sync_download_rest_async (sync, PASSWORD, mailer_message_get_id (message), NULL,
                                            mailer_test_store_result_cb, &pending);
      result = mailer_test_wait_result (&pending, 30);
      g_assert_true (mailer_pop3_sync_download_rest_finish (sync, result, &error));
      g_assert_no_error (error);
      g_assert_cmpint (mailer_message_get_body_state (message), ==, MAILER_BODY_STATE_COMPLETE);
      raw = mailer_store_get_raw (fixture->store, mailer_message_get_id (message), NULL);
      g_assert_cmpint (sscanf (mailer_message_get_subject (message), "Message %u", &number), ==, 1);
      expected = make_message (number);
      g_assert_true (g_bytes_equal (raw, expected));
      break;
    }

  /* Now complete, the next run may delete its server copy. */
  {
    MailerPop3SyncResult again = sync_ok (fixture);

    g_assert_cmpuint (again.n_deleted, ==, 1);
    g_assert_cmpint (server_count (fixture), ==, partial - 1);
  }
}

static void
test_starttls_and_sequential (Fixture       *fixture,
                              gconstpointer  user_data)
{
  MailerPop3SyncResult out = { 0, };
  g_autoptr(GError) error = NULL;

  mailer_account_set_port (fixture->account,
                           mailer_test_dovecot_get_port (fixture->dovecot, MAILER_TEST_DOVECOT_POP3));
  mailer_account_set_security (fixture->account, MAILER_SECURITY_STARTTLS);
  g_assert_true (run_sync (fixture, PASSWORD, FALSE, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out.n_downloaded, ==, N_MESSAGES);
  assert_stored_exactly (fixture, N_MESSAGES);
}

static void
test_wrong_password (Fixture       *fixture,
                     gconstpointer  user_data)
{
  MailerPop3SyncResult out = { 0, };
  g_autoptr(GError) error = NULL;

  g_assert_false (run_sync (fixture, "not the password", TRUE, &out, &error));
  g_assert_error (error, MAILER_POP3_ERROR, MAILER_POP3_ERROR_AUTH_FAILED);
  g_assert_cmpint (mailer_account_get_connection_state (fixture->account), ==, MAILER_CONNECTION_STATE_ERROR);
  g_assert_cmpstr (mailer_account_get_status_message (fixture->account), ==, error->message);
  g_assert_cmpuint (out.n_downloaded, ==, 0);
  g_assert_cmpint (server_count (fixture), ==, N_MESSAGES);
  g_assert_cmpuint (local_count (fixture), ==, 0);
}

/* After one account connected with its pin, another account on the same
 * server with a wrong pin is still refused, even though the TLS library
 * could resume the first one's session. */
static void
test_other_pin_refused (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autoptr(MailerAccount) other = mailer_account_new (MAILER_ACCOUNT_KIND_POP3);
  g_autoptr(MailerPop3Sync) sync = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *wrong = g_strdup (mailer_account_get_pinned_certificate (fixture->account));
  GAsyncResult *pending = NULL;

  sync_ok (fixture);

  wrong[0] = wrong[0] == '0' ? '1' : '0';
  mailer_account_set_host (other, "127.0.0.1");
  mailer_account_set_port (other, mailer_account_get_port (fixture->account));
  mailer_account_set_security (other, MAILER_SECURITY_TLS);
  mailer_account_set_username (other, USER);
  mailer_account_set_pinned_certificate (other, wrong);
  mailer_store_save_account_async (fixture->store, other, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_save_account_finish (fixture->store, result, &error));
  g_clear_object (&result);

  sync = mailer_pop3_sync_new (fixture->store, other);
  mailer_pop3_sync_run_async (sync, PASSWORD, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 60);
  g_assert_false (mailer_pop3_sync_run_finish (sync, result, NULL, &error));
  g_assert_error (error, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CERTIFICATE_UNTRUSTED);
}

static void
test_offline (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autoptr(MailerMessageList) hits = NULL;
  g_autoptr(MailerMessage) hit = NULL;
  g_autoptr(GBytes) raw = NULL;
  g_autoptr(GError) error = NULL;
  MailerPop3SyncResult out = { 0, };

  sync_ok (fixture);
  mailer_test_dovecot_stop (fixture->dovecot);

  /* No server: the mail is all here, readable and searchable. */
  hits = mailer_message_list_new_search (fixture->store, "zebra42", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (hits)), ==, 1);
  hit = g_list_model_get_item (G_LIST_MODEL (hits), 0);
  raw = mailer_store_get_raw (fixture->store, mailer_message_get_id (hit), &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (g_bytes_get_data (raw, NULL), "this is message 42."));

  /* The text of each message is read after the download, without the
   * server; then the words of the bodies are found too. */
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(MailerMessageList) body_hits = NULL;
    GAsyncResult *pending = NULL;

    mailer_store_index_text_async (fixture->store, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 60);
    g_assert_true (mailer_store_index_text_finish (fixture->store, result, &error));
    g_assert_no_error (error);
    body_hits = mailer_message_list_new_search (fixture->store, "deja", 0, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (body_hits)), >, 0);
  }

  /* And a sync says plainly that the server cannot be reached. */
  g_assert_false (run_sync (fixture, PASSWORD, TRUE, &out, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_cmpuint (local_count (fixture), ==, N_MESSAGES);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func) \
  g_test_add ("/pop3/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("delete-after-download", test_delete_after_download);
  ADD ("leave-on-server", test_leave_on_server);
  ADD ("delete-when-deleted-here", test_delete_when_deleted_here);
  ADD ("keep-days", test_keep_days);
  ADD ("size-limit", test_size_limit);
  ADD ("starttls-sequential", test_starttls_and_sequential);
  ADD ("wrong-password", test_wrong_password);
  ADD ("other-pin-refused", test_other_pin_refused);
  ADD ("offline", test_offline);
#undef ADD

  return g_test_run ();
}
