/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Integration: the built mailer-cli (path in MAILER_CLI) with IMAP accounts,
 * run as a subprocess against the private Dovecot fixture and the test
 * keyring.  An account added with the certificate pinned on first use (over
 * implicit TLS and over STARTTLS) syncs its folders and summaries; changes
 * made with mark, move and delete reach the server in the same run, exactly
 * those and nothing else, as Dovecot's own tools see it; a second sync finds
 * nothing new; show downloads a body and prints the server's bytes; a wrong
 * password exits 4, and offline a body that is not stored exits 2.  POP3
 * accounts sync alongside, and take the same commands here only.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "mailer-connection.h"
#include "mailer-test-dovecot.h"

#define USER "iris"
#define PASSWORD "Iris's IMAP pass wörd 5e1d"
#define N_NUMBERED 12
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
                          "To: Iris <iris@example.org>\r\n"
                          "Subject: Message %u about zebra%u\r\n"
                          "Date: Mon, 16 Nov 2026 10:00:%02u +0000\r\n"
                          "Message-ID: <cli-imap-%u@example.org>\r\n"
                          "MIME-Version: 1.0\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "\r\n"
                          "Hello Iris, this is message %u.\r\n"
                          ".A line that starts with a dot.\r\n",
                          n, n, n, n, n, n, n);
  return g_string_free_to_bytes (g_steal_pointer (&text));
}

/* Encoded words in the headers: the summary comes from the server's
 * ENVELOPE, decoded here. */
static GBytes *
make_encoded_message (void)
{
  static const char text[] =
    "From: =?iso-8859-1?q?Ren=E9?= <rene@example.org>\r\n"
    "To: Iris <iris@example.org>\r\n"
    "Subject: =?utf-8?q?R=C3=A9union_=C3=A0_midi?=\r\n"
    "Date: Mon, 16 Nov 2026 09:00:00 +0000\r\n"
    "Message-ID: <cli-imap-encoded@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "On se voit \xc3\xa0 midi.\r\n";

  return g_bytes_new_static (text, sizeof text - 1);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GBytes) encoded = make_encoded_message ();
  g_autoptr(GError) error = NULL;

  fixture->transcript = g_string_new (NULL);
  fixture->dir = g_dir_make_tmp ("mailer-cli-imap-XXXXXX", &error);
  g_assert_no_error (error);

  fixture->dovecot = mailer_test_dovecot_new ();
  mailer_test_dovecot_add_user (fixture->dovecot, USER, PASSWORD);
  for (guint i = 1; i <= N_NUMBERED; i++)
    {
      g_autoptr(GBytes) message = make_message (i);

      g_assert_true (mailer_test_dovecot_seed_bytes (fixture->dovecot, USER, "INBOX", message, NULL, &error));
      g_assert_no_error (error);
    }
  g_assert_true (mailer_test_dovecot_seed_bytes (fixture->dovecot, USER, "INBOX", encoded, NULL, &error));
  g_assert_no_error (error);
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
  /* The password went nowhere but the keyring. */
  g_autoptr(GString) files = g_string_new (NULL);

  read_tree (fixture->dir, files);
  g_assert_false (contains (files->str, files->len, PASSWORD));
  g_assert_false (contains (fixture->transcript->str, fixture->transcript->len, PASSWORD));

  mailer_test_dovecot_stop (fixture->dovecot);
  g_clear_object (&fixture->dovecot);
  remove_tree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->pin);
  g_string_free (fixture->transcript, TRUE);
}

/* Runs mailer-cli --data-dir DIR with @input on its stdin. */
static Run *
cli_runv (Fixture            *fixture,
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
  g_ptr_array_add (argv, "--data-dir");
  g_ptr_array_add (argv, fixture->dir);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "TZ", "UTC", TRUE);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C", TRUE);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);

  stdin_bytes = g_bytes_new (input ? input : "", input ? strlen (input) : 0);
  g_subprocess_communicate (process, stdin_bytes, NULL, &run->out, &err, &error);
  g_assert_no_error (error);

  data = g_bytes_get_data (err, &len);
  run->err = g_strndup (data ? data : "", len);
  g_string_append_len (fixture->transcript, data, len);
  data = g_bytes_get_data (run->out, &len);
  g_string_append_len (fixture->transcript, data, len);

  command = g_strjoinv (" ", (char **) argv->pdata + 1);
  /* A crash is a failure of its own, not an exit code. */
  if (!g_subprocess_get_if_exited (process))
    g_error ("mailer-cli %s: killed by signal %d\n%s", command, g_subprocess_get_term_sig (process), run->err);
  run->status = g_subprocess_get_exit_status (process);
  g_test_message ("mailer-cli %s: exit %d\n%s", command, run->status, run->err);
  return run;
}

