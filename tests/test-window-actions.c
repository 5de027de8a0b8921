/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * UI tests: what the main window's message actions do to the store, under
 * a real display server (Xvfb in the test runner): move to a folder (by
 * action, through the "Move to" menu, by drag and drop onto the sidebar),
 * and delete with Undo; and a folder of 100,000 messages shown with only
 * the rows on screen (and GTK's margin) loaded.
 */
#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "mailer-account-row.h"
#include "mailer-message-list.h"
#include "mailer-message-row.h"
#include "mailer-test-monitor.h"
#include "mailer-secrets.h"
#include "mailer-test-ui.h"
#include "mailer-test-util.h"
#include "mailer-window.h"

typedef struct
{
  MailerStore *store;
  gint64       message_id;
  gint64       folder_id;
} InFolder;

static gboolean
message_is_in_folder (gpointer data)
{
  InFolder *check = data;
  g_autoptr(MailerMessage) message = mailer_store_get_message (check->store, check->message_id, NULL);

  return message != NULL && mailer_message_get_folder_id (message) == check->folder_id;
}

static void
wait_in_folder (MailerSession *session,
                gint64         message_id,
                MailerFolder  *folder)
{
  InFolder check = { mailer_session_get_store (session), message_id, mailer_folder_get_id (folder) };

  mailer_test_ui_wait_until (message_is_in_folder, &check);
}

static gboolean
list_has_items (gpointer data)
{
  MailerWindow *window = data;
  GListModel *model = G_LIST_MODEL (gtk_list_view_get_model (mailer_window_get_messages_view (window)));

  return g_list_model_get_n_items (model) > 0;
}

/* Selects the message @id in the list shown, and waits until it is shown. */
static void
open_message (MailerWindow *window,
              gint64        id)
{
  GtkSelectionModel *selection = gtk_list_view_get_model (mailer_window_get_messages_view (window));
  guint n;

  mailer_test_ui_wait_until (list_has_items, window);
  n = g_list_model_get_n_items (G_LIST_MODEL (selection));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (selection), i);

      if (mailer_message_get_id (message) == id)
        {
          gtk_selection_model_select_item (selection, i, TRUE);
          g_main_context_iteration (NULL, FALSE);
          g_assert_cmpstr (mailer_window_get_reader_subject (window), ==,
                           mailer_message_get_subject (message));
          return;
        }
    }
  g_error ("Message %" G_GINT64_FORMAT " is not in the list", id);
}

/* The widget of type @type under @root whose label, or whose child's
 * label, is @label; depth first. */
static GtkWidget *
find_labelled (GtkWidget  *root,
               GType       type,
               const char *label)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
    {
      for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
           child = gtk_widget_get_next_sibling (child))
        if (GTK_IS_LABEL (child) && g_strcmp0 (gtk_label_get_label (GTK_LABEL (child)), label) == 0)
          return root;
      if (GTK_IS_BUTTON (root) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (root)), label) == 0)
        return root;
    }
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_labelled (child, type, label);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* Drops message @id onto the sidebar row of the folder named @name, as a
 * drag from the message list ends; returns whether the drop was taken. */
static gboolean
drop_on_folder (MailerWindow *window,
                const char   *name,
                gint64        id)
{
  GtkWidget *row = find_labelled (GTK_WIDGET (mailer_window_get_accounts_view (window)),
                                  GTK_TYPE_BOX, name);
  g_autoptr(GListModel) controllers = NULL;
  g_auto(GValue) value = G_VALUE_INIT;
  gboolean taken = FALSE;

  g_assert_nonnull (row);
  controllers = gtk_widget_observe_controllers (row);
  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GObject) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_DROP_TARGET (controller))
        {
          g_value_init (&value, G_TYPE_INT64);
          g_value_set_int64 (&value, id);
          g_signal_emit_by_name (controller, "drop", &value, 1.0, 1.0, &taken);
          return taken;
        }
    }
  g_error ("The row of %s takes no drops", name);
}

