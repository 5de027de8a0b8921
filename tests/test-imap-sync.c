/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Integration: two-way IMAP sync against the private Dovecot fixture, with
 * Dovecot's own tools as "another client".  The first run stores every
 * folder's summaries with roles from SPECIAL-USE; what the user does here
 * (read, flag, move, delete) reaches the server, and what another client
 * does (flags, expunges, new mail) reaches the store: by a resync, and by
 * push within seconds.  A recreated mailbox (new UIDVALIDITY) is re-cached,
 * and a body is fetched on demand, byte for byte.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <string.h>

#include "mailer-connection.h"
#include "mailer-imap-sync.h"
#include "mailer-message-list.h"
#include "mailer-test-dovecot.h"
#include "mailer-test-util.h"

#define USER "iris"
#define PASSWORD "iris pass"

typedef struct
{
  MailerTestDovecot *dovecot;
  char *dir;
  MailerStore *store;
  MailerAccount *account;
  MailerImapSync *sync;
  guint n_seeded;
} Fixture;

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
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autofree char *seeds = g_test_build_filename (G_TEST_DIST, "data", NULL);
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *pin = NULL;
  const char *name;

  fixture->dovecot = mailer_test_dovecot_new ();
  mailer_test_dovecot_add_user (fixture->dovecot, USER, PASSWORD);
  g_assert_true (mailer_test_dovecot_seed (fixture->dovecot, USER, "INBOX", seeds, &error));
  g_assert_no_error (error);
  /* A test that asks for it: a large second folder. */
  for (guint i = 0; i < GPOINTER_TO_UINT (user_data); i++)
    {
      g_autofree char *text = g_strdup_printf ("Subject: Archived %u\r\nMessage-ID: <archived-%u@example.org>\r\n"
                                               "From: Sam <sam@example.org>\r\n\r\nFiled away.\r\n", i, i);
      g_autoptr(GBytes) message = g_bytes_new (text, strlen (text));

      g_assert_true (mailer_test_dovecot_seed_bytes (fixture->dovecot, USER, "Archive", message, "\\Seen", &error));
      g_assert_no_error (error);
    }
  g_assert_true (mailer_test_dovecot_start (fixture->dovecot, &error));
  g_assert_no_error (error);
  dir = g_dir_open (seeds, 0, NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".eml"))
      fixture->n_seeded++;

  fixture->dir = g_dir_make_tmp ("mailer-imap-sync-XXXXXX", &error);
  fixture->store = mailer_store_open (fixture->dir, &error);
  g_assert_no_error (error);

  pin = mailer_certificate_get_sha256 (mailer_test_dovecot_get_certificate (fixture->dovecot));
  fixture->account = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
  mailer_account_set_host (fixture->account, "127.0.0.1");
  mailer_account_set_port (fixture->account, mailer_test_dovecot_get_port (fixture->dovecot, MAILER_TEST_DOVECOT_IMAPS));
  mailer_account_set_security (fixture->account, MAILER_SECURITY_TLS);
  mailer_account_set_username (fixture->account, USER);
  mailer_account_set_pinned_certificate (fixture->account, pin);
  /* Bodies on demand only, unless a test asks for them ahead. */
  mailer_account_set_prefetch_days (fixture->account, 0);
  {
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;

    mailer_store_save_account_async (fixture->store, fixture->account, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_store_save_account_finish (fixture->store, result, &error));
  }
  fixture->sync = mailer_imap_sync_new (fixture->store, fixture->account, PASSWORD);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_clear_object (&fixture->sync);
  mailer_test_dovecot_stop (fixture->dovecot);
  g_clear_object (&fixture->dovecot);
  g_clear_object (&fixture->account);
  g_clear_object (&fixture->store);
  remove_tree (fixture->dir);
  g_free (fixture->dir);
}

static MailerImapSyncResult
run_sync (Fixture *fixture)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  MailerImapSyncResult out = { 0, };
  GAsyncResult *pending = NULL;

  mailer_imap_sync_run_async (fixture->sync, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 60);
  g_assert_true (mailer_imap_sync_run_finish (fixture->sync, result, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mailer_account_get_connection_state (fixture->account), ==, MAILER_CONNECTION_STATE_ONLINE);
  return out;
}

static gint64
folder_id (Fixture          *fixture,
           MailerFolderRole  role)
{
  g_autoptr(GPtrArray) folders = mailer_store_list_folders (fixture->store, mailer_account_get_id (fixture->account), NULL);

  for (guint i = 0; i < folders->len; i++)
    if (mailer_folder_get_role (folders->pdata[i]) == role)
      return mailer_folder_get_id (folders->pdata[i]);
  g_assert_not_reached ();
  return 0;
}

static MailerMessage *
find_by_subject (Fixture    *fixture,
                 gint64      folder,
                 const char *subject)
{
  g_autoptr(MailerMessageList) list = mailer_message_list_new_for_folder (fixture->store, folder, NULL);

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (list)); i++)
    {
      MailerMessage *message = g_list_model_get_item (G_LIST_MODEL (list), i);

      if (g_strcmp0 (mailer_message_get_subject (message), subject) == 0)
        return message;
      g_object_unref (message);
    }
  return NULL;
}

