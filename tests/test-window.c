/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * UI tests: the real main window under a real display server (Xvfb in
 * the test runner).  Screenshots of each state are saved in the build dir.
 */
#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>

#include "mailer-account-row.h"
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

  /* The first account is selected and shown. */
  selection = gtk_list_view_get_model (mailer_window_get_accounts_view (window));
  g_assert_true (gtk_selection_model_is_selected (selection, 0));
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, "Mailer");
  save_screenshot (GTK_WIDGET (window), "window-accounts");

  gtk_selection_model_select_item (selection, 1, TRUE);
  g_assert_true (gtk_selection_model_is_selected (selection, 1));
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

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  gtk_init ();
  adw_init ();

  g_test_add_func ("/ui/window/accounts", test_window_shows_accounts);
  g_test_add_func ("/ui/window/empty", test_window_empty);

  return g_test_run ();
}
