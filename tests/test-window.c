/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * UI tests: the real main window under a real display server (Xvfb in
 * the test runner).  Screenshots of each state are saved in the build dir.
 */
#include "config.h"

#include <adwaita.h>
#include <string.h>

#include "mailer-account-row.h"
#include "mailer-message-row.h"
#include "mailer-session.h"
#include "mailer-test-ui.h"
#include "mailer-test-util.h"
#include "mailer-window.h"

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

static void
test_window_shows_accounts (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (2);
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();
  MailerWindow *window;
  GtkSelectionModel *selection;
  MailerAccount *first;
  MailerAccount *second;

  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 640);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));

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
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-accounts");

  gtk_selection_model_select_item (selection, 2, TRUE);
  g_assert_true (gtk_selection_model_is_selected (selection, 2));
  g_main_context_iteration (NULL, FALSE);
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-pop3-account");

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_window_empty (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (0);
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();
  MailerWindow *window;

  window = mailer_window_new (NULL, session, NULL);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));

  collect_rows (GTK_WIDGET (window), rows);
  g_assert_cmpuint (rows->len, ==, 0);
  g_assert_false (gtk_widget_get_mapped (GTK_WIDGET (mailer_window_get_accounts_view (window))));
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-empty");

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
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (1);
  g_autoptr(MailerAccount) account = g_list_model_get_item (mailer_session_get_accounts (session), 0);
  g_autoptr(MailerFolder) inbox = mailer_folder_new (mailer_account_get_id (account), "INBOX");
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char * const files[] = { "plain.eml", "rfc2047-subject.eml", "attachment.eml", "thread-01.eml",
                                 "thread-02.eml", "latin1-body.eml", "rfc2047-japanese.eml" };
  MailerStore *store = mailer_session_get_store (session);
  g_autoptr(GSettings) settings = g_settings_new ("org.example.Mailer");
  GtkSelectionModel *list_selection;
  g_autoptr(MailerMessage) first = NULL;
  MailerWindow *window;

  /* One row a message here; /ui/window/conversations groups them. */
  g_settings_set_boolean (settings, "conversation-grouping", FALSE);

  /* The window opens before the account has folders (a first sync). */
  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 720);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));

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
  mailer_test_ui_wait_until (has_message_rows, mailer_window_get_messages_view (window));
  collect_message_rows (GTK_WIDGET (mailer_window_get_messages_view (window)), rows);
  g_assert_cmpuint (rows->len, ==, G_N_ELEMENTS (files));
  list_selection = gtk_list_view_get_model (mailer_window_get_messages_view (window));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list_selection)), ==, G_N_ELEMENTS (files));
  first = g_list_model_get_item (G_LIST_MODEL (list_selection), 0);
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-messages");

  /* Opening a message shows it, and marks it read after the delay. */
  gtk_selection_model_select_item (list_selection, 0, TRUE);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpstr (mailer_window_get_reader_subject (window), ==, mailer_message_get_subject (first));
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-reader");
  if (mailer_message_get_unread (first))
    {
      gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

      while (mailer_message_get_unread (first) && g_get_monotonic_time () < deadline)
        g_main_context_iteration (NULL, FALSE), g_usleep (1000);
      g_assert_false (mailer_message_get_unread (first));
    }

  /* A reply: what it quotes is fainter than what it says. */
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (list_selection), i);

      if (!g_str_has_prefix (mailer_message_get_subject (message), "Re: Moving the build server"))
        continue;
      gtk_selection_model_select_item (list_selection, i, TRUE);
      g_main_context_iteration (NULL, FALSE);
      g_assert_nonnull (strstr (mailer_window_get_reader_body (window),
                                "<span fgalpha=\"60%\">&gt; Hi all,</span>"));
      mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-reader-quoted");
      break;
    }
  gtk_selection_model_select_item (list_selection, 0, TRUE);
  g_main_context_iteration (NULL, FALSE);

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
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-deleted");

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
    mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-search");
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

