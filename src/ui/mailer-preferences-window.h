/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "mailer-session.h"

G_BEGIN_DECLS

#define MAILER_TYPE_PREFERENCES_WINDOW (mailer_preferences_window_get_type ())

G_DECLARE_FINAL_TYPE (MailerPreferencesWindow, mailer_preferences_window,
                      MAILER, PREFERENCES_WINDOW, AdwPreferencesWindow)

MailerPreferencesWindow *mailer_preferences_window_new               (GtkWindow               *parent,
                                                                      MailerSession           *session);
AdwPreferencesGroup     *mailer_preferences_window_get_account_group (MailerPreferencesWindow *self,
                                                                      MailerAccount           *account);
void                     mailer_preferences_window_show_accounts     (MailerPreferencesWindow *self);

G_END_DECLS
