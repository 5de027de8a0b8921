/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The store's messages and the lazy message list: schema upgrades from
 * every earlier version, storing and changing messages (flags, delete,
 * move, the journal), full-text search, threading of a real conversation,
 * and the list model's items-changed, random access at 100,000 rows and
 * the unified inbox.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "mailer-message-list.h"
#include "mailer-store-private.h"
#include "mailer-test-util.h"

typedef struct
{
  char *dir;
  MailerStore *store;
  gint64 account_id;
  gint64 inbox_id;
  gint64 archive_id;
} Fixture;

static gint64
add_account (MailerStore *store,
             const char  *name)
{
  g_autoptr(MailerAccount) account = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  mailer_account_set_display_name (account, name);
  mailer_account_set_host (account, "imap.example.org");
  mailer_account_set_port (account, 993);
  mailer_store_save_account_async (store, account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_save_account_finish (store, result, &error));
  g_assert_no_error (error);
  return mailer_account_get_id (account);
}

static gint64
add_folder (MailerStore      *store,
            gint64            account_id,
            const char       *path,
            MailerFolderRole  role)
{
  g_autoptr(MailerFolder) folder = mailer_folder_new (account_id, path);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  mailer_folder_set_role (folder, role);
  mailer_store_save_folder_async (store, folder, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_save_folder_finish (store, result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mailer_folder_get_id (folder), >, 0);
  return mailer_folder_get_id (folder);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("mailer-messages-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->store = mailer_store_open (fixture->dir, &error);
  g_assert_no_error (error);
  fixture->account_id = add_account (fixture->store, "Work");
  fixture->inbox_id = add_folder (fixture->store, fixture->account_id, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  fixture->archive_id = add_folder (fixture->store, fixture->account_id, "Archive", MAILER_FOLDER_ROLE_ARCHIVE);
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
  g_clear_object (&fixture->store);
  remove_tree (fixture->dir);
  g_free (fixture->dir);
}

/* Messages */

static MailerStoreNewMessage *
new_raw_message (const char *file,
                 gint64      uid)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", file, NULL);
  MailerStoreNewMessage *message = mailer_store_new_message_new ();
  g_autoptr(GError) error = NULL;
  char *contents;
  gsize len;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  message->raw = g_bytes_new_take (contents, len);
  message->uid = uid;
  return message;
}

static MailerStoreNewMessage *
new_summary_message (const char *subject,
                     const char *from,
                     gint64      date,
                     const char *body,
                     gint64      uid)
{
  MailerStoreNewMessage *message = mailer_store_new_message_new ();
  MailerMimeSummary *summary = g_new0 (MailerMimeSummary, 1);

  summary->message_id = g_strdup_printf ("%" G_GINT64_FORMAT ".%s@example.org", uid, subject);
  summary->references = g_new0 (char *, 1);
  summary->subject = g_strdup (subject);
  summary->from_name = g_strdup (from);
  summary->from_address = g_strdup_printf ("%s@example.org", from);
  summary->to = g_strdup ("Alex <alex@example.org>");
  summary->cc = g_strdup ("");
  summary->date = date;
  summary->preview = g_strdup (body);
  summary->body_text = g_strdup (body);
  summary->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_mime_attachment_free);
  message->summary = summary;
  message->uid = uid;
  return message;
}

static void index_text (MailerStore *store);

/* Stores @messages (consumed) and returns their ids. */
static GArray *
add_messages (MailerStore *store,
              gint64       folder_id,
              GPtrArray   *messages)
{
  g_autoptr(GPtrArray) owned = messages;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;
  GArray *ids;

  mailer_store_add_messages_async (store, folder_id, owned, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 60);
  ids = mailer_store_add_messages_finish (store, result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ids);
  g_assert_cmpuint (ids->len, ==, owned->len);
  return ids;
}

static gint64
add_one (MailerStore           *store,
         gint64                 folder_id,
         MailerStoreNewMessage *message)
{
  GPtrArray *messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  g_autoptr(GArray) ids = NULL;

  g_ptr_array_add (messages, message);
  ids = add_messages (store, folder_id, messages);
  return g_array_index (ids, gint64, 0);
}

static GArray *
id_array (gint64 first,
          ...)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  va_list args;

  va_start (args, first);
  for (gint64 id = first; id != 0; id = va_arg (args, gint64))
    g_array_append_val (ids, id);
  va_end (args);
  return ids;
}

static void
set_flags (MailerStore        *store,
           GArray             *ids,
           MailerMessageFlags  add,
           MailerMessageFlags  remove,
           gboolean            journal)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  mailer_store_set_flags_async (store, ids, add, remove, journal, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 120);
  g_assert_true (mailer_store_set_flags_finish (store, result, &error));
  g_assert_no_error (error);
}

static void
delete_messages (MailerStore *store,
                 GArray      *ids,
                 gboolean     journal)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  mailer_store_delete_messages_async (store, ids, journal, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_delete_messages_finish (store, result, &error));
  g_assert_no_error (error);
}

static void
move_messages (MailerStore *store,
               GArray      *ids,
               gint64       dest,
               gboolean     journal)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  mailer_store_move_messages_async (store, ids, dest, journal, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_move_messages_finish (store, result, &error));
  g_assert_no_error (error);
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

static void
assert_folder_counts (MailerStore *store,
                      gint64       folder_id,
                      guint        total,
                      guint        unread)
{
  g_autoptr(MailerFolder) folder = mailer_store_get_folder (store, folder_id, NULL);
  g_autofree char *real_total = g_strdup_printf ("SELECT count(*) FROM messages WHERE folder_id = %" G_GINT64_FORMAT, folder_id);

  g_assert_nonnull (folder);
  g_assert_cmpuint (mailer_folder_get_total_count (folder), ==, total);
  g_assert_cmpuint (mailer_folder_get_unread_count (folder), ==, unread);
  g_assert_cmpint (query_int (store, real_total), ==, total);
}

/* Upgrades */

/* Every earlier schema is kept as tests/data/schema/vN.sql, a dump of a
 * database as that version wrote it, with an account in it. */