static GtkWidget *
find_by_tooltip (GtkWidget  *root,
                 const char *tooltip)
{
  if (g_strcmp0 (gtk_widget_get_tooltip_text (root), tooltip) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_by_tooltip (child, tooltip);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
has_undo_button (gpointer data)
{
  return find_labelled (data, GTK_TYPE_BUTTON, "_Undo") != NULL;
}

static void
test_window_move_and_delete (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (2);
  GListModel *accounts = mailer_session_get_accounts (session);
  g_autoptr(MailerAccount) work = g_list_model_get_item (accounts, 0);
  g_autoptr(MailerAccount) home = g_list_model_get_item (accounts, 1);
  g_autoptr(MailerFolder) work_inbox = mailer_test_ui_add_folder (session, work, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  g_autoptr(MailerFolder) inbox = mailer_test_ui_add_folder (session, home, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  g_autoptr(MailerFolder) projects = mailer_test_ui_add_folder (session, home, "Projects", MAILER_FOLDER_ROLE_NONE);
  g_autoptr(MailerFolder) trash = mailer_test_ui_add_folder (session, home, "Trash", MAILER_FOLDER_ROLE_TRASH);
  const char * const files[] = { "plain.eml", "rfc2047-subject.eml", "attachment.eml", NULL };
  g_autoptr(GArray) ids = mailer_test_ui_add_messages (session, inbox, files);
  gint64 first = g_array_index (ids, gint64, 0);
  gint64 second = g_array_index (ids, gint64, 1);
  gint64 third = g_array_index (ids, gint64, 2);
  GtkWidget *move_button;
  GMenuModel *menu;
  MailerWindow *window;
  gboolean listed_projects = FALSE;

  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 720);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));

  /* Nothing shown: nothing to move. */
  move_button = find_by_tooltip (GTK_WIDGET (window), "Move to Folder");
  g_assert_nonnull (move_button);
  g_assert_false (gtk_widget_is_sensitive (move_button));
  open_message (window, first);

  /* The "Move to" menu (Ctrl+Shift+M) lists the account's other folders. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.move", NULL));
  g_assert_nonnull (move_button);
  g_assert_true (gtk_widget_is_sensitive (move_button));
  menu = gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (move_button));
  g_assert_nonnull (menu);
  for (int s = 0; s < g_menu_model_get_n_items (menu); s++)
    {
      g_autoptr(GMenuModel) section = g_menu_model_get_item_link (menu, s, G_MENU_LINK_SECTION);

      for (int i = 0; i < g_menu_model_get_n_items (section); i++)
        {
          g_autofree char *label = NULL;
          g_autoptr(GVariant) target = NULL;

          g_assert_true (g_menu_model_get_item_attribute (section, i, G_MENU_ATTRIBUTE_LABEL, "s", &label));
          target = g_menu_model_get_item_attribute_value (section, i, G_MENU_ATTRIBUTE_TARGET, G_VARIANT_TYPE_INT64);
          g_assert_nonnull (target);
          /* Not the folder it is in, not another account's. */
          g_assert_cmpint (g_variant_get_int64 (target), !=, mailer_folder_get_id (inbox));
          g_assert_cmpint (g_variant_get_int64 (target), !=, mailer_folder_get_id (work_inbox));
          if (g_variant_get_int64 (target) == mailer_folder_get_id (projects))
            {
              g_assert_cmpstr (label, ==, "Projects");
              listed_projects = TRUE;
            }
        }
    }
  g_assert_true (listed_projects);
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-move-menu");
  gtk_menu_button_popdown (GTK_MENU_BUTTON (move_button));

  /* Move by action: it lands in the folder. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.move-to", "x",
                                             mailer_folder_get_id (projects)));
  wait_in_folder (session, first, projects);

  /* Drag and drop onto the sidebar: into another folder of the account
   * yes, into another account's folder no. */
  g_assert_true (drop_on_folder (window, "Projects", second));
  wait_in_folder (session, second, projects);
  {
    g_autoptr(MailerMessage) message = NULL;

    /* Both accounts have an "INBOX"; the first row found is Work's. */
    g_assert_false (drop_on_folder (window, "INBOX", third));
    message = mailer_store_get_message (mailer_session_get_store (session), third, NULL);
    g_assert_cmpint (mailer_message_get_folder_id (message), ==, mailer_folder_get_id (inbox));
  }

  /* Delete moves to the Trash; Undo brings it back. */
  open_message (window, third);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.delete", NULL));
  wait_in_folder (session, third, trash);
  mailer_test_ui_wait_until (has_undo_button, window);
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-deleted-undo");
  {
    /* The toast of the delete, not an older one on its way out. */
    GtkWidget *toast = find_labelled (GTK_WIDGET (window), GTK_TYPE_WIDGET, "Message moved to Trash");
    GtkWidget *undo;

    g_assert_nonnull (toast);
    while (toast != NULL && find_labelled (toast, GTK_TYPE_BUTTON, "_Undo") == NULL)
      toast = gtk_widget_get_parent (toast);
    g_assert_nonnull (toast);
    undo = find_labelled (toast, GTK_TYPE_BUTTON, "_Undo");
    g_assert_true (gtk_widget_get_mapped (undo));
    gtk_widget_activate (undo);
  }
  wait_in_folder (session, third, inbox);

  /* A notification's click: the message, open, in its folder. */
  {
    g_autoptr(MailerMessage) moved = mailer_store_get_message (mailer_session_get_store (session), first, NULL);

    g_assert_true (mailer_window_show_message (window, first));
    g_main_context_iteration (NULL, FALSE);
    g_assert_cmpstr (mailer_window_get_reader_subject (window), ==, mailer_message_get_subject (moved));
    {
      GtkSingleSelection *sidebar = GTK_SINGLE_SELECTION (gtk_list_view_get_model (mailer_window_get_accounts_view (window)));
      g_autoptr(GObject) item = gtk_tree_list_row_get_item (gtk_single_selection_get_selected_item (sidebar));

      g_assert_true (MAILER_IS_FOLDER (item));
      g_assert_cmpint (mailer_folder_get_id (MAILER_FOLDER (item)), ==, mailer_folder_get_id (projects));
    }
    g_assert_false (mailer_window_show_message (window, 999999));
  }

  gtk_window_destroy (GTK_WINDOW (window));
}

typedef struct
{
  MailerStore *store;
  GArray *ids;
  MailerMessageFlags flag;
  gboolean on;
} AllFlagged;

static gboolean
all_have_flag (gpointer data)
{
  AllFlagged *check = data;

  for (guint i = 0; i < check->ids->len; i++)
    {
      g_autoptr(MailerMessage) message = mailer_store_get_message (check->store, g_array_index (check->ids, gint64, i), NULL);

      if (message == NULL || ((mailer_message_get_flags (message) & check->flag) != 0) != check->on)
        return FALSE;
    }
  return TRUE;
}

static gboolean
shows_five_deleted (gpointer data)
{
  return find_labelled (data, GTK_TYPE_WIDGET, "5 messages moved to Trash") != NULL;
}

static guint
n_selected (MailerWindow *window)
{
  GtkBitset *selected = gtk_selection_model_get_selection (gtk_list_view_get_model (mailer_window_get_messages_view (window)));
  guint n = gtk_bitset_get_size (selected);

  gtk_bitset_unref (selected);
  return n;
}

/* Several messages selected (Ctrl+click, Shift+click, Ctrl+A): every
 * action applies to all of them, in both accounts of the unified inbox,
 * and one Undo puts them all back. */
