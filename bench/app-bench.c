/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * mailer-app-bench: how soon the main window shows the first rows of a
 * large mailbox, and how soon it shows another folder.
 *
 *   mailer-app-bench --dir DIR [--repetitions N] [--output FILE]
 *
 * DIR holds a store, such as the one `mailer-store-bench --dir DIR` leaves
 * (100,000 messages: one inbox of 75,000, one of 25,000).  Each repetition
 * starts a new process (this program with --child) that opens the store,
 * builds the real MailerWindow and shows it: the time runs from just
 * before the process is spawned to the end of the first frame in which
 * the message list has rows on screen ("All Inboxes", the view a start
 * opens on).  Then it selects the larger inbox in the sidebar and times
 * the same for that folder.  Half of the repetitions run with the
 * database evicted from the OS page cache first ("cold"), half without.
 * Peak RSS is the child's, from wait4().  It needs a display: run it under
 * xvfb-run (bench/run-app does).  Not part of `meson test`.
 */
#include "config.h"

#include <adwaita.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mailer-message-row.h"
#include "mailer-session.h"
#include "mailer-window.h"

/* The child */

typedef struct
{
  MailerWindow *window;
  gint64 t0;            /* CLOCK_MONOTONIC µs the parent took before spawning */
  gint64 first_rows;    /* µs from t0 */
  gint64 switch_start;
  gint64 switched;      /* µs from switch_start */
  guint target_folder_row;
  gboolean done;
} Child;

static guint
count_mapped_rows (GtkWidget *widget)
{
  guint n = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (MAILER_IS_MESSAGE_ROW (child) && gtk_widget_get_mapped (child))
        n++;
      n += count_mapped_rows (child);
    }
  return n;
}

/* The row of the sidebar showing the larger inbox: the first folder
 * after the first account. */
static guint
larger_inbox_row (MailerWindow *window)
{
  GListModel *model = G_LIST_MODEL (gtk_list_view_get_model (mailer_window_get_accounts_view (window)));
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GtkTreeListRow) row = g_list_model_get_item (model, i);
      g_autoptr(GObject) item = gtk_tree_list_row_get_item (row);

      if (MAILER_IS_FOLDER (item) && mailer_folder_get_account_id (MAILER_FOLDER (item)) != 0 &&
          mailer_folder_get_role (MAILER_FOLDER (item)) == MAILER_FOLDER_ROLE_INBOX &&
          mailer_folder_get_total_count (MAILER_FOLDER (item)) > 0)
        return i;
    }
  return G_MAXUINT;
}

static gboolean
switch_folder_cb (gpointer user_data)
{
  Child *child = user_data;
  GtkSelectionModel *sidebar = gtk_list_view_get_model (mailer_window_get_accounts_view (child->window));

  child->target_folder_row = larger_inbox_row (child->window);
  if (child->target_folder_row == G_MAXUINT)
    g_error ("No inbox with mail in the sidebar");
  child->switch_start = g_get_monotonic_time ();
  gtk_selection_model_select_item (sidebar, child->target_folder_row, TRUE);
  return G_SOURCE_REMOVE;
}

static void
after_paint_cb (GdkFrameClock *clock,
                Child         *child)
{
  GtkWidget *list = GTK_WIDGET (mailer_window_get_messages_view (child->window));
  gint64 now = g_get_monotonic_time ();

  if (child->first_rows == 0)
    {
      if (count_mapped_rows (list) == 0)
        {
          gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
          return;
        }
      child->first_rows = now - child->t0;
      g_idle_add (switch_folder_cb, child);
      return;
    }
  if (child->switch_start != 0 && child->switched == 0)
    {
      GtkSelectionModel *sidebar = gtk_list_view_get_model (mailer_window_get_accounts_view (child->window));

      if (!gtk_selection_model_is_selected (sidebar, child->target_folder_row) ||
          count_mapped_rows (list) == 0)
        {
          gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
          return;
        }
      child->switched = now - child->switch_start;
      child->done = TRUE;

    }
}