#define cli(fixture, input, ...) \
  cli_runv ((fixture), (input), (const char * const[]) { __VA_ARGS__, NULL })

static char *
out_text (Run *run)
{
  gsize len;
  const char *data = g_bytes_get_data (run->out, &len);

  /* Empty bytes may have no data at all. */
  if (len == 0)
    return g_strdup ("");
  g_assert_null (memchr (data, '\0', len));
  return g_strndup (data, len);
}

/* The lines of stdout, without the last empty one. */
static GStrv
out_lines (Run *run)
{
  g_autofree char *text = out_text (run);

  if (text[0] == '\0')
    return g_new0 (char *, 1);
  g_assert_true (g_str_has_suffix (text, "\n"));
  text[strlen (text) - 1] = '\0';
  return g_strsplit (text, "\n", -1);
}

/* Succeeded, and printed exactly @expected. */
static void
assert_output (Run        *run,
               const char *expected)
{
  g_autofree char *text = out_text (run);

  g_assert_cmpint (run->status, ==, 0);
  g_assert_cmpstr (text, ==, expected);
}

/* Succeeded with one IMAP summary line: @n_new new, @n_replayed replayed.
 * Flag changes and removals are only checked to be numbers: the server
 * echoes the changes just replayed, and the sync may count those. */
static void
assert_summary (Run   *run,
                guint  n_new,
                guint  n_replayed)
{
  g_autofree char *text = out_text (run);
  g_autoptr(GRegex) regex = g_regex_new ("^new ([0-9]+), flag changes [0-9]+, removed [0-9]+, replayed ([0-9]+)\n$",
                                         0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *new_text = NULL;
  g_autofree char *replayed_text = NULL;

  g_assert_cmpint (run->status, ==, 0);
  if (!g_regex_match (regex, text, 0, &match))
    g_error ("Not a sync summary: %s", text);
  new_text = g_match_info_fetch (match, 1);
  replayed_text = g_match_info_fetch (match, 2);
  g_assert_cmpuint (g_ascii_strtoull (new_text, NULL, 10), ==, n_new);
  g_assert_cmpuint (g_ascii_strtoull (replayed_text, NULL, 10), ==, n_replayed);
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
port_text (Fixture                  *fixture,
           MailerTestDovecotService  service)
{
  return g_strdup_printf ("%u", mailer_test_dovecot_get_port (fixture->dovecot, service));
}

/* Adds an account with the password on stdin; returns its id. */
static char *
add_account (Fixture    *fixture,
             const char *password,
             const char *protocol,
             const char *security,
             guint16     port,
             const char *name,
             const char *pin)
{
  g_autofree char *port_str = g_strdup_printf ("%u", port);
  g_autofree char *input = g_strdup_printf ("%s\n", password);
  g_autofree char *name_option = g_strdup_printf ("--name=%s", name);
  g_autofree char *pin_option = pin ? g_strdup_printf ("--pin=%s", pin) : g_strdup ("--pin-from-server");
  g_autoptr(Run) run = NULL;
  char *uuid;

  /* IMAP bodies are left to `show`, not downloaded ahead. */
  if (g_str_equal (protocol, "imap"))
    run = cli (fixture, input, "add-account", "--protocol", protocol, "--host", "127.0.0.1", "--port", port_str,
               "--security", security, "--user", USER, name_option, pin_option, "--prefetch-days=0");
  else
    run = cli (fixture, input, "add-account", "--protocol", protocol, "--host", "127.0.0.1", "--port", port_str,
               "--security", security, "--user", USER, name_option, pin_option);
  g_assert_cmpint (run->status, ==, 0);
  if (pin == NULL)
    {
      g_assert_nonnull (strstr (run->err, fixture->pin));
      g_assert_nonnull (strstr (run->err, "trust on first use"));
    }
  uuid = g_strchomp (out_text (run));
  g_assert_true (g_uuid_string_is_valid (uuid));
  return uuid;
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

/* The flags column of message @id in "list --folder @folder". */
static char *
listed_flags (Fixture    *fixture,
              const char *folder,
              const char *id)
{
  g_autoptr(Run) run = cli (fixture, NULL, "list", "--folder", folder);
  g_auto(GStrv) lines = NULL;
  g_autofree char *prefix = g_strdup_printf ("%s\t", id);

  g_assert_cmpint (run->status, ==, 0);
  lines = out_lines (run);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix))
      {
        g_auto(GStrv) fields = g_strsplit (lines[i], "\t", -1);

        return g_strdup (fields[2]);
      }
  return NULL;
}

static guint
n_listed (Fixture    *fixture,
          const char *folder)
{
  g_autoptr(Run) run = folder ? cli (fixture, NULL, "list", "--folder", folder) : cli (fixture, NULL, "list");
  g_auto(GStrv) lines = NULL;

  g_assert_cmpint (run->status, ==, 0);
  lines = out_lines (run);
  return g_strv_length (lines);
}

/* The id of the folder with @role in the output of "folders @uuid". */
static char *
folder_with_role (Fixture    *fixture,
                  const char *uuid,
                  const char *role)
{
  g_autoptr(Run) run = cli (fixture, NULL, "folders", uuid);
  g_auto(GStrv) lines = NULL;

  g_assert_cmpint (run->status, ==, 0);
  lines = out_lines (run);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], "\t", -1);

      g_assert_cmpuint (g_strv_length (fields), ==, 6);
      if (g_str_equal (fields[3], role))
        return g_strdup (fields[0]);
    }
  g_error ("No %s folder for account %s", role, uuid);
  return NULL;
}

