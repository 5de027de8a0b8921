/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Integration: MailerConnection against the private Dovecot fixture.
 * Logs in over plain IMAP, IMAP + STARTTLS, IMAPS and POP3S with the
 * fixture's self-signed certificate pinned, and checks that an unpinned or
 * wrongly pinned certificate stops the connection before any login.
 */
#include "config.h"

#include "mailer-connection.h"
#include "mailer-test-dovecot.h"
#include "mailer-test-util.h"

#define USER "ada"
#define PASSWORD "ada's secret"

typedef struct
{
  MailerTestDovecot *dovecot;
  char *pin;
  guint n_seeded;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autofree char *seeds = g_test_build_filename (G_TEST_DIST, "data", NULL);
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) error = NULL;
  const char *name;

  fixture->dovecot = mailer_test_dovecot_new ();
  mailer_test_dovecot_add_user (fixture->dovecot, USER, PASSWORD);
  g_assert_true (mailer_test_dovecot_seed (fixture->dovecot, USER, "INBOX", seeds, &error));
  g_assert_no_error (error);
  g_assert_true (mailer_test_dovecot_start (fixture->dovecot, &error));
  g_assert_no_error (error);

  dir = g_dir_open (seeds, 0, NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".eml"))
      fixture->n_seeded++;
  g_assert_cmpuint (fixture->n_seeded, >, 0);

  fixture->pin = mailer_certificate_get_sha256 (mailer_test_dovecot_get_certificate (fixture->dovecot));
  g_assert_cmpuint (strlen (fixture->pin), ==, 64);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  mailer_test_dovecot_stop (fixture->dovecot);
  g_clear_object (&fixture->dovecot);
  g_clear_pointer (&fixture->pin, g_free);
}

/* A connection to one of the fixture's services, @pin (nullable) pinned. */
static MailerConnection *
new_connection (Fixture                  *fixture,
                MailerTestDovecotService  service,
                MailerSecurity            security,
                const char               *pin)
{
  MailerConnection *connection;

  connection = mailer_connection_new ("127.0.0.1",
                                      mailer_test_dovecot_get_port (fixture->dovecot, service),
                                      security);
  mailer_connection_set_pinned_certificate (connection, pin);
  return connection;
}

/* Synchronous wrappers over the async API, for test readability. */

