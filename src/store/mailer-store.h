/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-account.h"
#include "mailer-folder.h"
#include "mailer-message.h"
#include "mailer-mime.h"

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

/**
 * MailerStoreRow:
 * @id: the message's row id
 * @folder_id: its folder (for a removed row, the folder it left)
 * @date: its sort date
 *
 * Enough of a message for a list to find its position without a query.
 */
typedef struct
{
  gint64 id;
  gint64 folder_id;
  gint64 date;
} MailerStoreRow;

/**
 * MailerStoreChanges:
 * @inserted: (element-type MailerStoreRow): rows that appeared in a folder
 *   (new, or moved in)
 * @updated: (element-type MailerStoreRow): rows changed in place (flags,
 *   thread, body state)
 * @removed: (element-type MailerStoreRow): rows that left a folder
 *   (deleted, or moved out)
 * @folders: (element-type gint64): folders whose counts or settings changed
 *
 * What one committed write transaction changed.  A move shows as a removal
 * from the old folder and an insertion into the new one.
 */
typedef struct
{
  GArray *inserted;
  GArray *updated;
  GArray *removed;
  GArray *folders;
  /*< private >*/
  int ref_count;
} MailerStoreChanges;

#define MAILER_TYPE_STORE_CHANGES (mailer_store_changes_get_type ())

GType               mailer_store_changes_get_type (void) G_GNUC_CONST;
MailerStoreChanges *mailer_store_changes_ref      (MailerStoreChanges *changes);
void                mailer_store_changes_unref    (MailerStoreChanges *changes);
gboolean            mailer_store_changes_is_empty (MailerStoreChanges *changes);

/**
 * MailerStoreNewMessage:
 * @uid: the IMAP UID, or 0
 * @uidl: the POP3 UIDL, or %NULL; recorded for the account in the same
 *   transaction as the message, so it is never downloaded twice
 * @flags: the message's flags
 * @keywords: IMAP keywords, space-separated, or %NULL
 * @internal_date: the server's arrival time, used when the message has no
 *   usable Date header
 * @size: the message's size on the server (the raw size when 0)
 * @modseq: the CONDSTORE mod-sequence, or 0
 * @raw: the raw message exactly as received, or %NULL
 * @partial: @raw holds only the start of the message (headers and the
 *   first lines)
 * @summary: what the list and search show; parsed from @raw when %NULL
 * @defer_text: with @raw and no @summary: read only the header section
 *   now, and the text (preview, attachment mark, search index of the
 *   body) in a pass in the background once the store is quiet — the
 *   message and its UIDL are durable sooner; see
 *   mailer_store_index_text_async()
 * @upload: stored here first (copied from another account, sent, saved as a
 *   draft): journalled in the same transaction to be appended to the
 *   folder on the server with @flags; needs @raw
 * @fresh: the caller knows the folder has no message with this @uid (a UID
 *   above the highest stored): not looked up first
 */
typedef struct
{
  gint64              uid;
  char               *uidl;
  MailerMessageFlags  flags;
  char               *keywords;
  gint64              internal_date;
  gint64              size;
  gint64              modseq;
  GBytes             *raw;
  gboolean            partial;
  MailerMimeSummary  *summary;
  gboolean            defer_text;
  gboolean            upload;
  gboolean            fresh;
} MailerStoreNewMessage;

MailerStoreNewMessage *mailer_store_new_message_new  (void);
void                   mailer_store_new_message_free (MailerStoreNewMessage *message);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailerStoreNewMessage, mailer_store_new_message_free)

typedef enum
{
  MAILER_JOURNAL_OP_FLAGS,
  MAILER_JOURNAL_OP_DELETE,
  MAILER_JOURNAL_OP_MOVE,
  MAILER_JOURNAL_OP_APPEND,
} MailerJournalOp;

