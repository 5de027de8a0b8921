/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * UI tests: the real main window under a real display server (Xvfb in
 * the test runner).  Screenshots of each state are saved in the build dir.
 */
#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>

#include "mailer-account-row.h"
#include "mailer-message-row.h"
#include "mailer-session.h"
#include "mailer-test-util.h"
#include "mailer-window.h"

static void
wait_until (gboolean (*condition) (gpointer),
            gpointer   data)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (!condition (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out waiting for the window");
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static void
collect_rows (GtkWidget *widget,
              GPtrArray *rows)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (MAILER_IS_ACCOUNT_ROW (child) && gtk_widget_get_mapped (child))
        g_ptr_array_add (rows, child);
      collect_rows (child, rows);
    }
}

static gboolean
window_is_drawn (gpointer data)
{
  GtkWidget *window = data;

  return gtk_widget_get_mapped (window) && gtk_widget_get_width (window) > 0;
}

static void
after_paint_cb (GdkFrameClock *clock,
                gpointer       user_data)
{
  *(gboolean *) user_data = TRUE;
}

static gboolean
flag_is_set (gpointer data)
{
  return *(gboolean *) data;
}

/* Lets the window lay out and paint what changed. */
static void
wait_for_paint (GtkWidget *window)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (window);
  gboolean painted = FALSE;
  gulong id;

  id = g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), &painted);
  gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
  wait_until (flag_is_set, &painted);
  g_signal_handler_disconnect (clock, id);
}

/* Saves what the display shows into <builddir>/screenshots/NAME.png, taken
 * from the X server (Xvfb) as a user would see it. */
static void
save_screenshot (GtkWidget  *window,
                 const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *file = NULL;
  g_autofree char *path = NULL;
  int status = -1;

  wait_for_paint (window);
  /* Let the X server process the frame before it is read back. */
  gdk_display_sync (gtk_widget_get_display (window));

  dir = g_build_filename (g_getenv ("G_TEST_BUILDDIR") ? g_getenv ("G_TEST_BUILDDIR") : ".",
                          "screenshots", NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  file = g_strconcat (name, ".png", NULL);
  path = g_build_filename (dir, file, NULL);

  g_spawn_sync (NULL, (char *[]) { (char *) "import", (char *) "-window", (char *) "root",
                                   path, NULL },
                NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  g_test_message ("Screenshot: %s", path);
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
remove_tree_and_free (char *path)
{
  remove_tree (path);
  g_free (path);
}

/* A store of its own in a fresh temporary dir.  (The UI tests do not use
 * G_TEST_OPTION_ISOLATE_DIRS: that would hide the system icon theme.) */
static MailerSession *
make_session (guint n_accounts)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mailer-ui-XXXXXX", &error);
  g_autoptr(MailerSession) session = NULL;

  g_assert_no_error (error);
  session = mailer_session_new (dir, &error);
  g_assert_no_error (error);
  g_object_set_data_full (G_OBJECT (session), "test-dir", g_steal_pointer (&dir),
                          (GDestroyNotify) remove_tree_and_free);

  for (guint i = 0; i < n_accounts; i++)
    {
      g_autoptr(MailerAccount) account = mailer_account_new (i % 2 ? MAILER_ACCOUNT_KIND_POP3
                                                                   : MAILER_ACCOUNT_KIND_IMAP);
      g_autoptr(GAsyncResult) result = NULL;
      GAsyncResult *pending = NULL;

      g_object_set (account,
                    "display-name", i % 2 ? "Home (POP3)" : "Work",
                    "address", i % 2 ? "alex@home.example.net" : "alex@example.org",
                    "host", i % 2 ? "pop.example.net" : "imap.example.org",
                    "port", i % 2 ? 995 : 993,
                    NULL);
      /* No password: this test is about the window, not the keyring. */
      mailer_session_add_account_async (session, account, NULL, NULL,
                                        mailer_test_store_result_cb, &pending);
      result = mailer_test_wait_result (&pending, 10);
      g_assert_true (mailer_session_add_account_finish (session, result, &error));
      g_assert_no_error (error);
    }

  return g_steal_pointer (&session);
}

static void
test_window_shows_accounts (void)
{
  g_autoptr(MailerSession) session = make_session (2);
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();
  MailerWindow *window;
  GtkSelectionModel *selection;
  MailerAccount *first;
  MailerAccount *second;

  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 640);
  gtk_window_present (GTK_WINDOW (window));
  wait_until (window_is_drawn, window);

  collect_rows (GTK_WIDGET (mailer_window_get_accounts_view (window)), rows);
  g_assert_cmpuint (rows->len, ==, 2);
  first = mailer_account_row_get_account (g_ptr_array_index (rows, 0));
  second = mailer_account_row_get_account (g_ptr_array_index (rows, 1));
  g_assert_cmpstr (mailer_account_get_display_name (first), ==, "Work");
  g_assert_cmpint (mailer_account_get_kind (first), ==, MAILER_ACCOUNT_KIND_IMAP);
  g_assert_cmpstr (mailer_account_get_display_name (second), ==, "Home (POP3)");
  g_assert_cmpint (mailer_account_get_kind (second), ==, MAILER_ACCOUNT_KIND_POP3);

  /* "All Inboxes" comes first and is shown; the accounts follow. */
  selection = gtk_list_view_get_model (mailer_window_get_accounts_view (window));
  g_assert_true (gtk_selection_model_is_selected (selection, 0));
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, "Mailer");
  save_screenshot (GTK_WIDGET (window), "window-accounts");

  gtk_selection_model_select_item (selection, 2, TRUE);
  g_assert_true (gtk_selection_model_is_selected (selection, 2));
  g_main_context_iteration (NULL, FALSE);
  save_screenshot (GTK_WIDGET (window), "window-pop3-account");

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_window_empty (void)
{
  g_autoptr(MailerSession) session = make_session (0);
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();
  MailerWindow *window;

  window = mailer_window_new (NULL, session, NULL);
  gtk_window_present (GTK_WINDOW (window));
  wait_until (window_is_drawn, window);

  collect_rows (GTK_WIDGET (window), rows);
  g_assert_cmpuint (rows->len, ==, 0);
  g_assert_false (gtk_widget_get_mapped (GTK_WIDGET (mailer_window_get_accounts_view (window))));
  save_screenshot (GTK_WIDGET (window), "window-empty");

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
collect_message_rows (GtkWidget *widget,
                      GPtrArray *rows)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (MAILER_IS_MESSAGE_ROW (child) && gtk_widget_get_mapped (child))
        g_ptr_array_add (rows, child);
      collect_message_rows (child, rows);
    }
}

