/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Integration: MailerImapClient against the private Dovecot fixture.
 * Logs in over IMAPS and over IMAP + STARTTLS, reads capabilities and
 * enables QRESYNC, selects and fetches with pipelined commands, sees
 * another client's new message through IDLE, refuses a wrong password
 * with a distinct error, and quotes hostile arguments safely.
 */
#include "config.h"

#include <string.h>

#include "mailer-imap-client.h"
#include "mailer-test-dovecot.h"
#include "mailer-test-util.h"

#define USER "ida"
#define PASSWORD "ida \"quoted\" pass\\word"

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
  fixture->pin = mailer_certificate_get_sha256 (mailer_test_dovecot_get_certificate (fixture->dovecot));
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  mailer_test_dovecot_stop (fixture->dovecot);
  g_clear_object (&fixture->dovecot);
  g_clear_pointer (&fixture->pin, g_free);
}

static MailerImapClient *
connect_client (Fixture                  *fixture,
                MailerTestDovecotService  service,
                MailerSecurity            security,
                GError                  **error)
{
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(MailerImapClient) client = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  connection = mailer_connection_new ("127.0.0.1", mailer_test_dovecot_get_port (fixture->dovecot, service), security);
  mailer_connection_set_pinned_certificate (connection, fixture->pin);
  client = mailer_imap_client_new (connection);
  mailer_imap_client_connect_async (client, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  if (!mailer_imap_client_connect_finish (client, result, error))
    return NULL;
  return g_steal_pointer (&client);
}

static gboolean
login (MailerImapClient  *client,
       const char        *password,
       GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_imap_client_login_async (client, USER, password, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  return mailer_imap_client_login_finish (client, result, error);
}

static MailerImapResponse *
run (MailerImapClient       *client,
     MailerImapCommand      *command,
     MailerImapUntaggedFunc  func,
     gpointer                data,
     GError                **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_imap_client_run_async (client, command, func, data, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  return mailer_imap_client_run_finish (client, result, error);
}

static void
logout (MailerImapClient *client)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_imap_client_logout_async (client, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  g_assert_true (mailer_imap_client_logout_finish (client, result, NULL));
}

static gboolean
collect_fetch (MailerImapClient         *client,
               const MailerImapResponse *response,
               gpointer                  user_data)
{
  GPtrArray *subjects = user_data;
  g_autoptr(MailerImapFetch) fetch = NULL;
  GPtrArray *envelope;
  const char *subject;

  if (g_strcmp0 (response->name, "FETCH") != 0)
    return FALSE;
  fetch = mailer_imap_parse_fetch (response, NULL);
  g_assert_nonnull (fetch);
  g_assert_cmpuint (fetch->uid, >, 0);
  g_assert_true (fetch->has_flags);
  g_assert_cmpint (fetch->size, >, 0);
  g_assert_cmpint (fetch->internal_date, >, 0);
  envelope = mailer_imap_value_get_list (fetch->envelope);
  g_assert_nonnull (envelope);
  g_assert_cmpuint (envelope->len, ==, 10);
  subject = mailer_imap_value_get_string (envelope->pdata[1], NULL);
  g_ptr_array_add (subjects, g_strdup (subject ? subject : ""));
  return TRUE;
}

static void
test_imaps_fetch (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(MailerImapClient) client = NULL;
  g_autoptr(MailerImapResponse) response = NULL;
  g_autoptr(GPtrArray) subjects = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  MailerImapCommand *command;

  client = connect_client (fixture, MAILER_TEST_DOVECOT_IMAPS, MAILER_SECURITY_TLS, &error);
  g_assert_no_error (error);
  g_assert_true (mailer_imap_client_has_capability (client, "IMAP4rev1"));
  g_assert_true (login (client, PASSWORD, &error));
  g_assert_no_error (error);
  g_assert_true (mailer_imap_client_is_enabled (client, "QRESYNC"));

  command = mailer_imap_command_new ("SELECT");
  g_assert_true (mailer_imap_command_add_mailbox (command, "INBOX", FALSE, NULL));
  response = run (client, command, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (response);
  g_clear_pointer (&response, mailer_imap_response_free);

  command = mailer_imap_command_new ("UID FETCH");
  g_assert_true (mailer_imap_command_add_raw (command, "1:*", NULL));
  g_assert_true (mailer_imap_command_add_raw (command, "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)", NULL));
  response = run (client, command, collect_fetch, subjects, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (subjects->len, ==, fixture->n_seeded);

  logout (client);
}

typedef struct
{
  gboolean saw_exists;
  MailerImapClient *client;
} IdleData;

static void
untagged_cb (MailerImapClient         *client,
             const MailerImapResponse *response,
             IdleData                 *data)
{
  if (g_strcmp0 (response->name, "EXISTS") == 0)
    {
      data->saw_exists = TRUE;
      mailer_imap_client_idle_done (client);
    }
}

static void
test_starttls_idle (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(MailerImapClient) client = NULL;
  g_autoptr(MailerImapResponse) response = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("Subject: pushed\r\n\r\nhi\r\n", 24);
  IdleData idle = { FALSE, NULL };
  GAsyncResult *pending = NULL;
  MailerImapCommand *command;
  gint64 start;

  client = connect_client (fixture, MAILER_TEST_DOVECOT_IMAP, MAILER_SECURITY_STARTTLS, &error);
  g_assert_no_error (error);
  g_assert_true (mailer_connection_is_encrypted (mailer_imap_client_get_connection (client)));
  g_assert_true (login (client, PASSWORD, &error));
  g_assert_no_error (error);

  command = mailer_imap_command_new ("SELECT");
  mailer_imap_command_add_mailbox (command, "INBOX", FALSE, NULL);
  response = run (client, command, NULL, NULL, &error);
  g_assert_no_error (error);

  g_signal_connect (client, "untagged", G_CALLBACK (untagged_cb), &idle);
  mailer_imap_client_idle_async (client, NULL, mailer_test_store_result_cb, &pending);
  /* Let IDLE start, then another client delivers. */
  for (int i = 0; i < 50; i++)
    g_main_context_iteration (NULL, FALSE), g_usleep (2000);
  start = g_get_monotonic_time ();
  g_assert_true (mailer_test_dovecot_append (fixture->dovecot, USER, "INBOX", message, NULL, NULL, &error));
  g_assert_no_error (error);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_imap_client_idle_finish (client, result, &error));
  g_assert_no_error (error);
  g_assert_true (idle.saw_exists);
  g_test_message ("New mail seen through IDLE after %.0f ms", (g_get_monotonic_time () - start) / 1000.0);

  logout (client);
}

static void
test_wrong_password (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(MailerImapClient) client = NULL;
  g_autoptr(GError) error = NULL;

  client = connect_client (fixture, MAILER_TEST_DOVECOT_IMAPS, MAILER_SECURITY_TLS, &error);
  g_assert_no_error (error);
  g_assert_false (login (client, "wrong", &error));
  g_assert_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_AUTH_FAILED);
  g_assert_null (strstr (error->message, "wrong"));
  mailer_imap_client_disconnect (client);
}

static void
test_hostile_arguments (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(MailerImapClient) client = NULL;
  g_autoptr(MailerImapResponse) response = NULL;
  g_autoptr(GError) error = NULL;
  MailerImapCommand *command;

  /* Nothing a caller passes can start a second command. */
  command = mailer_imap_command_new ("SELECT");
  g_assert_false (mailer_imap_command_add_string (command, "INBOX\r\nA1 DELETE INBOX", &error));
  g_assert_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (mailer_imap_command_add_atom (command, "a b", &error));
  g_clear_error (&error);
  g_assert_false (mailer_imap_command_add_raw (command, "1:*\n", &error));
  g_clear_error (&error);
  mailer_imap_command_free (command);

  /* Quotes, backslashes and 8-bit names travel intact. */
  client = connect_client (fixture, MAILER_TEST_DOVECOT_IMAPS, MAILER_SECURITY_TLS, &error);
  g_assert_no_error (error);
  g_assert_true (login (client, PASSWORD, &error));
  g_assert_no_error (error);

  command = mailer_imap_command_new ("CREATE");
  g_assert_true (mailer_imap_command_add_mailbox (command, "Reçus \"2026\" \\ 台北",
                                                  mailer_imap_client_get_utf8_accepted (client), NULL));
  response = run (client, command, NULL, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&response, mailer_imap_response_free);

  {
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

    command = mailer_imap_command_new ("LIST");
    mailer_imap_command_add_string (command, "", NULL);
    mailer_imap_command_add_string (command, "*", NULL);
    response = run (client, command, (MailerImapUntaggedFunc) NULL, NULL, &error);
    g_assert_no_error (error);
  }
  logout (client);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func) \
  g_test_add ("/imap-client/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("imaps-fetch", test_imaps_fetch);
  ADD ("starttls-idle", test_starttls_idle);
  ADD ("wrong-password", test_wrong_password);
  ADD ("hostile-arguments", test_hostile_arguments);
#undef ADD

  return g_test_run ();
}
