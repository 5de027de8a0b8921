/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * mailer-imap-bench: how fast Mailer syncs a large IMAP mailbox, against
 * neomutt, mbsync and raw drains of the same mailbox from the same server
 * in the same run.  See README.md here.
 *
 * A private Dovecot (the test fixture) gets a generated mailbox
 * (mailbox-gen.c) of N messages, and one of 1,000 for the resync's
 * comparison; then, each part repeated, the peers in a rotating order:
 *
 *  1. initial header sync: MailerImapSync into a fresh store, against
 *     neomutt opening the folder without a header cache, against a raw
 *     UID FETCH 1:* of the same items as Mailer's (mailer-imap-raw);
 *  2. no-change resync: a second MailerImapSync run (QRESYNC) against a
 *     second mbsync run, at 1,000 and at N messages;
 *  3. full offline download: a header sync and every body through
 *     mailer_imap_sync_fetch_body_async(), against mbsync into a fresh
 *     Maildir, against a raw UID FETCH 1:* BODY.PEEK[];
 *  4. peak RSS of every process (wait4()).
 *
 * Mailer runs in a child process (this program with --mailer-child), so
 * that its RSS is its own.  The report (Markdown) goes to stdout and to
 * --output; progress goes to stderr.
 */
#define _GNU_SOURCE   /* RUSAGE_THREAD */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "mailbox-gen.h"
#include "mailer-connection.h"
#include "mailer-imap-sync.h"
#include "mailer-test-dovecot.h"

#define USER "bench"
#define SMALL_USER "small"
#define SMALL_SIZE 1000
#define PASSWORD "bench-imap-password"
#define TMPFS_MAGIC 0x01021994
#define NEOMUTT_MARKER "BENCH-INDEX "
#define NEOMUTT_TIMEOUT_SECONDS 300
/* Bodies asked for at once by the "pipelined" Mailer of part 3. */
#define DEFAULT_FETCH_DEPTH 16
/* A peer that hangs (a prompt nobody answers) is killed after this. */
#define CHILD_TIMEOUT_SECONDS 1800

/* The targets */
#define TARGET_HEADERS_VS_NEOMUTT 1.0
#define TARGET_HEADERS_VS_RAW 3.0
#define TARGET_RESYNC_VS_MBSYNC 0.25
#define TARGET_RESYNC_GROWTH 1.5
#define TARGET_DOWNLOAD_VS_MBSYNC 1.0
#define TARGET_RSS_BYTES 100e6
#define TARGET_SIZE 100000

/* Every measured row of the report. */
typedef enum
{
  ROW_HEADERS_MAILER,
  ROW_HEADERS_OTHER,
  ROW_HEADERS_NEOMUTT,
  ROW_HEADERS_RAW,
  ROW_RESYNC_SMALL_MAILER,
  ROW_RESYNC_SMALL_OTHER,
  ROW_RESYNC_SMALL_MBSYNC,
  ROW_RESYNC_MAILER,
  ROW_RESYNC_OTHER,
  ROW_RESYNC_MBSYNC,
  ROW_DOWNLOAD_MAILER,
  ROW_DOWNLOAD_OTHER,
  ROW_DOWNLOAD_SERIAL,
  ROW_DOWNLOAD_PREFETCH,
  ROW_DOWNLOAD_MBSYNC,
  ROW_DOWNLOAD_RAW,
  N_ROWS
} RowId;

typedef enum
{
  PEER_MAILER,
  PEER_NEOMUTT,
  PEER_MBSYNC,
  PEER_RAW,
  N_PEERS
} Peer;

static const char * const peer_keys[N_PEERS] = { "mailer", "neomutt", "mbsync", "raw" };

/* How the Mailer of part 3 gets the bodies. */
typedef enum
{
  BODY_PIPELINED,   /* fetch_body_async, DEPTH at a time */
  BODY_SERIAL,      /* fetch_body_async, one at a time */
  BODY_PREFETCH,    /* the sync's own fetching ahead, prefetch-days "all" */
  N_BODY_MODES
} BodyMode;

static const char * const body_mode_keys[N_BODY_MODES] = { "pipelined", "serial", "prefetch" };

typedef struct
{
  double seconds;      /* the figure: see the report */
  double wall;         /* the child process, spawn to exit */
  double cpu;          /* its user and system time */
  double main_cpu;     /* Mailer: of which its main thread's */
  double first;        /* Mailer, part 3: the header sync's share; neomutt: process exit */
  glong max_rss_kib;
  guint messages;
  guint runs;          /* Mailer, prefetch: sync runs it took */
  guint64 server_bytes; /* what Dovecot sent (its logout line's out=) */
} Run;

typedef struct
{
  const char *name;
  Peer peer;
  guint size;          /* messages in the folder */
  gboolean wanted;
  GArray *runs;
} Row;

typedef struct
{
  MailerTestDovecot *dovecot;
  char *work_dir;
  guint16 port;
  char *certificate_path;
  char *pin;
  char *self_exe;
  char *raw_exe;
  char *neomutt;
  char *mbsync;
  char *perf;
  char *perf_file;
  guint perf_part;
  char *other_exe;
  guint n_messages;
  guint fetch_depth;
  guint serial;
  gboolean keep;
  gboolean parts[4];
  gboolean peers[N_PEERS];
  gboolean body_modes[N_BODY_MODES];
  MailerBenchMailboxStats stats;
  MailerBenchMailboxStats small_stats;
  double seed_seconds;
  char load_before[64];
  char load_after[64];
  Row rows[N_ROWS];
  /* Left by the last run of part 1 or 3, reused by part 2's setup. */
  char *kept_mailer_dir;
  char *kept_mbsync_dir;
  gboolean neomutt_marker_missed;
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
  g_printerr ("imap-bench: %s\n", text);
}

