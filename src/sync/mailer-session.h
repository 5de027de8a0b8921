/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-account.h"
#include "mailer-store.h"

G_BEGIN_DECLS

#define MAILER_TYPE_SESSION (mailer_session_get_type ())

G_DECLARE_FINAL_TYPE (MailerSession, mailer_session, MAILER, SESSION, GObject)

MailerSession *mailer_session_new                   (const char           *data_dir,
                                                     GError              **error);
MailerStore   *mailer_session_get_store             (MailerSession        *self);
GListModel    *mailer_session_get_accounts          (MailerSession        *self);
MailerFolder  *mailer_session_get_folder             (MailerSession        *self,
                                                     gint64                folder_id);
MailerAccount *mailer_session_find_account          (MailerSession        *self,
                                                     const char           *uuid);
void           mailer_session_add_account_async     (MailerSession        *self,
                                                     MailerAccount        *account,
                                                     const char           *password,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
gboolean       mailer_session_add_account_finish    (MailerSession        *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);
void           mailer_session_remove_account_async  (MailerSession        *self,
                                                     MailerAccount        *account,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
gboolean       mailer_session_remove_account_finish (MailerSession        *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);

void           mailer_session_sync_account_async    (MailerSession        *self,
                                                     MailerAccount        *account,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
gssize         mailer_session_sync_account_finish   (MailerSession        *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);

void           mailer_session_cancel_sync           (MailerSession        *self,
                                                     MailerAccount        *account);
gboolean       mailer_session_is_syncing            (MailerSession        *self,
                                                     MailerAccount        *account);
void           mailer_session_set_periodic_checks   (MailerSession        *self,
                                                     gboolean              enabled);

void           mailer_session_set_push              (MailerSession        *self,
                                                     gboolean              enabled);
void           mailer_session_set_password_async    (MailerSession        *self,
                                                     MailerAccount        *account,
                                                     const char           *password,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
gboolean       mailer_session_set_password_finish   (MailerSession        *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);
void           mailer_session_trust_certificate_async (MailerSession      *self,
                                                     MailerAccount        *account,
                                                     const char           *fingerprint,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
gboolean       mailer_session_trust_certificate_finish (MailerSession     *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);
void           mailer_session_watch_folder          (MailerSession        *self,
                                                     gint64                folder_id);
void           mailer_session_set_network_monitor   (MailerSession        *self,
                                                     GNetworkMonitor      *monitor);
gboolean       mailer_session_get_online            (MailerSession        *self);
void           mailer_session_fetch_body_async      (MailerSession        *self,
                                                     MailerAccount        *account,
                                                     gint64                message_id,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
gboolean       mailer_session_fetch_body_finish     (MailerSession        *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);

G_END_DECLS
