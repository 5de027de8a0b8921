/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerConnection: the transport shared by the POP3, IMAP and SMTP clients.
 * It connects over TCP, with implicit TLS or a later STARTTLS upgrade, checks
 * the server certificate (system trust, or a certificate the user pinned by
 * its SHA-256), and reads CRLF-terminated lines with a hard length limit so
 * that a hostile server cannot make us buffer without bound.  Everything is
 * asynchronous on the caller's main context.
 */
#include "config.h"

/* See mailer_connection_connect_async (). */
#define SOCKET_TIMEOUT_SECONDS 180

#include <string.h>

#include "mailer-connection.h"
#include "mailer-model-enum-types.h"

typedef struct
{
  char *host;
  guint16 port;
  MailerSecurity security;
  char *pinned_sha256;
  gsize max_line_length;

  GSocketConnection *socket_connection;
  GIOStream *stream;              /* socket_connection or its TLS wrapper */
  GBufferedInputStream *input;
  GTlsCertificate *peer_certificate;
  GTlsCertificateFlags peer_errors;
  gboolean busy_reading;
} MailerConnectionPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (MailerConnection, mailer_connection, G_TYPE_OBJECT)

G_DEFINE_QUARK (mailer-connection-error-quark, mailer_connection_error)

enum {
  PROP_0,
  PROP_HOST,
  PROP_PORT,
  PROP_SECURITY,
  PROP_PINNED_CERTIFICATE,
  PROP_MAX_LINE_LENGTH,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
mailer_connection_dispose (GObject *object)
{
  MailerConnection *self = (MailerConnection *)object;
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  g_clear_object (&priv->input);
  g_clear_object (&priv->stream);
  g_clear_object (&priv->socket_connection);
  g_clear_object (&priv->peer_certificate);

  G_OBJECT_CLASS (mailer_connection_parent_class)->dispose (object);
}

static void
mailer_connection_finalize (GObject *object)
{
  MailerConnection *self = (MailerConnection *)object;
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  g_clear_pointer (&priv->host, g_free);
  g_clear_pointer (&priv->pinned_sha256, g_free);

  G_OBJECT_CLASS (mailer_connection_parent_class)->finalize (object);
}

static void
mailer_connection_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  MailerConnection *self = MAILER_CONNECTION (object);
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_HOST:
      g_value_set_string (value, priv->host);
      break;
    case PROP_PORT:
      g_value_set_uint (value, priv->port);
      break;
    case PROP_SECURITY:
      g_value_set_enum (value, priv->security);
      break;
    case PROP_PINNED_CERTIFICATE:
      g_value_set_string (value, priv->pinned_sha256);
      break;
    case PROP_MAX_LINE_LENGTH:
      g_value_set_uint64 (value, priv->max_line_length);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mailer_connection_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  MailerConnection *self = MAILER_CONNECTION (object);
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_HOST:
      priv->host = g_value_dup_string (value);
      break;
    case PROP_PORT:
      priv->port = g_value_get_uint (value);
      break;
    case PROP_SECURITY:
      priv->security = g_value_get_enum (value);
      break;
    case PROP_PINNED_CERTIFICATE:
      mailer_connection_set_pinned_certificate (self, g_value_get_string (value));
      break;
    case PROP_MAX_LINE_LENGTH:
      mailer_connection_set_max_line_length (self, g_value_get_uint64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mailer_connection_class_init (MailerConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mailer_connection_dispose;
  object_class->finalize = mailer_connection_finalize;
  object_class->get_property = mailer_connection_get_property;
  object_class->set_property = mailer_connection_set_property;

  properties[PROP_HOST] =
    g_param_spec_string ("host", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL,
                       1, G_MAXUINT16, 993,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  properties[PROP_SECURITY] =
    g_param_spec_enum ("security", NULL, NULL,
                       MAILER_TYPE_SECURITY, MAILER_SECURITY_TLS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  properties[PROP_PINNED_CERTIFICATE] =
    g_param_spec_string ("pinned-certificate", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_MAX_LINE_LENGTH] =
    g_param_spec_uint64 ("max-line-length", NULL, NULL,
                         64, G_MAXUINT32, MAILER_CONNECTION_DEFAULT_MAX_LINE_LENGTH,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mailer_connection_init (MailerConnection *self)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  priv->max_line_length = MAILER_CONNECTION_DEFAULT_MAX_LINE_LENGTH;
}

MailerConnection *
mailer_connection_new (const char     *host,
                       guint16         port,
                       MailerSecurity  security)
{
  g_return_val_if_fail (host != NULL, NULL);
  g_return_val_if_fail (port > 0, NULL);

  return g_object_new (MAILER_TYPE_CONNECTION,
                       "host", host,
                       "port", port,
                       "security", security,
                       NULL);
}

const char *
mailer_connection_get_host (MailerConnection *self)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  g_return_val_if_fail (MAILER_IS_CONNECTION (self), NULL);
  return priv->host;
}

guint16
mailer_connection_get_port (MailerConnection *self)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  g_return_val_if_fail (MAILER_IS_CONNECTION (self), 0);
  return priv->port;
}

MailerSecurity
mailer_connection_get_security (MailerConnection *self)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  g_return_val_if_fail (MAILER_IS_CONNECTION (self), MAILER_SECURITY_TLS);
  return priv->security;
}

/**
 * mailer_connection_set_pinned_certificate:
 * @sha256: (nullable): lower-case hex SHA-256 of the DER certificate
 *
 * A certificate the system does not trust is accepted only when its digest
 * equals @sha256: trust is for that one certificate, never a global switch.
 */
void
mailer_connection_set_pinned_certificate (MailerConnection *self,
                                          const char       *sha256)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  g_return_if_fail (MAILER_IS_CONNECTION (self));

  if (g_strcmp0 (priv->pinned_sha256, sha256) == 0)
    return;
  g_free (priv->pinned_sha256);
  priv->pinned_sha256 = g_ascii_strdown (sha256 ? sha256 : "", -1);
  if (priv->pinned_sha256[0] == '\0')
    g_clear_pointer (&priv->pinned_sha256, g_free);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PINNED_CERTIFICATE]);
}