static guint
count (Fixture *fixture,
       gint64   folder)
{
  g_autoptr(MailerMessageList) list = mailer_message_list_new_for_folder (fixture->store, folder, NULL);

  return g_list_model_get_n_items (G_LIST_MODEL (list));
}

static guint32
server_uid_of (Fixture    *fixture,
               const char *mailbox,
               guint       index)
{
  g_autoptr(GArray) uids = mailer_test_dovecot_get_uids (fixture->dovecot, USER, mailbox, NULL);

  g_assert_nonnull (uids);
  g_assert_cmpuint (index, <, uids->len);
  return g_array_index (uids, guint32, index);
}

static void
change (Fixture *fixture,
        GArray  *ids,
        int      what,
        gint64   dest)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  if (what == 0)
    mailer_store_set_flags_async (fixture->store, ids, MAILER_MESSAGE_FLAG_SEEN | MAILER_MESSAGE_FLAG_FLAGGED, 0,
                                  TRUE, NULL, mailer_test_store_result_cb, &pending);
  else if (what == 1)
    mailer_store_move_messages_async (fixture->store, ids, dest, TRUE, NULL, mailer_test_store_result_cb, &pending);
  else
    mailer_store_delete_messages_async (fixture->store, ids, TRUE, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (g_task_propagate_boolean (G_TASK (result), &error));
  g_assert_no_error (error);
}

static void
test_initial_sync (Fixture       *fixture,
                   gconstpointer  user_data)
{
  MailerImapSyncResult out = run_sync (fixture);
  g_autoptr(MailerMessage) accented = NULL;
  g_autoptr(MailerMessage) attached = NULL;
  g_autoptr(GPtrArray) folders = NULL;
  gint64 inbox = folder_id (fixture, MAILER_FOLDER_ROLE_INBOX);

  g_assert_cmpuint (out.n_new, ==, fixture->n_seeded);
  g_assert_cmpuint (count (fixture, inbox), ==, fixture->n_seeded);

  /* Roles from SPECIAL-USE. */
  g_assert_cmpint (folder_id (fixture, MAILER_FOLDER_ROLE_SENT), >, 0);
  g_assert_cmpint (folder_id (fixture, MAILER_FOLDER_ROLE_TRASH), >, 0);
  g_assert_cmpint (folder_id (fixture, MAILER_FOLDER_ROLE_ARCHIVE), >, 0);

  /* Summaries from ENVELOPE and BODYSTRUCTURE, decoded. */
  accented = find_by_subject (fixture, inbox, "Réunion de l'équipe — ordre du jour");
  g_assert_nonnull (accented);
  g_assert_cmpstr (mailer_message_get_sender (accented), ==, "Amélie Lefèvre");
  g_assert_cmpint (mailer_message_get_body_state (accented), ==, MAILER_BODY_STATE_NONE);
  attached = find_by_subject (fixture, inbox, "Icon for the new mail app");
  if (attached == NULL)
    {
      /* Whatever the attachment fixture's subject is, one message has one. */
      g_autoptr(MailerMessageList) list = mailer_message_list_new_for_folder (fixture->store, inbox, NULL);
      guint with = 0;

      for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (list)); i++)
        {
          g_autoptr(MailerMessage) m = g_list_model_get_item (G_LIST_MODEL (list), i);

          with += mailer_message_get_has_attachment (m);
        }
      g_assert_cmpuint (with, ==, 1);
    }

  /* The thread fixture is one conversation, from References. */
  {
    g_autoptr(MailerMessage) root = find_by_subject (fixture, inbox, "Moving the build server to the new rack");
    g_autoptr(GArray) thread = NULL;

    g_assert_nonnull (root);
    thread = mailer_store_list_thread (fixture->store, mailer_message_get_thread_id (root), NULL);
    g_assert_cmpuint (thread->len, ==, 6);
  }

  /* A second run with nothing changed fetches nothing. */
  out = run_sync (fixture);
  g_assert_cmpuint (out.n_new, ==, 0);
  g_assert_cmpuint (out.n_vanished, ==, 0);
  g_assert_cmpuint (count (fixture, inbox), ==, fixture->n_seeded);
}

