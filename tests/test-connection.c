/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerConnection against a scripted server: what Dovecot never does.
 * Line framing (CRLF, bare LF, NUL bytes), the line-length limit, a peer
 * that hangs up mid-line, STARTTLS with data injected before the handshake.
 */
#include "config.h"

#include <glib/gstdio.h>

#include "mailer-connection.h"
#include "mailer-test-certificate.h"
#include "mailer-test-script-server.h"
#include "mailer-test-util.h"

static MailerConnection *
connect_to (MailerTestScriptServer *server,
            MailerSecurity          security)
{
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (mailer_test_script_server_start (server, &error));
  g_assert_no_error (error);

  connection = mailer_connection_new ("127.0.0.1", mailer_test_script_server_get_port (server),
                                      security);
  mailer_connection_connect_async (connection, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_connection_connect_finish (connection, result, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&connection);
}

static char *
read_line (MailerConnection  *connection,
           gsize             *length,
           GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_connection_read_line_async (connection, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  return mailer_connection_read_line_finish (connection, result, length, error);
}

static void
write_text (MailerConnection *connection,
            const char       *text)
{
  g_autoptr(GBytes) bytes = g_bytes_new (text, strlen (text));
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  g_autoptr(GError) error = NULL;

  mailer_connection_write_async (connection, bytes, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_connection_write_finish (connection, result, &error));
  g_assert_no_error (error);
}

static void
test_line_framing (void)
{
  g_autoptr(MailerTestScriptServer) server = mailer_test_script_server_new ();
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  static const char raw[] = "bare LF\nnul\0inside\r\n\r\n";
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;
  g_autofree char *fourth = NULL;
  gsize length;

  mailer_test_script_server_send (server, "* OK hello");
  mailer_test_script_server_send_raw (server, raw, sizeof raw - 1);
  mailer_test_script_server_expect (server, "a1 NOOP");
  mailer_test_script_server_close (server);
  connection = connect_to (server, MAILER_SECURITY_NONE);

  first = read_line (connection, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (first, ==, "* OK hello");
  g_assert_cmpuint (length, ==, 10);

  second = read_line (connection, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (second, ==, "bare LF");

  third = read_line (connection, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (length, ==, 10);
  g_assert_cmpmem (third, length, "nul\0inside", 10);

  fourth = read_line (connection, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (length, ==, 0);

  write_text (connection, "a1 NOOP\r\n");
  g_assert_true (mailer_test_script_server_wait_done (server, 5000));
  g_assert_null (mailer_test_script_server_get_error (server));
}

static void
test_line_too_long (void)
{
  g_autoptr(MailerTestScriptServer) server = mailer_test_script_server_new ();
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *huge = g_strnfill (4096, 'A');
  g_autofree char *line = NULL;

  /* Never terminated: a client without a limit would buffer forever. */
  mailer_test_script_server_send_raw (server, huge, 4096);
  mailer_test_script_server_stall (server);
  connection = connect_to (server, MAILER_SECURITY_NONE);
  mailer_connection_set_max_line_length (connection, 1024);

  line = read_line (connection, NULL, &error);
  g_assert_error (error, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_LINE_TOO_LONG);
  g_assert_null (line);
}

static void
test_closed_mid_line (void)
{
  g_autoptr(MailerTestScriptServer) server = mailer_test_script_server_new ();
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  mailer_test_script_server_send_raw (server, "+OK half a li", 13);
  mailer_test_script_server_close (server);
  connection = connect_to (server, MAILER_SECURITY_NONE);

  line = read_line (connection, NULL, &error);
  g_assert_error (error, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CLOSED);
  g_assert_null (line);
}

static void
test_starttls_injection (void)
{
  g_autoptr(MailerTestScriptServer) server = mailer_test_script_server_new ();
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  static const char reply[] = "+OK Begin TLS\r\n-ERR injected before the handshake\r\n";

  /* Both lines in one segment, as an attacker on the path would send them. */
  mailer_test_script_server_send_raw (server, reply, sizeof reply - 1);
  mailer_test_script_server_stall (server);
  connection = connect_to (server, MAILER_SECURITY_STARTTLS);

  line = read_line (connection, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "+OK Begin TLS");

  mailer_connection_start_tls_async (connection, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_false (mailer_connection_start_tls_finish (connection, result, &error));
  g_assert_error (error, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_TLS_INJECTION);
  g_assert_false (mailer_connection_is_encrypted (connection));
}

/* STARTTLS on a script server presenting @certificate, the client
 * pinning @pin; then one line over TLS. */
static void
starttls_with (GTlsCertificate *certificate,
               const char      *pin)
{
  g_autoptr(MailerTestScriptServer) server = mailer_test_script_server_new ();
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *greeting = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *secure = NULL;

  mailer_test_script_server_set_certificate (server, certificate);
  mailer_test_script_server_send (server, "220 ready");
  mailer_test_script_server_expect (server, "STARTTLS");
  mailer_test_script_server_send (server, "220 go ahead");
  mailer_test_script_server_starttls (server);
  mailer_test_script_server_send (server, "250 secure now");
  mailer_test_script_server_expect (server, "QUIT");
  mailer_test_script_server_close (server);
  connection = connect_to (server, MAILER_SECURITY_STARTTLS);
  mailer_connection_set_pinned_certificate (connection, pin);

  greeting = read_line (connection, NULL, &error);
  g_assert_no_error (error);
  write_text (connection, "STARTTLS\r\n");
  reply = read_line (connection, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, "220 go ahead");

  mailer_connection_start_tls_async (connection, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_connection_start_tls_finish (connection, result, &error));
  g_assert_no_error (error);
  g_assert_true (mailer_connection_is_encrypted (connection));

  secure = read_line (connection, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (secure, ==, "250 secure now");
  write_text (connection, "QUIT\r\n");
  g_assert_true (mailer_test_script_server_wait_done (server, 5000));
  g_assert_null (mailer_test_script_server_get_error (server));
}

static void
test_starttls_pinned (void)
{
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *pin = NULL;

  certificate = mailer_test_certificate_new_temporary (&error);
  g_assert_no_error (error);
  pin = mailer_certificate_get_sha256 (certificate);
  starttls_with (certificate, pin);
}

/* A pin is checked without the system's trust list, which is only read
 * when the certificate is another one: one the system trusts still
 * passes, as it would without a pin.  (The system's list is stood in for
 * by the backend's default database.) */
static void
test_starttls_pinned_other_trusted (void)
{
  GTlsBackend *backend = g_tls_backend_get_default ();
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(GTlsDatabase) system = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *other_pin = g_compute_checksum_for_string (G_CHECKSUM_SHA256, "another", -1);

  certificate = mailer_test_certificate_new_temporary (&error);
  g_assert_no_error (error);
  g_object_get (certificate, "certificate-pem", &pem, NULL);
  dir = g_dir_make_tmp ("mailer-ca-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (dir, "ca.pem", NULL);
  g_assert_true (g_file_set_contents (path, pem, -1, &error));
  g_assert_no_error (error);
  system = g_tls_file_database_new (path, &error);
  g_assert_no_error (error);

  g_tls_backend_set_default_database (backend, system);
  starttls_with (certificate, other_pin);
  g_tls_backend_set_default_database (backend, NULL);

  g_unlink (path);
  g_rmdir (dir);
}

static void
test_connection_refused (void)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port;

  /* A port that was free a moment ago and has nobody listening now. */
  port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  g_socket_listener_close (listener);

  connection = mailer_connection_new ("127.0.0.1", port, MAILER_SECURITY_TLS);
  mailer_connection_connect_async (connection, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_false (mailer_connection_connect_finish (connection, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/connection/line-framing", test_line_framing);
  g_test_add_func ("/connection/line-too-long", test_line_too_long);
  g_test_add_func ("/connection/closed-mid-line", test_closed_mid_line);
  g_test_add_func ("/connection/starttls-injection", test_starttls_injection);
  g_test_add_func ("/connection/starttls-pinned", test_starttls_pinned);
  g_test_add_func ("/connection/starttls-pinned-other-trusted", test_starttls_pinned_other_trusted);
  g_test_add_func ("/connection/refused", test_connection_refused);

  return g_test_run ();
}
