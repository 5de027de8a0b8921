/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-connection.h"
#include "mailer-imap-command.h"
#include "mailer-imap-parser.h"

G_BEGIN_DECLS

#define MAILER_TYPE_IMAP_CLIENT (mailer_imap_client_get_type ())

G_DECLARE_FINAL_TYPE (MailerImapClient, mailer_imap_client, MAILER, IMAP_CLIENT, GObject)

/* Sees the untagged responses that arrive while its command runs; TRUE
 * when it consumed the response. */
typedef gboolean (*MailerImapUntaggedFunc) (MailerImapClient         *client,
                                            const MailerImapResponse *response,
                                            gpointer                  user_data);

MailerImapClient   *mailer_imap_client_new              (MailerConnection        *connection);
MailerConnection   *mailer_imap_client_get_connection   (MailerImapClient        *self);
gboolean            mailer_imap_client_has_capability   (MailerImapClient        *self,
                                                         const char              *capability);
gboolean            mailer_imap_client_is_enabled       (MailerImapClient        *self,
                                                         const char              *extension);
gboolean            mailer_imap_client_get_utf8_accepted (MailerImapClient       *self);
gboolean            mailer_imap_client_is_connected     (MailerImapClient        *self);
guint64             mailer_imap_client_get_bytes_read   (MailerImapClient        *self);

void                mailer_imap_client_connect_async    (MailerImapClient        *self,
                                                         GCancellable            *cancellable,
                                                         GAsyncReadyCallback      callback,
                                                         gpointer                 user_data);
gboolean            mailer_imap_client_connect_finish   (MailerImapClient        *self,
                                                         GAsyncResult            *result,
                                                         GError                 **error);
void                mailer_imap_client_login_async      (MailerImapClient        *self,
                                                         const char              *username,
                                                         const char              *password,
                                                         GCancellable            *cancellable,
                                                         GAsyncReadyCallback      callback,
                                                         gpointer                 user_data);
gboolean            mailer_imap_client_login_finish     (MailerImapClient        *self,
                                                         GAsyncResult            *result,
                                                         GError                 **error);
void                mailer_imap_client_run_async        (MailerImapClient        *self,
                                                         MailerImapCommand       *command,
                                                         MailerImapUntaggedFunc   func,
                                                         gpointer                 func_data,
                                                         GCancellable            *cancellable,
                                                         GAsyncReadyCallback      callback,
                                                         gpointer                 user_data);
MailerImapResponse *mailer_imap_client_run_finish       (MailerImapClient        *self,
                                                         GAsyncResult            *result,
                                                         GError                 **error);
void                mailer_imap_client_idle_async       (MailerImapClient        *self,
                                                         GCancellable            *cancellable,
                                                         GAsyncReadyCallback      callback,
                                                         gpointer                 user_data);
gboolean            mailer_imap_client_idle_finish      (MailerImapClient        *self,
                                                         GAsyncResult            *result,
                                                         GError                 **error);
void                mailer_imap_client_idle_done        (MailerImapClient        *self);
void                mailer_imap_client_logout_async     (MailerImapClient        *self,
                                                         GCancellable            *cancellable,
                                                         GAsyncReadyCallback      callback,
                                                         gpointer                 user_data);
gboolean            mailer_imap_client_logout_finish    (MailerImapClient        *self,
                                                         GAsyncResult            *result,
                                                         GError                 **error);

void                mailer_imap_client_disconnect       (MailerImapClient        *self);

G_END_DECLS
