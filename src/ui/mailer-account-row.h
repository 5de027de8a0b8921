/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "mailer-account.h"

G_BEGIN_DECLS

#define MAILER_TYPE_ACCOUNT_ROW (mailer_account_row_get_type ())

G_DECLARE_FINAL_TYPE (MailerAccountRow, mailer_account_row, MAILER, ACCOUNT_ROW, GtkWidget)

GtkWidget     *mailer_account_row_new         (void);
MailerAccount *mailer_account_row_get_account (MailerAccountRow *self);
void           mailer_account_row_set_account (MailerAccountRow *self,
                                               MailerAccount    *account);

const char    *mailer_account_kind_get_label  (MailerAccountKind kind);

G_END_DECLS