static void
test_window_multi_select (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (2);
  GListModel *accounts = mailer_session_get_accounts (session);
  g_autoptr(MailerAccount) work = g_list_model_get_item (accounts, 0);
  g_autoptr(MailerAccount) home = g_list_model_get_item (accounts, 1);
  g_autoptr(MailerFolder) work_inbox = mailer_test_ui_add_folder (session, work, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  g_autoptr(MailerFolder) work_archive = mailer_test_ui_add_folder (session, work, "Archive", MAILER_FOLDER_ROLE_ARCHIVE);
  g_autoptr(MailerFolder) work_trash = mailer_test_ui_add_folder (session, work, "Trash", MAILER_FOLDER_ROLE_TRASH);
  g_autoptr(MailerFolder) home_inbox = mailer_test_ui_add_folder (session, home, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  g_autoptr(MailerFolder) home_trash = mailer_test_ui_add_folder (session, home, "Trash", MAILER_FOLDER_ROLE_TRASH);
  const char * const work_files[] = { "plain.eml", "rfc2047-subject.eml", "attachment.eml", NULL };
  const char * const home_files[] = { "latin1-body.eml", "thread-01.eml", NULL };
  g_autoptr(GArray) work_ids = mailer_test_ui_add_messages (session, work_inbox, work_files);
  g_autoptr(GArray) home_ids = mailer_test_ui_add_messages (session, home_inbox, home_files);
  g_autoptr(GArray) picked = g_array_new (FALSE, FALSE, sizeof (gint64));
  MailerStore *store = mailer_session_get_store (session);
  GtkSelectionModel *selection;
  MailerWindow *window;
  guint n;
  g_autoptr(GSettings) settings = g_settings_new ("org.example.Mailer");

  /* A row a message (conversations: /ui/window/conversations). */
  g_settings_set_boolean (settings, "conversation-grouping", FALSE);

  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 720);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));
  mailer_test_ui_wait_until (list_has_items, window);
  selection = gtk_list_view_get_model (mailer_window_get_messages_view (window));
  n = g_list_model_get_n_items (G_LIST_MODEL (selection));
  g_assert_cmpuint (n, ==, 5);

  /* Two rows of All Inboxes, one of each account (Ctrl+click). */
  for (guint i = 0; i < n && picked->len < 2; i++)
    {
      g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (selection), i);
      gint64 id = mailer_message_get_id (message);
      gboolean is_work = mailer_message_get_folder_id (message) == mailer_folder_get_id (work_inbox);

      if ((picked->len == 0 && is_work) || (picked->len == 1 && !is_work))
        {
          gtk_selection_model_select_item (selection, i, picked->len == 0);
          g_array_append_val (picked, id);
        }
    }
  g_assert_cmpuint (picked->len, ==, 2);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (n_selected (window), ==, 2);
  g_assert_nonnull (find_labelled (GTK_WIDGET (window), GTK_TYPE_WIDGET, "2 Messages Selected"));
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-two-selected");

  /* Flag, read: both. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.toggle-flag", NULL));
  {
    AllFlagged check = { store, picked, MAILER_MESSAGE_FLAG_FLAGGED, TRUE };

    mailer_test_ui_wait_until (all_have_flag, &check);
  }
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.toggle-read", NULL));
  {
    AllFlagged check = { store, picked, MAILER_MESSAGE_FLAG_SEEN, TRUE };

    mailer_test_ui_wait_until (all_have_flag, &check);
  }
  /* The IMAP one's change goes to the server (journal); the POP3 one's
   * stays here. */
  {
    g_autoptr(GPtrArray) work_journal = mailer_store_list_journal (store, mailer_account_get_id (work), NULL);
    g_autoptr(GPtrArray) home_journal = mailer_store_list_journal (store, mailer_account_get_id (home), NULL);

    g_assert_cmpuint (work_journal->len, ==, 2);
    g_assert_cmpuint (home_journal->len, ==, 0);
  }

  /* Archive: the Work one goes to Work's Archive; Home has none and keeps
   * its own.  Undo puts it back. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.archive", NULL));
  wait_in_folder (session, g_array_index (picked, gint64, 0), work_archive);
  {
    g_autoptr(MailerMessage) kept = mailer_store_get_message (store, g_array_index (picked, gint64, 1), NULL);

    g_assert_cmpint (mailer_message_get_folder_id (kept), ==, mailer_folder_get_id (home_inbox));
  }
  mailer_test_ui_wait_until (has_undo_button, window);
  gtk_widget_activate (find_labelled (GTK_WIDGET (window), GTK_TYPE_BUTTON, "_Undo"));
  wait_in_folder (session, g_array_index (picked, gint64, 0), work_inbox);

  /* Ctrl+A, Delete: every one to its account's Trash, one toast; Undo
   * brings all five back. */
  mailer_test_ui_wait_until (list_has_items, window);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.select-all", NULL));
  g_assert_cmpuint (n_selected (window), ==, 5);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.delete", NULL));
  for (guint i = 0; i < work_ids->len; i++)
    wait_in_folder (session, g_array_index (work_ids, gint64, i), work_trash);
  for (guint i = 0; i < home_ids->len; i++)
    wait_in_folder (session, g_array_index (home_ids, gint64, i), home_trash);
  mailer_test_ui_wait_until (shows_five_deleted, window);
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-five-deleted");
  {
    /* The toast of the delete, not the archive's on its way out. */
    GtkWidget *toast = find_labelled (GTK_WIDGET (window), GTK_TYPE_WIDGET, "5 messages moved to Trash");

    g_assert_nonnull (toast);
    while (toast != NULL && find_labelled (toast, GTK_TYPE_BUTTON, "_Undo") == NULL)
      toast = gtk_widget_get_parent (toast);
    g_assert_nonnull (toast);
    gtk_widget_activate (find_labelled (toast, GTK_TYPE_BUTTON, "_Undo"));
  }
  for (guint i = 0; i < work_ids->len; i++)
    wait_in_folder (session, g_array_index (work_ids, gint64, i), work_inbox);
  for (guint i = 0; i < home_ids->len; i++)
    wait_in_folder (session, g_array_index (home_ids, gint64, i), home_inbox);

  gtk_window_destroy (GTK_WINDOW (window));
}

static MailerWindow *
single_window (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* (transfer none) */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i);

      if (MAILER_IS_WINDOW (window) && mailer_window_is_single (MAILER_WINDOW (window)))
        return MAILER_WINDOW (window);
    }
  return NULL;
}

static gboolean
single_window_gone (gpointer data)
{
  return single_window () == NULL;
}

/* Open in New Window (double click, Enter, Ctrl+Shift+O, the row's menu):
 * the message alone in a window of its own, with its actions; deleted
 * there, the window closes and the main window's list follows. */
