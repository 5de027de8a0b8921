/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-account.h"

G_BEGIN_DECLS

void      mailer_secrets_store_password_async   (MailerAccount        *account,
                                                 const char           *password,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
gboolean  mailer_secrets_store_password_finish  (GAsyncResult         *result,
                                                 GError              **error);
void      mailer_secrets_lookup_password_async  (MailerAccount        *account,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
char     *mailer_secrets_lookup_password_finish (GAsyncResult         *result,
                                                 GError              **error);
void      mailer_secrets_clear_password_async   (MailerAccount        *account,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
gboolean  mailer_secrets_clear_password_finish  (GAsyncResult         *result,
                                                 GError              **error);
void      mailer_secrets_free_password          (char                 *password);

G_END_DECLS