static void
test_upgrade_from_every_version (void)
{
  guint latest = mailer_store_get_latest_schema_version ();

  g_assert_cmpuint (latest, >=, 2);

  for (guint version = 1; version < latest; version++)
    {
      g_autofree char *name = g_strdup_printf ("v%u.sql", version);
      g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "schema", name, NULL);
      g_autofree char *dump = NULL;
      g_autofree char *dir = g_dir_make_tmp ("mailer-upgrade-XXXXXX", NULL);
      g_autofree char *db_path = g_build_filename (dir, "mailer.db", NULL);
      g_autoptr(MailerStore) store = NULL;
      g_autoptr(GPtrArray) accounts = NULL;
      g_autoptr(GError) error = NULL;
      sqlite3 *db = NULL;
      gint64 folder_id, id;

      g_test_message ("Upgrading from schema %u", version);
      g_file_get_contents (path, &dump, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (sqlite3_open (db_path, &db), ==, SQLITE_OK);
      g_assert_cmpint (sqlite3_exec (db, dump, NULL, NULL, NULL), ==, SQLITE_OK);
      sqlite3_close (db);

      store = mailer_store_open (dir, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (mailer_store_get_schema_version (store), ==, latest);

      /* What was there survives... */
      accounts = mailer_store_list_accounts (store, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (accounts->len, ==, 1);
      g_assert_cmpstr (mailer_account_get_display_name (accounts->pdata[0]), ==, "Upgraded");
      g_assert_cmpstr (mailer_account_get_host (accounts->pdata[0]), ==, "mail.example.org");

      /* ...the messages a version kept stay readable and searchable... */
      if (version >= 2)
        {
          g_autoptr(GBytes) raw = mailer_store_get_raw (store, 1, &error);
          g_autoptr(MailerMessageList) hits = mailer_message_list_new_search (store, "upgrades", 0, &error);

          g_assert_no_error (error);
          g_assert_nonnull (raw);
          g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (hits)), ==, 1);
        }
      /* ...a change waiting in the journal still waits... */
      if (version >= 6)
        {
          g_autoptr(GPtrArray) journal = mailer_store_list_journal (store, 1, &error);
          MailerStoreJournalEntry *entry;

          g_assert_no_error (error);
          g_assert_cmpuint (journal->len, ==, 1);
          entry = journal->pdata[0];
          g_assert_cmpint (entry->op, ==, MAILER_JOURNAL_OP_FLAGS);
          g_assert_cmpint (entry->add_flags, ==, MAILER_MESSAGE_FLAG_ANSWERED);
          g_assert_cmpstr (entry->uidl, ==, "UIDL-v2-0001");
          g_assert_cmpint (entry->created, ==, 1767225700);
          g_assert_cmpint (entry->modseq, ==, 0);
        }
      /* ...new settings get their defaults... */
      g_assert_true (mailer_account_get_leave_on_server (accounts->pdata[0]));
      g_assert_cmpuint (mailer_account_get_check_interval (accounts->pdata[0]), ==, 600);

      /* ...and the new tables work with it. */
      folder_id = add_folder (store, mailer_account_get_id (accounts->pdata[0]), "INBOX", MAILER_FOLDER_ROLE_INBOX);
      {
        g_autoptr(MailerFolder) before = mailer_store_get_folder (store, folder_id, NULL);
        guint total = mailer_folder_get_total_count (before);
        guint unread = mailer_folder_get_unread_count (before);

        id = add_one (store, folder_id, new_raw_message ("plain.eml", 1));
        g_assert_cmpint (id, >, 0);
        assert_folder_counts (store, folder_id, total + 1, unread + 1);
      }

      g_clear_object (&store);
      remove_tree (dir);
    }
}

/* Storing and changing */

static void
test_add_and_read (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autoptr(MailerMessage) message = NULL;
  g_autoptr(GBytes) raw = NULL;
  g_autoptr(GBytes) original = NULL;
  g_autoptr(GError) error = NULL;
  MailerStoreNewMessage *new_message = new_raw_message ("latin1-body.eml", 41);
  gint64 id, again;

  original = g_bytes_ref (new_message->raw);
  new_message->flags = MAILER_MESSAGE_FLAG_FLAGGED;
  new_message->keywords = g_strdup ("$Important");
  id = add_one (fixture->store, fixture->inbox_id, new_message);
  g_assert_cmpint (id, >, 0);

  message = mailer_store_load_message (fixture->store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (mailer_message_get_subject (message), ==, "Grüße aus München");
  g_assert_cmpstr (mailer_message_get_sender (message), ==, "Jürgen Müller");
  g_assert_true (mailer_message_get_unread (message));
  g_assert_true (mailer_message_get_flagged (message));
  g_assert_cmpstr (mailer_message_get_keywords (message), ==, "$Important");
  g_assert_cmpint (mailer_message_get_body_state (message), ==, MAILER_BODY_STATE_COMPLETE);
  g_assert_cmpint (mailer_message_get_size (message), ==, g_bytes_get_size (original));
  g_assert_cmpint (mailer_message_get_date (message), >, 0);
  g_assert_true (g_utf8_strlen (mailer_message_get_preview (message), -1) > 10);

  /* Stored exactly as received. */
  raw = mailer_store_get_raw (fixture->store, id, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (raw, original));

  /* The same UID again is the same message, not a second copy. */
  again = add_one (fixture->store, fixture->inbox_id, new_raw_message ("latin1-body.eml", 41));
  g_assert_cmpint (again, ==, id);
  assert_folder_counts (fixture->store, fixture->inbox_id, 1, 1);

  g_assert_null (mailer_store_load_message (fixture->store, id + 1000, &error));
  g_assert_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND);
}

static void
test_pop_uidl_once (Fixture       *fixture,
                    gconstpointer  user_data)
{
  MailerStoreNewMessage *message = new_raw_message ("plain.eml", 0);
  g_autoptr(GArray) ids = NULL;
  g_autoptr(GError) error = NULL;
  gint64 id, again;

  message->uidl = g_strdup ("UID-0001");
  id = add_one (fixture->store, fixture->inbox_id, message);
  g_assert_cmpint (id, >, 0);
  g_assert_cmpint (query_int (fixture->store, "SELECT count(*) FROM pop_uidls WHERE uidl = 'UID-0001'"), ==, 1);

  /* Deleted here, the UIDL is remembered: it is never downloaded again. */
  ids = id_array (id, 0);
  delete_messages (fixture->store, ids, TRUE);
  g_assert_cmpint (query_int (fixture->store, "SELECT deleted_locally FROM pop_uidls WHERE uidl = 'UID-0001'"), ==, 1);

  message = new_raw_message ("plain.eml", 0);
  message->uidl = g_strdup ("UID-0001");
  again = add_one (fixture->store, fixture->inbox_id, message);
  g_assert_cmpint (again, ==, 0);
  assert_folder_counts (fixture->store, fixture->inbox_id, 0, 0);
}

