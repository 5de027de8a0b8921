/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Integration: finding an address's mail servers for the account setup.
 * The provider list and the autoconfig format on their own; then a whole
 * run for "example.test", whose names a test resolver answers (everything
 * on loopback): autoconfig from a local HTTPS server whose certificate a
 * test CA vouches for, SRV records, an MX record of a known provider, and
 * guesses probed against the Dovecot fixture (its IMAP and POP3 ports
 * standing in for the standard ones).
 */
#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "mailer-account-check.h"
#include "mailer-autodetect.h"
#include "mailer-session.h"
#include "mailer-connection.h"
#include "mailer-imap-parser.h"
#include "mailer-test-dovecot.h"
#include "mailer-test-resolver.h"
#include "mailer-test-util.h"

/* The provider list and the autoconfig format */

static void
test_provider_list (void)
{
  g_autoptr(GPtrArray) gmail = mailer_autodetect_lookup_provider ("Someone@GMail.com");
  g_autoptr(GPtrArray) icloud = mailer_autodetect_lookup_provider ("robin@icloud.com");
  g_autoptr(GPtrArray) unknown = mailer_autodetect_lookup_provider ("someone@example.test");
  g_autoptr(GPtrArray) broken = mailer_autodetect_lookup_provider ("no-at-sign");
  MailerServerCandidate *imap;

  g_assert_cmpuint (gmail->len, ==, 3);
  imap = gmail->pdata[0];
  g_assert_cmpint (imap->type, ==, MAILER_SERVER_IMAP);
  g_assert_cmpstr (imap->host, ==, "imap.gmail.com");
  g_assert_cmpuint (imap->port, ==, 993);
  g_assert_cmpint (imap->security, ==, MAILER_SECURITY_TLS);
  g_assert_cmpstr (imap->username, ==, "Someone@GMail.com");
  g_assert_true (imap->oauth);
  g_assert_nonnull (strstr (imap->note, "app password"));

  /* iCloud's IMAP user name is the part before @; no POP3. */
  g_assert_cmpuint (icloud->len, ==, 2);
  g_assert_cmpstr (((MailerServerCandidate *) icloud->pdata[0])->username, ==, "robin");
  g_assert_cmpint (((MailerServerCandidate *) icloud->pdata[1])->type, ==, MAILER_SERVER_SMTP);

  g_assert_cmpuint (unknown->len, ==, 0);
  g_assert_cmpuint (broken->len, ==, 0);
}

#define AUTOCONFIG_XML \
  "<?xml version=\"1.0\"?>\n" \
  "<clientConfig version=\"1.1\">\n" \
  "  <emailProvider id=\"example.test\">\n" \
  "    <domain>example.test</domain>\n" \
  "    <displayName>Example Mail</displayName>\n" \
  "    <incomingServer type=\"imap\">\n" \
  "      <hostname>mail.%%EMAILDOMAIN%%</hostname>\n" \
  "      <port>%u</port>\n" \
  "      <socketType>SSL</socketType>\n" \
  "      <username>%%EMAILLOCALPART%%</username>\n" \
  "      <authentication>password-cleartext</authentication>\n" \
  "    </incomingServer>\n" \
  "    <incomingServer type=\"pop3\">\n" \
  "      <hostname>pop.example.test</hostname>\n" \
  "      <port>%u</port>\n" \
  "      <socketType>STARTTLS</socketType>\n" \
  "      <username>%%EMAILADDRESS%%</username>\n" \
  "    </incomingServer>\n" \
  "    <incomingServer type=\"exchange\">\n" \
  "      <hostname>ews.example.test</hostname>\n" \
  "      <port>443</port>\n" \
  "    </incomingServer>\n" \
  "    <outgoingServer type=\"smtp\">\n" \
  "      <hostname>smtp.example.test</hostname>\n" \
  "      <port>465</port>\n" \
  "      <socketType>SSL</socketType>\n" \
  "      <username>%%EMAILADDRESS%%</username>\n" \
  "    </outgoingServer>\n" \
  "  </emailProvider>\n" \
  "</clientConfig>\n"

