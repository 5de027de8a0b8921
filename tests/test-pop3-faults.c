/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Integration: POP3 download under faults, against the private Dovecot
 * fixture.  The invariant throughout: every message that was on the server
 * is, at every moment, on the server or committed whole in the store (so
 * none is ever lost), and the store never holds one twice.
 *
 *  - /pop3-faults/cut-sweep: a clean session through the fault proxy
 *    learns how many bytes each phase moves (greeting and CAPA, login,
 *    LIST/UIDL, RETR, DELE, QUIT); then the connection is cut at offsets
 *    across all of it, in both directions, in plain text and over TLS, a
 *    fresh mailbox and store each time.  The cut run must end, with a
 *    GError if it fails; the invariant must hold right after it; a run
 *    without a cut must then leave all the mail in the store, once, byte
 *    for byte, and none on the server.
 *  - /pop3-faults/kill: a helper process (pop3-sync-child) downloads a
 *    larger mailbox and gets SIGKILL at random moments (fixed seed,
 *    printed; MAILER_POP3_KILL_SEED overrides it).  After every kill the
 *    store opens, passes PRAGMA integrity_check and keeps the invariant;
 *    at the end clean runs leave everything in the store, nothing on the
 *    server.
 *  - /pop3-faults/kill-blocked-commit: the same helper, with the store's
 *    write lock held by the test so that no commit can finish: nothing may
 *    be deleted from the server meanwhile (DELE must wait for the commit,
 *    not just for the download), which the kill then shows.
 */
#include "config.h"

#include <signal.h>
#include <sqlite3.h>
#include <string.h>

#include "mailer-pop3-client.h"
#include "mailer-pop3-sync.h"
#include "mailer-test-dovecot.h"
#include "mailer-test-proxy.h"
#include "mailer-test-util.h"

#define PASSWORD "fault pass word"

/* The cut sweep: every mailbox holds the same messages, so that every
 * session moves the same bytes. */
#define CUT_TAG "cut"
#define N_CUT_MESSAGES 30
#define N_CUT_USERS 100
/* Offsets spread evenly over the RETR phase, in addition to its edges. */
#define N_RETR_OFFSETS_TO_CLIENT 14
#define N_RETR_OFFSETS_TO_SERVER 6
#define N_TLS_OFFSETS 12
#define RUN_TIMEOUT_S 30

/* The kill test. */
#define N_KILL_MESSAGES 300
#define N_KILLS 20
#define N_KILL_USERS (N_KILLS + 1)
#define DEFAULT_KILL_SEED 20261117u
/* The blocked-commit test. */
#define N_BLOCKED_MESSAGES 180
#define BLOCKED_KILL_MS 1500

/* A message of mailbox @tag.  Sizes vary from no body at all to 160 kB;
 * lines starting with "." (one alone on a line, and one at the very end of
 * some) test dot-stuffing. */
static GBytes *
make_message (const char *tag,
              guint       n)
{
  g_autoptr(GString) text = g_string_new (NULL);
  guint lines;

  g_string_append_printf (text,
                          "From: Sender %u <sender%u@example.org>\r\n"
                          "To: Pat <pat@example.org>\r\n"
                          "Subject: %s message %u\r\n"
                          "Date: Tue, 17 Nov 2026 %02u:%02u:00 +0000\r\n"
                          "Message-ID: <%s-%u@example.org>\r\n"
                          "MIME-Version: 1.0\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "\r\n",
                          n, n, tag, n, (n / 60) % 24, n % 60, tag, n);
  if (n % 9 == 5)
    return g_string_free_to_bytes (g_steal_pointer (&text));

  g_string_append_printf (text,
                          "Hello Pat, this is message %u.\r\n"
                          ".A line that starts with a dot.\r\n"
                          "..and one with two.\r\n"
                          ".\r\n"
                          "...\r\n",
                          n);
  lines = n == 17 ? 2000 : n % 10 == 3 ? 300 : n % 7;
  for (guint i = 0; i < lines; i++)
    g_string_append_printf (text, "%sLine %u of message %u: the quick brown fox, déjà vu.\r\n",
                            i % 10 == 0 ? "." : "", i, n);
  if (n % 4 == 0)
    g_string_append (text, ".\r\n");
  return g_string_free_to_bytes (g_steal_pointer (&text));
}

/* Which message of mailbox @tag a Message-ID (without <>) names: 1 to
 * @n_messages, or 0 for none of them. */
static guint
message_number (const char *message_id,
                const char *tag,
                guint       n_messages)
{
  gsize tag_len = strlen (tag);
  guint64 n = 0;
  g_autofree char *number = NULL;
  const char *at;

  if (message_id == NULL || strncmp (message_id, tag, tag_len) != 0 || message_id[tag_len] != '-')
    return 0;
  at = strchr (message_id + tag_len + 1, '@');
  if (at == NULL || !g_str_equal (at, "@example.org"))
    return 0;
  number = g_strndup (message_id + tag_len + 1, at - (message_id + tag_len + 1));
  if (!g_ascii_string_to_unsigned (number, 10, 1, n_messages, &n, NULL))
    return 0;
  return (guint) n;
}

/* Server and store */

typedef struct
{
  MailerTestDovecot *dovecot;
  char *pin;
} Server;