static int
run_child (const char *dir,
           gint64      t0)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MailerSession) session = NULL;
  Child child = { .t0 = t0 };
  GdkFrameClock *clock;

  gtk_init ();
  adw_init ();
  session = mailer_session_new (dir, &error);
  if (session == NULL)
    g_error ("Opening the store: %s", error->message);

  child.window = mailer_window_new (NULL, session, NULL);
  gtk_window_set_default_size (GTK_WINDOW (child.window), 1200, 800);
  gtk_window_present (GTK_WINDOW (child.window));
  gtk_widget_realize (GTK_WIDGET (child.window));
  clock = gtk_widget_get_frame_clock (GTK_WIDGET (child.window));
  g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), &child);

  while (!child.done)
    g_main_context_iteration (NULL, TRUE);

  g_print ("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", child.first_rows, child.switched);
  gtk_window_destroy (GTK_WINDOW (child.window));
  return 0;
}

/* The parent */

static void
evict (const char *dir)
{
  const char * const names[] = { "mailer.db", "mailer.db-wal", "mailer.db-shm" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (dir, names[i], NULL);
      int fd = open (path, O_RDONLY | O_CLOEXEC);

      if (fd < 0)
        continue;
      fdatasync (fd);
      posix_fadvise (fd, 0, 0, POSIX_FADV_DONTNEED);
      close (fd);
    }
}

typedef struct
{
  double first_rows_ms;
  double switch_ms;
  double rss_mib;
} Run;

