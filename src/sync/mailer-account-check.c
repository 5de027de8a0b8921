/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The account setup's login test: connect to the server the user chose,
 * with its security, log in, and leave.  A certificate this computer does
 * not trust (and the account has not pinned) stops it before anything is
 * sent, and hands the certificate over, for the user to look at and
 * trust, or not.  Errors are said in words for the user.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "mailer-account-check.h"
#include "mailer-connection.h"
#include "mailer-imap-client.h"
#include "mailer-imap-parser.h"
#include "mailer-pop3-client.h"
#include "mailer-pop3-parser.h"

typedef struct
{
  MailerConnection *connection;
  MailerImapClient *imap;
  MailerPop3Client *pop3;
  char *username;
  char *password;
} Check;

static void
check_free (Check *check)
{
  if (check->imap != NULL)
    mailer_imap_client_disconnect (check->imap);
  g_clear_object (&check->imap);
  g_clear_object (&check->pop3);
  g_clear_object (&check->connection);
  g_free (check->username);
  if (check->password != NULL)
    memset (check->password, 0, strlen (check->password));
  g_free (check->password);
  g_free (check);
}

static void
keep_certificate (GTask *task)
{
  Check *check = g_task_get_task_data (task);
  GTlsCertificate *certificate = mailer_connection_get_peer_certificate (check->connection);

  if (certificate != NULL)
    g_object_set_data_full (G_OBJECT (task), "certificate", g_object_ref (certificate), g_object_unref);
  g_object_set_data (G_OBJECT (task), "certificate-errors",
                     GUINT_TO_POINTER (mailer_connection_get_peer_certificate_errors (check->connection)));
}

static void
logged_out_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;

  /* The login is what was tested; how the goodbye went does not matter. */
  g_task_return_boolean (task, TRUE);
}

static void
logged_in_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Check *check = g_task_get_task_data (task);
  GError *error = NULL;
  gboolean ok = check->imap != NULL
                ? mailer_imap_client_login_finish (check->imap, result, &error)
                : mailer_pop3_client_login_finish (check->pop3, result, &error);

  if (!ok)
    {
      g_task_return_error (task, error);
      return;
    }
  if (check->imap != NULL)
    mailer_imap_client_logout_async (check->imap, NULL, logged_out_cb, g_object_ref (task));
  else
    mailer_pop3_client_quit_async (check->pop3, NULL, logged_out_cb, g_object_ref (task));
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Check *check = g_task_get_task_data (task);
  GError *error = NULL;
  gboolean ok = check->imap != NULL
                ? mailer_imap_client_connect_finish (check->imap, result, &error)
                : mailer_pop3_client_connect_finish (check->pop3, result, &error);

  keep_certificate (task);
  if (!ok)
    {
      g_task_return_error (task, error);
      return;
    }
  /* Only the connection (and its certificate) asked for. */
  if (check->password == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (check->imap != NULL)
    mailer_imap_client_login_async (check->imap, check->username, check->password,
                                    g_task_get_cancellable (task), logged_in_cb, g_object_ref (task));
  else
    mailer_pop3_client_login_async (check->pop3, check->username, check->password,
                                    g_task_get_cancellable (task), logged_in_cb, g_object_ref (task));
}

/**
 * mailer_account_check_async:
 * @password: (nullable): the password, or %NULL to only connect (and see
 *   the server's certificate)
 *
 * Logs in to @account's server with @password, and out again.
 */
void
mailer_account_check_async (MailerAccount       *account,
                            const char          *password,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Check *check;
  const char *username;

  g_return_if_fail (MAILER_IS_ACCOUNT (account));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_account_check_async);
  check = g_new0 (Check, 1);
  username = mailer_account_get_username (account);
  if (username == NULL || *username == '\0')
    username = mailer_account_get_address (account);
  check->username = g_strdup (username ? username : "");
  check->password = g_strdup (password);
  check->connection = mailer_connection_new (mailer_account_get_host (account), mailer_account_get_port (account),
                                             mailer_account_get_security (account));
  mailer_connection_set_pinned_certificate (check->connection, mailer_account_get_pinned_certificate (account));
  g_task_set_task_data (task, check, (GDestroyNotify) check_free);

  if (mailer_account_get_kind (account) == MAILER_ACCOUNT_KIND_IMAP)
    {
      check->imap = mailer_imap_client_new (check->connection);
      mailer_imap_client_connect_async (check->imap, cancellable, connected_cb, g_steal_pointer (&task));
    }
  else
    {
      check->pop3 = mailer_pop3_client_new (check->connection);
      mailer_pop3_client_connect_async (check->pop3, cancellable, connected_cb, g_steal_pointer (&task));
    }
}

/**
 * mailer_account_check_finish:
 * @certificate: (out) (optional) (transfer full): the server's certificate,
 *   also when it was not trusted, or %NULL
 * @certificate_errors: (out) (optional): why this computer does not trust it
 *
 * Returns: whether the login worked
 */
