/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * mailer-pop3-bench: how fast Mailer downloads a large mailbox over POP3S,
 * against fetchmail and against a raw pipelined drain of the same mailbox
 * from the same server in the same run.  See README.md here.
 *
 * A private Dovecot (the test fixture) gets a generated mailbox
 * (mailbox-gen.c); then, each repetition in a rotating order:
 *
 *  - Mailer: MailerPop3Sync in a child process (this program again, with
 *    --mailer-child) into a fresh store, leave on server, timed from just
 *    before the store is opened to the commit of the last message;
 *  - fetchmail --keep with a fresh .fetchids, appending to a BSMTP file;
 *  - mailer-pop3-raw: pipelined RETR 1..N drained off the TLS socket.
 *
 * Peak RSS comes from wait4() on each child.  The report (Markdown) goes
 * to stdout and to --output; progress goes to stderr.
 */
#define _GNU_SOURCE   /* RUSAGE_THREAD */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "mailbox-gen.h"
#include "mailer-connection.h"
#include "mailer-pop3-sync.h"
#include "mailer-test-dovecot.h"

#define USER "bench"
#define PASSWORD "bench-pop3-password"
#define TMPFS_MAGIC 0x01021994
#define TARGET_VS_FETCHMAIL 0.5
#define TARGET_VS_RAW 3.0

typedef enum
{
  PEER_MAILER,
  PEER_FETCHMAIL,
  PEER_RAW,
  PEER_MAILER_OTHER,    /* another build of this program, for before/after */
  N_PEERS
} Peer;

static const char * const peer_names[N_PEERS] = { "Mailer", "fetchmail", "raw drain", "Mailer, other build" };
static const char * const peer_keys[N_PEERS] = { "mailer", "fetchmail", "raw", "other" };

typedef struct
{
  double seconds;      /* the figure: see the report */
  double wall;         /* the child process, spawn to exit */
  double cpu;          /* its user and system time */
  double main_cpu;     /* Mailer: of which its main thread's */
  glong max_rss_kib;
  guint messages;
  guint64 bytes;
} Run;

typedef struct
{
  MailerTestDovecot *dovecot;
  char *work_dir;
  guint16 port;
  char *certificate_path;
  char *pin;
  char *self_exe;
  char *raw_exe;
  char *fetchmail;
  char *perf_file;
  char *perf;
  char *other_exe;
  guint n_messages;
  guint64 mailbox_bytes;
  guint serial;
  gboolean keep;
  gboolean fetchmail_mda;
  char load_before[64];
  char load_after[64];
  gboolean peers[N_PEERS];
  GArray *runs[N_PEERS];
} Bench;

static gboolean verbose;

static void
progress (const char *format,
          ...) G_GNUC_PRINTF (1, 2);

static void
progress (const char *format,
          ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("pop3-bench: %s\n", text);
}

static void G_GNUC_NORETURN
die (const char   *what,
     const GError *error)
{
  g_printerr ("pop3-bench: %s%s%s\n", what, error ? ": " : "", error ? error->message : "");
  exit (1);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static gint
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
median_of (GArray *runs,
           gsize   offset,
           double *min,
           double *max)
{
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (double));
  double median;

  for (guint i = 0; i < runs->len; i++)
    {
      const guint8 *run = (const guint8 *) &g_array_index (runs, Run, i);
      double value = offset == G_STRUCT_OFFSET (Run, max_rss_kib)
                     ? (double) *(const glong *) (run + offset) : *(const double *) (run + offset);

      g_array_append_val (values, value);
    }
  g_array_sort (values, compare_doubles);
  if (min != NULL)
    *min = g_array_index (values, double, 0);
  if (max != NULL)
    *max = g_array_index (values, double, values->len - 1);
  if (values->len % 2 == 1)
    median = g_array_index (values, double, values->len / 2);
  else
    median = (g_array_index (values, double, values->len / 2 - 1) + g_array_index (values, double, values->len / 2)) / 2;
  return median;
}

/* Running children */

static char **
child_environment (const char *home)
{
  char **envp = g_get_environ ();

  envp = g_environ_setenv (envp, "MAILER_BENCH_PASSWORD", PASSWORD, TRUE);
  envp = g_environ_setenv (envp, "LC_ALL", "C", TRUE);
  envp = g_environ_unsetenv (envp, "G_MESSAGES_DEBUG");
  if (home != NULL)
    {
      envp = g_environ_setenv (envp, "HOME", home, TRUE);
      envp = g_environ_setenv (envp, "FETCHMAILHOME", home, TRUE);
    }
  return envp;
}

/* Runs @argv with stdout and stderr to files in @dir; fills in the wall
 * time and peak RSS.  Returns the exit status, or -1 if it did not exit. */