static void
test_local_changes_reach_server (Fixture       *fixture,
                                 gconstpointer  user_data)
{
  g_autoptr(MailerMessageList) list = NULL;
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GError) error = NULL;
  g_autofree char *flags = NULL;
  gint64 inbox, archive;
  gint64 read_id, moved_id, deleted_id;
  guint32 read_uid;
  MailerImapSyncResult out;

  run_sync (fixture);
  inbox = folder_id (fixture, MAILER_FOLDER_ROLE_INBOX);
  archive = folder_id (fixture, MAILER_FOLDER_ROLE_ARCHIVE);
  list = mailer_message_list_new_for_folder (fixture->store, inbox, NULL);
  read_id = mailer_message_list_get_id (list, 0);
  moved_id = mailer_message_list_get_id (list, 1);
  deleted_id = mailer_message_list_get_id (list, 2);
  {
    gint64 uid = 0;

    mailer_store_get_server_ids (fixture->store, read_id, NULL, &uid, NULL, NULL);
    read_uid = uid;
  }

  g_array_append_val (ids, read_id);
  change (fixture, ids, 0, 0);
  g_array_index (ids, gint64, 0) = moved_id;
  change (fixture, ids, 1, archive);
  g_array_index (ids, gint64, 0) = deleted_id;
  change (fixture, ids, 2, 0);

  out = run_sync (fixture);
  g_assert_cmpuint (out.n_replayed, ==, 3);
  g_assert_cmpuint (mailer_store_list_journal (fixture->store, mailer_account_get_id (fixture->account), NULL)->len, ==, 0);

  /* What another client sees. */
  flags = mailer_test_dovecot_get_flags (fixture->dovecot, USER, "INBOX", read_uid, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (flags, "\\Seen"));
  g_assert_nonnull (strstr (flags, "\\Flagged"));
  g_assert_cmpint (mailer_test_dovecot_count (fixture->dovecot, USER, "INBOX", NULL), ==, fixture->n_seeded - 2);
  g_assert_cmpint (mailer_test_dovecot_count (fixture->dovecot, USER, "Archive", NULL), ==, 1);

  /* The moved message got its new UID (COPYUID): no second copy. */
  out = run_sync (fixture);
  g_assert_cmpuint (out.n_new, ==, 0);
  g_assert_cmpuint (count (fixture, archive), ==, 1);
  g_assert_cmpuint (count (fixture, inbox), ==, fixture->n_seeded - 2);
}

static void
set_flags (Fixture            *fixture,
           gint64              id,
           MailerMessageFlags  add,
           MailerMessageFlags  remove)
{
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  g_array_append_val (ids, id);
  mailer_store_set_flags_async (fixture->store, ids, add, remove, TRUE, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_set_flags_finish (fixture->store, result, &error));
  g_assert_no_error (error);
}

static guint32
uid_of (Fixture *fixture,
        gint64   id)
{
  gint64 uid = 0;

  g_assert_true (mailer_store_get_server_ids (fixture->store, id, NULL, &uid, NULL, NULL));
  return uid;
}

static gboolean
server_has_flag (Fixture    *fixture,
                 const char *mailbox,
                 guint32     uid,
                 const char *flag)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *flags = mailer_test_dovecot_get_flags (fixture->dovecot, USER, mailbox, uid, &error);
  g_auto(GStrv) each = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (flags);
  each = g_strsplit (flags, " ", -1);
  return g_strv_contains ((const char * const *) each, flag);
}

static MailerMessageFlags
local_flags (Fixture *fixture,
             gint64   id)
{
  g_autoptr(MailerMessage) message = mailer_store_load_message (fixture->store, id, NULL);

  g_assert_nonnull (message);
  return mailer_message_get_flags (message);
}

/* A change made here to a message another client changed since this side
 * last saw it (CONDSTORE: UNCHANGEDSINCE).  The other client's change of
 * the same flags is the newer one and wins; changes of different flags
 * both stand; a change made here after seeing theirs wins; and this
 * side's own changes never count as another client's. */
