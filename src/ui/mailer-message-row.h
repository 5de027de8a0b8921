/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "mailer-message.h"

G_BEGIN_DECLS

#define MAILER_TYPE_MESSAGE_ROW (mailer_message_row_get_type ())

G_DECLARE_FINAL_TYPE (MailerMessageRow, mailer_message_row, MAILER, MESSAGE_ROW, GtkWidget)

GtkWidget     *mailer_message_row_new         (void);
MailerMessage *mailer_message_row_get_message (MailerMessageRow *self);
void           mailer_message_row_set_message (MailerMessageRow *self,
                                               MailerMessage    *message);
void           mailer_message_row_set_conversation (MailerMessageRow *self,
                                                    guint             n_messages,
                                                    guint             n_unread);
guint          mailer_message_row_get_n_messages (MailerMessageRow *self);
char          *mailer_format_date             (gint64            unix_time);

G_END_DECLS
