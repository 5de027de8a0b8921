/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-store.h"

G_BEGIN_DECLS

#define MAILER_TYPE_MESSAGE_LIST (mailer_message_list_get_type ())

G_DECLARE_FINAL_TYPE (MailerMessageList, mailer_message_list, MAILER, MESSAGE_LIST, GObject)

/* Rows are loaded in pages of this many. */
#define MAILER_MESSAGE_LIST_PAGE_SIZE 50

MailerMessageList *mailer_message_list_new_for_folder    (MailerStore        *store,
                                                          gint64              folder_id,
                                                          GError            **error);
MailerMessageList *mailer_message_list_new_unified_inbox (MailerStore        *store,
                                                          GError            **error);
MailerMessageList *mailer_message_list_new_conversations (MailerStore        *store,
                                                          gint64              folder_id,
                                                          GError            **error);
gboolean           mailer_message_list_get_conversations (MailerMessageList  *self);
void               mailer_message_list_count_conversation (MailerMessageList *self,
                                                          MailerMessage      *message,
                                                          guint              *n_messages,
                                                          guint              *n_unread);
GArray            *mailer_message_list_list_conversation (MailerMessageList  *self,
                                                          MailerMessage      *message);
MailerMessageList *mailer_message_list_new_search        (MailerStore        *store,
                                                          const char         *text,
                                                          gint64              folder_id,
                                                          GError            **error);
guint              mailer_message_list_find              (MailerMessageList  *self,
                                                          gint64              message_id);
gint64             mailer_message_list_get_id            (MailerMessageList  *self,
                                                          guint               position);
guint              mailer_message_list_get_n_loaded      (MailerMessageList  *self);

G_END_DECLS