static int
spawn_measured (char       **argv,
                char       **envp,
                const char  *dir,
                Run         *run,
                char       **out_stdout,
                char       **out_stderr)
{
  g_autofree char *out_path = g_build_filename (dir, "stdout.txt", NULL);
  g_autofree char *err_path = g_build_filename (dir, "stderr.txt", NULL);
  g_autoptr(GError) error = NULL;
  struct rusage usage = { 0, };
  int out_fd, err_fd, status = 0;
  gint64 start;
  GPid pid;

  if (verbose)
    {
      g_autofree char *line = g_strjoinv (" ", argv);

      progress ("running %s", line);
    }

  out_fd = open (out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  err_fd = open (err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out_fd < 0 || err_fd < 0)
    die ("cannot create the output files of a run", NULL);

  start = g_get_monotonic_time ();
  if (!g_spawn_async_with_fds (dir, argv, envp, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid,
                               -1, out_fd, err_fd, &error))
    die (argv[0], error);
  while (wait4 (pid, &status, 0, &usage) < 0)
    if (errno != EINTR)
      die ("wait4", NULL);
  run->wall = (g_get_monotonic_time () - start) / 1e6;
  run->max_rss_kib = usage.ru_maxrss;
  run->cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
             usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  close (out_fd);
  close (err_fd);

  g_file_get_contents (out_path, out_stdout, NULL, NULL);
  g_file_get_contents (err_path, out_stderr, NULL, NULL);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* Reads "messages N bytes B seconds S" off a child's stdout. */
static gboolean
parse_child_line (const char *text,
                  Run        *run)
{
  const char *line = text ? strstr (text, "messages ") : NULL;
  const char *main_cpu = text ? strstr (text, "main-thread-cpu ") : NULL;

  if (main_cpu != NULL)
    run->main_cpu = g_ascii_strtod (main_cpu + strlen ("main-thread-cpu "), NULL);
  return line != NULL &&
         sscanf (line, "messages %u bytes %" G_GUINT64_FORMAT " seconds %lf",
                 &run->messages, &run->bytes, &run->seconds) == 3;
}

static void
check_run (Bench       *bench,
           Peer         peer,
           int          status,
           gboolean     parsed,
           const Run   *run,
           const char  *child_stderr)
{
  if (status != 0 || !parsed || run->messages != bench->n_messages)
    {
      g_printerr ("pop3-bench: %s failed (exit status %d, %u of %u messages)\n%s\n",
                  peer_names[peer], status, parsed ? run->messages : 0, bench->n_messages,
                  child_stderr ? child_stderr : "");
      exit (1);
    }
}

static char *
new_run_dir (Bench      *bench,
             const char *what)
{
  g_autofree char *name = g_strdup_printf ("%s-%u", what, ++bench->serial);
  char *dir = g_build_filename (bench->work_dir, name, NULL);

  if (g_mkdir (dir, 0700) != 0)
    die ("cannot create a directory for a run", NULL);
  return dir;
}

/* Removes what a run wrote (unless --keep) and flushes the rest to disk,
 * so that the next run does not pay for it. */
static void
settle (Bench      *bench,
        const char *dir)
{
  if (!bench->keep)
    remove_tree (dir);
  sync ();
}

static void
run_mailer (Bench    *bench,
            Peer      peer,
            gboolean  profile)
{
  g_autofree char *dir = new_run_dir (bench, "mailer");
  g_autofree char *store_dir = g_build_filename (dir, "data", NULL);
  g_autofree char *port = g_strdup_printf ("%u", bench->port);
  g_autofree char *expect = g_strdup_printf ("%u", bench->n_messages);
  g_autofree char *child_stdout = NULL;
  g_autofree char *child_stderr = NULL;
  g_auto(GStrv) envp = child_environment (NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  Run run = { 0, };
  int status;

  if (profile)
    {
      g_ptr_array_add (argv, bench->perf);
      g_ptr_array_add (argv, "record");
      g_ptr_array_add (argv, "-g");
      /* GLib and libc have no frame pointers: unwind with DWARF, at a
       * rate that keeps the file to some 100 MB. */
      g_ptr_array_add (argv, "--call-graph=dwarf,8192");
      g_ptr_array_add (argv, "-F");
      g_ptr_array_add (argv, "499");
      g_ptr_array_add (argv, "-o");
      g_ptr_array_add (argv, bench->perf_file);
      g_ptr_array_add (argv, "--");
    }
  g_ptr_array_add (argv, peer == PEER_MAILER_OTHER ? bench->other_exe : bench->self_exe);
  g_ptr_array_add (argv, "--mailer-child");
  g_ptr_array_add (argv, store_dir);
  g_ptr_array_add (argv, "--port");
  g_ptr_array_add (argv, port);
  g_ptr_array_add (argv, "--pin");
  g_ptr_array_add (argv, bench->pin);
  g_ptr_array_add (argv, "--messages");
  g_ptr_array_add (argv, expect);
  g_ptr_array_add (argv, NULL);

  status = spawn_measured ((char **) argv->pdata, envp, dir, &run, &child_stdout, &child_stderr);
  check_run (bench, peer, status, parse_child_line (child_stdout, &run), &run, child_stderr);
  if (!profile)
    g_array_append_val (bench->runs[peer], run);
  progress ("  %s: %.2f s (process %.2f s, CPU %.2f s of which main thread %.2f s), %.0f MiB",
            peer_names[peer], run.seconds, run.wall, run.cpu, run.main_cpu, run.max_rss_kib / 1024.0);
  settle (bench, dir);
}

/* Counts the messages in a BSMTP file: one DATA command each. */
static guint
count_bsmtp_messages (const char *path)
{
  g_autoptr(GMappedFile) file = g_mapped_file_new (path, FALSE, NULL);
  const char *data, *end, *p;
  guint n = 0;

  if (file == NULL)
    return 0;
  data = g_mapped_file_get_contents (file);
  end = data + g_mapped_file_get_length (file);
  for (p = data; p != NULL && p < end; )
    {
      if ((p == data || p[-1] == '\n') && end - p >= 5 && memcmp (p, "DATA", 4) == 0 &&
          (p[4] == '\r' || p[4] == '\n'))
        n++;
      p = memchr (p, '\n', end - p);
      if (p != NULL)
        p++;
    }
  return n;
}

/* Counts the messages that an MDA appended: each starts with the
 * Return-Path line fetchmail writes first, and the generator puts no line
 * like it anywhere else. */
static guint
count_mda_messages (const char *path)
{
  g_autoptr(GMappedFile) file = g_mapped_file_new (path, FALSE, NULL);
  const char *data, *end, *p;
  guint n = 0;

  if (file == NULL)
    return 0;
  data = g_mapped_file_get_contents (file);
  end = data + g_mapped_file_get_length (file);
  for (p = data; p != NULL && p < end; )
    {
      if (end - p >= 13 && memcmp (p, "Return-Path: ", 13) == 0)
        n++;
      p = memchr (p, '\n', end - p);
      if (p != NULL)
        p++;
    }
  return n;
}

static void
run_fetchmail (Bench *bench)
{
  g_autofree char *dir = new_run_dir (bench, "fetchmail");
  g_autofree char *rc_path = g_build_filename (dir, "fetchmailrc", NULL);
  g_autofree char *sink = g_build_filename (dir, "mail.bsmtp", NULL);
  g_autofree char *rc = NULL;
  g_autofree char *child_stdout = NULL;
  g_autofree char *child_stderr = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) envp = child_environment (dir);
  char *argv[] = { bench->fetchmail, "--fetchmailrc", rc_path, NULL };
  struct stat st;
  Run run = { 0, };
  int status;

  /* Keep mode with UIDs tracked in $FETCHMAILHOME/.fetchids, fresh here, so
   * everything is new; the server's certificate checked against the
   * fixture's; every message appended to one BSMTP file. */
  rc = g_strdup_printf ("set no syslog\n"
                        "set no bouncemail\n"
                        "poll 127.0.0.1 protocol pop3 service %u uidl\n"
                        "  user \"%s\" password \"%s\" is \"%s\" here\n"
                        "  options keep ssl sslcertck sslcertfile \"%s\" sslcommonname \"localhost\"\n"
                        "  %s \"%s%s\"\n",
                        bench->port, USER, PASSWORD, USER, bench->certificate_path,
                        bench->fetchmail_mda ? "mda" : "bsmtp",
                        bench->fetchmail_mda ? "cat >> " : "", sink);
  if (!g_file_set_contents_full (rc_path, rc, -1, G_FILE_SET_CONTENTS_NONE, 0600, &error))
    die ("writing the fetchmail configuration", error);

  status = spawn_measured (argv, envp, dir, &run, &child_stdout, &child_stderr);
  run.seconds = run.wall;
  run.messages = bench->fetchmail_mda ? count_mda_messages (sink) : count_bsmtp_messages (sink);
  if (stat (sink, &st) == 0)
    run.bytes = st.st_size;
  /* 0: mail came; 1 would mean none did. */
  check_run (bench, PEER_FETCHMAIL, status, TRUE, &run,
             child_stderr && child_stderr[0] ? child_stderr : child_stdout);
  g_array_append_val (bench->runs[PEER_FETCHMAIL], run);
  progress ("  fetchmail: %.2f s (CPU %.2f s), %.0f MiB", run.seconds, run.cpu, run.max_rss_kib / 1024.0);
  settle (bench, dir);
}

static void
run_raw (Bench    *bench,
         gboolean  keep)
{
  g_autofree char *dir = new_run_dir (bench, "raw");
  g_autofree char *port = g_strdup_printf ("%u", bench->port);
  g_autofree char *child_stdout = NULL;
  g_autofree char *child_stderr = NULL;
  g_auto(GStrv) envp = child_environment (NULL);
  char *argv[] = { bench->raw_exe, "--host", "127.0.0.1", "--port", port,
                   "--certificate", bench->certificate_path, "--user", USER, NULL };
  Run run = { 0, };
  int status;
  double inside;

  status = spawn_measured (argv, envp, dir, &run, &child_stdout, &child_stderr);
  check_run (bench, PEER_RAW, status, parse_child_line (child_stdout, &run), &run, child_stderr);
  inside = run.seconds;
  run.seconds = run.wall;
  if (keep)
    g_array_append_val (bench->runs[PEER_RAW], run);
  progress ("  raw drain%s: %.2f s (%.2f s from connect to QUIT, CPU %.2f s), %.0f MiB",
            keep ? "" : " (warm-up, not counted)", run.seconds, inside, run.cpu, run.max_rss_kib / 1024.0);
  settle (bench, dir);
}

/* The Mailer side: one download in this process */

typedef struct
{
  gboolean finished;
  gboolean ok;
  GError *error;
  guint inserted;
  MailerPop3SyncResult result;
} ChildState;

static void
store_changed_cb (MailerStore        *store,
                  MailerStoreChanges *changes,
                  ChildState         *state)
{
  state->inserted += changes->inserted->len;
}

static void
account_saved_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  ChildState *state = user_data;

  state->ok = mailer_store_save_account_finish (MAILER_STORE (source), result, &state->error);
  state->finished = TRUE;
}

static void
sync_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  ChildState *state = user_data;

  state->ok = mailer_pop3_sync_run_finish (MAILER_POP3_SYNC (source), result, &state->result, &state->error);
  state->finished = TRUE;
}

