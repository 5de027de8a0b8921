/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-model-enums.h"

G_BEGIN_DECLS

#define MAILER_CONNECTION_ERROR (mailer_connection_error_quark ())

typedef enum
{
  MAILER_CONNECTION_ERROR_FAILED,
  /* The peer closed the connection (EOF where more data was due). */
  MAILER_CONNECTION_ERROR_CLOSED,
  /* A line longer than the configured maximum: a hostile or broken peer. */
  MAILER_CONNECTION_ERROR_LINE_TOO_LONG,
  /* The certificate is neither trusted by the system nor pinned. */
  MAILER_CONNECTION_ERROR_CERTIFICATE_UNTRUSTED,
  /* Bytes arrived after a STARTTLS reply, before the handshake. */
  MAILER_CONNECTION_ERROR_TLS_INJECTION,
  MAILER_CONNECTION_ERROR_NOT_CONNECTED,
} MailerConnectionError;

GQuark mailer_connection_error_quark (void);

#define MAILER_TYPE_CONNECTION (mailer_connection_get_type ())

G_DECLARE_DERIVABLE_TYPE (MailerConnection, mailer_connection, MAILER, CONNECTION, GObject)

struct _MailerConnectionClass
{
  GObjectClass parent_class;

  /*< private >*/
  gpointer padding[8];
};

#define MAILER_CONNECTION_DEFAULT_MAX_LINE_LENGTH (64 * 1024)

MailerConnection     *mailer_connection_new                     (const char           *host,
                                                                 guint16               port,
                                                                 MailerSecurity        security);
const char           *mailer_connection_get_host                (MailerConnection     *self);
guint16               mailer_connection_get_port                (MailerConnection     *self);
MailerSecurity        mailer_connection_get_security            (MailerConnection     *self);
void                  mailer_connection_set_pinned_certificate  (MailerConnection     *self,
                                                                 const char           *sha256);
gsize                 mailer_connection_get_max_line_length     (MailerConnection     *self);
void                  mailer_connection_set_max_line_length     (MailerConnection     *self,
                                                                 gsize                 max_line_length);
gboolean              mailer_connection_is_encrypted            (MailerConnection     *self);
GTlsCertificate      *mailer_connection_get_peer_certificate    (MailerConnection     *self);
GTlsCertificateFlags  mailer_connection_get_peer_certificate_errors (MailerConnection *self);
GInputStream         *mailer_connection_get_input_stream        (MailerConnection     *self);
GOutputStream        *mailer_connection_get_output_stream       (MailerConnection     *self);

void                  mailer_connection_connect_async           (MailerConnection     *self,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
gboolean              mailer_connection_connect_finish          (MailerConnection     *self,
                                                                 GAsyncResult         *result,
                                                                 GError              **error);
void                  mailer_connection_start_tls_async         (MailerConnection     *self,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
gboolean              mailer_connection_start_tls_finish        (MailerConnection     *self,
                                                                 GAsyncResult         *result,
                                                                 GError              **error);
void                  mailer_connection_read_line_async         (MailerConnection     *self,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
char                 *mailer_connection_read_line_finish        (MailerConnection     *self,
                                                                 GAsyncResult         *result,
                                                                 gsize                *length,
                                                                 GError              **error);
void                  mailer_connection_write_async             (MailerConnection     *self,
                                                                 GBytes               *bytes,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
gboolean              mailer_connection_write_finish            (MailerConnection     *self,
                                                                 GAsyncResult         *result,
                                                                 GError              **error);
void                  mailer_connection_close_async             (MailerConnection     *self,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
gboolean              mailer_connection_close_finish            (MailerConnection     *self,
                                                                 GAsyncResult         *result,
                                                                 GError              **error);

char                 *mailer_certificate_get_sha256             (GTlsCertificate      *certificate);

G_END_DECLS