static void
test_flag_conflicts (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(MailerMessageList) list = NULL;
  g_autoptr(GError) error = NULL;
  gint64 inbox, same, different, later, own;
  guint32 same_uid, different_uid, later_uid, own_uid;

  run_sync (fixture);
  inbox = folder_id (fixture, MAILER_FOLDER_ROLE_INBOX);
  list = mailer_message_list_new_for_folder (fixture->store, inbox, NULL);
  same = mailer_message_list_get_id (list, 0);
  different = mailer_message_list_get_id (list, 1);
  later = mailer_message_list_get_id (list, 2);
  own = mailer_message_list_get_id (list, 3);
  same_uid = uid_of (fixture, same);
  different_uid = uid_of (fixture, different);
  later_uid = uid_of (fixture, later);
  own_uid = uid_of (fixture, own);
  for (guint i = 0; i < 4; i++)
    g_assert_false (local_flags (fixture, mailer_message_list_get_id (list, i)) & MAILER_MESSAGE_FLAG_SEEN);

  /* The other client reads "same" and marks it unread again, flags
   * "different", and reads "later", which this side then syncs. */
  g_assert_true (mailer_test_dovecot_add_flags (fixture->dovecot, USER, "INBOX", later_uid, "\\Seen", &error));
  g_assert_no_error (error);
  run_sync (fixture);
  g_assert_true (local_flags (fixture, later) & MAILER_MESSAGE_FLAG_SEEN);
  g_assert_true (mailer_test_dovecot_add_flags (fixture->dovecot, USER, "INBOX", same_uid, "\\Seen", &error));
  g_assert_true (mailer_test_dovecot_remove_flags (fixture->dovecot, USER, "INBOX", same_uid, "\\Seen", &error));
  g_assert_true (mailer_test_dovecot_add_flags (fixture->dovecot, USER, "INBOX", different_uid, "\\Flagged", &error));
  g_assert_no_error (error);

  /* Here, before the next sync: read "same" and "different", mark
   * "later" unread (after seeing it read), and read "own" then mark it
   * unread again (the second change follows this side's own first). */
  set_flags (fixture, same, MAILER_MESSAGE_FLAG_SEEN, 0);
  set_flags (fixture, different, MAILER_MESSAGE_FLAG_SEEN, 0);
  set_flags (fixture, later, 0, MAILER_MESSAGE_FLAG_SEEN);
  set_flags (fixture, own, MAILER_MESSAGE_FLAG_SEEN, 0);
  set_flags (fixture, own, 0, MAILER_MESSAGE_FLAG_SEEN);
  {
    g_autoptr(GPtrArray) journal = mailer_store_list_journal (fixture->store, mailer_account_get_id (fixture->account), NULL);

    g_assert_cmpuint (journal->len, ==, 5);
    for (guint i = 0; i < journal->len; i++)
      g_assert_cmpint (((MailerStoreJournalEntry *) journal->pdata[i])->modseq, >, 0);
  }

  run_sync (fixture);
  g_assert_cmpuint (mailer_store_list_journal (fixture->store, mailer_account_get_id (fixture->account), NULL)->len, ==, 0);

  /* Same flag: the other client's change stands, here too. */
  g_assert_false (server_has_flag (fixture, "INBOX", same_uid, "\\Seen"));
  g_assert_false (local_flags (fixture, same) & MAILER_MESSAGE_FLAG_SEEN);
  /* Different flags: both. */
  g_assert_true (server_has_flag (fixture, "INBOX", different_uid, "\\Seen"));
  g_assert_true (server_has_flag (fixture, "INBOX", different_uid, "\\Flagged"));
  g_assert_true (local_flags (fixture, different) & MAILER_MESSAGE_FLAG_SEEN);
  g_assert_true (local_flags (fixture, different) & MAILER_MESSAGE_FLAG_FLAGGED);
  /* Made after seeing theirs: this side's. */
  g_assert_false (server_has_flag (fixture, "INBOX", later_uid, "\\Seen"));
  g_assert_false (local_flags (fixture, later) & MAILER_MESSAGE_FLAG_SEEN);
  /* Both of this side's own changes, in order. */
  g_assert_false (server_has_flag (fixture, "INBOX", own_uid, "\\Seen"));
  g_assert_false (local_flags (fixture, own) & MAILER_MESSAGE_FLAG_SEEN);
}

static GBytes *
upload_raw (const char *message_id,
            const char *subject)
{
  g_autofree char *raw = g_strdup_printf ("From: Iris <iris@example.org>\r\n"
                                          "To: Sam <sam@example.org>\r\n"
                                          "Subject: %s\r\n"
                                          "Message-ID: <%s>\r\n"
                                          "Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
                                          "\r\n"
                                          "Stored here first, then uploaded.\r\n",
                                          subject, message_id);
  gsize len = strlen (raw);

  return g_bytes_new_take (g_steal_pointer (&raw), len);
}

/* Stores a message here, journalled to go to @folder on the server. */
static gint64
store_upload (Fixture            *fixture,
              gint64              folder,
              GBytes             *raw,
              MailerMessageFlags  flags)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  MailerStoreNewMessage *message = mailer_store_new_message_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GArray) ids = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  message->raw = g_bytes_ref (raw);
  message->flags = flags;
  message->upload = TRUE;
  g_ptr_array_add (messages, message);
  mailer_store_add_messages_async (fixture->store, folder, messages, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  ids = mailer_store_add_messages_finish (fixture->store, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 1);
  return g_array_index (ids, gint64, 0);
}

/* Messages stored here first go up by APPEND: once each, with their
 * flags and the changes made to them meanwhile; the local copy takes the
 * server's UID (APPENDUID), so the next sync does not bring a second one;
 * and an APPEND whose answer was lost is not made twice. */