gsize
mailer_connection_get_max_line_length (MailerConnection *self)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  g_return_val_if_fail (MAILER_IS_CONNECTION (self), 0);
  return priv->max_line_length;
}

void
mailer_connection_set_max_line_length (MailerConnection *self,
                                       gsize             max_line_length)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  g_return_if_fail (MAILER_IS_CONNECTION (self));
  g_return_if_fail (max_line_length >= 64);

  if (priv->max_line_length == max_line_length)
    return;
  priv->max_line_length = max_line_length;
  if (priv->input != NULL)
    g_buffered_input_stream_set_buffer_size (priv->input, max_line_length);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_LINE_LENGTH]);
}

gboolean
mailer_connection_is_encrypted (MailerConnection *self)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  g_return_val_if_fail (MAILER_IS_CONNECTION (self), FALSE);
  return G_IS_TLS_CONNECTION (priv->stream);
}

/**
 * mailer_connection_get_peer_certificate:
 *
 * Returns: (transfer none) (nullable): the certificate the server presented
 *   in the last TLS handshake, also when it was refused, so that the user can
 *   be shown what they are asked to trust.
 */
GTlsCertificate *
mailer_connection_get_peer_certificate (MailerConnection *self)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  g_return_val_if_fail (MAILER_IS_CONNECTION (self), NULL);
  return priv->peer_certificate;
}

GTlsCertificateFlags
mailer_connection_get_peer_certificate_errors (MailerConnection *self)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  g_return_val_if_fail (MAILER_IS_CONNECTION (self), 0);
  return priv->peer_errors;
}

/**
 * mailer_connection_get_input_stream:
 *
 * Returns: (transfer none) (nullable): the buffered input, for protocol
 *   code that reads literals or message data after a line.
 */
GInputStream *
mailer_connection_get_input_stream (MailerConnection *self)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  g_return_val_if_fail (MAILER_IS_CONNECTION (self), NULL);
  return G_INPUT_STREAM (priv->input);
}

GOutputStream *
mailer_connection_get_output_stream (MailerConnection *self)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);

  g_return_val_if_fail (MAILER_IS_CONNECTION (self), NULL);
  return priv->stream ? g_io_stream_get_output_stream (priv->stream) : NULL;
}

char *
mailer_certificate_get_sha256 (GTlsCertificate *certificate)
{
  g_autoptr(GByteArray) der = NULL;

  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);

  g_object_get (certificate, "certificate", &der, NULL);
  if (der == NULL)
    return NULL;
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, der->data, der->len);
}

static void
set_stream (MailerConnection *self,
            GIOStream        *stream)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);
  GInputStream *base;

  g_set_object (&priv->stream, stream);
  g_clear_object (&priv->input);

  base = g_io_stream_get_input_stream (stream);
  priv->input = G_BUFFERED_INPUT_STREAM (g_buffered_input_stream_new_sized (base, priv->max_line_length));
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (priv->input), FALSE);
}

/* TLS */

