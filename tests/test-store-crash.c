/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Crash safety of the store: a helper process (store-crash-writer) writes
 * messages and journalled flag changes in a loop and is killed with
 * SIGKILL at a random moment, many times over on the same database.  After
 * every kill the database must open, pass PRAGMA integrity_check, and hold
 * every write the helper reported as committed (message, raw body, POP
 * UIDL, flags and journal entry), with folder counts matching the rows.
 *
 * The random kill times come from a fixed seed (printed; MAILER_CRASH_SEED
 * overrides it) so a failing run can be repeated.
 */
#include "config.h"

#include <signal.h>
#include <sqlite3.h>
#include <string.h>

#include "mailer-store.h"
#include "mailer-test-util.h"

#define N_ROUNDS 40
#define BATCH_SIZE 20
/* Each round's writer numbers its messages from round * UIDS_PER_ROUND. */
#define UIDS_PER_ROUND G_GINT64_CONSTANT (1000000)
#define MIN_KILL_MS 20
#define MAX_KILL_MS 400
#define DEFAULT_SEED 20240611u
/* Earlier rounds' messages checked again after each round. */
#define N_SAMPLES 200

typedef struct
{
  gint64 uid;
  char *sha256;
} Committed;

static void
committed_free (Committed *committed)
{
  g_free (committed->sha256);
  g_free (committed);
}

typedef struct
{
  GHashTable *messages;   /* id -> Committed */
  GHashTable *journal;    /* message ids (gint64 *) with a flag change */
  GArray *reported_ids;   /* the keys of messages, in the order reported */
  gint64 account_id;
  gint64 folder_id;
  gint64 n_messages;      /* rows after the last round */
  gint64 n_journal;
} Crash;

/* What one round's writer reported. */
typedef struct
{
  guint messages;
  guint journal;
} Reported;

static gint64 *
int64_dup (gint64 value)
{
  return g_memdup2 (&value, sizeof value);
}

static gint64
parse_int64 (const char *text)
{
  gint64 value = 0;
  g_autoptr(GError) error = NULL;

  g_ascii_string_to_signed (text, 10, 1, G_MAXINT64, &value, &error);
  g_assert_no_error (error);
  return value;
}

static gboolean
kill_cb (gpointer user_data)
{
  GSubprocess *writer = user_data;

  g_subprocess_send_signal (writer, SIGKILL);
  return G_SOURCE_REMOVE;
}

/* Runs the writer for @kill_ms, kills it, and returns everything it wrote
 * on stdout. */
static GBytes *
run_writer (const char *dir,
            gint64      first_uid,
            guint       kill_ms)
{
  g_autofree char *path = g_test_build_filename (G_TEST_BUILT, "store-crash-writer", NULL);
  g_autofree char *first = g_strdup_printf ("%" G_GINT64_FORMAT, first_uid);
  g_autofree char *batch = g_strdup_printf ("%u", BATCH_SIZE);
  g_autoptr(GSubprocess) writer = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;
  GBytes *output = NULL;
  GSource *timeout;

  writer = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                             path, dir, first, batch, NULL);
  g_assert_no_error (error);

  /* Reads the pipe all along (so the writer never blocks on it) until EOF
   * and the process is gone. */
  g_subprocess_communicate_async (writer, NULL, NULL, mailer_test_store_result_cb, &pending);
  timeout = g_timeout_source_new (kill_ms);
  g_source_set_callback (timeout, kill_cb, writer, NULL);
  g_source_attach (timeout, NULL);
  result = mailer_test_wait_result (&pending, 30);
  g_source_destroy (timeout);
  g_source_unref (timeout);

  g_subprocess_communicate_finish (writer, result, &output, NULL, &error);
  g_assert_no_error (error);

  /* Killed by us, not ended on an error of its own (it prints that on
   * stderr and exits). */
  g_assert_true (g_subprocess_get_if_signaled (writer));
  g_assert_cmpint (g_subprocess_get_term_sig (writer), ==, SIGKILL);
  return output;
}

/* Records what the writer said it committed; a last line without its
 * newline was cut off by the kill and is ignored. */