static void G_GNUC_NORETURN
die (const char   *what,
     const GError *error)
{
  g_printerr ("imap-bench: %s%s%s\n", what, error ? ": " : "", error ? error->message : "");
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
run_value (const Run *run,
           gsize      offset)
{
  const guint8 *base = (const guint8 *) run;

  if (offset == G_STRUCT_OFFSET (Run, max_rss_kib))
    return (double) run->max_rss_kib;
  if (offset == G_STRUCT_OFFSET (Run, server_bytes))
    return (double) run->server_bytes;
  if (offset == G_STRUCT_OFFSET (Run, runs))
    return (double) run->runs;
  return *(const double *) (base + offset);
}

static double
median_of (GArray *runs,
           gsize   offset,
           double *min,
           double *max)
{
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (double));
  double median;

  if (runs->len == 0)
    {
      if (min != NULL)
        *min = 0;
      if (max != NULL)
        *max = 0;
      return 0;
    }
  for (guint i = 0; i < runs->len; i++)
    {
      double value = run_value (&g_array_index (runs, Run, i), offset);

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

static double
row_median (Bench *bench,
            RowId  id)
{
  return median_of (bench->rows[id].runs, G_STRUCT_OFFSET (Run, seconds), NULL, NULL);
}

static gboolean
row_has_runs (Bench *bench,
              RowId  id)
{
  return bench->rows[id].wanted && bench->rows[id].runs->len > 0;
}

/* Running children */

static char **
child_environment (const char *home)
{
  char **envp = g_get_environ ();

  envp = g_environ_setenv (envp, "MAILER_BENCH_PASSWORD", PASSWORD, TRUE);
  envp = g_environ_setenv (envp, "LC_ALL", "C.UTF-8", TRUE);
  envp = g_environ_unsetenv (envp, "G_MESSAGES_DEBUG");
  if (home != NULL)
    envp = g_environ_setenv (envp, "HOME", home, TRUE);
  return envp;
}

static void
fill_usage (Run                 *run,
            const struct rusage *usage)
{
  run->max_rss_kib = usage->ru_maxrss;
  run->cpu = usage->ru_utime.tv_sec + usage->ru_utime.tv_usec / 1e6 +
             usage->ru_stime.tv_sec + usage->ru_stime.tv_usec / 1e6;
}

static volatile pid_t timed_child;

static void
child_timeout_alarm (int signal_number)
{
  if (timed_child > 0)
    kill (timed_child, SIGKILL);
}

/* Waits for @pid with wait4(), killing it after CHILD_TIMEOUT_SECONDS. */
static void
wait_measured (pid_t          pid,
               int           *status,
               struct rusage *usage)
{
  struct sigaction action = { 0, };

  action.sa_handler = child_timeout_alarm;
  sigaction (SIGALRM, &action, NULL);
  timed_child = pid;
  alarm (CHILD_TIMEOUT_SECONDS);
  while (wait4 (pid, status, 0, usage) < 0)
    if (errno != EINTR)
      die ("wait4", NULL);
  alarm (0);
  timed_child = 0;
}

/* Runs @argv with stdout and stderr to files in @dir; fills in the wall
 * time, CPU time and peak RSS.  Returns the exit status, or -1 if it did
 * not exit (killed after CHILD_TIMEOUT_SECONDS, for one). */
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
  wait_measured (pid, &status, &usage);
  run->wall = (g_get_monotonic_time () - start) / 1e6;
  fill_usage (run, &usage);
  close (out_fd);
  close (err_fd);

  if (out_stdout != NULL)
    g_file_get_contents (out_path, out_stdout, NULL, NULL);
  if (out_stderr != NULL)
    g_file_get_contents (err_path, out_stderr, NULL, NULL);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static void G_GNUC_NORETURN
run_failed (const char *what,
            int         status,
            guint       messages,
            guint       expected,
            const char *output)
{
  g_printerr ("imap-bench: %s failed (exit status %d, %u of %u messages)\n%s\n",
              what, status, messages, expected, output ? output : "");
  exit (1);
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
  if (dir != NULL && !bench->keep)
    remove_tree (dir);
  sync ();
}

/* What Dovecot sent */

static gsize
log_length (Bench *bench)
{
  g_autofree char *log = mailer_test_dovecot_get_log (bench->dovecot);

  return log ? strlen (log) : 0;
}

/* Adds up the out= of the IMAP sessions that ended in the log after
 * @offset (Mailer has two: the sync's and the reader's); waits a little
 * for Dovecot's log process to write them, until the sum holds still. */
static guint64
server_bytes_since (Bench *bench,
                    gsize  offset)
{
  guint64 total = 0, last = G_MAXUINT64;
  guint same = 0;

  for (guint attempt = 0; attempt < 40; attempt++)
    {
      g_autofree char *log = mailer_test_dovecot_get_log (bench->dovecot);
      gboolean found = FALSE;

      total = 0;
      if (log != NULL && strlen (log) > offset)
        {
          g_auto(GStrv) lines = g_strsplit (log + offset, "\n", -1);

          for (guint i = 0; lines[i] != NULL; i++)
            {
              const char *out = strstr (lines[i], " out=");

              if (strstr (lines[i], "imap(") == NULL || out == NULL)
                continue;
              total += g_ascii_strtoull (out + 5, NULL, 10);
              found = TRUE;
            }
        }
      if (found && total == last && ++same >= 4)
        return total;
      if (total != last)
        same = 0;
      last = total;
      g_usleep (25000);
    }
  return total;
}

/* Reads "messages N seconds S ..." off a child's stdout. */
static gboolean
parse_child_line (const char *text,
                  Run        *run)
{
  const char *line = text ? strstr (text, "messages ") : NULL;
  const char *field;

  if (line == NULL || (field = strstr (line, " seconds ")) == NULL)
    return FALSE;
  run->messages = g_ascii_strtoull (line + strlen ("messages "), NULL, 10);
  run->seconds = g_ascii_strtod (field + strlen (" seconds "), NULL);
  if ((field = strstr (line, "main-thread-cpu ")) != NULL)
    run->main_cpu = g_ascii_strtod (field + strlen ("main-thread-cpu "), NULL);
  if ((field = strstr (line, "headers-seconds ")) != NULL)
    run->first = g_ascii_strtod (field + strlen ("headers-seconds "), NULL);
  if ((field = strstr (line, "runs ")) != NULL)
    run->runs = g_ascii_strtoull (field + strlen ("runs "), NULL, 10);
  return TRUE;
}

/* Mailer, in a child process */

typedef enum
{
  CHILD_SYNC,       /* one sync run: the first, or a resync */
  CHILD_BODIES,     /* a first sync, then every body */
} ChildMode;

/* Runs this program as the Mailer child; returns the run, or exits. */
static Run
spawn_mailer (Bench       *bench,
              const char  *exe,
              ChildMode    mode,
              BodyMode     body_mode,
              const char  *store_dir,
              const char  *user,
              guint        expected,
              gboolean     profile,
              const char  *what)
{
  g_autofree char *dir = g_path_get_dirname (store_dir);
  g_autofree char *port = g_strdup_printf ("%u", bench->port);
  g_autofree char *expect = g_strdup_printf ("%u", expected);
  g_autofree char *depth = g_strdup_printf ("%u", body_mode == BODY_SERIAL ? 1 : bench->fetch_depth);
  g_autofree char *child_stdout = NULL;
  g_autofree char *child_stderr = NULL;
  g_auto(GStrv) envp = child_environment (NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  gsize log_offset = log_length (bench);
  Run run = { 0, };
  int status;

  if (profile)
    {
      g_ptr_array_add (argv, bench->perf);
      g_ptr_array_add (argv, "record");
      g_ptr_array_add (argv, "-g");
      /* GLib and libc have no frame pointers: unwind with DWARF, at a
       * rate that keeps the file to some 100 MB (part 3 runs longest). */
      g_ptr_array_add (argv, "--call-graph=dwarf,8192");
      g_ptr_array_add (argv, "-F");
      g_ptr_array_add (argv, mode == CHILD_BODIES ? "499" : "4999");
      g_ptr_array_add (argv, "-o");
      g_ptr_array_add (argv, bench->perf_file);
      g_ptr_array_add (argv, "--");
    }
  g_ptr_array_add (argv, (char *) exe);
  g_ptr_array_add (argv, "--mailer-child");
  g_ptr_array_add (argv, (char *) store_dir);
  g_ptr_array_add (argv, "--child-mode");
  g_ptr_array_add (argv, mode == CHILD_SYNC ? "sync" : (char *) body_mode_keys[body_mode]);
  g_ptr_array_add (argv, "--port");
  g_ptr_array_add (argv, port);
  g_ptr_array_add (argv, "--pin");
  g_ptr_array_add (argv, bench->pin);
  g_ptr_array_add (argv, "--user");
  g_ptr_array_add (argv, (char *) user);
  g_ptr_array_add (argv, "--messages");
  g_ptr_array_add (argv, expect);
  g_ptr_array_add (argv, "--fetch-depth");
  g_ptr_array_add (argv, depth);
  g_ptr_array_add (argv, NULL);

  status = spawn_measured ((char **) argv->pdata, envp, dir, &run, &child_stdout, &child_stderr);
  if (status != 0 || !parse_child_line (child_stdout, &run) || run.messages != expected)
    run_failed (what, status, run.messages, expected, child_stderr);
  run.server_bytes = server_bytes_since (bench, log_offset);
  return run;
}

/* neomutt, on a pseudo-terminal */

/* Runs neomutt on a terminal of its own (forkpty(), as script(1) does)
 * with a configuration that opens the folder and quits as soon as the
 * index is up.  The time is until the index's status line, which shows
 * the number of messages loaded, is drawn; the process's exit is kept in
 * run->first. */
static Run
run_neomutt_once (Bench      *bench,
                  const char *user,
                  guint       expected,
                  const char *what)
{
  g_autofree char *dir = new_run_dir (bench, "neomutt");
  g_autofree char *rc_path = g_build_filename (dir, "muttrc", NULL);
  g_autofree char *cert_path = g_build_filename (dir, "certificates.pem", NULL);
  g_autofree char *screen_path = g_build_filename (dir, "screen.txt", NULL);
  g_autofree char *url = g_strdup_printf ("imaps://%s@127.0.0.1:%u/INBOX", user, bench->port);
  g_autofree char *cert = NULL;
  g_autofree char *rc = NULL;
  g_autofree char *marker = g_strdup_printf (NEOMUTT_MARKER "%u ", expected);
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) screen = g_string_new (NULL);
  g_auto(GStrv) envp = child_environment (dir);
  char *argv[] = { bench->neomutt, "-n", "-F", rc_path, "-f", url, NULL };
  struct winsize size = { .ws_row = 40, .ws_col = 132 };
  struct rusage usage = { 0, };
  gsize log_offset = log_length (bench);
  gsize searched = 0;
  gint64 start, loaded = 0, deadline;
  int master = -1, status = 0;
  pid_t pid;
  Run run = { 0, };

  if (!g_file_get_contents (bench->certificate_path, &cert, NULL, &error) ||
      !g_file_set_contents (cert_path, cert, -1, &error))
    die ("copying the certificate for neomutt", error);

  /* -n: no system configuration.  No header cache and no body cache:
   * every header comes from the server.  The certificate is accepted
   * because it is in certificate_file; ssl_verify_host=no as asked (it
   * names 127.0.0.1 anyway).  The status line carries a marker and the
   * number of messages; "push <quit>" runs once the index waits for a
   * key, that is after the folder is loaded and the index drawn. */
  rc = g_strdup_printf ("set imap_user = \"%s\"\n"
                        "set imap_pass = \"%s\"\n"
                        "set imap_authenticators = \"login\"\n"
                        "set ssl_force_tls = yes\n"
                        "set certificate_file = \"%s\"\n"
                        "set ssl_verify_host = no\n"
                        "unset header_cache\n"
                        "unset message_cachedir\n"
                        "set folder = \"imaps://%s@127.0.0.1:%u/\"\n"
                        "set spoolfile = \"%s\"\n"
                        "set record = \"\"\n"
                        "set postponed = \"\"\n"
                        "set imap_check_subscribed = no\n"
                        "set imap_idle = no\n"
                        "set mail_check_stats = no\n"
                        "set move = no\n"
                        "set mark_old = no\n"
                        "set quit = yes\n"
                        "set beep = no\n"
                        "set sleep_time = 0\n"
                        "set wait_key = no\n"
                        "set help = no\n"
                        "set status_format = \"" NEOMUTT_MARKER "%%m -%%r-\"\n"
                        "push <quit>\n",
                        user, PASSWORD, cert_path, user, bench->port, url);
  if (!g_file_set_contents_full (rc_path, rc, -1, G_FILE_SET_CONTENTS_NONE, 0600, &error))
    die ("writing the neomutt configuration", error);

  if (verbose)
    progress ("running %s -n -F %s -f %s on a pseudo-terminal", bench->neomutt, rc_path, url);

  start = g_get_monotonic_time ();
  pid = forkpty (&master, NULL, NULL, &size);
  if (pid < 0)
    die ("forkpty", NULL);
  if (pid == 0)
    {
      envp = g_environ_setenv (envp, "TERM", "xterm", TRUE);
      if (chdir (dir) != 0)
        _exit (126);
      execve (argv[0], argv, envp);
      _exit (127);
    }

  /* Seconds for 100,000 messages: minutes mean it waits at a prompt. */
  deadline = start + (gint64) NEOMUTT_TIMEOUT_SECONDS * G_USEC_PER_SEC;
  for (;;)
    {
      struct pollfd fd = { master, POLLIN, 0 };
      char buffer[65536];
      gssize n;
      int ready = poll (&fd, 1, 1000);

      if (ready < 0 && errno == EINTR)
        continue;
      if (g_get_monotonic_time () > deadline)
        {
          kill (pid, SIGKILL);
          g_file_set_contents (screen_path, screen->str, screen->len, NULL);
          die ("neomutt did not finish; its screen is in the kept work directory", NULL);
        }
      if (ready == 0)
        continue;
      n = read (master, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;   /* EIO: the terminal's other side is closed */
      g_string_append_len (screen, buffer, n);
      if (loaded == 0)
        {
          gsize from = searched > strlen (marker) ? searched - strlen (marker) : 0;

          if (g_strstr_len (screen->str + from, screen->len - from, marker) != NULL)
            loaded = g_get_monotonic_time ();
          searched = screen->len;
        }
    }
  wait_measured (pid, &status, &usage);
  run.wall = (g_get_monotonic_time () - start) / 1e6;
  close (master);
  fill_usage (&run, &usage);
  g_file_set_contents (screen_path, screen->str, screen->len, NULL);

  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      bench->keep = TRUE;
      run_failed (what, WIFEXITED (status) ? WEXITSTATUS (status) : -1, 0, expected,
                  "its screen is in screen.txt in the kept work directory");
    }
  if (loaded == 0)
    {
      /* The marker was not seen whole (the terminal library may redraw
       * only part of a line): the whole process is the figure then. */
      if (strstr (screen->str, NEOMUTT_MARKER) == NULL)
        {
          bench->keep = TRUE;
          run_failed (what, 0, 0, expected, "no index was drawn; see screen.txt in the kept work directory");
        }
      bench->neomutt_marker_missed = TRUE;
      loaded = g_get_monotonic_time ();
      run.seconds = run.wall;
    }
  else
    run.seconds = (loaded - start) / 1e6;
  run.first = run.wall;
  run.messages = expected;
  run.server_bytes = server_bytes_since (bench, log_offset);
  settle (bench, dir);
  return run;
}

/* mbsync */

static guint
count_files (const char *maildir)
{
  static const char * const subdirs[] = { "cur", "new" };
  guint n = 0;

  for (guint i = 0; i < G_N_ELEMENTS (subdirs); i++)
    {
      g_autofree char *path = g_build_filename (maildir, subdirs[i], NULL);
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);

      while (dir != NULL && g_dir_read_name (dir) != NULL)
        n++;
    }
  return n;
}

/* Writes the mbsyncrc of @dir for @user: the server's INBOX to the
 * Maildir DIR/mail/INBOX. */
static char *
write_mbsyncrc (Bench      *bench,
                const char *dir,
                const char *user)
{
  g_autofree char *mail = g_build_filename (dir, "mail", NULL);
  g_autofree char *rc = NULL;
  g_autoptr(GError) error = NULL;
  char *rc_path = g_build_filename (dir, "mbsyncrc", NULL);

  g_mkdir (mail, 0700);
  /* Two-way ("Sync All", as Mailer), nothing expunged; the state in the
   * Maildir; the certificate accepted because it is the one in
   * CertificateFile (mbsync checks the host name against the
   * certificate's DNS names still, hence "localhost", which is 127.0.0.1
   * here).  Pipelining and fsync as mbsync's defaults (no
   * limit; FSync yes). */
  rc = g_strdup_printf ("IMAPAccount bench\n"
                        "Host localhost\n"
                        "Port %u\n"
                        "User %s\n"
                        "Pass %s\n"
                        "AuthMechs LOGIN\n"
                        "SSLType IMAPS\n"
                        "CertificateFile %s\n"
                        "\n"
                        "IMAPStore remote\n"
                        "Account bench\n"
                        "\n"
                        "MaildirStore local\n"
                        "Path %s/\n"
                        "Inbox %s/INBOX\n"
                        "\n"
                        "Channel bench\n"
                        "Far :remote:\n"
                        "Near :local:\n"
                        "Patterns INBOX\n"
                        "Create Near\n"
                        "Sync All\n"
                        "Expunge None\n"
                        "SyncState *\n",
                        bench->port, user, PASSWORD, bench->certificate_path, mail, mail);
  if (!g_file_set_contents_full (rc_path, rc, -1, G_FILE_SET_CONTENTS_NONE, 0600, &error))
    die ("writing the mbsync configuration", error);
  return rc_path;
}

/* One mbsync run in @dir (with its mbsyncrc); checks that the Maildir
 * then holds @expected messages. */
static Run
run_mbsync_in (Bench      *bench,
               const char *dir,
               guint       expected,
               const char *what)
{
  g_autofree char *rc_path = g_build_filename (dir, "mbsyncrc", NULL);
  g_autofree char *inbox = g_build_filename (dir, "mail", "INBOX", NULL);
  g_autofree char *child_stdout = NULL;
  g_autofree char *child_stderr = NULL;
  g_auto(GStrv) envp = child_environment (dir);
  char *argv[] = { bench->mbsync, "-c", rc_path, "bench", NULL };
  gsize log_offset = log_length (bench);
  Run run = { 0, };
  int status;

  status = spawn_measured (argv, envp, dir, &run, &child_stdout, &child_stderr);
  run.seconds = run.wall;
  run.messages = count_files (inbox);
  if (status != 0 || run.messages != expected)
    run_failed (what, status, run.messages, expected,
                child_stderr && child_stderr[0] ? child_stderr : child_stdout);
  run.server_bytes = server_bytes_since (bench, log_offset);
  return run;
}

/* Raw drains */

static Run
run_raw_once (Bench      *bench,
              const char *user,
              gboolean    bodies,
              guint       expected,
              const char *what)
{
  g_autofree char *dir = new_run_dir (bench, "raw");
  g_autofree char *port = g_strdup_printf ("%u", bench->port);
  g_autofree char *child_stdout = NULL;
  g_autofree char *child_stderr = NULL;
  g_auto(GStrv) envp = child_environment (NULL);
  char *argv[] = { bench->raw_exe, "--host", "127.0.0.1", "--port", port,
                   "--certificate", bench->certificate_path, "--user", (char *) user,
                   "--items", bodies ? "bodies" : "headers", NULL };
  gsize log_offset = log_length (bench);
  Run run = { 0, };
  int status;

  status = spawn_measured (argv, envp, dir, &run, &child_stdout, &child_stderr);
  if (status != 0 || !parse_child_line (child_stdout, &run) || run.messages != expected)
    run_failed (what, status, run.messages, expected, child_stderr);
  /* The figure is the whole process, like the peers'. */
  run.seconds = run.wall;
  run.server_bytes = server_bytes_since (bench, log_offset);
  settle (bench, dir);
  return run;
}

/* Recording */

static void
record (Bench     *bench,
        RowId      id,
        const Run *run)
{
  Row *row = &bench->rows[id];

  g_array_append_val (row->runs, *run);
  if (id == ROW_DOWNLOAD_MAILER || id == ROW_DOWNLOAD_OTHER || id == ROW_DOWNLOAD_SERIAL ||
      id == ROW_DOWNLOAD_PREFETCH)
    progress ("  %s: %.2f s (headers %.2f s; process %.2f s, CPU %.2f s of which main thread %.2f s), %.0f MiB",
              row->name, run->seconds, run->first, run->wall, run->cpu, run->main_cpu, run->max_rss_kib / 1024.0);
  else if (row->peer == PEER_MAILER)
    progress ("  %s: %.3f s (process %.3f s, CPU %.2f s of which main thread %.2f s), %.0f MiB",
              row->name, run->seconds, run->wall, run->cpu, run->main_cpu, run->max_rss_kib / 1024.0);
  else if (row->peer == PEER_NEOMUTT)
    progress ("  %s: %.3f s (exit at %.3f s, CPU %.2f s), %.0f MiB",
              row->name, run->seconds, run->first, run->cpu, run->max_rss_kib / 1024.0);
  else
    progress ("  %s: %.3f s (CPU %.2f s), %.0f MiB", row->name, run->seconds, run->cpu, run->max_rss_kib / 1024.0);
}

/* Part 1: initial header sync */

static void
headers_mailer (Bench    *bench,
                RowId     id,
                gboolean  profile)
{
  g_autofree char *dir = new_run_dir (bench, "mailer-headers");
  g_autofree char *store_dir = g_build_filename (dir, "data", NULL);
  const char *exe = id == ROW_HEADERS_OTHER ? bench->other_exe : bench->self_exe;
  Run run = spawn_mailer (bench, exe, CHILD_SYNC, BODY_PIPELINED, store_dir, USER, bench->n_messages,
                          profile, bench->rows[id].name);

  if (profile)
    {
      settle (bench, dir);
      return;
    }
  record (bench, id, &run);
  /* The last one is kept for part 2's resync. */
  if (id == ROW_HEADERS_MAILER && bench->parts[2] && !bench->keep)
    {
      if (bench->kept_mailer_dir != NULL)
        remove_tree (bench->kept_mailer_dir);
      g_free (bench->kept_mailer_dir);
      bench->kept_mailer_dir = g_steal_pointer (&dir);
      sync ();
      return;
    }
  settle (bench, dir);
}

static void
part_headers (Bench *bench,
              guint  repetition)
{
  RowId order[] = { ROW_HEADERS_MAILER, ROW_HEADERS_NEOMUTT, ROW_HEADERS_RAW, ROW_HEADERS_OTHER };

  for (guint k = 0; k < G_N_ELEMENTS (order); k++)
    {
      RowId id = order[(repetition + k) % G_N_ELEMENTS (order)];
      Run run;

      if (!bench->rows[id].wanted)
        continue;
      switch (id)
        {
        case ROW_HEADERS_MAILER:
        case ROW_HEADERS_OTHER:
          headers_mailer (bench, id, FALSE);
          break;
        case ROW_HEADERS_NEOMUTT:
          run = run_neomutt_once (bench, USER, bench->n_messages, bench->rows[id].name);
          record (bench, id, &run);
          break;
        default:
          run = run_raw_once (bench, USER, FALSE, bench->n_messages, bench->rows[id].name);
          record (bench, id, &run);
          break;
        }
    }
}

/* Part 2: no-change resync */

typedef struct
{
  const char *user;
  guint size;
  char *mailer_dir;    /* holds data/, synced once */
  char *mbsync_dir;    /* holds mbsyncrc and mail/, synced once */
} ResyncSetup;

static void
resync_setup (Bench       *bench,
              ResyncSetup *setup,
              gboolean     large)
{
  setup->user = large ? USER : SMALL_USER;
  setup->size = large ? bench->n_messages : SMALL_SIZE;

  if (bench->rows[large ? ROW_RESYNC_MAILER : ROW_RESYNC_SMALL_MAILER].wanted)
    {
      if (large && bench->kept_mailer_dir != NULL)
        setup->mailer_dir = g_steal_pointer (&bench->kept_mailer_dir);
      else
        {
          g_autofree char *store_dir = NULL;

          setup->mailer_dir = new_run_dir (bench, "mailer-resync");
          store_dir = g_build_filename (setup->mailer_dir, "data", NULL);
          progress ("  Mailer's first sync of %u messages (not counted)", setup->size);
          spawn_mailer (bench, bench->self_exe, CHILD_SYNC, BODY_PIPELINED, store_dir, setup->user, setup->size,
                        FALSE, "Mailer's first sync");
        }
    }
  if (bench->rows[large ? ROW_RESYNC_MBSYNC : ROW_RESYNC_SMALL_MBSYNC].wanted)
    {
      if (large && bench->kept_mbsync_dir != NULL)
        setup->mbsync_dir = g_steal_pointer (&bench->kept_mbsync_dir);
      else
        {
          g_autofree char *rc = NULL;

          setup->mbsync_dir = new_run_dir (bench, "mbsync-resync");
          rc = write_mbsyncrc (bench, setup->mbsync_dir, setup->user);
          progress ("  mbsync's first sync of %u messages (not counted)", setup->size);
          run_mbsync_in (bench, setup->mbsync_dir, setup->size, "mbsync's first sync");
        }
    }
  sync ();

  /* One resync of each, not counted either: mbsync waits out the second
   * in which its Maildir last changed (up to 1 s), which a resync long
   * after the last sync does not; the same for Mailer, for symmetry. */
  progress ("  one resync of each (not counted)");
  if (setup->mailer_dir != NULL)
    {
      g_autofree char *store_dir = g_build_filename (setup->mailer_dir, "data", NULL);

      spawn_mailer (bench, bench->self_exe, CHILD_SYNC, BODY_PIPELINED, store_dir, setup->user, setup->size,
                    FALSE, "Mailer's first resync");
    }
  if (setup->mbsync_dir != NULL)
    run_mbsync_in (bench, setup->mbsync_dir, setup->size, "mbsync's first resync");
  sync ();
}

static void
resync_teardown (Bench       *bench,
                 ResyncSetup *setup)
{
  if (setup->mailer_dir != NULL)
    settle (bench, setup->mailer_dir);
  if (setup->mbsync_dir != NULL)
    settle (bench, setup->mbsync_dir);
  g_free (setup->mailer_dir);
  g_free (setup->mbsync_dir);
}

static void
part_resync (Bench *bench,
             guint  repetitions)
{
  for (guint s = 0; s < 2; s++)
    {
      gboolean large = s == 1;
      RowId mailer = large ? ROW_RESYNC_MAILER : ROW_RESYNC_SMALL_MAILER;
      RowId other = large ? ROW_RESYNC_OTHER : ROW_RESYNC_SMALL_OTHER;
      RowId mbsync = large ? ROW_RESYNC_MBSYNC : ROW_RESYNC_SMALL_MBSYNC;
      RowId order[] = { mailer, mbsync, other };
      ResyncSetup setup = { 0, };

      if (!bench->rows[mailer].wanted && !bench->rows[mbsync].wanted)
        continue;
      progress ("part 2, resync of %u messages: setting up", large ? bench->n_messages : SMALL_SIZE);
      resync_setup (bench, &setup, large);
      for (guint r = 0; r < repetitions; r++)
        {
          progress ("part 2, %u messages, repetition %u of %u", setup.size, r + 1, repetitions);
          for (guint k = 0; k < G_N_ELEMENTS (order); k++)
            {
              RowId id = order[(r + k) % G_N_ELEMENTS (order)];
              Run run;

              if (!bench->rows[id].wanted)
                continue;
              if (id == mbsync)
                run = run_mbsync_in (bench, setup.mbsync_dir, setup.size, bench->rows[id].name);
              else
                {
                  g_autofree char *store_dir = g_build_filename (setup.mailer_dir, "data", NULL);

                  run = spawn_mailer (bench, id == other ? bench->other_exe : bench->self_exe, CHILD_SYNC,
                                      BODY_PIPELINED, store_dir, setup.user, setup.size, FALSE,
                                      bench->rows[id].name);
                }
              record (bench, id, &run);
              sync ();
            }
        }
      if (bench->perf_file != NULL && bench->perf_part == 2 && large)
        {
          g_autofree char *store_dir = g_build_filename (setup.mailer_dir, "data", NULL);

          progress ("Mailer's resync once more under perf record -g, into %s", bench->perf_file);
          spawn_mailer (bench, bench->self_exe, CHILD_SYNC, BODY_PIPELINED, store_dir, setup.user, setup.size,
                        TRUE, "Mailer under perf");
        }
      resync_teardown (bench, &setup);
    }
}

/* Part 3: full offline download */

static void
download_mailer (Bench    *bench,
                 RowId     id,
                 gboolean  profile)
{
  g_autofree char *dir = new_run_dir (bench, "mailer-bodies");
  g_autofree char *store_dir = g_build_filename (dir, "data", NULL);
  const char *exe = id == ROW_DOWNLOAD_OTHER ? bench->other_exe : bench->self_exe;
  BodyMode mode = id == ROW_DOWNLOAD_SERIAL ? BODY_SERIAL : id == ROW_DOWNLOAD_PREFETCH ? BODY_PREFETCH : BODY_PIPELINED;
  Run run = spawn_mailer (bench, exe, CHILD_BODIES, mode, store_dir, USER, bench->n_messages, profile,
                          bench->rows[id].name);

  if (!profile)
    record (bench, id, &run);
  settle (bench, dir);
}

static void
download_mbsync (Bench *bench)
{
  g_autofree char *dir = new_run_dir (bench, "mbsync-full");
  g_autofree char *rc = write_mbsyncrc (bench, dir, USER);
  Run run = run_mbsync_in (bench, dir, bench->n_messages, bench->rows[ROW_DOWNLOAD_MBSYNC].name);

  record (bench, ROW_DOWNLOAD_MBSYNC, &run);
  /* The last one is kept for part 2's resync. */
  if (bench->parts[2] && bench->rows[ROW_RESYNC_MBSYNC].wanted && !bench->keep)
    {
      if (bench->kept_mbsync_dir != NULL)
        remove_tree (bench->kept_mbsync_dir);
      g_free (bench->kept_mbsync_dir);
      bench->kept_mbsync_dir = g_steal_pointer (&dir);
      sync ();
      return;
    }
  settle (bench, dir);
}

static void
part_download (Bench *bench,
               guint  repetition)
{
  RowId order[] = { ROW_DOWNLOAD_MAILER, ROW_DOWNLOAD_MBSYNC, ROW_DOWNLOAD_RAW, ROW_DOWNLOAD_SERIAL,
                    ROW_DOWNLOAD_PREFETCH, ROW_DOWNLOAD_OTHER };

  for (guint k = 0; k < G_N_ELEMENTS (order); k++)
    {
      RowId id = order[(repetition + k) % G_N_ELEMENTS (order)];
      Run run;

      if (!bench->rows[id].wanted)
        continue;
      switch (id)
        {
        case ROW_DOWNLOAD_MBSYNC:
          download_mbsync (bench);
          break;
        case ROW_DOWNLOAD_RAW:
          run = run_raw_once (bench, USER, TRUE, bench->n_messages, bench->rows[id].name);
          record (bench, id, &run);
          break;
        default:
          download_mailer (bench, id, FALSE);
          break;
        }
    }
}

/* The Mailer side: in this process, as the child */

typedef struct
{
  gboolean finished;
  gboolean ok;
  GError *error;
  guint inserted;
  MailerImapSyncResult result;
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

  state->ok = mailer_imap_sync_run_finish (MAILER_IMAP_SYNC (source), result, &state->result, &state->error);
  state->finished = TRUE;
}

static gboolean
child_timeout_cb (gpointer user_data)
{
  die ("the Mailer child took too long", NULL);
}

static void
run_sync_once (MailerImapSync *sync_run,
               ChildState     *state)
{
  state->finished = FALSE;
  mailer_imap_sync_run_async (sync_run, NULL, sync_done_cb, state);
  while (!state->finished)
    g_main_context_iteration (NULL, TRUE);
  if (!state->ok)
    die ("the sync failed", state->error);
}

typedef struct
{
  MailerImapSync *sync;
  GArray *pairs;        /* gint64 pairs (message id, UID) */
  guint next;
  guint done;
  guint in_flight;
  guint depth;
  GError *error;
} BodyFetch;

static void fetch_more (BodyFetch *fetch);

static void
body_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  BodyFetch *fetch = user_data;
  GError *error = NULL;

  if (!mailer_imap_sync_fetch_body_finish (MAILER_IMAP_SYNC (source), result, &error))
    {
      if (fetch->error == NULL)
        fetch->error = error;
      else
        g_error_free (error);
    }
  fetch->in_flight--;
  fetch->done++;
  fetch_more (fetch);
}