static gboolean
timeout_cb (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

static int
mailer_child (const char *store_dir,
              guint16     port,
              const char *pin,
              guint       expected)
{
  g_autoptr(MailerStore) store = NULL;
  g_autoptr(MailerAccount) account = NULL;
  g_autoptr(MailerPop3Sync) sync_run = NULL;
  g_autoptr(GError) error = NULL;
  const char *password = g_getenv ("MAILER_BENCH_PASSWORD");
  ChildState state = { 0, };
  gboolean timed_out = FALSE;
  struct rusage usage;
  gint64 start, elapsed;
  guint timeout_id = 0;

  if (password == NULL)
    die ("MAILER_BENCH_PASSWORD is not set", NULL);

  start = g_get_monotonic_time ();
  store = mailer_store_open (store_dir, &error);
  if (store == NULL)
    die ("opening the store", error);

  account = mailer_account_new (MAILER_ACCOUNT_KIND_POP3);
  mailer_account_set_host (account, "127.0.0.1");
  mailer_account_set_port (account, port);
  mailer_account_set_security (account, MAILER_SECURITY_TLS);
  mailer_account_set_username (account, USER);
  mailer_account_set_pinned_certificate (account, pin);
  mailer_account_set_leave_on_server (account, TRUE);
  mailer_store_save_account_async (store, account, NULL, account_saved_cb, &state);
  while (!state.finished)
    g_main_context_iteration (NULL, TRUE);
  if (!state.ok)
    die ("saving the account", state.error);

  memset (&state, 0, sizeof state);
  g_signal_connect (store, "changed", G_CALLBACK (store_changed_cb), &state);
  sync_run = mailer_pop3_sync_new (store, account);
  mailer_pop3_sync_run_async (sync_run, password, NULL, sync_done_cb, &state);

  /* Until the run is over and the last message is committed (a run may
   * report before its last window's commit lands). */
  while (!state.finished || (state.ok && state.inserted < expected && !timed_out))
    {
      if (state.finished && timeout_id == 0)
        timeout_id = g_timeout_add_seconds (120, timeout_cb, &timed_out);
      g_main_context_iteration (NULL, TRUE);
    }
  if (!state.ok)
    die ("the download failed", state.error);
  if (timeout_id != 0 && !timed_out)
    g_source_remove (timeout_id);

  elapsed = g_get_monotonic_time () - start;
  /* The main thread does the network, TLS and POP3; the store's threads
   * the rest. */
  getrusage (RUSAGE_THREAD, &usage);
  g_print ("messages %u bytes %" G_GUINT64_FORMAT " seconds %.3f main-thread-cpu %.3f\n",
           state.inserted, state.result.bytes, elapsed / 1e6,
           usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
           usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6);
  g_printerr ("run reported %u downloaded of %u on the server\n",
              state.result.n_downloaded, state.result.n_on_server);
  return 0;
}

/* Seeding */

static void
seed_mailbox (Bench                   *bench,
              MailerBenchMailboxStats *stats,
              double                  *seconds,
              double                  *generate_seconds)
{
  g_autoptr(MailerBenchMailbox) mailbox = mailer_bench_mailbox_new (bench->n_messages,
                                                                     MAILER_BENCH_MAILBOX_DEFAULT_SEED);
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time (), generating = 0;
  GBytes *message;

  for (;;)
    {
      gint64 before = g_get_monotonic_time ();

      message = mailer_bench_mailbox_next (mailbox);
      generating += g_get_monotonic_time () - before;
      if (message == NULL)
        break;
      if (!mailer_test_dovecot_seed_bytes (bench->dovecot, USER, "INBOX", message, NULL, &error))
        die ("seeding the mailbox", error);
      g_bytes_unref (message);
    }
  *stats = *mailer_bench_mailbox_get_stats (mailbox);
  *seconds = (g_get_monotonic_time () - start) / 1e6;
  *generate_seconds = generating / 1e6;
  bench->mailbox_bytes = stats->bytes;
}

/* The report */

/* The first three fields of /proc/loadavg: other work on the machine
 * skews every figure. */
static void
read_load_average (char  *out,
                   gsize  size)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;

  g_strlcpy (out, "unknown", size);
  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return;
  fields = g_strsplit (text, " ", 4);
  if (g_strv_length (fields) >= 3)
    g_snprintf (out, size, "%s %s %s", fields[0], fields[1], fields[2]);
}