static void
test_window_open_in_window (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (2);
  g_autoptr(MailerAccount) home = g_list_model_get_item (mailer_session_get_accounts (session), 1);
  g_autoptr(MailerFolder) inbox = mailer_test_ui_add_folder (session, home, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  g_autoptr(MailerFolder) trash = mailer_test_ui_add_folder (session, home, "Trash", MAILER_FOLDER_ROLE_TRASH);
  const char * const files[] = { "plain.eml", "attachment.eml", NULL };
  g_autoptr(GArray) ids = mailer_test_ui_add_messages (session, inbox, files);
  gint64 id = g_array_index (ids, gint64, 1);
  g_autoptr(MailerMessage) message = mailer_store_get_message (mailer_session_get_store (session), id, NULL);
  MailerWindow *window, *single;

  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 720);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));
  open_message (window, id);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.open-in-window", NULL));
  single = single_window ();
  g_assert_nonnull (single);
  g_assert_true (single != window);
  mailer_test_ui_wait_for_window (GTK_WIDGET (single));
  g_assert_cmpstr (mailer_window_get_reader_subject (single), ==, mailer_message_get_subject (message));
  /* The reader alone: no sidebar, no list, no way back to them. */
  g_assert_false (gtk_widget_get_mapped (GTK_WIDGET (mailer_window_get_accounts_view (single))));
  g_assert_false (gtk_widget_get_mapped (GTK_WIDGET (mailer_window_get_messages_view (single))));
  mailer_test_ui_save_screenshot (GTK_WIDGET (single), "window-single-message");

  /* Deleted there: the window goes, the message is in the Trash, and
   * the main window's list has one message left. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (single), "win.delete", NULL));
  wait_in_folder (session, id, trash);
  mailer_test_ui_wait_until (single_window_gone, NULL);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (gtk_list_view_get_model (mailer_window_get_messages_view (window)))),
                    ==, 1);
  gtk_window_destroy (GTK_WINDOW (window));
}

static gboolean
folder_is_shown (gpointer data)
{
  MailerWindow *window = data;
  GListModel *model = G_LIST_MODEL (gtk_list_view_get_model (mailer_window_get_messages_view (window)));

  return g_list_model_get_n_items (model) == 100000;
}

static guint
count_rows (GtkWidget *widget,
            gboolean   mapped_only)
{
  guint n = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (MAILER_IS_MESSAGE_ROW (child) && (!mapped_only || gtk_widget_get_mapped (child)))
        n++;
      n += count_rows (child, mapped_only);
    }
  return n;
}

static void
test_window_large_folder (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (2);
  g_autoptr(MailerAccount) home = g_list_model_get_item (mailer_session_get_accounts (session), 1);
  g_autoptr(MailerFolder) inbox = mailer_test_ui_add_folder (session, home, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  MailerStore *store = mailer_session_get_store (session);
  GtkSelectionModel *sidebar;
  GListModel *tree;
  MailerMessageList *list;
  MailerWindow *window;
  guint inbox_row = G_MAXUINT;
  guint loaded, created, mapped;

  for (guint done = 0; done < 100000; done += 5000)
    {
      g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GArray) ids = NULL;
      g_autoptr(GError) error = NULL;
      GAsyncResult *pending = NULL;

      for (guint i = done; i < done + 5000; i++)
        {
          MailerStoreNewMessage *message = mailer_store_new_message_new ();
          MailerMimeSummary *summary = g_new0 (MailerMimeSummary, 1);

          summary->message_id = g_strdup_printf ("%u.bulk@example.org", i);
          summary->references = g_new0 (char *, 1);
          summary->subject = g_strdup_printf ("Report %u", i);
          summary->from_name = g_strdup ("Robin");
          summary->from_address = g_strdup ("robin@example.org");
          summary->to = g_strdup ("Alex <alex@home.example.net>");
          summary->cc = g_strdup ("");
          summary->date = 1600000000 + i * 60;
          summary->preview = g_strdup ("The figures of the day.");
          summary->body_text = g_strdup ("");
          summary->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_mime_attachment_free);
          message->summary = summary;
          g_ptr_array_add (messages, message);
        }
      mailer_store_add_messages_async (store, mailer_folder_get_id (inbox), messages, NULL,
                                       mailer_test_store_result_cb, &pending);
      result = mailer_test_wait_result (&pending, 30);
      ids = mailer_store_add_messages_finish (store, result, &error);
      g_assert_no_error (error);
    }

  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 720);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));

  /* Select the folder in the sidebar, as a click does. */
  sidebar = gtk_list_view_get_model (mailer_window_get_accounts_view (window));
  tree = G_LIST_MODEL (sidebar);
  for (guint i = 0; i < g_list_model_get_n_items (tree) && inbox_row == G_MAXUINT; i++)
    {
      g_autoptr(GtkTreeListRow) row = g_list_model_get_item (tree, i);
      g_autoptr(GObject) item = gtk_tree_list_row_get_item (row);

      if (MAILER_IS_FOLDER (item) && mailer_folder_get_id (MAILER_FOLDER (item)) == mailer_folder_get_id (inbox))
        inbox_row = i;
    }
  g_assert_cmpuint (inbox_row, !=, G_MAXUINT);
  gtk_selection_model_select_item (sidebar, inbox_row, TRUE);
  mailer_test_ui_wait_until (folder_is_shown, window);
  mailer_test_ui_wait_for_paint (GTK_WIDGET (window));
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-100k-folder");

  /* 100,000 items; loaded are the rows GTK made (at most 200 in GTK 4.8,
   * of which a screenful is shown), in pages of 50. */
  list = MAILER_MESSAGE_LIST (gtk_multi_selection_get_model (
    GTK_MULTI_SELECTION (gtk_list_view_get_model (mailer_window_get_messages_view (window)))));
  loaded = mailer_message_list_get_n_loaded (list);
  created = count_rows (GTK_WIDGET (mailer_window_get_messages_view (window)), FALSE);
  mapped = count_rows (GTK_WIDGET (mailer_window_get_messages_view (window)), TRUE);
  g_test_message ("100,000 items: %u rows loaded, %u row widgets, %u on screen", loaded, created, mapped);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 100000);
  g_assert_cmpuint (mapped, >, 0);
  g_assert_cmpuint (created, <=, 210);
  g_assert_cmpuint (loaded, <=, 300);
  g_assert_cmpuint (loaded, >=, mapped);

  gtk_window_destroy (GTK_WINDOW (window));
}