static void
server_start (Server      *server,
              const char  *prefix,
              guint        n_users,
              guint        n_messages,
              gboolean     tag_is_user)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  server->dovecot = mailer_test_dovecot_new ();
  for (guint u = 0; u < n_users; u++)
    {
      g_autofree char *user = g_strdup_printf ("%s%03u", prefix, u);

      mailer_test_dovecot_add_user (server->dovecot, user, PASSWORD);
      for (guint i = 1; i <= n_messages; i++)
        {
          g_autoptr(GBytes) message = make_message (tag_is_user ? user : CUT_TAG, i);

          g_assert_true (mailer_test_dovecot_seed_bytes (server->dovecot, user, "INBOX", message, NULL, &error));
          g_assert_no_error (error);
        }
    }
  g_assert_true (mailer_test_dovecot_start (server->dovecot, &error));
  g_assert_no_error (error);
  server->pin = mailer_certificate_get_sha256 (mailer_test_dovecot_get_certificate (server->dovecot));
  g_test_message ("%u mailboxes of %u messages seeded and Dovecot started in %.2f s",
                  n_users, n_messages, (g_get_monotonic_time () - start) / 1e6);
}

static void
server_stop (Server *server)
{
  mailer_test_dovecot_stop (server->dovecot);
  g_clear_object (&server->dovecot);
  g_clear_pointer (&server->pin, g_free);
}

/* Message-ID (without <>) -> how many times it is in @user's INBOX on the
 * server, as Dovecot sees it. */
static GHashTable *
list_server (Server     *server,
             const char *user)
{
  g_autoptr(GHashTable) found = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *output = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (mailer_test_dovecot_doveadm (server->dovecot, &output, &error,
                                              "-f", "tab", "fetch", "-u", user,
                                              "hdr.message-id", "mailbox", "INBOX", "all", NULL));
  g_assert_no_error (error);

  /* The first line names the field. */
  lines = g_strsplit (output, "\n", -1);
  g_assert_cmpstr (lines[0], ==, "hdr.message-id");
  for (guint i = 1; lines[i] != NULL; i++)
    {
      char *id = g_strstrip (lines[i]);
      gsize len = strlen (id);

      if (len == 0)
        continue;
      g_assert_true (len > 2 && id[0] == '<' && id[len - 1] == '>');
      id[len - 1] = '\0';
      g_hash_table_insert (found, g_strdup (id + 1),
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (found, id + 1)) + 1));
    }
  return g_steal_pointer (&found);
}

static sqlite3 *
open_database (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "mailer.db", NULL);
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  return db;
}

static gint64
query_int (sqlite3    *db,
           const char *sql,
           gint64      parameter)
{
  sqlite3_stmt *stmt = NULL;
  gint64 value;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (stmt, 1, parameter);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return value;
}

static void
assert_integrity (const char *dir)
{
  sqlite3 *db = open_database (dir);
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "ok");
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
}

/* The account of @user in the store, or 0 if there is none yet; never
 * more than one. */
static gint64
find_account (const char *dir,
              const char *user)
{
  sqlite3 *db = open_database (dir);
  sqlite3_stmt *stmt = NULL;
  gint64 id = 0;
  int rc;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT id FROM accounts WHERE username = ?1", -1, &stmt, NULL),
                   ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, user, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_assert_cmpint (id, ==, 0);
      id = sqlite3_column_int64 (stmt, 0);
    }
  g_assert_cmpint (rc, ==, SQLITE_DONE);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return id;
}

/* Message-ID -> how many times @account_id has it in the store.  Every
 * stored message must be one of the @n_messages of mailbox @tag, whole:
 * its raw bytes exactly what was seeded (dot-stuffing undone, nothing cut
 * off), marked complete, with its UIDL recorded for the account in the
 * same row; and no UIDL is recorded without its message. */
static GHashTable *
list_store (const char *dir,
            gint64      account_id,
            const char *tag,
            guint       n_messages)
{
  g_autoptr(GHashTable) found = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  sqlite3 *db;
  sqlite3_stmt *stmt = NULL;
  guint n_rows = 0;
  int rc;

  if (account_id == 0)
    return g_steal_pointer (&found);

  db = open_database (dir);
  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "SELECT m.message_id, m.body_state, b.raw,"
                                       "       (SELECT count(*) FROM pop_uidls p"
                                       "        WHERE p.account_id = f.account_id AND p.uidl = m.uidl"
                                       "          AND p.message_id = m.id)"
                                       " FROM messages m JOIN folders f ON f.id = m.folder_id"
                                       " LEFT JOIN bodies b ON b.message_id = m.id"
                                       " WHERE f.account_id = ?1",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (stmt, 1, account_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *message_id = (const char *) sqlite3_column_text (stmt, 0);
      guint n = message_number (message_id, tag, n_messages);
      g_autoptr(GBytes) expected = NULL;
      gconstpointer raw = sqlite3_column_blob (stmt, 2);
      gsize raw_len = sqlite3_column_bytes (stmt, 2);

      if (n == 0)
        g_error ("The store holds a message that was never on the server: %s", message_id);
      expected = make_message (tag, n);
      if (raw == NULL || raw_len != g_bytes_get_size (expected) ||
          memcmp (raw, g_bytes_get_data (expected, NULL), raw_len) != 0)
        g_error ("Stored message %s is not what the server has (%zu bytes, not %zu)",
                 message_id, raw_len, g_bytes_get_size (expected));
      g_assert_cmpint (sqlite3_column_int (stmt, 1), ==, 2);
      g_assert_cmpint (sqlite3_column_int (stmt, 3), ==, 1);
      g_hash_table_insert (found, g_strdup (message_id),
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (found, message_id)) + 1));
      n_rows++;
    }
  g_assert_cmpint (rc, ==, SQLITE_DONE);
  sqlite3_finalize (stmt);

  g_assert_cmpint (query_int (db, "SELECT count(*) FROM pop_uidls WHERE account_id = ?1", account_id),
                   ==, n_rows);
  sqlite3_close (db);
  return g_steal_pointer (&found);
}

