/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-model-enums.h"

G_BEGIN_DECLS

#define MAILER_TYPE_ACCOUNT (mailer_account_get_type ())

G_DECLARE_FINAL_TYPE (MailerAccount, mailer_account, MAILER, ACCOUNT, GObject)

MailerAccount         *mailer_account_new                  (MailerAccountKind      kind);
const char            *mailer_account_get_uuid             (MailerAccount         *self);
gint64                 mailer_account_get_id               (MailerAccount         *self);
void                   mailer_account_set_id               (MailerAccount         *self,
                                                            gint64                 id);
MailerAccountKind      mailer_account_get_kind             (MailerAccount         *self);
const char            *mailer_account_get_display_name     (MailerAccount         *self);
void                   mailer_account_set_display_name     (MailerAccount         *self,
                                                            const char            *display_name);
const char            *mailer_account_get_address          (MailerAccount         *self);
void                   mailer_account_set_address          (MailerAccount         *self,
                                                            const char            *address);
const char            *mailer_account_get_host             (MailerAccount         *self);
void                   mailer_account_set_host             (MailerAccount         *self,
                                                            const char            *host);
guint16                mailer_account_get_port             (MailerAccount         *self);
void                   mailer_account_set_port             (MailerAccount         *self,
                                                            guint16                port);
MailerSecurity         mailer_account_get_security         (MailerAccount         *self);
void                   mailer_account_set_security         (MailerAccount         *self,
                                                            MailerSecurity         security);
const char            *mailer_account_get_username         (MailerAccount         *self);
void                   mailer_account_set_username         (MailerAccount         *self,
                                                            const char            *username);
const char            *mailer_account_get_pinned_certificate (MailerAccount       *self);
void                   mailer_account_set_pinned_certificate (MailerAccount       *self,
                                                              const char          *sha256);
MailerConnectionState  mailer_account_get_connection_state (MailerAccount         *self);
void                   mailer_account_set_connection_state (MailerAccount         *self,
                                                            MailerConnectionState  state);
const char            *mailer_account_get_status_message   (MailerAccount         *self);
void                   mailer_account_set_status_message   (MailerAccount         *self,
                                                            const char            *message);

gint64                 mailer_account_get_last_sync        (MailerAccount         *self);
gboolean               mailer_account_get_needs_password   (MailerAccount         *self);
void                   mailer_account_set_needs_password   (MailerAccount         *self,
                                                            gboolean               needs_password);
gboolean               mailer_account_get_needs_trust      (MailerAccount         *self);
void                   mailer_account_set_needs_trust      (MailerAccount         *self,
                                                            gboolean               needs_trust);
double                 mailer_account_get_progress         (MailerAccount         *self);
void                   mailer_account_set_progress         (MailerAccount         *self,
                                                            double                 progress);
GListModel            *mailer_account_get_folders          (MailerAccount         *self);
void                   mailer_account_set_folders          (MailerAccount         *self,
                                                            GListModel            *folders);

gboolean               mailer_account_get_leave_on_server     (MailerAccount       *self);
void                   mailer_account_set_leave_on_server     (MailerAccount       *self,
                                                               gboolean             leave_on_server);
guint                  mailer_account_get_keep_days           (MailerAccount       *self);
void                   mailer_account_set_keep_days           (MailerAccount       *self,
                                                               guint                keep_days);
gboolean               mailer_account_get_delete_when_deleted (MailerAccount       *self);
void                   mailer_account_set_delete_when_deleted (MailerAccount       *self,
                                                               gboolean             delete_when_deleted);
guint64                mailer_account_get_size_limit          (MailerAccount       *self);
void                   mailer_account_set_size_limit          (MailerAccount       *self,
                                                               guint64              size_limit);
guint                  mailer_account_get_check_interval      (MailerAccount       *self);
void                   mailer_account_set_check_interval      (MailerAccount       *self,
                                                               guint                check_interval);

/* prefetch-days for "all of it" */
#define MAILER_ACCOUNT_PREFETCH_ALL 36500

guint                  mailer_account_get_prefetch_days       (MailerAccount       *self);
void                   mailer_account_set_prefetch_days       (MailerAccount       *self,
                                                               guint                days);

G_END_DECLS
