/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-model-enums.h"

G_BEGIN_DECLS

#define MAILER_TYPE_FOLDER (mailer_folder_get_type ())

G_DECLARE_FINAL_TYPE (MailerFolder, mailer_folder, MAILER, FOLDER, GObject)

MailerFolder     *mailer_folder_new               (gint64            account_id,
                                                   const char       *path);
gint64            mailer_folder_get_id            (MailerFolder     *self);
void              mailer_folder_set_id            (MailerFolder     *self,
                                                   gint64            id);
gint64            mailer_folder_get_account_id    (MailerFolder     *self);
const char       *mailer_folder_get_path          (MailerFolder     *self);
const char       *mailer_folder_get_display_name  (MailerFolder     *self);
void              mailer_folder_set_display_name  (MailerFolder     *self,
                                                   const char       *display_name);
MailerFolderRole  mailer_folder_get_role          (MailerFolder     *self);
void              mailer_folder_set_role          (MailerFolder     *self,
                                                   MailerFolderRole  role);
guint             mailer_folder_get_unread_count  (MailerFolder     *self);
void              mailer_folder_set_unread_count  (MailerFolder     *self,
                                                   guint             count);
guint             mailer_folder_get_total_count   (MailerFolder     *self);
void              mailer_folder_set_total_count   (MailerFolder     *self,
                                                   guint             count);

const char       *mailer_folder_get_delimiter     (MailerFolder     *self);
void              mailer_folder_set_delimiter     (MailerFolder     *self,
                                                   const char       *delimiter);
gint64            mailer_folder_get_parent_id     (MailerFolder     *self);
void              mailer_folder_set_parent_id     (MailerFolder     *self,
                                                   gint64            parent_id);
GListModel       *mailer_folder_get_children      (MailerFolder     *self);
GListModel       *mailer_folder_build_tree        (GPtrArray        *folders);
void              mailer_folder_update_tree       (GListStore       *roots,
                                                   GPtrArray        *folders);

G_END_DECLS