typedef struct
{
  guint on_server;
  guint in_store;
} Census;

/* The invariant: each of the @n_messages seeded in mailbox @tag is on the
 * server or in the store; none is twice in either, and nothing else is in
 * them.  With @complete, all are in the store and none on the server. */
static Census
assert_union (Server     *server,
              const char *user,
              const char *dir,
              gint64      account_id,
              const char *tag,
              guint       n_messages,
              gboolean    complete)
{
  g_autoptr(GHashTable) on_server = list_server (server, user);
  g_autoptr(GHashTable) in_store = list_store (dir, account_id, tag, n_messages);
  GHashTable *sets[] = { on_server, in_store };
  Census census = { g_hash_table_size (on_server), g_hash_table_size (in_store) };

  for (guint s = 0; s < G_N_ELEMENTS (sets); s++)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, sets[s]);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          if (message_number (key, tag, n_messages) == 0)
            g_error ("%s: unexpected message %s", s == 0 ? "server" : "store", (const char *) key);
          if (GPOINTER_TO_UINT (value) != 1)
            g_error ("%s: message %s is there %u times", s == 0 ? "server" : "store",
                     (const char *) key, GPOINTER_TO_UINT (value));
        }
    }

  for (guint i = 1; i <= n_messages; i++)
    {
      g_autofree char *id = g_strdup_printf ("%s-%u@example.org", tag, i);

      if (!g_hash_table_contains (on_server, id) && !g_hash_table_contains (in_store, id))
        g_error ("Message %s is lost: neither on the server nor in the store", id);
    }

  if (complete)
    {
      g_assert_cmpuint (census.in_store, ==, n_messages);
      g_assert_cmpuint (census.on_server, ==, 0);
    }
  return census;
}

/* The cut sweep */

typedef enum
{
  PHASE_CONNECT,    /* greeting and CAPA */
  PHASE_LOGIN,
  PHASE_LIST,       /* LIST and UIDL */
  PHASE_RETR,
  PHASE_DELE,
  PHASE_QUIT,
  N_PHASES
} Phase;

static const char * const phase_names[N_PHASES] = {
  "greeting/CAPA", "login", "LIST/UIDL", "RETR", "DELE", "QUIT",
};

static const char * const direction_names[2] = { "client to server", "server to client" };

typedef struct
{
  Server server;
  MailerTestProxy *plain_proxy;
  MailerTestProxy *tls_proxy;
  guint next_user;
} Sweep;

typedef struct
{
  char *user;
  char *dir;
  MailerStore *store;
  MailerAccount *account;
} Run;

static void
run_free (Run *run)
{
  g_clear_object (&run->account);
  g_clear_object (&run->store);
  g_free (run->dir);
  g_free (run->user);
  g_free (run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Run, run_free)

/* A fresh mailbox and a fresh store with an account for it that goes
 * through @proxy. */
static Run *
run_new (Sweep           *sweep,
         MailerTestProxy *proxy,
         MailerSecurity   security)
{
  Run *run = g_new0 (Run, 1);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  g_assert_cmpuint (sweep->next_user, <, N_CUT_USERS);
  run->user = g_strdup_printf ("cut%03u", sweep->next_user++);
  run->dir = g_build_filename (g_get_user_data_dir (), run->user, NULL);
  run->store = mailer_store_open (run->dir, &error);
  g_assert_no_error (error);

  run->account = mailer_account_new (MAILER_ACCOUNT_KIND_POP3);
  mailer_account_set_host (run->account, "127.0.0.1");
  mailer_account_set_port (run->account, mailer_test_proxy_get_port (proxy));
  mailer_account_set_security (run->account, security);
  mailer_account_set_username (run->account, run->user);
  if (security == MAILER_SECURITY_TLS)
    mailer_account_set_pinned_certificate (run->account, sweep->server.pin);
  mailer_account_set_leave_on_server (run->account, FALSE);
  mailer_store_save_account_async (run->store, run->account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_save_account_finish (run->store, result, &error));
  g_assert_no_error (error);
  return run;
}

/* One download run; fails the test if it does not end in time. */
static gboolean
run_sync (Run                   *run,
          MailerPop3SyncResult  *out,
          GError               **error)
{
  g_autoptr(MailerPop3Sync) sync = mailer_pop3_sync_new (run->store, run->account);
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_pop3_sync_run_async (sync, PASSWORD, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, RUN_TIMEOUT_S);
  return mailer_pop3_sync_run_finish (sync, result, out, error);
}

static void
wait_closed (MailerTestProxy *proxy)
{
  /* Both peers have closed: Dovecot has finished with the session. */
  if (!mailer_test_proxy_wait_closed (proxy, 5000))
    g_error ("A connection through the proxy is still open 5 s after the run");
}

static void
sweep_set_up (Sweep         *sweep,
              gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  server_start (&sweep->server, "cut", N_CUT_USERS, N_CUT_MESSAGES, FALSE);
  sweep->plain_proxy = mailer_test_proxy_new ("127.0.0.1",
                                              mailer_test_dovecot_get_port (sweep->server.dovecot,
                                                                            MAILER_TEST_DOVECOT_POP3));
  g_assert_true (mailer_test_proxy_start (sweep->plain_proxy, &error));
  g_assert_no_error (error);
  sweep->tls_proxy = mailer_test_proxy_new ("127.0.0.1",
                                            mailer_test_dovecot_get_port (sweep->server.dovecot,
                                                                          MAILER_TEST_DOVECOT_POP3S));
  g_assert_true (mailer_test_proxy_start (sweep->tls_proxy, &error));
  g_assert_no_error (error);
}

static void
sweep_tear_down (Sweep         *sweep,
                 gconstpointer  user_data)
{
  g_clear_object (&sweep->plain_proxy);
  g_clear_object (&sweep->tls_proxy);
  server_stop (&sweep->server);
}

static void
proxy_bytes (MailerTestProxy *proxy,
             goffset          bytes[2])
{
  goffset before[2] = { -1, -1 };

  /* The proxy counts a chunk once its write has finished, which may be
   * just after the peer has read it: wait until the counts hold still. */
  for (guint i = 0; i < 100; i++)
    {
      g_usleep (10 * 1000);
      bytes[MAILER_TEST_PROXY_TO_SERVER] = mailer_test_proxy_get_bytes (proxy, MAILER_TEST_PROXY_TO_SERVER);
      bytes[MAILER_TEST_PROXY_TO_CLIENT] = mailer_test_proxy_get_bytes (proxy, MAILER_TEST_PROXY_TO_CLIENT);
      if (i > 0 && bytes[0] == before[0] && bytes[1] == before[1])
        return;
      before[0] = bytes[0];
      before[1] = bytes[1];
    }
}

#define WAIT_CLIENT(call_async, finish_expr)                                    \
  G_STMT_START {                                                                \
    g_autoptr(GAsyncResult) result_ = NULL;                                     \
    GAsyncResult *pending_ = NULL;                                              \
    GAsyncResult *result = NULL;                                                \
    call_async;                                                                 \
    result_ = mailer_test_wait_result (&pending_, RUN_TIMEOUT_S);               \
    result = result_;                                                           \
    finish_expr;                                                                \
    g_assert_no_error (error);                                                  \
  } G_STMT_END

/* Runs a whole session step by step with the client, as the download run
 * does it, and notes where in each direction every phase ends. */
static void
learn_phases (Sweep   *sweep,
              goffset  ends[2][N_PHASES])
{
  g_autoptr(Run) run = run_new (sweep, sweep->plain_proxy, MAILER_SECURITY_NONE);
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(MailerPop3Client) client = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GPtrArray) raws = NULL;
  g_autoptr(GArray) numbers = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GError) error = NULL;
  goffset start[2], now[2];
  gboolean ok;

  proxy_bytes (sweep->plain_proxy, start);
  connection = mailer_connection_new ("127.0.0.1", mailer_test_proxy_get_port (sweep->plain_proxy),
                                      MAILER_SECURITY_NONE);
  client = mailer_pop3_client_new (connection);