static Run
run_once (const char *self_exe,
          const char *dir,
          gboolean    cold)
{
  g_autofree char *t0_text = NULL;
  int pipe_fds[2];
  struct rusage usage;
  char buffer[256] = { 0 };
  gint64 first = 0, switched = 0;
  gint64 t0;
  ssize_t len;
  pid_t pid;
  int status;
  Run run;

  if (cold)
    evict (dir);
  if (pipe (pipe_fds) != 0)
    g_error ("pipe failed");
  t0 = g_get_monotonic_time ();
  t0_text = g_strdup_printf ("%" G_GINT64_FORMAT, t0);
  pid = fork ();
  if (pid == 0)
    {
      dup2 (pipe_fds[1], STDOUT_FILENO);
      close (pipe_fds[0]);
      execl (self_exe, self_exe, "--child", dir, "--t0", t0_text, (char *) NULL);
      _exit (127);
    }
  close (pipe_fds[1]);
  len = read (pipe_fds[0], buffer, sizeof buffer - 1);
  close (pipe_fds[0]);
  if (wait4 (pid, &status, 0, &usage) != pid || !WIFEXITED (status) || WEXITSTATUS (status) != 0 ||
      len <= 0 || sscanf (buffer, "%" G_GINT64_FORMAT " %" G_GINT64_FORMAT, &first, &switched) != 2)
    g_error ("The window process failed (status %d)", status);

  run.first_rows_ms = first / 1000.0;
  run.switch_ms = switched / 1000.0;
  run.rss_mib = usage.ru_maxrss / 1024.0;
  return run;
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* "median (min–max)" of @n figures. */
static char *
summarise (double *values,
           guint   n)
{
  qsort (values, n, sizeof (double), compare_double);
  return g_strdup_printf ("%.1f (%.1f–%.1f)", values[n / 2], values[0], values[n - 1]);
}

static const char *
verdict (double value,
         double target)
{
  return value <= target ? "yes" : "**no**";
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("— time the window's start on a large store");
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *child_dir = NULL;
  g_autofree char *output = NULL;
  g_autofree char *t0_text = NULL;
  g_autoptr(GString) report = g_string_new (NULL);
  g_autofree char *self_exe = NULL;
  int repetitions = 6;
  const GOptionEntry entries[] = {
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "The store to open (see mailer-store-bench --dir)", "DIR" },
    { "repetitions", 0, 0, G_OPTION_ARG_INT, &repetitions, "Starts, half of them cold (default 6)", "N" },
    { "output", 0, 0, G_OPTION_ARG_FILENAME, &output, "Also write the report to FILE", "FILE" },
    { "child", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &child_dir, NULL, NULL },
    { "t0", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &t0_text, NULL, NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    g_error ("%s", error->message);

  if (child_dir != NULL)
    return run_child (child_dir, g_ascii_strtoll (t0_text ? t0_text : "0", NULL, 10));

  if (dir == NULL || repetitions < 2)
    {
      g_printerr ("mailer-app-bench: --dir DIR is required (and --repetitions ≥ 2)\n");
      return 2;
    }
  self_exe = g_file_read_link ("/proc/self/exe", &error);
  if (self_exe == NULL)
    g_error ("%s", error->message);

  {
    g_autoptr(GArray) warm_first = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr(GArray) cold_first = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr(GArray) switches = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr(GArray) rss = g_array_new (FALSE, FALSE, sizeof (double));
    g_autofree char *warm_text = NULL, *cold_text = NULL, *switch_text = NULL, *rss_text = NULL;
    double median_switch, peak_rss;

    /* One start untimed: the libraries into the page cache. */
    run_once (self_exe, dir, FALSE);
    for (int i = 0; i < repetitions; i++)
      {
        gboolean cold = i % 2 == 1;
        Run run = run_once (self_exe, dir, cold);

        g_array_append_val (cold ? cold_first : warm_first, run.first_rows_ms);
        g_array_append_val (switches, run.switch_ms);
        g_array_append_val (rss, run.rss_mib);
        g_printerr ("mailer-app-bench: start %d (%s): first rows %.1f ms, switch %.1f ms, %.1f MiB\n",
                    i + 1, cold ? "cold" : "warm", run.first_rows_ms, run.switch_ms, run.rss_mib);
      }
    warm_text = summarise ((double *) warm_first->data, warm_first->len);
    cold_text = summarise ((double *) cold_first->data, cold_first->len);
    switch_text = summarise ((double *) switches->data, switches->len);
    rss_text = summarise ((double *) rss->data, rss->len);
    median_switch = g_array_index (switches, double, switches->len / 2);
    peak_rss = g_array_index (rss, double, rss->len - 1);

    g_string_append (report, "# Mailer window start benchmark\n\n");
    g_string_append_printf (report, "Store: %s. Each start is a new process: open the store, build "
                            "the main window, show it; timed from just before the process is spawned "
                            "to the end of the first frame with message rows on screen (\"All "
                            "Inboxes\"). Then the larger inbox is selected in the sidebar and timed "
                            "to the end of the first frame showing its rows. Cold: the database "
                            "evicted from the OS page cache first. Median (min–max) of %d starts "
                            "each; GSK_RENDERER=%s.\n\n", dir, repetitions / 2,
                            g_getenv ("GSK_RENDERER") ? g_getenv ("GSK_RENDERER") : "default");
    g_string_append (report, "| measurement | figure | target | met |\n|---|---|---|---|\n");
    g_string_append_printf (report, "| start to first rows painted, warm (ms) | %s | ≤ 500 | %s |\n",
                            warm_text, verdict (g_array_index (warm_first, double, warm_first->len / 2), 500));
    g_string_append_printf (report, "| start to first rows painted, database cold (ms) | %s | ≤ 500 | %s |\n",
                            cold_text, verdict (g_array_index (cold_first, double, cold_first->len / 2), 500));
    g_string_append_printf (report, "| switch to the larger inbox, rows painted (ms) | %s | ≤ 100 | %s |\n",
                            switch_text, verdict (median_switch, 100));
    g_string_append_printf (report, "| peak RSS of the window process (MiB) | %s | ≤ 200 MB | %s |\n",
                            rss_text, verdict (peak_rss * 1.048576, 200));
  }

  g_print ("%s", report->str);
  if (output != NULL && !g_file_set_contents (output, report->str, -1, &error))
    g_error ("%s", error->message);
  return 0;
}
