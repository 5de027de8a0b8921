/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Integration: the POP3 download run (and with it the client) against
 * scripted servers, for what Dovecot will not do: overlong lines, replies
 * cut short, -ERR in the middle of a pipelined batch, response codes at
 * login, a greeting that is not POP3, bytes that are not UTF-8, no CAPA,
 * APOP, AUTH LOGIN, no UIDL (ids from TOP n 0, also for two messages with
 * the same header), an account that wants STLS from a server without it,
 * STLS itself, and plaintext injected after the STLS reply.  Security is
 * NONE (the account's explicit choice) except where STLS is the point.
 *
 * Every failure must leave the store as it was (no message, no UIDL) and
 * must not have sent DELE; the scripts end expecting the client to close,
 * so that anything else it sends (QUIT too) is a mismatch.
 */
#include "config.h"

#include <sqlite3.h>
#include <string.h>

#include "mailer-connection.h"
#include "mailer-pop3-parser.h"
#include "mailer-pop3-sync.h"
#include "mailer-test-certificate.h"
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

  fixture->account = mailer_account_new (MAILER_ACCOUNT_KIND_POP3);
  mailer_account_set_host (fixture->account, "127.0.0.1");
  mailer_account_set_port (fixture->account, 110);
  mailer_account_set_security (fixture->account, MAILER_SECURITY_NONE);
  mailer_account_set_username (fixture->account, USER);
  mailer_account_set_leave_on_server (fixture->account, FALSE);
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

static void
script (Fixture    *fixture,
        const char *text)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mailer_test_script_server_add_script (fixture->server, text, &error));
  g_assert_no_error (error);
}

/* Greeting, CAPA with @capabilities (NULL: CAPA is refused), USER/PASS. */
static void
script_login (Fixture    *fixture,
              const char *capabilities)
{
  script (fixture, "S: +OK POP3 server ready\nC: CAPA\n");
  if (capabilities == NULL)
    script (fixture, "S: -ERR unknown command\n");
  else
    {
      g_auto(GStrv) lines = g_strsplit (capabilities, " ", -1);

      mailer_test_script_server_send (fixture->server, "+OK Capability list follows");
      for (guint i = 0; lines[i] != NULL; i++)
        mailer_test_script_server_send (fixture->server, "%s", lines[i]);
      mailer_test_script_server_send (fixture->server, ".");
    }
  script (fixture,
          "C: USER " USER "\n"
          "S: +OK\n"
          "C: PASS " PASSWORD "\n"
          "S: +OK logged in\n");
}

/* A message with lines that need dot-stuffing on the wire. */
static GBytes *
make_message (guint n)
{
  g_autofree char *text = g_strdup_printf ("From: Sender <sender@example.org>\r\n"
                                           "To: Pat <pat@example.org>\r\n"
                                           "Subject: Scripted message %u\r\n"
                                           "Message-ID: <script-%u@example.org>\r\n"
                                           "\r\n"
                                           "Hello, message %u.\r\n"
                                           ".\r\n"
                                           "..two dots\r\n"
                                           ". a dot and a space\r\n"
                                           ".\r\n",
                                           n, n, n);

  return g_bytes_new (text, strlen (text));
}

/* "+OK", @message dot-stuffed, "." */
static GBytes *
make_retr_reply (GBytes *message)
{
  g_autoptr(GString) reply = g_string_new ("+OK message follows\r\n");
  g_autofree char *text = g_strndup (g_bytes_get_data (message, NULL), g_bytes_get_size (message));
  g_auto(GStrv) lines = g_strsplit (text, "\r\n", -1);

  /* The text ends with CRLF: the last piece is empty. */
  for (guint i = 0; lines[i] != NULL && lines[i + 1] != NULL; i++)
    g_string_append_printf (reply, "%s%s\r\n", lines[i][0] == '.' ? "." : "", lines[i]);
  g_string_append (reply, ".\r\n");
  return g_string_free_to_bytes (g_steal_pointer (&reply));
}