static GtkWidget *
first_of_type (GtkWidget *root,
               GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = first_of_type (child, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkWidget *
account_row (MailerWindow  *window,
             MailerAccount *account)
{
  GtkWidget *row = first_of_type (GTK_WIDGET (mailer_window_get_accounts_view (window)),
                                  MAILER_TYPE_ACCOUNT_ROW);

  for (; row != NULL; row = NULL)
    if (mailer_account_row_get_account (MAILER_ACCOUNT_ROW (row)) == account)
      return row;
  g_error ("No row for the account");
}

static gboolean
retry_ran (gpointer data)
{
  MailerAccount *account = data;

  /* This account has no password: the new check fails for that. */
  return mailer_account_get_connection_state (account) == MAILER_CONNECTION_STATE_ERROR &&
         g_strcmp0 (mailer_account_get_status_message (account), "The server rejected the password") != 0;
}

/* The sidebar says what an account is doing, and when a check failed,
 * why, with a Retry that checks again. */
static gboolean
password_taken (gpointer data)
{
  return !mailer_account_get_needs_password (data);
}

static gboolean
check_ended (gpointer data)
{
  return mailer_account_get_connection_state (data) != MAILER_CONNECTION_STATE_CONNECTING &&
         mailer_account_get_connection_state (data) != MAILER_CONNECTION_STATE_SYNCING;
}

static void
test_window_account_state (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (1);
  g_autoptr(MailerAccount) work = g_list_model_get_item (mailer_session_get_accounts (session), 0);
  GtkWidget *row, *status, *error_button, *popover, *retry;
  g_autoptr(GVariant) target = NULL;
  MailerWindow *window;

  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 640);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));
  row = account_row (window, work);
  status = mailer_test_ui_find_named (row, "status");
  error_button = first_of_type (row, GTK_TYPE_MENU_BUTTON);
  g_assert_nonnull (status);
  g_assert_false (gtk_widget_get_visible (status));
  g_assert_false (gtk_widget_get_visible (error_button));

  /* Checking: a spinner and how far it got. */
  mailer_account_set_connection_state (work, MAILER_CONNECTION_STATE_SYNCING);
  mailer_account_set_progress (work, 0.5);
  g_assert_true (gtk_widget_get_visible (first_of_type (row, GTK_TYPE_SPINNER)));
  g_assert_true (gtk_widget_get_visible (first_of_type (row, GTK_TYPE_PROGRESS_BAR)));
  g_assert_cmpfloat (gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (first_of_type (row, GTK_TYPE_PROGRESS_BAR))), ==, 0.5);
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (status)), ==, "Checking for mail…");
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-account-checking");

  /* Done: when. */
  mailer_account_set_progress (work, -1);
  mailer_account_set_connection_state (work, MAILER_CONNECTION_STATE_ONLINE);
  g_assert_false (gtk_widget_get_visible (first_of_type (row, GTK_TYPE_SPINNER)));
  g_assert_true (g_str_has_prefix (gtk_label_get_label (GTK_LABEL (status)), "Checked at "));

  /* Failed: why, and Retry. */
  mailer_account_set_connection_state (work, MAILER_CONNECTION_STATE_ERROR);
  mailer_account_set_status_message (work, "The server rejected the password");
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (status)), ==, "Could not check for mail");
  g_assert_true (gtk_widget_get_visible (error_button));
  gtk_menu_button_popup (GTK_MENU_BUTTON (error_button));
  popover = GTK_WIDGET (gtk_menu_button_get_popover (GTK_MENU_BUTTON (error_button)));
  g_assert_nonnull (find_labelled (popover, GTK_TYPE_WIDGET, "The server rejected the password"));
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-account-error");
  retry = first_of_type (popover, GTK_TYPE_BUTTON);
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (retry)), ==, "win.check-account");
  target = g_variant_ref (gtk_actionable_get_action_target_value (GTK_ACTIONABLE (retry)));
  g_assert_cmpstr (g_variant_get_string (target, NULL), ==, mailer_account_get_uuid (work));
  gtk_widget_activate (retry);
  /* The check ran again. */
  mailer_test_ui_wait_until (retry_ran, work);

  /* A certificate that changed: said, and offered to look at, no Retry. */
  mailer_test_ui_wait_until (check_ended, work);
  mailer_account_set_needs_trust (work, TRUE);
  mailer_account_set_connection_state (work, MAILER_CONNECTION_STATE_ERROR);
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (status)), ==, "Certificate not trusted");
  g_assert_false (gtk_widget_get_visible (retry));
  g_assert_true (gtk_widget_get_visible (find_labelled (popover, GTK_TYPE_BUTTON, "_Review Certificate…")));
  mailer_account_set_needs_trust (work, FALSE);

  /* The password rejected: "Password required", no Retry, and a dialog
   * for another one, which goes to the keyring. */
  mailer_test_ui_wait_until (check_ended, work);
  mailer_account_set_needs_password (work, TRUE);
  mailer_account_set_connection_state (work, MAILER_CONNECTION_STATE_ERROR);
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (status)), ==, "Password required");
  g_assert_false (gtk_widget_get_visible (retry));
  g_assert_nonnull (find_labelled (popover, GTK_TYPE_BUTTON, "_Enter Password…"));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.enter-password", "s",
                                             mailer_account_get_uuid (work)));
  {
    GtkWidget *dialog = NULL;
    GListModel *toplevels = gtk_window_get_toplevels ();  /* (transfer none) */
    g_autoptr(GAsyncResult) result = NULL;
    g_autofree char *password = NULL;
    GAsyncResult *pending = NULL;
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < g_list_model_get_n_items (toplevels) && dialog == NULL; i++)
      {
        g_autoptr(GObject) toplevel = g_list_model_get_item (toplevels, i);

        if (ADW_IS_MESSAGE_DIALOG (toplevel))
          dialog = GTK_WIDGET (toplevel);
      }
    g_assert_nonnull (dialog);
    mailer_test_ui_wait_for_window (dialog);
    mailer_test_ui_save_screenshot (dialog, "window-password-required");
    gtk_editable_set_text (GTK_EDITABLE (mailer_test_ui_find_named (dialog, "password-entry")), "a new one");
    adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "save");
    mailer_test_ui_wait_until (password_taken, work);
    mailer_secrets_lookup_password_async (work, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    password = mailer_secrets_lookup_password_finish (result, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (password, ==, "a new one");
  }

  gtk_window_destroy (GTK_WINDOW (window));
}