static void
fetch_more (BodyFetch *fetch)
{
  while (fetch->error == NULL && fetch->in_flight < fetch->depth && 2 * fetch->next < fetch->pairs->len)
    {
      gint64 id = g_array_index (fetch->pairs, gint64, 2 * fetch->next);

      fetch->next++;
      fetch->in_flight++;
      mailer_imap_sync_fetch_body_async (fetch->sync, id, NULL, body_done_cb, fetch);
    }
}

static gint64
inbox_id (MailerStore   *store,
          MailerAccount *account)
{
  g_autoptr(GPtrArray) folders = NULL;
  g_autoptr(GError) error = NULL;

  folders = mailer_store_list_folders (store, mailer_account_get_id (account), &error);
  if (folders == NULL)
    die ("listing the folders", error);
  for (guint i = 0; i < folders->len; i++)
    if (mailer_folder_get_role (g_ptr_array_index (folders, i)) == MAILER_FOLDER_ROLE_INBOX)
      return mailer_folder_get_id (g_ptr_array_index (folders, i));
  die ("the store has no inbox", NULL);
}

static guint
count_missing_bodies (MailerStore *store,
                      gint64       folder_id)
{
  g_autoptr(GArray) pairs = NULL;
  g_autoptr(GError) error = NULL;

  pairs = mailer_store_list_missing_bodies (store, folder_id, 0, G_MAXINT, &error);
  if (pairs == NULL)
    die ("listing the missing bodies", error);
  return pairs->len / 2;
}

