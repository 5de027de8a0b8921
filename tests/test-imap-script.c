/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Integration: MailerImapClient and MailerImapSync against scripted
 * servers, for what Dovecot will not do: BYE in the middle of a FETCH, an
 * EXPUNGE in the middle of one, a literal cut short, a literal too big to
 * take, a line that is not IMAP, a SELECT refused (in the resync and in the
 * replay of local changes), STARTTLS wanted but not offered, LOGINDISABLED,
 * data injected after the STARTTLS answer, AUTHENTICATE without SASL-IR,
 * LOGIN with a password that must go as a literal, and a command pipelined
 * behind a synchronizing literal.  Security is NONE (an account's explicit
 * choice) except where STARTTLS is the point.
 *
 * The scripts say exactly what the client must send; where the client must
 * give up, they end expecting it to close the connection, so anything else
 * it sends is a mismatch.  A failed run must leave the store consistent:
 * nothing half-stored, nothing stored twice.
 */
#include "config.h"

#include <sqlite3.h>
#include <string.h>

#include "mailer-connection.h"
#include "mailer-imap-client.h"
#include "mailer-imap-sync.h"
#include "mailer-test-script-server.h"
#include "mailer-test-util.h"

#define USER "pat"
#define PASSWORD "open sesame"
#define WAIT_MS 10000

typedef struct
{
  char *dir;
  MailerStore *store;
  MailerAccount *account;
  MailerTestScriptServer *server;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  fixture->dir = g_build_filename (g_get_user_data_dir (), "store", NULL);
  fixture->store = mailer_store_open (fixture->dir, &error);
  g_assert_no_error (error);

  fixture->account = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
  mailer_account_set_host (fixture->account, "127.0.0.1");
  mailer_account_set_prefetch_days (fixture->account, 0);
  mailer_account_set_port (fixture->account, 143);
  mailer_account_set_security (fixture->account, MAILER_SECURITY_NONE);
  mailer_account_set_username (fixture->account, USER);
  mailer_store_save_account_async (fixture->store, fixture->account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_save_account_finish (fixture->store, result, &error));
  g_assert_no_error (error);

  fixture->server = mailer_test_script_server_new ();
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_clear_object (&fixture->server);
  g_clear_object (&fixture->account);
  g_clear_object (&fixture->store);
  g_free (fixture->dir);
}

/* Building scripts */

static void G_GNUC_PRINTF (2, 3)
script (Fixture    *fixture,
        const char *format,
        ...)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_assert_true (mailer_test_script_server_add_script (fixture->server, text, &error));
  g_assert_no_error (error);
}

/* The greeting with @capabilities, and LOGIN. */
static void
script_login (Fixture    *fixture,
              const char *capabilities)
{
  script (fixture,
          "S: * OK [CAPABILITY %s] scripted server ready\n"
          "C: $tag LOGIN \"" USER "\" \"" PASSWORD "\"\n"
          "S: $tag OK [CAPABILITY %s] logged in\n",
          capabilities, capabilities);
}

/* LIST: the inbox, and @other (or none). */
static void
script_list (Fixture    *fixture,
             const char *other)
{
  script (fixture,
          "C: $tag LIST \"\" \"*\"\n"
          "S: * LIST (\\HasNoChildren) \"/\" INBOX\n");
  if (other != NULL)
    script (fixture, "S: * LIST (\\HasNoChildren) \"/\" %s\n", other);
  script (fixture, "S: $tag OK List completed\n");
}

static void
script_select (Fixture    *fixture,
               const char *mailbox,
               guint       exists,
               guint       uidnext)
{
  script (fixture,
          "C: $tag SELECT \"%s\"\n"
          "S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\n"
          "S: * %u EXISTS\n"
          "S: * OK [UIDVALIDITY 7] UIDs valid\n"
          "S: * OK [UIDNEXT %u] Predicted next UID\n"
          "S: $tag OK [READ-WRITE] Select completed\n",
          mailbox, exists, uidnext);
}

static void
script_search (Fixture    *fixture,
               const char *uids)
{
  script (fixture,
          "C: $tag UID SEARCH UID 1:*\n"
          "S: * SEARCH%s%s\n"
          "S: $tag OK Search completed\n",
          uids[0] ? " " : "", uids);
}

/* The summary of message @uid, at @seq, as a server sends it. */
static void
script_summary (Fixture *fixture,
                guint    seq,
                guint    uid)
{
  script (fixture,
          "S: * %u FETCH (UID %u FLAGS (\\Seen) INTERNALDATE \"03-Dec-2026 10:%02u:00 +0000\" RFC822.SIZE 230"
          " ENVELOPE (\"Thu, 03 Dec 2026 10:%02u:00 +0000\" \"Scripted message %u\""
          " ((\"Sender\" NIL \"sender\" \"example.org\")) ((\"Sender\" NIL \"sender\" \"example.org\"))"
          " ((\"Sender\" NIL \"sender\" \"example.org\")) ((\"Pat\" NIL \"pat\" \"example.org\")) NIL NIL NIL"
          " \"<script-%u@example.org>\")"
          " BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 20 1 NIL NIL NIL NIL))\n",
          seq, uid, uid % 60, uid % 60, uid, uid);
}

