/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerSession's account and folder model: on start-up each account gets
 * its folder tree from the store (what a GtkTreeListModel shows), and the
 * folders' counts and the tree follow later writes, on the same objects.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "mailer-session.h"
#include "mailer-test-monitor.h"
#include "mailer-test-util.h"

static void
save_folder (MailerStore  *store,
             MailerFolder *folder)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  mailer_store_save_folder_async (store, folder, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_save_folder_finish (store, result, &error));
  g_assert_no_error (error);
}

static GArray *
add_messages (MailerStore *store,
              gint64       folder_id,
              guint        n)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;
  static gint64 next_uid = 1;
  GArray *ids;

  for (guint i = 0; i < n; i++)
    {
      MailerStoreNewMessage *message = mailer_store_new_message_new ();

      char *text = g_strdup_printf ("Subject: Note %u\r\n\r\nText %u\r\n", i, i);

      message->raw = g_bytes_new_take (text, strlen (text));
      message->uid = next_uid++;
      g_ptr_array_add (messages, message);
    }
  mailer_store_add_messages_async (store, folder_id, messages, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  ids = mailer_store_add_messages_finish (store, result, &error);
  g_assert_no_error (error);
  return ids;
}

static void
count_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 guint      *count)
{
  (*count)++;
}

static void
count_changed_cb (guint *count)
{
  (*count)++;
}

static void
test_folders_follow_store (void)
{
  g_autofree char *dir = g_dir_make_tmp ("mailer-session-XXXXXX", NULL);
  g_autoptr(MailerSession) session = NULL;
  g_autoptr(MailerAccount) account = NULL;
  g_autoptr(MailerFolder) inbox = NULL;
  g_autoptr(MailerFolder) projects = NULL;
  g_autoptr(GArray) ids = NULL;
  g_autoptr(GError) error = NULL;
  MailerFolder *session_inbox;
  GListModel *roots;
  gint64 inbox_id;
  guint unread_notified = 0;
  guint folders_notified = 0;

  /* What an earlier run left in the store. */
  {
    g_autoptr(MailerStore) store = mailer_store_open (dir, &error);
    g_autoptr(MailerAccount) saved = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
    g_autoptr(MailerFolder) sub = NULL;
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;

    g_assert_no_error (error);
    mailer_account_set_host (saved, "imap.example.org");
    mailer_account_set_port (saved, 993);
    mailer_store_save_account_async (store, saved, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_store_save_account_finish (store, result, &error));

    inbox = mailer_folder_new (mailer_account_get_id (saved), "INBOX");
    mailer_folder_set_role (inbox, MAILER_FOLDER_ROLE_INBOX);
    save_folder (store, inbox);
    projects = mailer_folder_new (mailer_account_get_id (saved), "Projects");
    mailer_folder_set_delimiter (projects, ".");
    save_folder (store, projects);
    sub = mailer_folder_new (mailer_account_get_id (saved), "Projects.Mailer");
    mailer_folder_set_delimiter (sub, ".");
    mailer_folder_set_parent_id (sub, mailer_folder_get_id (projects));
    save_folder (store, sub);
    g_array_unref (add_messages (store, mailer_folder_get_id (inbox), 3));
  }

  session = mailer_session_new (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (mailer_session_get_accounts (session)), ==, 1);
  account = g_list_model_get_item (mailer_session_get_accounts (session), 0);

  roots = mailer_account_get_folders (account);
  g_assert_cmpuint (g_list_model_get_n_items (roots), ==, 2);
  inbox_id = mailer_folder_get_id (inbox);
  session_inbox = mailer_session_get_folder (session, inbox_id);
  g_assert_nonnull (session_inbox);
  g_assert_true (g_list_model_get_item (roots, 0) == (gpointer) session_inbox);
  g_object_unref (session_inbox);   /* the ref get_item gave */
  g_assert_cmpuint (mailer_folder_get_total_count (session_inbox), ==, 3);
  g_assert_cmpuint (mailer_folder_get_unread_count (session_inbox), ==, 3);
  {
    g_autoptr(MailerFolder) session_projects = g_list_model_get_item (roots, 1);
    g_autoptr(MailerFolder) child = g_list_model_get_item (mailer_folder_get_children (session_projects), 0);

    g_assert_cmpstr (mailer_folder_get_display_name (child), ==, "Mailer");
  }

  /* Reading a message here: the same folder object's count drops. */
  g_signal_connect (session_inbox, "notify::unread-count", G_CALLBACK (count_notify_cb), &unread_notified);
  ids = add_messages (mailer_session_get_store (session), inbox_id, 1);
  g_assert_cmpuint (mailer_folder_get_unread_count (session_inbox), ==, 4);
  {
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;

    mailer_store_set_flags_async (mailer_session_get_store (session), ids, MAILER_MESSAGE_FLAG_SEEN, 0,
                                  TRUE, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_store_set_flags_finish (mailer_session_get_store (session), result, &error));
  }
  g_assert_cmpuint (mailer_folder_get_unread_count (session_inbox), ==, 3);
  g_assert_cmpuint (mailer_folder_get_total_count (session_inbox), ==, 4);
  g_assert_cmpuint (unread_notified, ==, 2);

  /* A new folder joins the tree; the old objects stay. */
  g_signal_connect_swapped (mailer_account_get_folders (account), "items-changed",
                            G_CALLBACK (count_changed_cb), &folders_notified);
  {
    g_autoptr(MailerFolder) later = mailer_folder_new (mailer_account_get_id (account), "Later");

    save_folder (mailer_session_get_store (session), later);
  }
  g_assert_cmpuint (folders_notified, ==, 1);
  g_assert_true (mailer_account_get_folders (account) == roots);
  g_assert_cmpuint (g_list_model_get_n_items (roots), ==, 3);
  g_assert_true (mailer_session_get_folder (session, inbox_id) == session_inbox);

  g_clear_object (&account);
  g_clear_object (&session);
  {
    g_autofree char *db = g_build_filename (dir, "mailer.db", NULL);
    g_autofree char *wal = g_build_filename (dir, "mailer.db-wal", NULL);
    g_autofree char *shm = g_build_filename (dir, "mailer.db-shm", NULL);

    g_remove (db);
    g_remove (wal);
    g_remove (shm);
    g_rmdir (dir);
  }
}

