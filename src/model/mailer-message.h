/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-model-enums.h"

G_BEGIN_DECLS

#define MAILER_TYPE_MESSAGE (mailer_message_get_type ())

G_DECLARE_FINAL_TYPE (MailerMessage, mailer_message, MAILER, MESSAGE, GObject)

MailerMessage      *mailer_message_new                (gint64              id,
                                                       gint64              folder_id);
gint64              mailer_message_get_id             (MailerMessage      *self);
gint64              mailer_message_get_folder_id      (MailerMessage      *self);
void                mailer_message_set_folder_id      (MailerMessage      *self,
                                                       gint64              folder_id);
gint64              mailer_message_get_thread_id      (MailerMessage      *self);
void                mailer_message_set_thread_id      (MailerMessage      *self,
                                                       gint64              thread_id);
const char         *mailer_message_get_subject        (MailerMessage      *self);
void                mailer_message_set_subject        (MailerMessage      *self,
                                                       const char         *subject);
const char         *mailer_message_get_sender         (MailerMessage      *self);
void                mailer_message_set_sender         (MailerMessage      *self,
                                                       const char         *sender);
const char         *mailer_message_get_sender_address (MailerMessage      *self);
void                mailer_message_set_sender_address (MailerMessage      *self,
                                                       const char         *address);
const char         *mailer_message_get_recipients     (MailerMessage      *self);
void                mailer_message_set_recipients     (MailerMessage      *self,
                                                       const char         *recipients);
const char         *mailer_message_get_preview        (MailerMessage      *self);
void                mailer_message_set_preview        (MailerMessage      *self,
                                                       const char         *preview);
gint64              mailer_message_get_date           (MailerMessage      *self);
void                mailer_message_set_date           (MailerMessage      *self,
                                                       gint64              unix_time);
gint64              mailer_message_get_size           (MailerMessage      *self);
void                mailer_message_set_size           (MailerMessage      *self,
                                                       gint64              size);
MailerMessageFlags  mailer_message_get_flags          (MailerMessage      *self);
void                mailer_message_set_flags          (MailerMessage      *self,
                                                       MailerMessageFlags  flags);
gboolean            mailer_message_get_unread         (MailerMessage      *self);
gboolean            mailer_message_get_flagged        (MailerMessage      *self);
const char         *mailer_message_get_keywords       (MailerMessage      *self);
void                mailer_message_set_keywords       (MailerMessage      *self,
                                                       const char         *keywords);
gboolean            mailer_message_get_has_attachment (MailerMessage      *self);
void                mailer_message_set_has_attachment (MailerMessage      *self,
                                                       gboolean            has_attachment);
MailerBodyState     mailer_message_get_body_state     (MailerMessage      *self);
void                mailer_message_set_body_state     (MailerMessage      *self,
                                                       MailerBodyState     state);

G_END_DECLS