static void
test_flags_delete_move_journal (Fixture       *fixture,
                                gconstpointer  user_data)
{
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) first = NULL;
  g_autoptr(GArray) second = NULL;
  g_autoptr(GArray) third = NULL;
  g_autoptr(GPtrArray) journal = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  MailerStoreJournalEntry *entry;

  for (guint i = 0; i < 5; i++)
    g_ptr_array_add (messages, new_summary_message ("Hello", "sam", 1700000000 + i, "text", 100 + i));
  g_array_unref (ids);
  ids = add_messages (fixture->store, fixture->inbox_id, messages);
  assert_folder_counts (fixture->store, fixture->inbox_id, 5, 5);

  /* A change from the server: no journal. */
  first = id_array (g_array_index (ids, gint64, 0), g_array_index (ids, gint64, 1), 0);
  set_flags (fixture->store, first, MAILER_MESSAGE_FLAG_SEEN, 0, FALSE);
  assert_folder_counts (fixture->store, fixture->inbox_id, 5, 3);
  journal = mailer_store_list_journal (fixture->store, fixture->account_id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (journal->len, ==, 0);
  g_clear_pointer (&journal, g_ptr_array_unref);

  /* The user's changes: journalled, with the server's UID. */
  second = id_array (g_array_index (ids, gint64, 2), 0);
  set_flags (fixture->store, second, MAILER_MESSAGE_FLAG_SEEN | MAILER_MESSAGE_FLAG_FLAGGED, 0, TRUE);
  /* Setting what is already set changes nothing and journals nothing. */
  set_flags (fixture->store, second, MAILER_MESSAGE_FLAG_SEEN, 0, TRUE);
  assert_folder_counts (fixture->store, fixture->inbox_id, 5, 2);

  third = id_array (g_array_index (ids, gint64, 3), 0);
  move_messages (fixture->store, third, fixture->archive_id, TRUE);
  assert_folder_counts (fixture->store, fixture->inbox_id, 4, 1);
  assert_folder_counts (fixture->store, fixture->archive_id, 1, 1);

  g_array_index (third, gint64, 0) = g_array_index (ids, gint64, 4);
  delete_messages (fixture->store, third, TRUE);
  assert_folder_counts (fixture->store, fixture->inbox_id, 3, 0);
  g_assert_null (mailer_store_load_message (fixture->store, g_array_index (ids, gint64, 4), NULL));
  g_assert_cmpint (query_int (fixture->store, "SELECT count(*) FROM messages_fts WHERE rowid NOT IN (SELECT id FROM messages)"), ==, 0);

  journal = mailer_store_list_journal (fixture->store, fixture->account_id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (journal->len, ==, 3);
  entry = journal->pdata[0];
  g_assert_cmpint (entry->op, ==, MAILER_JOURNAL_OP_FLAGS);
  g_assert_cmpint (entry->uid, ==, 102);
  g_assert_cmpint (entry->folder_id, ==, fixture->inbox_id);
  g_assert_cmpint (entry->add_flags, ==, MAILER_MESSAGE_FLAG_SEEN | MAILER_MESSAGE_FLAG_FLAGGED);
  entry = journal->pdata[1];
  g_assert_cmpint (entry->op, ==, MAILER_JOURNAL_OP_MOVE);
  g_assert_cmpint (entry->uid, ==, 103);
  g_assert_cmpint (entry->dest_folder_id, ==, fixture->archive_id);
  entry = journal->pdata[2];
  g_assert_cmpint (entry->op, ==, MAILER_JOURNAL_OP_DELETE);
  g_assert_cmpint (entry->uid, ==, 104);

  /* Replayed entries are cleared. */
  {
    g_autoptr(GArray) done = id_array (((MailerStoreJournalEntry *) journal->pdata[0])->id,
                                       ((MailerStoreJournalEntry *) journal->pdata[1])->id, 0);
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GPtrArray) left = NULL;
    GAsyncResult *pending = NULL;

    mailer_store_remove_journal_async (fixture->store, done, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_store_remove_journal_finish (fixture->store, result, &error));
    g_assert_no_error (error);
    left = mailer_store_list_journal (fixture->store, fixture->account_id, &error);
    g_assert_cmpuint (left->len, ==, 1);
    g_assert_cmpint (((MailerStoreJournalEntry *) left->pdata[0])->op, ==, MAILER_JOURNAL_OP_DELETE);
  }
}

static void
test_set_raw_later (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(MailerMessage) message = NULL;
  g_autoptr(MailerMessageList) search = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) raw = NULL;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "attachment.eml", NULL);
  GAsyncResult *pending = NULL;
  char *contents;
  gsize len;
  gint64 id;

  /* Headers only first, as an IMAP header sync stores it. */
  id = add_one (fixture->store, fixture->inbox_id,
                new_summary_message ("Icon", "designer", 1700000000, "", 7));
  message = mailer_store_load_message (fixture->store, id, &error);
  g_assert_cmpint (mailer_message_get_body_state (message), ==, MAILER_BODY_STATE_NONE);
  g_assert_null (mailer_store_get_raw (fixture->store, id, &error));
  g_assert_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  raw = g_bytes_new_take (contents, len);

  search = mailer_message_list_new_search (fixture->store, "icon attached", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (search)), ==, 0);

  mailer_store_set_raw_async (fixture->store, id, raw, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_set_raw_finish (fixture->store, result, &error));
  g_assert_no_error (error);

  g_assert_true (mailer_store_refresh_message (fixture->store, message, &error));
  g_assert_cmpint (mailer_message_get_body_state (message), ==, MAILER_BODY_STATE_COMPLETE);
  /* Its text is read by the text pass, once the store is quiet. */
  index_text (fixture->store);
  g_assert_true (mailer_store_refresh_message (fixture->store, message, &error));
  g_assert_true (mailer_message_get_has_attachment (message));
  g_clear_pointer (&raw, g_bytes_unref);
  raw = mailer_store_get_raw (fixture->store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (raw), ==, len);

  /* The body's words are searchable now, and the open search saw it. */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (search)), ==, 1);
}

/* Search */

static guint
search_count (MailerStore *store,
              const char  *text,
              gint64       folder_id)
{
  g_autoptr(MailerMessageList) list = NULL;
  g_autoptr(GError) error = NULL;

  list = mailer_message_list_new_search (store, text, folder_id, &error);
  g_assert_no_error (error);
  return g_list_model_get_n_items (G_LIST_MODEL (list));
}