static void
script_fetch_summaries (Fixture    *fixture,
                        const char *set)
{
  script (fixture, "C~ $tag UID FETCH %s (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE *\n", set);
}

static void
start_server (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mailer_test_script_server_start (fixture->server, &error));
  g_assert_no_error (error);
  mailer_account_set_port (fixture->account, mailer_test_script_server_get_port (fixture->server));
}

/* All scripts played through without a mismatch. */
static void
assert_script_done (Fixture *fixture)
{
  if (!mailer_test_script_server_wait_done (fixture->server, WAIT_MS))
    {
      g_autofree char *transcript = mailer_test_script_server_get_transcript (fixture->server);
      const GError *mismatch = mailer_test_script_server_get_error (fixture->server);

      g_error ("The script did not play through: %s\nTranscript:\n%s",
               mismatch ? mismatch->message : "timed out", transcript);
    }
  g_assert_null (mailer_test_script_server_get_error (fixture->server));
}

/* Stops the server and checks that nothing went wrong after the scripts
 * ended (data from the client where it should have closed). */
static void
stop_server (Fixture *fixture)
{
  const GError *mismatch;

  mailer_test_script_server_stop (fixture->server);
  mismatch = mailer_test_script_server_get_error (fixture->server);
  if (mismatch != NULL)
    {
      g_autofree char *transcript = mailer_test_script_server_get_transcript (fixture->server);

      g_error ("The client broke the script: %s\nTranscript:\n%s", mismatch->message, transcript);
    }
}

static char *
received (Fixture *fixture)
{
  g_autoptr(GBytes) bytes = mailer_test_script_server_get_received_bytes (fixture->server);
  gsize length;
  const char *data = g_bytes_get_data (bytes, &length);

  return g_strndup (data ? data : "", length);
}

/* Running the sync */