static void
test_append (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(GBytes) first = upload_raw ("upload-1@example.org", "Uploaded once");
  g_autoptr(GBytes) lost = upload_raw ("upload-2@example.org", "Answer lost");
  g_autoptr(GError) error = NULL;
  gint64 archive, first_id, lost_id;
  gint before;
  MailerImapSyncResult out;

  run_sync (fixture);
  archive = folder_id (fixture, MAILER_FOLDER_ROLE_ARCHIVE);
  before = mailer_test_dovecot_count (fixture->dovecot, USER, "Archive", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (count (fixture, archive), ==, before);

  /* Read, then flagged before it went up. */
  first_id = store_upload (fixture, archive, first, MAILER_MESSAGE_FLAG_SEEN);
  set_flags (fixture, first_id, MAILER_MESSAGE_FLAG_FLAGGED, 0);
  g_assert_cmpuint (uid_of (fixture, first_id), ==, 0);
  g_assert_cmpuint (count (fixture, archive), ==, before + 1);

  /* An earlier run appended this one, and was cut off before the answer. */
  lost_id = store_upload (fixture, archive, lost, 0);
  g_assert_true (mailer_test_dovecot_append (fixture->dovecot, USER, "Archive", lost, NULL, NULL, &error));
  g_assert_no_error (error);

  out = run_sync (fixture);
  g_assert_cmpuint (out.n_replayed, ==, 3);
  g_assert_cmpuint (mailer_store_list_journal (fixture->store, mailer_account_get_id (fixture->account), NULL)->len, ==, 0);
  g_assert_cmpint (mailer_test_dovecot_count (fixture->dovecot, USER, "Archive", NULL), ==, before + 2);
  g_assert_cmpuint (uid_of (fixture, first_id), >, 0);
  g_assert_cmpuint (uid_of (fixture, lost_id), >, 0);
  g_assert_true (server_has_flag (fixture, "Archive", uid_of (fixture, first_id), "\\Seen"));
  g_assert_true (server_has_flag (fixture, "Archive", uid_of (fixture, first_id), "\\Flagged"));
  g_assert_false (server_has_flag (fixture, "Archive", uid_of (fixture, lost_id), "\\Seen"));

  /* No second copy here either, and the server's copy is the same bytes. */
  out = run_sync (fixture);
  g_assert_cmpuint (out.n_new, ==, 0);
  g_assert_cmpuint (count (fixture, archive), ==, before + 2);
  {
    g_autoptr(MailerMessage) message = find_by_subject (fixture, archive, "Uploaded once");

    g_assert_nonnull (message);
    g_assert_cmpint (mailer_message_get_id (message), ==, first_id);
    g_assert_true (mailer_message_get_flagged (message));
    g_assert_false (mailer_message_get_unread (message));
  }
}

/* Opening a message while a sync runs through another folder: the body
 * comes on a connection of its own, so the sync's FETCHes still go to
 * the folder it selected, and the opened message does not wait for the
 * whole sync. */
static void
test_body_during_sync (Fixture       *fixture,
                       gconstpointer  user_data)
{
  guint n_archived = GPOINTER_TO_UINT (user_data);
  g_autoptr(MailerMessageList) list = NULL;
  g_autoptr(GAsyncResult) run_result = NULL;
  g_autoptr(GAsyncResult) body_result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MailerImapSync) other = NULL;
  GAsyncResult *run_pending = NULL, *body_pending = NULL;
  MailerImapSyncResult out = { 0, };
  gint64 inbox, archive, opened;
  guint archived_when_opened;

  /* The inbox's summaries first, from another sync of the same store. */
  mailer_account_set_prefetch_days (fixture->account, 0);
  run_sync (fixture);
  inbox = folder_id (fixture, MAILER_FOLDER_ROLE_INBOX);
  archive = folder_id (fixture, MAILER_FOLDER_ROLE_ARCHIVE);
  g_assert_cmpuint (count (fixture, archive), ==, n_archived);
  list = mailer_message_list_new_for_folder (fixture->store, inbox, NULL);
  opened = mailer_message_list_get_id (list, 0);

  /* Archive's cache dropped (as if recreated): the next run fetches all
   * of it again, window after window. */
  {
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;
    MailerStoreFolderState state = { 0, };

    mailer_store_apply_server_state_async (fixture->store, archive, &state, TRUE, NULL, NULL, NULL,
                                           mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_store_apply_server_state_finish (fixture->store, result, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpuint (count (fixture, archive), ==, 0);

  mailer_imap_sync_run_async (fixture->sync, NULL, mailer_test_store_result_cb, &run_pending);
  /* Once the sync is inside Archive, open an inbox message. */
  while (count (fixture, archive) == 0)
    g_main_context_iteration (NULL, TRUE);
  archived_when_opened = count (fixture, archive);
  mailer_imap_sync_fetch_body_async (fixture->sync, opened, NULL, mailer_test_store_result_cb, &body_pending);

  body_result = mailer_test_wait_result (&body_pending, 30);
  g_assert_true (mailer_imap_sync_fetch_body_finish (fixture->sync, body_result, &error));
  g_assert_no_error (error);
  g_test_message ("Opened with %u of %u archived summaries stored; %u when the body was stored",
                  archived_when_opened, n_archived, count (fixture, archive));

  run_result = mailer_test_wait_result (&run_pending, 60);
  g_assert_true (mailer_imap_sync_run_finish (fixture->sync, run_result, &out, &error));
  g_assert_no_error (error);

  /* The body is the inbox message's; Archive holds its own messages, all
   * of them, once each. */
  {
    g_autoptr(MailerMessage) message = mailer_store_load_message (fixture->store, opened, NULL);
    g_autoptr(GBytes) raw = mailer_store_get_raw (fixture->store, opened, &error);
    g_autoptr(MailerMessageList) archived = mailer_message_list_new_for_folder (fixture->store, archive, NULL);

    g_assert_no_error (error);
    g_assert_nonnull (raw);
    g_assert_cmpint (mailer_message_get_body_state (message), ==, MAILER_BODY_STATE_COMPLETE);
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (archived)), ==, n_archived);
    for (guint i = 0; i < n_archived; i++)
      {
        g_autoptr(MailerMessage) item = g_list_model_get_item (G_LIST_MODEL (archived), i);

        g_assert_true (g_str_has_prefix (mailer_message_get_subject (item), "Archived "));
      }
  }
  g_assert_cmpuint (count (fixture, inbox), ==, fixture->n_seeded);
}

static void
test_server_changes_reach_store (Fixture       *fixture,
                                 gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) late = g_bytes_new_static ("Subject: Late news\r\nMessage-ID: <late@example.org>\r\n\r\nhi\r\n", 58);
  gint64 inbox;
  guint32 flagged_uid, expunged_uid;
  MailerImapSyncResult out;

  run_sync (fixture);
  inbox = folder_id (fixture, MAILER_FOLDER_ROLE_INBOX);
  flagged_uid = server_uid_of (fixture, "INBOX", 0);
  expunged_uid = server_uid_of (fixture, "INBOX", 1);

  /* Another client also makes a folder: the run lists it (after the
   * inbox) and syncs it. */
  g_assert_true (mailer_test_dovecot_create_mailbox (fixture->dovecot, USER, "Projects", &error));
  g_assert_no_error (error);
  g_assert_true (mailer_test_dovecot_add_flags (fixture->dovecot, USER, "INBOX", flagged_uid, "\\Seen \\Flagged $Work", &error));
  g_assert_true (mailer_test_dovecot_expunge (fixture->dovecot, USER, "INBOX", expunged_uid, &error));
  g_assert_true (mailer_test_dovecot_append (fixture->dovecot, USER, "INBOX", late, NULL, NULL, &error));
  g_assert_no_error (error);

  out = run_sync (fixture);
  g_assert_cmpuint (out.n_new, ==, 1);
  g_assert_cmpuint (out.n_vanished, ==, 1);
  {
    g_autoptr(GPtrArray) folders = mailer_store_list_folders (fixture->store, mailer_account_get_id (fixture->account), NULL);
    gboolean found = FALSE;

    for (guint i = 0; i < folders->len; i++)
      found |= g_strcmp0 (mailer_folder_get_path (folders->pdata[i]), "Projects") == 0;
    g_assert_true (found);
    g_assert_cmpuint (out.n_folders, ==, folders->len);
  }
  g_assert_cmpuint (out.n_flag_changes, >=, 1);
  g_assert_cmpuint (count (fixture, inbox), ==, fixture->n_seeded);

  {
    g_autoptr(MailerMessageList) list = mailer_message_list_new_for_folder (fixture->store, inbox, NULL);
    gboolean found = FALSE;

    for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (list)); i++)
      {
        g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (list), i);
        gint64 uid = 0;

        mailer_store_get_server_ids (fixture->store, mailer_message_get_id (message), NULL, &uid, NULL, NULL);
        g_assert_cmpint (uid, !=, expunged_uid);
        if (uid == flagged_uid)
          {
            found = TRUE;
            g_assert_false (mailer_message_get_unread (message));
            g_assert_true (mailer_message_get_flagged (message));
            g_assert_cmpstr (mailer_message_get_keywords (message), ==, "$Work");
          }
      }
    g_assert_true (found);
  }
}