static void
send_bytes (Fixture *fixture,
            GBytes  *bytes)
{
  mailer_test_script_server_send_raw (fixture->server, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

/* LIST and UIDL for messages 1 to @n made with make_message(). */
static void
script_list (Fixture *fixture,
             guint    n)
{
  script (fixture, "C: LIST\n");
  mailer_test_script_server_send (fixture->server, "+OK %u messages", n);
  for (guint i = 1; i <= n; i++)
    {
      g_autoptr(GBytes) message = make_message (i);

      mailer_test_script_server_send (fixture->server, "%u %zu", i, g_bytes_get_size (message));
    }
  script (fixture, "S: .\nC: UIDL\nS: +OK\n");
  for (guint i = 1; i <= n; i++)
    mailer_test_script_server_send (fixture->server, "%u uid-%u", i, i);
  script (fixture, "S: .\n");
}

/* Running */

static gboolean
run_sync (Fixture               *fixture,
          MailerPop3SyncResult  *out,
          GError               **error)
{
  g_autoptr(MailerPop3Sync) sync = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) start_error = NULL;
  GAsyncResult *pending = NULL;

  if (mailer_test_script_server_get_port (fixture->server) == 0)
    {
      g_assert_true (mailer_test_script_server_start (fixture->server, &start_error));
      g_assert_no_error (start_error);
      mailer_account_set_port (fixture->account, mailer_test_script_server_get_port (fixture->server));
    }

  sync = mailer_pop3_sync_new (fixture->store, fixture->account);
  mailer_pop3_sync_run_async (sync, PASSWORD, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  return mailer_pop3_sync_run_finish (sync, result, out, error);
}

/* A run that must succeed; on failure, shows what was said. */
static MailerPop3SyncResult
sync_ok (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  MailerPop3SyncResult out = { 0, };

  if (!run_sync (fixture, &out, &error))
    {
      g_autofree char *transcript = mailer_test_script_server_get_transcript (fixture->server);

      g_error ("The run failed: %s\n%s", error->message, transcript);
    }
  g_assert_cmpint (mailer_account_get_connection_state (fixture->account), ==, MAILER_CONNECTION_STATE_ONLINE);
  return out;
}

static gint64
count_rows (Fixture    *fixture,
            const char *sql)
{
  g_autofree char *path = g_build_filename (fixture->dir, "mailer.db", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 n;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  n = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

static void
assert_store_untouched (Fixture *fixture)
{
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM messages"), ==, 0);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM bodies"), ==, 0);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM pop_uidls"), ==, 0);
}

/* The text of a GError the user will read: valid UTF-8, no control
 * characters. */
static void
assert_readable (const char *message)
{
  g_assert_true (g_utf8_validate (message, -1, NULL));
  for (const char *p = message; *p != '\0'; p++)
    g_assert_false ((guchar) *p < 0x20 || *p == 0x7f);
}

static char *
received (Fixture *fixture)
{
  return mailer_test_script_server_get_received (fixture->server);
}

/* Runs the sync against the script, which must fail with @domain/@code
 * and a message containing @part; then: the script played to its end
 * (unless @server_may_fail: the client may close while the server still
 * sends), no DELE went out, the store is untouched and the account shows
 * the error. */
static GError *
sync_fails (Fixture     *fixture,
            GQuark       domain,
            gint         code,
            const char  *part,
            gboolean     server_may_fail)
{
  GError *error = NULL;
  g_autofree char *sent = NULL;
  MailerPop3SyncResult out = { 0, };

  g_assert_false (run_sync (fixture, &out, &error));
  g_assert_error (error, domain, code);
  assert_readable (error->message);
  if (part != NULL && strstr (error->message, part) == NULL)
    g_error ("“%s” does not say “%s”", error->message, part);
  g_test_message ("%s", error->message);

  if (!mailer_test_script_server_wait_done (fixture->server, WAIT_MS) && !server_may_fail)
    {
      g_autofree char *transcript = mailer_test_script_server_get_transcript (fixture->server);
      const GError *mismatch = mailer_test_script_server_get_error (fixture->server);

      g_error ("The script did not play out: %s\n%s", mismatch ? mismatch->message : "timed out", transcript);
    }

  sent = received (fixture);
  g_assert_null (strstr (sent, "DELE"));
  g_assert_cmpuint (out.n_downloaded, ==, 0);
  g_assert_cmpuint (out.n_deleted, ==, 0);
  assert_store_untouched (fixture);
  g_assert_cmpint (mailer_account_get_connection_state (fixture->account), ==, MAILER_CONNECTION_STATE_ERROR);
  g_assert_cmpstr (mailer_account_get_status_message (fixture->account), ==, error->message);
  return error;
}

static void
assert_script_done (Fixture *fixture)
{
  if (!mailer_test_script_server_wait_done (fixture->server, WAIT_MS))
    {
      g_autofree char *transcript = mailer_test_script_server_get_transcript (fixture->server);
      const GError *mismatch = mailer_test_script_server_get_error (fixture->server);

      g_error ("The script did not play out: %s\n%s", mismatch ? mismatch->message : "timed out", transcript);
    }
}

/* Every message of 1 to @n made with make_message() is stored once, byte
 * for byte (dot-stuffing undone), with its UIDL. */
static void
assert_stored (Fixture *fixture,
               guint    n)
{
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM messages"), ==, n);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM pop_uidls"), ==, n);
  for (guint i = 1; i <= n; i++)
    {
      g_autoptr(GBytes) expected = make_message (i);
      g_autofree char *sql = g_strdup_printf ("SELECT m.id FROM messages m JOIN pop_uidls p"
                                              " ON p.message_id = m.id"
                                              " WHERE m.message_id = 'script-%u@example.org'", i);
      gint64 id = count_rows (fixture, sql);
      g_autoptr(GBytes) raw = mailer_store_get_raw (fixture->store, id, NULL);

      g_assert_nonnull (raw);
      g_assert_cmpmem (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw),
                       g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
    }
}