#define NOTE_PHASE(phase)                                               \
  G_STMT_START {                                                        \
    proxy_bytes (sweep->plain_proxy, now);                              \
    for (guint d = 0; d < 2; d++)                                       \
      ends[d][phase] = now[d] - start[d];                               \
  } G_STMT_END

  WAIT_CLIENT (mailer_pop3_client_connect_async (client, NULL, mailer_test_store_result_cb, &pending_),
               ok = mailer_pop3_client_connect_finish (client, result, &error));
  g_assert_true (ok);
  NOTE_PHASE (PHASE_CONNECT);
  WAIT_CLIENT (mailer_pop3_client_login_async (client, run->user, PASSWORD, NULL,
                                               mailer_test_store_result_cb, &pending_),
               ok = mailer_pop3_client_login_finish (client, result, &error));
  g_assert_true (ok);
  NOTE_PHASE (PHASE_LOGIN);
  WAIT_CLIENT (mailer_pop3_client_list_async (client, NULL, mailer_test_store_result_cb, &pending_),
               messages = mailer_pop3_client_list_finish (client, result, &error));
  g_assert_cmpuint (messages->len, ==, N_CUT_MESSAGES);
  NOTE_PHASE (PHASE_LIST);
  for (guint i = 0; i < messages->len; i++)
    g_array_append_val (numbers, ((MailerPop3Message *) messages->pdata[i])->number);
  WAIT_CLIENT (mailer_pop3_client_retrieve_async (client, numbers, 0, NULL,
                                                  mailer_test_store_result_cb, &pending_),
               raws = mailer_pop3_client_retrieve_finish (client, result, &error));
  g_assert_cmpuint (raws->len, ==, N_CUT_MESSAGES);
  NOTE_PHASE (PHASE_RETR);
  WAIT_CLIENT (mailer_pop3_client_delete_async (client, numbers, NULL, mailer_test_store_result_cb, &pending_),
               ok = mailer_pop3_client_delete_finish (client, result, &error));
  g_assert_true (ok);
  NOTE_PHASE (PHASE_DELE);
  WAIT_CLIENT (mailer_pop3_client_quit_async (client, NULL, mailer_test_store_result_cb, &pending_),
               ok = mailer_pop3_client_quit_finish (client, result, &error));
  g_assert_true (ok);
  g_clear_object (&client);
  g_clear_object (&connection);
  wait_closed (sweep->plain_proxy);
  NOTE_PHASE (PHASE_QUIT);
#undef NOTE_PHASE

  for (guint d = 0; d < 2; d++)
    for (guint p = 1; p < N_PHASES; p++)
      g_assert_cmpint (ends[d][p], >, ends[d][p - 1]);
  g_assert_cmpint (mailer_test_dovecot_count (sweep->server.dovecot, run->user, "INBOX", NULL), ==, 0);
}