static gboolean
do_connect (MailerConnection  *connection,
            GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_connection_connect_async (connection, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  return mailer_connection_connect_finish (connection, result, error);
}

static gboolean
do_start_tls (MailerConnection  *connection,
              GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_connection_start_tls_async (connection, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  return mailer_connection_start_tls_finish (connection, result, error);
}

static char *
read_line (MailerConnection *connection)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  g_autoptr(GError) error = NULL;
  char *line;

  mailer_connection_read_line_async (connection, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  line = mailer_connection_read_line_finish (connection, result, NULL, &error);
  g_assert_no_error (error);
  return line;
}

static void
send_line (MailerConnection *connection,
           const char       *line)
{
  g_autofree char *text = g_strconcat (line, "\r\n", NULL);
  g_autoptr(GBytes) bytes = g_bytes_new_take (g_steal_pointer (&text), strlen (line) + 2);
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  g_autoptr(GError) error = NULL;

  mailer_connection_write_async (connection, bytes, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  g_assert_true (mailer_connection_write_finish (connection, result, &error));
  g_assert_no_error (error);
}

/* Sends an IMAP command and returns every line up to and including the
 * tagged reply, whose status is checked. */
static GPtrArray *
imap_command (MailerConnection *connection,
              const char       *tag,
              const char       *command,
              const char       *expected_status)
{
  g_autofree char *line = g_strdup_printf ("%s %s", tag, command);
  g_autofree char *prefix = g_strconcat (tag, " ", NULL);
  g_autofree char *expected = g_strconcat (tag, " ", expected_status, " ", NULL);
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);

  send_line (connection, line);
  for (;;)
    {
      char *reply = read_line (connection);

      g_ptr_array_add (lines, reply);
      if (g_str_has_prefix (reply, prefix))
        {
          g_assert_true (g_str_has_prefix (reply, expected));
          return lines;
        }
    }
}

static void
imap_login_and_select (Fixture          *fixture,
                       MailerConnection *connection)
{
  g_autoptr(GPtrArray) lines = NULL;
  g_autofree char *exists = g_strdup_printf ("* %u EXISTS", fixture->n_seeded);
  gboolean found = FALSE;

  g_ptr_array_unref (imap_command (connection, "a1", "LOGIN ada \"ada's secret\"", "OK"));
  lines = imap_command (connection, "a2", "SELECT INBOX", "OK");
  for (guint i = 0; i < lines->len; i++)
    found |= g_str_equal (g_ptr_array_index (lines, i), exists);
  g_assert_true (found);
  g_ptr_array_unref (imap_command (connection, "a3", "LOGOUT", "OK"));
}

static void
test_imap_plain (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *greeting = NULL;

  connection = new_connection (fixture, MAILER_TEST_DOVECOT_IMAP, MAILER_SECURITY_NONE, NULL);
  g_assert_true (do_connect (connection, &error));
  g_assert_no_error (error);
  g_assert_false (mailer_connection_is_encrypted (connection));

  greeting = read_line (connection);
  g_assert_true (g_str_has_prefix (greeting, "* OK"));
  g_assert_nonnull (strstr (greeting, "STARTTLS"));
  imap_login_and_select (fixture, connection);
}

static void
test_imap_starttls (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *greeting = NULL;

  connection = new_connection (fixture, MAILER_TEST_DOVECOT_IMAP, MAILER_SECURITY_STARTTLS, fixture->pin);
  g_assert_true (do_connect (connection, &error));
  g_assert_no_error (error);

  greeting = read_line (connection);
  g_assert_true (g_str_has_prefix (greeting, "* OK"));
  g_ptr_array_unref (imap_command (connection, "s1", "STARTTLS", "OK"));
  g_assert_true (do_start_tls (connection, &error));
  g_assert_no_error (error);
  g_assert_true (mailer_connection_is_encrypted (connection));
  g_assert_true (g_tls_certificate_is_same (mailer_connection_get_peer_certificate (connection),
                                            mailer_test_dovecot_get_certificate (fixture->dovecot)));
  imap_login_and_select (fixture, connection);
}

static void
test_imaps_pinned (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *greeting = NULL;
  g_autofree char *upper_pin = g_ascii_strup (fixture->pin, -1);

  /* Pins are compared case-insensitively. */
  connection = new_connection (fixture, MAILER_TEST_DOVECOT_IMAPS, MAILER_SECURITY_TLS, upper_pin);
  g_assert_true (do_connect (connection, &error));
  g_assert_no_error (error);
  g_assert_true (mailer_connection_is_encrypted (connection));
  g_assert_true (mailer_connection_get_peer_certificate_errors (connection) &
                 G_TLS_CERTIFICATE_UNKNOWN_CA);

  greeting = read_line (connection);
  g_assert_true (g_str_has_prefix (greeting, "* OK"));
  /* Implicit TLS: no second upgrade, and no reason to offer one. */
  g_assert_null (strstr (greeting, "STARTTLS"));
  imap_login_and_select (fixture, connection);
}

static void
test_imaps_wrong_password (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *greeting = NULL;

  connection = new_connection (fixture, MAILER_TEST_DOVECOT_IMAPS, MAILER_SECURITY_TLS, fixture->pin);
  g_assert_true (do_connect (connection, &error));
  g_assert_no_error (error);
  greeting = read_line (connection);
  g_ptr_array_unref (imap_command (connection, "a1", "LOGIN ada wrong", "NO"));
}

static void
check_refused (Fixture    *fixture,
               const char *pin)
{
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *seen = NULL;

  connection = new_connection (fixture, MAILER_TEST_DOVECOT_IMAPS, MAILER_SECURITY_TLS, pin);
  g_assert_false (do_connect (connection, &error));
  g_assert_error (error, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CERTIFICATE_UNTRUSTED);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
  g_assert_false (mailer_connection_is_encrypted (connection));

  /* What the user would be asked to trust is available. */
  g_assert_nonnull (mailer_connection_get_peer_certificate (connection));
  seen = mailer_certificate_get_sha256 (mailer_connection_get_peer_certificate (connection));
  g_assert_cmpstr (seen, ==, fixture->pin);
  g_assert_true (mailer_connection_get_peer_certificate_errors (connection) &
                 G_TLS_CERTIFICATE_UNKNOWN_CA);
}

static void
test_imaps_unpinned_refused (Fixture       *fixture,
                             gconstpointer  data)
{
  check_refused (fixture, NULL);
}

/* A TLS session resumed in the same process must not carry one
 * connection's trust over to another with a different pin. */
static void
test_imaps_resumed_session_checked (Fixture       *fixture,
                                    gconstpointer  data)
{
  g_autofree char *wrong = g_strdup (fixture->pin);

  for (int round = 0; round < 2; round++)
    {
      g_autoptr(MailerConnection) trusted = NULL;
      g_autoptr(GError) error = NULL;

      trusted = new_connection (fixture, MAILER_TEST_DOVECOT_IMAPS, MAILER_SECURITY_TLS, fixture->pin);
      g_assert_true (do_connect (trusted, &error));
      g_assert_no_error (error);
      g_free (read_line (trusted));
      send_line (trusted, "a1 LOGOUT");
      g_free (read_line (trusted));
      g_free (read_line (trusted));
      {
        g_autoptr(GAsyncResult) result = NULL;
        GAsyncResult *pending = NULL;

        /* A clean close, as a finished session ends. */
        mailer_connection_close_async (trusted, NULL, mailer_test_store_result_cb, &pending);
        result = mailer_test_wait_result (&pending, 20);
        g_assert_true (mailer_connection_close_finish (trusted, result, NULL));
      }
    }
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  check_refused (fixture, wrong);
  check_refused (fixture, NULL);
}

static void
test_imaps_wrong_pin_refused (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autofree char *wrong = g_strdup (fixture->pin);

  wrong[0] = wrong[0] == '0' ? '1' : '0';
  check_refused (fixture, wrong);
}

static void
test_pop3s_pinned (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *greeting = NULL;
  g_autofree char *user = NULL;
  g_autofree char *pass = NULL;
  g_autofree char *stat = NULL;
  g_autofree char *quit = NULL;
  g_autofree char *expected = NULL;

  connection = new_connection (fixture, MAILER_TEST_DOVECOT_POP3S, MAILER_SECURITY_TLS, fixture->pin);
  g_assert_true (do_connect (connection, &error));
  g_assert_no_error (error);
  g_assert_true (mailer_connection_is_encrypted (connection));

  greeting = read_line (connection);
  g_assert_true (g_str_has_prefix (greeting, "+OK"));
  send_line (connection, "USER " USER);
  user = read_line (connection);
  g_assert_true (g_str_has_prefix (user, "+OK"));
  send_line (connection, "PASS " PASSWORD);
  pass = read_line (connection);
  g_assert_true (g_str_has_prefix (pass, "+OK"));
  send_line (connection, "STAT");
  stat = read_line (connection);
  expected = g_strdup_printf ("+OK %u ", fixture->n_seeded);
  g_assert_true (g_str_has_prefix (stat, expected));
  send_line (connection, "QUIT");
  quit = read_line (connection);
  g_assert_true (g_str_has_prefix (quit, "+OK"));
}

static void
test_pop3s_unpinned_refused (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(GError) error = NULL;

  connection = new_connection (fixture, MAILER_TEST_DOVECOT_POP3S, MAILER_SECURITY_TLS, NULL);
  g_assert_false (do_connect (connection, &error));
  g_assert_error (error, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CERTIFICATE_UNTRUSTED);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("/login/imap/plain", test_imap_plain);
  ADD ("/login/imap/starttls-pinned", test_imap_starttls);
  ADD ("/login/imaps/pinned", test_imaps_pinned);
  ADD ("/login/imaps/wrong-password", test_imaps_wrong_password);
  ADD ("/login/imaps/unpinned-refused", test_imaps_unpinned_refused);
  ADD ("/login/imaps/wrong-pin-refused", test_imaps_wrong_pin_refused);
  ADD ("/login/imaps/resumed-session-checked", test_imaps_resumed_session_checked);
  ADD ("/login/pop3s/pinned", test_pop3s_pinned);
  ADD ("/login/pop3s/unpinned-refused", test_pop3s_unpinned_refused);

#undef ADD

  return g_test_run ();
}