static void
test_parse_autoconfig (void)
{
  g_autofree char *xml = g_strdup_printf (AUTOCONFIG_XML, 993, 110);
  g_autoptr(GPtrArray) servers = NULL;
  g_autoptr(GError) error = NULL;
  MailerServerCandidate *server;

  servers = mailer_autodetect_parse_autoconfig (xml, -1, "sam@example.test", &error);
  g_assert_no_error (error);
  /* The Exchange server is not one of ours. */
  g_assert_cmpuint (servers->len, ==, 3);
  server = servers->pdata[0];
  g_assert_cmpint (server->type, ==, MAILER_SERVER_IMAP);
  g_assert_cmpstr (server->host, ==, "mail.example.test");
  g_assert_cmpuint (server->port, ==, 993);
  g_assert_cmpint (server->security, ==, MAILER_SECURITY_TLS);
  g_assert_cmpstr (server->username, ==, "sam");
  g_assert_cmpint (server->by, ==, MAILER_DETECTED_BY_AUTOCONFIG);
  server = servers->pdata[1];
  g_assert_cmpint (server->type, ==, MAILER_SERVER_POP3);
  g_assert_cmpint (server->security, ==, MAILER_SECURITY_STARTTLS);
  g_assert_cmpstr (server->username, ==, "sam@example.test");
  g_assert_cmpint (((MailerServerCandidate *) servers->pdata[2])->type, ==, MAILER_SERVER_SMTP);

  g_clear_pointer (&servers, g_ptr_array_unref);
  servers = mailer_autodetect_parse_autoconfig ("<clientConfig><emailProvider>", -1, "sam@example.test", &error);
  g_assert_null (servers);
  g_assert_nonnull (error);
}

/* A whole run */

typedef struct
{
  guint hits;
  char *address_asked;
  char *xml;
} Autoconfig;

static void
autoconfig_handler (SoupServer        *server,
                    SoupServerMessage *message,
                    const char        *path,
                    GHashTable        *query,
                    gpointer           user_data)
{
  Autoconfig *config = user_data;

  config->hits++;
  if (query != NULL && config->address_asked == NULL)
    config->address_asked = g_strdup (g_hash_table_lookup (query, "emailaddress"));
  soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (message, "text/xml", SOUP_MEMORY_COPY, config->xml, strlen (config->xml));
}

/* A certificate for the autoconfig host names, its own CA. */
static GTlsCertificate *
make_certificate (const char  *dir,
                  char       **ca_path)
{
  g_autofree char *cert = g_build_filename (dir, "autoconfig.pem", NULL);
  g_autofree char *key = g_build_filename (dir, "autoconfig.key", NULL);
  g_autoptr(GSubprocess) openssl = NULL;
  g_autoptr(GError) error = NULL;
  GTlsCertificate *certificate;

  openssl = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                              "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                              "-nodes", "-days", "2", "-subj", "/CN=autoconfig.example.test",
                              "-addext", "subjectAltName=DNS:autoconfig.example.test,DNS:example.test",
                              "-addext", "basicConstraints=critical,CA:TRUE",
                              "-keyout", key, "-out", cert, NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (openssl, NULL, &error));
  g_assert_no_error (error);
  certificate = g_tls_certificate_new_from_files (cert, key, &error);
  g_assert_no_error (error);
  *ca_path = g_steal_pointer (&cert);
  return certificate;
}

typedef struct
{
  GPtrArray *found;
  GError *error;
  gboolean done;
} RunResult;

static void
run_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  RunResult *out = user_data;

  out->found = mailer_autodetect_run_finish (MAILER_AUTODETECT (source), result, &out->error);
  out->done = TRUE;
}