/* The network goes down: a banner says so, and goes when it is back. */
static void
test_window_offline_banner (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (0);
  g_autoptr(MailerTestMonitor) monitor = mailer_test_monitor_new ();
  MailerWindow *window;
  GtkWidget *banner;

  mailer_session_set_network_monitor (session, G_NETWORK_MONITOR (monitor));
  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 640);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));
  banner = mailer_window_get_offline_banner (window);
  g_assert_false (gtk_revealer_get_reveal_child (GTK_REVEALER (banner)));

  mailer_test_monitor_set_available (monitor, FALSE);
  g_assert_true (gtk_revealer_get_reveal_child (GTK_REVEALER (banner)));
  /* Past its slide-down. */
  for (int i = 0; i < 400; i++)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-offline");

  mailer_test_monitor_set_available (monitor, TRUE);
  g_assert_false (gtk_revealer_get_reveal_child (GTK_REVEALER (banner)));
  gtk_window_destroy (GTK_WINDOW (window));
}

/* A web server on loopback that counts what it is asked for. */
static gboolean
http_incoming_cb (GSocketService    *service,
                  GSocketConnection *connection,
                  GObject           *source,
                  guint             *hits)
{
  static const char reply[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));

  (*hits)++;
  g_output_stream_write_all (out, reply, sizeof reply - 1, NULL, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  return TRUE;
}

static gboolean
load_finished (gpointer data)
{
  WebKitWebView *view = data;

  return view != NULL && !webkit_web_view_is_loading (view);
}

static void
settle (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
}

static gboolean
has_hits (gpointer data)
{
  return *(guint *) data > 0;
}

static void
js_done_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

static gboolean
has_result (gpointer data)
{
  return *(GAsyncResult **) data != NULL;
}

/* An HTML message with images, a stylesheet, a background and a frame on
 * a web server: shown with none of them fetched (zero requests) and a
 * banner; "Show" fetches them.  An image of the message's own (cid:) is
 * shown at once. */
