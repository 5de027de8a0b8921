/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The store when it cannot write: a full disk (the database limited to a
 * few more pages) and a read-only database.  A failed write reports a
 * clear MAILER_STORE_ERROR, leaves nothing half-written, emits no
 * MailerStore::changed, and the same write succeeds once the limit is
 * lifted.
 */
#include "config.h"

#include <sqlite3.h>
#include <string.h>

#include "mailer-store-private.h"
#include "mailer-test-util.h"

typedef struct
{
  MailerStore *store;
  gint64 account_id;
  gint64 folder_id;
  guint changed;          /* MailerStore::changed emissions */
} Fixture;

/* Row counts of everything a message write touches. */
typedef struct
{
  gint64 messages;
  gint64 bodies;
  gint64 fts;
  gint64 uidls;
  gint64 thread_refs;
  gint64 thread_subjects;
  gint64 journal;
  gint64 seen;
  guint total_count;
  guint unread_count;
} Counts;

static void
changed_cb (MailerStore        *store,
            MailerStoreChanges *changes,
            gpointer            user_data)
{
  Fixture *fixture = user_data;

  fixture->changed++;
}

/* Runs whatever is already due on the default context, so a changed
 * signal queued by the writer thread has been delivered. */
static void
drain_main_context (void)
{
  for (guint i = 0; i < 50; i++)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (1000);
    }
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "errors-store", NULL);
  g_autoptr(MailerAccount) account = mailer_account_new (MAILER_ACCOUNT_KIND_POP3);
  g_autoptr(MailerFolder) folder = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  fixture->store = mailer_store_open (dir, &error);
  g_assert_no_error (error);

  mailer_account_set_host (account, "pop.example.org");
  mailer_account_set_port (account, 995);
  mailer_store_save_account_async (fixture->store, account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_save_account_finish (fixture->store, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  fixture->account_id = mailer_account_get_id (account);

  folder = mailer_folder_new (fixture->account_id, "INBOX");
  mailer_folder_set_role (folder, MAILER_FOLDER_ROLE_INBOX);
  mailer_store_save_folder_async (fixture->store, folder, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_save_folder_finish (fixture->store, result, &error));
  g_assert_no_error (error);
  fixture->folder_id = mailer_folder_get_id (folder);

  drain_main_context ();
  g_signal_connect (fixture->store, "changed", G_CALLBACK (changed_cb), fixture);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_clear_object (&fixture->store);
}

static gint64
query_int (MailerStore *store,
           const char  *sql)
{
  sqlite3_stmt *stmt = NULL;
  gint64 value;

  g_assert_cmpint (sqlite3_prepare_v2 (_mailer_store_get_read_db (store), sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return value;
}

static Counts
get_counts (Fixture *fixture)
{
  g_autoptr(MailerFolder) folder = NULL;
  g_autoptr(GError) error = NULL;
  Counts counts;

  counts.messages = query_int (fixture->store, "SELECT count(*) FROM messages");
  counts.bodies = query_int (fixture->store, "SELECT count(*) FROM bodies");
  counts.fts = query_int (fixture->store, "SELECT count(*) FROM messages_fts");
  counts.uidls = query_int (fixture->store, "SELECT count(*) FROM pop_uidls");
  counts.thread_refs = query_int (fixture->store, "SELECT count(*) FROM thread_refs");
  counts.thread_subjects = query_int (fixture->store, "SELECT count(*) FROM thread_subjects");
  counts.journal = query_int (fixture->store, "SELECT count(*) FROM journal");
  counts.seen = query_int (fixture->store, "SELECT count(*) FROM messages WHERE flags & 1");

  folder = mailer_store_get_folder (fixture->store, fixture->folder_id, &error);
  g_assert_no_error (error);
  counts.total_count = mailer_folder_get_total_count (folder);
  counts.unread_count = mailer_folder_get_unread_count (folder);
  /* The triggers keep the count right whatever happened. */
  g_assert_cmpint (counts.total_count, ==, counts.messages);
  return counts;
}

static void
assert_counts_equal (const Counts *a,
                     const Counts *b)
{
  g_assert_cmpint (a->messages, ==, b->messages);
  g_assert_cmpint (a->bodies, ==, b->bodies);
  g_assert_cmpint (a->fts, ==, b->fts);
  g_assert_cmpint (a->uidls, ==, b->uidls);
  g_assert_cmpint (a->thread_refs, ==, b->thread_refs);
  g_assert_cmpint (a->thread_subjects, ==, b->thread_subjects);
  g_assert_cmpint (a->journal, ==, b->journal);
  g_assert_cmpint (a->seen, ==, b->seen);
  g_assert_cmpuint (a->total_count, ==, b->total_count);
  g_assert_cmpuint (a->unread_count, ==, b->unread_count);
}

/* The database, and the search index against its content (FTS5 checks
 * that on a connection that may write, though it changes nothing). */
static void
assert_integrity (MailerStore *store)
{
  g_autofree char *path = g_build_filename (mailer_store_get_dir (store), "mailer.db", NULL);
  sqlite3_stmt *stmt = NULL;
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (_mailer_store_get_read_db (store), "PRAGMA integrity_check",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "ok");
  sqlite3_finalize (stmt);

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

/* A POP message (UID and UIDL) with a text of about @text_size bytes and,
 * if @attachment_size is not 0, a binary attachment of that size. */
static MailerStoreNewMessage *
new_message (gint64 uid,
             gsize  text_size,
             gsize  attachment_size)
{
  MailerStoreNewMessage *message = mailer_store_new_message_new ();
  GString *raw = g_string_new (NULL);
  GRand *rand = g_rand_new_with_seed ((guint32) uid);
  gsize text_end;

  g_string_append_printf (raw,
                          "From: Sender <sender@example.org>\r\n"
                          "To: Alex <alex@example.org>\r\n"
                          "Subject: Message %" G_GINT64_FORMAT "\r\n"
                          "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                          "Message-ID: <%" G_GINT64_FORMAT ".errors@example.org>\r\n"
                          "MIME-Version: 1.0\r\n"
                          "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
                          "\r\n"
                          "--b\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "\r\n",
                          uid, uid);
  /* Random words and bytes, so neither the message nor its search index
   * compress. */
  text_end = raw->len + text_size;
  while (raw->len < text_end)
    {
      for (guint i = 0; i < 10; i++)
        {
          guint length = g_rand_int_range (rand, 3, 10);

          for (guint j = 0; j < length; j++)
            g_string_append_c (raw, 'a' + g_rand_int_range (rand, 0, 26));
          g_string_append_c (raw, ' ');
        }
      g_string_append (raw, "\r\n");
    }
  if (attachment_size > 0)
    {
      g_autofree guchar *data = g_malloc (attachment_size);
      g_autofree char *base64 = NULL;

      for (gsize i = 0; i < attachment_size; i++)
        data[i] = g_rand_int_range (rand, 0, 256);
      base64 = g_base64_encode (data, attachment_size);
      g_string_append (raw,
                       "--b\r\n"
                       "Content-Type: application/octet-stream\r\n"
                       "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
                       "Content-Transfer-Encoding: base64\r\n"
                       "\r\n");
      for (const char *p = base64; *p != '\0'; p += MIN (strlen (p), 76))
        {
          g_string_append_len (raw, p, MIN (strlen (p), 76));
          g_string_append (raw, "\r\n");
        }
    }
  g_string_append (raw, "--b--\r\n");
  g_rand_free (rand);

  message->uid = uid;
  message->uidl = g_strdup_printf ("errors-%" G_GINT64_FORMAT, uid);
  message->raw = g_string_free_to_bytes (raw);
  return message;
}

static GPtrArray *
new_batch (gint64 first_uid,
           guint  n,
           gsize  text_size,
           gsize  attachment_size)
{
  GPtrArray *messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);

  for (guint i = 0; i < n; i++)
    g_ptr_array_add (messages, new_message (first_uid + i, text_size, attachment_size));
  return messages;
}

/* Returns the ids, or NULL with @error set. */
static GArray *
try_add (Fixture    *fixture,
         GPtrArray  *messages,
         GError    **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_store_add_messages_async (fixture->store, fixture->folder_id, messages, NULL,
                                   mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 60);
  return mailer_store_add_messages_finish (fixture->store, result, error);
}

static gboolean
try_set_flags (Fixture             *fixture,
               GArray              *ids,
               MailerMessageFlags   add,
               GError             **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_store_set_flags_async (fixture->store, ids, add, 0, TRUE, NULL,
                                mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  return mailer_store_set_flags_finish (fixture->store, result, error);
}

static gint64
count_batch_rows (MailerStore *store,
                  gint64       first_uid,
                  guint        n)
{
  g_autofree char *messages = g_strdup_printf ("SELECT count(*) FROM messages WHERE uid BETWEEN %"
                                               G_GINT64_FORMAT " AND %" G_GINT64_FORMAT,
                                               first_uid, first_uid + n - 1);
  g_autofree char *uidls = g_strdup_printf ("SELECT count(*) FROM pop_uidls WHERE uidl LIKE 'errors-%%'"
                                            " AND CAST (substr (uidl, 8) AS INTEGER) BETWEEN %"
                                            G_GINT64_FORMAT " AND %" G_GINT64_FORMAT,
                                            first_uid, first_uid + n - 1);

  return query_int (store, messages) + query_int (store, uidls);
}

/* How full the disk is, and the batch that does not fit: @n_small small
 * messages that do, then @n large ones. */
typedef struct
{
  guint free_pages;
  guint n_small;
  guint n;
  gsize text_size;
  gsize attachment_size;
} DiskFull;

/* Much text to index: the search index runs out of room first, after the
 * batch's first messages went in. */
static const DiskFull big_text = { 40, 3, 10, 200 * 1024, 0 };
/* Little text, a big attachment: the raw message does. */
static const DiskFull big_attachment = { 40, 3, 10, 200, 200 * 1024 };
/* No room at all, for small messages: the first statement that needs a
 * page fails, and it is one that SQLite undoes alone (the transaction
 * stays open for the store to roll back). */
static const DiskFull no_room = { 0, 0, 20, 2000, 0 };

static void
test_disk_full (Fixture       *fixture,
                gconstpointer  user_data)
{
  const DiskFull *shape = user_data;
  g_autoptr(GPtrArray) big = NULL;
  g_autoptr(GArray) ids = NULL;
  g_autoptr(GError) error = NULL;
  Counts before, after;
  gint64 pages;
  guint n;

  /* Some mail already there. */
  for (guint batch = 0; batch < 3; batch++)
    {
      g_autoptr(GPtrArray) messages = new_batch (1 + batch * 20, 20, 2000, 0);

      ids = try_add (fixture, messages, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (ids->len, ==, 20);
      g_clear_pointer (&ids, g_array_unref);
    }

  /* The disk has room for a few more pages, if any: a small message
   * still fits there. */
  pages = query_int (fixture->store, "PRAGMA page_count");
  _mailer_store_set_write_limits_for_testing (fixture->store, pages + shape->free_pages, FALSE);
  if (shape->free_pages > 0)
    {
      g_autoptr(GPtrArray) small = new_batch (100, 1, 200, 0);

      ids = try_add (fixture, small, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (ids->len, ==, 1);
      g_clear_pointer (&ids, g_array_unref);
    }
  drain_main_context ();

  /* The batch does not. */
  before = get_counts (fixture);
  fixture->changed = 0;
  big = new_batch (1000, shape->n_small, 200, 0);
  for (guint i = 0; i < shape->n; i++)
    g_ptr_array_add (big, new_message (1000 + shape->n_small + i, shape->text_size, shape->attachment_size));
  n = big->len;
  ids = try_add (fixture, big, &error);
  g_assert_null (ids);
  g_assert_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_FULL);
  g_test_message ("Disk full: %s", error->message);
  g_assert_nonnull (strstr (error->message, "disk is full"));

  /* Nothing of the batch was written, and no one was told of a change. */
  drain_main_context ();
  g_assert_cmpuint (fixture->changed, ==, 0);
  after = get_counts (fixture);
  assert_counts_equal (&before, &after);
  g_assert_cmpint (count_batch_rows (fixture->store, 1000, n), ==, 0);
  assert_integrity (fixture->store);
  g_clear_error (&error);

  /* Room again: the very same batch goes in, whole. */
  _mailer_store_set_write_limits_for_testing (fixture->store, 0, FALSE);
  ids = try_add (fixture, big, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ids);
  g_assert_cmpuint (ids->len, ==, n);
  for (guint i = 0; i < ids->len; i++)
    {
      MailerStoreNewMessage *message = g_ptr_array_index (big, i);
      g_autoptr(GBytes) raw = mailer_store_get_raw (fixture->store, g_array_index (ids, gint64, i), &error);

      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (raw, message->raw));
    }
  drain_main_context ();
  g_assert_cmpuint (fixture->changed, ==, 1);
  after = get_counts (fixture);
  g_assert_cmpint (after.messages, ==, before.messages + n);
  g_assert_cmpint (after.bodies, ==, before.bodies + n);
  g_assert_cmpint (after.fts, ==, before.fts + n);
  g_assert_cmpint (after.uidls, ==, before.uidls + n);
  g_assert_cmpuint (after.total_count, ==, before.total_count + n);
  g_assert_cmpint (count_batch_rows (fixture->store, 1000, n), ==, 2 * n);
  assert_integrity (fixture->store);
}

/* A change the user made cannot be recorded on a read-only database, and
 * nothing of it is half-applied. */
static void
test_read_only (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GPtrArray) messages = new_batch (1, 6, 500, 0);
  g_autoptr(GPtrArray) more = new_batch (100, 3, 500, 0);
  g_autoptr(GArray) ids = NULL;
  g_autoptr(GArray) more_ids = NULL;
  g_autoptr(GError) error = NULL;
  Counts before, after;

  ids = try_add (fixture, messages, &error);
  g_assert_no_error (error);
  drain_main_context ();

  before = get_counts (fixture);
  g_assert_cmpint (before.seen, ==, 0);
  g_assert_cmpint (before.unread_count, ==, 6);
  fixture->changed = 0;

  _mailer_store_set_write_limits_for_testing (fixture->store, 0, TRUE);

  g_assert_false (try_set_flags (fixture, ids, MAILER_MESSAGE_FLAG_SEEN | MAILER_MESSAGE_FLAG_FLAGGED, &error));
  g_assert_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_READ_ONLY);
  g_test_message ("Read-only: %s", error->message);
  g_assert_nonnull (strstr (error->message, "cannot be written"));
  g_clear_error (&error);

  /* New mail cannot be stored either. */
  more_ids = try_add (fixture, more, &error);
  g_assert_null (more_ids);
  g_assert_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_READ_ONLY);
  g_clear_error (&error);

  drain_main_context ();
  g_assert_cmpuint (fixture->changed, ==, 0);
  after = get_counts (fixture);
  assert_counts_equal (&before, &after);
  g_assert_cmpint (query_int (fixture->store, "SELECT count(*) FROM messages WHERE flags != 0"), ==, 0);
  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr(MailerMessage) message = mailer_store_load_message (fixture->store, g_array_index (ids, gint64, i), &error);

      g_assert_no_error (error);
      g_assert_cmpint (mailer_message_get_flags (message), ==, 0);
    }

  /* Writable again: the change goes through, with its journal entries. */
  _mailer_store_set_write_limits_for_testing (fixture->store, 0, FALSE);
  g_assert_true (try_set_flags (fixture, ids, MAILER_MESSAGE_FLAG_SEEN | MAILER_MESSAGE_FLAG_FLAGGED, &error));
  g_assert_no_error (error);
  drain_main_context ();
  g_assert_cmpuint (fixture->changed, ==, 1);
  after = get_counts (fixture);
  g_assert_cmpint (after.seen, ==, 6);
  g_assert_cmpint (after.journal, ==, before.journal + 6);
  g_assert_cmpuint (after.unread_count, ==, 0);

  more_ids = try_add (fixture, more, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (more_ids->len, ==, 3);
  assert_integrity (fixture->store);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add ("/store/errors/disk-full/search-index", Fixture, &big_text,
              fixture_set_up, test_disk_full, fixture_tear_down);
  g_test_add ("/store/errors/disk-full/attachment", Fixture, &big_attachment,
              fixture_set_up, test_disk_full, fixture_tear_down);
  g_test_add ("/store/errors/disk-full/no-room", Fixture, &no_room,
              fixture_set_up, test_disk_full, fixture_tear_down);
  g_test_add ("/store/errors/read-only", Fixture, NULL,
              fixture_set_up, test_read_only, fixture_tear_down);

  return g_test_run ();
}