static int
mailer_child (const char *store_dir,
              const char *mode,
              guint16     port,
              const char *pin,
              const char *user,
              guint       expected,
              guint       depth)
{
  g_autoptr(MailerStore) store = NULL;
  g_autoptr(MailerAccount) account = NULL;
  g_autoptr(MailerImapSync) sync_run = NULL;
  g_autoptr(GPtrArray) accounts = NULL;
  g_autoptr(GArray) uids = NULL;
  g_autoptr(GError) error = NULL;
  const char *password = g_getenv ("MAILER_BENCH_PASSWORD");
  gboolean bodies = !g_str_equal (mode, "sync");
  BodyMode body_mode = BODY_PIPELINED;
  ChildState state = { 0, };
  struct rusage usage;
  gint64 start, headers_done = 0, elapsed;
  gint64 folder_id;
  guint runs = 1, messages;

  if (password == NULL)
    die ("MAILER_BENCH_PASSWORD is not set", NULL);
  if (bodies)
    {
      guint m;

      for (m = 0; m < N_BODY_MODES; m++)
        if (g_str_equal (mode, body_mode_keys[m]))
          break;
      if (m == N_BODY_MODES)
        die ("unknown --child-mode", NULL);
      body_mode = m;
    }
  g_timeout_add_seconds (CHILD_TIMEOUT_SECONDS, child_timeout_cb, NULL);

  start = g_get_monotonic_time ();
  store = mailer_store_open (store_dir, &error);
  if (store == NULL)
    die ("opening the store", error);

  /* The account of an earlier run (a resync), or a new one. */
  accounts = mailer_store_list_accounts (store, &error);
  if (accounts == NULL)
    die ("listing the accounts", error);
  if (accounts->len > 0)
    account = g_object_ref (g_ptr_array_index (accounts, 0));
  else
    {
      account = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
      mailer_account_set_host (account, "127.0.0.1");
      mailer_account_set_port (account, port);
      mailer_account_set_security (account, MAILER_SECURITY_TLS);
      mailer_account_set_username (account, user);
      mailer_account_set_pinned_certificate (account, pin);
      /* Headers only, unless the sync's own fetching ahead is measured. */
      mailer_account_set_prefetch_days (account, body_mode == BODY_PREFETCH && bodies
                                                 ? MAILER_ACCOUNT_PREFETCH_ALL : 0);
      mailer_store_save_account_async (store, account, NULL, account_saved_cb, &state);
      while (!state.finished)
        g_main_context_iteration (NULL, TRUE);
      if (!state.ok)
        die ("saving the account", state.error);
    }

  memset (&state, 0, sizeof state);
  g_signal_connect (store, "changed", G_CALLBACK (store_changed_cb), &state);
  sync_run = mailer_imap_sync_new (store, account, password);
  run_sync_once (sync_run, &state);
  folder_id = inbox_id (store, account);

  /* A first sync: until its last window's commit has been heard of. */
  if (state.result.n_new > 0)
    while (state.inserted < state.result.n_new)
      g_main_context_iteration (NULL, TRUE);
  headers_done = g_get_monotonic_time ();

  if (bodies && body_mode == BODY_PREFETCH)
    {
      /* Each run fetches a bounded number ahead: run until none is
       * missing. */
      guint limit = expected / 100 + 10;

      while (count_missing_bodies (store, folder_id) > 0)
        {
          if (++runs > limit)
            die ("fetching ahead does not get every body", NULL);
          run_sync_once (sync_run, &state);
        }
    }
  else if (bodies)
    {
      BodyFetch fetch = { 0, };

      fetch.sync = sync_run;
      fetch.depth = MAX (depth, 1);
      fetch.pairs = mailer_store_list_missing_bodies (store, folder_id, 0, G_MAXINT, &error);
      if (fetch.pairs == NULL)
        die ("listing the missing bodies", error);
      fetch_more (&fetch);
      while (fetch.in_flight > 0)
        g_main_context_iteration (NULL, TRUE);
      if (fetch.error != NULL)
        die ("fetching a body", fetch.error);
      g_array_unref (fetch.pairs);
    }

  elapsed = g_get_monotonic_time () - start;
  uids = mailer_store_list_folder_uids (store, folder_id, &error);
  if (uids == NULL)
    die ("listing the stored UIDs", error);
  messages = uids->len;
  if (bodies && count_missing_bodies (store, folder_id) > 0)
    {
      g_printerr ("%u of %u bodies are missing at the end\n", count_missing_bodies (store, folder_id), messages);
      messages = 0;
    }

  /* The main thread does the network, TLS and IMAP; the store's threads
   * the rest. */
  getrusage (RUSAGE_THREAD, &usage);
  g_print ("messages %u seconds %.4f main-thread-cpu %.3f headers-seconds %.4f runs %u new %u\n",
           messages, elapsed / 1e6,
           usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
           usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6,
           (headers_done - start) / 1e6, runs, state.result.n_new);
  g_printerr ("first run: %u new, %u flag changes, %u vanished, %u folders\n",
              state.result.n_new, state.result.n_flag_changes, state.result.n_vanished, state.result.n_folders);
  return 0;
}