/* What the server holds, through doveadm. */

/* The UID of message number @n (its Message-ID) in @mailbox, 0 if none. */
static guint32
server_uid (Fixture    *fixture,
            const char *mailbox,
            guint       n)
{
  g_autofree char *message_id = g_strdup_printf ("<cli-imap-%u@example.org>", n);
  g_autofree char *output = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  guint64 uid = 0;

  g_assert_true (mailer_test_dovecot_doveadm (fixture->dovecot, &output, &error,
                                              "search", "-u", USER, "mailbox", mailbox,
                                              "header", "Message-ID", message_id, NULL));
  g_assert_no_error (error);
  /* "<mailbox GUID> <UID>" a line. */
  lines = g_strsplit (g_strstrip (output), "\n", -1);
  if (lines[0] == NULL)
    return 0;
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
  g_assert_true (g_ascii_string_to_unsigned (strchr (lines[0], ' ') + 1, 10, 1, G_MAXUINT32, &uid, NULL));
  return uid;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

/* The flags of a message on the server, sorted, without \Recent: "" for
 * none.  (Read with its UID: mailer_test_dovecot_get_flags() cannot tell
 * an empty flags field from a missing message.) */
static char *
server_flags (Fixture    *fixture,
              const char *mailbox,
              guint32     uid)
{
  g_autofree char *uid_str = g_strdup_printf ("%u", uid);
  g_autofree char *output = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GStrvBuilder) kept = g_strv_builder_new ();
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) fields = NULL;
  g_auto(GStrv) words = NULL;
  g_auto(GStrv) sorted = NULL;

  g_assert_true (mailer_test_dovecot_doveadm (fixture->dovecot, &output, &error,
                                              "-f", "tab", "fetch", "-u", USER, "uid flags",
                                              "mailbox", mailbox, "uid", uid_str, NULL));
  g_assert_no_error (error);
  /* "uid\tflags", then "UID\tFLAGS". */
  lines = g_strsplit (output, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), >=, 2);
  g_assert_cmpstr (lines[0], ==, "uid\tflags");
  fields = g_strsplit (lines[1], "\t", 2);
  g_assert_cmpuint (g_strv_length (fields), ==, 2);
  g_assert_cmpstr (fields[0], ==, uid_str);

  words = g_strsplit (fields[1], " ", -1);
  for (guint i = 0; words[i] != NULL; i++)
    if (words[i][0] != '\0' && g_ascii_strcasecmp (words[i], "\\Recent") != 0)
      g_strv_builder_add (kept, words[i]);
  sorted = g_strv_builder_end (kept);
  qsort (sorted, g_strv_length (sorted), sizeof (char *), compare_strings);
  return g_strjoinv (" ", sorted);
}