static void
test_search (Fixture       *fixture,
             gconstpointer  user_data)
{
  const char * const files[] = {
    "plain.eml", "alternative.eml", "attachment.eml", "rfc2047-subject.eml",
    "rfc2047-japanese.eml", "rfc2047-split-words.eml", "latin1-body.eml",
  };
  GPtrArray *messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  g_autoptr(GArray) ids = NULL;
  g_autoptr(MailerMessageList) list = NULL;
  g_autoptr(MailerMessage) hit = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    g_ptr_array_add (messages, new_raw_message (files[i], i + 1));
  ids = add_messages (fixture->store, fixture->inbox_id, messages);

  /* Subject, with and without accents, any case. */
  g_assert_cmpuint (search_count (fixture->store, "Grüße", 0), ==, 1);
  g_assert_cmpuint (search_count (fixture->store, "grusse", 0), ==, 1);
  g_assert_cmpuint (search_count (fixture->store, "MÜNCHEN", 0), ==, 1);
  g_assert_cmpuint (search_count (fixture->store, "réunion", 0), ==, 1);
  g_assert_cmpuint (search_count (fixture->store, "reunion equipe", 0), ==, 1);
  /* Prefixes, the sender's name and address. */
  g_assert_cmpuint (search_count (fixture->store, "meet", 0), >=, 1);
  g_assert_cmpuint (search_count (fixture->store, "kowalski", 0), ==, 1);
  g_assert_cmpuint (search_count (fixture->store, "Zoë", 0), ==, 1);
  /* Every word must match. */
  g_assert_cmpuint (search_count (fixture->store, "grüße storage", 0), ==, 0);
  /* Body text, decoded from its charset. */
  g_assert_cmpuint (search_count (fixture->store, "vegetarian", 0), >=, 1);
  /* The folder scope. */
  g_assert_cmpuint (search_count (fixture->store, "grusse", fixture->archive_id), ==, 0);
  /* What the user types is never query syntax. */
  g_assert_cmpuint (search_count (fixture->store, "\"", 0), ==, 0);
  g_assert_cmpuint (search_count (fixture->store, "NEAR( OR * AND\"", 0), ==, 0);
  g_assert_cmpuint (search_count (fixture->store, "   ", 0), ==, 0);

  list = mailer_message_list_new_search (fixture->store, "grusse", 0, &error);
  g_assert_no_error (error);
  hit = g_list_model_get_item (G_LIST_MODEL (list), 0);
  g_assert_cmpstr (mailer_message_get_subject (hit), ==, "Grüße aus München");

  /* A new message that matches joins the open search; deleting leaves it. */
  {
    gint64 id = add_one (fixture->store, fixture->archive_id,
                         new_summary_message ("Привет из Москвы", "ivan", 1800000000, "Добрый день", 900));
    g_autoptr(GArray) gone = id_array (id, 0);
    g_autoptr(MailerMessageList) cyrillic = mailer_message_list_new_search (fixture->store, "привет", 0, NULL);

    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (cyrillic)), ==, 1);
    g_assert_cmpuint (search_count (fixture->store, "ДОБРЫЙ", 0), ==, 1);
    id = add_one (fixture->store, fixture->inbox_id,
                  new_summary_message ("Re: Grüße", "jurgen", 1800000001, "", 901));
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 2);
    g_array_index (gone, gint64, 0) = id;
    delete_messages (fixture->store, gone, FALSE);
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 1);
  }
}

static void
count_updated_cb (MailerStore        *store,
                  MailerStoreChanges *changes,
                  guint              *updated)
{
  *updated += changes->updated->len;
}

static void
index_text (MailerStore *store)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  mailer_store_index_text_async (store, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 60);
  g_assert_true (mailer_store_index_text_finish (store, result, &error));
  g_assert_no_error (error);
}

/* Messages stored with their text read later (as a POP3 download stores
 * them): listed and found by subject at once, by their text once the text
 * pass has run, also when the store was closed before it ran. */
static void
test_deferred_text (Fixture       *fixture,
                    gconstpointer  user_data)
{
  const char * const files[] = { "plain.eml", "attachment.eml", "rfc2047-subject.eml", "rfc2047-split-words.eml" };
  GPtrArray *messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  g_autoptr(GArray) ids = NULL;
  g_autoptr(MailerMessage) plain = NULL;
  g_autoptr(MailerMessage) attachment = NULL;
  g_autoptr(GError) error = NULL;
  guint updated = 0;
  gulong handler;

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      MailerStoreNewMessage *message = new_raw_message (files[i], i + 1);

      message->defer_text = TRUE;
      g_ptr_array_add (messages, message);
    }
  handler = g_signal_connect (fixture->store, "changed", G_CALLBACK (count_updated_cb), &updated);
  ids = add_messages (fixture->store, fixture->inbox_id, messages);

  /* What the header section says is there at once... */
  plain = mailer_store_get_message (fixture->store, g_array_index (ids, gint64, 0), &error);
  g_assert_no_error (error);
  attachment = mailer_store_get_message (fixture->store, g_array_index (ids, gint64, 1), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (mailer_message_get_subject (plain), ==, "Keys for the storage room");
  g_assert_cmpuint (search_count (fixture->store, "réunion", 0), ==, 1);
  g_assert_cmpuint (search_count (fixture->store, "kowalski", 0), ==, 1);
  /* ...the text not yet (unless the pass already ran: it starts once
   * the store is quiet). */
  if (updated == 0)
    {
      g_assert_cmpstr (mailer_message_get_preview (plain), ==, "");
      g_assert_false (mailer_message_get_has_attachment (attachment));
      g_assert_cmpuint (search_count (fixture->store, "canteen", 0), ==, 0);
    }

  index_text (fixture->store);
  g_assert_cmpuint (updated, ==, G_N_ELEMENTS (files));
  g_assert_true (g_str_has_prefix (mailer_message_get_preview (plain), "Hi Alex, I've left the keys"));
  g_assert_true (mailer_message_get_has_attachment (attachment));
  g_assert_cmpuint (search_count (fixture->store, "canteen", 0), ==, 1);
  g_assert_cmpuint (search_count (fixture->store, "reception", 0), ==, 1);
  /* Nothing left: a second pass finds nothing and changes nothing. */
  index_text (fixture->store);
  g_assert_cmpuint (updated, ==, G_N_ELEMENTS (files));
  g_signal_handler_disconnect (fixture->store, handler);

  /* Closed before the pass ran: it runs at the next start. */
  {
    MailerStoreNewMessage *message = new_raw_message ("thread-01.eml", 100);

    message->defer_text = TRUE;
    add_one (fixture->store, fixture->archive_id, message);
  }
  g_clear_object (&fixture->store);
  fixture->store = mailer_store_open (fixture->dir, &error);
  g_assert_no_error (error);
  index_text (fixture->store);
  g_assert_cmpuint (search_count (fixture->store, "nightly", fixture->archive_id), ==, 1);
}