typedef struct
{
  guint times;
  guint n;
  gint64 newest_id;
} NewMail;

static void
new_mail_cb (MailerImapSync *sync,
             guint           n,
             gint64          newest_id,
             NewMail        *news)
{
  news->times++;
  news->n = n;
  news->newest_id = newest_id;
}

static void
test_push (Fixture       *fixture,
           gconstpointer  user_data)
{
  g_autoptr(GBytes) pushed = g_bytes_new_static ("Subject: Pushed\r\nMessage-ID: <pushed@example.org>\r\n\r\nhi\r\n", 55);
  g_autoptr(GError) error = NULL;
  NewMail news = { 0, };
  gint64 inbox, start;
  guint32 uid;

  /* The first sync of the inbox is no news. */
  g_signal_connect (fixture->sync, "new-mail", G_CALLBACK (new_mail_cb), &news);
  run_sync (fixture);
  g_assert_cmpuint (news.times, ==, 0);
  inbox = folder_id (fixture, MAILER_FOLDER_ROLE_INBOX);
  mailer_imap_sync_start_push (fixture->sync);
  /* Let the loop settle into IDLE. */
  for (int i = 0; i < 300; i++)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);

  start = g_get_monotonic_time ();
  g_assert_true (mailer_test_dovecot_append (fixture->dovecot, USER, "INBOX", pushed, NULL, NULL, &error));
  g_assert_no_error (error);
  while (count (fixture, inbox) != fixture->n_seeded + 1)
    {
      g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
  g_test_message ("New mail in the store %.0f ms after delivery", (g_get_monotonic_time () - start) / 1000.0);
  /* Mail that came by push is news: once, naming the message. */
  while (news.times == 0)
    {
      g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
  g_assert_cmpuint (news.times, ==, 1);
  g_assert_cmpuint (news.n, ==, 1);
  {
    g_autoptr(MailerMessage) message = mailer_store_get_message (fixture->store, news.newest_id, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (mailer_message_get_subject (message), ==, "Pushed");
  }

  /* Another client reads a message: the flag arrives by push too. */
  uid = server_uid_of (fixture, "INBOX", 0);
  start = g_get_monotonic_time ();
  g_assert_true (mailer_test_dovecot_add_flags (fixture->dovecot, USER, "INBOX", uid, "\\Seen", &error));
  while (TRUE)
    {
      g_autoptr(MailerMessageList) list = mailer_message_list_new_for_folder (fixture->store, inbox, NULL);
      gboolean seen = FALSE;

      for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (list)); i++)
        {
          g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (list), i);
          gint64 u = 0;

          mailer_store_get_server_ids (fixture->store, mailer_message_get_id (message), NULL, &u, NULL, NULL);
          if (u == uid && !mailer_message_get_unread (message))
            seen = TRUE;
        }
      if (seen)
        break;
      g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
  g_test_message ("Flag change in the store %.0f ms after it was made", (g_get_monotonic_time () - start) / 1000.0);

  /* A change made here is replayed at once when kicked. */
  {
    g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
    g_autoptr(MailerMessageList) list = mailer_message_list_new_for_folder (fixture->store, inbox, NULL);
    gint64 id = mailer_message_list_get_id (list, 3);
    gint64 u = 0;

    mailer_store_get_server_ids (fixture->store, id, NULL, &u, NULL, NULL);
    g_array_append_val (ids, id);
    change (fixture, ids, 0, 0);
    mailer_imap_sync_kick (fixture->sync);
    start = g_get_monotonic_time ();
    while (TRUE)
      {
        g_autofree char *flags = mailer_test_dovecot_get_flags (fixture->dovecot, USER, "INBOX", u, NULL);

        if (flags != NULL && strstr (flags, "\\Flagged") != NULL)
          break;
        g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
        for (int i = 0; i < 20; i++)
          g_main_context_iteration (NULL, FALSE), g_usleep (1000);
      }
  }

  /* The folder open in the window is watched too (IDLE on a second
   * connection): another client files a message there, it shows. */
  {
    gint64 archive = folder_id (fixture, MAILER_FOLDER_ROLE_ARCHIVE);
    guint before = count (fixture, archive);
    g_autoptr(GBytes) filed = g_bytes_new_static ("Subject: Filed\r\nMessage-ID: <filed@example.org>\r\n\r\nhi\r\n", 53);
    g_autoptr(GBytes) again = g_bytes_new_static ("Subject: Again\r\nMessage-ID: <again@example.org>\r\n\r\nhi\r\n", 53);

    mailer_imap_sync_watch_folder (fixture->sync, archive);
    for (int i = 0; i < 300; i++)
      g_main_context_iteration (NULL, FALSE), g_usleep (1000);
    start = g_get_monotonic_time ();
    g_assert_true (mailer_test_dovecot_append (fixture->dovecot, USER, "Archive", filed, NULL, NULL, &error));
    g_assert_no_error (error);
    while (count (fixture, archive) != before + 1)
      {
        g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
        g_main_context_iteration (NULL, FALSE);
        g_usleep (2000);
      }
    g_test_message ("New mail in the open folder in the store %.0f ms after delivery",
                    (g_get_monotonic_time () - start) / 1000.0);

    /* Opening it takes the watching connection out of IDLE for a moment;
     * it goes back to watching after. */
    {
      g_autoptr(MailerMessage) message = find_by_subject (fixture, archive, "Filed");
      g_autoptr(GAsyncResult) result = NULL;
      GAsyncResult *pending = NULL;

      g_assert_nonnull (message);
      mailer_imap_sync_fetch_body_async (fixture->sync, mailer_message_get_id (message), NULL,
                                         mailer_test_store_result_cb, &pending);
      result = mailer_test_wait_result (&pending, 10);
      g_assert_true (mailer_imap_sync_fetch_body_finish (fixture->sync, result, &error));
      g_assert_no_error (error);
    }
    for (int i = 0; i < 300; i++)
      g_main_context_iteration (NULL, FALSE), g_usleep (1000);
    start = g_get_monotonic_time ();
    g_assert_true (mailer_test_dovecot_append (fixture->dovecot, USER, "Archive", again, NULL, NULL, &error));
    g_assert_no_error (error);
    while (count (fixture, archive) != before + 2)
      {
        g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
        g_main_context_iteration (NULL, FALSE);
        g_usleep (2000);
      }
    /* Not the inbox: no notification. */
    g_assert_cmpuint (news.times, ==, 1);
    mailer_imap_sync_watch_folder (fixture->sync, 0);
  }
  mailer_imap_sync_stop_push (fixture->sync);
}