gboolean
mailer_account_check_finish (GAsyncResult          *result,
                             GTlsCertificate      **certificate,
                             GTlsCertificateFlags  *certificate_errors,
                             GError               **error)
{
  g_return_val_if_fail (G_IS_TASK (result), FALSE);

  if (certificate_errors != NULL)
    *certificate_errors = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (result), "certificate-errors"));
  if (certificate != NULL)
    {
      GTlsCertificate *kept = g_object_get_data (G_OBJECT (result), "certificate");

      *certificate = kept != NULL ? g_object_ref (kept) : NULL;
    }
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Whether the check stopped at a certificate the user may trust. */
gboolean
mailer_setup_error_needs_trust (const GError *error)
{
  return g_error_matches (error, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CERTIFICATE_UNTRUSTED);
}

/* What an account pins to trust @certificate: its SHA-256 fingerprint. */
char *
mailer_certificate_fingerprint (GTlsCertificate *certificate)
{
  return mailer_certificate_get_sha256 (certificate);
}

/**
 * mailer_describe_setup_error:
 *
 * Returns: (transfer full): what went wrong, in words for the user
 */
char *
mailer_describe_setup_error (const GError  *error,
                             MailerAccount *account)
{
  const char *host = mailer_account_get_host (account);

  if (g_error_matches (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_AUTH_FAILED) ||
      g_error_matches (error, MAILER_POP3_ERROR, MAILER_POP3_ERROR_AUTH_FAILED))
    return g_strdup (_("The server rejected the password"));
  if (g_error_matches (error, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CERTIFICATE_UNTRUSTED))
    /* Translators: %s is a server's name */
    return g_strdup_printf (_("The certificate for %s is not trusted"), host);
  if (g_error_matches (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_NO_STARTTLS) ||
      g_error_matches (error, MAILER_POP3_ERROR, MAILER_POP3_ERROR_NO_STARTTLS))
    /* Translators: %s is a server's name */
    return g_strdup_printf (_("%s does not offer encryption (STARTTLS); the password was not sent"), host);
  if (g_error_matches (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_LOGIN_DISABLED) ||
      g_error_matches (error, MAILER_POP3_ERROR, MAILER_POP3_ERROR_NO_AUTH_METHOD))
    /* Translators: %s is a server's name */
    return g_strdup_printf (_("%s does not accept a password this way"), host);
  if (error->domain == G_IO_ERROR || error->domain == G_RESOLVER_ERROR ||
      g_error_matches (error, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CLOSED))
    /* Translators: %s is a server's name, then the system's reason */
    return g_strdup_printf (_("Could not reach %s: %s"), host, error->message);
  /* Translators: %s is the server's own words */
  return g_strdup_printf (_("The server said: %s"), error->message);
}

/**
 * mailer_describe_certificate:
 *
 * Returns: (transfer full): who the certificate is for and from, when it is
 *   valid, its SHA-256 fingerprint, and why it is not trusted
 */
char *
mailer_describe_certificate (GTlsCertificate      *certificate,
                             GTlsCertificateFlags  errors)
{
  GString *text = g_string_new (NULL);
  g_autofree char *subject = NULL;
  g_autofree char *issuer = NULL;
  g_autoptr(GDateTime) from = NULL;
  g_autoptr(GDateTime) until = NULL;
  g_autofree char *fingerprint = mailer_certificate_get_sha256 (certificate);
  g_autofree char *from_text = NULL;
  g_autofree char *until_text = NULL;

  g_object_get (certificate, "subject-name", &subject, "issuer-name", &issuer,
                "not-valid-before", &from, "not-valid-after", &until, NULL);
  from_text = from ? g_date_time_format (from, "%x") : g_strdup ("?");
  until_text = until ? g_date_time_format (until, "%x") : g_strdup ("?");
  g_string_append_printf (text, _("Issued to: %s\n"), subject ? subject : "?");
  g_string_append_printf (text, _("Issued by: %s\n"), issuer ? issuer : "?");
  g_string_append_printf (text, _("Valid from %s to %s\n"), from_text, until_text);
  g_string_append_printf (text, _("SHA-256 fingerprint: %s\n"), fingerprint);
  if (errors & G_TLS_CERTIFICATE_UNKNOWN_CA)
    g_string_append (text, _("It is not signed by an authority this computer trusts."));
  else if (errors & G_TLS_CERTIFICATE_BAD_IDENTITY)
    g_string_append (text, _("It is for another server."));
  else if (errors & G_TLS_CERTIFICATE_EXPIRED)
    g_string_append (text, _("It has expired."));
  else if (errors & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    g_string_append (text, _("It is not valid yet."));
  else if (errors != 0)
    g_string_append (text, _("It cannot be verified."));
  return g_string_free (text, FALSE);
}