/* Threading */

/* Counts items-changed signals and keeps the model's length in step. */
typedef struct
{
  guint signals;
  guint n_items;
} ListWatch;

static void
list_watch_cb (GListModel *list,
               guint       position,
               guint       removed,
               guint       added,
               ListWatch  *watch)
{
  watch->signals++;
  watch->n_items = watch->n_items - removed + added;
}

static void
wait_for_signals (ListWatch *watch,
                  guint      at_least)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (watch->signals < at_least && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (watch->signals, >=, at_least);
}

/* One row per conversation, its newest message in the folder; what is in
 * the conversation there, and how much of it is unread; the rows follow
 * new mail and changes. */
static void
test_conversations (Fixture       *fixture,
                    gconstpointer  user_data)
{
  const char * const files[] = {
    "thread-01.eml", "thread-02.eml", "thread-03.eml", "thread-04.eml", "thread-05.eml",
  };
  g_autoptr(MailerMessageList) list = NULL;
  g_autoptr(MailerMessageList) inboxes = NULL;
  g_autoptr(MailerMessage) row = NULL;
  g_autoptr(GArray) members = NULL;
  g_autoptr(GError) error = NULL;
  ListWatch watch = { 0, };
  gint64 ids[G_N_ELEMENTS (files)], unrelated, archived, latest;
  guint n, unread;

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    ids[i] = add_one (fixture->store, fixture->inbox_id, new_raw_message (files[i], i + 1));
  unrelated = add_one (fixture->store, fixture->inbox_id, new_raw_message ("plain.eml", 10));
  /* The last reply is in another folder: not part of the inbox's rows. */
  archived = add_one (fixture->store, fixture->archive_id, new_raw_message ("thread-06.eml", 11));

  list = mailer_message_list_new_conversations (fixture->store, fixture->inbox_id, &error);
  g_assert_no_error (error);
  g_assert_true (mailer_message_list_get_conversations (list));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 2);
  /* The conversation's row is its newest message in the inbox (thread-05,
   * 10 Nov), below plain.eml (16 Nov, newer). */
  {
    g_autoptr(MailerMessage) first = g_list_model_get_item (G_LIST_MODEL (list), 0);
    g_autoptr(MailerMessage) second = g_list_model_get_item (G_LIST_MODEL (list), 1);

    g_assert_cmpint (mailer_message_get_id (first), ==, unrelated);
    g_assert_cmpint (mailer_message_get_id (second), ==, ids[4]);
    row = g_object_ref (second);
  }
  mailer_message_list_count_conversation (list, row, &n, &unread);
  g_assert_cmpuint (n, ==, 5);
  g_assert_cmpuint (unread, ==, 5);
  members = mailer_message_list_list_conversation (list, row);
  g_assert_cmpuint (members->len, ==, 5);
  g_assert_cmpint (g_array_index (members, gint64, 0), ==, ids[0]);
  g_assert_cmpint (g_array_index (members, gint64, 4), ==, ids[4]);
  /* Any message of it finds its row. */
  g_assert_cmpuint (mailer_message_list_find (list, ids[1]), ==, 1);
  g_assert_cmpuint (mailer_message_list_find (list, archived), ==, G_MAXUINT);

  /* The unified inbox groups the same way. */
  inboxes = mailer_message_list_new_conversations (fixture->store, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (inboxes)), ==, 2);

  watch.n_items = 2;
  g_signal_connect (list, "items-changed", G_CALLBACK (list_watch_cb), &watch);

  /* Reading one message of it: the row is told (its unread count). */
  {
    g_autoptr(GArray) one = g_array_new (FALSE, FALSE, sizeof (gint64));

    g_array_append_val (one, ids[2]);
    set_flags (fixture->store, one, MAILER_MESSAGE_FLAG_SEEN, 0, FALSE);
  }
  wait_for_signals (&watch, 1);
  mailer_message_list_count_conversation (list, row, &n, &unread);
  g_assert_cmpuint (unread, ==, 4);
  g_assert_cmpuint (watch.n_items, ==, 2);

  /* The last reply moved into the inbox: still two rows; the
   * conversation's is now that reply (12 Nov). */
  {
    g_autoptr(GArray) one = g_array_new (FALSE, FALSE, sizeof (gint64));
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;
    guint before = watch.signals;

    g_array_append_val (one, archived);
    mailer_store_move_messages_async (fixture->store, one, fixture->inbox_id, FALSE, NULL,
                                      mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_store_move_messages_finish (fixture->store, result, &error));
    g_assert_no_error (error);
    wait_for_signals (&watch, before + 1);
  }
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 2);
  g_assert_cmpuint (watch.n_items, ==, 2);
  {
    g_autoptr(MailerMessage) second = g_list_model_get_item (G_LIST_MODEL (list), 1);

    latest = mailer_message_get_id (second);
    g_assert_cmpint (latest, ==, archived);
    mailer_message_list_count_conversation (list, second, &n, &unread);
    g_assert_cmpuint (n, ==, 6);
  }
}

