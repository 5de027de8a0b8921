/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define MAILER_TYPE_APPLICATION (mailer_application_get_type ())

G_DECLARE_FINAL_TYPE (MailerApplication, mailer_application, MAILER, APPLICATION, AdwApplication)

MailerApplication *mailer_application_new (void);

G_END_DECLS
