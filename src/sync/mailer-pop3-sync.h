/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-account.h"
#include "mailer-store.h"

G_BEGIN_DECLS

/**
 * MailerPop3SyncResult:
 * @n_on_server: messages the server listed
 * @n_downloaded: messages downloaded and stored in this run
 * @n_deleted: messages deleted from the server in this run
 * @bytes: bytes of message data downloaded
 */
typedef struct
{
  guint n_on_server;
  guint n_downloaded;
  guint n_deleted;
  guint64 bytes;
  gboolean first_run;   /* no message of the account was downloaded before */
  gint64 newest_id;     /* the store's id of the last message stored, or 0 */
} MailerPop3SyncResult;

#define MAILER_TYPE_POP3_SYNC (mailer_pop3_sync_get_type ())

G_DECLARE_FINAL_TYPE (MailerPop3Sync, mailer_pop3_sync, MAILER, POP3_SYNC, GObject)

MailerPop3Sync *mailer_pop3_sync_new             (MailerStore           *store,
                                                  MailerAccount         *account);
void            mailer_pop3_sync_set_pipelining  (MailerPop3Sync        *self,
                                                  gboolean               allowed);
void            mailer_pop3_sync_run_async       (MailerPop3Sync        *self,
                                                  const char            *password,
                                                  GCancellable          *cancellable,
                                                  GAsyncReadyCallback    callback,
                                                  gpointer               user_data);
gboolean        mailer_pop3_sync_run_finish      (MailerPop3Sync        *self,
                                                  GAsyncResult          *result,
                                                  MailerPop3SyncResult  *out_result,
                                                  GError               **error);

void            mailer_pop3_sync_download_rest_async  (MailerPop3Sync       *self,
                                                       const char           *password,
                                                       gint64                message_id,
                                                       GCancellable         *cancellable,
                                                       GAsyncReadyCallback   callback,
                                                       gpointer              user_data);
gboolean        mailer_pop3_sync_download_rest_finish (MailerPop3Sync       *self,
                                                       GAsyncResult         *result,
                                                       GError              **error);

G_END_DECLS
