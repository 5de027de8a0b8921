/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "mailer-session.h"

G_BEGIN_DECLS

void           mailer_test_ui_wait_until       (gboolean   (*condition) (gpointer),
                                                gpointer     data);
void           mailer_test_ui_wait_for_window  (GtkWidget   *window);
void           mailer_test_ui_wait_for_paint   (GtkWidget   *window);
void           mailer_test_ui_save_screenshot  (GtkWidget   *window,
                                                const char  *name);
GtkWidget     *mailer_test_ui_find_named       (GtkWidget   *root,
                                                const char  *name);
MailerSession *mailer_test_ui_make_session     (guint        n_accounts);
MailerFolder  *mailer_test_ui_add_folder       (MailerSession *session,
                                                MailerAccount *account,
                                                const char    *name,
                                                MailerFolderRole role);
GArray        *mailer_test_ui_add_messages     (MailerSession *session,
                                                MailerFolder  *folder,
                                                const char * const *files);

G_END_DECLS