static gboolean
has_message_rows (gpointer data)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();

  collect_message_rows (data, rows);
  return rows->len > 0;
}

static void
test_window_messages (void)
{
  g_autoptr(MailerSession) session = make_session (1);
  g_autoptr(MailerAccount) account = g_list_model_get_item (mailer_session_get_accounts (session), 0);
  g_autoptr(MailerFolder) inbox = mailer_folder_new (mailer_account_get_id (account), "INBOX");
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char * const files[] = { "plain.eml", "rfc2047-subject.eml", "attachment.eml", "thread-01.eml",
                                 "thread-02.eml", "latin1-body.eml", "rfc2047-japanese.eml" };
  MailerStore *store = mailer_session_get_store (session);
  GtkSelectionModel *list_selection;
  g_autoptr(MailerMessage) first = NULL;
  MailerWindow *window;

  /* The window opens before the account has folders (a first sync). */
  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 720);
  gtk_window_present (GTK_WINDOW (window));
  wait_until (window_is_drawn, window);

  mailer_folder_set_role (inbox, MAILER_FOLDER_ROLE_INBOX);
  {
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;

    mailer_store_save_folder_async (store, inbox, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_store_save_folder_finish (store, result, &error));
  }
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", files[i], NULL);
      MailerStoreNewMessage *message = mailer_store_new_message_new ();
      char *contents;
      gsize len;

      g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
      message->raw = g_bytes_new_take (contents, len);
      message->uid = i + 1;
      message->flags = i % 3 == 0 ? MAILER_MESSAGE_FLAG_SEEN : 0;
      if (i == 1)
        message->flags |= MAILER_MESSAGE_FLAG_FLAGGED;
      g_ptr_array_add (messages, message);
    }
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GArray) ids = NULL;
    GAsyncResult *pending = NULL;

    mailer_store_add_messages_async (store, mailer_folder_get_id (inbox), messages, NULL,
                                     mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    ids = mailer_store_add_messages_finish (store, result, &error);
    g_assert_no_error (error);
  }


  /* "All Inboxes" shows every message, newest first. */
  wait_until (has_message_rows, mailer_window_get_messages_view (window));
  collect_message_rows (GTK_WIDGET (mailer_window_get_messages_view (window)), rows);
  g_assert_cmpuint (rows->len, ==, G_N_ELEMENTS (files));
  list_selection = gtk_list_view_get_model (mailer_window_get_messages_view (window));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list_selection)), ==, G_N_ELEMENTS (files));
  first = g_list_model_get_item (G_LIST_MODEL (list_selection), 0);
  save_screenshot (GTK_WIDGET (window), "window-messages");

  /* Opening a message shows it, and marks it read after the delay. */
  gtk_selection_model_select_item (list_selection, 0, TRUE);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpstr (mailer_window_get_reader_subject (window), ==, mailer_message_get_subject (first));
  save_screenshot (GTK_WIDGET (window), "window-reader");
  if (mailer_message_get_unread (first))
    {
      gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

      while (mailer_message_get_unread (first) && g_get_monotonic_time () < deadline)
        g_main_context_iteration (NULL, FALSE), g_usleep (1000);
      g_assert_false (mailer_message_get_unread (first));
    }

  /* Flag it, then delete it: it moves to the Trash, out of the inbox. */
  g_assert_false (mailer_message_get_flagged (first));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.toggle-flag", NULL);
  {
    gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

    while (!mailer_message_get_flagged (first) && g_get_monotonic_time () < deadline)
      g_main_context_iteration (NULL, FALSE), g_usleep (1000);
    g_assert_true (mailer_message_get_flagged (first));
  }
  gtk_widget_activate_action (GTK_WIDGET (window), "win.delete", NULL);
  {
    gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

    while (g_list_model_get_n_items (G_LIST_MODEL (list_selection)) != G_N_ELEMENTS (files) - 1 &&
           g_get_monotonic_time () < deadline)
      g_main_context_iteration (NULL, FALSE), g_usleep (1000);
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list_selection)), ==, G_N_ELEMENTS (files) - 1);
  }
  save_screenshot (GTK_WIDGET (window), "window-deleted");

  /* Search finds across accounts as you type. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.search", NULL);
  {
    GtkWidget *entry = gtk_window_get_focus (GTK_WINDOW (window));
    GtkSelectionModel *results;
    gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

    g_assert_true (GTK_IS_TEXT (entry) || GTK_IS_SEARCH_ENTRY (entry));
    gtk_editable_set_text (GTK_EDITABLE (entry), "storage");
    results = gtk_list_view_get_model (mailer_window_get_messages_view (window));
    while (g_list_model_get_n_items (G_LIST_MODEL (results)) != 1 && g_get_monotonic_time () < deadline)
      g_main_context_iteration (NULL, FALSE), g_usleep (1000);
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (results)), ==, 1);
    save_screenshot (GTK_WIDGET (window), "window-search");
    gtk_editable_set_text (GTK_EDITABLE (entry), "");
  }

  /* The account's inbox in the tree below the account shows the same. */
  {
    GtkSelectionModel *sidebar = gtk_list_view_get_model (mailer_window_get_accounts_view (window));
    g_autoptr(GtkTreeListRow) row = g_list_model_get_item (G_LIST_MODEL (sidebar), 2);
    g_autoptr(GObject) item = gtk_tree_list_row_get_item (row);

    g_assert_true (MAILER_IS_FOLDER (item));
    g_assert_cmpstr (mailer_folder_get_path (MAILER_FOLDER (item)), ==, "INBOX");
    gtk_selection_model_select_item (sidebar, 2, TRUE);
    g_main_context_iteration (NULL, FALSE);
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (gtk_list_view_get_model (mailer_window_get_messages_view (window)))),
                      ==, G_N_ELEMENTS (files) - 1);
  }
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  gtk_init ();
  adw_init ();

  g_test_add_func ("/ui/window/accounts", test_window_shows_accounts);
  g_test_add_func ("/ui/window/empty", test_window_empty);
  g_test_add_func ("/ui/window/messages", test_window_messages);

  return g_test_run ();
}