/* A clean download run through @proxy with a counter: the bytes each
 * direction of a whole session moves. */
static void
measure_clean_run (Sweep           *sweep,
                   MailerTestProxy *proxy,
                   MailerSecurity   security,
                   goffset          total[2])
{
  g_autoptr(Run) run = run_new (sweep, proxy, security);
  g_autoptr(GError) error = NULL;
  MailerPop3SyncResult out = { 0, };
  goffset start[2], end[2];

  mailer_test_proxy_clear (proxy);
  proxy_bytes (proxy, start);
  g_assert_true (run_sync (run, &out, &error));
  g_assert_no_error (error);
  wait_closed (proxy);
  proxy_bytes (proxy, end);
  g_assert_cmpuint (out.n_downloaded, ==, N_CUT_MESSAGES);
  g_assert_cmpuint (out.n_deleted, ==, N_CUT_MESSAGES);
  assert_union (&sweep->server, run->user, run->dir, mailer_account_get_id (run->account),
                CUT_TAG, N_CUT_MESSAGES, TRUE);
  for (guint d = 0; d < 2; d++)
    total[d] = end[d] - start[d];
}

typedef struct
{
  guint tested;
  guint failed;
  guint succeeded;
} Tally;

/* One offset: a run cut there, the invariant, then a clean run and the
 * final state. */
static void
cut_at (Sweep                    *sweep,
        MailerTestProxy          *proxy,
        MailerSecurity            security,
        MailerTestProxyDirection  direction,
        goffset                   offset,
        const char               *where,
        Tally                    *tally)
{
  g_autoptr(Run) run = run_new (sweep, proxy, security);
  g_autoptr(GError) error = NULL;
  MailerPop3SyncResult out = { 0, };
  gint64 account_id = mailer_account_get_id (run->account);
  Census census;
  gboolean ok;

  mailer_test_proxy_clear (proxy);
  mailer_test_proxy_set_cut (proxy, direction, offset);
  ok = run_sync (run, &out, &error);
  if (ok)
    {
      g_assert_no_error (error);
      tally->succeeded++;
    }
  else
    {
      g_assert_nonnull (error);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_assert_cmpint (mailer_account_get_connection_state (run->account), ==, MAILER_CONNECTION_STATE_ERROR);
      g_assert_cmpstr (mailer_account_get_status_message (run->account), ==, error->message);
      tally->failed++;
    }
  tally->tested++;
  wait_closed (proxy);

  /* Right after the cut, before any repair: nothing lost, nothing twice. */
  assert_integrity (run->dir);
  census = assert_union (&sweep->server, run->user, run->dir, account_id, CUT_TAG, N_CUT_MESSAGES, ok);
  g_test_message ("%s cut %s after %" G_GOFFSET_FORMAT " bytes (%s): %s; %u stored, %u on the server",
                  security == MAILER_SECURITY_TLS ? "TLS" : "plain", direction_names[direction],
                  offset, where, ok ? "run succeeded" : error->message,
                  census.in_store, census.on_server);
  if (ok)
    g_assert_cmpuint (out.n_deleted, ==, N_CUT_MESSAGES);

  /* A run without faults repairs everything. */
  g_clear_error (&error);
  mailer_test_proxy_clear (proxy);
  if (!run_sync (run, &out, &error))
    g_error ("The run after a cut at %" G_GOFFSET_FORMAT " (%s) failed: %s", offset, where, error->message);
  wait_closed (proxy);
  assert_integrity (run->dir);
  assert_union (&sweep->server, run->user, run->dir, account_id, CUT_TAG, N_CUT_MESSAGES, TRUE);
  g_assert_cmpuint (out.n_downloaded, ==, N_CUT_MESSAGES - census.in_store);
}

static int
compare_offsets (gconstpointer a,
                 gconstpointer b)
{
  goffset x = *(const goffset *) a, y = *(const goffset *) b;

  return x < y ? -1 : x > y;
}

static void
add_offset (GArray  *offsets,
            goffset  offset,
            goffset  total)
{
  if (offset >= 0 && offset <= total)
    g_array_append_val (offsets, offset);
}

/* Offsets at the start, just after it, the middle and the end of every
 * phase, plus some spread over RETR, without duplicates. */
static GArray *
choose_offsets (const goffset *ends,
                guint          n_retr)
{
  GArray *offsets = g_array_new (FALSE, FALSE, sizeof (goffset));
  goffset total = ends[N_PHASES - 1];
  goffset start = 0;
  guint n = 0;

  for (guint p = 0; p < N_PHASES; p++)
    {
      goffset end = ends[p];

      add_offset (offsets, start, total);
      add_offset (offsets, start + 1, total);
      add_offset (offsets, start + (end - start) / 2, total);
      add_offset (offsets, end - 1, total);
      if (p == PHASE_RETR)
        for (guint i = 1; i <= n_retr; i++)
          add_offset (offsets, start + (end - start) * i / (n_retr + 1), total);
      start = end;
    }
  add_offset (offsets, total, total);

  g_array_sort (offsets, compare_offsets);
  for (guint i = 0; i < offsets->len; i++)
    if (n == 0 || g_array_index (offsets, goffset, i) != g_array_index (offsets, goffset, n - 1))
      g_array_index (offsets, goffset, n++) = g_array_index (offsets, goffset, i);
  g_array_set_size (offsets, n);
  return offsets;
}

static const char *
phase_of (const goffset *ends,
          goffset        offset)
{
  for (guint p = 0; p < N_PHASES; p++)
    if (offset < ends[p])
      return phase_names[p];
  return "after QUIT";
}