/* Seeding */

typedef struct
{
  guint serial;
  char *name;
} SeededFile;

static gint
compare_seeded (gconstpointer a,
                gconstpointer b)
{
  const SeededFile *x = a, *y = b;

  return x->serial < y->serial ? -1 : x->serial > y->serial;
}

/* Gives the seeded files of @user's INBOX the names Dovecot gives what it
 * delivers: ",S=size,W=size with CRLF" after the base.  The fixture's
 * names all end in the same ".mailer-test", on which Dovecot's hash of
 * Maildir names (ELF-like, four bits a character) collides: past some
 * 10,000 messages its lookups dominate every session's time (30% of the
 * server's CPU at 20,000) and grow faster than the mailbox.  @sizes holds
 * (size, virtual size) pairs in the order of seeding, which is the order
 * of the fixture's serial ("Q" field). */
static void
name_like_dovecot (Bench      *bench,
                   const char *user,
                   GArray     *sizes)
{
  g_autofree char *maildir = mailer_test_dovecot_get_maildir (bench->dovecot, user);
  g_autofree char *cur = g_build_filename (maildir, "cur", NULL);
  g_autoptr(GDir) dir = g_dir_open (cur, 0, NULL);
  g_autoptr(GArray) files = g_array_new (FALSE, FALSE, sizeof (SeededFile));
  const char *name;

  if (dir == NULL)
    die ("reading the seeded Maildir", NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      const char *q = strstr (name, "Q");
      SeededFile file;

      if (q == NULL || strchr (name, ':') == NULL)
        die ("a seeded file is not named as expected", NULL);
      file.serial = g_ascii_strtoull (q + 1, NULL, 10);
      file.name = g_strdup (name);
      g_array_append_val (files, file);
    }
  if (files->len * 2 != sizes->len)
    die ("the seeded Maildir does not hold the messages seeded", NULL);
  g_array_sort (files, compare_seeded);
  for (guint i = 0; i < files->len; i++)
    {
      SeededFile *file = &g_array_index (files, SeededFile, i);
      const char *info = strchr (file->name, ':');
      g_autofree char *base = g_strndup (file->name, info - file->name);
      g_autofree char *from = g_build_filename (cur, file->name, NULL);
      g_autofree char *renamed = g_strdup_printf ("%s,S=%" G_GUINT64_FORMAT ",W=%" G_GUINT64_FORMAT "%s",
                                                 base, g_array_index (sizes, guint64, 2 * i),
                                                 g_array_index (sizes, guint64, 2 * i + 1), info);
      g_autofree char *to = g_build_filename (cur, renamed, NULL);

      if (g_rename (from, to) != 0)
        die ("renaming a seeded file", NULL);
      g_free (file->name);
    }
}

static void
seed_one (Bench                   *bench,
          const char              *user,
          guint                    n,
          MailerBenchMailboxStats *stats)
{
  g_autoptr(MailerBenchMailbox) mailbox = mailer_bench_mailbox_new (n, MAILER_BENCH_MAILBOX_DEFAULT_SEED);
  g_autoptr(GArray) sizes = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_autoptr(GError) error = NULL;
  GBytes *message;

  while ((message = mailer_bench_mailbox_next (mailbox)) != NULL)
    {
      gsize size;
      const char *data = g_bytes_get_data (message, &size);
      guint64 stored = size, vsize = size;

      for (const char *p = data; p != NULL && p < data + size; p++)
        if ((p = memchr (p, '\n', data + size - p)) == NULL)
          break;
        else if (p == data || p[-1] != '\r')
          vsize++;
      g_array_append_val (sizes, stored);
      g_array_append_val (sizes, vsize);
      if (!mailer_test_dovecot_seed_bytes (bench->dovecot, user, "INBOX", message, NULL, &error))
        die ("seeding the mailbox", error);
      g_bytes_unref (message);
    }
  *stats = *mailer_bench_mailbox_get_stats (mailbox);
  name_like_dovecot (bench, user, sizes);
}

/* Peers: found, or installed from Debian's packages when root */

static gboolean
install_peers (const char * const *packages)
{
  g_autofree char *list = g_strjoinv (" ", (char **) packages);
  g_auto(GStrv) envp = g_environ_setenv (g_get_environ (), "DEBIAN_FRONTEND", "noninteractive", TRUE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  int status = 1;

  if (getuid () != 0)
    {
      g_printerr ("imap-bench: the peers of this benchmark are not installed.\n"
                  "Install them with:\n  sudo apt-get install -y --no-install-recommends %s\n"
                  "To go without them: --peers mailer,raw\n", list);
      return FALSE;
    }
  progress ("installing %s", list);
  for (guint attempt = 0; attempt < 2 && status != 0; attempt++)
    {
      if (attempt == 1)
        {
          char *update[] = { "apt-get", "update", NULL };

          g_spawn_sync (NULL, update, envp, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                        NULL, NULL, NULL, NULL, &status, NULL);
        }
      g_ptr_array_set_size (argv, 0);
      g_ptr_array_add (argv, "apt-get");
      g_ptr_array_add (argv, "install");
      g_ptr_array_add (argv, "-y");
      g_ptr_array_add (argv, "--no-install-recommends");
      for (guint i = 0; packages[i] != NULL; i++)
        g_ptr_array_add (argv, (char *) packages[i]);
      g_ptr_array_add (argv, NULL);
      if (!g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                         NULL, NULL, NULL, NULL, &status, NULL))
        status = 1;
    }
  if (status != 0)
    {
      g_printerr ("imap-bench: apt-get install %s failed\n", list);
      return FALSE;
    }
  return TRUE;
}

static gboolean
find_peers (Bench *bench)
{
  const char *packages[3] = { NULL, };
  guint n = 0;

  if (bench->peers[PEER_NEOMUTT] && (bench->neomutt = g_find_program_in_path ("neomutt")) == NULL)
    packages[n++] = "neomutt";
  if (bench->peers[PEER_MBSYNC] && (bench->mbsync = g_find_program_in_path ("mbsync")) == NULL)
    packages[n++] = "isync";
  if (n == 0)
    return TRUE;
  if (!install_peers (packages))
    return FALSE;
  if (bench->peers[PEER_NEOMUTT] && bench->neomutt == NULL)
    bench->neomutt = g_find_program_in_path ("neomutt");
  if (bench->peers[PEER_MBSYNC] && bench->mbsync == NULL)
    bench->mbsync = g_find_program_in_path ("mbsync");
  if ((bench->peers[PEER_NEOMUTT] && bench->neomutt == NULL) ||
      (bench->peers[PEER_MBSYNC] && bench->mbsync == NULL))
    {
      g_printerr ("imap-bench: neomutt or mbsync is still not in PATH after installing\n");
      return FALSE;
    }
  return TRUE;
}

/* The report */

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
append_machine (GString  *report,
                Bench    *bench)
{
  struct utsname uts;
  g_autofree char *cpu = cpu_model ();
  g_autofree char *dovecot_version = first_line_of_command ((const char *[]) { "dovecot", "--version", NULL });
  g_autofree char *neomutt_version = NULL;
  g_autofree char *mbsync_version = NULL;
  gboolean tmpfs;
  const char *fs = file_system_name (bench->work_dir, &tmpfs);

  if (bench->neomutt != NULL)
    neomutt_version = first_line_of_command ((const char *[]) { bench->neomutt, "-v", NULL });
  if (bench->mbsync != NULL)
    mbsync_version = first_line_of_command ((const char *[]) { bench->mbsync, "--version", NULL });
  uname (&uts);
  g_string_append (report, "## Machine\n\n");
  g_string_append_printf (report, "- CPU: %s, %u cores\n", cpu, g_get_num_processors ());
  g_string_append_printf (report, "- Memory: %.1f GiB\n", memory_total_kib () / 1048576.0);
  g_string_append_printf (report, "- Kernel: %s %s (%s)\n", uts.sysname, uts.release, uts.machine);
  g_string_append_printf (report, "- Stores, Maildirs and sinks: %s (%s)\n", bench->work_dir, fs);
  g_string_append_printf (report, "- Dovecot %s; %s; %s; GLib %u.%u.%u; SQLite %s; TLS backend %s\n",
                          dovecot_version,
                          neomutt_version ? neomutt_version : "neomutt not run",
                          mbsync_version ? mbsync_version : "mbsync not run",
                          glib_major_version, glib_minor_version, glib_micro_version,
                          sqlite3_libversion (),
                          G_OBJECT_TYPE_NAME (g_tls_backend_get_default ()));
  g_string_append_printf (report, "- Load average (1, 5, 15 min) before: %s; after: %s\n",
                          bench->load_before, bench->load_after);
  if (tmpfs)
    g_string_append (report, "\n**Warning:** the work directory is on tmpfs, where fsync does nothing: "
                             "the figures of every peer that writes are too good. Set TMPDIR to a "
                             "directory on a disk.\n");
  g_string_append_c (report, '\n');
}

static const char *
met (double   value,
     double   target)
{
  return value <= target ? "yes" : "**no**";
}