static Reported
parse_output (Crash  *crash,
              GBytes *output,
              gint64  first_uid)
{
  g_autofree char *text = g_strndup (g_bytes_get_data (output, NULL), g_bytes_get_size (output));
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  Reported reported = { 0, 0 };
  guint n_lines = g_strv_length (lines);

  /* The piece after the last newline: empty, or a partial line. */
  for (guint i = 0; i + 1 < n_lines; i++)
    {
      g_auto(GStrv) words = g_strsplit (lines[i], " ", -1);
      guint n_words = g_strv_length (words);

      if (n_words == 3 && g_str_equal (words[0], "ready"))
        {
          gint64 account_id = parse_int64 (words[1]);
          gint64 folder_id = parse_int64 (words[2]);

          /* Every run reuses what the first one created. */
          if (crash->account_id != 0)
            {
              g_assert_cmpint (account_id, ==, crash->account_id);
              g_assert_cmpint (folder_id, ==, crash->folder_id);
            }
          crash->account_id = account_id;
          crash->folder_id = folder_id;
        }
      else if (n_words == 5 && g_str_equal (words[0], "committed") && g_str_equal (words[1], "msg"))
        {
          Committed *committed = g_new0 (Committed, 1);
          gint64 id = parse_int64 (words[3]);

          committed->uid = parse_int64 (words[2]);
          committed->sha256 = g_strdup (words[4]);
          g_assert_cmpint (committed->uid, >=, first_uid);
          g_assert_cmpint (committed->uid, <, first_uid + UIDS_PER_ROUND);
          g_assert_cmpuint (strlen (committed->sha256), ==, 64);
          /* A row id is never handed out twice. */
          g_assert_false (g_hash_table_contains (crash->messages, &id));
          g_hash_table_insert (crash->messages, int64_dup (id), committed);
          g_array_append_val (crash->reported_ids, id);
          reported.messages++;
        }
      else if (n_words == 3 && g_str_equal (words[0], "committed") && g_str_equal (words[1], "journal"))
        {
          gint64 id = parse_int64 (words[2]);

          /* Only for a message it reported before. */
          g_assert_true (g_hash_table_contains (crash->messages, &id));
          g_assert_true (g_hash_table_add (crash->journal, int64_dup (id)));
          reported.journal++;
        }
      else
        g_error ("Unexpected line from the writer: “%s”", lines[i]);
    }
  return reported;
}

static sqlite3 *
open_read_only (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "mailer.db", NULL);
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  return db;
}

static gint64
query_int (sqlite3    *db,
           const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  gint64 value;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64 (stmt, 0);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
  sqlite3_finalize (stmt);
  return value;
}

static void
assert_integrity (sqlite3 *db)
{
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "ok");
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
  sqlite3_finalize (stmt);

  /* Nothing points at a row that is not there. */
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA foreign_key_check", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
  sqlite3_finalize (stmt);
}

/* The message the writer reported as @id is there, whole, with its UID,
 * its UIDL record, and (where reported) its flag change and journal
 * entry. */
static void
assert_message_present (Crash       *crash,
                        MailerStore *store,
                        sqlite3     *db,
                        GHashTable  *journalled,
                        gint64       id)
{
  Committed *committed = g_hash_table_lookup (crash->messages, &id);
  g_autoptr(MailerMessage) message = NULL;
  g_autoptr(GBytes) raw = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sha = NULL;
  g_autofree char *msgid = NULL;
  g_autofree char *uidl = NULL;
  sqlite3_stmt *row = NULL;

  g_assert_nonnull (committed);
  message = mailer_store_load_message (store, id, &error);
  g_assert_no_error (error);
  g_assert_nonnull (message);
  g_assert_cmpint (mailer_message_get_folder_id (message), ==, crash->folder_id);

  raw = mailer_store_get_raw (store, id, &error);
  g_assert_no_error (error);
  g_assert_nonnull (raw);
  sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, raw);
  g_assert_cmpstr (sha, ==, committed->sha256);
  msgid = g_strdup_printf ("\r\nMessage-ID: <%" G_GINT64_FORMAT ".crash@example.org>\r\n",
                           committed->uid);
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw), msgid));

  uidl = g_strdup_printf ("crash-%" G_GINT64_FORMAT, committed->uid);
  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "SELECT m.uid, m.uidl, p.message_id FROM messages m"
                                       " LEFT JOIN pop_uidls p ON p.account_id = ?2 AND p.uidl = m.uidl"
                                       " WHERE m.id = ?1",
                                       -1, &row, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (row, 1, id);
  sqlite3_bind_int64 (row, 2, crash->account_id);
  g_assert_cmpint (sqlite3_step (row), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int64 (row, 0), ==, committed->uid);
  g_assert_cmpstr ((const char *) sqlite3_column_text (row, 1), ==, uidl);
  g_assert_cmpint (sqlite3_column_int64 (row, 2), ==, id);
  if (g_hash_table_contains (crash->journal, &id))
    {
      g_assert_true (g_hash_table_contains (journalled, &id));
      g_assert_cmpint (mailer_message_get_flags (message) & MAILER_MESSAGE_FLAG_SEEN, !=, 0);
    }
  sqlite3_finalize (row);
}

/* Every flag change the writer reported is in the journal, once.  Returns
 * the ids of the messages the journal has a change for. */