static void
test_cut_sweep (Sweep         *sweep,
                gconstpointer  user_data)
{
  goffset ends[2][N_PHASES];
  goffset total[2], tls_total[2];
  Tally tallies[2][2] = { { { 0, }, }, };
  gint64 start = g_get_monotonic_time ();
  guint n_tested = 0, n_failed = 0, n_succeeded = 0;

  learn_phases (sweep, ends);
  measure_clean_run (sweep, sweep->plain_proxy, MAILER_SECURITY_NONE, total);
  measure_clean_run (sweep, sweep->tls_proxy, MAILER_SECURITY_TLS, tls_total);
  for (guint d = 0; d < 2; d++)
    {
      g_test_message ("%s: %" G_GOFFSET_FORMAT " bytes in a whole plain session (%" G_GOFFSET_FORMAT
                      " over TLS); phases end at %" G_GOFFSET_FORMAT " %" G_GOFFSET_FORMAT
                      " %" G_GOFFSET_FORMAT " %" G_GOFFSET_FORMAT " %" G_GOFFSET_FORMAT,
                      direction_names[d], total[d], tls_total[d],
                      ends[d][0], ends[d][1], ends[d][2], ends[d][3], ends[d][4]);
      /* The download run says exactly what the client said step by step,
       * so the phases apply to it. */
      g_assert_cmpint (total[d], ==, ends[d][PHASE_QUIT]);
    }

  for (guint d = 0; d < 2; d++)
    {
      g_autoptr(GArray) offsets = choose_offsets (ends[d], d == MAILER_TEST_PROXY_TO_CLIENT
                                                           ? N_RETR_OFFSETS_TO_CLIENT
                                                           : N_RETR_OFFSETS_TO_SERVER);

      for (guint i = 0; i < offsets->len; i++)
        {
          goffset offset = g_array_index (offsets, goffset, i);

          cut_at (sweep, sweep->plain_proxy, MAILER_SECURITY_NONE, d, offset,
                  phase_of (ends[d], offset), &tallies[0][d]);
        }
    }

  /* Over TLS the offsets fall in the handshake and inside records. */
  for (guint d = 0; d < 2; d++)
    {
      guint n = d == MAILER_TEST_PROXY_TO_CLIENT ? N_TLS_OFFSETS : N_TLS_OFFSETS / 2;

      for (guint i = 0; i < n; i++)
        {
          goffset offset = tls_total[d] * i / n + (i > 0 ? 7 : 0);

          cut_at (sweep, sweep->tls_proxy, MAILER_SECURITY_TLS, d, offset,
                  i == 0 ? "before the handshake" : "in TLS", &tallies[1][d]);
        }
    }

  for (guint s = 0; s < 2; s++)
    for (guint d = 0; d < 2; d++)
      {
        g_test_message ("%s, %s: %u offsets, %u cut runs failed, %u succeeded",
                        s == 0 ? "plain" : "TLS", direction_names[d],
                        tallies[s][d].tested, tallies[s][d].failed, tallies[s][d].succeeded);
        n_tested += tallies[s][d].tested;
        n_failed += tallies[s][d].failed;
        n_succeeded += tallies[s][d].succeeded;
      }
  g_test_message ("%u cut offsets tested in %.1f s: %u cut runs failed, %u succeeded",
                  n_tested, (g_get_monotonic_time () - start) / 1e6, n_failed, n_succeeded);
  g_assert_cmpuint (n_tested, >=, 50);
  g_assert_cmpuint (n_tested, ==, n_failed + n_succeeded);
  /* Most cuts break the session; only a cut at the very end may not. */
  g_assert_cmpuint (n_failed, >, n_tested * 3 / 4);
}

/* The kill test */

typedef struct
{
  Server server;
  char *dir;
} Kill;

/* How many mailboxes, of how many messages. */
typedef struct
{
  guint n_users;
  guint n_messages;
} KillSetup;

static const KillSetup kill_setup = { N_KILL_USERS, N_KILL_MESSAGES };
/* Two windows: the second downloads while the first is being committed. */
static const KillSetup blocked_setup = { 1, N_BLOCKED_MESSAGES };

static void
kill_set_up (Kill          *kill,
             gconstpointer  user_data)
{
  const KillSetup *setup = user_data;

  server_start (&kill->server, "kill", setup->n_users, setup->n_messages, TRUE);
  kill->dir = g_build_filename (g_get_user_data_dir (), "kill-store", NULL);
}

static void
kill_tear_down (Kill          *kill,
                gconstpointer  user_data)
{
  server_stop (&kill->server);
  g_free (kill->dir);
}

/* When to kill the helper: @ms after it starts, or @ms after it prints a
 * line starting with @after_line; never, for 0 and no line. */
typedef struct
{
  guint ms;
  const char *after_line;
  /* With after_line: also take the store's write lock then, so that no
   * commit can finish until the kill. */
  gboolean lock_store;
} KillPlan;

typedef struct
{
  GSubprocess *child;
  GDataInputStream *output;
  KillPlan plan;
  GSource *timeout;
  char *last_line;       /* the last whole line it printed */
  gboolean eof;
  const char *dir;
  sqlite3 *lock;         /* holds the write lock while set */
} ChildRun;

static const KillPlan no_kill = { 0, NULL, FALSE };

static gboolean
kill_cb (gpointer user_data)
{
  ChildRun *run = user_data;

  g_subprocess_send_signal (run->child, SIGKILL);
  return G_SOURCE_REMOVE;
}

