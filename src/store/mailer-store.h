/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-account.h"

G_BEGIN_DECLS

#define MAILER_STORE_ERROR (mailer_store_error_quark ())

typedef enum
{
  MAILER_STORE_ERROR_FAILED,
  MAILER_STORE_ERROR_OPEN,
  /* The database was written by a newer Mailer. */
  MAILER_STORE_ERROR_TOO_NEW,
  MAILER_STORE_ERROR_MIGRATION,
  MAILER_STORE_ERROR_FULL,
  MAILER_STORE_ERROR_READ_ONLY,
  MAILER_STORE_ERROR_CORRUPT,
  MAILER_STORE_ERROR_NOT_FOUND,
} MailerStoreError;

GQuark mailer_store_error_quark (void);

#define MAILER_TYPE_STORE (mailer_store_get_type ())

G_DECLARE_FINAL_TYPE (MailerStore, mailer_store, MAILER, STORE, GObject)

char        *mailer_store_get_default_dir          (void);
MailerStore *mailer_store_open                     (const char           *dir,
                                                    GError              **error);
const char  *mailer_store_get_dir                  (MailerStore          *self);
guint        mailer_store_get_schema_version       (MailerStore          *self);
guint        mailer_store_get_latest_schema_version (void);
GPtrArray   *mailer_store_list_accounts            (MailerStore          *self,
                                                    GError              **error);
void         mailer_store_save_account_async       (MailerStore          *self,
                                                    MailerAccount        *account,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
gboolean     mailer_store_save_account_finish      (MailerStore          *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
void         mailer_store_delete_account_async     (MailerStore          *self,
                                                    MailerAccount        *account,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
gboolean     mailer_store_delete_account_finish    (MailerStore          *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);

G_END_DECLS
