/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-connection.h"
#include "mailer-pop3-parser.h"

G_BEGIN_DECLS

/**
 * MailerPop3Message:
 * @number: the message number in this session
 * @size: its size in octets, as LIST says
 * @uidl: its unique id: the server's UIDL, or for servers without UIDL a
 *   hash of its header ("sha256:..."), stable across sessions
 */
typedef struct
{
  guint number;
  gint64 size;
  char *uidl;
} MailerPop3Message;

void mailer_pop3_message_free (MailerPop3Message *message);

#define MAILER_TYPE_POP3_CLIENT (mailer_pop3_client_get_type ())

G_DECLARE_FINAL_TYPE (MailerPop3Client, mailer_pop3_client, MAILER, POP3_CLIENT, GObject)

MailerPop3Client *mailer_pop3_client_new              (MailerConnection     *connection);
MailerConnection *mailer_pop3_client_get_connection   (MailerPop3Client     *self);
gboolean          mailer_pop3_client_has_capability   (MailerPop3Client     *self,
                                                       const char           *capability);
void              mailer_pop3_client_set_pipelining   (MailerPop3Client     *self,
                                                       gboolean              allowed);

void              mailer_pop3_client_connect_async    (MailerPop3Client     *self,
                                                       GCancellable         *cancellable,
                                                       GAsyncReadyCallback   callback,
                                                       gpointer              user_data);
gboolean          mailer_pop3_client_connect_finish   (MailerPop3Client     *self,
                                                       GAsyncResult         *result,
                                                       GError              **error);
void              mailer_pop3_client_login_async      (MailerPop3Client     *self,
                                                       const char           *username,
                                                       const char           *password,
                                                       GCancellable         *cancellable,
                                                       GAsyncReadyCallback   callback,
                                                       gpointer              user_data);
gboolean          mailer_pop3_client_login_finish     (MailerPop3Client     *self,
                                                       GAsyncResult         *result,
                                                       GError              **error);
void              mailer_pop3_client_list_async       (MailerPop3Client     *self,
                                                       GCancellable         *cancellable,
                                                       GAsyncReadyCallback   callback,
                                                       gpointer              user_data);
GPtrArray        *mailer_pop3_client_list_finish      (MailerPop3Client     *self,
                                                       GAsyncResult         *result,
                                                       GError              **error);
void              mailer_pop3_client_retrieve_async   (MailerPop3Client     *self,
                                                       GArray               *numbers,
                                                       guint                 top_lines,
                                                       GCancellable         *cancellable,
                                                       GAsyncReadyCallback   callback,
                                                       gpointer              user_data);
GPtrArray        *mailer_pop3_client_retrieve_finish  (MailerPop3Client     *self,
                                                       GAsyncResult         *result,
                                                       GError              **error);
void              mailer_pop3_client_delete_async     (MailerPop3Client     *self,
                                                       GArray               *numbers,
                                                       GCancellable         *cancellable,
                                                       GAsyncReadyCallback   callback,
                                                       gpointer              user_data);
gboolean          mailer_pop3_client_delete_finish    (MailerPop3Client     *self,
                                                       GAsyncResult         *result,
                                                       GError              **error);
void              mailer_pop3_client_quit_async       (MailerPop3Client     *self,
                                                       GCancellable         *cancellable,
                                                       GAsyncReadyCallback   callback,
                                                       gpointer              user_data);
gboolean          mailer_pop3_client_quit_finish      (MailerPop3Client     *self,
                                                       GAsyncResult         *result,
                                                       GError              **error);

G_END_DECLS
