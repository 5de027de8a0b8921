/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Integration: the built mailer-cli (path in MAILER_CLI), run as a
 * subprocess against the private Dovecot fixture and the test keyring.
 * Adding a POP3 account with the certificate pinned on first use and the
 * password on stdin, syncing, listing, searching, printing a message byte
 * for byte; each class of failure gives its exit code (4 password, 2
 * network, 3 certificate, 7 not found, 1 usage); the password never
 * reaches the store's files nor any output.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "mailer-connection.h"
#include "mailer-secrets.h"
#include "mailer-test-dovecot.h"
#include "mailer-test-util.h"

#define USER "pat"
#define PASSWORD "Pat's pass wörd 7f3c-c1i"
#define N_NUMBERED 30
#define N_MESSAGES (N_NUMBERED + 1)

typedef struct
{
  MailerTestDovecot *dovecot;
  char *dir;
  char *pin;
  GString *transcript;   /* every stdout and stderr of the run */
} Fixture;

typedef struct
{
  int status;
  GBytes *out;
  char *err;
} Run;

static void
run_free (Run *run)
{
  g_bytes_unref (run->out);
  g_free (run->err);
  g_free (run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Run, run_free)

static GBytes *
make_message (guint n)
{
  g_autoptr(GString) text = g_string_new (NULL);

  g_string_append_printf (text,
                          "From: Sender %u <sender%u@example.org>\r\n"
                          "To: Pat <pat@example.org>\r\n"
                          "Subject: Message %u about zebra%u\r\n"
                          "Date: Mon, 16 Nov 2026 10:00:%02u +0000\r\n"
                          "Message-ID: <cli-%u@example.org>\r\n"
                          "MIME-Version: 1.0\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "\r\n"
                          "Hello Pat, this is message %u.\r\n"
                          ".A line that starts with a dot.\r\n",
                          n, n, n, n, n, n, n);
  return g_string_free_to_bytes (g_steal_pointer (&text));
}

/* 8-bit bytes that are not UTF-8: printed as they are, not converted. */
static GBytes *
make_latin1_message (void)
{
  static const char text[] =
    "From: =?iso-8859-1?q?Ren=E9?= <rene@example.org>\r\n"
    "To: Pat <pat@example.org>\r\n"
    "Subject: Latin-1 menu\r\n"
    "Date: Mon, 16 Nov 2026 09:00:00 +0000\r\n"
    "Message-ID: <cli-latin1@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Caf\xe9 cr\xe8me, \xe0 la carte.\r\n"
    "..Two dots, one stuffed.\r\n";

  return g_bytes_new_static (text, sizeof text - 1);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  gboolean with_server = GPOINTER_TO_INT (user_data);
  g_autoptr(GError) error = NULL;

  fixture->transcript = g_string_new (NULL);
  fixture->dir = g_dir_make_tmp ("mailer-cli-XXXXXX", &error);
  g_assert_no_error (error);
  if (!with_server)
    return;

  fixture->dovecot = mailer_test_dovecot_new ();
  mailer_test_dovecot_add_user (fixture->dovecot, USER, PASSWORD);
  for (guint i = 1; i <= N_NUMBERED; i++)
    {
      g_autoptr(GBytes) message = make_message (i);

      g_assert_true (mailer_test_dovecot_seed_bytes (fixture->dovecot, USER, "INBOX", message, NULL, &error));
      g_assert_no_error (error);
    }
  {
    g_autoptr(GBytes) message = make_latin1_message ();

    g_assert_true (mailer_test_dovecot_seed_bytes (fixture->dovecot, USER, "INBOX", message, NULL, &error));
    g_assert_no_error (error);
  }
  g_assert_true (mailer_test_dovecot_start (fixture->dovecot, &error));
  g_assert_no_error (error);
  fixture->pin = mailer_certificate_get_sha256 (mailer_test_dovecot_get_certificate (fixture->dovecot));
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

/* Binary-safe: database pages are full of NUL bytes. */
static gboolean
contains (const char *haystack,
          gsize       len,
          const char *needle)
{
  gsize n = strlen (needle);

  for (gsize i = 0; i + n <= len; i++)
    if (memcmp (haystack + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

/* Every file under @path, concatenated: the WAL holds recent writes. */
static void
read_tree (const char *path,
           GString    *all)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      g_autofree char *contents = NULL;
      gsize length;

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        read_tree (child, all);
      else if (g_file_get_contents (child, &contents, &length, NULL))
        g_string_append_len (all, contents, length);
    }
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  /* Whatever the test did, the password went nowhere but the keyring. */
  g_autoptr(GString) files = g_string_new (NULL);

  read_tree (fixture->dir, files);
  g_assert_false (contains (files->str, files->len, PASSWORD));
  g_assert_false (contains (fixture->transcript->str, fixture->transcript->len, PASSWORD));

  if (fixture->dovecot != NULL)
    mailer_test_dovecot_stop (fixture->dovecot);
  g_clear_object (&fixture->dovecot);
  remove_tree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->pin);
  g_string_free (fixture->transcript, TRUE);
}

/* Runs mailer-cli with --data-dir (unless @data_dir is FALSE), @input on
 * its stdin, and the arguments. */
static Run *
cli_runv (Fixture            *fixture,
          gboolean            data_dir,
          const char         *input,
          const char * const *args)
{
  const char *cli = g_getenv ("MAILER_CLI");
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GBytes) stdin_bytes = NULL;
  g_autoptr(GBytes) err = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *command = NULL;
  Run *run = g_new0 (Run, 1);
  gsize len;
  const char *data;

  if (cli == NULL)
    g_error ("MAILER_CLI must name the mailer-cli executable");

  g_ptr_array_add (argv, (char *) cli);
  if (data_dir)
    {
      g_ptr_array_add (argv, "--data-dir");
      g_ptr_array_add (argv, fixture->dir);
    }
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  /* Dates in the list are local time.  An ASCII locale: data on stdout
   * must still come out as stored, never converted. */
  g_subprocess_launcher_setenv (launcher, "TZ", "UTC", TRUE);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C", TRUE);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);

  /* Without input, stdin is at its end at once. */
  stdin_bytes = g_bytes_new (input ? input : "", input ? strlen (input) : 0);
  g_subprocess_communicate (process, stdin_bytes, NULL, &run->out, &err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  run->status = g_subprocess_get_exit_status (process);

  data = g_bytes_get_data (err, &len);
  run->err = g_strndup (data ? data : "", len);
  g_string_append_len (fixture->transcript, data, len);
  data = g_bytes_get_data (run->out, &len);
  g_string_append_len (fixture->transcript, data, len);

  command = g_strjoinv (" ", (char **) argv->pdata + 1);
  g_test_message ("mailer-cli %s: exit %d\n%s", command, run->status, run->err);
  return run;
}

#define cli(fixture, input, ...) \
  cli_runv ((fixture), TRUE, (input), (const char * const[]) { __VA_ARGS__, NULL })

static char *
out_text (Run *run)
{
  gsize len;
  const char *data = g_bytes_get_data (run->out, &len);

  g_assert_null (memchr (data, '\0', len));
  return g_strndup (data, len);
}

/* The lines of stdout, without the last empty one. */
static GStrv
out_lines (Run *run)
{
  g_autofree char *text = out_text (run);
  GStrv lines;
  guint n;

  if (text[0] == '\0')
    return g_new0 (char *, 1);
  g_assert_true (g_str_has_suffix (text, "\n"));
  text[strlen (text) - 1] = '\0';
  lines = g_strsplit (text, "\n", -1);
  n = g_strv_length (lines);
  g_assert_cmpuint (n, >, 0);
  return lines;
}

/* Failed with @status, nothing on stdout, and an error line on stderr
 * (after any progress lines) that mentions @what. */
static void
assert_failed (Run        *run,
               int         status,
               const char *what)
{
  g_auto(GStrv) lines = g_strsplit (run->err, "\n", -1);
  gboolean found = FALSE;

  g_assert_cmpint (run->status, ==, status);
  g_assert_cmpuint (g_bytes_get_size (run->out), ==, 0);
  for (guint i = 0; lines[i] != NULL && !found; i++)
    found = g_str_has_prefix (lines[i], "mailer-cli: ") && (what == NULL || strstr (lines[i], what) != NULL);
  if (!found)
    g_error ("No error line “mailer-cli: …%s…” in: %s", what ? what : "", run->err);
}

static char *
add_account (Fixture    *fixture,
             const char *password,
             const char *pin,
             guint16     port,
             const char *extra)
{
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autofree char *input = g_strdup_printf ("%s\n", password);
  g_autoptr(Run) run = NULL;
  g_autofree char *uuid = NULL;

  run = cli (fixture, input, "add-account", "--protocol", "pop3", "--host", "127.0.0.1",
             "--port", port_text, "--security", "tls", "--user", USER, "--pin", pin,
             extra ? extra : "--name=Pat");
  g_assert_cmpint (run->status, ==, 0);
  uuid = g_strchomp (out_text (run));
  g_assert_true (g_uuid_string_is_valid (uuid));
  return g_steal_pointer (&uuid);
}

static guint16
pop3s_port (Fixture *fixture)
{
  return mailer_test_dovecot_get_port (fixture->dovecot, MAILER_TEST_DOVECOT_POP3S);
}

static gint
server_count (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  gint n = mailer_test_dovecot_count (fixture->dovecot, USER, "INBOX", &error);

  g_assert_no_error (error);
  return n;
}

static char *
keyring_lookup (const char  *uuid,
                GError     **error)
{
  g_autoptr(MailerAccount) account = g_object_new (MAILER_TYPE_ACCOUNT,
                                                   "kind", MAILER_ACCOUNT_KIND_POP3,
                                                   "uuid", uuid,
                                                   NULL);
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_secrets_lookup_password_async (account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  return mailer_secrets_lookup_password_finish (result, error);
}

/* The id of the only message a search finds. */
static char *
search_one (Fixture    *fixture,
            const char *text,
            const char *subject)
{
  g_autoptr(Run) run = cli (fixture, NULL, "search", text);
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) fields = NULL;

  g_assert_cmpint (run->status, ==, 0);
  lines = out_lines (run);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
  fields = g_strsplit (lines[0], "\t", -1);
  g_assert_cmpuint (g_strv_length (fields), ==, 5);
  g_assert_cmpstr (fields[4], ==, subject);
  return g_strdup (fields[0]);
}

static void
test_pop3 (Fixture       *fixture,
           gconstpointer  user_data)
{
  g_autofree char *port = g_strdup_printf ("%u", pop3s_port (fixture));
  g_autofree char *uuid = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *inbox = NULL;
  g_autofree char *id = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GRegex) row = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) fields = NULL;
  char *password;
  Run *run;

  /* Added with the certificate pinned on first use, the password on
   * stdin. */
  run = cli (fixture, PASSWORD "\n", "add-account", "--protocol", "pop3", "--host", "127.0.0.1",
             "--port", port, "--security", "tls", "--user", USER, "--name", "Pat at home",
             "--address", "pat@example.org", "--pin-from-server");
  g_assert_cmpint (run->status, ==, 0);
  uuid = g_strchomp (out_text (run));
  g_assert_true (g_uuid_string_is_valid (uuid));
  g_assert_nonnull (strstr (run->err, fixture->pin));
  g_assert_nonnull (strstr (run->err, "trust on first use"));
  run_free (run);

  password = keyring_lookup (uuid, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, PASSWORD);
  mailer_secrets_free_password (password);

  run = cli (fixture, NULL, "accounts");
  g_assert_cmpint (run->status, ==, 0);
  text = out_text (run);
  expected = g_strdup_printf ("%s\tpop3\tPat at home\t127.0.0.1:%s\ttls\n", uuid, port);
  g_assert_cmpstr (text, ==, expected);
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&expected, g_free);
  run_free (run);

  /* Sync: everything arrives, a copy stays on the server. */
  run = cli (fixture, NULL, "sync", uuid);
  g_assert_cmpint (run->status, ==, 0);
  text = out_text (run);
  g_assert_cmpstr (text, ==, "downloaded 31, deleted 0 from the server\n");
  g_clear_pointer (&text, g_free);
  g_assert_nonnull (strstr (run->err, "Downloading 1 of 31"));
  run_free (run);
  g_assert_cmpint (server_count (fixture), ==, N_MESSAGES);

  run = cli (fixture, NULL, "sync");
  g_assert_cmpint (run->status, ==, 0);
  text = out_text (run);
  g_assert_cmpstr (text, ==, "Pat at home: downloaded 0, deleted 0 from the server\n");
  g_clear_pointer (&text, g_free);
  run_free (run);

  run = cli (fixture, NULL, "folders");
  g_assert_cmpint (run->status, ==, 0);
  lines = out_lines (run);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
  fields = g_strsplit (lines[0], "\t", -1);
  g_assert_cmpuint (g_strv_length (fields), ==, 6);
  g_assert_cmpstr (fields[1], ==, uuid);
  g_assert_cmpstr (fields[2], ==, "INBOX");
  g_assert_cmpstr (fields[3], ==, "inbox");
  g_assert_cmpstr (fields[4], ==, "31");
  g_assert_cmpstr (fields[5], ==, "31");
  inbox = g_strdup (fields[0]);
  g_clear_pointer (&lines, g_strfreev);
  g_clear_pointer (&fields, g_strfreev);
  run_free (run);

  /* The list: newest first, one row per message, five columns. */
  row = g_regex_new ("^[0-9]+\t2026-11-16T(09|10):00:[0-9]{2}\\+00:00\tU\t[^\t]+\t[^\t]+$", 0, 0, &error);
  g_assert_no_error (error);
  run = cli (fixture, NULL, "list");
  g_assert_cmpint (run->status, ==, 0);
  lines = out_lines (run);
  g_assert_cmpuint (g_strv_length (lines), ==, N_MESSAGES);
  for (guint i = 0; lines[i] != NULL; i++)
    if (!g_regex_match (row, lines[i], 0, NULL))
      g_error ("Not a list row: %s", lines[i]);
  g_assert_true (g_str_has_suffix (lines[0], "\t2026-11-16T10:00:30+00:00\tU\t"
                                   "Sender 30 <sender30@example.org>\tMessage 30 about zebra30"));
  g_assert_true (g_str_has_suffix (lines[N_MESSAGES - 1], "\tRené <rene@example.org>\tLatin-1 menu"));
  g_clear_pointer (&lines, g_strfreev);
  run_free (run);

  run = cli (fixture, NULL, "list", "--limit", "3");
  g_assert_cmpint (run->status, ==, 0);
  lines = out_lines (run);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_clear_pointer (&lines, g_strfreev);
  run_free (run);

  run = cli (fixture, NULL, "list", "--folder", inbox);
  g_assert_cmpint (run->status, ==, 0);
  lines = out_lines (run);
  g_assert_cmpuint (g_strv_length (lines), ==, N_MESSAGES);
  g_clear_pointer (&lines, g_strfreev);
  run_free (run);

  run = cli (fixture, NULL, "list", "--folder", "999999");
  assert_failed (run, 7, "999999");
  run_free (run);

  /* Search and show: the raw message, byte for byte. */
  id = search_one (fixture, "zebra7", "Message 7 about zebra7");
  run = cli (fixture, NULL, "show", id);
  g_assert_cmpint (run->status, ==, 0);
  {
    g_autoptr(GBytes) message = make_message (7);

    g_assert_true (g_bytes_equal (run->out, message));
  }
  run_free (run);

  run = cli (fixture, NULL, "show", "--text", id);
  g_assert_cmpint (run->status, ==, 0);
  text = out_text (run);
  g_assert_nonnull (strstr (text, "From: Sender 7 <sender7@example.org>\n"));
  g_assert_nonnull (strstr (text, "Subject: Message 7 about zebra7\n"));
  g_assert_nonnull (strstr (text, "Date: 2026-11-16T10:00:07+00:00\n"));
  g_assert_nonnull (strstr (text, "\n\nHello Pat, this is message 7."));
  g_clear_pointer (&text, g_free);
  run_free (run);
  g_clear_pointer (&id, g_free);

  id = search_one (fixture, "cafe", "Latin-1 menu");
  run = cli (fixture, NULL, "show", id);
  g_assert_cmpint (run->status, ==, 0);
  {
    g_autoptr(GBytes) message = make_latin1_message ();

    g_assert_true (g_bytes_equal (run->out, message));
  }
  run_free (run);

  run = cli (fixture, NULL, "search", "zebra7", "--folder", inbox);
  g_assert_cmpint (run->status, ==, 0);
  lines = out_lines (run);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
  g_clear_pointer (&lines, g_strfreev);
  run_free (run);

  run = cli (fixture, NULL, "search", "okapi");
  g_assert_cmpint (run->status, ==, 0);
  g_assert_cmpuint (g_bytes_get_size (run->out), ==, 0);
  run_free (run);

  /* What is not there. */
  run = cli (fixture, NULL, "show", "99999999");
  assert_failed (run, 7, "99999999");
  run_free (run);
  run = cli (fixture, NULL, "search", "zebra7", "--folder", "424242");
  assert_failed (run, 7, "424242");
  run_free (run);

  /* Removed: from the store and from the keyring. */
  run = cli (fixture, NULL, "remove-account", uuid);
  g_assert_cmpint (run->status, ==, 0);
  run_free (run);
  run = cli (fixture, NULL, "accounts");
  g_assert_cmpint (run->status, ==, 0);
  g_assert_cmpuint (g_bytes_get_size (run->out), ==, 0);
  run_free (run);
  password = keyring_lookup (uuid, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_null (password);
  g_clear_error (&error);

  run = cli (fixture, NULL, "remove-account", uuid);
  assert_failed (run, 7, uuid);
  run_free (run);
  run = cli (fixture, NULL, "sync", uuid);
  assert_failed (run, 7, uuid);
  run_free (run);
}