static gint
server_count (Fixture    *fixture,
              const char *mailbox)
{
  g_autoptr(GError) error = NULL;
  gint n = mailer_test_dovecot_count (fixture->dovecot, USER, mailbox, &error);

  g_assert_no_error (error);
  return n;
}

/* The message as the server stores it, byte for byte: doveadm's "text"
 * field (header and body), in the pager format, which prints the value as
 * it is after "text:\n" (a form feed line would start a next message). */
static GBytes *
server_text (Fixture    *fixture,
             const char *mailbox,
             guint32     uid)
{
  g_autofree char *uid_str = g_strdup_printf ("%u", uid);
  g_autofree char *output = NULL;
  g_autoptr(GError) error = NULL;
  const char *start, *end;

  g_assert_true (mailer_test_dovecot_doveadm (fixture->dovecot, &output, &error,
                                              "-f", "pager", "fetch", "-u", USER, "text",
                                              "mailbox", mailbox, "uid", uid_str, NULL));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (output, "text:\n"));
  start = output + strlen ("text:\n");
  end = strstr (start, "\n\f");
  if (end == NULL)
    end = start + strlen (start);
  return g_bytes_new (start, end - start);
}

static void
test_two_way (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autofree char *uuid = NULL;
  g_autofree char *wrong = NULL;
  g_autofree char *inbox = NULL;
  g_autofree char *archive = NULL;
  g_autofree char *read_id = NULL;
  g_autofree char *moved_id = NULL;
  g_autofree char *deleted_id = NULL;
  g_autofree char *shown_id = NULL;
  g_autofree char *offline_id = NULL;
  g_autofree char *flags = NULL;
  g_autoptr(GArray) uids = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  guint32 read_uid, moved_uid;
  Run *run;

  /* Trust on first use over implicit TLS. */
  uuid = add_account (fixture, PASSWORD, "imap", "tls",
                      mailer_test_dovecot_get_port (fixture->dovecot, MAILER_TEST_DOVECOT_IMAPS), "Iris", NULL);

  /* The first sync: folders and every summary. */
  run = cli (fixture, NULL, "sync", uuid);
  assert_output (run, "new 13, flag changes 0, removed 0, replayed 0\n");
  g_assert_nonnull (strstr (run->err, "Connecting to 127.0.0.1:"));
  g_assert_nonnull (strstr (run->err, "Checking INBOX"));
  run_free (run);

  inbox = folder_with_role (fixture, uuid, "inbox");
  archive = folder_with_role (fixture, uuid, "archive");
  g_assert_cmpuint (n_listed (fixture, NULL), ==, N_MESSAGES);
  g_assert_cmpuint (n_listed (fixture, inbox), ==, N_MESSAGES);
  g_assert_cmpuint (n_listed (fixture, archive), ==, 0);

  /* Summaries from the ENVELOPE, decoded. */
  run = cli (fixture, NULL, "search", "midi");
  g_assert_cmpint (run->status, ==, 0);
  lines = out_lines (run);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
  g_assert_true (g_str_has_suffix (lines[0], "\t2026-11-16T09:00:00+00:00\tU\tRené <rene@example.org>\t"
                                   "Réunion à midi"));
  g_clear_pointer (&lines, g_strfreev);
  run_free (run);

  read_id = search_one (fixture, "zebra3", "Message 3 about zebra3");
  moved_id = search_one (fixture, "zebra5", "Message 5 about zebra5");
  deleted_id = search_one (fixture, "zebra7", "Message 7 about zebra7");
  read_uid = server_uid (fixture, "INBOX", 3);
  g_assert_cmpuint (read_uid, >, 0);
  g_assert_cmpuint (server_uid (fixture, "INBOX", 5), >, 0);
  g_assert_cmpuint (server_uid (fixture, "INBOX", 7), >, 0);

  /* Each change goes to the server in the same run. */
  run = cli (fixture, NULL, "mark", read_id, "--read", "--flag");
  assert_summary (run, 0, 1);
  run_free (run);
  flags = listed_flags (fixture, inbox, read_id);
  g_assert_cmpstr (flags, ==, "F");
  g_clear_pointer (&flags, g_free);

  run = cli (fixture, NULL, "move", moved_id, "--to", archive);
  assert_summary (run, 0, 1);
  run_free (run);

  run = cli (fixture, NULL, "delete", deleted_id);
  assert_summary (run, 0, 1);
  run_free (run);

  g_assert_cmpuint (n_listed (fixture, inbox), ==, N_MESSAGES - 2);
  g_assert_cmpuint (n_listed (fixture, archive), ==, 1);
  flags = listed_flags (fixture, archive, moved_id);
  g_assert_cmpstr (flags, ==, "U");
  g_clear_pointer (&flags, g_free);

  /* What another client sees: exactly those changes. */
  g_assert_cmpint (server_count (fixture, "INBOX"), ==, N_MESSAGES - 2);
  g_assert_cmpint (server_count (fixture, "Archive"), ==, 1);
  g_assert_cmpint (server_count (fixture, "Trash"), ==, 0);
  g_assert_cmpint (server_count (fixture, "Sent"), ==, 0);
  g_assert_cmpint (server_count (fixture, "Drafts"), ==, 0);
  g_assert_cmpint (server_count (fixture, "Junk"), ==, 0);
  g_assert_cmpuint (server_uid (fixture, "INBOX", 5), ==, 0);
  g_assert_cmpuint (server_uid (fixture, "INBOX", 7), ==, 0);
  g_assert_cmpuint (server_uid (fixture, "Archive", 7), ==, 0);
  moved_uid = server_uid (fixture, "Archive", 5);
  g_assert_cmpuint (moved_uid, >, 0);
  flags = server_flags (fixture, "Archive", moved_uid);
  g_assert_cmpstr (flags, ==, "");
  g_clear_pointer (&flags, g_free);

  uids = mailer_test_dovecot_get_uids (fixture->dovecot, USER, "INBOX", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (uids->len, ==, N_MESSAGES - 2);
  for (guint i = 0; i < uids->len; i++)
    {
      guint32 uid = g_array_index (uids, guint32, i);

      flags = server_flags (fixture, "INBOX", uid);
      g_assert_cmpstr (flags, ==, uid == read_uid ? "\\Flagged \\Seen" : "");
      g_clear_pointer (&flags, g_free);
    }

  /* Nothing new the second time; the moved message kept one copy. */
  run = cli (fixture, NULL, "sync", uuid);
  assert_output (run, "new 0, flag changes 0, removed 0, replayed 0\n");
  run_free (run);
  g_assert_cmpuint (n_listed (fixture, inbox), ==, N_MESSAGES - 2);
  g_assert_cmpuint (n_listed (fixture, archive), ==, 1);

  /* show downloads the body and prints the server's bytes, CRLF and all. */
  shown_id = search_one (fixture, "zebra2", "Message 2 about zebra2");
  run = cli (fixture, NULL, "show", shown_id);
  g_assert_cmpint (run->status, ==, 0);
  {
    g_autoptr(GBytes) stored = server_text (fixture, "INBOX", server_uid (fixture, "INBOX", 2));
    g_autoptr(GBytes) seeded = make_message (2);

    g_assert_true (memchr (g_bytes_get_data (stored, NULL), '\r', g_bytes_get_size (stored)) != NULL);
    g_assert_true (g_bytes_equal (stored, seeded));
    g_assert_true (g_bytes_equal (run->out, stored));
  }
  run_free (run);

  /* The moved one, by the UID the move gave it. */
  run = cli (fixture, NULL, "show", moved_id);
  g_assert_cmpint (run->status, ==, 0);
  {
    g_autoptr(GBytes) stored = server_text (fixture, "Archive", moved_uid);

    g_assert_true (g_bytes_equal (run->out, stored));
  }
  run_free (run);

  /* Reading does not mark it read: the body was only peeked at. */
  flags = server_flags (fixture, "INBOX", server_uid (fixture, "INBOX", 2));
  g_assert_cmpstr (flags, ==, "");
  g_clear_pointer (&flags, g_free);

  /* A changed password on the server: 4. */
  wrong = add_account (fixture, "not the password", "imap", "tls",
                       mailer_test_dovecot_get_port (fixture->dovecot, MAILER_TEST_DOVECOT_IMAPS), "Wrong",
                       fixture->pin);
  run = cli (fixture, NULL, "sync", wrong);
  assert_failed (run, 4, "rejected the user name or password");
  run_free (run);

  /* Offline: what is stored still shows; a body that is not cannot be
   * downloaded (2), and a change waits for the next sync. */
  offline_id = search_one (fixture, "zebra9", "Message 9 about zebra9");
  mailer_test_dovecot_stop (fixture->dovecot);

  run = cli (fixture, NULL, "show", shown_id);
  g_assert_cmpint (run->status, ==, 0);
  {
    g_autoptr(GBytes) seeded = make_message (2);

    g_assert_true (g_bytes_equal (run->out, seeded));
  }
  run_free (run);

  run = cli (fixture, NULL, "show", offline_id);
  assert_failed (run, 2, "cannot be reached");
  g_assert_nonnull (strstr (run->err, offline_id));
  run_free (run);

  run = cli (fixture, NULL, "mark", offline_id, "--read");
  assert_failed (run, 2, "The change is saved here");
  run_free (run);
  run = cli (fixture, NULL, "mark", offline_id, "--flag", "--no-sync");
  assert_output (run, "");
  run_free (run);
  flags = listed_flags (fixture, inbox, offline_id);
  g_assert_cmpstr (flags, ==, "F");
  g_clear_pointer (&flags, g_free);

  run = cli (fixture, NULL, "sync", uuid);
  assert_failed (run, 2, NULL);
  run_free (run);
}

/* STARTTLS: the certificate pinned after the upgrade; then the journal of
 * changes made with --no-sync goes with the next sync. */
static void
test_starttls (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autofree char *uuid = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *flags = NULL;
  Run *run;

  uuid = add_account (fixture, PASSWORD, "imap", "starttls",
                      mailer_test_dovecot_get_port (fixture->dovecot, MAILER_TEST_DOVECOT_IMAP), "Iris", NULL);

  run = cli (fixture, NULL, "accounts");
  {
    g_autofree char *port = port_text (fixture, MAILER_TEST_DOVECOT_IMAP);
    g_autofree char *expected = g_strdup_printf ("%s\timap\tIris\t127.0.0.1:%s\tstarttls\n", uuid, port);

    assert_output (run, expected);
  }
  run_free (run);

  run = cli (fixture, NULL, "sync", uuid);
  assert_output (run, "new 13, flag changes 0, removed 0, replayed 0\n");
  run_free (run);

  first = search_one (fixture, "zebra4", "Message 4 about zebra4");
  second = search_one (fixture, "zebra11", "Message 11 about zebra11");
  run = cli (fixture, NULL, "mark", first, second, first, "--read", "--no-sync");
  assert_output (run, "");
  run_free (run);
  flags = server_flags (fixture, "INBOX", server_uid (fixture, "INBOX", 4));
  g_assert_cmpstr (flags, ==, "");
  g_clear_pointer (&flags, g_free);

  run = cli (fixture, NULL, "sync");
  g_assert_cmpint (run->status, ==, 0);
  {
    g_autofree char *text = out_text (run);

    /* One line, with the account's name (as for every account of "sync"). */
    g_assert_true (g_str_has_prefix (text, "Iris: new 0, flag changes "));
    g_assert_true (g_str_has_suffix (text, ", replayed 2\n"));
    g_assert_cmpstr (strchr (text, '\n'), ==, "\n");
  }
  run_free (run);
  flags = server_flags (fixture, "INBOX", server_uid (fixture, "INBOX", 4));
  g_assert_cmpstr (flags, ==, "\\Seen");
  g_clear_pointer (&flags, g_free);
  flags = server_flags (fixture, "INBOX", server_uid (fixture, "INBOX", 11));
  g_assert_cmpstr (flags, ==, "\\Seen");
  g_clear_pointer (&flags, g_free);

  /* And back. */
  run = cli (fixture, NULL, "mark", first, "--unread");
  assert_summary (run, 0, 1);
  run_free (run);
  flags = server_flags (fixture, "INBOX", server_uid (fixture, "INBOX", 4));
  g_assert_cmpstr (flags, ==, "");
}

/* Both kinds synced by one "sync"; POP3 takes the changes here only. */
static void
test_with_pop3 (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autofree char *imap = NULL;
  g_autofree char *pop3 = NULL;
  g_autofree char *archive = NULL;
  g_autofree char *pop3_inbox = NULL;
  g_autofree char *id = NULL;
  g_autofree char *gone = NULL;
  g_autofree char *flags = NULL;
  g_auto(GStrv) lines = NULL;
  Run *run;

  imap = add_account (fixture, PASSWORD, "imap", "tls",
                      mailer_test_dovecot_get_port (fixture->dovecot, MAILER_TEST_DOVECOT_IMAPS), "Iris",
                      fixture->pin);
  pop3 = add_account (fixture, PASSWORD, "pop3", "tls",
                      mailer_test_dovecot_get_port (fixture->dovecot, MAILER_TEST_DOVECOT_POP3S), "Pop",
                      fixture->pin);

  run = cli (fixture, NULL, "sync");
  assert_output (run, "Iris: new 13, flag changes 0, removed 0, replayed 0\n"
                      "Pop: downloaded 13, deleted 0 from the server\n");
  run_free (run);
  archive = folder_with_role (fixture, imap, "archive");
  pop3_inbox = folder_with_role (fixture, pop3, "inbox");

  /* The POP3 copy of message 4. */
  run = cli (fixture, NULL, "search", "zebra4", "--folder", pop3_inbox);
  g_assert_cmpint (run->status, ==, 0);
  lines = out_lines (run);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
  id = g_strndup (lines[0], strcspn (lines[0], "\t"));
  run_free (run);

  run = cli (fixture, NULL, "mark", id, "--flag");
  assert_output (run, "");
  g_assert_nonnull (strstr (run->err, "Pop is a POP3 account"));
  g_assert_nonnull (strstr (run->err, "POP3 does not sync changes"));
  run_free (run);
  flags = listed_flags (fixture, pop3_inbox, id);
  g_assert_cmpstr (flags, ==, "UF");
  g_clear_pointer (&flags, g_free);
  flags = server_flags (fixture, "INBOX", server_uid (fixture, "INBOX", 4));
  g_assert_null (strstr (flags, "\\Flagged"));
  g_clear_pointer (&flags, g_free);

  /* Folders belong to one account. */
  run = cli (fixture, NULL, "move", id, "--to", archive);
  assert_failed (run, 1, "one account");
  run_free (run);

  /* Deleted here; the server keeps its copy (nothing was synced). */
  gone = g_strdup (id);
  run = cli (fixture, NULL, "delete", gone);
  assert_output (run, "");
  run_free (run);
  g_assert_cmpuint (n_listed (fixture, pop3_inbox), ==, N_MESSAGES - 1);
  g_assert_cmpint (server_count (fixture, "INBOX"), ==, N_MESSAGES);

  /* The server copy goes with the next sync (--delete-when-deleted is on by
   * default).  The IMAP account sees it leave, and the others read: Dovecot
   * marks what POP3 downloaded as seen. */
  run = cli (fixture, NULL, "sync", pop3);
  assert_output (run, "downloaded 0, deleted 1 from the server\n");
  run_free (run);
  g_assert_cmpint (server_count (fixture, "INBOX"), ==, N_MESSAGES - 1);
  g_assert_cmpuint (server_uid (fixture, "INBOX", 4), ==, 0);
  run = cli (fixture, NULL, "sync", imap);
  assert_output (run, "new 0, flag changes 12, removed 1, replayed 0\n");
  run_free (run);

  /* Not found, before anything changes. */
  run = cli (fixture, NULL, "delete", "424242", gone);
  assert_failed (run, 7, "424242");
  run_free (run);
  run = cli (fixture, NULL, "move", gone, "--to", "424242");
  assert_failed (run, 7, "424242");
  run_free (run);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add ("/cli-imap/two-way", Fixture, NULL, fixture_set_up, test_two_way, fixture_tear_down);
  g_test_add ("/cli-imap/starttls", Fixture, NULL, fixture_set_up, test_starttls, fixture_tear_down);
  g_test_add ("/cli-imap/with-pop3", Fixture, NULL, fixture_set_up, test_with_pop3, fixture_tear_down);

  return g_test_run ();
}