static gboolean
certificate_matches_pin (MailerConnection *self,
                         GTlsCertificate  *certificate)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);
  g_autofree char *digest = NULL;

  if (priv->pinned_sha256 == NULL)
    return FALSE;
  digest = mailer_certificate_get_sha256 (certificate);
  return digest != NULL && g_str_equal (digest, priv->pinned_sha256);
}

static gboolean
accept_certificate_cb (GTlsConnection       *tls,
                       GTlsCertificate      *certificate,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  MailerConnection *self = user_data;
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);
  g_autoptr(GTlsDatabase) system = NULL;
  g_autoptr(GSocketConnectable) identity = NULL;

  g_set_object (&priv->peer_certificate, certificate);
  priv->peer_errors = errors;
  if (certificate_matches_pin (self, certificate))
    return TRUE;
  if (g_tls_connection_get_database (tls) != NULL)
    return FALSE;

  /* A connection with a pin is made without the system's trust list
   * (see start_handshake): a certificate that is not the pinned one still
   * passes when the system trusts it, as it would have without a pin. */
  system = g_tls_backend_get_default_database (g_tls_backend_get_default ());
  if (system == NULL)
    return FALSE;
  identity = g_network_address_new (priv->host, priv->port);
  priv->peer_errors = g_tls_database_verify_chain (system, certificate,
                                                   G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER,
                                                   identity, NULL, G_TLS_DATABASE_VERIFY_NONE,
                                                   NULL, NULL);
  return priv->peer_errors == 0;
}

static char *
describe_certificate_errors (GTlsCertificateFlags errors)
{
  if (errors & G_TLS_CERTIFICATE_BAD_IDENTITY)
    return g_strdup ("it was issued for another host");
  if (errors & G_TLS_CERTIFICATE_EXPIRED)
    return g_strdup ("it has expired");
  if (errors & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    return g_strdup ("it is not valid yet");
  if (errors & G_TLS_CERTIFICATE_REVOKED)
    return g_strdup ("it has been revoked");
  if (errors & G_TLS_CERTIFICATE_INSECURE)
    return g_strdup ("it uses an insecure algorithm");
  if (errors & G_TLS_CERTIFICATE_UNKNOWN_CA)
    return g_strdup ("it is not signed by a known authority");
  return g_strdup ("it could not be verified");
}

static void
handshake_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerConnection *self = g_task_get_source_object (task);
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);
  g_autoptr(GError) error = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      if (g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE) &&
          priv->peer_certificate != NULL)
        {
          g_autofree char *why = describe_certificate_errors (priv->peer_errors);

          g_task_return_new_error (task, MAILER_CONNECTION_ERROR,
                                   MAILER_CONNECTION_ERROR_CERTIFICATE_UNTRUSTED,
                                   "The certificate for %s is not trusted: %s",
                                   priv->host, why);
        }
      else
        g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (priv->peer_certificate == NULL)
    {
      /* The callback above never ran: the system trusts the certificate,
       * or the TLS library resumed a session that an earlier connection in
       * this process accepted (maybe through another account's pin).  Only
       * the first may pass without our own check. */
      priv->peer_certificate = g_tls_connection_get_peer_certificate (G_TLS_CONNECTION (source));
      if (priv->peer_certificate != NULL)
        g_object_ref (priv->peer_certificate);
      priv->peer_errors = g_tls_connection_get_peer_certificate_errors (G_TLS_CONNECTION (source));

      if (priv->peer_certificate == NULL ||
          (priv->peer_errors != 0 && !certificate_matches_pin (self, priv->peer_certificate)))
        {
          g_autofree char *why = describe_certificate_errors (priv->peer_errors);

          g_io_stream_close_async (G_IO_STREAM (source), G_PRIORITY_DEFAULT, NULL, NULL, NULL);
          g_task_return_new_error (task, MAILER_CONNECTION_ERROR,
                                   MAILER_CONNECTION_ERROR_CERTIFICATE_UNTRUSTED,
                                   "The certificate for %s is not trusted: %s",
                                   priv->host, why);
          return;
        }
    }

  set_stream (self, G_IO_STREAM (source));
  g_task_return_boolean (task, TRUE);
}