/* Lines too long */

static void
test_overlong_status (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autofree char *line = g_strnfill (MAILER_POP3_MAX_STATUS_LINE + 100, 'a');
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;

  mailer_test_script_server_send (fixture->server, "+OK %s", line);
  mailer_test_script_server_expect_eof (fixture->server);
  error = sync_fails (fixture, MAILER_POP3_ERROR, MAILER_POP3_ERROR_LINE_TOO_LONG, "longer than allowed", FALSE);
  sent = received (fixture);
  g_assert_cmpstr (sent, ==, "");
}

static void
test_overlong_message_line (Fixture       *fixture,
                            gconstpointer  user_data)
{
  g_autoptr(GString) reply = g_string_new ("+OK\r\nSubject: long\r\n\r\n");
  g_autoptr(GError) error = NULL;

  script_login (fixture, "USER UIDL");
  script (fixture,
          "C: LIST\nS: +OK\nS: 1 2000000\nS: .\n"
          "C: UIDL\nS: +OK\nS: 1 uid-long\nS: .\n"
          "C: RETR 1\n");
  /* One line of more than a mebibyte: a hostile or broken server. */
  for (guint i = 0; i < MAILER_POP3_DEFAULT_MAX_LINE / 64 + 10; i++)
    g_string_append (reply, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  g_string_append (reply, "\r\n.\r\n");
  mailer_test_script_server_send_raw (fixture->server, reply->str, reply->len);
  mailer_test_script_server_expect_eof (fixture->server);

  /* The client stops reading and closes: the server may fail to send the
   * rest. */
  error = sync_fails (fixture, MAILER_POP3_ERROR, MAILER_POP3_ERROR_LINE_TOO_LONG, "message line", TRUE);
}

/* Replies cut short */

static void
test_missing_final_dot (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autoptr(GBytes) message = make_message (1);
  g_autoptr(GBytes) reply = make_retr_reply (message);
  g_autoptr(GError) error = NULL;

  script_login (fixture, "USER UIDL");
  script_list (fixture, 1);
  script (fixture, "C: RETR 1\n");
  /* All of the message but its last line, ".", then the close. */
  mailer_test_script_server_send_raw (fixture->server, g_bytes_get_data (reply, NULL), g_bytes_get_size (reply) - 3);
  mailer_test_script_server_close (fixture->server);
  error = sync_fails (fixture, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CLOSED, NULL, FALSE);
}

static void
test_close_mid_line (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(GBytes) message = make_message (1);
  g_autoptr(GBytes) reply = make_retr_reply (message);
  g_autoptr(GError) error = NULL;

  script_login (fixture, "USER UIDL");
  script_list (fixture, 1);
  script (fixture, "C: RETR 1\n");
  /* Up to the middle of the Subject line. */
  mailer_test_script_server_send_raw (fixture->server, g_bytes_get_data (reply, NULL), 80);
  mailer_test_script_server_close (fixture->server);
  error = sync_fails (fixture, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CLOSED, NULL, FALSE);
}

static void
test_close_mid_list (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  script_login (fixture, "USER UIDL");
  script (fixture, "C: LIST\nS: +OK\nS: 1 100\nR: 2 2\n");
  mailer_test_script_server_close (fixture->server);
  error = sync_fails (fixture, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CLOSED, NULL, FALSE);
}

/* -ERR for the third of four pipelined RETRs: nothing of the window is
 * stored, nothing deleted. */
static void
test_error_in_pipelined_batch (Fixture       *fixture,
                               gconstpointer  user_data)
{
  g_autoptr(GByteArray) replies = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  script_login (fixture, "USER UIDL PIPELINING");
  script_list (fixture, 4);
  /* The client sends the whole window before any reply. */
  script (fixture, "C: RETR 1\nC: RETR 2\nC: RETR 3\nC: RETR 4\n");
  for (guint i = 1; i <= 4; i++)
    {
      g_autoptr(GBytes) message = make_message (i);
      g_autoptr(GBytes) reply = make_retr_reply (message);

      if (i == 3)
        g_byte_array_append (replies, (const guint8 *) "-ERR no such message\r\n", 22);
      else
        g_byte_array_append (replies, g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
    }
  mailer_test_script_server_send_raw (fixture->server, replies->data, replies->len);
  mailer_test_script_server_expect_eof (fixture->server);
  error = sync_fails (fixture, MAILER_POP3_ERROR, MAILER_POP3_ERROR_FAILED, "no such message", FALSE);
  g_assert_nonnull (strstr (error->message, "Downloading a message"));
}

/* Response codes at login */

typedef struct
{
  const char *code;
  MailerPop3Error error;
  const char *says;
} CodeCase;

static const CodeCase code_cases[] = {
  { "IN-USE", MAILER_POP3_ERROR_IN_USE, "in use by another mail program" },
  { "LOGIN-DELAY", MAILER_POP3_ERROR_LOGIN_DELAY, "only every so often" },
  { "SYS/TEMP", MAILER_POP3_ERROR_TEMPORARY, "temporary problem" },
  { "SYS/PERM", MAILER_POP3_ERROR_PERMANENT, "will not go away by itself" },
  { "AUTH", MAILER_POP3_ERROR_AUTH_FAILED, "rejected the user name or password" },
};

static void
test_code_at_pass (Fixture       *fixture,
                   gconstpointer  user_data)
{
  const CodeCase *c = user_data;
  g_autoptr(GError) error = NULL;

  script (fixture,
          "S: +OK POP3 server ready\n"
          "C: CAPA\n"
          "S: +OK\nS: USER\nS: RESP-CODES\nS: UIDL\nS: .\n"
          "C: USER " USER "\n"
          "S: +OK\n"
          "C: PASS " PASSWORD "\n");
  mailer_test_script_server_send (fixture->server, "-ERR [%s] Not now", c->code);
  mailer_test_script_server_expect_eof (fixture->server);
  error = sync_fails (fixture, MAILER_POP3_ERROR, c->error, c->says, FALSE);
  g_assert_nonnull (strstr (error->message, "Not now"));
}

static void
test_in_use_at_auth (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autofree char *plain = g_base64_encode ((const guchar *) "\0" USER "\0" PASSWORD,
                                            strlen (USER) + strlen (PASSWORD) + 2);
  g_autofree char *command = g_strconcat ("AUTH PLAIN ", plain, NULL);
  g_autoptr(GError) error = NULL;

  script (fixture,
          "S: +OK POP3 server ready\n"
          "C: CAPA\n"
          "S: +OK\nS: SASL PLAIN LOGIN\nS: RESP-CODES\nS: .\n");
  mailer_test_script_server_expect (fixture->server, command);
  script (fixture, "S: -ERR [IN-USE] Mailbox locked by another session\nEOF\n");
  error = sync_fails (fixture, MAILER_POP3_ERROR, MAILER_POP3_ERROR_IN_USE,
                      "the mailbox is in use by another mail program", FALSE);
  g_assert_nonnull (strstr (error->message, "Mailbox locked by another session"));
}

static void
test_temporary_greeting (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;

  script (fixture, "S: -ERR [SYS/TEMP] Too busy, come back later\nEOF\n");
  error = sync_fails (fixture, MAILER_POP3_ERROR, MAILER_POP3_ERROR_TEMPORARY, "Too busy", FALSE);
  sent = received (fixture);
  g_assert_cmpstr (sent, ==, "");
}

/* Not POP3 at all: not a word is sent to it. */
static void
test_garbage_greeting (Fixture       *fixture,
                       gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;

  script (fixture, "S: * OK [CAPABILITY IMAP4rev1] IMAP server ready\nEOF\n");
  error = sync_fails (fixture, MAILER_POP3_ERROR, MAILER_POP3_ERROR_PROTOCOL, "does not speak POP3", FALSE);
  sent = received (fixture);
  g_assert_cmpstr (sent, ==, "");
}

/* Latin-1, stray bytes, a NUL and control characters in a refusal. */
static void
test_not_utf8 (Fixture       *fixture,
               gconstpointer  user_data)
{
  static const char refusal[] = "-ERR [IN-USE] Bo\xeete verrouill\xe9\x65 \xff\xfe\x1b[31m\x7f par \xc3\x28un autre\r\n";
  g_autoptr(GError) error = NULL;

  script (fixture,
          "S: +OK POP3 server ready\n"
          "C: CAPA\n"
          "S: +OK\nS: USER\nS: .\n"
          "C: USER " USER "\n"
          "S: +OK\n"
          "C: PASS " PASSWORD "\n");
  mailer_test_script_server_send_raw (fixture->server, refusal, strlen (refusal));
  mailer_test_script_server_expect_eof (fixture->server);
  error = sync_fails (fixture, MAILER_POP3_ERROR, MAILER_POP3_ERROR_IN_USE, "verrouill", FALSE);
  g_assert_nonnull (strstr (error->message, "un autre"));
}

static void
test_not_utf8_greeting (Fixture       *fixture,
                        gconstpointer  user_data)
{
  static const char greeting[] = "-ERR Serveur \xe9teint\x00 cach\xe9\r\n";
  g_autoptr(GError) error = NULL;

  mailer_test_script_server_send_raw (fixture->server, greeting, sizeof greeting - 1);
  mailer_test_script_server_expect_eof (fixture->server);
  error = sync_fails (fixture, MAILER_POP3_ERROR, MAILER_POP3_ERROR_FAILED, "Serveur", FALSE);
}

/* Logging in */

/* RFC 1939 without CAPA: USER/PASS, one command at a time, and a whole
 * download with DELE and QUIT. */
static void
test_no_capa (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  MailerPop3SyncResult out = { 0, };

  script_login (fixture, NULL);
  script_list (fixture, 2);
  for (guint i = 1; i <= 2; i++)
    {
      g_autoptr(GBytes) message = make_message (i);
      g_autoptr(GBytes) reply = make_retr_reply (message);

      mailer_test_script_server_expect (fixture->server, i == 1 ? "RETR 1" : "RETR 2");
      send_bytes (fixture, reply);
    }
  script (fixture,
          "C: DELE 1\nS: +OK\n"
          "C: DELE 2\nS: +OK\n"
          "C: QUIT\nS: +OK bye\nEOF\n");

  out = sync_ok (fixture);
  assert_script_done (fixture);
  g_assert_cmpuint (out.n_on_server, ==, 2);
  g_assert_cmpuint (out.n_downloaded, ==, 2);
  g_assert_cmpuint (out.n_deleted, ==, 2);
  assert_stored (fixture, 2);
}

/* The example of RFC 1939 section 7: the digest is MD5 of the timestamp
 * and the secret, c4c9334bac560ecc979e58001b3e22fb; the password itself is
 * never sent. */
static void
test_apop (Fixture       *fixture,
           gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;
  g_autoptr(MailerPop3Sync) sync = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  MailerPop3SyncResult out = { 0, };

  mailer_account_set_username (fixture->account, "mrose");
  script (fixture,
          "S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\n"
          "C: CAPA\n"
          "S: +OK\nS: USER\nS: UIDL\nS: .\n"
          "C: APOP mrose c4c9334bac560ecc979e58001b3e22fb\n"
          "S: +OK mrose's maildrop has 0 messages\n"
          "C: LIST\nS: +OK\nS: .\n"
          "C: UIDL\nS: +OK\nS: .\n"
          "C: QUIT\nS: +OK\nEOF\n");
  g_assert_true (mailer_test_script_server_start (fixture->server, &error));
  g_assert_no_error (error);
  mailer_account_set_port (fixture->account, mailer_test_script_server_get_port (fixture->server));

  sync = mailer_pop3_sync_new (fixture->store, fixture->account);
  mailer_pop3_sync_run_async (sync, "tanstaaf", NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  if (!mailer_pop3_sync_run_finish (sync, result, &out, &error))
    {
      g_autofree char *transcript = mailer_test_script_server_get_transcript (fixture->server);

      g_error ("APOP: %s\n%s", error->message, transcript);
    }
  assert_script_done (fixture);
  sent = received (fixture);
  g_assert_null (strstr (sent, "tanstaaf"));
  g_assert_cmpuint (out.n_on_server, ==, 0);
}

/* AUTH LOGIN: user name and password each answer a "+" challenge, in
 * base64; the password goes out only after the second challenge. */
static void
test_auth_login (Fixture       *fixture,
                 gconstpointer  user_data)
{
  g_autofree char *user64 = g_base64_encode ((const guchar *) USER, strlen (USER));
  g_autofree char *pass64 = g_base64_encode ((const guchar *) PASSWORD, strlen (PASSWORD));
  g_autoptr(GError) error = NULL;
  MailerPop3SyncResult out = { 0, };
  g_autoptr(GBytes) message = make_message (1);
  g_autoptr(GBytes) reply = make_retr_reply (message);
  g_autofree char *sent = NULL;
  g_autofree char *expected = NULL;

  mailer_account_set_leave_on_server (fixture->account, TRUE);
  script (fixture,
          "S: +OK POP3 server ready\n"
          "C: CAPA\n"
          "S: +OK\nS: SASL LOGIN\nS: UIDL\nS: .\n"
          "C: AUTH LOGIN\n"
          "S: + VXNlcm5hbWU6\n");
  mailer_test_script_server_expect (fixture->server, user64);
  script (fixture, "S: + UGFzc3dvcmQ6\n");
  mailer_test_script_server_expect (fixture->server, pass64);
  script (fixture, "S: +OK logged in\n");
  script_list (fixture, 1);
  script (fixture, "C: RETR 1\n");
  send_bytes (fixture, reply);
  script (fixture, "C: QUIT\nS: +OK\nEOF\n");

  out = sync_ok (fixture);
  assert_script_done (fixture);
  g_assert_cmpuint (out.n_downloaded, ==, 1);
  assert_stored (fixture, 1);

  sent = received (fixture);
  expected = g_strdup_printf ("CAPA\r\nAUTH LOGIN\r\n%s\r\n%s\r\nLIST\r\nUIDL\r\nRETR 1\r\nQUIT\r\n", user64, pass64);
  g_assert_cmpstr (sent, ==, expected);
}

/* A third challenge after the password is refused with "*" (RFC 5034). */
static void
test_auth_login_extra_challenge (Fixture       *fixture,
                                 gconstpointer  user_data)
{
  g_autofree char *user64 = g_base64_encode ((const guchar *) USER, strlen (USER));
  g_autofree char *pass64 = g_base64_encode ((const guchar *) PASSWORD, strlen (PASSWORD));
  g_autoptr(GError) error = NULL;

  script (fixture,
          "S: +OK POP3 server ready\n"
          "C: CAPA\n"
          "S: +OK\nS: SASL LOGIN\nS: .\n"
          "C: AUTH LOGIN\n"
          "S: + VXNlcm5hbWU6\n");
  mailer_test_script_server_expect (fixture->server, user64);
  script (fixture, "S: + UGFzc3dvcmQ6\n");
  mailer_test_script_server_expect (fixture->server, pass64);
  script (fixture, "S: + T25lIG1vcmU6\nC: *\nS: -ERR authentication cancelled\nEOF\n");
  error = sync_fails (fixture, MAILER_POP3_ERROR, MAILER_POP3_ERROR_AUTH_FAILED, "cancelled", FALSE);
}

/* No UIDL */

static GBytes *
make_top_reply (GBytes *message)
{
  const char *data = g_bytes_get_data (message, NULL);
  const char *end = strstr (data, "\r\n\r\n");
  g_autoptr(GString) reply = g_string_new ("+OK top of message follows\r\n");

  g_assert_nonnull (end);
  g_string_append_len (reply, data, end + 4 - data);
  g_string_append (reply, ".\r\n");
  return g_string_free_to_bytes (g_steal_pointer (&reply));
}

/* Session 1 lists messages 1 and 2; session 2, after another client
 * removed message 1, lists message 2 as number 1 and a new message 3 as
 * number 2.  Without UIDL the ids come from the headers (TOP n 0), so they
 * follow the messages, not their numbers: session 2 downloads message 3
 * only. */
static void
test_no_uidl (Fixture       *fixture,
              gconstpointer  user_data)
{
  const guint sessions[2][2] = { { 1, 2 }, { 2, 3 } };
  g_autoptr(GError) error = NULL;
  MailerPop3SyncResult out = { 0, };
  g_autofree char *sent = NULL;

  mailer_account_set_leave_on_server (fixture->account, TRUE);
  for (guint s = 0; s < 2; s++)
    {
      if (s > 0)
        mailer_test_script_server_next_connection (fixture->server);
      script_login (fixture, "USER TOP");
      script (fixture, "C: LIST\nS: +OK\n");
      for (guint i = 0; i < 2; i++)
        {
          g_autoptr(GBytes) message = make_message (sessions[s][i]);

          mailer_test_script_server_send (fixture->server, "%u %zu", i + 1, g_bytes_get_size (message));
        }
      script (fixture, "S: .\nC: UIDL\nS: -ERR unknown command\n");
      for (guint i = 0; i < 2; i++)
        {
          g_autoptr(GBytes) message = make_message (sessions[s][i]);
          g_autoptr(GBytes) top = make_top_reply (message);

          mailer_test_script_server_expect (fixture->server, i == 0 ? "TOP 1 0" : "TOP 2 0");
          send_bytes (fixture, top);
        }
      for (guint i = 0; i < 2; i++)
        {
          g_autoptr(GBytes) message = make_message (sessions[s][i]);
          g_autoptr(GBytes) reply = make_retr_reply (message);

          /* Session 2 has message 2 already. */
          if (s == 1 && i == 0)
            continue;
          mailer_test_script_server_expect (fixture->server, i == 0 ? "RETR 1" : "RETR 2");
          send_bytes (fixture, reply);
        }
      script (fixture, "C: QUIT\nS: +OK\nEOF\n");
    }

  out = sync_ok (fixture);
  g_assert_cmpuint (out.n_downloaded, ==, 2);
  assert_stored (fixture, 2);

  out = sync_ok (fixture);
  g_assert_cmpuint (out.n_on_server, ==, 2);
  g_assert_cmpuint (out.n_downloaded, ==, 1);
  assert_script_done (fixture);
  assert_stored (fixture, 3);

  /* The ids are header hashes, one per message. */
  g_assert_cmpint (count_rows (fixture, "SELECT count(DISTINCT uidl) FROM pop_uidls WHERE uidl LIKE 'sha256:%'"),
                   ==, 3);
  sent = received (fixture);
  g_assert_null (strstr (sent, "DELE"));
}

/* Two messages whose headers are the same (a duplicate delivery) but
 * whose bodies differ get one id without UIDL.  The first is downloaded
 * and deleted; the second was not downloaded, so it must stay on the
 * server: deleting it would lose it. */
static void
test_no_uidl_same_headers (Fixture       *fixture,
                           gconstpointer  user_data)
{
  static const char header[] = "From: Sender <sender@example.org>\r\n"
                               "Subject: Twice\r\n"
                               "Message-ID: <twice@example.org>\r\n"
                               "\r\n";
  g_autofree char *first_text = g_strconcat (header, "The first body.\r\n", NULL);
  g_autoptr(GBytes) first = g_bytes_new (first_text, strlen (first_text));
  g_autoptr(GBytes) top = make_top_reply (first);
  g_autoptr(GBytes) reply = make_retr_reply (first);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) raw = NULL;
  MailerPop3SyncResult out = { 0, };
  gint64 id;

  script_login (fixture, "USER TOP");
  script (fixture,
          "C: LIST\nS: +OK\nS: 1 100\nS: 2 120\nS: .\n"
          "C: UIDL\nS: -ERR unknown command\n"
          "C: TOP 1 0\n");
  send_bytes (fixture, top);
  script (fixture, "C: TOP 2 0\n");
  send_bytes (fixture, top);
  script (fixture, "C: RETR 1\n");
  send_bytes (fixture, reply);
  script (fixture,
          "C: DELE 1\nS: +OK\n"
          "C: QUIT\nS: +OK\nEOF\n");

  out = sync_ok (fixture);
  assert_script_done (fixture);
  g_assert_cmpuint (out.n_downloaded, ==, 1);
  g_assert_cmpuint (out.n_deleted, ==, 1);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM messages"), ==, 1);
  id = count_rows (fixture, "SELECT id FROM messages");
  raw = mailer_store_get_raw (fixture->store, id, NULL);
  g_assert_true (g_bytes_equal (raw, first));
}

/* STLS */

/* The account wants STARTTLS; the server does not offer STLS.  Nothing
 * but CAPA goes out: no password, no user name. */
static void
test_no_stls (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;

  mailer_account_set_security (fixture->account, MAILER_SECURITY_STARTTLS);
  script (fixture,
          "S: +OK POP3 server ready <1.2@example.org>\n"
          "C: CAPA\n"
          "S: +OK\nS: USER\nS: SASL PLAIN LOGIN\nS: UIDL\nS: .\n"
          "EOF\n");
  error = sync_fails (fixture, MAILER_POP3_ERROR, MAILER_POP3_ERROR_NO_STARTTLS, "unencrypted", FALSE);
  sent = received (fixture);
  g_assert_cmpstr (sent, ==, "CAPA\r\n");
}

/* Without CAPA the server cannot say STLS either. */
static void
test_no_stls_no_capa (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;

  mailer_account_set_security (fixture->account, MAILER_SECURITY_STARTTLS);
  script (fixture,
          "S: +OK POP3 server ready\n"
          "C: CAPA\n"
          "S: -ERR what?\n"
          "EOF\n");
  error = sync_fails (fixture, MAILER_POP3_ERROR, MAILER_POP3_ERROR_NO_STARTTLS, "STLS", FALSE);
  sent = received (fixture);
  g_assert_cmpstr (sent, ==, "CAPA\r\n");
}

/* STLS done right: after the handshake the client asks CAPA again and
 * forgets what it was told in clear: SASL PLAIN and the APOP timestamp are
 * gone, so it logs in with USER/PASS. */
static void
test_stls (Fixture       *fixture,
           gconstpointer  user_data)
{
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autofree char *pin = NULL;
  g_autofree char *sent = NULL;
  g_autoptr(GError) error = NULL;
  MailerPop3SyncResult out = { 0, };

  certificate = mailer_test_certificate_new_temporary (&error);
  g_assert_no_error (error);
  pin = mailer_certificate_get_sha256 (certificate);
  mailer_test_script_server_set_certificate (fixture->server, certificate);
  mailer_account_set_security (fixture->account, MAILER_SECURITY_STARTTLS);
  mailer_account_set_pinned_certificate (fixture->account, pin);
  script (fixture,
          "S: +OK POP3 server ready <3.4@example.org>\n"
          "C: CAPA\n"
          "S: +OK\nS: STLS\nS: SASL PLAIN\nS: USER\nS: .\n"
          "C: STLS\n"
          "S: +OK Begin TLS negotiation\n"
          "STARTTLS\n"
          "C: CAPA\n"
          "S: +OK\nS: USER\nS: UIDL\nS: .\n"
          "C: USER " USER "\n"
          "S: +OK\n"
          "C: PASS " PASSWORD "\n"
          "S: +OK logged in\n"
          "C: LIST\nS: +OK\nS: .\n"
          "C: UIDL\nS: +OK\nS: .\n"
          "C: QUIT\nS: +OK\nEOF\n");

  out = sync_ok (fixture);
  assert_script_done (fixture);
  g_assert_cmpuint (out.n_on_server, ==, 0);
  sent = received (fixture);
  g_assert_cmpstr (sent, ==, "CAPA\r\nSTLS\r\nCAPA\r\nUSER " USER "\r\nPASS " PASSWORD "\r\nLIST\r\nUIDL\r\nQUIT\r\n");
}

/* Bytes sent in clear right after the STLS reply, in the same packet,
 * would be read as the first reply over TLS: a man in the middle could
 * make up the capabilities, or the mail (CVE-2011-0411).  The client must
 * refuse before the handshake and send nothing more. */
static void
test_stls_injection (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;

  mailer_account_set_security (fixture->account, MAILER_SECURITY_STARTTLS);
  script (fixture,
          "S: +OK POP3 server ready\n"
          "C: CAPA\n"
          "S: +OK\nS: STLS\nS: USER\nS: .\n"
          "C: STLS\n"
          "R: +OK Begin TLS negotiation\\r\\n+OK\\r\\nUSER\\r\\n.\\r\\n+OK\\r\\n\n"
          "EOF\n");
  error = sync_fails (fixture, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_TLS_INJECTION, NULL, FALSE);
  sent = received (fixture);
  g_assert_cmpstr (sent, ==, "CAPA\r\nSTLS\r\n");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func, data) \
  g_test_add ("/pop3-script/" path, Fixture, data, fixture_set_up, func, fixture_tear_down)
  ADD ("overlong-status", test_overlong_status, NULL);
  ADD ("overlong-message-line", test_overlong_message_line, NULL);
  ADD ("missing-final-dot", test_missing_final_dot, NULL);
  ADD ("close-mid-line", test_close_mid_line, NULL);
  ADD ("close-mid-list", test_close_mid_list, NULL);
  ADD ("error-in-pipelined-batch", test_error_in_pipelined_batch, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (code_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/pop3-script/code-at-pass/%s", code_cases[i].code);

      g_strdelimit (path + strlen ("/pop3-script/code-at-pass/"), "/", '-');

      g_test_add (path, Fixture, &code_cases[i], fixture_set_up, test_code_at_pass, fixture_tear_down);
    }
  ADD ("in-use-at-auth", test_in_use_at_auth, NULL);
  ADD ("temporary-greeting", test_temporary_greeting, NULL);
  ADD ("garbage-greeting", test_garbage_greeting, NULL);
  ADD ("not-utf8", test_not_utf8, NULL);
  ADD ("not-utf8-greeting", test_not_utf8_greeting, NULL);
  ADD ("no-capa", test_no_capa, NULL);
  ADD ("apop", test_apop, NULL);
  ADD ("auth-login", test_auth_login, NULL);
  ADD ("auth-login-extra-challenge", test_auth_login_extra_challenge, NULL);
  ADD ("no-uidl", test_no_uidl, NULL);
  ADD ("no-uidl-same-headers", test_no_uidl_same_headers, NULL);
  ADD ("no-stls", test_no_stls, NULL);
  ADD ("no-stls-no-capa", test_no_stls_no_capa, NULL);
  ADD ("stls", test_stls, NULL);
  ADD ("stls-injection", test_stls_injection, NULL);
#undef ADD

  return g_test_run ();
}
