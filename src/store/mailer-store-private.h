/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Shared between the store's .c files (and its tests); not public API.
 */
#pragma once

#include <sqlite3.h>

#include "mailer-store.h"

G_BEGIN_DECLS

/* Runs in one transaction on the writer thread.  Returning FALSE rolls
 * the transaction back and fails the task with @error. */
typedef gboolean (*MailerStoreWriteFunc) (MailerStore  *self,
                                          sqlite3      *db,
                                          GTask        *task,
                                          GError      **error);

void                _mailer_store_queue_write      (MailerStore           *self,
                                                    GTask                 *task,
                                                    MailerStoreWriteFunc   func);
void                _mailer_store_set_error        (GError               **error,
                                                    sqlite3               *db,
                                                    int                    rc,
                                                    const char            *what);
gboolean            _mailer_store_exec             (sqlite3               *db,
                                                    const char            *sql,
                                                    GError               **error);
/* A cached prepared statement, reset and unbound, for the writer thread's
 * connection (@sql must be a string literal: its address is the key). */
sqlite3_stmt       *_mailer_store_write_stmt       (MailerStore           *self,
                                                    const char            *sql,
                                                    GError               **error);
/* The same for the read connection, on the owner's thread. */
sqlite3_stmt       *_mailer_store_read_stmt        (MailerStore           *self,
                                                    const char            *sql,
                                                    GError               **error);
sqlite3            *_mailer_store_get_read_db      (MailerStore           *self);
/* Changes of the running write transaction (writer thread only); emitted
 * as MailerStore::changed on the owner's thread once it committed. */
MailerStoreChanges *_mailer_store_pending_changes  (MailerStore           *self);
void                _mailer_store_bind_text        (sqlite3_stmt          *stmt,
                                                    int                    index,
                                                    const char            *text);

/* The one MailerMessage per message id that is alive (weak references),
 * owner's thread only. */
GHashTable         *_mailer_store_get_live         (MailerStore           *self);
void                _mailer_store_drop_live        (MailerStore           *self);
void                _mailer_store_refresh_live     (MailerStore           *self,
                                                    MailerStoreChanges    *changes);

void                _mailer_store_add_row_change   (GArray                *rows,
                                                    gint64                 id,
                                                    gint64                 folder_id,
                                                    gint64                 date);
/* @text as the search index holds it (and queries must spell it). */
char               *_mailer_store_fold_for_search  (const char            *text);

/* The text pass (mailer-store-indexer.c). */
gint64              _mailer_store_next_thread_id   (MailerStore           *self,
                                                    GError               **error);

typedef struct _MailerStoreIndexer MailerStoreIndexer;

MailerStoreIndexer *_mailer_store_get_indexer      (MailerStore           *self);
MailerStoreIndexer *_mailer_store_indexer_new      (MailerStore           *store,
                                                    const char            *path);
void                _mailer_store_indexer_stop     (MailerStoreIndexer    *indexer);
void                _mailer_store_indexer_kick     (MailerStoreIndexer    *indexer);
void                _mailer_store_indexer_add_begin (MailerStoreIndexer   *indexer);
void                _mailer_store_indexer_add_end  (MailerStoreIndexer    *indexer,
                                                    gboolean               deferred);

/* For tests: make the writer's database refuse to grow beyond @max_pages
 * pages (the disk-full path), or refuse every write (read-only). */
void                _mailer_store_set_write_limits_for_testing (MailerStore *self,
                                                                guint        max_pages,
                                                                gboolean     read_only);

G_END_DECLS