/* STLS, the certificate pinned on first use after it, and no copy left
 * on the server. */
static void
test_starttls_delete (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autofree char *port = g_strdup_printf ("%u", mailer_test_dovecot_get_port (fixture->dovecot,
                                                                             MAILER_TEST_DOVECOT_POP3));
  g_autofree char *uuid = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  Run *run;

  run = cli (fixture, PASSWORD "\r\n", "add-account", "--protocol", "pop3", "--host", "127.0.0.1",
             "--port", port, "--security", "starttls", "--user", USER, "--pin-from-server",
             "--leave-on-server", "no");
  g_assert_cmpint (run->status, ==, 0);
  uuid = g_strchomp (out_text (run));
  g_assert_nonnull (strstr (run->err, fixture->pin));
  run_free (run);

  run = cli (fixture, NULL, "sync", uuid);
  g_assert_cmpint (run->status, ==, 0);
  text = out_text (run);
  g_assert_cmpstr (text, ==, "downloaded 31, deleted 31 from the server\n");
  run_free (run);
  g_assert_cmpint (server_count (fixture), ==, 0);

  run = cli (fixture, NULL, "list", "--unified");
  g_assert_cmpint (run->status, ==, 0);
  lines = out_lines (run);
  g_assert_cmpuint (g_strv_length (lines), ==, N_MESSAGES);
  run_free (run);
}