static void
schedule_kill (ChildRun *run)
{
  run->timeout = g_timeout_source_new (run->plan.ms);
  g_source_set_callback (run->timeout, kill_cb, run, NULL);
  g_source_attach (run->timeout, NULL);
}

static void
line_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  ChildRun *run = user_data;
  g_autoptr(GError) error = NULL;
  char *line;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  g_assert_no_error (error);
  if (line == NULL)
    {
      run->eof = TRUE;
      return;
    }
  g_free (run->last_line);
  run->last_line = line;
  if (run->plan.after_line != NULL && run->timeout == NULL && g_str_has_prefix (line, run->plan.after_line))
    {
      if (run->plan.lock_store)
        {
          g_autofree char *path = g_build_filename (run->dir, "mailer.db", NULL);

          g_assert_cmpint (sqlite3_open_v2 (path, &run->lock, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
          sqlite3_busy_timeout (run->lock, 10000);
          g_assert_cmpint (sqlite3_exec (run->lock, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);
        }
      schedule_kill (run);
    }
  g_data_input_stream_read_line_async (run->output, G_PRIORITY_DEFAULT, NULL, line_cb, run);
}

/* Where a kill landed, from the last line the helper printed. */
typedef enum
{
  OUTCOME_BEFORE_ACCOUNT,  /* nothing: opening the store */
  OUTCOME_CONNECTING,      /* "account": connecting, logging in, listing, the
                            * first window; or, with nothing left to
                            * download, deleting */
  OUTCOME_DOWNLOADING,     /* "progress" below 1: between windows */
  OUTCOME_DELETING,        /* "progress 1": all committed; DELE or QUIT */
  OUTCOME_FINISHED,        /* "done", or it exited first */
  N_OUTCOMES
} Outcome;

static const char * const outcome_names[N_OUTCOMES] = {
  "while opening the store", "after opening the account (connecting to listing, or deleting)",
  "while downloading", "after the last commit (DELE, QUIT)", "after the end of the run",
};

/* Runs pop3-sync-child for @user with @plan; it must either be killed or
 * end a complete run.  It prints each line with one write, so a kill does
 * not cut one in half. */
static Outcome
run_child (Kill       *kill,
           const char *user,
           KillPlan    plan,
           char      **out_last_line)
{
  g_autofree char *path = g_test_build_filename (G_TEST_BUILT, "pop3-sync-child", NULL);
  g_autofree char *port = g_strdup_printf ("%u", mailer_test_dovecot_get_port (kill->server.dovecot,
                                                                                MAILER_TEST_DOVECOT_POP3S));
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;
  ChildRun run = { NULL, NULL, plan, NULL, g_strdup (""), FALSE, kill->dir, NULL };
  Outcome outcome;

  g_subprocess_launcher_setenv (launcher, "MAILER_TEST_POP3_PASSWORD", PASSWORD, TRUE);
  run.child = g_subprocess_launcher_spawn (launcher, &error, path, kill->dir, "127.0.0.1", port, "tls",
                                           kill->server.pin, user, "0", NULL);
  g_assert_no_error (error);
  run.output = g_data_input_stream_new (g_subprocess_get_stdout_pipe (run.child));
  g_data_input_stream_read_line_async (run.output, G_PRIORITY_DEFAULT, NULL, line_cb, &run);
  if (plan.after_line == NULL && plan.ms > 0)
    schedule_kill (&run);

  g_subprocess_wait_async (run.child, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 120);
  g_assert_true (g_subprocess_wait_finish (run.child, result, &error));
  g_assert_no_error (error);
  while (!run.eof)
    g_main_context_iteration (NULL, TRUE);
  if (run.timeout != NULL)
    {
      g_source_destroy (run.timeout);
      g_source_unref (run.timeout);
    }
  if (run.lock != NULL)
    {
      g_assert_cmpint (sqlite3_exec (run.lock, "ROLLBACK", NULL, NULL, NULL), ==, SQLITE_OK);
      sqlite3_close (run.lock);
    }

  if (g_subprocess_get_if_signaled (run.child))
    {
      g_assert_cmpint (g_subprocess_get_term_sig (run.child), ==, SIGKILL);
      if (run.last_line[0] == '\0')
        outcome = OUTCOME_BEFORE_ACCOUNT;
      else if (g_str_has_prefix (run.last_line, "account "))
        outcome = OUTCOME_CONNECTING;
      else if (g_str_has_prefix (run.last_line, "progress 1.0000"))
        outcome = OUTCOME_DELETING;
      else if (g_str_has_prefix (run.last_line, "progress "))
        outcome = OUTCOME_DOWNLOADING;
      else
        outcome = OUTCOME_FINISHED;  /* killed after saying "done" */
    }
  else
    {
      /* The helper prints its error on stderr, which the test shows. */
      g_assert_cmpint (g_subprocess_get_exit_status (run.child), ==, 0);
      g_assert_true (g_str_has_prefix (run.last_line, "done "));
      outcome = OUTCOME_FINISHED;
    }

  g_clear_object (&run.output);
  g_clear_object (&run.child);
  *out_last_line = run.last_line;
  return outcome;
}

/* After a kill: the store opens (recovering what the process left), is
 * sound, and keeps the invariant for @user.  Returns the census. */
static Census
check_after_kill (Kill       *kill,
                  const char *user,
                  guint       n_messages,
                  gboolean    complete)
{
  g_autoptr(MailerStore) store = NULL;
  g_autoptr(GError) error = NULL;
  gint64 account_id = 0;

  /* Killed before it made the store: all must still be on the server. */
  if (g_file_test (kill->dir, G_FILE_TEST_IS_DIR))
    {
      store = mailer_store_open (kill->dir, &error);
      g_assert_no_error (error);
      g_assert_nonnull (store);
      assert_integrity (kill->dir);
      account_id = find_account (kill->dir, user);
    }
  return assert_union (&kill->server, user, kill->dir, account_id, user, n_messages, complete);
}

static void
test_kill (Kill          *kill,
           gconstpointer  user_data)
{
  const char *seed_env = g_getenv ("MAILER_POP3_KILL_SEED");
  guint32 seed = seed_env ? (guint32) g_ascii_strtoull (seed_env, NULL, 10) : DEFAULT_KILL_SEED;
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autofree char *calibration_user = g_strdup_printf ("kill%03u", N_KILL_USERS - 1);
  g_autofree char *last_line = NULL;
  guint outcomes[N_OUTCOMES] = { 0, };
  guint current = 0;
  gint64 start, run_ms;

  g_test_message ("Kill times from seed %u (set MAILER_POP3_KILL_SEED to change it)", seed);

  /* How long a whole run takes: the span the kills are spread over. */
  start = g_get_monotonic_time ();
  g_assert_cmpint (run_child (kill, calibration_user, no_kill, &last_line), ==, OUTCOME_FINISHED);
  run_ms = (g_get_monotonic_time () - start) / 1000;
  check_after_kill (kill, calibration_user, N_KILL_MESSAGES, TRUE);
  g_test_message ("A whole run of %u messages takes %" G_GINT64_FORMAT " ms", N_KILL_MESSAGES, run_ms);

  for (guint i = 0; i < N_KILLS; i++)
    {
      g_autofree char *user = g_strdup_printf ("kill%03u", current);
      KillPlan plan = { 0, NULL, FALSE };
      Outcome outcome;
      Census census;

      /* Every third kill aims at the end of the run, where the deleting
       * happens; the others fall anywhere in it, or after it. */
      if (i % 3 == 2)
        plan = (KillPlan) { g_rand_int_range (rand, 1, 30), "progress 1.0000", FALSE };
      else
        plan.ms = g_rand_int_range (rand, 1, (gint32) (run_ms * 6 / 5) + 2);

      g_clear_pointer (&last_line, g_free);
      outcome = run_child (kill, user, plan, &last_line);
      outcomes[outcome]++;
      census = check_after_kill (kill, user, N_KILL_MESSAGES, FALSE);
      g_test_message ("Kill %u of %s %u ms after %s: %s (last said “%s”); %u stored, %u on the server",
                      i + 1, user, plan.ms, plan.after_line ? "all was committed" : "the start",
                      outcome_names[outcome], last_line, census.in_store, census.on_server);

      /* Once a mailbox is emptied, the next run takes a full one. */
      if (census.on_server == 0)
        {
          check_after_kill (kill, user, N_KILL_MESSAGES, TRUE);
          current++;
        }
    }
  for (guint o = 0; o < N_OUTCOMES; o++)
    g_test_message ("%u killed %s", outcomes[o], outcome_names[o]);
  g_assert_cmpuint (outcomes[OUTCOME_FINISHED], <=, N_KILLS * 2 / 3);

  /* Clean runs finish what the killed ones left. */
  for (guint u = 0; u <= current && u < N_KILL_USERS - 1; u++)
    {
      g_autofree char *user = g_strdup_printf ("kill%03u", u);

      g_clear_pointer (&last_line, g_free);
      g_assert_cmpint (run_child (kill, user, no_kill, &last_line), ==, OUTCOME_FINISHED);
      check_after_kill (kill, user, N_KILL_MESSAGES, TRUE);
    }
}

/* The store's disk is slow: no commit finishes.  The download goes on (a
 * window while the one before is committed), but nothing may be deleted
 * from the server meanwhile: killed after a good while, the process must
 * leave every message on the server. */
static void
test_kill_blocked_commit (Kill          *kill,
                          gconstpointer  user_data)
{
  g_autofree char *last_line = NULL;
  KillPlan plan = { BLOCKED_KILL_MS, "progress 0.0000", TRUE };
  Outcome outcome;
  Census census;

  /* The lock is taken once the messages are listed, before the first
   * window can be committed. */
  outcome = run_child (kill, "kill000", plan, &last_line);
  census = check_after_kill (kill, "kill000", N_BLOCKED_MESSAGES, FALSE);
  g_test_message ("Killed %u ms after the store was locked, %s (last said “%s”): %u stored, %u on the server",
                  BLOCKED_KILL_MS, outcome_names[outcome], last_line, census.in_store, census.on_server);
  g_assert_cmpint (outcome, ==, OUTCOME_DOWNLOADING);
  g_assert_cmpuint (census.on_server, ==, N_BLOCKED_MESSAGES);
  g_assert_cmpuint (census.in_store, <, N_BLOCKED_MESSAGES);

  g_clear_pointer (&last_line, g_free);
  g_assert_cmpint (run_child (kill, "kill000", no_kill, &last_line), ==, OUTCOME_FINISHED);
  check_after_kill (kill, "kill000", N_BLOCKED_MESSAGES, TRUE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add ("/pop3-faults/cut-sweep", Sweep, NULL, sweep_set_up, test_cut_sweep, sweep_tear_down);
  g_test_add ("/pop3-faults/kill", Kill, &kill_setup, kill_set_up, test_kill, kill_tear_down);
  g_test_add ("/pop3-faults/kill-blocked-commit", Kill, &blocked_setup, kill_set_up, test_kill_blocked_commit,
              kill_tear_down);

  return g_test_run ();
}