static void
test_window_html_remote_content (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (2);
  g_autoptr(MailerAccount) home = g_list_model_get_item (mailer_session_get_accounts (session), 1);
  g_autoptr(MailerFolder) inbox = mailer_test_ui_add_folder (session, home, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  g_autoptr(GSocketService) web = g_socket_service_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GArray) ids = NULL;
  g_autoptr(JSCValue) width = NULL;
  GAsyncResult *pending = NULL;
  MailerStoreNewMessage *message;
  WebKitWebView *view;
  MailerWindow *window;
  guint hits = 0;
  guint16 port;
  char *raw;

  port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (web), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (web, "incoming", G_CALLBACK (http_incoming_cb), &hits);
  g_socket_service_start (web);

  raw = g_strdup_printf ("From: Newsletter <news@shop.example.com>\r\n"
                         "To: alex@home.example.net\r\n"
                         "Subject: Our autumn offers\r\n"
                         "Date: Mon, 16 Nov 2026 09:00:00 +0000\r\n"
                         "Message-ID: <offers@shop.example.com>\r\n"
                         "MIME-Version: 1.0\r\n"
                         "Content-Type: multipart/related; boundary=\"rel\"\r\n"
                         "\r\n"
                         "--rel\r\n"
                         "Content-Type: text/html; charset=utf-8\r\n"
                         "\r\n"
                         "<html><head><link rel=\"stylesheet\" href=\"http://127.0.0.1:%u/style.css\"></head>"
                         "<body><h1>Autumn offers</h1>"
                         "<img id=\"own\" src=\"cid:dot@shop.example.com\">"
                         "<img src=\"http://127.0.0.1:%u/tracker.png\">"
                         "<div style=\"background: url(http://127.0.0.1:%u/bg.png)\">Deals</div>"
                         "<iframe src=\"http://127.0.0.1:%u/frame.html\"></iframe>"
                         "</body></html>\r\n"
                         "--rel\r\n"
                         "Content-Type: image/png\r\n"
                         "Content-ID: <dot@shop.example.com>\r\n"
                         "Content-Transfer-Encoding: base64\r\n"
                         "\r\n"
                         "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\n"
                         "--rel--\r\n", port, port, port, port);
  message = mailer_store_new_message_new ();
  message->raw = g_bytes_new_take (raw, strlen (raw));
  g_ptr_array_add (messages, message);
  mailer_store_add_messages_async (mailer_session_get_store (session), mailer_folder_get_id (inbox), messages,
                                   NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  ids = mailer_store_add_messages_finish (mailer_session_get_store (session), result, &error);
  g_assert_no_error (error);
  g_clear_object (&result);

  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 800);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));
  open_message (window, g_array_index (ids, gint64, 0));

  view = mailer_window_get_web_view (window);
  g_assert_nonnull (view);
  mailer_test_ui_wait_until (load_finished, view);
  settle (1000);
  g_assert_cmpuint (hits, ==, 0);
  g_assert_true (gtk_revealer_get_reveal_child (GTK_REVEALER (mailer_window_get_remote_banner (window))));

  /* The message's own image is there: 1 pixel wide. */
  webkit_web_view_evaluate_javascript (view, "document.getElementById('own').naturalWidth", -1,
                                       NULL, NULL, NULL, js_done_cb, &pending);
  mailer_test_ui_wait_until (has_result, &pending);
  result = g_steal_pointer (&pending);
  width = webkit_web_view_evaluate_javascript_finish (view, result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (jsc_value_to_int32 (width), ==, 1);
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-html-blocked");
  g_assert_cmpuint (hits, ==, 0);

  /* Shown on request. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-remote-content", NULL));
  mailer_test_ui_wait_until (has_hits, &hits);
  g_assert_false (gtk_revealer_get_reveal_child (GTK_REVEALER (mailer_window_get_remote_banner (window))));
  g_test_message ("%u requests once shown", hits);

  g_socket_service_stop (web);
  gtk_window_destroy (GTK_WINDOW (window));
}

static gboolean
is_set (gpointer data)
{
  return *(gpointer *) data != NULL;
}

/* A message with an attachment lists it (name, size); Save writes the
 * attachment's decoded bytes. */
static void
test_window_attachment (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (2);
  g_autoptr(MailerAccount) home = g_list_model_get_item (mailer_session_get_accounts (session), 1);
  g_autoptr(MailerFolder) inbox = mailer_test_ui_add_folder (session, home, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  const char * const files[] = { "attachment.eml", NULL };
  g_autoptr(GArray) ids = mailer_test_ui_add_messages (session, inbox, files);
  g_autofree char *dir = g_dir_make_tmp ("mailer-save-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "icon.png", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *saved = NULL;
  GtkWidget *row;
  gsize len;
  MailerWindow *window;

  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 720);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));
  open_message (window, g_array_index (ids, gint64, 0));

  row = mailer_test_ui_find_named (GTK_WIDGET (window), "attachment");
  g_assert_nonnull (row);
  g_assert_true (gtk_widget_get_mapped (row));
  g_assert_nonnull (find_labelled (GTK_WIDGET (window), GTK_TYPE_WIDGET, "mail-icon.png"));
  {
    g_autofree char *size = g_format_size (1404);

    g_assert_nonnull (find_labelled (row, GTK_TYPE_WIDGET, size));
  }
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-attachment");

  mailer_window_save_attachment_async (window, 0, file, NULL, mailer_test_store_result_cb, &result);
  mailer_test_ui_wait_until (is_set, &result);
  g_assert_true (mailer_window_save_attachment_finish (window, result, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &saved, &len, &error));
  g_assert_cmpuint (len, ==, 1404);
  g_assert_cmpmem (saved, 8, "\x89PNG\r\n\x1a\n", 8);

  /* There is no second one. */
  g_clear_object (&result);
  mailer_window_save_attachment_async (window, 1, file, NULL, mailer_test_store_result_cb, &result);
  mailer_test_ui_wait_until (is_set, &result);
  g_assert_false (mailer_window_save_attachment_finish (window, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

  g_unlink (path);
  g_rmdir (dir);
  gtk_window_destroy (GTK_WINDOW (window));
}

static gboolean
is_folded (gpointer data)
{
  return adw_leaflet_get_folded (ADW_LEAFLET (data));
}

/* Narrow, the window shows one pane at a time: the message goes to the
 * reader, Back to the list, then to the sidebar. */
static GtkWidget *
find_mapped_by_tooltip (GtkWidget  *root,
                        const char *tooltip)
{
  if (gtk_widget_get_mapped (root) && g_strcmp0 (gtk_widget_get_tooltip_text (root), tooltip) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_mapped_by_tooltip (child, tooltip);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
test_window_narrow (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (2);
  g_autoptr(MailerAccount) home = g_list_model_get_item (mailer_session_get_accounts (session), 1);
  g_autoptr(MailerFolder) inbox = mailer_test_ui_add_folder (session, home, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  const char * const files[] = { "plain.eml", "thread-01.eml", NULL };
  g_autoptr(GArray) ids = mailer_test_ui_add_messages (session, inbox, files);
  GtkWidget *content;
  GtkWidget *outer;
  MailerWindow *window;

  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 400, 700);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));
  content = mailer_test_ui_find_named (GTK_WIDGET (window), "content-leaflet");
  outer = gtk_widget_get_first_child (GTK_WIDGET (window));
  while (outer != NULL && !ADW_IS_LEAFLET (outer))
    outer = gtk_widget_get_first_child (outer);
  g_assert_nonnull (content);
  g_assert_nonnull (outer);
  mailer_test_ui_wait_until (is_folded, content);
  settle (300);
  /* A phone's width: the message's actions move to a bar at the bottom. */
  {
    int narrowest = 0;

    gtk_widget_measure (GTK_WIDGET (window), GTK_ORIENTATION_HORIZONTAL, -1, &narrowest, NULL, NULL, NULL);
    g_test_message ("Narrowest window: %d px", narrowest);
    g_assert_cmpint (narrowest, <=, 400);
  }


  open_message (window, g_array_index (ids, gint64, 0));
  g_assert_cmpstr (adw_leaflet_get_visible_child_name (ADW_LEAFLET (content)), ==, "reader");
  settle (600);
  /* Its actions are at the bottom, not in the header bar. */
  {
    GtkWidget *delete = find_mapped_by_tooltip (GTK_WIDGET (window), "Delete");

    g_assert_nonnull (delete);
    g_assert_nonnull (gtk_widget_get_ancestor (delete, GTK_TYPE_ACTION_BAR));
    g_assert_null (gtk_widget_get_ancestor (delete, ADW_TYPE_HEADER_BAR));
  }
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-narrow-reader");

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-sidebar", NULL));
  g_assert_cmpstr (adw_leaflet_get_visible_child_name (ADW_LEAFLET (content)), ==, "list");
  settle (600);
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-narrow-list");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-sidebar", NULL));
  g_assert_true (adw_leaflet_get_visible_child (ADW_LEAFLET (outer)) != gtk_widget_get_parent (content) ||
                 !adw_leaflet_get_folded (ADW_LEAFLET (outer)));
  gtk_window_destroy (GTK_WINDOW (window));
}

static gint64
shown_id (MailerWindow *window)
{
  GtkSelectionModel *selection = gtk_list_view_get_model (mailer_window_get_messages_view (window));
  GtkBitset *selected = gtk_selection_model_get_selection (selection);
  g_autoptr(MailerMessage) message = NULL;

  if (gtk_bitset_get_size (selected) == 1)
    message = g_list_model_get_item (G_LIST_MODEL (selection), gtk_bitset_get_nth (selected, 0));
  gtk_bitset_unref (selected);
  return message ? mailer_message_get_id (message) : 0;
}

