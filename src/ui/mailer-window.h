/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include <webkit/webkit.h>

#include "mailer-session.h"

G_BEGIN_DECLS

#define MAILER_TYPE_WINDOW (mailer_window_get_type ())

G_DECLARE_FINAL_TYPE (MailerWindow, mailer_window, MAILER, WINDOW, AdwApplicationWindow)

MailerWindow *mailer_window_new                (GtkApplication *application,
                                                MailerSession  *session,
                                                const GError   *session_error);
GtkListView  *mailer_window_get_accounts_view  (MailerWindow   *self);

GtkListView  *mailer_window_get_messages_view (MailerWindow   *self);
MailerWindow *mailer_window_new_for_message   (GtkApplication *application,
                                               MailerSession  *session,
                                               gint64          message_id);
gboolean      mailer_window_is_single         (MailerWindow   *self);
const char   *mailer_window_get_reader_subject (MailerWindow  *self);
const char   *mailer_window_get_reader_body   (MailerWindow   *self);
void          mailer_window_refresh           (MailerWindow   *self);
gboolean      mailer_window_show_message      (MailerWindow   *self,
                                               gint64          message_id);
GtkWidget    *mailer_window_get_offline_banner (MailerWindow  *self);
GtkWidget    *mailer_window_popup_message_menu (MailerWindow  *self,
                                               gint64         message_id,
                                               GtkWidget     *row,
                                               double         x,
                                               double         y);
WebKitWebView *mailer_window_get_web_view     (MailerWindow   *self);
GtkWidget    *mailer_window_get_remote_banner (MailerWindow   *self);
void          mailer_window_save_attachment_async  (MailerWindow        *self,
                                                    guint                index,
                                                    GFile               *file,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
gboolean      mailer_window_save_attachment_finish (MailerWindow        *self,
                                                    GAsyncResult        *result,
                                                    GError             **error);

G_END_DECLS