static const MailerServerCandidate *
find (GPtrArray        *found,
      MailerServerType  type,
      MailerDetectedBy  by,
      const char       *host)
{
  for (guint i = 0; i < found->len; i++)
    {
      const MailerServerCandidate *candidate = found->pdata[i];

      if (candidate->type == type && candidate->by == by && (host == NULL || g_str_equal (candidate->host, host)))
        return candidate;
    }
  return NULL;
}

static void
test_run (void)
{
  g_autoptr(MailerTestDovecot) dovecot = mailer_test_dovecot_new ();
  g_autoptr(MailerTestResolver) resolver = mailer_test_resolver_new ();
  g_autoptr(GResolver) previous = g_resolver_get_default ();
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(GTlsDatabase) ca = NULL;
  g_autoptr(MailerAutodetect) detect = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mailer-autodetect-XXXXXX", NULL);
  g_autofree char *ca_path = NULL;
  g_autofree char *cert_file = NULL;
  g_autoslist(GUri) uris = NULL;
  Autoconfig config = { 0, };
  RunResult out = { 0, };
  guint16 imaps, imap, pop3s, pop3, https;
  const MailerServerCandidate *candidate;
  gint64 deadline;

  mailer_test_dovecot_add_user (dovecot, "sam", "sam pass");
  g_assert_true (mailer_test_dovecot_start (dovecot, &error));
  g_assert_no_error (error);
  imaps = mailer_test_dovecot_get_port (dovecot, MAILER_TEST_DOVECOT_IMAPS);
  imap = mailer_test_dovecot_get_port (dovecot, MAILER_TEST_DOVECOT_IMAP);
  pop3s = mailer_test_dovecot_get_port (dovecot, MAILER_TEST_DOVECOT_POP3S);
  pop3 = mailer_test_dovecot_get_port (dovecot, MAILER_TEST_DOVECOT_POP3);

  /* The autoconfig server, over HTTPS, with the fixture's ports. */
  certificate = make_certificate (dir, &ca_path);
  config.xml = g_strdup_printf (AUTOCONFIG_XML, imaps, pop3);
  server = soup_server_new ("tls-certificate", certificate, NULL);
  soup_server_add_handler (server, "/mail/config-v1.1.xml", autoconfig_handler, &config, NULL);
  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY | SOUP_SERVER_LISTEN_HTTPS, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  https = g_uri_get_port (uris->data);
  ca = g_tls_file_database_new (ca_path, &error);
  g_assert_no_error (error);

  /* example.test: its hosts on loopback, its SRV and MX records (the "."
   * of _pop3._tcp: "not offered", RFC 2782). */
  for (guint i = 0; i < 7; i++)
    {
      static const char * const names[] = {
        "autoconfig.example.test", "example.test", "mail.example.test", "imap.example.test",
        "pop.example.test", "pop3.example.test", "imaps.example.test",
      };

      mailer_test_resolver_add_host (resolver, names[i]);
    }
  mailer_test_resolver_add_srv (resolver, "_imaps._tcp.example.test", "imaps.example.test.", imaps);
  mailer_test_resolver_add_srv (resolver, "_pop3._tcp.example.test", ".", 110);
  mailer_test_resolver_add_mx (resolver, "example.test", "alt1.aspmx.l.google.com");
  g_resolver_set_default (G_RESOLVER (resolver));

  detect = mailer_autodetect_new ("sam@example.test");
  mailer_autodetect_set_tls_database (detect, ca);
  mailer_autodetect_map_port (detect, 443, https);
  mailer_autodetect_map_port (detect, 993, imaps);
  mailer_autodetect_map_port (detect, 143, imap);
  mailer_autodetect_map_port (detect, 995, pop3s);
  mailer_autodetect_map_port (detect, 110, pop3);
  /* Nothing listens there: SMTP is for later (issue of sending). */
  mailer_autodetect_map_port (detect, 465, 1);
  mailer_autodetect_map_port (detect, 587, 1);

  mailer_autodetect_run_async (detect, NULL, run_done_cb, &out);
  g_assert_nonnull (mailer_autodetect_get_status (detect));
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (!out.done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_resolver_set_default (previous);
  g_assert_true (out.done);
  g_assert_no_error (out.error);
  for (guint i = 0; i < out.found->len; i++)
    {
      candidate = out.found->pdata[i];
      g_test_message ("%u %s:%u security %u user %s by %u", candidate->type, candidate->host, candidate->port,
                      candidate->security, candidate->username, candidate->by);
    }

  /* Autoconfig: asked over HTTPS with the address, read. */
  g_assert_cmpuint (config.hits, >=, 1);
  g_assert_cmpstr (config.address_asked, ==, "sam@example.test");
  candidate = find (out.found, MAILER_SERVER_IMAP, MAILER_DETECTED_BY_AUTOCONFIG, "mail.example.test");
  g_assert_nonnull (candidate);
  g_assert_cmpuint (candidate->port, ==, imaps);
  g_assert_cmpstr (candidate->username, ==, "sam");
  /* It ranks first among the IMAP servers. */
  g_assert_true (out.found->pdata[0] == candidate);

  /* SRV: _imaps._tcp; the "." of _pop3._tcp is no server. */
  candidate = find (out.found, MAILER_SERVER_IMAP, MAILER_DETECTED_BY_SRV, "imaps.example.test");
  g_assert_nonnull (candidate);
  g_assert_cmpint (candidate->security, ==, MAILER_SECURITY_TLS);
  g_assert_cmpuint (candidate->port, ==, imaps);
  g_assert_null (find (out.found, MAILER_SERVER_POP3, MAILER_DETECTED_BY_SRV, NULL));

  /* MX at Google: Gmail's servers. */
  candidate = find (out.found, MAILER_SERVER_IMAP, MAILER_DETECTED_BY_MX, "imap.gmail.com");
  g_assert_nonnull (candidate);
  g_assert_true (candidate->oauth);

  /* Guesses, probed: implicit TLS (its self-signed certificate is not
   * trusted yet, and that is still a server) and STARTTLS offered. */
  g_assert_nonnull (find (out.found, MAILER_SERVER_IMAP, MAILER_DETECTED_BY_GUESS, "imap.example.test"));
  g_assert_nonnull (find (out.found, MAILER_SERVER_POP3, MAILER_DETECTED_BY_GUESS, "pop.example.test"));
  {
    gboolean starttls = FALSE, tls = FALSE;

    for (guint i = 0; i < out.found->len; i++)
      {
        candidate = out.found->pdata[i];
        if (candidate->by == MAILER_DETECTED_BY_GUESS && candidate->type == MAILER_SERVER_IMAP &&
            candidate->security == MAILER_SECURITY_STARTTLS)
          starttls = TRUE;
        if (candidate->by == MAILER_DETECTED_BY_GUESS && candidate->type == MAILER_SERVER_IMAP &&
            candidate->security == MAILER_SECURITY_TLS && candidate->port == imaps)
          tls = TRUE;
        /* Never a server without encryption: the fixture offers it. */
        g_assert_cmpint (candidate->security, !=, MAILER_SECURITY_NONE);
        /* Nothing listens for SMTP. */
        g_assert_false (candidate->by == MAILER_DETECTED_BY_GUESS && candidate->type == MAILER_SERVER_SMTP);
      }
    g_assert_true (starttls);
    g_assert_true (tls);
  }

  /* No password went anywhere: Dovecot saw no login. */
  {
    g_autofree char *log = mailer_test_dovecot_get_log (dovecot);

    g_assert_null (strstr (log, "Login: user=<sam>"));
    g_assert_null (strstr (log, "sam pass"));
  }

  g_ptr_array_unref (out.found);
  g_free (config.address_asked);
  g_free (config.xml);
  mailer_test_dovecot_stop (dovecot);
  cert_file = g_build_filename (dir, "autoconfig.key", NULL);
  g_unlink (cert_file);
  g_unlink (ca_path);
  g_rmdir (dir);
}

static guint
count_in_log (MailerTestDovecot *dovecot,
              const char        *what)
{
  g_autofree char *log = mailer_test_dovecot_get_log (dovecot);
  guint n = 0;

  for (const char *at = log; at != NULL && (at = strstr (at, what)) != NULL; at++)
    n++;
  return n;
}

static gboolean
sync_account (MailerSession  *session,
              MailerAccount  *account,
              GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_session_sync_account_async (session, account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 30);
  return mailer_session_sync_account_finish (session, result, error) >= 0;
}

/* The password changed on the server: the account says "Password
 * required" and is not tried again (no endless retries that could lock
 * the account) until the user enters the new one. */
static void
test_password_rejected_later (void)
{
  g_autoptr(MailerTestDovecot) dovecot = mailer_test_dovecot_new ();
  g_autofree char *dir = g_dir_make_tmp ("mailer-password-XXXXXX", NULL);
  g_autoptr(MailerSession) session = NULL;
  g_autoptr(MailerAccount) account = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
  g_autoptr(GError) error = NULL;
  g_autofree char *pin = NULL;

  mailer_test_dovecot_add_user (dovecot, "sam", "new pass");
  g_assert_true (mailer_test_dovecot_start (dovecot, &error));
  g_assert_no_error (error);
  session = mailer_session_new (dir, &error);
  g_assert_no_error (error);
  pin = mailer_certificate_get_sha256 (mailer_test_dovecot_get_certificate (dovecot));
  g_object_set (account, "display-name", "Sam", "address", "sam@example.test", "host", "127.0.0.1",
                "port", (guint) mailer_test_dovecot_get_port (dovecot, MAILER_TEST_DOVECOT_IMAPS),
                "username", "sam", "pinned-certificate", pin, NULL);
  {
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;

    mailer_session_add_account_async (session, account, "old pass", NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_session_add_account_finish (session, result, &error));
    g_assert_no_error (error);
  }

  g_assert_false (sync_account (session, account, &error));
  g_assert_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_AUTH_FAILED);
  g_clear_error (&error);
  g_assert_true (mailer_account_get_needs_password (account));
  g_assert_cmpuint (count_in_log (dovecot, "Password mismatch"), ==, 1);

  /* Asked again (a periodic check, Retry): not sent to the server. */
  g_assert_false (sync_account (session, account, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_cmpstr (error->message, ==, "Password required");
  g_clear_error (&error);
  g_assert_cmpuint (count_in_log (dovecot, "Password mismatch"), ==, 1);

  /* The new password: saved, and the account checks again. */
  {
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;

    mailer_session_set_password_async (session, account, "new pass", NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_session_set_password_finish (session, result, &error));
    g_assert_no_error (error);
  }
  g_assert_false (mailer_account_get_needs_password (account));
  g_assert_true (sync_account (session, account, &error));
  g_assert_no_error (error);

  g_clear_object (&session);
  mailer_test_dovecot_stop (dovecot);
}

static void
test_not_an_address (void)
{
  g_autoptr(MailerAutodetect) detect = mailer_autodetect_new ("not an address");
  RunResult out = { 0, };

  g_assert_null (mailer_autodetect_get_domain (detect));
  mailer_autodetect_run_async (detect, NULL, run_done_cb, &out);
  while (!out.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (out.error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&out.error);
}

/* The login test */

typedef struct
{
  gboolean done;
  gboolean ok;
  GTlsCertificate *certificate;
  GTlsCertificateFlags certificate_errors;
  GError *error;
} CheckResult;

static void
check_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  CheckResult *out = user_data;

  out->ok = mailer_account_check_finish (result, &out->certificate, &out->certificate_errors, &out->error);
  out->done = TRUE;
}

static CheckResult
check (MailerAccount *account,
       const char    *password)
{
  CheckResult out = { 0, };
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  mailer_account_check_async (account, password, NULL, check_done_cb, &out);
  while (!out.done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (out.done);
  return out;
}

static guint
count_logins (MailerTestDovecot *dovecot)
{
  g_autofree char *log = mailer_test_dovecot_get_log (dovecot);
  guint n = 0;

  for (const char *at = log; at != NULL && (at = strstr (at, "Login: user=<sam>")) != NULL; at++)
    n++;
  return n;
}

/* The server's certificate, not trusted here: stopped before the login,
 * with the certificate to show; trusted (pinned): the login works; a wrong
 * password says so in words; POP3 with STARTTLS too. */
static void
test_check (void)
{
  g_autoptr(MailerTestDovecot) dovecot = mailer_test_dovecot_new ();
  g_autoptr(MailerAccount) account = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
  g_autoptr(MailerAccount) pop = mailer_account_new (MAILER_ACCOUNT_KIND_POP3);
  g_autoptr(GError) error = NULL;
  g_autofree char *described = NULL;
  g_autofree char *fingerprint = NULL;
  CheckResult out;

  mailer_test_dovecot_add_user (dovecot, "sam", "sam pass");
  g_assert_true (mailer_test_dovecot_start (dovecot, &error));
  g_assert_no_error (error);
  mailer_account_set_host (account, "127.0.0.1");
  mailer_account_set_port (account, mailer_test_dovecot_get_port (dovecot, MAILER_TEST_DOVECOT_IMAPS));
  mailer_account_set_security (account, MAILER_SECURITY_TLS);
  mailer_account_set_username (account, "sam");

  out = check (account, "sam pass");
  g_assert_false (out.ok);
  g_assert_error (out.error, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CERTIFICATE_UNTRUSTED);
  g_assert_nonnull (out.certificate);
  g_assert_cmpuint (out.certificate_errors & G_TLS_CERTIFICATE_UNKNOWN_CA, !=, 0);
  g_assert_cmpuint (count_logins (dovecot), ==, 0);
  described = mailer_describe_setup_error (out.error, account);
  g_assert_cmpstr (described, ==, "The certificate for 127.0.0.1 is not trusted");
  g_clear_pointer (&described, g_free);
  described = mailer_describe_certificate (out.certificate, out.certificate_errors);
  fingerprint = mailer_certificate_get_sha256 (out.certificate);
  g_test_message ("%s", described);
  g_assert_nonnull (strstr (described, fingerprint));
  g_assert_nonnull (strstr (described, "Issued to:"));
  g_assert_nonnull (strstr (described, "not signed by an authority"));
  g_clear_pointer (&described, g_free);
  g_clear_error (&out.error);

  /* "Trust this certificate": pinned, for this server. */
  mailer_account_set_pinned_certificate (account, fingerprint);
  g_clear_object (&out.certificate);
  out = check (account, "sam pass");
  g_assert_no_error (out.error);
  g_assert_true (out.ok);
  g_assert_cmpuint (count_logins (dovecot), ==, 1);
  g_clear_object (&out.certificate);

  out = check (account, "not the password");
  g_assert_false (out.ok);
  g_assert_error (out.error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_AUTH_FAILED);
  described = mailer_describe_setup_error (out.error, account);
  g_assert_cmpstr (described, ==, "The server rejected the password");
  g_clear_pointer (&described, g_free);
  g_clear_error (&out.error);
  g_clear_object (&out.certificate);

  /* POP3 over STARTTLS, the same certificate pinned. */
  mailer_account_set_host (pop, "127.0.0.1");
  mailer_account_set_port (pop, mailer_test_dovecot_get_port (dovecot, MAILER_TEST_DOVECOT_POP3));
  mailer_account_set_security (pop, MAILER_SECURITY_STARTTLS);
  mailer_account_set_username (pop, "sam");
  mailer_account_set_pinned_certificate (pop, fingerprint);
  out = check (pop, "sam pass");
  g_assert_no_error (out.error);
  g_assert_true (out.ok);
  g_clear_object (&out.certificate);

  /* Nothing listening: said as such. */
  mailer_account_set_port (pop, 1);
  out = check (pop, "sam pass");
  g_assert_false (out.ok);
  described = mailer_describe_setup_error (out.error, pop);
  g_assert_true (g_str_has_prefix (described, "Could not reach 127.0.0.1"));
  g_clear_error (&out.error);
  g_clear_object (&out.certificate);

  mailer_test_dovecot_stop (dovecot);
}

/* The server's certificate is not the one trusted (it changed): nothing
 * is sent, and not retried; the new one, looked at (a connection only)
 * and trusted, is pinned and the account works again. */
static void
test_certificate_changed (void)
{
  g_autoptr(MailerTestDovecot) dovecot = mailer_test_dovecot_new ();
  g_autofree char *dir = g_dir_make_tmp ("mailer-trust-XXXXXX", NULL);
  g_autoptr(MailerSession) session = NULL;
  g_autoptr(MailerAccount) account = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
  g_autoptr(GError) error = NULL;
  CheckResult out;

  mailer_test_dovecot_add_user (dovecot, "sam", "sam pass");
  g_assert_true (mailer_test_dovecot_start (dovecot, &error));
  g_assert_no_error (error);
  session = mailer_session_new (dir, &error);
  g_assert_no_error (error);
  g_object_set (account, "display-name", "Sam", "address", "sam@example.test", "host", "127.0.0.1",
                "port", (guint) mailer_test_dovecot_get_port (dovecot, MAILER_TEST_DOVECOT_IMAPS),
                "username", "sam",
                "pinned-certificate", "0000000000000000000000000000000000000000000000000000000000000000", NULL);
  {
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;

    mailer_session_add_account_async (session, account, "sam pass", NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_session_add_account_finish (session, result, &error));
    g_assert_no_error (error);
  }

  g_assert_false (sync_account (session, account, &error));
  g_assert_error (error, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CERTIFICATE_UNTRUSTED);
  g_clear_error (&error);
  g_assert_true (mailer_account_get_needs_trust (account));
  g_assert_false (sync_account (session, account, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_cmpstr (error->message, ==, "Certificate not trusted");
  g_clear_error (&error);
  g_assert_cmpuint (count_in_log (dovecot, "Login: user=<sam>"), ==, 0);

  /* What the window does for "Review Certificate…": connect only. */
  out = check (account, NULL);
  g_assert_false (out.ok);
  g_assert_nonnull (out.certificate);
  g_assert_cmpuint (count_in_log (dovecot, "Login: user=<sam>"), ==, 0);
  {
    g_autofree char *fingerprint = mailer_certificate_fingerprint (out.certificate);
    g_autoptr(GAsyncResult) result = NULL;
    GAsyncResult *pending = NULL;

    mailer_session_trust_certificate_async (session, account, fingerprint, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_session_trust_certificate_finish (session, result, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (mailer_account_get_pinned_certificate (account), ==, fingerprint);
  }
  g_clear_error (&out.error);
  g_clear_object (&out.certificate);
  g_assert_false (mailer_account_get_needs_trust (account));
  g_assert_true (sync_account (session, account, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_in_log (dovecot, "Login: user=<sam>"), ==, 1);

  /* Connect only, trusted: no login either. */
  out = check (account, NULL);
  g_assert_true (out.ok);
  g_clear_object (&out.certificate);
  g_assert_cmpuint (count_in_log (dovecot, "Login: user=<sam>"), ==, 1);

  g_clear_object (&session);
  mailer_test_dovecot_stop (dovecot);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/autodetect/provider-list", test_provider_list);
  g_test_add_func ("/autodetect/parse-autoconfig", test_parse_autoconfig);
  g_test_add_func ("/autodetect/not-an-address", test_not_an_address);
  g_test_add_func ("/autodetect/run", test_run);
  g_test_add_func ("/autodetect/check", test_check);
  g_test_add_func ("/autodetect/password-rejected-later", test_password_rejected_later);
  g_test_add_func ("/autodetect/certificate-changed", test_certificate_changed);
  return g_test_run ();
}