static char *
first_line_of_command (const char * const *argv)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  char *nl;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, NULL, NULL))
    return g_strdup ("unknown");
  if ((out == NULL || out[0] == '\0') && err != NULL)
    {
      g_free (out);
      out = g_steal_pointer (&err);
    }
  if (out == NULL)
    return g_strdup ("unknown");
  nl = strchr (out, '\n');
  if (nl != NULL)
    *nl = '\0';
  return g_strdup (g_strstrip (out));
}

static char *
cpu_model (void)
{
  g_autofree char *cpuinfo = NULL;
  char *line;

  if (g_file_get_contents ("/proc/cpuinfo", &cpuinfo, NULL, NULL) &&
      (line = strstr (cpuinfo, "model name")) != NULL && (line = strchr (line, ':')) != NULL)
    {
      char *end = strchr (line, '\n');

      if (end != NULL)
        *end = '\0';
      return g_strdup (g_strstrip (line + 1));
    }
  return g_strdup ("unknown");
}

static guint64
memory_total_kib (void)
{
  g_autofree char *meminfo = NULL;
  char *line;

  if (g_file_get_contents ("/proc/meminfo", &meminfo, NULL, NULL) &&
      (line = strstr (meminfo, "MemTotal:")) != NULL)
    return g_ascii_strtoull (line + strlen ("MemTotal:"), NULL, 10);
  return 0;
}