static GHashTable *
assert_journal_complete (Crash       *crash,
                         MailerStore *store,
                         sqlite3     *db)
{
  g_autoptr(GHashTable) journalled = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GError) error = NULL;
  GHashTableIter iter;
  gpointer key;

  entries = mailer_store_list_journal (store, crash->account_id, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < entries->len; i++)
    {
      MailerStoreJournalEntry *entry = g_ptr_array_index (entries, i);

      g_assert_cmpint (entry->op, ==, MAILER_JOURNAL_OP_FLAGS);
      g_assert_cmpint (entry->add_flags, ==, MAILER_MESSAGE_FLAG_SEEN);
      g_assert_cmpint (entry->folder_id, ==, crash->folder_id);
      /* One entry per message: the writer changes each one once. */
      g_assert_true (g_hash_table_add (journalled, int64_dup (entry->message_id)));
    }
  g_assert_cmpint (entries->len, ==, query_int (db, "SELECT count(*) FROM journal"));

  g_hash_table_iter_init (&iter, crash->journal);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_assert_true (g_hash_table_contains (journalled, key));
  return g_steal_pointer (&journalled);
}

/* FTS5 checks its index against its content; that needs a connection
 * that may write, though it changes nothing. */
static void
assert_search_index_sound (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "mailer.db", NULL);
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_exec (db, "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

/* The counts the triggers keep match the rows; every message has its raw
 * body, search entry and UIDL record. */
static void
assert_counts (Crash       *crash,
               MailerStore *store,
               sqlite3     *db)
{
  g_autoptr(MailerFolder) folder = NULL;
  g_autoptr(GError) error = NULL;
  gint64 n_messages = query_int (db, "SELECT count(*) FROM messages");

  g_assert_cmpint (query_int (db,
                              "SELECT count(*) FROM folders f"
                              " WHERE total_count != (SELECT count(*) FROM messages m"
                              "                       WHERE m.folder_id = f.id)"
                              "    OR unread_count != (SELECT count(*) FROM messages m"
                              "                        WHERE m.folder_id = f.id AND (m.flags & 9) = 0)"),
                   ==, 0);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM bodies"), ==, n_messages);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM messages_fts"), ==, n_messages);
  g_assert_cmpint (query_int (db,
                              "SELECT count(*) FROM messages m JOIN messages_fts f ON f.rowid = m.id"),
                   ==, n_messages);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM pop_uidls WHERE message_id IS NOT NULL"),
                   ==, n_messages);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM pop_uidls"), ==, n_messages);

  /* One account and one folder, however often the writer started. */
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM accounts"), <=, 1);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM folders"), <=, 1);

  if (crash->folder_id != 0)
    {
      folder = mailer_store_get_folder (store, crash->folder_id, &error);
      g_assert_no_error (error);
      g_assert_cmpint (mailer_folder_get_total_count (folder), ==, n_messages);
    }
}

/* Opens the store and checks it the way every round does. */
static MailerStore *
open_and_check (const char  *dir,
                sqlite3    **db_out)
{
  g_autoptr(MailerStore) store = NULL;
  g_autoptr(GError) error = NULL;

  /* The store opens what the killed process left (recovering the WAL). */
  store = mailer_store_open (dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store);
  *db_out = open_read_only (dir);
  assert_integrity (*db_out);
  return g_steal_pointer (&store);
}