static void
start_handshake (MailerConnection *self,
                 GTask            *task)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);
  g_autoptr(GSocketConnectable) identity = NULL;
  g_autoptr(GIOStream) tls = NULL;
  GError *error = NULL;

  identity = g_network_address_new (priv->host, priv->port);
  if (priv->pinned_sha256 != NULL)
    {
      GTlsBackend *backend = g_tls_backend_get_default ();

      /* The pin decides first; the system's trust list, whose loading
       * costs more than the whole rest of a quick check for mail, is read
       * only if the certificate is not the pinned one. */
      tls = g_initable_new (g_tls_backend_get_client_connection_type (backend), NULL, &error,
                            "base-io-stream", priv->socket_connection,
                            "server-identity", identity,
                            "database", NULL,
                            NULL);
    }
  else
    tls = g_tls_client_connection_new (G_IO_STREAM (priv->socket_connection), identity, &error);
  if (tls == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  g_clear_object (&priv->peer_certificate);
  priv->peer_errors = 0;
  g_signal_connect_object (tls, "accept-certificate",
                           G_CALLBACK (accept_certificate_cb), self, 0);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT,
                                    g_task_get_cancellable (task),
                                    handshake_cb, task);
}

/* Connect */

static void
socket_connect_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerConnection *self = g_task_get_source_object (task);
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);
  GError *error = NULL;

  priv->socket_connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source),
                                                                    result, &error);
  if (priv->socket_connection == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  if (priv->security == MAILER_SECURITY_TLS)
    {
      start_handshake (self, g_steal_pointer (&task));
      return;
    }

  set_stream (self, G_IO_STREAM (priv->socket_connection));
  g_task_return_boolean (task, TRUE);
}

/**
 * mailer_connection_connect_async:
 *
 * Opens the TCP connection and, for %MAILER_SECURITY_TLS, completes the TLS
 * handshake before anything is read.  With %MAILER_SECURITY_STARTTLS the
 * protocol client must upgrade with mailer_connection_start_tls_async()
 * before it sends any credentials.
 */
void
mailer_connection_connect_async (MailerConnection    *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);
  g_autoptr(GTask) task = NULL;
  g_autoptr(GSocketClient) client = NULL;

  g_return_if_fail (MAILER_IS_CONNECTION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_connection_connect_async);

  if (priv->socket_connection != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_ALREADY_MOUNTED,
                               "Already connected");
      return;
    }

  client = g_socket_client_new ();
  /* Every read and write, not only the connect: a server can be silent for
   * a long time while it works out a large mailbox (Dovecot took over a
   * minute to answer LIST for 100,000 POP3 messages read from a cold disk),
   * so this is for connections that are really dead. */
  g_socket_client_set_timeout (client, SOCKET_TIMEOUT_SECONDS);
  g_socket_client_connect_to_host_async (client, priv->host, priv->port, cancellable,
                                         socket_connect_cb, g_steal_pointer (&task));
}

gboolean
mailer_connection_connect_finish (MailerConnection  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mailer_connection_start_tls_async:
 *
 * Upgrades a plain connection after the server accepted STARTTLS/STLS.
 * Anything the server sent after its reply and before the handshake would
 * be plaintext injected into the secure session, so it is an error.
 */
void
mailer_connection_start_tls_async (MailerConnection    *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MAILER_IS_CONNECTION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_connection_start_tls_async);

  if (priv->socket_connection == NULL)
    {
      g_task_return_new_error (task, MAILER_CONNECTION_ERROR,
                               MAILER_CONNECTION_ERROR_NOT_CONNECTED, "Not connected");
      return;
    }
  if (G_IS_TLS_CONNECTION (priv->stream))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_ALREADY_MOUNTED,
                               "The connection is already encrypted");
      return;
    }
  if (g_buffered_input_stream_get_available (priv->input) > 0)
    {
      g_task_return_new_error (task, MAILER_CONNECTION_ERROR,
                               MAILER_CONNECTION_ERROR_TLS_INJECTION,
                               "The server sent unexpected data before encryption started");
      return;
    }

  start_handshake (self, g_steal_pointer (&task));
}

gboolean
mailer_connection_start_tls_finish (MailerConnection  *self,
                                    GAsyncResult      *result,
                                    GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Lines */

typedef struct
{
  char *line;
  gsize length;
} Line;

static void
line_free (Line *line)
{
  g_free (line->line);
  g_free (line);
}

static void read_line_fill_cb (GObject      *source,
                               GAsyncResult *result,
                               gpointer      user_data);

static void
read_line_step (GTask *task)
{
  MailerConnection *self = g_task_get_source_object (task);
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);
  const char *buffer;
  const char *newline;
  gsize available;

  buffer = g_buffered_input_stream_peek_buffer (priv->input, &available);
  newline = memchr (buffer, '\n', available);

  if (newline != NULL)
    {
      Line *line = g_new0 (Line, 1);
      gsize consumed = newline - buffer + 1;
      gsize length = consumed - 1;

      if (length > 0 && buffer[length - 1] == '\r')
        length--;
      /* Not g_strndup(): that would stop at a NUL byte. */
      line->line = g_malloc (length + 1);
      memcpy (line->line, buffer, length);
      line->line[length] = '\0';
      line->length = length;
      /* Served from the buffer: this does no I/O. */
      g_input_stream_skip (G_INPUT_STREAM (priv->input), consumed, NULL, NULL);

      priv->busy_reading = FALSE;
      g_task_return_pointer (task, line, (GDestroyNotify) line_free);
      g_object_unref (task);
      return;
    }

  if (available >= priv->max_line_length)
    {
      priv->busy_reading = FALSE;
      g_task_return_new_error (task, MAILER_CONNECTION_ERROR,
                               MAILER_CONNECTION_ERROR_LINE_TOO_LONG,
                               "The server sent a line longer than %" G_GSIZE_FORMAT " bytes",
                               priv->max_line_length);
      g_object_unref (task);
      return;
    }

  g_buffered_input_stream_fill_async (priv->input, -1, G_PRIORITY_DEFAULT,
                                      g_task_get_cancellable (task),
                                      read_line_fill_cb, task);
}

