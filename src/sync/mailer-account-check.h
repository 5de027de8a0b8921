/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-account.h"

G_BEGIN_DECLS

void      mailer_account_check_async    (MailerAccount         *account,
                                         const char            *password,
                                         GCancellable          *cancellable,
                                         GAsyncReadyCallback    callback,
                                         gpointer               user_data);
gboolean  mailer_account_check_finish   (GAsyncResult          *result,
                                         GTlsCertificate      **certificate,
                                         GTlsCertificateFlags  *certificate_errors,
                                         GError               **error);

gboolean  mailer_setup_error_needs_trust (const GError         *error);
char     *mailer_certificate_fingerprint (GTlsCertificate      *certificate);
char     *mailer_describe_setup_error   (const GError          *error,
                                         MailerAccount         *account);
char     *mailer_describe_certificate   (GTlsCertificate       *certificate,
                                         GTlsCertificateFlags   errors);

G_END_DECLS