static void
test_threading (Fixture       *fixture,
                gconstpointer  user_data)
{
  /* Not in order: the middle of the conversation arrives before the
   * message that links it to the root, so two conversations must merge. */
  const char * const order[] = {
    "thread-01.eml", "thread-05.eml", "thread-06.eml", "thread-04.eml",
    "thread-02.eml", "thread-03.eml",
  };
  g_autoptr(GArray) thread = NULL;
  g_autoptr(GError) error = NULL;
  gint64 ids[G_N_ELEMENTS (order)];
  gint64 thread_id = 0;
  gint64 other, no_prefix, lost_refs, unrelated;

  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      /* Two folders: a conversation spans the inbox and the archive. */
      ids[i] = add_one (fixture->store, i % 2 ? fixture->archive_id : fixture->inbox_id,
                        new_raw_message (order[i], i + 1));
    }

  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      g_autoptr(MailerMessage) message = mailer_store_load_message (fixture->store, ids[i], &error);

      g_assert_no_error (error);
      if (i == 0)
        thread_id = mailer_message_get_thread_id (message);
      g_assert_cmpint (thread_id, >, 0);
      g_assert_cmpint (mailer_message_get_thread_id (message), ==, thread_id);
    }

  thread = mailer_store_list_thread (fixture->store, thread_id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (thread->len, ==, 6);
  /* Oldest first, by real time: thread-02 was written at 07:40 +0100,
   * after thread-01 at 09:02 +0530. */
  g_assert_cmpint (g_array_index (thread, gint64, 0), ==, ids[0]);
  g_assert_cmpint (g_array_index (thread, gint64, 1), ==, ids[4]);
  g_assert_cmpint (g_array_index (thread, gint64, 5), ==, ids[2]);

  /* A reply that lost its headers joins by subject... */
  lost_refs = add_one (fixture->store, fixture->inbox_id,
                       new_summary_message ("RE: [infra] Moving the build server to the new rack",
                                            "kwame", 1800000000, "", 50));
  /* ...but a new message with the same subject and no "Re:" does not, nor
   * does an unrelated one. */
  no_prefix = add_one (fixture->store, fixture->inbox_id,
                       new_summary_message ("Moving the build server to the new rack",
                                            "kwame", 1800000001, "", 51));
  unrelated = add_one (fixture->store, fixture->inbox_id, new_raw_message ("plain.eml", 52));
  {
    g_autoptr(MailerMessage) a = mailer_store_load_message (fixture->store, lost_refs, NULL);
    g_autoptr(MailerMessage) b = mailer_store_load_message (fixture->store, no_prefix, NULL);
    g_autoptr(MailerMessage) c = mailer_store_load_message (fixture->store, unrelated, NULL);

    g_assert_cmpint (mailer_message_get_thread_id (a), ==, thread_id);
    other = mailer_message_get_thread_id (b);
    g_assert_cmpint (other, !=, thread_id);
    g_assert_cmpint (mailer_message_get_thread_id (c), !=, thread_id);
    g_assert_cmpint (mailer_message_get_thread_id (c), !=, other);
  }
}

/* The lazy list */

static void
count_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 guint      *count)
{
  (*count)++;
}

typedef struct
{
  guint position, removed, added;
} Change;

static void
record_items_changed_cb (GListModel *model,
                         guint       position,
                         guint       removed,
                         guint       added,
                         GArray     *changes)
{
  Change change = { position, removed, added };

  /* The model is already consistent when it tells. */
  g_assert_cmpuint (position + added, <=, g_list_model_get_n_items (model));
  g_array_append_val (changes, change);
}

static void
assert_changes (GArray *changes,
                guint   n,
                ...)
{
  va_list args;

  g_assert_cmpuint (changes->len, ==, n);
  va_start (args, n);
  for (guint i = 0; i < n; i++)
    {
      Change *change = &g_array_index (changes, Change, i);

      g_assert_cmpuint (change->position, ==, va_arg (args, guint));
      g_assert_cmpuint (change->removed, ==, va_arg (args, guint));
      g_assert_cmpuint (change->added, ==, va_arg (args, guint));
    }
  va_end (args);
  g_array_set_size (changes, 0);
}

/* The list must hold what a freshly opened one holds, in the same order. */
static void
assert_same_as_fresh (MailerMessageList *list,
                      MailerStore       *store,
                      gint64             folder_id)
{
  g_autoptr(MailerMessageList) fresh = NULL;
  guint n;

  fresh = folder_id ? mailer_message_list_new_for_folder (store, folder_id, NULL)
                    : mailer_message_list_new_unified_inbox (store, NULL);
  n = g_list_model_get_n_items (G_LIST_MODEL (fresh));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (mailer_message_list_get_id (list, i), ==, mailer_message_list_get_id (fresh, i));
}