static gboolean
run_sync_with (Fixture               *fixture,
               MailerImapSync        *sync,
               MailerImapSyncResult  *out,
               GError               **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_imap_sync_run_async (sync, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  return mailer_imap_sync_run_finish (sync, result, out, error);
}

/* One run with a sync of its own, which closes the connection after. */
static gboolean
run_sync (Fixture               *fixture,
          MailerImapSyncResult  *out,
          GError               **error)
{
  g_autoptr(MailerImapSync) sync = mailer_imap_sync_new (fixture->store, fixture->account, PASSWORD);

  return run_sync_with (fixture, sync, out, error);
}

/* The store: "UID<TAB>Message-ID" of each message of the folder @path,
 * by UID, one a line. */
static char *
stored (Fixture    *fixture,
        const char *path)
{
  g_autofree char *db_path = g_build_filename (fixture->dir, "mailer.db", NULL);
  g_autoptr(GString) out = g_string_new (NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  int rc;

  g_assert_cmpint (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "SELECT coalesce (m.uid, 0), m.message_id FROM messages m"
                                       " JOIN folders f ON f.id = m.folder_id"
                                       " WHERE f.account_id = ?1 AND f.path = ?2 ORDER BY m.uid, m.id",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (stmt, 1, mailer_account_get_id (fixture->account));
  sqlite3_bind_text (stmt, 2, path, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_string_append_printf (out, "%" G_GINT64_FORMAT "\t%s\n", (gint64) sqlite3_column_int64 (stmt, 0),
                            (const char *) sqlite3_column_text (stmt, 1));
  g_assert_cmpint (rc, ==, SQLITE_DONE);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static guint
journal_length (Fixture *fixture)
{
  g_autoptr(GPtrArray) journal = mailer_store_list_journal (fixture->store,
                                                            mailer_account_get_id (fixture->account), NULL);

  g_assert_nonnull (journal);
  return journal->len;
}

static gint64
message_by_uid (Fixture    *fixture,
                const char *path,
                guint32     uid)
{
  g_autoptr(GPtrArray) folders = mailer_store_list_folders (fixture->store,
                                                            mailer_account_get_id (fixture->account), NULL);
  g_autoptr(GArray) ids = NULL;

  for (guint i = 0; i < folders->len; i++)
    if (g_str_equal (mailer_folder_get_path (folders->pdata[i]), path))
      {
        g_autofree char *db_path = g_build_filename (fixture->dir, "mailer.db", NULL);
        sqlite3 *db = NULL;
        sqlite3_stmt *stmt = NULL;
        gint64 id = 0;

        g_assert_cmpint (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
        g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT id FROM messages WHERE folder_id = ?1 AND uid = ?2",
                                             -1, &stmt, NULL), ==, SQLITE_OK);
        sqlite3_bind_int64 (stmt, 1, mailer_folder_get_id (folders->pdata[i]));
        sqlite3_bind_int64 (stmt, 2, uid);
        if (sqlite3_step (stmt) == SQLITE_ROW)
          id = sqlite3_column_int64 (stmt, 0);
        sqlite3_finalize (stmt);
        sqlite3_close (db);
        g_assert_cmpint (id, >, 0);
        return id;
      }
  g_assert_not_reached ();
  return 0;
}

static gint64
folder_id (Fixture    *fixture,
           const char *path)
{
  g_autoptr(GPtrArray) folders = mailer_store_list_folders (fixture->store,
                                                            mailer_account_get_id (fixture->account), NULL);

  for (guint i = 0; i < folders->len; i++)
    if (g_str_equal (mailer_folder_get_path (folders->pdata[i]), path))
      return mailer_folder_get_id (folders->pdata[i]);
  g_assert_not_reached ();
  return 0;
}

/* Driving the client */

static MailerImapClient *
connect_client (Fixture         *fixture,
                MailerSecurity   security,
                GError         **error)
{
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(MailerImapClient) client = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  connection = mailer_connection_new ("127.0.0.1", mailer_test_script_server_get_port (fixture->server), security);
  client = mailer_imap_client_new (connection);
  mailer_imap_client_connect_async (client, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  if (!mailer_imap_client_connect_finish (client, result, error))
    return NULL;
  return g_steal_pointer (&client);
}

static gboolean
login (MailerImapClient  *client,
       const char        *password,
       GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_imap_client_login_async (client, USER, password, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  return mailer_imap_client_login_finish (client, result, error);
}

static MailerImapResponse *
run (MailerImapClient       *client,
     MailerImapCommand      *command,
     MailerImapUntaggedFunc  func,
     gpointer                data,
     GError                **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_imap_client_run_async (client, command, func, data, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  return mailer_imap_client_run_finish (client, result, error);
}

static gboolean
count_untagged (MailerImapClient         *client,
                const MailerImapResponse *response,
                gpointer                  user_data)
{
  guint *n = user_data;

  (*n)++;
  return TRUE;
}

/* A connected, logged-in client (LOGIN, no extensions). */
static MailerImapClient *
logged_in_client (Fixture *fixture)
{
  g_autoptr(MailerImapClient) client = NULL;
  g_autoptr(GError) error = NULL;

  client = connect_client (fixture, MAILER_SECURITY_NONE, &error);
  g_assert_no_error (error);
  g_assert_true (login (client, PASSWORD, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&client);
}

static MailerImapCommand *
fetch_body_command (void)
{
  MailerImapCommand *command = mailer_imap_command_new ("UID FETCH");

  mailer_imap_command_add_number (command, 1);
  mailer_imap_command_add_raw (command, "(UID BODY.PEEK[])", NULL);
  return command;
}

/* The tests: the sync */

/* BYE in the middle of the summaries: the run fails with the server's
 * reason, and none of the window is stored (not the summaries that did
 * arrive either); the next run stores all of them, once. */
static void
test_bye_mid_fetch (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *in_store = NULL;
  MailerImapSyncResult out = { 0, };

  script_login (fixture, "IMAP4rev1");
  script_list (fixture, NULL);
  script_select (fixture, "INBOX", 3, 4);
  script_search (fixture, "1 2 3");
  script_fetch_summaries (fixture, "1:3");
  script_summary (fixture, 1, 1);
  script_summary (fixture, 2, 2);
  script (fixture, "S: * BYE Server shutting down for maintenance\nCLOSE\n---\n");

  /* The folders are known: the inbox first, then LIST. */
  script_login (fixture, "IMAP4rev1");
  script_select (fixture, "INBOX", 3, 4);
  script_search (fixture, "1 2 3");
  script_fetch_summaries (fixture, "1:3");
  script_summary (fixture, 1, 1);
  script_summary (fixture, 2, 2);
  script_summary (fixture, 3, 3);
  script (fixture, "S: $tag OK Fetch completed\n");
  script_list (fixture, NULL);
  start_server (fixture);

  g_assert_false (run_sync (fixture, &out, &error));
  g_assert_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_BYE);
  g_assert_nonnull (strstr (error->message, "Server shutting down for maintenance"));
  g_assert_cmpint (mailer_account_get_connection_state (fixture->account), ==, MAILER_CONNECTION_STATE_ERROR);
  g_test_message ("BYE mid-FETCH: %s", error->message);
  in_store = stored (fixture, "INBOX");
  g_assert_cmpstr (in_store, ==, "");
  g_clear_error (&error);
  g_clear_pointer (&in_store, g_free);

  g_assert_true (run_sync (fixture, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out.n_new, ==, 3);
  in_store = stored (fixture, "INBOX");
  g_assert_cmpstr (in_store, ==,
                   "1\tscript-1@example.org\n2\tscript-2@example.org\n3\tscript-3@example.org\n");
  assert_script_done (fixture);
  stop_server (fixture);
}

/* Another client expunges a message while its summary is being sent:
 * the EXPUNGE comes in the middle of the FETCH answers, the sequence
 * numbers after it shift.  The run completes; the next one sees the
 * message gone. */
static void
test_expunge_mid_fetch (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *in_store = NULL;
  MailerImapSyncResult out = { 0, };

  script_login (fixture, "IMAP4rev1");
  script_list (fixture, NULL);
  script_select (fixture, "INBOX", 3, 4);
  script_search (fixture, "1 2 3");
  script_fetch_summaries (fixture, "1:3");
  script_summary (fixture, 1, 1);
  script (fixture, "S: * 1 EXPUNGE\n");
  script_summary (fixture, 1, 2);
  script_summary (fixture, 2, 3);
  script (fixture, "S: $tag OK Fetch completed\n---\n");

  script_login (fixture, "IMAP4rev1");
  script_select (fixture, "INBOX", 2, 4);
  script (fixture,
          "C: $tag UID FETCH 1:3 (UID FLAGS)\n"
          "S: * 1 FETCH (UID 2 FLAGS (\\Seen))\n"
          "S: * 2 FETCH (UID 3 FLAGS (\\Seen))\n"
          "S: $tag OK Fetch completed\n");
  script_search (fixture, "2 3");
  script_list (fixture, NULL);
  start_server (fixture);

  g_assert_true (run_sync (fixture, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out.n_new, ==, 3);
  in_store = stored (fixture, "INBOX");
  g_assert_cmpstr (in_store, ==,
                   "1\tscript-1@example.org\n2\tscript-2@example.org\n3\tscript-3@example.org\n");
  g_clear_pointer (&in_store, g_free);

  g_assert_true (run_sync (fixture, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out.n_new, ==, 0);
  g_assert_cmpuint (out.n_vanished, ==, 1);
  in_store = stored (fixture, "INBOX");
  g_assert_cmpstr (in_store, ==, "2\tscript-2@example.org\n3\tscript-3@example.org\n");
  assert_script_done (fixture);
  stop_server (fixture);
}

/* A body whose literal stops half-way, and the server closes: the fetch
 * fails as a closed connection, and nothing of the body is stored.  (The
 * body comes on a second connection: the sync's stays as it is.) */
static void
test_literal_cut (Fixture       *fixture,
                  gconstpointer  user_data)
{
  static const char partial[] = "* 1 FETCH (UID 1 BODY[] {120}\r\nFrom: Sender <sender@example.org>\r\nSubj";
  g_autoptr(MailerImapSync) sync = mailer_imap_sync_new (fixture->store, fixture->account, PASSWORD);
  g_autoptr(MailerMessage) message = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;
  MailerImapSyncResult out = { 0, };
  gint64 id;

  script_login (fixture, "IMAP4rev1");
  script_list (fixture, NULL);
  script_select (fixture, "INBOX", 1, 2);
  script_search (fixture, "1");
  script_fetch_summaries (fixture, "1");
  script_summary (fixture, 1, 1);
  script (fixture, "S: $tag OK Fetch completed\n");
  /* The body, on a connection of its own. */
  mailer_test_script_server_next_connection (fixture->server);
  script_login (fixture, "IMAP4rev1");
  script (fixture,
          "C: $tag EXAMINE \"INBOX\"\n"
          "S: * 1 EXISTS\n"
          "S: * OK [UIDVALIDITY 7] UIDs valid\n"
          "S: $tag OK [READ-ONLY] Examine completed\n"
          "C: $tag UID FETCH 1 (UID BODY.PEEK[])\n");
  mailer_test_script_server_send_raw (fixture->server, partial, strlen (partial));
  mailer_test_script_server_close (fixture->server);
  start_server (fixture);

  g_assert_true (run_sync_with (fixture, sync, &out, &error));
  g_assert_no_error (error);
  id = message_by_uid (fixture, "INBOX", 1);

  mailer_imap_sync_fetch_body_async (sync, id, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  g_assert_false (mailer_imap_sync_fetch_body_finish (sync, result, &error));
  g_assert_error (error, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CLOSED);
  g_test_message ("Literal cut: %s", error->message);

  g_assert_null (mailer_store_get_raw (fixture->store, id, NULL));
  message = mailer_store_load_message (fixture->store, id, NULL);
  g_assert_cmpint (mailer_message_get_body_state (message), ==, MAILER_BODY_STATE_NONE);
  assert_script_done (fixture);
  g_clear_object (&sync);
  stop_server (fixture);
}

/* A folder the server lists but will not open: the others are synced
 * still, and the run succeeds. */
static void
test_select_refused (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *in_store = NULL;
  MailerImapSyncResult out = { 0, };

  script_login (fixture, "IMAP4rev1");
  script_list (fixture, "Locked");
  script_select (fixture, "INBOX", 1, 2);
  script_search (fixture, "1");
  script_fetch_summaries (fixture, "1");
  script_summary (fixture, 1, 1);
  script (fixture,
          "S: $tag OK Fetch completed\n"
          "C: $tag SELECT \"Locked\"\n"
          "S: $tag NO [NOPERM] Permission denied\n");
  start_server (fixture);

  g_assert_true (run_sync (fixture, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out.n_folders, ==, 1);
  g_assert_cmpuint (out.n_new, ==, 1);
  in_store = stored (fixture, "INBOX");
  g_assert_cmpstr (in_store, ==, "1\tscript-1@example.org\n");
  assert_script_done (fixture);
  stop_server (fixture);
}

/* Local changes in two folders; while they are replayed, the server
 * cannot open one of them for now.  After a failed SELECT no mailbox is
 * selected (RFC 3501 6.3.1): the changes in the other folder must be sent
 * after selecting it again, not into the void; the refused folder's
 * change is kept for later, not dropped. */
static void
test_replay_select_refused (Fixture       *fixture,
                            gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  MailerImapSyncResult out = { 0, };
  gint64 ids[3];

  /* The first run: two messages in the inbox, one in Locked. */
  script_login (fixture, "IMAP4rev1");
  script_list (fixture, "Locked");
  script_select (fixture, "INBOX", 2, 3);
  script_search (fixture, "1 2");
  script_fetch_summaries (fixture, "1:2");
  script_summary (fixture, 1, 1);
  script_summary (fixture, 2, 2);
  script (fixture, "S: $tag OK Fetch completed\n");
  script_select (fixture, "Locked", 1, 2);
  script_search (fixture, "1");
  script_fetch_summaries (fixture, "1");
  script_summary (fixture, 1, 1);
  script (fixture, "S: $tag OK Fetch completed\n---\n");

  /* The second: the replay, then the resync: the inbox, LIST, the rest. */
  script_login (fixture, "IMAP4rev1");
  script (fixture,
          "C: $tag SELECT \"INBOX\"\n"
          "S: $tag OK [READ-WRITE] Select completed\n"
          "C: $tag UID STORE 1 +FLAGS.SILENT (\\Flagged)\n"
          "S: $tag OK Store completed\n"
          "C: $tag SELECT \"Locked\"\n"
          "S: $tag NO [UNAVAILABLE] Mailbox is locked\n"
          "C: $tag SELECT \"INBOX\"\n"
          "S: $tag OK [READ-WRITE] Select completed\n"
          "C: $tag UID STORE 2 +FLAGS.SILENT (\\Flagged)\n"
          "S: $tag OK Store completed\n");
  script_select (fixture, "INBOX", 2, 3);
  script (fixture,
          "C: $tag UID FETCH 1:2 (UID FLAGS)\n"
          "S: * 1 FETCH (UID 1 FLAGS (\\Seen \\Flagged))\n"
          "S: * 2 FETCH (UID 2 FLAGS (\\Seen \\Flagged))\n"
          "S: $tag OK Fetch completed\n");
  script_search (fixture, "1 2");
  script_list (fixture, "Locked");
  script (fixture,
          "C: $tag SELECT \"Locked\"\n"
          "S: $tag NO [UNAVAILABLE] Mailbox is locked\n");
  start_server (fixture);

  g_assert_true (run_sync (fixture, &out, &error));
  g_assert_no_error (error);

  ids[0] = message_by_uid (fixture, "INBOX", 1);
  ids[1] = message_by_uid (fixture, "Locked", 1);
  ids[2] = message_by_uid (fixture, "INBOX", 2);
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(GArray) one = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_autoptr(GAsyncResult) result = NULL;
      GAsyncResult *pending = NULL;

      g_array_append_val (one, ids[i]);
      mailer_store_set_flags_async (fixture->store, one, MAILER_MESSAGE_FLAG_FLAGGED, 0, TRUE, NULL,
                                    mailer_test_store_result_cb, &pending);
      result = mailer_test_wait_result (&pending, 10);
      g_assert_true (mailer_store_set_flags_finish (fixture->store, result, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (journal_length (fixture), ==, 3);

  if (!run_sync (fixture, &out, &error))
    {
      g_autofree char *transcript = mailer_test_script_server_get_transcript (fixture->server);

      g_error ("The replay failed: %s\nTranscript:\n%s", error->message, transcript);
    }
  g_assert_cmpuint (out.n_folders, ==, 1);
  /* The inbox's changes are on the server; the one for the folder the
   * server could not open now ([UNAVAILABLE]) waits for the next run. */
  g_assert_cmpuint (journal_length (fixture), ==, 1);
  assert_script_done (fixture);
  stop_server (fixture);
}

/* STARTTLS asked for, and the server does not offer it: no LOGIN, no
 * password, nothing after CAPABILITY; the connection is dropped. */
static void
test_starttls_not_offered (Fixture       *fixture,
                           gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;
  MailerImapSyncResult out = { 0, };

  script (fixture,
          "S: * OK scripted server ready\n"
          "C: $tag CAPABILITY\n"
          "S: * CAPABILITY IMAP4rev1 AUTH=PLAIN\n"
          "S: $tag OK Capability completed\n"
          "EOF\n");
  start_server (fixture);
  mailer_account_set_security (fixture->account, MAILER_SECURITY_STARTTLS);

  g_assert_false (run_sync (fixture, &out, &error));
  g_assert_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_NO_STARTTLS);
  g_test_message ("No STARTTLS: %s", error->message);
  assert_script_done (fixture);
  sent = received (fixture);
  g_assert_cmpstr (sent, ==, "M1 CAPABILITY\r\n");
  stop_server (fixture);
}

/* LOGINDISABLED: no LOGIN and no AUTHENTICATE; the run fails saying so. */
static void
test_login_disabled (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;
  MailerImapSyncResult out = { 0, };

  script (fixture,
          "S: * OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN] scripted server ready\n"
          "EOF\n");
  start_server (fixture);

  g_assert_false (run_sync (fixture, &out, &error));
  g_assert_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_LOGIN_DISABLED);
  assert_script_done (fixture);
  sent = received (fixture);
  g_assert_cmpstr (sent, ==, "");
  stop_server (fixture);
}

/* The tests: the client */

/* A literal of 99,999,999,999 bytes: refused at once as too big, and the
 * connection dropped (the script ends expecting the close). */
static void
test_oversized_literal (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autoptr(MailerImapClient) client = NULL;
  g_autoptr(MailerImapResponse) response = NULL;
  g_autoptr(GError) error = NULL;
  guint n_untagged = 0;

  script_login (fixture, "IMAP4rev1");
  script (fixture,
          "C: $tag UID FETCH 1 (UID BODY.PEEK[])\n"
          "S: * 1 FETCH (UID 1 BODY[] {99999999999}\n"
          "S: From: a@example.org\n"
          "EOF\n");
  start_server (fixture);

  client = logged_in_client (fixture);
  response = run (client, fetch_body_command (), count_untagged, &n_untagged, &error);
  g_assert_null (response);
  g_assert_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_TOO_BIG);
  g_assert_cmpuint (n_untagged, ==, 0);
  g_assert_false (mailer_imap_client_is_connected (client));
  /* Dropped by the client itself, while the test still holds it. */
  assert_script_done (fixture);
  stop_server (fixture);
}

/* A line that is not IMAP: a parse error, and the connection dropped. */
static void
test_garbage_line (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autoptr(MailerImapClient) client = NULL;
  g_autoptr(MailerImapResponse) response = NULL;
  g_autoptr(GError) error = NULL;
  guint n_untagged = 0;

  script_login (fixture, "IMAP4rev1");
  script (fixture,
          "C: $tag NOOP\n"
          "R: \\x16\\x03\\x01\\x02 <html>this is not IMAP</html>\\r\\n\n"
          "EOF\n");
  start_server (fixture);

  client = logged_in_client (fixture);
  response = run (client, mailer_imap_command_new ("NOOP"), count_untagged, &n_untagged, &error);
  g_assert_null (response);
  g_assert_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_PARSE);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_cmpuint (n_untagged, ==, 0);
  g_assert_false (mailer_imap_client_is_connected (client));
  assert_script_done (fixture);
  stop_server (fixture);
}

/* A tagged NO fails that command only: the next one works. */
static void
test_tagged_no (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(MailerImapClient) client = NULL;
  g_autoptr(MailerImapResponse) response = NULL;
  g_autoptr(GError) error = NULL;
  MailerImapCommand *command;

  script_login (fixture, "IMAP4rev1");
  script (fixture,
          "C: $tag SELECT \"Nowhere\"\n"
          "S: $tag NO [NONEXISTENT] Mailbox doesn't exist: Nowhere\n"
          "C: $tag NOOP\n"
          "S: $tag OK NOOP completed\n"
          "C: $tag LOGOUT\n"
          "S: * BYE Logging out\n"
          "S: $tag OK Logout completed\n"
          "EOF\n");
  start_server (fixture);

  client = logged_in_client (fixture);
  command = mailer_imap_command_new ("SELECT");
  mailer_imap_command_add_mailbox (command, "Nowhere", FALSE, NULL);
  response = run (client, command, NULL, NULL, &error);
  g_assert_null (response);
  g_assert_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_NO);
  g_assert_nonnull (strstr (error->message, "Mailbox doesn't exist: Nowhere"));
  g_assert_true (mailer_imap_client_is_connected (client));
  g_clear_error (&error);

  response = run (client, mailer_imap_command_new ("NOOP"), NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (response);
  g_assert_cmpint (response->status, ==, MAILER_IMAP_STATUS_OK);
  {
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;

    mailer_imap_client_logout_async (client, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 20);
    g_assert_true (mailer_imap_client_logout_finish (client, result, NULL));
  }
  assert_script_done (fixture);
  stop_server (fixture);
}

/* Bytes after the STARTTLS OK, before the handshake: a man in the middle
 * injecting commands' answers (CVE-2011-0411).  Refused, no handshake
 * started, nothing more sent, the connection dropped. */
static void
test_tls_injection (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(MailerImapClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;

  script (fixture, "S: * OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] scripted server ready\n"
                   "C: $tag STARTTLS\n");
  /* One write: the OK and the injected line arrive together. */
  mailer_test_script_server_send (fixture->server,
                                  "$tag OK Begin TLS negotiation now\r\n"
                                  "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected in clear text");
  script (fixture, "EOF\n");
  start_server (fixture);

  client = connect_client (fixture, MAILER_SECURITY_STARTTLS, &error);
  g_assert_null (client);
  g_assert_error (error, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_TLS_INJECTION);
  assert_script_done (fixture);
  sent = received (fixture);
  g_assert_cmpstr (sent, ==, "M1 STARTTLS\r\n");
  stop_server (fixture);
}

/* AUTH=PLAIN without SASL-IR: the credentials go after the server's
 * continuation request, alone on their line. */
static void
test_authenticate_continuation (Fixture       *fixture,
                                gconstpointer  user_data)
{
  g_autoptr(MailerImapClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *encoded = g_base64_encode ((const guchar *) "\0" USER "\0" PASSWORD,
                                              strlen (USER) + strlen (PASSWORD) + 2);

  script (fixture,
          "S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] scripted server ready\n"
          "C: $tag AUTHENTICATE PLAIN\n"
          "S: + \n"
          "C: %s\n"
          "S: $tag OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Logged in\n",
          encoded);
  start_server (fixture);

  client = connect_client (fixture, MAILER_SECURITY_NONE, &error);
  g_assert_no_error (error);
  g_assert_true (login (client, PASSWORD, &error));
  g_assert_no_error (error);
  assert_script_done (fixture);
  sent = received (fixture);
  expected = g_strdup_printf ("M1 AUTHENTICATE PLAIN\r\n%s\r\n", encoded);
  g_assert_cmpstr (sent, ==, expected);
  g_clear_object (&client);
  stop_server (fixture);
}

/* LOGIN (no AUTH=PLAIN) with a password of quotes, a backslash and 8-bit
 * characters: not quotable, so a literal, sent after the continuation
 * request; and with LITERAL+, at once. */
static void
test_login_literal (Fixture       *fixture,
                    gconstpointer  user_data)
{
  static const char password[] = "p\"a\\ss w\xc3\xb6rd \xe2\x82\xac";
  g_autoptr(MailerImapClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;
  g_autofree char *expected = NULL;
  gsize length = strlen (password);

  script (fixture,
          "S: * OK [CAPABILITY IMAP4rev1] scripted server ready\n"
          "C: $tag LOGIN \"" USER "\" {%zu}\n"
          "S: + Ready for literal data\n"
          "C: %s\n"
          "S: $tag OK [CAPABILITY IMAP4rev1] Logged in\n"
          "---\n"
          "S: * OK [CAPABILITY IMAP4rev1 LITERAL+] scripted server ready\n"
          "C: $tag LOGIN \"" USER "\" {%zu+}\n"
          "C: %s\n"
          "S: $tag OK [CAPABILITY IMAP4rev1 LITERAL+] Logged in\n",
          length, password, length, password);
  start_server (fixture);

  for (guint i = 0; i < 2; i++)
    {
      client = connect_client (fixture, MAILER_SECURITY_NONE, &error);
      g_assert_no_error (error);
      g_assert_true (login (client, password, &error));
      g_assert_no_error (error);
      g_clear_object (&client);
    }
  assert_script_done (fixture);
  sent = received (fixture);
  expected = g_strdup_printf ("M1 LOGIN \"" USER "\" {%zu}\r\n%s\r\n"
                              "M1 LOGIN \"" USER "\" {%zu+}\r\n%s\r\n",
                              length, password, length, password);
  g_assert_cmpstr (sent, ==, expected);
  stop_server (fixture);
}

/* A command with a synchronizing literal, and another right behind it:
 * nothing of the second may go before the server asked for the literal
 * and got it, or the server takes it for the literal's bytes. */
static void
test_pipelined_literal (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autoptr(MailerImapClient) client = NULL;
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(GAsyncResult) second = NULL;
  g_autoptr(MailerImapResponse) response = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;
  GAsyncResult *pending[2] = { NULL, NULL };
  MailerImapCommand *command;

  script_login (fixture, "IMAP4rev1");
  script (fixture,
          "C: $tag SELECT {9}\n"
          "S: + Ready for literal data\n"
          "C: Entw\xc3\xbcrfe\n"
          "S: $tag OK [READ-WRITE] Select completed\n"
          "C: $tag NOOP\n"
          "S: $tag OK NOOP completed\n");
  start_server (fixture);

  client = logged_in_client (fixture);
  command = mailer_imap_command_new ("SELECT");
  g_assert_true (mailer_imap_command_add_string (command, "Entw\xc3\xbcrfe", NULL));
  mailer_imap_client_run_async (client, command, NULL, NULL, NULL, mailer_test_store_result_cb, &pending[0]);
  mailer_imap_client_run_async (client, mailer_imap_command_new ("NOOP"), NULL, NULL, NULL,
                                mailer_test_store_result_cb, &pending[1]);
  first = mailer_test_wait_result (&pending[0], 20);
  response = mailer_imap_client_run_finish (client, first, &error);
  if (error != NULL)
    {
      g_autofree char *transcript = mailer_test_script_server_get_transcript (fixture->server);

      g_error ("The SELECT failed: %s\nTranscript:\n%s", error->message, transcript);
    }
  g_clear_pointer (&response, mailer_imap_response_free);
  second = mailer_test_wait_result (&pending[1], 20);
  response = mailer_imap_client_run_finish (client, second, &error);
  g_assert_no_error (error);
  assert_script_done (fixture);
  sent = received (fixture);
  g_assert_cmpstr (sent, ==,
                   "M1 LOGIN \"" USER "\" \"" PASSWORD "\"\r\n"
                   "M2 SELECT {9}\r\nEntw\xc3\xbcrfe\r\n"
                   "M3 NOOP\r\n");
  g_clear_object (&client);
  stop_server (fixture);
}

static char *
uid_list (guint first,
          guint last)
{
  GString *list = g_string_new (NULL);

  for (guint uid = first; uid <= last; uid++)
    g_string_append_printf (list, " %u", uid);
  return g_string_free (list, FALSE);
}

/* A server without ESEARCH lists the UIDs a SEARCH finds on one line: for
 * 20,000 messages, 120 KB, past the client's line limit.  The UIDs are
 * searched in windows instead, each answered on a line of its own; then
 * the newest summaries are fetched first. */
static void
test_search_windows_without_esearch (Fixture       *fixture,
                                     gconstpointer  user_data)
{
  const guint windows[][2] = { { 1, 5000 }, { 5001, 10000 }, { 10001, 15000 }, { 15001, 20000 } };
  g_autoptr(GError) error = NULL;
  MailerImapSyncResult out = { 0, };

  script_login (fixture, "IMAP4rev1");
  script_list (fixture, NULL);
  script_select (fixture, "INBOX", 20000, 20001);
  for (guint i = 0; i < G_N_ELEMENTS (windows); i++)
    {
      g_autofree char *uids = uid_list (windows[i][0], windows[i][1]);
      g_autofree char *range = i + 1 < G_N_ELEMENTS (windows)
                               ? g_strdup_printf ("%u:%u", windows[i][0], windows[i][1])
                               : g_strdup_printf ("%u:*", windows[i][0]);

      g_assert_cmpuint (strlen (uids), <, 64 * 1024);
      script (fixture,
              "C: $tag UID SEARCH UID %s\n"
              "S: * SEARCH%s\n"
              "S: $tag OK Search completed\n",
              range, uids);
    }
  /* Newest first: the run is stopped there. */
  script_fetch_summaries (fixture, "19751:20000");
  script (fixture, "S: $tag NO [UNAVAILABLE] Try again later\n");
  start_server (fixture);

  g_assert_false (run_sync (fixture, &out, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "Try again later"));
  assert_script_done (fixture);
}

/* A move on a server without MOVE is COPY, then STORE \\Deleted and
 * EXPUNGE of the originals.  When the COPY is refused, the originals must
 * stay: nothing is marked or expunged, the change is dropped, and the
 * message is back in its folder here after the resync. */
static void
test_refused_copy_keeps_original (Fixture       *fixture,
                                  gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) one = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *in_store = NULL;
  GAsyncResult *pending = NULL;
  MailerImapSyncResult out = { 0, };
  gint64 id, archive;

  script_login (fixture, "IMAP4rev1 UIDPLUS");
  script_list (fixture, "Archive");
  script_select (fixture, "INBOX", 1, 2);
  script_search (fixture, "1");
  script_fetch_summaries (fixture, "1");
  script_summary (fixture, 1, 1);
  script (fixture, "S: $tag OK Fetch completed\n");
  script_select (fixture, "Archive", 0, 1);
  script_search (fixture, "");
  script (fixture, "---\n");

  script_login (fixture, "IMAP4rev1 UIDPLUS");
  script (fixture,
          "C: $tag SELECT \"INBOX\"\n"
          "S: $tag OK [READ-WRITE] Select completed\n"
          "C: $tag UID COPY 1 \"Archive\"\n"
          "S: $tag NO [OVERQUOTA] Quota exceeded\n");
  script_select (fixture, "INBOX", 1, 2);
  script_search (fixture, "1");
  script_fetch_summaries (fixture, "1");
  script_summary (fixture, 1, 1);
  script (fixture, "S: $tag OK Fetch completed\n");
  script_list (fixture, "Archive");
  script_select (fixture, "Archive", 0, 1);
  script_search (fixture, "");
  start_server (fixture);

  g_assert_true (run_sync (fixture, &out, &error));
  g_assert_no_error (error);

  id = message_by_uid (fixture, "INBOX", 1);
  archive = folder_id (fixture, "Archive");
  g_array_append_val (one, id);
  mailer_store_move_messages_async (fixture->store, one, archive, TRUE, NULL,
                                    mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_move_messages_finish (fixture->store, result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (journal_length (fixture), ==, 1);

  if (!run_sync (fixture, &out, &error))
    {
      g_autofree char *transcript = mailer_test_script_server_get_transcript (fixture->server);

      g_error ("The second run failed: %s\nTranscript:\n%s", error->message, transcript);
    }
  assert_script_done (fixture);
  g_assert_cmpuint (journal_length (fixture), ==, 0);
  in_store = stored (fixture, "INBOX");
  g_assert_cmpstr (in_store, ==, "1\tscript-1@example.org\n");
  g_clear_pointer (&in_store, g_free);
  in_store = stored (fixture, "Archive");
  g_assert_cmpstr (in_store, ==, "");
  stop_server (fixture);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func) \
  g_test_add ("/imap-script/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("sync/bye-mid-fetch", test_bye_mid_fetch);
  ADD ("sync/expunge-mid-fetch", test_expunge_mid_fetch);
  ADD ("sync/literal-cut", test_literal_cut);
  ADD ("sync/select-refused", test_select_refused);
  ADD ("sync/search-windows-without-esearch", test_search_windows_without_esearch);
  ADD ("sync/refused-copy-keeps-original", test_refused_copy_keeps_original);
  ADD ("sync/replay-select-refused", test_replay_select_refused);
  ADD ("sync/starttls-not-offered", test_starttls_not_offered);
  ADD ("sync/login-disabled", test_login_disabled);
  ADD ("client/oversized-literal", test_oversized_literal);
  ADD ("client/garbage-line", test_garbage_line);
  ADD ("client/tagged-no", test_tagged_no);
  ADD ("client/tls-injection", test_tls_injection);
  ADD ("client/authenticate-continuation", test_authenticate_continuation);
  ADD ("client/login-literal", test_login_literal);
  ADD ("client/pipelined-literal", test_pipelined_literal);
#undef ADD

  return g_test_run ();
}