static const char *
file_system_name (const char *path,
                  gboolean   *tmpfs)
{
  struct statfs fs;

  *tmpfs = FALSE;
  if (statfs (path, &fs) != 0)
    return "unknown";
  switch ((unsigned long) fs.f_type)
    {
    case TMPFS_MAGIC: *tmpfs = TRUE; return "tmpfs";
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x794c7630: return "overlayfs";
    default: return "other";
    }
}

static void
append_machine (GString    *report,
                Bench      *bench,
                gboolean   *tmpfs)
{
  struct utsname uts;
  g_autofree char *cpu = cpu_model ();
  g_autofree char *dovecot_version = first_line_of_command ((const char *[]) { "dovecot", "--version", NULL });
  g_autofree char *fetchmail_version = NULL;
  const char *fs = file_system_name (bench->work_dir, tmpfs);

  if (bench->fetchmail != NULL)
    fetchmail_version = first_line_of_command ((const char *[]) { bench->fetchmail, "--version", NULL });
  uname (&uts);
  g_string_append (report, "## Machine\n\n");
  g_string_append_printf (report, "- CPU: %s, %u cores\n", cpu, g_get_num_processors ());
  g_string_append_printf (report, "- Memory: %.1f GiB\n", memory_total_kib () / 1048576.0);
  g_string_append_printf (report, "- Kernel: %s %s (%s)\n", uts.sysname, uts.release, uts.machine);
  g_string_append_printf (report, "- Store and sink directory: %s (%s)\n", bench->work_dir, fs);
  g_string_append_printf (report, "- Dovecot %s; %s; GLib %u.%u.%u; SQLite %s; TLS backend %s\n",
                          dovecot_version,
                          fetchmail_version ? fetchmail_version : "fetchmail not run",
                          glib_major_version, glib_minor_version, glib_micro_version,
                          sqlite3_libversion (),
                          G_OBJECT_TYPE_NAME (g_tls_backend_get_default ()));
  g_string_append_printf (report, "- Load average (1, 5, 15 min) before: %s; after: %s\n",
                          bench->load_before, bench->load_after);
  if (*tmpfs)
    g_string_append (report, "\n**Warning:** the store is on tmpfs, where fsync does nothing: "
                             "Mailer's figure is too good. Set TMPDIR to a directory on a disk.\n");
  g_string_append_c (report, '\n');
}

static char *
format_ratio (double ratio,
              double target)
{
  return g_strdup_printf ("%.2f (target ≤ %.1f: %s)", ratio, target, ratio <= target ? "met" : "**missed**");
}