static void
test_list_items_changed (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(MailerMessageList) inbox = NULL;
  g_autoptr(MailerMessageList) archive = NULL;
  g_autoptr(GArray) changes = g_array_new (FALSE, FALSE, sizeof (Change));
  g_autoptr(GArray) archive_changes = g_array_new (FALSE, FALSE, sizeof (Change));
  g_autoptr(GArray) ids = NULL;
  g_autoptr(GArray) one = NULL;
  g_autoptr(MailerMessage) row = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  guint unread_notified = 0;
  gint64 id;

  /* Dates 1000, 2000, ... 5000: the list shows 5000 first. */
  for (guint i = 0; i < 5; i++)
    g_ptr_array_add (messages, new_summary_message ("Row", "sam", 1000 * (i + 1), "", i + 1));
  ids = add_messages (fixture->store, fixture->inbox_id, messages);

  inbox = mailer_message_list_new_for_folder (fixture->store, fixture->inbox_id, &error);
  g_assert_no_error (error);
  archive = mailer_message_list_new_for_folder (fixture->store, fixture->archive_id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (inbox)), ==, 5);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (archive)), ==, 0);
  g_assert_true (g_list_model_get_item_type (G_LIST_MODEL (inbox)) == MAILER_TYPE_MESSAGE);
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (inbox), 5));
  g_signal_connect (inbox, "items-changed", G_CALLBACK (record_items_changed_cb), changes);
  g_signal_connect (archive, "items-changed", G_CALLBACK (record_items_changed_cb), archive_changes);

  /* Insert between 3000 and 2000: position 3. */
  id = add_one (fixture->store, fixture->inbox_id, new_summary_message ("New", "kim", 2500, "", 10));
  assert_changes (changes, 1, 3, 0, 1);
  g_assert_cmpint (mailer_message_list_get_id (inbox, 3), ==, id);
  g_assert_cmpuint (archive_changes->len, ==, 0);

  /* A flag change: that row only, and its object notifies. */
  row = g_list_model_get_item (G_LIST_MODEL (inbox), 3);
  g_signal_connect (row, "notify::unread", G_CALLBACK (count_notify_cb), &unread_notified);
  one = id_array (id, 0);
  set_flags (fixture->store, one, MAILER_MESSAGE_FLAG_SEEN, 0, TRUE);
  assert_changes (changes, 1, 3, 1, 1);
  g_assert_cmpuint (unread_notified, ==, 1);
  g_assert_false (mailer_message_get_unread (row));
  {
    /* The list hands out the same object for the row, not a copy. */
    g_autoptr(MailerMessage) again = g_list_model_get_item (G_LIST_MODEL (inbox), 3);

    g_assert_true (again == row);
  }

  /* A flag change of several rows: one change per run of rows. */
  {
    g_autoptr(GArray) several = id_array (g_array_index (ids, gint64, 4), g_array_index (ids, gint64, 3),
                                          g_array_index (ids, gint64, 0), 0);

    set_flags (fixture->store, several, MAILER_MESSAGE_FLAG_FLAGGED, 0, FALSE);
    assert_changes (changes, 2, 0, 2, 2, 5, 1, 1);
  }

  /* Move to the archive: leaves one list, joins the other. */
  move_messages (fixture->store, one, fixture->archive_id, TRUE);
  assert_changes (changes, 1, 3, 1, 0);
  assert_changes (archive_changes, 1, 0, 0, 1);
  g_assert_true (mailer_message_list_get_id (archive, 0) == id);
  g_assert_cmpint (mailer_message_get_folder_id (row), ==, fixture->archive_id);

  /* Delete two neighbours and one more: two runs, last first. */
  {
    g_autoptr(GArray) doomed = id_array (g_array_index (ids, gint64, 4), g_array_index (ids, gint64, 3),
                                         g_array_index (ids, gint64, 0), 0);

    delete_messages (fixture->store, doomed, TRUE);
    assert_changes (changes, 2, 4, 1, 0, 0, 2, 0);
  }
  assert_same_as_fresh (inbox, fixture->store, fixture->inbox_id);
  assert_same_as_fresh (archive, fixture->store, fixture->archive_id);

  /* A batch: two new rows at the top, one in the middle, one at the end. */
  {
    GPtrArray *batch = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
    g_autoptr(GArray) batch_ids = NULL;

    g_ptr_array_add (batch, new_summary_message ("A", "x", 9000, "", 20));
    g_ptr_array_add (batch, new_summary_message ("B", "x", 2500, "", 21));
    g_ptr_array_add (batch, new_summary_message ("C", "x", 8000, "", 22));
    g_ptr_array_add (batch, new_summary_message ("D", "x", 10, "", 23));
    batch_ids = add_messages (fixture->store, fixture->inbox_id, batch);
    /* Was 3000, 2000; now 9000, 8000, 3000, 2500, 2000, 10. */
    assert_changes (changes, 3, 0, 0, 2, 3, 0, 1, 5, 0, 1);
  }
  assert_same_as_fresh (inbox, fixture->store, fixture->inbox_id);
}

static void
test_list_100k (Fixture       *fixture,
                gconstpointer  user_data)
{
  const guint n = 100000;
  const guint batch = 5000;
  g_autoptr(MailerMessageList) list = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (20261122);
  sqlite3_stmt *stmt = NULL;
  gint64 start;
  double open_ms;

  for (guint done = 0; done < n; done += batch)
    {
      GPtrArray *messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
      g_autoptr(GArray) ids = NULL;

      for (guint i = done; i < done + batch; i++)
        /* Dates collide in pairs, so the id breaks ties. */
        g_ptr_array_add (messages, new_summary_message ("Bulk", "bulk", 1600000000 + (i * 7919 % n) / 2, "", i + 1));
      ids = add_messages (fixture->store, fixture->inbox_id, messages);
    }
  assert_folder_counts (fixture->store, fixture->inbox_id, n, n);

  start = g_get_monotonic_time ();
  list = mailer_message_list_new_for_folder (fixture->store, fixture->inbox_id, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 50; i++)
    {
      g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (list), i);

      g_assert_cmpstr (mailer_message_get_subject (message), ==, "Bulk");
    }
  open_ms = (g_get_monotonic_time () - start) / 1000.0;
  g_test_message ("Opened 100,000 rows and read the first 50 in %.1f ms", open_ms);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, n);

  /* Random rows are the rows SQLite puts there. */
  g_assert_cmpint (sqlite3_prepare_v2 (_mailer_store_get_read_db (fixture->store),
                                       "SELECT id, date FROM messages WHERE folder_id = ?1"
                                       " ORDER BY date DESC, id DESC LIMIT 1 OFFSET ?2",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  for (guint i = 0; i < 2000; i++)
    {
      guint position = g_rand_int_range (rand, 0, n);
      g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (list), position);

      if (i % 40 == 0)
        {
          sqlite3_bind_int64 (stmt, 1, fixture->inbox_id);
          sqlite3_bind_int (stmt, 2, position);
          g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
          g_assert_cmpint (mailer_message_get_id (message), ==, sqlite3_column_int64 (stmt, 0));
          g_assert_cmpint (mailer_message_get_date (message), ==, sqlite3_column_int64 (stmt, 1));
          sqlite3_reset (stmt);
        }
      if (position > 0)
        {
          g_autoptr(MailerMessage) before = g_list_model_get_item (G_LIST_MODEL (list), position - 1);

          g_assert_cmpint (mailer_message_get_date (before), >=, mailer_message_get_date (message));
        }
    }
  sqlite3_finalize (stmt);

  /* Lazy: only a bounded number of rows ever exist as objects. */
  g_test_message ("%u of %u rows loaded", mailer_message_list_get_n_loaded (list), n);
  g_assert_cmpuint (mailer_message_list_get_n_loaded (list), <=, 32 * MAILER_MESSAGE_LIST_PAGE_SIZE);

  /* Marking everything read: precise runs, still consistent. */
  {
    g_autoptr(GArray) all = g_array_new (FALSE, FALSE, sizeof (gint64));
    g_autoptr(GArray) changes = g_array_new (FALSE, FALSE, sizeof (Change));
    guint covered = 0;

    for (guint i = 0; i < n; i += 2)
      {
        gint64 id = mailer_message_list_get_id (list, i);

        g_array_append_val (all, id);
      }
    g_signal_connect (list, "items-changed", G_CALLBACK (record_items_changed_cb), changes);
    set_flags (fixture->store, all, MAILER_MESSAGE_FLAG_SEEN, 0, FALSE);
    /* One change over the span the rows cover: 0 to n - 2. */
    g_assert_cmpuint (changes->len, ==, 1);
    for (guint i = 0; i < changes->len; i++)
      covered += g_array_index (changes, Change, i).added;
    g_assert_cmpuint (covered, ==, n - 1);
    assert_folder_counts (fixture->store, fixture->inbox_id, n, n / 2);
  }
}