/**
 * MailerStoreJournalEntry:
 *
 * One local change to replay to the server, for one message.  @uid and
 * @uidl are what the server knew the message as when the change was made,
 * @modseq its CONDSTORE mod-sequence as known here then (0: unknown).  An
 * %MAILER_JOURNAL_OP_APPEND entry uploads the message to @folder_id with
 * @add_flags.
 */
typedef struct
{
  gint64              id;
  gint64              account_id;
  gint64              folder_id;
  gint64              message_id;
  gint64              uid;
  char               *uidl;
  MailerJournalOp     op;
  MailerMessageFlags  add_flags;
  MailerMessageFlags  remove_flags;
  gint64              dest_folder_id;
  gint64              created;
  gint64              modseq;
} MailerStoreJournalEntry;

void mailer_store_journal_entry_free (MailerStoreJournalEntry *entry);

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

/* Folders */
GPtrArray   *mailer_store_list_folders             (MailerStore          *self,
                                                    gint64                account_id,
                                                    GError              **error);
MailerFolder *mailer_store_get_folder              (MailerStore          *self,
                                                    gint64                folder_id,
                                                    GError              **error);
void         mailer_store_save_folder_async        (MailerStore          *self,
                                                    MailerFolder         *folder,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
gboolean     mailer_store_save_folder_finish       (MailerStore          *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);

/* Messages */
void         mailer_store_add_messages_async       (MailerStore          *self,
                                                    gint64                folder_id,
                                                    GPtrArray            *messages,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
GArray      *mailer_store_add_messages_finish      (MailerStore          *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
void         mailer_store_set_flags_async          (MailerStore          *self,
                                                    GArray               *ids,
                                                    MailerMessageFlags    add,
                                                    MailerMessageFlags    remove,
                                                    gboolean              journal,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
gboolean     mailer_store_set_flags_finish         (MailerStore          *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
void         mailer_store_delete_messages_async    (MailerStore          *self,
                                                    GArray               *ids,
                                                    gboolean              journal,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
gboolean     mailer_store_delete_messages_finish   (MailerStore          *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
void         mailer_store_move_messages_async      (MailerStore          *self,
                                                    GArray               *ids,
                                                    gint64                dest_folder_id,
                                                    gboolean              journal,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
gboolean     mailer_store_move_messages_finish     (MailerStore          *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
void         mailer_store_set_raw_async            (MailerStore          *self,
                                                    gint64                message_id,
                                                    GBytes               *raw,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
gboolean     mailer_store_set_raw_finish           (MailerStore          *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);

MailerMessage *mailer_store_get_message            (MailerStore          *self,
                                                    gint64                message_id,
                                                    GError              **error);
MailerMessage *mailer_store_load_message           (MailerStore          *self,
                                                    gint64                message_id,
                                                    GError              **error);
gboolean     mailer_store_refresh_message          (MailerStore          *self,
                                                    MailerMessage        *message,
                                                    GError              **error);
GBytes      *mailer_store_get_raw                  (MailerStore          *self,
                                                    gint64                message_id,
                                                    GError              **error);
GArray      *mailer_store_list_thread              (MailerStore          *self,
                                                    gint64                thread_id,
                                                    GError              **error);
char        *mailer_store_make_search_query        (const char           *text);

/**
 * MailerStorePopUidl:
 * @message_id: the local message, or 0 when it was deleted here
 * @downloaded: when it was downloaded (unix time)
 * @deleted_locally: the user deleted it here
 * @partial: only its start was downloaded (size limit)
 *
 * What the store knows of one POP3 message, by UIDL.
 */
typedef struct
{
  gint64 message_id;
  gint64 downloaded;
  gboolean deleted_locally;
  gboolean partial;
} MailerStorePopUidl;

gboolean     mailer_store_get_server_ids           (MailerStore          *self,
                                                    gint64                message_id,
                                                    gint64               *folder_id,
                                                    gint64               *uid,
                                                    char                **uidl,
                                                    GError              **error);
GHashTable  *mailer_store_list_pop_uidls           (MailerStore          *self,
                                                    gint64                account_id,
                                                    GError              **error);

/* IMAP */

/**
 * MailerStoreFolderState:
 * @uidvalidity: the mailbox's UIDVALIDITY, 0 when never synced
 * @uidnext: its UIDNEXT
 * @highestmodseq: its HIGHESTMODSEQ (CONDSTORE), 0 when unknown
 * @max_uid: the highest UID stored here (not saved: computed)
 */
typedef struct
{
  guint32 uidvalidity;
  guint32 uidnext;
  guint64 highestmodseq;
  guint32 max_uid;
} MailerStoreFolderState;

/**
 * MailerStoreFlagUpdate:
 * @uid: the message
 * @flags: its flags on the server, all of them
 * @keywords: its keywords (space-separated), or %NULL
 * @modseq: its MODSEQ, or 0
 */
typedef struct
{
  guint32 uid;
  MailerMessageFlags flags;
  char *keywords;
  guint64 modseq;
} MailerStoreFlagUpdate;

/**
 * MailerStoreUidModseq:
 * @uid: a message of the folder
 * @modseq: the MODSEQ the server gave it
 */
typedef struct
{
  guint32 uid;
  guint64 modseq;
} MailerStoreUidModseq;

GArray      *mailer_store_list_missing_bodies      (MailerStore            *self,
                                                    gint64                  folder_id,
                                                    gint64                  since,
                                                    guint                   limit,
                                                    GError                **error);
gboolean     mailer_store_get_folder_state         (MailerStore            *self,
                                                    gint64                  folder_id,
                                                    MailerStoreFolderState *state,
                                                    GError                **error);
void         mailer_store_index_text_async         (MailerStore            *self,
                                                    GCancellable           *cancellable,
                                                    GAsyncReadyCallback     callback,
                                                    gpointer                user_data);
gboolean     mailer_store_index_text_finish        (MailerStore            *self,
                                                    GAsyncResult           *result,
                                                    GError                **error);
GArray      *mailer_store_list_folder_uids         (MailerStore            *self,
                                                    gint64                  folder_id,
                                                    GError                **error);
gint64       mailer_store_count_folder_uids        (MailerStore            *self,
                                                    gint64                  folder_id,
                                                    GArray                 *uids,
                                                    GError                **error);
void         mailer_store_apply_server_state_async (MailerStore            *self,
                                                    gint64                  folder_id,
                                                    const MailerStoreFolderState *state,
                                                    gboolean                reset,
                                                    GArray                 *flag_updates,
                                                    GArray                 *vanished,
                                                    GCancellable           *cancellable,
                                                    GAsyncReadyCallback     callback,
                                                    gpointer                user_data);
gboolean     mailer_store_apply_server_state_finish (MailerStore           *self,
                                                    GAsyncResult           *result,
                                                    GError                **error);
void         mailer_store_set_message_uid_async    (MailerStore            *self,
                                                    gint64                  message_id,
                                                    guint32                 uid,
                                                    GCancellable           *cancellable,
                                                    GAsyncReadyCallback     callback,
                                                    gpointer                user_data);
gboolean     mailer_store_set_message_uid_finish   (MailerStore            *self,
                                                    GAsyncResult           *result,
                                                    GError                **error);
void         mailer_store_note_own_modseqs_async   (MailerStore            *self,
                                                    gint64                  folder_id,
                                                    GArray                 *changes,
                                                    GCancellable           *cancellable,
                                                    GAsyncReadyCallback     callback,
                                                    gpointer                user_data);
gboolean     mailer_store_note_own_modseqs_finish  (MailerStore            *self,
                                                    GAsyncResult           *result,
                                                    GError                **error);

/* The journal of local changes */
GPtrArray   *mailer_store_list_journal             (MailerStore          *self,
                                                    gint64                account_id,
                                                    GError              **error);
void         mailer_store_remove_journal_async     (MailerStore          *self,
                                                    GArray               *entry_ids,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
gboolean     mailer_store_remove_journal_finish    (MailerStore          *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);

G_END_DECLS