static gboolean
is_checking (gpointer data)
{
  MailerAccount *account = data;

  return mailer_account_get_connection_state (account) != MAILER_CONNECTION_STATE_OFFLINE;
}

/* Offline, a check fails at once, saying so, without trying the server;
 * when the network is back, every account is checked by itself. */
static void
test_offline_and_back (void)
{
  g_autofree char *dir = g_dir_make_tmp ("mailer-session-XXXXXX", NULL);
  g_autoptr(MailerSession) session = NULL;
  g_autoptr(MailerTestMonitor) monitor = mailer_test_monitor_new ();
  g_autoptr(MailerAccount) account = mailer_account_new (MAILER_ACCOUNT_KIND_POP3);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;
  guint notified = 0;
  gint64 deadline;

  session = mailer_session_new (dir, &error);
  g_assert_no_error (error);
  mailer_session_set_network_monitor (session, G_NETWORK_MONITOR (monitor));
  g_assert_true (mailer_session_get_online (session));
  g_signal_connect (session, "notify::online", G_CALLBACK (count_notify_cb), &notified);

  /* A server that would only time out, were it tried. */
  g_object_set (account, "display-name", "Home", "host", "192.0.2.1", "port", 995, NULL);
  mailer_session_add_account_async (session, account, NULL, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_session_add_account_finish (session, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);

  mailer_test_monitor_set_available (monitor, FALSE);
  g_assert_false (mailer_session_get_online (session));
  g_assert_cmpuint (notified, ==, 1);
  g_assert_cmpint (mailer_account_get_connection_state (account), ==, MAILER_CONNECTION_STATE_OFFLINE);

  mailer_session_sync_account_async (session, account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 2);
  g_assert_cmpint (mailer_session_sync_account_finish (session, result, &error), <, 0);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE);
  g_assert_nonnull (strstr (error->message, "offline"));
  g_assert_false (mailer_session_is_syncing (session, account));
  g_assert_cmpint (mailer_account_get_connection_state (account), ==, MAILER_CONNECTION_STATE_OFFLINE);
  g_clear_error (&error);

  /* Back: a check starts by itself. */
  mailer_test_monitor_set_available (monitor, TRUE);
  g_assert_true (mailer_session_get_online (session));
  g_assert_cmpuint (notified, ==, 2);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (!is_checking (account) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_true (is_checking (account));
  mailer_session_cancel_sync (session, account);
  g_clear_object (&session);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/session/folders-follow-store", test_folders_follow_store);
  g_test_add_func ("/session/offline-and-back", test_offline_and_back);

  return g_test_run ();
}