static void
test_crash (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "crash-store", NULL);
  g_autoptr(GRand) kill_rand = NULL;
  g_autoptr(GRand) sample_rand = NULL;
  g_autoptr(MailerStore) store = NULL;
  g_autoptr(GHashTable) journalled = NULL;
  const char *seed_env = g_getenv ("MAILER_CRASH_SEED");
  guint32 seed = seed_env ? (guint32) g_ascii_strtoull (seed_env, NULL, 10) : DEFAULT_SEED;
  guint rounds_written = 0;
  gint64 start = g_get_monotonic_time ();
  Crash crash = { 0 };
  sqlite3 *db;

  g_test_message ("Kill times from seed %u (set MAILER_CRASH_SEED to change it)", seed);
  kill_rand = g_rand_new_with_seed (seed);
  /* Separate, so the kill times do not depend on how much was written. */
  sample_rand = g_rand_new_with_seed (seed + 1);
  crash.messages = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                          (GDestroyNotify) committed_free);
  crash.journal = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  crash.reported_ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint round = 1; round <= N_ROUNDS; round++)
    {
      gint64 first_uid = round * UIDS_PER_ROUND;
      guint kill_ms = g_rand_int_range (kill_rand, MIN_KILL_MS, MAX_KILL_MS + 1);
      guint earlier = crash.reported_ids->len;
      g_autoptr(GBytes) output = NULL;
      g_autofree char *in_round = NULL;
      Reported reported;
      gint64 n_messages, n_journal;

      output = run_writer (dir, first_uid, kill_ms);
      reported = parse_output (&crash, output, first_uid);
      store = open_and_check (dir, &db);

      if (crash.account_id == 0)
        {
          /* Killed before it said ready: whatever it got to must still
           * be consistent; there is nothing reported to look for. */
          g_assert_cmpuint (crash.reported_ids->len, ==, 0);
          g_assert_cmpint (query_int (db, "SELECT count(*) FROM messages"), ==, 0);
        }
      else
        {
          g_autoptr(GHashTable) in_journal = assert_journal_complete (&crash, store, db);

          /* All of this round's messages, and a sample of the earlier
           * ones (all of them are checked at the end). */
          for (guint i = earlier; i < crash.reported_ids->len; i++)
            assert_message_present (&crash, store, db, in_journal,
                                    g_array_index (crash.reported_ids, gint64, i));
          for (guint i = 0; earlier > 0 && i < N_SAMPLES; i++)
            assert_message_present (&crash, store, db, in_journal,
                                    g_array_index (crash.reported_ids, gint64,
                                                   g_rand_int_range (sample_rand, 0, earlier)));
        }
      assert_counts (&crash, store, db);
      if (round % 10 == 0)
        assert_search_index_sound (dir);

      /* Nothing was lost (earlier rounds' rows are all still there), and
       * at most one batch and one flag change committed whose callback
       * the kill beat. */
      n_messages = query_int (db, "SELECT count(*) FROM messages");
      n_journal = query_int (db, "SELECT count(*) FROM journal");
      g_assert_cmpint (n_messages, >=, crash.n_messages + reported.messages);
      g_assert_cmpint (n_messages, <=, crash.n_messages + reported.messages + BATCH_SIZE);
      g_assert_cmpint (n_journal, >=, crash.n_journal + reported.journal);
      g_assert_cmpint (n_journal, <=, crash.n_journal + reported.journal + BATCH_SIZE / 2);
      in_round = g_strdup_printf ("SELECT count(*) FROM messages WHERE uid >= %" G_GINT64_FORMAT
                                  " AND uid < %" G_GINT64_FORMAT,
                                  first_uid, first_uid + UIDS_PER_ROUND);
      g_assert_cmpint (query_int (db, in_round), ==, n_messages - crash.n_messages);

      /* Each batch went in whole or not at all: the round's messages are
       * whole batches, numbered from its first UID without a gap. */
      g_assert_cmpint ((n_messages - crash.n_messages) % BATCH_SIZE, ==, 0);
      g_clear_pointer (&in_round, g_free);
      in_round = g_strdup_printf ("SELECT coalesce (max (uid), %" G_GINT64_FORMAT ") FROM messages"
                                  " WHERE uid >= %" G_GINT64_FORMAT " AND uid < %" G_GINT64_FORMAT,
                                  first_uid - 1, first_uid, first_uid + UIDS_PER_ROUND);
      g_assert_cmpint (query_int (db, in_round), ==, first_uid + n_messages - crash.n_messages - 1);
      /* And each flag change with its journal entries. */
      g_assert_cmpint ((n_journal - crash.n_journal) % (BATCH_SIZE / 2), ==, 0);
      g_assert_cmpint (query_int (db, "SELECT count(*) FROM messages WHERE flags & 1"), ==, n_journal);

      g_test_message ("Round %u: killed after %u ms; %u messages and %u flag changes reported,"
                      " %" G_GINT64_FORMAT " messages stored",
                      round, kill_ms, reported.messages, reported.journal, n_messages);

      if (n_messages > crash.n_messages)
        rounds_written++;
      crash.n_messages = n_messages;
      crash.n_journal = n_journal;
      sqlite3_close (db);
      g_clear_object (&store);
    }

  /* Everything the writer ever reported is still there at the end. */
  store = open_and_check (dir, &db);
  journalled = assert_journal_complete (&crash, store, db);
  for (guint i = 0; i < crash.reported_ids->len; i++)
    assert_message_present (&crash, store, db, journalled,
                            g_array_index (crash.reported_ids, gint64, i));
  assert_counts (&crash, store, db);
  assert_search_index_sound (dir);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM messages"), ==, crash.n_messages);
  sqlite3_close (db);

  /* The writer really wrote, in most rounds. */
  g_test_message ("%u of %u rounds wrote; %" G_GINT64_FORMAT " messages stored, %u reported, in %.1f s",
                  rounds_written, N_ROUNDS, crash.n_messages, crash.reported_ids->len,
                  (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);
  g_assert_cmpuint (rounds_written, >=, N_ROUNDS / 2);
  g_assert_cmpuint (crash.reported_ids->len, >, 0);
  g_assert_cmpuint (g_hash_table_size (crash.journal), >, 0);

  g_array_unref (crash.reported_ids);
  g_hash_table_unref (crash.messages);
  g_hash_table_unref (crash.journal);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/store/crash/kill-writer", test_crash);

  return g_test_run ();
}