static void
append_row (GString *report,
            Bench   *bench,
            RowId    id,
            double   mailer_median,
            gboolean with_size)
{
  Row *row = &bench->rows[id];
  double min, max, median, rss, cpu, bytes;

  if (!row_has_runs (bench, id))
    return;
  median = median_of (row->runs, G_STRUCT_OFFSET (Run, seconds), &min, &max);
  rss = median_of (row->runs, G_STRUCT_OFFSET (Run, max_rss_kib), NULL, NULL);
  cpu = median_of (row->runs, G_STRUCT_OFFSET (Run, cpu), NULL, NULL);
  bytes = median_of (row->runs, G_STRUCT_OFFSET (Run, server_bytes), NULL, NULL);
  g_string_append (report, "| ");
  if (with_size)
    g_string_append_printf (report, "%u | ", row->size);
  g_string_append_printf (report, "%s | %.3f | %.3f–%.3f | %.0f | %.2f | %.0f | %.1f |",
                          row->name, median, min, max, row->size / median, cpu, rss / 1024.0, bytes / 1e6);
  if (row->peer != PEER_MAILER && mailer_median > 0)
    g_string_append_printf (report, " %.2f |\n", mailer_median / median);
  else
    g_string_append (report, " |\n");
}

static void
append_target (GString    *report,
               const char *measure,
               double      mailer,
               double      peer,
               const char *peer_name,
               double      target,
               const char *note)
{
  if (mailer <= 0 || peer <= 0)
    return;
  g_string_append_printf (report, "| %s | %.3f s | %s %.3f s | %.2f | ≤ %.2f%s | %s |\n",
                          measure, mailer, peer_name, peer, mailer / peer, target, note ? note : "",
                          met (mailer / peer, target));
}

