/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the UI tests share: waiting for a real display server (Xvfb in the
 * test runner) to show and paint a window, screenshots of what it shows,
 * and sessions with accounts in a temporary store.
 */
#include "config.h"

#include <glib/gstdio.h>

#include "mailer-test-ui.h"
#include "mailer-test-util.h"

/* Runs the main loop until @condition holds; fails after 10 s. */
void
mailer_test_ui_wait_until (gboolean (*condition) (gpointer),
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

static gboolean
window_is_drawn (gpointer data)
{
  GtkWidget *window = data;

  return gtk_widget_get_mapped (window) && gtk_widget_get_width (window) > 0;
}

/* Until @window is mapped and laid out. */
void
mailer_test_ui_wait_for_window (GtkWidget *window)
{
  mailer_test_ui_wait_until (window_is_drawn, window);
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
void
mailer_test_ui_wait_for_paint (GtkWidget *window)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (window);
  gboolean painted = FALSE;
  gulong id;

  id = g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), &painted);
  gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
  mailer_test_ui_wait_until (flag_is_set, &painted);
  g_signal_handler_disconnect (clock, id);
}

/* Saves what the display shows into <builddir>/screenshots/NAME.png, taken
 * from the X server (Xvfb) as a user would see it. */
void
mailer_test_ui_save_screenshot (GtkWidget  *window,
                                const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *file = NULL;
  g_autofree char *path = NULL;
  int status = -1;

  mailer_test_ui_wait_for_paint (window);
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

/* The first widget under @root (depth first) whose name is @name. */
GtkWidget *
mailer_test_ui_find_named (GtkWidget  *root,
                           const char *name)
{
  if (g_strcmp0 (gtk_widget_get_name (root), name) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = mailer_test_ui_find_named (child, name);

      if (found != NULL)
        return found;
    }
  return NULL;
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

/* A store of its own in a fresh temporary dir, removed after the test,
 * holding @n_accounts accounts: IMAP "Work", POP3 "Home (POP3)", in turn.
 * (The UI tests do not use G_TEST_OPTION_ISOLATE_DIRS: that would hide
 * the system icon theme.) */
MailerSession *
mailer_test_ui_make_session (guint n_accounts)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mailer-ui-XXXXXX", &error);
  g_autoptr(MailerSession) session = NULL;

  g_assert_no_error (error);
  session = mailer_session_new (dir, &error);
  g_assert_no_error (error);
  /* Removed when the test ends, once the windows let go of the store. */
  g_test_queue_destroy ((GDestroyNotify) remove_tree_and_free, g_steal_pointer (&dir));

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
      /* No password: these tests are about windows, not the keyring. */
      mailer_session_add_account_async (session, account, NULL, NULL,
                                        mailer_test_store_result_cb, &pending);
      result = mailer_test_wait_result (&pending, 10);
      g_assert_true (mailer_session_add_account_finish (session, result, &error));
      g_assert_no_error (error);
    }

  return g_steal_pointer (&session);
}

/* A folder of @account, saved in the store. */
MailerFolder *
mailer_test_ui_add_folder (MailerSession    *session,
                           MailerAccount    *account,
                           const char       *name,
                           MailerFolderRole  role)
{
  MailerStore *store = mailer_session_get_store (session);
  g_autoptr(MailerFolder) folder = mailer_folder_new (mailer_account_get_id (account), name);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  mailer_folder_set_role (folder, role);
  mailer_store_save_folder_async (store, folder, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_save_folder_finish (store, result, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&folder);
}

/* Stores tests/data/FILE for each of the %NULL-terminated @files in
 * @folder, unread; returns their ids. */
GArray *
mailer_test_ui_add_messages (MailerSession      *session,
                             MailerFolder       *folder,
                             const char * const *files)
{
  MailerStore *store = mailer_session_get_store (session);
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;
  GArray *ids;

  for (guint i = 0; files[i] != NULL; i++)
    {
      g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", files[i], NULL);
      MailerStoreNewMessage *message = mailer_store_new_message_new ();
      char *contents;
      gsize len;

      g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
      message->raw = g_bytes_new_take (contents, len);
      g_ptr_array_add (messages, message);
    }
  mailer_store_add_messages_async (store, mailer_folder_get_id (folder), messages, NULL,
                                   mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  ids = mailer_store_add_messages_finish (store, result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ids);
  return ids;
}