static guint16
free_port (void)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GError) error = NULL;
  guint16 port;

  port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  g_socket_listener_close (listener);
  return port;
}

static void
test_failures (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autofree char *wrong_pin = g_compute_checksum_for_string (G_CHECKSUM_SHA256, "another certificate", -1);
  guint16 closed = free_port ();
  g_autofree char *closed_port = g_strdup_printf ("%u", closed);
  g_autofree char *bad_password = NULL;
  g_autofree char *bad_pin = NULL;
  g_autofree char *unreachable = NULL;
  Run *run;

  /* Another certificate than the pinned one: 3. */
  bad_pin = add_account (fixture, PASSWORD, wrong_pin, pop3s_port (fixture), "--name=Wrong pin");
  run = cli (fixture, NULL, "sync", bad_pin);
  assert_failed (run, 3, "not trusted");
  run_free (run);

  /* The server refuses the password: 4. */
  bad_password = add_account (fixture, "not the password", fixture->pin, pop3s_port (fixture),
                              "--name=Wrong password");
  run = cli (fixture, NULL, "sync", bad_password);
  assert_failed (run, 4, "rejected the user name or password");
  run_free (run);

  /* Nobody listening: 2. */
  unreachable = add_account (fixture, PASSWORD, fixture->pin, closed, "--name=Closed port");
  run = cli (fixture, NULL, "sync", unreachable);
  assert_failed (run, 2, "refused");
  run_free (run);

  /* All of them, in the order they were added: each one's error, and the
   * first one's exit code.  (The wrong pin comes first on purpose: in one
   * process, a later connection to the same server resumes the TLS session
   * of an earlier verified one, and the server's certificate is not
   * checked again.) */
  run = cli (fixture, NULL, "sync");
  assert_failed (run, 3, "Wrong pin: ");
  g_assert_nonnull (strstr (run->err, "\nmailer-cli: Wrong password: "));
  g_assert_nonnull (strstr (run->err, "\nmailer-cli: Closed port: "));
  run_free (run);

  /* Nothing was stored by any of them. */
  run = cli (fixture, NULL, "list");
  g_assert_cmpint (run->status, ==, 0);
  g_assert_cmpuint (g_bytes_get_size (run->out), ==, 0);
  run_free (run);
  g_assert_cmpint (server_count (fixture), ==, N_MESSAGES);

  /* Trust on first use needs a server to ask. */
  run = cli (fixture, PASSWORD "\n", "add-account", "--protocol", "pop3", "--host", "127.0.0.1",
             "--port", closed_port, "--user", USER, "--pin-from-server");
  assert_failed (run, 2, NULL);
  run_free (run);
}