/* Ctrl+. and Ctrl+Shift+. go to the next and the previous unread message. */
static void
test_window_next_unread (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (2);
  g_autoptr(MailerAccount) home = g_list_model_get_item (mailer_session_get_accounts (session), 1);
  g_autoptr(MailerFolder) inbox = mailer_test_ui_add_folder (session, home, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  const char * const files[] = { "thread-01.eml", "thread-02.eml", "thread-03.eml", "thread-04.eml", NULL };
  g_autoptr(GArray) ids = mailer_test_ui_add_messages (session, inbox, files);
  g_autoptr(GArray) seen = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GListModel *list;
  GAsyncResult *pending = NULL;
  MailerWindow *window;
  gint64 first, second;

  /* Two read, two unread. */
  g_array_append_val (seen, g_array_index (ids, gint64, 1));
  g_array_append_val (seen, g_array_index (ids, gint64, 3));
  mailer_store_set_flags_async (mailer_session_get_store (session), seen, MAILER_MESSAGE_FLAG_SEEN, 0, FALSE,
                                NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_set_flags_finish (mailer_session_get_store (session), result, &error));
  g_assert_no_error (error);

  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 720);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));
  mailer_test_ui_wait_until (list_has_items, window);
  list = G_LIST_MODEL (gtk_list_view_get_model (mailer_window_get_messages_view (window)));
  g_assert_cmpuint (g_list_model_get_n_items (list), ==, 4);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.next-unread", NULL));
  first = shown_id (window);
  g_assert_true (first == g_array_index (ids, gint64, 0) || first == g_array_index (ids, gint64, 2));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.next-unread", NULL));
  second = shown_id (window);
  g_assert_true (second == g_array_index (ids, gint64, 0) || second == g_array_index (ids, gint64, 2));
  g_assert_cmpint (first, !=, second);
  /* None after the last: it stays. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.next-unread", NULL));
  g_assert_cmpint (shown_id (window), ==, second);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.previous-unread", NULL));
  g_assert_cmpint (shown_id (window), ==, first);

  /* The context menu of another message opens that one, and offers the
   * message actions. */
  {
    gint64 other = g_array_index (ids, gint64, 1);
    GtkWidget *menu = mailer_window_popup_message_menu (window, other, NULL, 0, 0);
    GMenuModel *model;
    gboolean has_move = FALSE;

    g_assert_nonnull (menu);
    g_assert_true (gtk_widget_get_visible (menu));
    g_assert_cmpint (shown_id (window), ==, other);
    model = gtk_popover_menu_get_menu_model (GTK_POPOVER_MENU (menu));
    for (int i = 0; i < g_menu_model_get_n_items (model); i++)
      {
        g_autoptr(GMenuModel) section = g_menu_model_get_item_link (model, i, G_MENU_LINK_SECTION);

        for (int j = 0; j < g_menu_model_get_n_items (section); j++)
          {
            g_autofree char *action = NULL;

            g_assert_true (g_menu_model_get_item_attribute (section, j, G_MENU_ATTRIBUTE_ACTION, "s", &action));
            g_assert_true (g_str_has_prefix (action, "win."));
            has_move |= g_str_equal (action, "win.move");
          }
      }
    g_assert_true (has_move);
    mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-context-menu");
    gtk_popover_popdown (GTK_POPOVER (menu));
    g_assert_null (mailer_window_popup_message_menu (window, 999999, NULL, 0, 0));
  }


  gtk_window_destroy (GTK_WINDOW (window));
}

static GtkWidget *
label_containing (GtkWidget  *root,
                  const char *text)
{
  if (GTK_IS_LABEL (root) && strstr (gtk_label_get_label (GTK_LABEL (root)), text) != NULL &&
      gtk_widget_get_mapped (root))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = label_containing (child, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* A plain-text message: its web addresses are links (without the full
 * stop after them), its Cc line shown. */
static void
test_window_plain_text (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (2);
  g_autoptr(MailerAccount) home = g_list_model_get_item (mailer_session_get_accounts (session), 1);
  g_autoptr(MailerFolder) inbox = mailer_test_ui_add_folder (session, home, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  const char * const files[] = { "rfc2047-subject.eml", NULL };
  g_autoptr(GArray) ids = mailer_test_ui_add_messages (session, inbox, files);
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GArray) more = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;
  MailerStoreNewMessage *message = mailer_store_new_message_new ();
  static const char raw[] = "From: Sam <sam@example.org>\r\nTo: alex@home.example.net\r\n"
                            "Subject: Notes\r\nDate: Mon, 16 Nov 2026 09:00:00 +0000\r\n\r\n"
                            "The notes are at https://example.org/notes?id=4&x=<1>. See you!\r\n";
  GtkWidget *body;
  MailerWindow *window;

  message->raw = g_bytes_new_static (raw, sizeof raw - 1);
  g_ptr_array_add (messages, message);
  mailer_store_add_messages_async (mailer_session_get_store (session), mailer_folder_get_id (inbox), messages,
                                   NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  more = mailer_store_add_messages_finish (mailer_session_get_store (session), result, &error);
  g_assert_no_error (error);

  window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 720);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));

  open_message (window, g_array_index (more, gint64, 0));
  settle (100);
  body = label_containing (GTK_WIDGET (window), "<a href=");
  g_assert_nonnull (body);
  g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (body)),
                            "<a href=\"https://example.org/notes?id=4&amp;x=\">https://example.org/notes?id=4&amp;x=</a>&lt;1&gt;. See you!"));
  g_assert_null (label_containing (GTK_WIDGET (window), "Cc: "));

  open_message (window, g_array_index (ids, gint64, 0));
  settle (100);
  g_assert_nonnull (label_containing (GTK_WIDGET (window), "Cc: Benoît Girard"));
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "window-plain-cc");
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  gtk_init ();
  adw_init ();

  g_test_add_func ("/ui/window/move-and-delete", test_window_move_and_delete);
  g_test_add_func ("/ui/window/multi-select", test_window_multi_select);
  g_test_add_func ("/ui/window/open-in-window", test_window_open_in_window);
  g_test_add_func ("/ui/window/large-folder", test_window_large_folder);
  g_test_add_func ("/ui/window/account-state", test_window_account_state);
  g_test_add_func ("/ui/window/offline-banner", test_window_offline_banner);
  g_test_add_func ("/ui/window/html-remote-content", test_window_html_remote_content);
  g_test_add_func ("/ui/window/attachment", test_window_attachment);
  g_test_add_func ("/ui/window/narrow", test_window_narrow);
  g_test_add_func ("/ui/window/next-unread", test_window_next_unread);
  g_test_add_func ("/ui/window/plain-text", test_window_plain_text);

  return g_test_run ();
}