static char *
build_report (Bench *bench,
              guint  repetitions)
{
  GString *report = g_string_new (NULL);
  double mb = bench->stats.bytes / 1e6;
  gboolean at_target_size = bench->n_messages >= TARGET_SIZE;
  const char *size_note = at_target_size ? NULL : " (set at 100,000)";

  g_string_append (report, "# IMAP benchmark\n\n");
  append_machine (report, bench);

  g_string_append (report, "## Mailbox\n\n");
  g_string_append_printf (report,
                          "%u generated messages in INBOX, %.1f MB as stored (LF line ends; more on the wire "
                          "with CRLF), %.1f KB on average: %u replies, %u with HTML, %u with a base64 "
                          "attachment, %u subjects in RFC 2047 encoded words. ",
                          bench->stats.n_messages, mb, bench->stats.n_messages ? mb * 1000 / bench->stats.n_messages : 0.0,
                          bench->stats.n_replies, bench->stats.n_alternative, bench->stats.n_attachments,
                          bench->stats.n_encoded_subjects);
  if (bench->small_stats.n_messages > 0)
    g_string_append_printf (report, "A second account has %u messages (%.1f MB), for the resync at 1,000. ",
                            bench->small_stats.n_messages, bench->small_stats.bytes / 1e6);
  g_string_append_printf (report,
                          "Generated and written into the fixture's Maildirs before Dovecot starts in %.1f s, "
                          "the files then named as Dovecot names what it delivers (\",S=size,W=vsize\"; "
                          "with the fixture's names Dovecot's hash of them collides). "
                          "Dovecot on loopback, IMAP over implicit TLS, its certificate pinned or listed by "
                          "every peer; each peer in a rotating order within a repetition; every figure is the "
                          "median of %u, the spread min–max. \"Server sent\" is what Dovecot logged as sent "
                          "in the session (out=, before TLS).\n\n",
                          bench->seed_seconds, repetitions);

  /* Part 1 */
  if (bench->parts[1])
    {
      double mailer = row_median (bench, ROW_HEADERS_MAILER);

      g_string_append_printf (report, "## 1. Initial header sync, %u messages\n\n", bench->n_messages);
      g_string_append (report, "| peer | time (s) | spread (s) | messages/s | CPU (s) | peak RSS (MiB) | server sent (MB) | Mailer ÷ peer |\n");
      g_string_append (report, "|---|---:|---:|---:|---:|---:|---:|---:|\n");
      for (RowId id = ROW_HEADERS_MAILER; id <= ROW_HEADERS_RAW; id++)
        append_row (report, bench, id, mailer, FALSE);
      if (row_has_runs (bench, ROW_HEADERS_MAILER))
        g_string_append_printf (report, "\nMailer's CPU time: %.2f s, of which %.2f s in its main thread "
                                        "(TLS, IMAP parsing, building the summaries); whole child process %.3f s "
                                        "(medians).\n",
                                median_of (bench->rows[ROW_HEADERS_MAILER].runs, G_STRUCT_OFFSET (Run, cpu), NULL, NULL),
                                median_of (bench->rows[ROW_HEADERS_MAILER].runs, G_STRUCT_OFFSET (Run, main_cpu), NULL, NULL),
                                median_of (bench->rows[ROW_HEADERS_MAILER].runs, G_STRUCT_OFFSET (Run, wall), NULL, NULL));
      if (row_has_runs (bench, ROW_HEADERS_NEOMUTT))
        g_string_append_printf (report, "neomutt's whole process, to its exit after the index: %.3f s (median)%s.\n",
                                median_of (bench->rows[ROW_HEADERS_NEOMUTT].runs, G_STRUCT_OFFSET (Run, first), NULL, NULL),
                                bench->neomutt_marker_missed
                                ? "; in some runs the status line was not seen whole, and the exit was timed instead" : "");
      g_string_append_c (report, '\n');
    }

  /* Part 2 */
  if (bench->parts[2])
    {
      g_string_append (report, "## 2. No-change resync\n\n");
      g_string_append (report, "| messages | peer | time (s) | spread (s) | messages/s | CPU (s) | peak RSS (MiB) | server sent (MB) | Mailer ÷ peer |\n");
      g_string_append (report, "|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
      for (RowId id = ROW_RESYNC_SMALL_MAILER; id <= ROW_RESYNC_SMALL_MBSYNC; id++)
        append_row (report, bench, id, row_median (bench, ROW_RESYNC_SMALL_MAILER), TRUE);
      for (RowId id = ROW_RESYNC_MAILER; id <= ROW_RESYNC_MBSYNC; id++)
        append_row (report, bench, id, row_median (bench, ROW_RESYNC_MAILER), TRUE);
      if (row_has_runs (bench, ROW_RESYNC_MAILER))
        g_string_append_printf (report, "\nMailer's figure runs from opening the store to the end of the run "
                                        "(connecting, logging in, listing and selecting every folder with "
                                        "QRESYNC, searching for UIDs above the highest known); its whole child "
                                        "process took %.3f s (median), mbsync's figure is its whole process.\n",
                                median_of (bench->rows[ROW_RESYNC_MAILER].runs, G_STRUCT_OFFSET (Run, wall), NULL, NULL));
      if (row_has_runs (bench, ROW_RESYNC_MAILER) && row_has_runs (bench, ROW_RESYNC_SMALL_MAILER))
        g_string_append_printf (report, "\nMailer at %u ÷ Mailer at %u: %.2f; mbsync likewise: %.2f.\n",
                                bench->n_messages, SMALL_SIZE,
                                row_median (bench, ROW_RESYNC_MAILER) / row_median (bench, ROW_RESYNC_SMALL_MAILER),
                                row_has_runs (bench, ROW_RESYNC_MBSYNC) && row_has_runs (bench, ROW_RESYNC_SMALL_MBSYNC)
                                ? row_median (bench, ROW_RESYNC_MBSYNC) / row_median (bench, ROW_RESYNC_SMALL_MBSYNC)
                                : 0.0);
      g_string_append_c (report, '\n');
    }

  /* Part 3 */
  if (bench->parts[3])
    {
      double mailer = row_median (bench, ROW_DOWNLOAD_MAILER);

      g_string_append_printf (report, "## 3. Full offline download, %u messages\n\n", bench->n_messages);
      g_string_append (report, "| peer | time (s) | spread (s) | messages/s | CPU (s) | peak RSS (MiB) | server sent (MB) | Mailer ÷ peer |\n");
      g_string_append (report, "|---|---:|---:|---:|---:|---:|---:|---:|\n");
      for (RowId id = ROW_DOWNLOAD_MAILER; id <= ROW_DOWNLOAD_RAW; id++)
        append_row (report, bench, id, mailer, FALSE);
      g_string_append_c (report, '\n');
      for (RowId id = ROW_DOWNLOAD_MAILER; id <= ROW_DOWNLOAD_PREFETCH; id++)
        if (row_has_runs (bench, id))
          {
            GArray *runs = bench->rows[id].runs;
            double total = median_of (runs, G_STRUCT_OFFSET (Run, seconds), NULL, NULL);
            double headers = median_of (runs, G_STRUCT_OFFSET (Run, first), NULL, NULL);

            if (id == ROW_DOWNLOAD_PREFETCH)
              g_string_append_printf (report, "- %s: %.0f sync runs; the first (headers, and the first "
                                              "bodies fetched ahead) %.2f s, the others %.2f s",
                                      bench->rows[id].name,
                                      median_of (runs, G_STRUCT_OFFSET (Run, runs), NULL, NULL),
                                      headers, total - headers);
            else
              g_string_append_printf (report, "- %s: header sync %.2f s, then bodies %.2f s (%.0f bodies/s)",
                                      bench->rows[id].name, headers, total - headers,
                                      bench->n_messages / MAX (total - headers, 1e-6));
            g_string_append_printf (report, "; CPU %.2f s, of which %.2f s in the main thread (network, TLS, "
                                            "IMAP) and the rest in the store's threads (MIME parsing, SQLite, "
                                            "search index).\n",
                                    median_of (runs, G_STRUCT_OFFSET (Run, cpu), NULL, NULL),
                                    median_of (runs, G_STRUCT_OFFSET (Run, main_cpu), NULL, NULL));
          }
      g_string_append_c (report, '\n');
    }

  /* Part 4 */
  g_string_append (report, "## 4. Peak RSS of each process\n\n");
  g_string_append (report, "| part | peer | messages | peak RSS (MiB) | spread (MiB) |\n|---|---|---:|---:|---:|\n");
  for (RowId id = 0; id < N_ROWS; id++)
    if (row_has_runs (bench, id))
      {
        double min, max, rss = median_of (bench->rows[id].runs, G_STRUCT_OFFSET (Run, max_rss_kib), &min, &max);
        guint part = id <= ROW_HEADERS_RAW ? 1 : id <= ROW_RESYNC_MBSYNC ? 2 : 3;

        g_string_append_printf (report, "| %u | %s | %u | %.1f | %.1f–%.1f |\n", part, bench->rows[id].name,
                                bench->rows[id].size, rss / 1024.0, min / 1024.0, max / 1024.0);
      }
  g_string_append_c (report, '\n');

  /* Targets */
  g_string_append (report, "## Targets\n\n");
  g_string_append (report, "| measure | Mailer | peer | Mailer ÷ peer | target | met |\n|---|---:|---:|---:|---|---|\n");
  append_target (report, "1. header sync vs neomutt", row_median (bench, ROW_HEADERS_MAILER),
                 row_median (bench, ROW_HEADERS_NEOMUTT), "neomutt", TARGET_HEADERS_VS_NEOMUTT, NULL);
  append_target (report, "1. header sync vs raw drain", row_median (bench, ROW_HEADERS_MAILER),
                 row_median (bench, ROW_HEADERS_RAW), "raw", TARGET_HEADERS_VS_RAW, NULL);
  {
    g_autofree char *measure = g_strdup_printf ("2. resync vs mbsync, %u messages", bench->n_messages);
    g_autofree char *growth = g_strdup_printf ("2. resync at %u vs at %u", bench->n_messages, SMALL_SIZE);

    append_target (report, measure, row_median (bench, ROW_RESYNC_MAILER), row_median (bench, ROW_RESYNC_MBSYNC),
                   "mbsync", TARGET_RESYNC_VS_MBSYNC, size_note);
    if (bench->n_messages > SMALL_SIZE)
      append_target (report, growth, row_median (bench, ROW_RESYNC_MAILER), row_median (bench, ROW_RESYNC_SMALL_MAILER),
                     "Mailer at 1,000", TARGET_RESYNC_GROWTH, size_note);
  }
  append_target (report, "3. full download vs mbsync", row_median (bench, ROW_DOWNLOAD_MAILER),
                 row_median (bench, ROW_DOWNLOAD_MBSYNC), "mbsync", TARGET_DOWNLOAD_VS_MBSYNC, NULL);
  if (row_has_runs (bench, ROW_HEADERS_MAILER))
    {
      double rss = median_of (bench->rows[ROW_HEADERS_MAILER].runs, G_STRUCT_OFFSET (Run, max_rss_kib), NULL, NULL) * 1024;
      double max;

      median_of (bench->rows[ROW_HEADERS_MAILER].runs, G_STRUCT_OFFSET (Run, max_rss_kib), NULL, &max);
      g_string_append_printf (report, "| 4. peak RSS, initial header sync of %u | %.1f MB (max %.1f MB) | | | ≤ 100 MB%s | %s |\n",
                              bench->n_messages, rss / 1e6, max * 1024 / 1e6,
                              at_target_size ? "" : " (set at 100,000)", met (max * 1024, TARGET_RSS_BYTES));
    }
  if (!at_target_size)
    g_string_append_printf (report, "\nThe targets marked \"set at 100,000\" are defined for a mailbox of 100,000 "
                                    "messages; here they are judged at %u (`--messages 100000` for the real test).\n",
                            bench->n_messages);
  g_string_append_c (report, '\n');

  /* How */
  g_string_append (report, "## How each peer was driven\n\n");
  g_string_append (report,
                   "- **Mailer**: `MailerImapSync` in a child process of the benchmark (for its own RSS), on a "
                   "fresh data directory for parts 1 and 3 (SQLite in WAL mode, synchronous=FULL: each committed "
                   "window of summaries is durable). Timed from just before the store is opened to the last "
                   "commit (part 1), to the end of the second run (part 2), to the last body stored (part 3). "
                   "The account has prefetch-days 0 (headers only) except for \"fetching ahead\". Mailer syncs "
                   "every folder of the account: INBOX and five empty special-use folders.\n");
  g_string_append_printf (report,
                          "- **Mailer, part 3**: the header sync, then `mailer_imap_sync_fetch_body_async()` for "
                          "every message (newest first), %u calls outstanding (\"pipelined\": the client pipelines "
                          "the UID FETCHes) or one at a time (\"one by one\"); each body MIME-parsed, indexed for "
                          "search and committed in a transaction of its own. \"Fetching ahead\" is the sync's own "
                          "prefetch with prefetch-days \"all\": runs repeated until no body is missing.\n",
                          bench->fetch_depth);
  g_string_append (report,
                   "- **neomutt**: `neomutt -n -F muttrc -f imaps://USER@127.0.0.1:PORT/INBOX` on a pseudo-terminal "
                   "of 132×40 that the benchmark opens with forkpty() and drains, as script(1) would (TERM=xterm, "
                   "HOME a fresh directory). The muttrc: `imap_user`, `imap_pass`, `imap_authenticators=\"login\"`, "
                   "`ssl_force_tls=yes`, `certificate_file` holding the server's certificate (so it is accepted "
                   "without a prompt), `ssl_verify_host=no`, `unset header_cache`, `unset message_cachedir`, "
                   "`imap_idle=no`, `quit=yes`, `status_format=\"" NEOMUTT_MARKER "%m …\"` and `push <quit>`. "
                   "Timed from the fork until the status line of the index, with the number of messages "
                   "loaded, appears on the terminal: the folder is open and every header fetched and parsed. "
                   "The pushed `<quit>` then ends it; its exit is shown too.\n");
  g_string_append (report,
                   "- **mbsync** (isync): `mbsync -c mbsyncrc bench` with an IMAPStore (IMAPS, `AuthMechs LOGIN`, "
                   "`CertificateFile` the server's certificate) and a MaildirStore, one Channel for INBOX with "
                   "`Sync All`, `Create Near`, `Expunge None`, `SyncState *`, default pipelining and `FSync yes`. "
                   "Part 3: into an empty Maildir; part 2: a second run over a Maildir it synced (untimed) "
                   "before. The whole process is timed; the Maildir is checked to hold every message.\n");
  g_string_append (report,
                   "- **raw drain** (`mailer-imap-raw`): GIO TLS with the certificate pinned, LOGIN, EXAMINE "
                   "INBOX, one `UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE "
                   "BODY.PEEK[HEADER.FIELDS (REFERENCES)])` (part 1) or `UID FETCH 1:* (UID BODY.PEEK[])` "
                   "(part 3), read in 256 KiB reads and dropped; only lines and literal lengths are looked at, "
                   "to count the FETCH responses and find the tagged OK. The whole process is timed.\n");
  g_string_append (report,
                   "- Before the measured runs, untimed: a raw header drain, a raw body drain, one neomutt "
                   "run and one Mailer header sync, so that Dovecot's index and cache hold what every peer asks for and the mail is in "
                   "the page cache. Between runs the run's files are removed and sync(2) flushes what was "
                   "written, untimed. Peak RSS from wait4() on each process.\n\n");

  /* Every run */
  g_string_append (report, "### Every run\n\n| row | run | time (s) | process (s) | CPU (s) | RSS (MiB) | server sent (bytes) |\n|---|---:|---:|---:|---:|---:|---:|\n");
  for (RowId id = 0; id < N_ROWS; id++)
    if (row_has_runs (bench, id))
      for (guint r = 0; r < bench->rows[id].runs->len; r++)
        {
          Run *run = &g_array_index (bench->rows[id].runs, Run, r);

          g_string_append_printf (report, "| %s (%u) | %u | %.3f | %.3f | %.2f | %.0f | %" G_GUINT64_FORMAT " |\n",
                                  bench->rows[id].name, bench->rows[id].size, r + 1, run->seconds, run->wall,
                                  run->cpu, run->max_rss_kib / 1024.0, run->server_bytes);
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
parse_list (const char         *text,
            const char * const *keys,
            guint               n_keys,
            gboolean           *out)
{
  g_auto(GStrv) names = g_strsplit (text, ",", -1);

  memset (out, 0, sizeof (gboolean) * n_keys);
  for (guint i = 0; names[i] != NULL; i++)
    {
      guint k;

      for (k = 0; k < n_keys; k++)
        if (g_str_equal (g_strstrip (names[i]), keys[k]))
          break;
      if (k == n_keys)
        return FALSE;
      out[k] = TRUE;
    }
  return TRUE;
}

static void
setup_rows (Bench *bench)
{
  static const struct { RowId id; const char *name; Peer peer; gboolean large; } rows[] = {
    { ROW_HEADERS_MAILER, "Mailer", PEER_MAILER, TRUE },
    { ROW_HEADERS_OTHER, "Mailer, other build", PEER_MAILER, TRUE },
    { ROW_HEADERS_NEOMUTT, "neomutt", PEER_NEOMUTT, TRUE },
    { ROW_HEADERS_RAW, "raw drain", PEER_RAW, TRUE },
    { ROW_RESYNC_SMALL_MAILER, "Mailer", PEER_MAILER, FALSE },
    { ROW_RESYNC_SMALL_OTHER, "Mailer, other build", PEER_MAILER, FALSE },
    { ROW_RESYNC_SMALL_MBSYNC, "mbsync", PEER_MBSYNC, FALSE },
    { ROW_RESYNC_MAILER, "Mailer", PEER_MAILER, TRUE },
    { ROW_RESYNC_OTHER, "Mailer, other build", PEER_MAILER, TRUE },
    { ROW_RESYNC_MBSYNC, "mbsync", PEER_MBSYNC, TRUE },
    { ROW_DOWNLOAD_MAILER, "Mailer, pipelined", PEER_MAILER, TRUE },
    { ROW_DOWNLOAD_OTHER, "Mailer, pipelined, other build", PEER_MAILER, TRUE },
    { ROW_DOWNLOAD_SERIAL, "Mailer, one by one", PEER_MAILER, TRUE },
    { ROW_DOWNLOAD_PREFETCH, "Mailer, fetching ahead", PEER_MAILER, TRUE },
    { ROW_DOWNLOAD_MBSYNC, "mbsync", PEER_MBSYNC, TRUE },
    { ROW_DOWNLOAD_RAW, "raw drain", PEER_RAW, TRUE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      Row *row = &bench->rows[rows[i].id];
      guint part = rows[i].id <= ROW_HEADERS_RAW ? 1 : rows[i].id <= ROW_RESYNC_MBSYNC ? 2 : 3;
      gboolean other = rows[i].id == ROW_HEADERS_OTHER || rows[i].id == ROW_RESYNC_SMALL_OTHER ||
                       rows[i].id == ROW_RESYNC_OTHER || rows[i].id == ROW_DOWNLOAD_OTHER;

      row->name = rows[i].name;
      row->peer = rows[i].peer;
      row->size = rows[i].large ? bench->n_messages : SMALL_SIZE;
      row->runs = g_array_new (FALSE, TRUE, sizeof (Run));
      row->wanted = bench->parts[part] && bench->peers[rows[i].peer];
      if (other)
        row->wanted = row->wanted && bench->other_exe != NULL;
    }
  bench->rows[ROW_DOWNLOAD_MAILER].wanted &= bench->body_modes[BODY_PIPELINED];
  bench->rows[ROW_DOWNLOAD_OTHER].wanted &= bench->body_modes[BODY_PIPELINED];
  bench->rows[ROW_DOWNLOAD_SERIAL].wanted &= bench->body_modes[BODY_SERIAL];
  bench->rows[ROW_DOWNLOAD_PREFETCH].wanted &= bench->body_modes[BODY_PREFETCH];
  /* Part 2 at 1,000 is for comparison with a larger N. */
  if (bench->n_messages <= SMALL_SIZE)
    {
      bench->rows[ROW_RESYNC_SMALL_MAILER].wanted = FALSE;
      bench->rows[ROW_RESYNC_SMALL_OTHER].wanted = FALSE;
      bench->rows[ROW_RESYNC_SMALL_MBSYNC].wanted = FALSE;
    }
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  g_autofree char *peers_text = NULL;
  g_autofree char *parts_text = NULL;
  g_autofree char *body_text = NULL;
  g_autofree char *child_dir = NULL;
  g_autofree char *child_mode = NULL;
  g_autofree char *child_pin = NULL;
  g_autofree char *child_user = NULL;
  g_autofree char *report = NULL;
  g_autofree char *perf_file = NULL;
  g_autofree char *other_exe = NULL;
  gint n_messages = 20000, repetitions = 3, child_port = 0, fetch_depth = DEFAULT_FETCH_DEPTH, perf_part = 1;
  gboolean smoke = FALSE, keep = FALSE;
  GOptionEntry entries[] = {
    { "messages", 0, 0, G_OPTION_ARG_INT, &n_messages, "Messages in the mailbox (default 20000)", "N" },
    { "repetitions", 0, 0, G_OPTION_ARG_INT, &repetitions, "Runs of each peer (default 3)", "N" },
    { "smoke", 0, 0, G_OPTION_ARG_NONE, &smoke, "200 messages, one repetition: checks the harness", NULL },
    { "output", 0, 0, G_OPTION_ARG_FILENAME, &output, "Also write the report to FILE", "FILE" },
    { "parts", 0, 0, G_OPTION_ARG_STRING, &parts_text, "Which parts to run (default 1,2,3)", "LIST" },
    { "peers", 0, 0, G_OPTION_ARG_STRING, &peers_text, "Which peers to run (default mailer,neomutt,mbsync,raw)", "LIST" },
    { "bodies", 0, 0, G_OPTION_ARG_STRING, &body_text,
      "How Mailer gets the bodies in part 3: pipelined, serial, prefetch (default all three)", "LIST" },
    { "fetch-depth", 0, 0, G_OPTION_ARG_INT, &fetch_depth, "Body fetches outstanding when pipelined (default 16)", "N" },
    { "perf", 0, 0, G_OPTION_ARG_FILENAME, &perf_file,
      "Also run Mailer once more under perf record -g, into FILE (not counted)", "FILE" },
    { "perf-part", 0, 0, G_OPTION_ARG_INT, &perf_part, "Which part's Mailer --perf records (default 1)", "1|2|3" },
    { "compare-mailer", 0, 0, G_OPTION_ARG_FILENAME, &other_exe,
      "Also time the Mailer of another build of mailer-imap-bench (before/after a change)", "PROGRAM" },
    { "keep", 0, 0, G_OPTION_ARG_NONE, &keep, "Keep the Dovecot directory and work directory", NULL },
    { "verbose", 0, 0, G_OPTION_ARG_NONE, &verbose, "Show the commands run", NULL },
    { "mailer-child", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &child_dir, NULL, NULL },
    { "child-mode", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &child_mode, NULL, NULL },
    { "port", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &child_port, NULL, NULL },
    { "pin", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &child_pin, NULL, NULL },
    { "user", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &child_user, NULL, NULL },
    { NULL }
  };
  static const char * const part_keys[] = { "0", "1", "2", "3" };
  Bench bench = { 0, };
  gint64 seed_start;

  g_option_context_set_summary (context,
                                "Times an IMAP header sync, a no-change resync and a full download of a "
                                "generated mailbox from a private Dovecot: Mailer against neomutt, mbsync "
                                "and raw UID FETCH drains.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die ("options", error);

  if (child_dir != NULL)
    {
      if (child_port <= 0 || child_port > 65535 || child_pin == NULL || child_user == NULL ||
          child_mode == NULL || n_messages < 1)
        die ("--mailer-child needs --child-mode, --port, --pin, --user and --messages", NULL);
      return mailer_child (child_dir, child_mode, child_port, child_pin, child_user, n_messages, fetch_depth);
    }

  if (smoke)
    {
      n_messages = 200;
      repetitions = 1;
    }
  if (n_messages < 1 || repetitions < 1 || fetch_depth < 1)
    die ("--messages, --repetitions and --fetch-depth take 1 or more", NULL);

  bench.parts[1] = bench.parts[2] = bench.parts[3] = TRUE;
  if (parts_text != NULL && (!parse_list (parts_text, part_keys, 4, bench.parts) || bench.parts[0]))
    die ("--parts takes a list of 1, 2 and 3", NULL);
  for (guint p = 0; p < N_PEERS; p++)
    bench.peers[p] = TRUE;
  if (peers_text != NULL && !parse_list (peers_text, peer_keys, N_PEERS, bench.peers))
    die ("--peers takes a list of mailer, neomutt, mbsync and raw", NULL);
  for (guint m = 0; m < N_BODY_MODES; m++)
    bench.body_modes[m] = TRUE;
  if (body_text != NULL && !parse_list (body_text, body_mode_keys, N_BODY_MODES, bench.body_modes))
    die ("--bodies takes a list of pipelined, serial and prefetch", NULL);
  if (other_exe != NULL)
    {
      if (!g_file_test (other_exe, G_FILE_TEST_IS_EXECUTABLE))
        die ("--compare-mailer takes a built mailer-imap-bench", NULL);
      bench.other_exe = g_canonicalize_filename (other_exe, NULL);
    }
  if (perf_part < 1 || perf_part > 3)
    die ("--perf-part takes 1, 2 or 3", NULL);
  bench.n_messages = n_messages;
  bench.fetch_depth = fetch_depth;
  bench.keep = keep;
  bench.perf_file = perf_file;
  bench.perf_part = perf_part;
  setup_rows (&bench);

  bench.self_exe = g_file_read_link ("/proc/self/exe", &error);
  if (bench.self_exe == NULL)
    die ("finding this program", error);
  bench.raw_exe = find_beside_self (bench.self_exe, "mailer-imap-raw");
  if (!g_file_test (bench.raw_exe, G_FILE_TEST_IS_EXECUTABLE))
    die ("mailer-imap-raw is not built next to this program", NULL);
  if (!find_peers (&bench))
    return 1;
  if (perf_file != NULL && (bench.perf = g_find_program_in_path ("perf")) == NULL)
    die ("--perf needs perf (Debian package linux-perf)", NULL);

  bench.work_dir = g_dir_make_tmp ("mailer-imap-bench-XXXXXX", &error);
  if (bench.work_dir == NULL)
    die ("creating the work directory", error);

  bench.dovecot = mailer_test_dovecot_new ();
  mailer_test_dovecot_add_user (bench.dovecot, USER, PASSWORD);
  read_load_average (bench.load_before, sizeof bench.load_before);
  seed_start = g_get_monotonic_time ();
  progress ("generating %u messages into Dovecot's Maildir", bench.n_messages);
  seed_one (&bench, USER, bench.n_messages, &bench.stats);
  if (bench.rows[ROW_RESYNC_SMALL_MAILER].wanted || bench.rows[ROW_RESYNC_SMALL_MBSYNC].wanted)
    {
      mailer_test_dovecot_add_user (bench.dovecot, SMALL_USER, PASSWORD);
      seed_one (&bench, SMALL_USER, SMALL_SIZE, &bench.small_stats);
    }
  bench.seed_seconds = (g_get_monotonic_time () - seed_start) / 1e6;
  progress ("%.1f MB in %.1f s; starting Dovecot", bench.stats.bytes / 1e6, bench.seed_seconds);
  if (!mailer_test_dovecot_start (bench.dovecot, &error))
    die ("starting Dovecot", error);
  bench.port = mailer_test_dovecot_get_port (bench.dovecot, MAILER_TEST_DOVECOT_IMAPS);
  bench.certificate_path = g_strdup (mailer_test_dovecot_get_certificate_path (bench.dovecot));
  bench.pin = mailer_certificate_get_sha256 (mailer_test_dovecot_get_certificate (bench.dovecot));

  /* Dovecot builds its index and caches the fields asked for on first
   * use: one run of each kind of request first, not counted. */
  progress ("warming up Dovecot's index and cache and the page cache");
  run_raw_once (&bench, USER, FALSE, bench.n_messages, "the warm-up header drain");
  run_raw_once (&bench, USER, TRUE, bench.n_messages, "the warm-up body drain");
  if (bench.small_stats.n_messages > 0)
    {
      run_raw_once (&bench, SMALL_USER, FALSE, SMALL_SIZE, "the warm-up header drain");
      run_raw_once (&bench, SMALL_USER, TRUE, SMALL_SIZE, "the warm-up body drain");
    }
  if (bench.rows[ROW_HEADERS_NEOMUTT].wanted)
    run_neomutt_once (&bench, USER, bench.n_messages, "the warm-up neomutt");
  /* Mailer's first SELECT (CONDSTORE) makes Dovecot add mod-sequences to
   * its index. */
  if (bench.peers[PEER_MAILER] && (bench.parts[1] || bench.parts[3]))
    {
      g_autofree char *dir = new_run_dir (&bench, "mailer-warm-up");
      g_autofree char *store_dir = g_build_filename (dir, "data", NULL);

      spawn_mailer (&bench, bench.self_exe, CHILD_SYNC, BODY_PIPELINED, store_dir, USER, bench.n_messages,
                    FALSE, "the warm-up Mailer");
      settle (&bench, dir);
    }

  /* Part 2 comes last: it reuses the stores of parts 1 and 3. */
  if (bench.parts[1])
    {
      for (gint r = 0; r < repetitions; r++)
        {
          progress ("part 1, initial header sync, repetition %d of %d", r + 1, repetitions);
          part_headers (&bench, r);
        }
      if (perf_file != NULL && perf_part == 1)
        {
          progress ("Mailer once more under perf record -g, into %s", perf_file);
          headers_mailer (&bench, ROW_HEADERS_MAILER, TRUE);
        }
    }
  if (bench.parts[3])
    {
      for (gint r = 0; r < repetitions; r++)
        {
          progress ("part 3, full offline download, repetition %d of %d", r + 1, repetitions);
          part_download (&bench, r);
        }
      if (perf_file != NULL && perf_part == 3)
        {
          progress ("Mailer once more under perf record -g, into %s", perf_file);
          download_mailer (&bench, ROW_DOWNLOAD_MAILER, TRUE);
        }
    }
  if (bench.parts[2])
    part_resync (&bench, repetitions);
  if (bench.kept_mailer_dir != NULL)
    remove_tree (bench.kept_mailer_dir);
  if (bench.kept_mbsync_dir != NULL)
    remove_tree (bench.kept_mbsync_dir);

  read_load_average (bench.load_after, sizeof bench.load_after);
  report = build_report (&bench, repetitions);
  fputs (report, stdout);
  fflush (stdout);
  if (output != NULL && !g_file_set_contents (output, report, -1, &error))
    die ("writing the report", error);

  if (bench.keep)
    {
      g_setenv ("MAILER_TEST_KEEP_DOVECOT", "1", TRUE);
      progress ("kept %s and %s", bench.work_dir, mailer_test_dovecot_get_directory (bench.dovecot));
    }
  mailer_test_dovecot_stop (bench.dovecot);
  g_clear_object (&bench.dovecot);
  if (!bench.keep)
    remove_tree (bench.work_dir);
  return 0;
}