static GtkWidget *
find_label (GtkWidget  *root,
            const char *text)
{
  if (GTK_IS_LABEL (root) && g_strcmp0 (gtk_label_get_label (GTK_LABEL (root)), text) == 0 &&
      gtk_widget_is_visible (root))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_label (child, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* A row of the list shows a conversation of @n messages. */
static gboolean
has_row_counting (GtkWidget *root,
                  guint      n)
{
  if (MAILER_IS_MESSAGE_ROW (root) && gtk_widget_get_mapped (root) &&
      mailer_message_row_get_n_messages (MAILER_MESSAGE_ROW (root)) == n)
    return TRUE;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (has_row_counting (child, n))
      return TRUE;
  return FALSE;
}

static guint
list_length (MailerWindow *window)
{
  return g_list_model_get_n_items (G_LIST_MODEL (gtk_list_view_get_model (mailer_window_get_messages_view (window))));
}

static gboolean
has_rows (gpointer data)
{
  guint *expected = g_object_get_data (data, "expected-rows");

  return list_length (data) == *expected;
}

static void
wait_rows (MailerWindow *window,
           guint         n)
{
  g_object_set_data_full (G_OBJECT (window), "expected-rows", g_memdup2 (&n, sizeof n), g_free);
  mailer_test_ui_wait_until (has_rows, window);
}

/* Grouped by conversation (the default): a message and its replies are
 * one row, with their number; the reader steps through them; an action
 * on the row is on all of them; the preference turns it off and on. */
static void
test_window_conversations (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (1);
  g_autoptr(MailerAccount) account = g_list_model_get_item (mailer_session_get_accounts (session), 0);
  g_autoptr(MailerFolder) inbox = mailer_test_ui_add_folder (session, account, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  g_autoptr(MailerFolder) trash = mailer_test_ui_add_folder (session, account, "Trash", MAILER_FOLDER_ROLE_TRASH);
  const char * const files[] = { "thread-01.eml", "thread-02.eml", "thread-03.eml", "plain.eml", NULL };
  g_autoptr(GArray) ids = mailer_test_ui_add_messages (session, inbox, files);
  g_autoptr(GSettings) settings = g_settings_new ("org.example.Mailer");
  MailerStore *store = mailer_session_get_store (session);
  GtkSelectionModel *selection;
  MailerWindow *window;
  guint conversation_row = G_MAXUINT;

  g_settings_set_boolean (settings, "conversation-grouping", TRUE);
  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 720);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));
  wait_rows (window, 2);
  selection = gtk_list_view_get_model (mailer_window_get_messages_view (window));
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (selection), i);

      if (mailer_message_get_id (message) == g_array_index (ids, gint64, 2))
        conversation_row = i;
    }
  /* The row is the newest message (thread-03), and says 3. */
  g_assert_cmpuint (conversation_row, !=, G_MAXUINT);
  mailer_test_ui_wait_for_paint (GTK_WIDGET (window));
  g_assert_true (has_row_counting (GTK_WIDGET (mailer_window_get_messages_view (window)), 3));

  /* Open: the newest; then the earlier ones. */
  gtk_selection_model_select_item (selection, conversation_row, TRUE);
  g_main_context_iteration (NULL, FALSE);
  g_assert_nonnull (find_label (GTK_WIDGET (window), "Message 3 of 3 in this conversation"));
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-conversation");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.conversation-previous", NULL));
  g_assert_nonnull (find_label (GTK_WIDGET (window), "Message 2 of 3 in this conversation"));
  {
    g_autoptr(MailerMessage) second = mailer_store_get_message (store, g_array_index (ids, gint64, 1), NULL);

    g_assert_cmpstr (mailer_window_get_reader_subject (window), ==, mailer_message_get_subject (second));
  }
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.conversation-previous", NULL));
  g_assert_nonnull (find_label (GTK_WIDGET (window), "Message 1 of 3 in this conversation"));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.conversation-next", NULL));
  g_assert_nonnull (find_label (GTK_WIDGET (window), "Message 2 of 3 in this conversation"));

  /* Ungrouped: four rows; grouped again: two. */
  g_settings_set_boolean (settings, "conversation-grouping", FALSE);
  wait_rows (window, 4);
  g_settings_set_boolean (settings, "conversation-grouping", TRUE);
  wait_rows (window, 2);

  /* Delete on the conversation's row: all three go to the Trash. */
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (selection), i);

      if (mailer_message_get_id (message) == g_array_index (ids, gint64, 2))
        gtk_selection_model_select_item (selection, i, TRUE);
    }
  g_main_context_iteration (NULL, FALSE);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.delete", NULL));
  wait_rows (window, 1);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(MailerMessage) message = mailer_store_get_message (store, g_array_index (ids, gint64, i), NULL);

      g_assert_cmpint (mailer_message_get_folder_id (message), ==, mailer_folder_get_id (trash));
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
  g_test_add_func ("/ui/window/conversations", test_window_conversations);

  return g_test_run ();
}