static void
test_uidvalidity_change (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(GBytes) one = g_bytes_new_static ("Subject: Only one\r\n\r\nx\r\n", 24);
  g_autoptr(GError) error = NULL;
  gint64 archive;

  g_assert_true (mailer_test_dovecot_append (fixture->dovecot, USER, "Archive", one, NULL, NULL, &error));
  g_assert_true (mailer_test_dovecot_append (fixture->dovecot, USER, "Archive", one, NULL, NULL, &error));
  run_sync (fixture);
  archive = folder_id (fixture, MAILER_FOLDER_ROLE_ARCHIVE);
  g_assert_cmpuint (count (fixture, archive), ==, 2);

  /* Recreated by another client: new UIDVALIDITY, one message. */
  g_assert_true (mailer_test_dovecot_delete_mailbox (fixture->dovecot, USER, "Archive", &error));
  g_assert_true (mailer_test_dovecot_append (fixture->dovecot, USER, "Archive", one, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (run_sync (fixture).n_reset, ==, 1);
  g_assert_cmpuint (count (fixture, archive), ==, 1);
  g_assert_cmpuint (run_sync (fixture).n_reset, ==, 0);
}

static void
test_fetch_body (Fixture       *fixture,
                 gconstpointer  user_data)
{
  g_autoptr(MailerMessage) message = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GBytes) raw = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "latin1-body.eml", NULL);
  g_autofree char *expected = NULL;
  gsize expected_len;
  GAsyncResult *pending = NULL;

  run_sync (fixture);
  message = find_by_subject (fixture, folder_id (fixture, MAILER_FOLDER_ROLE_INBOX), "Grüße aus München");
  g_assert_nonnull (message);
  g_assert_null (mailer_store_get_raw (fixture->store, mailer_message_get_id (message), NULL));

  mailer_imap_sync_fetch_body_async (fixture->sync, mailer_message_get_id (message), NULL,
                                     mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  g_assert_true (mailer_imap_sync_fetch_body_finish (fixture->sync, result, &error));
  g_assert_no_error (error);

  raw = mailer_store_get_raw (fixture->store, mailer_message_get_id (message), &error);
  g_assert_no_error (error);
  g_file_get_contents (path, &expected, &expected_len, NULL);
  /* The server stores lines with CRLF; the fixture file has LF. */
  {
    g_autoptr(GString) crlf = g_string_new (NULL);

    for (gsize i = 0; i < expected_len; i++)
      {
        if (expected[i] == '\n' && (i == 0 || expected[i - 1] != '\r'))
          g_string_append_c (crlf, '\r');
        g_string_append_c (crlf, expected[i]);
      }
    g_assert_cmpuint (g_bytes_get_size (raw), ==, crlf->len);
    g_assert_true (memcmp (g_bytes_get_data (raw, NULL), crlf->str, crlf->len) == 0);
  }
  g_assert_cmpint (mailer_message_get_body_state (message), ==, MAILER_BODY_STATE_COMPLETE);
  /* The preview comes with the text pass, once the store is quiet. */
  {
    g_autoptr(GAsyncResult) indexed = NULL;
    GAsyncResult *waiting = NULL;

    mailer_store_index_text_async (fixture->store, NULL, mailer_test_store_result_cb, &waiting);
    indexed = mailer_test_wait_result (&waiting, 30);
    g_assert_true (mailer_store_index_text_finish (fixture->store, indexed, &error));
    g_assert_no_error (error);
  }
  g_assert_true (g_utf8_strlen (mailer_message_get_preview (message), -1) > 10);
}

/* Bodies of recent mail come ahead, for offline reading and previews;
 * older ones wait until opened. */
static void
test_prefetch (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr(MailerMessageList) list = NULL;
  gint64 since = g_get_real_time () / G_USEC_PER_SEC - 30 * 24 * 3600;
  guint recent = 0, fetched = 0;

  mailer_account_set_prefetch_days (fixture->account, 30);
  run_sync (fixture);
  list = mailer_message_list_new_for_folder (fixture->store, folder_id (fixture, MAILER_FOLDER_ROLE_INBOX), NULL);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (list)); i++)
    {
      g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (list), i);
      gboolean complete = mailer_message_get_body_state (message) == MAILER_BODY_STATE_COMPLETE;

      if (mailer_message_get_date (message) >= since)
        {
          recent++;
          g_assert_true (complete);
          g_assert_nonnull (mailer_store_get_raw (fixture->store, mailer_message_get_id (message), NULL));
        }
      else
        g_assert_false (complete);
      fetched += complete;
    }
  g_test_message ("%u of %u messages are from the last 30 days; %u bodies fetched ahead",
                  recent, g_list_model_get_n_items (G_LIST_MODEL (list)), fetched);
  g_assert_cmpuint (fetched, ==, recent);

  /* Everything, when asked. */
  mailer_account_set_prefetch_days (fixture->account, MAILER_ACCOUNT_PREFETCH_ALL);
  run_sync (fixture);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (list)); i++)
    {
      g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (list), i);

      g_assert_cmpint (mailer_message_get_body_state (message), ==, MAILER_BODY_STATE_COMPLETE);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_mime_init ();

#define ADD(path, func) \
  g_test_add ("/imap-sync/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("initial", test_initial_sync);
  ADD ("local-changes-reach-server", test_local_changes_reach_server);
  ADD ("server-changes-reach-store", test_server_changes_reach_store);
  ADD ("flag-conflicts", test_flag_conflicts);
  ADD ("append", test_append);
  g_test_add ("/imap-sync/body-during-sync", Fixture, GUINT_TO_POINTER (6000), fixture_set_up,
              test_body_during_sync, fixture_tear_down);
  ADD ("push", test_push);
  ADD ("uidvalidity-change", test_uidvalidity_change);
  ADD ("fetch-body", test_fetch_body);
  ADD ("prefetch", test_prefetch);
#undef ADD

  return g_test_run ();
}
