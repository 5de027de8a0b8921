/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-account.h"
#include "mailer-store.h"

G_BEGIN_DECLS

/**
 * MailerImapSyncResult:
 * @n_folders: folders synced
 * @n_new: messages whose summaries were stored
 * @n_flag_changes: flag changes taken from the server
 * @n_vanished: messages expunged on the server, removed here
 * @n_replayed: local changes applied on the server
 * @n_reset: folders recreated on the server (new UIDVALIDITY), cached anew
 */
typedef struct
{
  guint n_folders;
  guint n_new;
  guint n_flag_changes;
  guint n_vanished;
  guint n_replayed;
  guint n_reset;
} MailerImapSyncResult;

#define MAILER_TYPE_IMAP_SYNC (mailer_imap_sync_get_type ())

G_DECLARE_FINAL_TYPE (MailerImapSync, mailer_imap_sync, MAILER, IMAP_SYNC, GObject)

MailerImapSync *mailer_imap_sync_new               (MailerStore           *store,
                                                    MailerAccount         *account,
                                                    const char            *password);
void            mailer_imap_sync_run_async         (MailerImapSync        *self,
                                                    GCancellable          *cancellable,
                                                    GAsyncReadyCallback    callback,
                                                    gpointer               user_data);
gboolean        mailer_imap_sync_run_finish        (MailerImapSync        *self,
                                                    GAsyncResult          *result,
                                                    MailerImapSyncResult  *out_result,
                                                    GError               **error);
void            mailer_imap_sync_fetch_body_async  (MailerImapSync        *self,
                                                    gint64                 message_id,
                                                    GCancellable          *cancellable,
                                                    GAsyncReadyCallback    callback,
                                                    gpointer               user_data);
gboolean        mailer_imap_sync_fetch_body_finish (MailerImapSync        *self,
                                                    GAsyncResult          *result,
                                                    GError               **error);
void            mailer_imap_sync_start_push        (MailerImapSync        *self);
void            mailer_imap_sync_stop_push         (MailerImapSync        *self);
void            mailer_imap_sync_kick              (MailerImapSync        *self);
void            mailer_imap_sync_set_password      (MailerImapSync        *self,
                                                    const char            *password);
void            mailer_imap_sync_watch_folder      (MailerImapSync        *self,
                                                    gint64                 folder_id);

G_END_DECLS