static void
test_unified_inbox (Fixture       *fixture,
                    gconstpointer  user_data)
{
  gint64 other_account = add_account (fixture->store, "Home");
  gint64 other_inbox = add_folder (fixture->store, other_account, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  g_autoptr(MailerMessageList) unified = NULL;
  g_autoptr(GArray) changes = g_array_new (FALSE, FALSE, sizeof (Change));
  g_autoptr(GError) error = NULL;
  gint64 work[3], home[3], archived, late;

  /* Interleaved dates across the two inboxes, plus an archived message
   * that must not show. */
  for (guint i = 0; i < 3; i++)
    {
      work[i] = add_one (fixture->store, fixture->inbox_id,
                         new_summary_message ("Work", "w", 1000 + 20 * i, "", 10 + i));
      home[i] = add_one (fixture->store, other_inbox,
                         new_summary_message ("Home", "h", 1010 + 20 * i, "", 10 + i));
    }
  archived = add_one (fixture->store, fixture->archive_id,
                      new_summary_message ("Old", "w", 1055, "", 99));

  unified = mailer_message_list_new_unified_inbox (fixture->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (unified)), ==, 6);
  /* 1050 home, 1040 work, 1030 home, 1020 work, 1010 home, 1000 work. */
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(MailerMessage) h = g_list_model_get_item (G_LIST_MODEL (unified), 2 * i);
      g_autoptr(MailerMessage) w = g_list_model_get_item (G_LIST_MODEL (unified), 2 * i + 1);

      g_assert_cmpint (mailer_message_get_id (h), ==, home[2 - i]);
      g_assert_cmpint (mailer_message_get_id (w), ==, work[2 - i]);
    }
  g_assert_cmpuint (mailer_message_list_find (unified, archived), ==, G_MAXUINT);

  /* New mail in either inbox lands in its place. */
  g_signal_connect (unified, "items-changed", G_CALLBACK (record_items_changed_cb), changes);
  late = add_one (fixture->store, other_inbox, new_summary_message ("Home", "h", 1035, "", 50));
  assert_changes (changes, 1, 2, 0, 1);
  g_assert_cmpint (mailer_message_list_get_id (unified, 2), ==, late);
  add_one (fixture->store, fixture->archive_id, new_summary_message ("Old", "w", 2000, "", 100));
  g_assert_cmpuint (changes->len, ==, 0);

  /* Archiving a message takes it out; bringing it back puts it back. */
  {
    g_autoptr(GArray) one = id_array (work[1], 0);

    move_messages (fixture->store, one, fixture->archive_id, TRUE);
    assert_changes (changes, 1, 4, 1, 0);
    move_messages (fixture->store, one, fixture->inbox_id, TRUE);
    assert_changes (changes, 1, 4, 0, 1);
  }
  assert_same_as_fresh (unified, fixture->store, 0);

  /* Removing an account removes its messages from the list. */
  {
    g_autoptr(GPtrArray) accounts = mailer_store_list_accounts (fixture->store, NULL);
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;
    MailerAccount *home_account = NULL;

    for (guint i = 0; i < accounts->len; i++)
      if (mailer_account_get_id (accounts->pdata[i]) == other_account)
        home_account = accounts->pdata[i];
    g_assert_nonnull (home_account);
    mailer_store_delete_account_async (fixture->store, home_account, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_store_delete_account_finish (fixture->store, result, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (unified)), ==, 3);
  assert_same_as_fresh (unified, fixture->store, 0);
}

static void
test_folder_tree (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_autoptr(GPtrArray) folders = NULL;
  g_autoptr(GListModel) roots = NULL;
  g_autoptr(MailerFolder) first = NULL;
  g_autoptr(MailerFolder) projects = NULL;
  g_autoptr(MailerFolder) child = NULL;
  g_autoptr(GError) error = NULL;
  gint64 projects_id;

  {
    g_autoptr(MailerFolder) folder = mailer_folder_new (fixture->account_id, "Projects");
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;

    mailer_folder_set_delimiter (folder, "/");
    mailer_store_save_folder_async (fixture->store, folder, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_store_save_folder_finish (fixture->store, result, &error));
    projects_id = mailer_folder_get_id (folder);
  }
  {
    g_autoptr(MailerFolder) folder = mailer_folder_new (fixture->account_id, "Projects/Mailer");
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;

    mailer_folder_set_delimiter (folder, "/");
    mailer_folder_set_parent_id (folder, projects_id);
    mailer_store_save_folder_async (fixture->store, folder, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_store_save_folder_finish (fixture->store, result, &error));
  }

  folders = mailer_store_list_folders (fixture->store, fixture->account_id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (folders->len, ==, 4);
  roots = mailer_folder_build_tree (folders);
  g_assert_cmpuint (g_list_model_get_n_items (roots), ==, 3);
  /* The inbox first, then other special folders, then the rest. */
  first = g_list_model_get_item (roots, 0);
  g_assert_cmpint (mailer_folder_get_role (first), ==, MAILER_FOLDER_ROLE_INBOX);
  projects = g_list_model_get_item (roots, 2);
  g_assert_cmpstr (mailer_folder_get_path (projects), ==, "Projects");
  g_assert_cmpuint (g_list_model_get_n_items (mailer_folder_get_children (projects)), ==, 1);
  child = g_list_model_get_item (mailer_folder_get_children (projects), 0);
  g_assert_cmpstr (mailer_folder_get_display_name (child), ==, "Mailer");
  g_assert_cmpuint (g_list_model_get_n_items (mailer_folder_get_children (child)), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/messages/upgrade-from-every-version", test_upgrade_from_every_version);
#define ADD(path, func) \
  g_test_add ("/messages/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("add-and-read", test_add_and_read);
  ADD ("pop-uidl-once", test_pop_uidl_once);
  ADD ("flags-delete-move-journal", test_flags_delete_move_journal);
  ADD ("set-raw-later", test_set_raw_later);
  ADD ("search", test_search);
  ADD ("deferred-text", test_deferred_text);
  ADD ("threading", test_threading);
  ADD ("list/conversations", test_conversations);
  ADD ("list/items-changed", test_list_items_changed);
  ADD ("list/100k", test_list_100k);
  ADD ("list/unified-inbox", test_unified_inbox);
  ADD ("folder-tree", test_folder_tree);
#undef ADD

  return g_test_run ();
}