/* No server: options, arguments, an IMAP account, the default data dir. */
static void
test_usage (Fixture       *fixture,
            gconstpointer  user_data)
{
  const char *pin = "AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89";
  g_autofree char *data_home = g_build_filename (fixture->dir, "data-home", NULL);
  g_autofree char *default_db = g_build_filename (data_home, "mailer", "mailer.db", NULL);
  g_autofree char *uuid = NULL;
  g_autofree char *text = NULL;
  g_autofree char *expected = NULL;
  Run *run;

  run = cli_runv (fixture, FALSE, NULL, (const char * const[]) { "--help", NULL });
  g_assert_cmpint (run->status, ==, 0);
  text = out_text (run);
  g_assert_nonnull (strstr (text, "Exit codes:"));
  g_assert_nonnull (strstr (text, "  7  not found"));
  g_clear_pointer (&text, g_free);
  run_free (run);

  run = cli_runv (fixture, FALSE, NULL, (const char * const[]) { NULL });
  assert_failed (run, 1, "no command");
  run_free (run);
  run = cli (fixture, NULL, "frobnicate");
  assert_failed (run, 1, "frobnicate");
  run_free (run);
  run = cli (fixture, NULL, "list", "--no-such-option");
  assert_failed (run, 1, "--no-such-option");
  run_free (run);
  run = cli (fixture, NULL, "show");
  assert_failed (run, 1, "usage: mailer-cli show");
  run_free (run);
  run = cli (fixture, NULL, "show", "twelve");
  assert_failed (run, 1, "twelve");
  run_free (run);
  run = cli (fixture, NULL, "list", "--folder", "1", "--unified");
  assert_failed (run, 1, NULL);
  run_free (run);

  /* add-account refuses what it cannot store, before asking anything. */
  run = cli (fixture, "pw\n", "add-account", "--protocol", "pop3", "--user", "kim");
  assert_failed (run, 1, "--host");
  run_free (run);
  run = cli (fixture, "pw\n", "add-account", "--protocol", "smtp", "--host", "h", "--user", "kim");
  assert_failed (run, 1, "--protocol");
  run_free (run);
  run = cli (fixture, "pw\n", "add-account", "--protocol", "pop3", "--host", "h", "--user", "kim",
             "--security", "maybe");
  assert_failed (run, 1, "maybe");
  run_free (run);
  run = cli (fixture, "pw\n", "add-account", "--protocol", "pop3", "--host", "h", "--user", "kim",
             "--port", "70000");
  assert_failed (run, 1, "--port");
  run_free (run);
  run = cli (fixture, "pw\n", "add-account", "--protocol", "pop3", "--host", "h", "--user", "kim",
             "--pin", "12:34");
  assert_failed (run, 1, "64 hex digits");
  run_free (run);
  run = cli (fixture, "pw\n", "add-account", "--protocol", "pop3", "--host", "h", "--user", "kim",
             "--pin", pin, "--pin-from-server");
  assert_failed (run, 1, NULL);
  run_free (run);
  run = cli (fixture, "pw\n", "add-account", "--protocol", "pop3", "--host", "h", "--user", "kim",
             "--leave-on-server", "sometimes");
  assert_failed (run, 1, "sometimes");
  run_free (run);
  run = cli (fixture, "pw\n", "add-account", "--protocol", "imap", "--host", "h", "--user", "kim",
             "--keep-days", "3");
  assert_failed (run, 1, "POP3");
  run_free (run);
  run = cli (fixture, "", "add-account", "--protocol", "pop3", "--host", "h", "--user", "kim");
  assert_failed (run, 1, "No password");
  run_free (run);

  run = cli (fixture, NULL, "accounts");
  g_assert_cmpint (run->status, ==, 0);
  g_assert_cmpuint (g_bytes_get_size (run->out), ==, 0);
  run_free (run);

  /* An IMAP account, stored with its defaults (test-cli-imap syncs them). */
  run = cli (fixture, PASSWORD "\n", "add-account", "--protocol", "imap", "--host", "imap.example.org",
             "--user", "kim", "--pin", pin);
  g_assert_cmpint (run->status, ==, 0);
  uuid = g_strchomp (out_text (run));
  run_free (run);

  run = cli (fixture, NULL, "accounts");
  g_assert_cmpint (run->status, ==, 0);
  text = out_text (run);
  expected = g_strdup_printf ("%s\timap\tkim\timap.example.org:993\ttls\n", uuid);
  g_assert_cmpstr (text, ==, expected);
  g_clear_pointer (&text, g_free);
  run_free (run);

  /* Changing messages: what to do, and to what, before anything else. */
  run = cli (fixture, NULL, "mark", "1");
  assert_failed (run, 1, "--read");
  run_free (run);
  run = cli (fixture, NULL, "mark", "1", "--read", "--unread");
  assert_failed (run, 1, "--unread");
  run_free (run);
  run = cli (fixture, NULL, "mark", "1", "--flag", "--unflag");
  assert_failed (run, 1, "--unflag");
  run_free (run);
  run = cli (fixture, NULL, "mark", "--read");
  assert_failed (run, 1, "usage: mailer-cli mark");
  run_free (run);
  run = cli (fixture, NULL, "mark", "seven", "--read");
  assert_failed (run, 1, "seven");
  run_free (run);
  run = cli (fixture, NULL, "mark", "77", "--read", "--no-sync");
  assert_failed (run, 7, "77");
  run_free (run);
  run = cli (fixture, NULL, "move", "1");
  assert_failed (run, 1, "--to");
  run_free (run);
  run = cli (fixture, NULL, "move", "1", "--to", "x");
  assert_failed (run, 1, "\"x\"");
  run_free (run);
  run = cli (fixture, NULL, "move", "1", "--to", "4242");
  assert_failed (run, 7, "4242");
  run_free (run);
  run = cli (fixture, NULL, "delete");
  assert_failed (run, 1, "usage: mailer-cli delete");
  run_free (run);
  run = cli (fixture, NULL, "delete", "88");
  assert_failed (run, 7, "88");
  run_free (run);

  run = cli (fixture, NULL, "folders", "0b5e7c1e-0000-4000-8000-000000000000");
  assert_failed (run, 7, NULL);
  run_free (run);
  run = cli (fixture, NULL, "show", "1");
  assert_failed (run, 7, NULL);
  run_free (run);

  run = cli (fixture, NULL, "remove-account", uuid);
  g_assert_cmpint (run->status, ==, 0);
  run_free (run);

  /* Without --data-dir: $XDG_DATA_HOME/mailer.  (No server threads run
   * in this test: setting the environment is safe.) */
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_assert_false (g_file_test (default_db, G_FILE_TEST_EXISTS));
  run = cli_runv (fixture, FALSE, NULL, (const char * const[]) { "accounts", NULL });
  g_assert_cmpint (run->status, ==, 0);
  run_free (run);
  g_assert_true (g_file_test (default_db, G_FILE_TEST_EXISTS));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add ("/cli/pop3", Fixture, GINT_TO_POINTER (TRUE), fixture_set_up, test_pop3, fixture_tear_down);
  g_test_add ("/cli/starttls-delete", Fixture, GINT_TO_POINTER (TRUE), fixture_set_up, test_starttls_delete,
              fixture_tear_down);
  g_test_add ("/cli/failures", Fixture, GINT_TO_POINTER (TRUE), fixture_set_up, test_failures, fixture_tear_down);
  g_test_add ("/cli/usage", Fixture, GINT_TO_POINTER (FALSE), fixture_set_up, test_usage, fixture_tear_down);

  return g_test_run ();
}