static void
read_line_fill_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  MailerConnection *self = g_task_get_source_object (task);
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);
  GError *error = NULL;
  gssize n;

  n = g_buffered_input_stream_fill_finish (G_BUFFERED_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      priv->busy_reading = FALSE;
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (n == 0)
    {
      priv->busy_reading = FALSE;
      g_task_return_new_error (task, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CLOSED,
                               "The server closed the connection");
      g_object_unref (task);
      return;
    }

  read_line_step (task);
}

/**
 * mailer_connection_read_line_async:
 *
 * Reads one line.  The result excludes the line terminator (CRLF, or a bare
 * LF from a sloppy server) and may contain NUL bytes, hence its length.
 */
void
mailer_connection_read_line_async (MailerConnection    *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);
  GTask *task;

  g_return_if_fail (MAILER_IS_CONNECTION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_connection_read_line_async);

  if (priv->input == NULL)
    {
      g_task_return_new_error (task, MAILER_CONNECTION_ERROR,
                               MAILER_CONNECTION_ERROR_NOT_CONNECTED, "Not connected");
      g_object_unref (task);
      return;
    }
  if (priv->busy_reading)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               "A read is already in progress");
      g_object_unref (task);
      return;
    }

  priv->busy_reading = TRUE;
  read_line_step (task);
}

char *
mailer_connection_read_line_finish (MailerConnection  *self,
                                    GAsyncResult      *result,
                                    gsize             *length,
                                    GError           **error)
{
  Line *line;
  char *ret;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  line = g_task_propagate_pointer (G_TASK (result), error);
  if (line == NULL)
    return NULL;

  if (length != NULL)
    *length = line->length;
  ret = g_steal_pointer (&line->line);
  line_free (line);
  return ret;
}

/* Writing and closing */

static void
write_all_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
mailer_connection_write_async (MailerConnection    *self,
                               GBytes              *bytes,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);
  g_autoptr(GTask) task = NULL;
  const guint8 *data;
  gsize size;

  g_return_if_fail (MAILER_IS_CONNECTION (self));
  g_return_if_fail (bytes != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_connection_write_async);
  /* Keep the data alive until the write completes. */
  g_task_set_task_data (task, g_bytes_ref (bytes), (GDestroyNotify) g_bytes_unref);

  if (priv->stream == NULL)
    {
      g_task_return_new_error (task, MAILER_CONNECTION_ERROR,
                               MAILER_CONNECTION_ERROR_NOT_CONNECTED, "Not connected");
      return;
    }

  data = g_bytes_get_data (bytes, &size);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (priv->stream),
                                   data, size, G_PRIORITY_DEFAULT, cancellable,
                                   write_all_cb, g_steal_pointer (&task));
}

gboolean
mailer_connection_write_finish (MailerConnection  *self,
                                GAsyncResult      *result,
                                GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
close_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!g_io_stream_close_finish (G_IO_STREAM (source), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
mailer_connection_close_async (MailerConnection    *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  MailerConnectionPrivate *priv = mailer_connection_get_instance_private (self);
  g_autoptr(GTask) task = NULL;
  g_autoptr(GIOStream) stream = NULL;

  g_return_if_fail (MAILER_IS_CONNECTION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_connection_close_async);

  stream = g_steal_pointer (&priv->stream);
  g_clear_object (&priv->input);
  g_clear_object (&priv->socket_connection);

  if (stream == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  g_io_stream_close_async (stream, G_PRIORITY_DEFAULT, cancellable,
                           close_cb, g_steal_pointer (&task));
}

gboolean
mailer_connection_close_finish (MailerConnection  *self,
                                GAsyncResult      *result,
                                GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