static char *
build_report (Bench                         *bench,
              const MailerBenchMailboxStats *stats,
              double                         seed_seconds,
              double                         generate_seconds,
              guint                          repetitions)
{
  GString *report = g_string_new (NULL);
  double medians[N_PEERS] = { 0, };
  gboolean tmpfs;
  double mb = bench->mailbox_bytes / 1e6;

  g_string_append (report, "# POP3 download benchmark\n\n");
  append_machine (report, bench, &tmpfs);

  g_string_append (report, "## Mailbox\n\n");
  g_string_append_printf (report,
                          "%u generated messages, %.1f MB as stored (LF line ends; more on the wire "
                          "with CRLF), %.1f KB on average: %u replies, %u with HTML, %u with a base64 "
                          "attachment, %u subjects in RFC 2047 encoded words. Generated and written into the "
                          "fixture's Maildir (mailer_test_dovecot_seed_bytes(), before Dovecot starts) in "
                          "%.1f s, %.1f s of it generating. Dovecot on loopback, POP3 over implicit TLS, its "
                          "certificate pinned by every peer. Leave on server: the mailbox stays full "
                          "for every run.\n\n",
                          stats->n_messages, mb, stats->n_messages ? mb * 1000 / stats->n_messages : 0.0,
                          stats->n_replies, stats->n_alternative, stats->n_attachments,
                          stats->n_encoded_subjects, seed_seconds, generate_seconds);

  g_string_append_printf (report, "## Results (%u repetition%s, median; spread is min–max)\n\n",
                          repetitions, repetitions == 1 ? "" : "s");
  g_string_append (report, "| peer | time (s) | spread (s) | MB/s | messages/s | CPU (s) | peak RSS (MiB) | Mailer ÷ peer |\n");
  g_string_append (report, "|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (guint p = 0; p < N_PEERS; p++)
    if (bench->peers[p] && bench->runs[p]->len > 0)
      medians[p] = median_of (bench->runs[p], G_STRUCT_OFFSET (Run, seconds), NULL, NULL);
  for (guint p = 0; p < N_PEERS; p++)
    {
      double min, max, median, rss, cpu;

      if (!bench->peers[p] || bench->runs[p]->len == 0)
        continue;
      median = median_of (bench->runs[p], G_STRUCT_OFFSET (Run, seconds), &min, &max);
      rss = median_of (bench->runs[p], G_STRUCT_OFFSET (Run, max_rss_kib), NULL, NULL);
      cpu = median_of (bench->runs[p], G_STRUCT_OFFSET (Run, cpu), NULL, NULL);
      g_string_append_printf (report, "| %s | %.2f | %.2f–%.2f | %.0f | %.0f | %.2f | %.0f |",
                              peer_names[p], median, min, max, mb / median, bench->n_messages / median,
                              cpu, rss / 1024.0);
      if (p != PEER_MAILER && medians[PEER_MAILER] > 0)
        g_string_append_printf (report, " %.2f |\n", medians[PEER_MAILER] / median);
      else
        g_string_append (report, " |\n");
    }
  g_string_append_c (report, '\n');

  if (medians[PEER_MAILER] > 0 && medians[PEER_FETCHMAIL] > 0)
    {
      g_autofree char *text = format_ratio (medians[PEER_MAILER] / medians[PEER_FETCHMAIL], TARGET_VS_FETCHMAIL);

      g_string_append_printf (report, "- Mailer ÷ fetchmail: %s\n", text);
    }
  if (medians[PEER_MAILER] > 0 && medians[PEER_RAW] > 0)
    {
      g_autofree char *text = format_ratio (medians[PEER_MAILER] / medians[PEER_RAW], TARGET_VS_RAW);

      g_string_append_printf (report, "- Mailer ÷ raw drain: %s\n", text);
    }
  if (bench->peers[PEER_MAILER] && bench->runs[PEER_MAILER]->len > 0)
    {
      double wall = median_of (bench->runs[PEER_MAILER], G_STRUCT_OFFSET (Run, wall), NULL, NULL);
      double cpu = median_of (bench->runs[PEER_MAILER], G_STRUCT_OFFSET (Run, cpu), NULL, NULL);
      double main_cpu = median_of (bench->runs[PEER_MAILER], G_STRUCT_OFFSET (Run, main_cpu), NULL, NULL);

      g_string_append_printf (report, "- Mailer's CPU time: %.2f s, of which %.2f s in its main thread (network, "
                                      "TLS, POP3) and the rest in the store's threads (MIME parsing, SQLite, "
                                      "search index) (medians).\n", cpu, main_cpu);

      g_string_append_printf (report, "- Mailer's whole child process (start-up, store close) took %.2f s "
                                      "(median).\n", wall);
    }

  g_string_append (report,
                   "\nMailer: MailerPop3Sync in-process (in a child process of the benchmark, for its own "
                   "RSS), into a fresh store (SQLite, WAL, synchronous=FULL: every window of messages is "
                   "durable when committed; each message MIME-parsed and indexed for search), timed from "
                   "just before the store is opened to the commit of the last message. fetchmail: keep "
                   "mode, UIDL with a fresh .fetchids, every message appended to one BSMTP file (no "
                   "fsync), the whole process timed. Raw drain: pipelined RETR 1..N (64 outstanding) over "
                   "TLS, replies counted and dropped, the whole process timed. Between runs the run's "
                   "files are removed and sync(2) flushes the page cache, untimed; an untimed raw drain "
                   "first warms Dovecot's index and the page cache.\n");

  g_string_append (report, "\n### Every run\n\n| repetition | peer | time (s) | process (s) | CPU (s) | RSS (MiB) | bytes received or written |\n|---:|---|---:|---:|---:|---:|---:|\n");
  for (guint r = 0; r < repetitions; r++)
    for (guint p = 0; p < N_PEERS; p++)
      if (bench->peers[p] && r < bench->runs[p]->len)
        {
          Run *run = &g_array_index (bench->runs[p], Run, r);

          g_string_append_printf (report, "| %u | %s | %.2f | %.2f | %.2f | %.0f | %" G_GUINT64_FORMAT " |\n",
                                  r + 1, peer_names[p], run->seconds, run->wall, run->cpu,
                                  run->max_rss_kib / 1024.0, run->bytes);
        }
  return g_string_free (report, FALSE);
}

/* Main */

static char *
find_beside_self (const char *self_exe,
                  const char *name)
{
  g_autofree char *dir = g_path_get_dirname (self_exe);

  return g_build_filename (dir, name, NULL);
}

static gboolean
parse_peers (const char *text,
             gboolean   *peers)
{
  g_auto(GStrv) names = g_strsplit (text, ",", -1);

  memset (peers, 0, sizeof (gboolean) * N_PEERS);
  for (guint i = 0; names[i] != NULL; i++)
    {
      guint p;

      for (p = 0; p < N_PEERS; p++)
        if (g_str_equal (g_strstrip (names[i]), peer_keys[p]))
          break;
      if (p == N_PEERS)
        return FALSE;
      peers[p] = TRUE;
    }
  return TRUE;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  g_autofree char *peers_text = NULL;
  g_autofree char *child_dir = NULL;
  g_autofree char *child_pin = NULL;
  g_autofree char *report = NULL;
  g_autofree char *perf_file = NULL;
  g_autofree char *other_exe = NULL;
  gint n_messages = 20000, repetitions = 3, child_port = 0;
  gboolean smoke = FALSE, keep = FALSE, fetchmail_mda = FALSE;
  GOptionEntry entries[] = {
    { "messages", 0, 0, G_OPTION_ARG_INT, &n_messages, "Messages in the mailbox (default 20000)", "N" },
    { "repetitions", 0, 0, G_OPTION_ARG_INT, &repetitions, "Runs of each peer (default 3)", "N" },
    { "smoke", 0, 0, G_OPTION_ARG_NONE, &smoke, "200 messages, one repetition: checks the harness", NULL },
    { "output", 0, 0, G_OPTION_ARG_FILENAME, &output, "Also write the report to FILE", "FILE" },
    { "peers", 0, 0, G_OPTION_ARG_STRING, &peers_text, "Which to run (default mailer,fetchmail,raw)", "LIST" },
    { "perf", 0, 0, G_OPTION_ARG_FILENAME, &perf_file,
      "Also run Mailer once more under perf record -g, into FILE (not counted)", "FILE" },
    { "compare-mailer", 0, 0, G_OPTION_ARG_FILENAME, &other_exe,
      "Also time the Mailer of another build of mailer-pop3-bench (before/after a change)", "PROGRAM" },
    { "fetchmail-mda", 0, 0, G_OPTION_ARG_NONE, &fetchmail_mda,
      "Let fetchmail deliver through --mda 'cat >> FILE' instead of BSMTP (a shell per message)", NULL },
    { "keep", 0, 0, G_OPTION_ARG_NONE, &keep, "Keep the Dovecot directory and work directory", NULL },
    { "verbose", 0, 0, G_OPTION_ARG_NONE, &verbose, "Show the commands run", NULL },
    { "mailer-child", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &child_dir, NULL, NULL },
    { "port", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &child_port, NULL, NULL },
    { "pin", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &child_pin, NULL, NULL },
    { NULL }
  };
  Bench bench = { 0, };
  MailerBenchMailboxStats stats = { 0, };
  double seed_seconds, generate_seconds;

  g_option_context_set_summary (context,
                                "Times a POP3 download of a generated mailbox from a private Dovecot: "
                                "Mailer against fetchmail and a raw pipelined drain.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die ("options", error);

  if (child_dir != NULL)
    {
      if (child_port <= 0 || child_port > 65535 || child_pin == NULL || n_messages < 1)
        die ("--mailer-child needs --port, --pin and --messages", NULL);
      return mailer_child (child_dir, child_port, child_pin, n_messages);
    }

  if (smoke)
    {
      n_messages = 200;
      repetitions = 1;
    }
  if (n_messages < 1 || repetitions < 1)
    die ("--messages and --repetitions take 1 or more", NULL);

  for (guint p = 0; p < N_PEERS; p++)
    {
      bench.peers[p] = TRUE;
      bench.runs[p] = g_array_new (FALSE, TRUE, sizeof (Run));
    }
  bench.peers[PEER_MAILER_OTHER] = FALSE;
  if (peers_text != NULL && !parse_peers (peers_text, bench.peers))
    die ("--peers takes a list of mailer, fetchmail and raw", NULL);
  if (other_exe != NULL)
    {
      if (!g_file_test (other_exe, G_FILE_TEST_IS_EXECUTABLE))
        die ("--compare-mailer takes a built mailer-pop3-bench", NULL);
      bench.other_exe = g_canonicalize_filename (other_exe, NULL);
      bench.peers[PEER_MAILER_OTHER] = TRUE;
    }
  else if (bench.peers[PEER_MAILER_OTHER])
    die ("the peer \"other\" needs --compare-mailer", NULL);
  bench.n_messages = n_messages;
  bench.keep = keep;
  bench.fetchmail_mda = fetchmail_mda;
  bench.perf_file = perf_file;

  bench.self_exe = g_file_read_link ("/proc/self/exe", &error);
  if (bench.self_exe == NULL)
    die ("finding this program", error);
  bench.raw_exe = find_beside_self (bench.self_exe, "mailer-pop3-raw");
  if (!g_file_test (bench.raw_exe, G_FILE_TEST_IS_EXECUTABLE))
    die ("mailer-pop3-raw is not built next to this program", NULL);
  if (bench.peers[PEER_FETCHMAIL])
    {
      bench.fetchmail = g_find_program_in_path ("fetchmail");
      if (bench.fetchmail == NULL)
        {
          g_printerr ("pop3-bench: fetchmail, a peer of this benchmark, is not installed.\n"
                      "Install it with:\n  %sapt-get install -y --no-install-recommends fetchmail\n"
                      "or run bench/run-pop3, which installs it when run as root.\n"
                      "To go without it: --peers mailer,raw\n",
                      getuid () == 0 ? "" : "sudo ");
          return 1;
        }
    }
  if (perf_file != NULL && (bench.perf = g_find_program_in_path ("perf")) == NULL)
    die ("--perf needs perf (Debian package linux-perf)", NULL);

  bench.work_dir = g_dir_make_tmp ("mailer-pop3-bench-XXXXXX", &error);
  if (bench.work_dir == NULL)
    die ("creating the work directory", error);

  progress ("generating %u messages into Dovecot's Maildir", bench.n_messages);
  bench.dovecot = mailer_test_dovecot_new ();
  mailer_test_dovecot_add_user (bench.dovecot, USER, PASSWORD);
  read_load_average (bench.load_before, sizeof bench.load_before);
  seed_mailbox (&bench, &stats, &seed_seconds, &generate_seconds);
  progress ("%.1f MB in %.1f s (%.1f s generating); starting Dovecot",
            stats.bytes / 1e6, seed_seconds, generate_seconds);
  if (!mailer_test_dovecot_start (bench.dovecot, &error))
    die ("starting Dovecot", error);
  bench.port = mailer_test_dovecot_get_port (bench.dovecot, MAILER_TEST_DOVECOT_POP3S);
  bench.certificate_path = g_strdup (mailer_test_dovecot_get_certificate_path (bench.dovecot));
  bench.pin = mailer_certificate_get_sha256 (mailer_test_dovecot_get_certificate (bench.dovecot));

  progress ("warming up Dovecot's index and the page cache");
  run_raw (&bench, FALSE);

  for (gint r = 0; r < repetitions; r++)
    {
      progress ("repetition %d of %d", r + 1, repetitions);
      /* A rotating order: no peer always runs first or after the same one. */
      for (guint k = 0; k < N_PEERS; k++)
        {
          Peer p = (r + k) % N_PEERS;

          if (!bench.peers[p])
            continue;
          switch (p)
            {
            case PEER_MAILER:
            case PEER_MAILER_OTHER:
              run_mailer (&bench, p, FALSE);
              break;
            case PEER_FETCHMAIL:
              run_fetchmail (&bench);
              break;
            case PEER_RAW:
            case N_PEERS:
            default:
              run_raw (&bench, TRUE);
              break;
            }
        }
    }
  if (perf_file != NULL)
    {
      progress ("Mailer once more under perf record -g, into %s", perf_file);
      run_mailer (&bench, PEER_MAILER, TRUE);
    }

  read_load_average (bench.load_after, sizeof bench.load_after);
  report = build_report (&bench, &stats, seed_seconds, generate_seconds, repetitions);
  /* As UTF-8 whatever the locale, like the file. */
  fputs (report, stdout);
  fflush (stdout);
  if (output != NULL && !g_file_set_contents (output, report, -1, &error))
    die ("writing the report", error);

  if (keep)
    {
      g_setenv ("MAILER_TEST_KEEP_DOVECOT", "1", TRUE);
      progress ("kept %s and %s", bench.work_dir, mailer_test_dovecot_get_directory (bench.dovecot));
    }
  mailer_test_dovecot_stop (bench.dovecot);
  g_clear_object (&bench.dovecot);
  if (!keep)
    remove_tree (bench.work_dir);
  return 0;
}
