/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "mailer-session.h"

G_BEGIN_DECLS

#define MAILER_TYPE_ACCOUNT_WIZARD (mailer_account_wizard_get_type ())

G_DECLARE_FINAL_TYPE (MailerAccountWizard, mailer_account_wizard, MAILER, ACCOUNT_WIZARD, AdwWindow)

MailerAccountWizard *mailer_account_wizard_new      (GtkWindow           *parent,
                                                     MailerSession       *session);
const char          *mailer_account_wizard_get_page (MailerAccountWizard *self);

G_END_DECLS
