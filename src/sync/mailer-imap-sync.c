/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerImapSync: keeps the store's copy of an IMAP account in step with
 * the server, both ways.
 *
 * A run: log in; list the folders (SPECIAL-USE gives their roles); replay
 * the journal of local changes in order, each entry removed only once the
 * server confirmed it; then, per folder (inbox first), resync: with QRESYNC
 * the SELECT itself returns only what changed since the last run (flags
 * and VANISHED UIDs), with CONDSTORE a CHANGEDSINCE fetch does, otherwise
 * all flags are compared; a changed UIDVALIDITY drops the folder's cache.
 * New messages are fetched newest first in windows of summaries, each
 * window committed while the next downloads, so the list fills as it goes.
 *
 * Push: after a run the connection stays in IDLE on the inbox; anything the
 * server reports ends IDLE, the inbox is resynced, and IDLE resumes.  A
 * local change "kicks" the loop so the journal is replayed at once.
 *
 * Two connections per account: the sync's (runs, then IDLE on the inbox)
 * and the reader's, for what the user is doing now: the body of a message
 * being opened (never queued behind a long sync, and never selecting
 * another folder under the sync's feet), and IDLE on the folder open in
 * the window when that is not the inbox (mailer_imap_sync_watch_folder();
 * a change there makes a run resync the inbox and that folder).
 */
#include "config.h"

#include <gmime/gmime.h>
#include <string.h>

#include "mailer-account-check.h"
#include "mailer-imap-client.h"
#include "mailer-imap-sync.h"

/* Summaries per UID FETCH: the first windows small, so that the list
 * fills soon, then as many as fetched so far, up to MAX_WINDOW: fewer
 * round trips and transactions. */
#define WINDOW 250
#define MAX_WINDOW 1000
/* Servers drop IDLE after 30 minutes (RFC 2177); renew before. */
#define IDLE_RENEW_SECONDS (25 * 60)
#define SUMMARY_ITEMS \
  "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (REFERENCES)])"
/* With CONDSTORE: each message's MODSEQ too, which a change made here
 * carries to the server (UNCHANGEDSINCE). */
#define SUMMARY_ITEMS_MODSEQ \
  "(UID FLAGS MODSEQ INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (REFERENCES)])"

struct _MailerImapSync
{
  GObject parent_instance;

  MailerStore *store;
  MailerAccount *account;
  char *password;
  MailerImapClient *client;
  char *selected;               /* the selected mailbox, or NULL */

  /* A second connection, so that what the user does now never waits for
   * (or gets in the way of) a sync: bodies of messages being opened, and
   * IDLE on the folder the user has open when that is not the inbox. */
  MailerImapClient *reader;
  char *reader_selected;
  gboolean reader_idling;
  gboolean reader_saw_change;
  guint reader_busy;            /* body fetches under way */
  gboolean reader_connecting;
  gboolean reader_selecting;
  GPtrArray *reader_waiters;    /* GTask: waiting for the connection being made */
  guint reader_renew_id;
  gint64 watched_id;            /* the open folder, or 0 */
  char *watched_path;

  gboolean running;
  gboolean push;
  gboolean idling;
  gboolean wanted;              /* something happened during a run: run again */
  guint renew_id;
  guint retry_id;
  guint retry_delay;
  GCancellable *push_cancellable;
};

G_DEFINE_FINAL_TYPE (MailerImapSync, mailer_imap_sync, G_TYPE_OBJECT)

enum {
  SIGNAL_NEW_MAIL,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void push_idle (MailerImapSync *self);

static void
mailer_imap_sync_dispose (GObject *object)
{
  MailerImapSync *self = (MailerImapSync *)object;

  mailer_imap_sync_stop_push (self);
  if (self->client != NULL)
    mailer_imap_client_disconnect (self->client);
  g_clear_object (&self->client);
  if (self->reader != NULL)
    mailer_imap_client_disconnect (self->reader);
  g_clear_object (&self->reader);

  G_OBJECT_CLASS (mailer_imap_sync_parent_class)->dispose (object);
}

static void
mailer_imap_sync_finalize (GObject *object)
{
  MailerImapSync *self = (MailerImapSync *)object;

  g_clear_object (&self->store);
  g_clear_object (&self->account);
  if (self->password != NULL)
    memset (self->password, 0, strlen (self->password));
  g_clear_pointer (&self->password, g_free);
  g_clear_pointer (&self->selected, g_free);
  g_clear_pointer (&self->reader_selected, g_free);
  g_clear_pointer (&self->watched_path, g_free);

  G_OBJECT_CLASS (mailer_imap_sync_parent_class)->finalize (object);
}

static void
mailer_imap_sync_class_init (MailerImapSyncClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mailer_imap_sync_dispose;
  object_class->finalize = mailer_imap_sync_finalize;

  /**
   * MailerImapSync::new-mail:
   * @n: how many messages arrived in the inbox
   * @newest_id: the store's id of one of them, the last stored
   *
   * Emitted at the end of a run (a check, or one that push started) that
   * stored mail new to an inbox this account had synced before: what a
   * notification tells.  Never for the first sync of an inbox.
   */
  signals[SIGNAL_NEW_MAIL] =
    g_signal_new ("new-mail", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_INT64);

  /* Headers are decoded with GMime's utilities, which crash before
   * GMime is initialised; once per process, whoever comes first. */
  mailer_mime_init ();
}

static void
mailer_imap_sync_init (MailerImapSync *self)
{
  self->retry_delay = 5;
}

MailerImapSync *
mailer_imap_sync_new (MailerStore   *store,
                      MailerAccount *account,
                      const char    *password)
{
  MailerImapSync *self;

  g_return_val_if_fail (MAILER_IS_STORE (store), NULL);
  g_return_val_if_fail (MAILER_IS_ACCOUNT (account), NULL);
  g_return_val_if_fail (password != NULL, NULL);

  self = g_object_new (MAILER_TYPE_IMAP_SYNC, NULL);
  self->store = g_object_ref (store);
  self->account = g_object_ref (account);
  self->password = g_strdup (password);
  return self;
}

/* Converting what the server says */

static MailerMessageFlags
flags_from_strv (GStrv   flags,
                 char  **keywords)
{
  static const struct { const char *name; MailerMessageFlags flag; } system[] = {
    { "\\Seen", MAILER_MESSAGE_FLAG_SEEN },
    { "\\Answered", MAILER_MESSAGE_FLAG_ANSWERED },
    { "\\Flagged", MAILER_MESSAGE_FLAG_FLAGGED },
    { "\\Deleted", MAILER_MESSAGE_FLAG_DELETED },
    { "\\Draft", MAILER_MESSAGE_FLAG_DRAFT },
  };
  g_autoptr(GString) words = g_string_new (NULL);
  MailerMessageFlags result = 0;

  for (guint i = 0; flags != NULL && flags[i] != NULL; i++)
    {
      gboolean known = FALSE;

      for (guint j = 0; j < G_N_ELEMENTS (system); j++)
        if (g_ascii_strcasecmp (flags[i], system[j].name) == 0)
          {
            result |= system[j].flag;
            known = TRUE;
          }
      if (!known && flags[i][0] != '\\')
        {
          if (words->len > 0)
            g_string_append_c (words, ' ');
          g_string_append (words, flags[i]);
        }
    }
  if (keywords != NULL)
    *keywords = g_string_free (g_steal_pointer (&words), FALSE);
  return result;
}

static char *
flags_to_list (MailerMessageFlags flags)
{
  GString *s = g_string_new ("(");

  if (flags & MAILER_MESSAGE_FLAG_SEEN)
    g_string_append (s, "\\Seen ");
  if (flags & MAILER_MESSAGE_FLAG_ANSWERED)
    g_string_append (s, "\\Answered ");
  if (flags & MAILER_MESSAGE_FLAG_FLAGGED)
    g_string_append (s, "\\Flagged ");
  if (flags & MAILER_MESSAGE_FLAG_DELETED)
    g_string_append (s, "\\Deleted ");
  if (flags & MAILER_MESSAGE_FLAG_DRAFT)
    g_string_append (s, "\\Draft ");
  if (s->str[s->len - 1] == ' ')
    g_string_truncate (s, s->len - 1);
  g_string_append_c (s, ')');
  return g_string_free (s, FALSE);
}

static char *
decode_header_text (const char *raw)
{
  g_autofree char *decoded = NULL;

  if (raw == NULL)
    return NULL;
  decoded = g_mime_utils_header_decode_text (NULL, raw);
  return g_utf8_make_valid (decoded ? decoded : raw, -1);
}

static char *
strip_angles (const char *id)
{
  g_autofree char *copy = NULL;
  gsize len;

  if (id == NULL)
    return NULL;
  copy = g_strstrip (g_strdup (id));
  len = strlen (copy);
  if (len >= 2 && copy[0] == '<' && copy[len - 1] == '>')
    return g_utf8_make_valid (copy + 1, len - 2);
  return len > 0 ? g_utf8_make_valid (copy, -1) : NULL;
}

/* The addresses of an ENVELOPE address list, "Name <a@b>, ..." */
static char *
format_addresses (const MailerImapValue *value,
                  char                 **first_name,
                  char                 **first_address)
{
  GPtrArray *list = mailer_imap_value_get_list (value);
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; list != NULL && i < list->len; i++)
    {
      GPtrArray *address = mailer_imap_value_get_list (list->pdata[i]);
      const char *mailbox, *host;
      g_autofree char *name = NULL;
      g_autofree char *spec = NULL;

      if (address == NULL || address->len < 4)
        continue;
      mailbox = mailer_imap_value_get_string (address->pdata[2], NULL);
      host = mailer_imap_value_get_string (address->pdata[3], NULL);
      if (mailbox == NULL || host == NULL)
        continue;   /* group start or end */
      name = decode_header_text (mailer_imap_value_get_string (address->pdata[0], NULL));
      spec = g_utf8_make_valid (g_strconcat (mailbox, "@", host, NULL), -1);

      if (first_address != NULL && *first_address == NULL)
        {
          *first_address = g_strdup (spec);
          *first_name = name && name[0] ? g_strdup (name) : NULL;
        }
      if (out->len > 0)
        g_string_append (out, ", ");
      if (name != NULL && name[0] != '\0')
        g_string_append_printf (out, "%s <%s>", name, spec);
      else
        g_string_append (out, spec);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
part_is_attachment (GPtrArray *part)
{
  const char *type = mailer_imap_value_get_string (part->pdata[0], NULL);
  gboolean text = type && g_ascii_strcasecmp (type, "TEXT") == 0;
  gboolean message = type && g_ascii_strcasecmp (type, "MESSAGE") == 0;
  guint dsp_index = text ? 9 : message ? 11 : 8;
  GPtrArray *params = part->len > 2 ? mailer_imap_value_get_list (part->pdata[2]) : NULL;

  if (part->len > dsp_index)
    {
      GPtrArray *dsp = mailer_imap_value_get_list (part->pdata[dsp_index]);

      if (dsp != NULL && dsp->len >= 1)
        {
          const char *kind = mailer_imap_value_get_string (dsp->pdata[0], NULL);

          if (kind != NULL && g_ascii_strcasecmp (kind, "attachment") == 0)
            return TRUE;
          if (kind != NULL && g_ascii_strcasecmp (kind, "inline") == 0)
            return FALSE;
        }
    }
  if (type != NULL && (g_ascii_strcasecmp (type, "APPLICATION") == 0 ||
                       g_ascii_strcasecmp (type, "AUDIO") == 0 ||
                       g_ascii_strcasecmp (type, "VIDEO") == 0))
    return TRUE;
  /* A named part that is not text is a file. */
  for (guint i = 0; !text && params != NULL && i + 1 < params->len; i += 2)
    if (g_ascii_strcasecmp (mailer_imap_value_get_string (params->pdata[i], NULL) ?: "", "NAME") == 0)
      return TRUE;
  return FALSE;
}

static gboolean
has_attachment (const MailerImapValue *body,
                guint                  depth)
{
  GPtrArray *list = mailer_imap_value_get_list (body);

  if (list == NULL || list->len == 0 || depth > 32)
    return FALSE;
  if (mailer_imap_value_get_list (list->pdata[0]) != NULL)
    {
      /* multipart: parts, then the subtype */
      for (guint i = 0; i < list->len && mailer_imap_value_get_list (list->pdata[i]) != NULL; i++)
        if (has_attachment (list->pdata[i], depth + 1))
          return TRUE;
      return FALSE;
    }
  return part_is_attachment (list);
}

static GStrv
parse_references (GBytes *header)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  g_autofree char *text = NULL;
  const char *p;
  GStrv result;

  if (header != NULL)
    {
      text = g_strndup (g_bytes_get_data (header, NULL), g_bytes_get_size (header));
      p = strchr (text, ':');
      while (p != NULL && (p = strchr (p, '<')) != NULL)
        {
          const char *end = strchr (p, '>');
          g_autofree char *id = NULL;

          if (end == NULL)
            break;
          id = g_utf8_make_valid (p + 1, end - p - 1);
          if (id[0] != '\0' && strpbrk (id, " \t\r\n<") == NULL)
            g_strv_builder_add (builder, id);
          p = end + 1;
        }
    }
  result = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return result;
}

static MailerStoreNewMessage *
new_message_from_fetch (MailerImapFetch *fetch)
{
  MailerStoreNewMessage *message = mailer_store_new_message_new ();
  MailerMimeSummary *summary = g_new0 (MailerMimeSummary, 1);
  GPtrArray *envelope = mailer_imap_value_get_list (fetch->envelope);

  message->uid = fetch->uid;
  message->flags = flags_from_strv (fetch->flags, &message->keywords);
  message->internal_date = fetch->internal_date;
  message->size = MAX (fetch->size, 0);
  message->modseq = MIN (fetch->modseq, (guint64) G_MAXINT64);
  /* Into the search index by the store's text pass, once the sync is done
   * writing: the list fills sooner. */
  message->defer_text = TRUE;
  /* Only UIDs the store does not have are fetched (above its highest, or
   * missing from it). */
  message->fresh = TRUE;

  summary->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_mime_attachment_free);
  summary->references = parse_references (fetch->sections
                                          ? g_hash_table_lookup (fetch->sections, "HEADER.FIELDS (REFERENCES)")
                                          : NULL);
  if (envelope != NULL && envelope->len >= 10)
    {
      const char *date = mailer_imap_value_get_string (envelope->pdata[0], NULL);
      g_autofree char *subject = decode_header_text (mailer_imap_value_get_string (envelope->pdata[1], NULL));

      if (date != NULL)
        {
          g_autoptr(GDateTime) dt = g_mime_utils_header_decode_date (date);

          summary->date = dt ? g_date_time_to_unix (dt) : 0;
        }
      summary->subject = subject ? g_strdup (g_strstrip (subject)) : g_strdup ("");
      g_free (format_addresses (envelope->pdata[2], &summary->from_name, &summary->from_address));
      summary->to = format_addresses (envelope->pdata[5], NULL, NULL);
      summary->cc = format_addresses (envelope->pdata[6], NULL, NULL);
      summary->in_reply_to = strip_angles (mailer_imap_value_get_string (envelope->pdata[8], NULL));
      summary->message_id = strip_angles (mailer_imap_value_get_string (envelope->pdata[9], NULL));
    }
  else
    {
      summary->subject = g_strdup ("");
      summary->to = g_strdup ("");
      summary->cc = g_strdup ("");
    }
  /* Only the first In-Reply-To id counts. */
  if (summary->in_reply_to != NULL && strchr (summary->in_reply_to, '>') != NULL)
    {
      char *cut = strchr (summary->in_reply_to, '>');

      *cut = '\0';
    }
  summary->has_attachment = has_attachment (fetch->bodystructure, 0);
  summary->preview = g_strdup ("");
  summary->body_text = g_strdup ("");
  message->summary = summary;
  return message;
}

static gboolean
uid_set_from_value (const MailerImapValue *value,
                    GArray                *uids)
{
  guint64 number;
  const char *atom;
  g_autoptr(GArray) ranges = NULL;

  if (mailer_imap_value_get_number (value, &number))
    {
      guint32 uid = number;

      if (number == 0 || number > G_MAXUINT32)
        return FALSE;
      g_array_append_val (uids, uid);
      return TRUE;
    }
  atom = mailer_imap_value_get_atom (value);
  if (atom == NULL)
    return FALSE;
  ranges = mailer_imap_parse_sequence_set (atom, G_MAXUINT32, NULL);
  if (ranges == NULL)
    return FALSE;
  for (guint i = 0; i < ranges->len; i += 2)
    {
      guint32 first = g_array_index (ranges, guint32, i);
      guint32 last = g_array_index (ranges, guint32, i + 1);

      /* A range up to "*" (or absurdly long) is not a list of UIDs. */
      if (last - first > 10000000)
        return FALSE;
      for (guint64 uid = first; uid <= last; uid++)
        {
          guint32 u = uid;

          g_array_append_val (uids, u);
        }
    }
  return TRUE;
}

/* Run state */

typedef struct
{
  gint64 id;
  char *path;
  MailerFolderRole role;
  gboolean selectable;
} FolderInfo;

static void
folder_info_free (FolderInfo *info)
{
  g_free (info->path);
  g_free (info);
}

typedef struct
{
  FolderInfo *folder;
  MailerStoreFolderState old;
  MailerStoreFolderState now;
  gboolean reset;
  gboolean nomodseq;
  gboolean searched_above;   /* the UID SEARCH was of UIDs above ours only */
  gboolean search_all;       /* search all UIDs: some below ours are missing here */
  guint32 search_next;       /* without ESEARCH, in a large folder: the next */
  guint32 search_last;       /*   window of UIDs to search, and the last UID */
  guint32 exists;
  GArray *updates;       /* MailerStoreFlagUpdate */
  GArray *vanished;      /* guint32 */
  GArray *server_uids;   /* guint32: UID SEARCH results */
  GArray *new_uids;      /* guint32, newest first */
  guint next_new;
  gboolean fetching;
  guint committing;
  GPtrArray *window;     /* MailerStoreNewMessage being fetched */
  GArray *prefetch;      /* gint64 pairs (id, uid) of bodies to fetch ahead */
  guint prefetch_next;   /* pairs done */
  guint storing;         /* bodies being written */
  GHashTable *bodies;    /* uid -> GBytes of the window being fetched */
  GError *error;
} FolderSync;

static void
folder_sync_free (FolderSync *fs)
{
  if (fs->updates != NULL)
    {
      for (guint i = 0; i < fs->updates->len; i++)
        g_free (g_array_index (fs->updates, MailerStoreFlagUpdate, i).keywords);
      g_array_unref (fs->updates);
    }
  g_clear_pointer (&fs->vanished, g_array_unref);
  g_clear_pointer (&fs->server_uids, g_array_unref);
  g_clear_pointer (&fs->new_uids, g_array_unref);
  g_clear_pointer (&fs->window, g_ptr_array_unref);
  g_clear_pointer (&fs->prefetch, g_array_unref);
  g_clear_pointer (&fs->bodies, g_hash_table_unref);
  g_clear_error (&fs->error);
  g_free (fs);
}

typedef struct
{
  MailerImapSyncResult result;
  gboolean inbox_only;
  gboolean listed;           /* LIST ran in this run */
  gboolean replayed;         /* the journal was replayed in this run */
  GHashTable *synced;        /* ids of the folders resynced in this run */
  GPtrArray *folders;        /* FolderInfo */
  GHashTable *by_id;         /* id -> FolderInfo */
  guint folder_index;
  guint saving;
  GPtrArray *journal;        /* MailerStoreJournalEntry */
  guint journal_index;
  guint journal_group;       /* entries in the group being replayed */
  GArray *journal_done;      /* gint64 */
  char *copied_set;          /* the UIDs of a COPY waiting for its answer */
  guint inbox_new;           /* messages new to an inbox synced before */
  gint64 inbox_newest;
  GArray *group_uids;        /* guint32: the UID of each entry of that group */
  GHashTable *gone_folders;  /* ids of folders the server refused to select */
  GHashTable *later_folders; /* ids of folders the server could not open now */
  GHashTable *moved;         /* message id -> MovedUid, from COPYUID in this run */
  GHashTable *superseded;    /* entry ids replayed through a later entry */
  GArray *orphans;           /* gint64: moved messages the server gave no UID for */
  GArray *own_modseqs;       /* MailerStoreUidModseq: what our STOREs made */
  GArray *modified;          /* guint32: UIDs a conditional STORE left alone */
  GArray *server_state;      /* MailerStoreFlagUpdate: theirs, read back */
  gboolean resolving;        /* the FETCH of server_state is running */
  gboolean second_store;     /* the +FLAGS after a conditional -FLAGS is sent */
  FolderSync *fs;
} RunData;

/* Where the server put a message the replay moved. */
typedef struct
{
  gint64 folder_id;
  guint32 uid;
} MovedUid;

static void
clear_flag_update (gpointer data)
{
  g_free (((MailerStoreFlagUpdate *) data)->keywords);
}

static void
run_data_free (RunData *data)
{
  g_free (data->copied_set);
  g_clear_pointer (&data->folders, g_ptr_array_unref);
  g_clear_pointer (&data->by_id, g_hash_table_unref);
  g_clear_pointer (&data->journal, g_ptr_array_unref);
  g_clear_pointer (&data->journal_done, g_array_unref);
  g_clear_pointer (&data->group_uids, g_array_unref);
  g_clear_pointer (&data->gone_folders, g_hash_table_unref);
  g_clear_pointer (&data->later_folders, g_hash_table_unref);
  g_clear_pointer (&data->moved, g_hash_table_unref);
  g_clear_pointer (&data->superseded, g_hash_table_unref);
  g_clear_pointer (&data->orphans, g_array_unref);
  g_clear_pointer (&data->own_modseqs, g_array_unref);
  g_clear_pointer (&data->modified, g_array_unref);
  g_clear_pointer (&data->server_state, g_array_unref);
  g_clear_pointer (&data->fs, folder_sync_free);
  g_clear_pointer (&data->synced, g_hash_table_unref);
  g_free (data);
}

static void
run_fail (GTask  *task,
          GError *error)
{
  MailerImapSync *self = g_task_get_source_object (task);

  self->running = FALSE;
  mailer_account_set_connection_state (self->account, MAILER_CONNECTION_STATE_ERROR);
  mailer_account_set_status_message (self->account, error->message);
  /* Tried again only with another password, or once the user decided
   * about the certificate. */
  if (g_error_matches (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_AUTH_FAILED))
    mailer_account_set_needs_password (self->account, TRUE);
  if (mailer_setup_error_needs_trust (error))
    mailer_account_set_needs_trust (self->account, TRUE);
  mailer_account_set_progress (self->account, -1);
  /* The connection's state is unknown now: start afresh next time. */
  if (self->client != NULL)
    mailer_imap_client_disconnect (self->client);
  g_clear_object (&self->client);
  g_clear_pointer (&self->selected, g_free);
  g_task_return_error (task, error);
}

static void sync_next_folder (GTask *task);
static void list_folders (GTask *task);
static void replay_next (GTask *task);

/* Running commands */

/* Whether MODSEQs can be used: CONDSTORE advertised (using it enables
 * it, RFC 7162 3.1), or enabled through QRESYNC. */
static gboolean
condstore_on (MailerImapSync *self)
{
  return mailer_imap_client_has_capability (self->client, "CONDSTORE") ||
         mailer_imap_client_is_enabled (self->client, "CONDSTORE") ||
         mailer_imap_client_is_enabled (self->client, "QRESYNC");
}

static void
run_command (MailerImapSync         *self,
             MailerImapCommand      *command,
             MailerImapUntaggedFunc  func,
             GTask                  *task,
             GAsyncReadyCallback     callback)
{
  mailer_imap_client_run_async (self->client, command, func, task,
                                g_task_get_cancellable (task), callback, g_object_ref (task));
}

/* SELECT, with what the server tells while selecting */

static gboolean
select_untagged (MailerImapClient         *client,
                 const MailerImapResponse *response,
                 gpointer                  user_data)
{
  GTask *task = user_data;
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;
  guint64 number;

  if (fs == NULL)
    return FALSE;

  if (response->status == MAILER_IMAP_STATUS_OK && response->code != NULL && response->code_args->len > 0 &&
      mailer_imap_value_get_number (response->code_args->pdata[0], &number))
    {
      if (g_str_equal (response->code, "UIDVALIDITY"))
        fs->now.uidvalidity = number;
      else if (g_str_equal (response->code, "UIDNEXT"))
        fs->now.uidnext = number;
      else if (g_str_equal (response->code, "HIGHESTMODSEQ"))
        fs->now.highestmodseq = number;
      return TRUE;
    }
  if (response->status == MAILER_IMAP_STATUS_OK && g_strcmp0 (response->code, "NOMODSEQ") == 0)
    {
      fs->nomodseq = TRUE;
      return TRUE;
    }
  if (g_strcmp0 (response->name, "EXISTS") == 0)
    {
      fs->exists = response->number;
      return TRUE;
    }
  if (g_strcmp0 (response->name, "VANISHED") == 0 && response->args->len >= 1)
    {
      const MailerImapValue *set = response->args->pdata[response->args->len - 1];

      uid_set_from_value (set, fs->vanished);
      return TRUE;
    }
  if (g_strcmp0 (response->name, "FETCH") == 0)
    {
      g_autoptr(MailerImapFetch) fetch = mailer_imap_parse_fetch (response, NULL);

      if (fetch != NULL && fetch->uid > 0 && fetch->has_flags)
        {
          MailerStoreFlagUpdate update = { fetch->uid, 0, NULL, fetch->modseq };

          update.flags = flags_from_strv (fetch->flags, &update.keywords);
          g_array_append_val (fs->updates, update);
        }
      return TRUE;
    }
  if (g_strcmp0 (response->name, "ESEARCH") == 0)
    {
      /* "(TAG ...) UID ALL set": the UIDs of a RETURN (ALL) search. */
      for (guint i = 0; i + 1 < response->args->len; i++)
        if (mailer_imap_atom_equal (response->args->pdata[i], "ALL") &&
            !uid_set_from_value (response->args->pdata[i + 1], fs->server_uids) && fs->error == NULL)
          fs->error = g_error_new_literal (MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_PARSE,
                                           "The server sent search results that cannot be read");
      return TRUE;
    }
  if (g_strcmp0 (response->name, "SEARCH") == 0)
    {
      for (guint i = 0; i < response->args->len; i++)
        {
          guint64 uid;

          if (mailer_imap_value_get_number (response->args->pdata[i], &uid) && uid > 0 && uid <= G_MAXUINT32)
            {
              guint32 u = uid;

              g_array_append_val (fs->server_uids, u);
            }
        }
      return TRUE;
    }
  /* EXPUNGE by sequence number during our commands: the resync after
   * this run sees the result; nothing to do with a number here. */
  return g_strcmp0 (response->name, "EXPUNGE") == 0 || g_strcmp0 (response->name, "FLAGS") == 0 ||
         g_strcmp0 (response->name, "RECENT") == 0 ||
         (response->status == MAILER_IMAP_STATUS_OK && response->code != NULL);
}

/* New messages, newest first, in windows */

static int
compare_uid_asc (gconstpointer a,
                 gconstpointer b)
{
  guint32 ua = *(const guint32 *) a, ub = *(const guint32 *) b;

  return ua < ub ? -1 : ua > ub;
}

static void fetch_next_window (GTask *task);

/* Bodies of recent mail, fetched ahead so that it reads offline (and
 * shows a preview): the account's prefetch window, newest first, a bounded
 * number per run. */

#define PREFETCH_WINDOW 20
#define PREFETCH_PER_RUN 400

static void prefetch_next (GTask *task);
static void folder_finished (GTask *task);

static void
body_stored_ahead_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RunData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!mailer_store_set_raw_finish (MAILER_STORE (source), result, &error))
    g_debug ("A body fetched ahead was not stored: %s", error->message);
  if (--data->fs->storing == 0)
    prefetch_next (task);
}

static gboolean
prefetch_untagged (MailerImapClient         *client,
                   const MailerImapResponse *response,
                   gpointer                  user_data)
{
  GTask *task = user_data;
  RunData *data = g_task_get_task_data (task);
  g_autoptr(MailerImapFetch) fetch = NULL;
  GBytes *body;

  if (data->fs == NULL || g_strcmp0 (response->name, "FETCH") != 0)
    return select_untagged (client, response, user_data);
  fetch = mailer_imap_parse_fetch (response, NULL);
  if (fetch == NULL || fetch->uid == 0 || fetch->sections == NULL ||
      (body = g_hash_table_lookup (fetch->sections, "")) == NULL)
    return select_untagged (client, response, user_data);
  g_hash_table_replace (data->fs->bodies, GUINT_TO_POINTER (fetch->uid), g_bytes_ref (body));
  return TRUE;
}

static void
prefetched_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;
  g_autoptr(MailerImapResponse) response = NULL;
  g_autoptr(GError) error = NULL;
  guint first = fs->prefetch_next;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      /* Fetching ahead is a convenience: the run goes on without it.  A
       * lost connection shows in the next step. */
      g_debug ("Fetching bodies ahead stopped: %s", error->message);
      folder_finished (task);
      return;
    }

  fs->prefetch_next = MIN (first + 2 * PREFETCH_WINDOW, fs->prefetch->len);
  for (guint i = first; i < fs->prefetch_next; i += 2)
    {
      gint64 id = g_array_index (fs->prefetch, gint64, i);
      guint32 uid = g_array_index (fs->prefetch, gint64, i + 1);
      GBytes *body = g_hash_table_lookup (fs->bodies, GUINT_TO_POINTER (uid));

      if (body == NULL)
        continue;
      fs->storing++;
      mailer_store_set_raw_async (self->store, id, body, g_task_get_cancellable (task),
                                  body_stored_ahead_cb, g_object_ref (task));
    }
  g_hash_table_remove_all (fs->bodies);
  if (fs->storing == 0)
    prefetch_next (task);
}

static void
prefetch_next (GTask *task)
{
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;
  g_autoptr(GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autofree char *set = NULL;
  MailerImapCommand *command;

  if (fs->prefetch_next >= fs->prefetch->len)
    {
      folder_finished (task);
      return;
    }
  for (guint i = fs->prefetch_next; i < fs->prefetch->len && i < fs->prefetch_next + 2 * PREFETCH_WINDOW; i += 2)
    {
      guint32 uid = g_array_index (fs->prefetch, gint64, i + 1);

      g_array_append_val (uids, uid);
    }
  g_array_sort (uids, compare_uid_asc);
  set = mailer_imap_format_sequence_set ((const guint32 *) uids->data, uids->len);

  command = mailer_imap_command_new ("UID FETCH");
  mailer_imap_command_add_raw (command, set, NULL);
  mailer_imap_command_add_raw (command, "(UID BODY.PEEK[])", NULL);
  run_command (self, command, prefetch_untagged, task, prefetched_cb);
}

static void
folder_done (GTask *task)
{
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;
  guint days = mailer_account_get_prefetch_days (self->account);
  gint64 since;

  if (days == 0 || fs->prefetch != NULL)
    {
      folder_finished (task);
      return;
    }
  since = days >= MAILER_ACCOUNT_PREFETCH_ALL ? 0 : g_get_real_time () / G_USEC_PER_SEC - (gint64) days * 24 * 3600;
  fs->prefetch = mailer_store_list_missing_bodies (self->store, fs->folder->id, since, PREFETCH_PER_RUN, NULL);
  if (fs->prefetch == NULL)
    fs->prefetch = g_array_new (FALSE, FALSE, sizeof (gint64));
  fs->bodies = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_bytes_unref);
  fs->prefetch_next = 0;
  prefetch_next (task);
}

static void
folder_finished (GTask *task)
{
  RunData *data = g_task_get_task_data (task);

  g_clear_pointer (&data->fs, folder_sync_free);
  data->folder_index++;
  data->result.n_folders++;
  sync_next_folder (task);
}

static void
maybe_folder_done (GTask *task)
{
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;

  if (fs->fetching || fs->committing > 0)
    return;
  if (fs->error != NULL)
    {
      run_fail (task, g_steal_pointer (&fs->error));
      return;
    }
  if (fs->next_new < fs->new_uids->len)
    {
      fetch_next_window (task);
      return;
    }
  folder_done (task);
}

static void
window_committed_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;
  g_autoptr(GArray) ids = NULL;
  GError *error = NULL;

  ids = mailer_store_add_messages_finish (MAILER_STORE (source), result, &error);
  fs->committing--;
  if (ids == NULL)
    {
      if (fs->error == NULL)
        fs->error = error;
      else
        g_error_free (error);
    }
  else
    {
      data->result.n_new += ids->len;
      /* New to an inbox synced before: news for the user. */
      if (fs->folder->role == MAILER_FOLDER_ROLE_INBOX && fs->old.max_uid > 0 && !fs->reset)
        for (guint i = 0; i < ids->len; i++)
          {
            gint64 id = g_array_index (ids, gint64, i);

            data->inbox_new += id > 0;
            data->inbox_newest = MAX (data->inbox_newest, id);
          }
      if (fs->new_uids->len > 0)
        mailer_account_set_progress (self->account, (double) fs->next_new / fs->new_uids->len);
    }
  if (fs->error == NULL && !fs->fetching && fs->next_new < fs->new_uids->len)
    fetch_next_window (task);
  maybe_folder_done (task);
}

static gboolean
window_untagged (MailerImapClient         *client,
                 const MailerImapResponse *response,
                 gpointer                  user_data)
{
  GTask *task = user_data;
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;
  g_autoptr(MailerImapFetch) fetch = NULL;

  if (fs == NULL || g_strcmp0 (response->name, "FETCH") != 0)
    return select_untagged (client, response, user_data);
  fetch = mailer_imap_parse_fetch (response, NULL);
  /* A FETCH without the summary is an unsolicited flag change. */
  if (fetch == NULL || fetch->uid == 0 || fetch->envelope == NULL)
    return select_untagged (client, response, user_data);
  g_ptr_array_add (fs->window, new_message_from_fetch (fetch));
  return TRUE;
}

static void
window_fetched_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;
  g_autoptr(MailerImapResponse) response = NULL;
  GError *error = NULL;

  fs->fetching = FALSE;
  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      if (fs->error == NULL)
        fs->error = error;
      else
        g_error_free (error);
      maybe_folder_done (task);
      return;
    }

  if (fs->window->len > 0)
    {
      g_autoptr(GPtrArray) window = g_steal_pointer (&fs->window);

      fs->committing++;
      mailer_store_add_messages_async (self->store, fs->folder->id, window, g_task_get_cancellable (task),
                                       window_committed_cb, g_object_ref (task));
    }
  g_clear_pointer (&fs->window, g_ptr_array_unref);
  if (fs->committing <= 1)
    fetch_next_window (task);
  maybe_folder_done (task);
}

static void
fetch_next_window (GTask *task)
{
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;
  g_autoptr(GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autofree char *set = NULL;
  MailerImapCommand *command;
  guint window = CLAMP (fs->next_new, WINDOW, MAX_WINDOW);

  if (fs->fetching || fs->error != NULL || fs->next_new >= fs->new_uids->len)
    return;

  while (fs->next_new < fs->new_uids->len && uids->len < window)
    g_array_append_val (uids, g_array_index (fs->new_uids, guint32, fs->next_new++));
  /* Ascending, for the set syntax. */
  g_array_sort (uids, compare_uid_asc);
  set = mailer_imap_format_sequence_set ((const guint32 *) uids->data, uids->len);

  fs->window = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  fs->fetching = TRUE;
  command = mailer_imap_command_new ("UID FETCH");
  mailer_imap_command_add_raw (command, set, NULL);
  mailer_imap_command_add_raw (command,
                               fs->nomodseq || !condstore_on (self) ? SUMMARY_ITEMS : SUMMARY_ITEMS_MODSEQ,
                               NULL);
  run_command (self, command, window_untagged, task, window_fetched_cb);
}

/* Resync steps after SELECT */

static int
compare_uid_desc (gconstpointer a,
                  gconstpointer b)
{
  guint32 ua = *(const guint32 *) a, ub = *(const guint32 *) b;

  return ua > ub ? -1 : ua < ub;
}

static void
state_applied_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;
  GError *error = NULL;

  if (!mailer_store_apply_server_state_finish (MAILER_STORE (source), result, &error))
    {
      run_fail (task, error);
      return;
    }
  g_array_sort (fs->new_uids, compare_uid_desc);
  fs->next_new = 0;
  maybe_folder_done (task);
}

static void
apply_state (GTask *task)
{
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;
  g_autoptr(GArray) updates = g_steal_pointer (&fs->updates);

  data->result.n_flag_changes += updates->len;
  data->result.n_vanished += fs->vanished->len;
  /* The store owns the keywords now. */
  fs->updates = g_array_new (FALSE, FALSE, sizeof (MailerStoreFlagUpdate));
  mailer_store_apply_server_state_async (self->store, fs->folder->id, &fs->now, fs->reset,
                                         updates, fs->vanished, g_task_get_cancellable (task),
                                         state_applied_cb, g_object_ref (task));
}

/* "UID SEARCH UID 1:*": which UIDs exist; new ones are those not here,
 * missing ones were expunged.  With QRESYNC only UIDs above ours are
 * searched, and the count the server gave tells whether any below are
 * missing here: a fetch of summaries (newest first) cut short, or a
 * message moved here that got a UID above new mail not fetched yet. */
static void search_uids (GTask *task);
static void replay_copied_cb (GObject      *source,
                              GAsyncResult *result,
                              gpointer      user_data);
static void replay_refused_or_failed (GTask  *task,
                                      GError *error);
static void search_window (GTask *task);

static void
search_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;
  g_autoptr(MailerImapResponse) response = NULL;
  GError *error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL || fs->error != NULL)
    {
      run_fail (task, response == NULL ? error : g_steal_pointer (&fs->error));
      return;
    }
  if (fs->search_next != 0)
    {
      search_window (task);
      return;
    }

  if (fs->searched_above && !fs->reset)
    {
      MailerImapSync *self = g_task_get_source_object (task);
      gint64 stored, gone;

      /* Every UID above our highest is new.  Counting, not listing, what
       * is stored keeps a resync's cost independent of the folder's size. */
      g_array_set_size (fs->new_uids, 0);
      for (guint i = 0; i < fs->server_uids->len; i++)
        {
          guint32 uid = g_array_index (fs->server_uids, guint32, i);

          if (uid > fs->old.max_uid)
            g_array_append_val (fs->new_uids, uid);
        }
      stored = mailer_store_count_folder_uids (self->store, fs->folder->id, NULL, &error);
      gone = stored < 0 ? -1 : mailer_store_count_folder_uids (self->store, fs->folder->id,
                                                               fs->vanished, &error);
      if (gone < 0)
        {
          run_fail (task, error);
          return;
        }
      if (stored - gone + fs->new_uids->len != fs->exists)
        {
          fs->search_all = TRUE;
          g_array_set_size (fs->server_uids, 0);
          g_array_set_size (fs->new_uids, 0);
          search_uids (task);
          return;
        }
      apply_state (task);
      return;
    }

  {
    MailerImapSync *self = g_task_get_source_object (task);
    g_autoptr(GHashTable) on_server = g_hash_table_new (NULL, NULL);
    g_autoptr(GHashTable) here = g_hash_table_new (NULL, NULL);
    g_autoptr(GArray) local = NULL;

    if (!fs->reset)
      {
        local = mailer_store_list_folder_uids (self->store, fs->folder->id, &error);
        if (local == NULL)
          {
            run_fail (task, error);
            return;
          }
        for (guint i = 0; i < local->len; i++)
          g_hash_table_add (here, GUINT_TO_POINTER (g_array_index (local, guint32, i)));
      }

    g_array_set_size (fs->new_uids, 0);
    for (guint i = 0; i < fs->server_uids->len; i++)
      {
        guint32 uid = g_array_index (fs->server_uids, guint32, i);

        g_hash_table_add (on_server, GUINT_TO_POINTER (uid));
        if (!g_hash_table_contains (here, GUINT_TO_POINTER (uid)))
          g_array_append_val (fs->new_uids, uid);
      }

    if (!fs->reset && !fs->searched_above)
      {
        /* Expunges show as UIDs we have that the server no longer lists. */
        g_array_set_size (fs->vanished, 0);
        for (guint i = 0; i < local->len; i++)
          {
            guint32 uid = g_array_index (local, guint32, i);

            if (!g_hash_table_contains (on_server, GUINT_TO_POINTER (uid)))
              g_array_append_val (fs->vanished, uid);
          }
      }
    else if (!fs->reset && !fs->search_all)
      {
        g_autoptr(GHashTable) gone = g_hash_table_new (NULL, NULL);
        guint kept = 0;

        for (guint i = 0; i < fs->vanished->len; i++)
          g_hash_table_add (gone, GUINT_TO_POINTER (g_array_index (fs->vanished, guint32, i)));
        for (guint i = 0; i < local->len; i++)
          kept += !g_hash_table_contains (gone, GUINT_TO_POINTER (g_array_index (local, guint32, i)));
        if (kept + fs->new_uids->len != fs->exists)
          {
            fs->search_all = TRUE;
            g_array_set_size (fs->server_uids, 0);
            g_array_set_size (fs->new_uids, 0);
            search_uids (task);
            return;
          }
      }
  }
  apply_state (task);
}

/* Without ESEARCH, a SEARCH result is one line listing every UID, which
 * passes the client's line limit (64 KiB) from some 5,000 ten-digit UIDs
 * on: in a folder that large the UIDs are searched in windows of this many
 * UIDs, each answer a line of at most 55 KB. */
#define SEARCH_WINDOW 5000

static void
search_window (GTask *task)
{
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;
  MailerImapCommand *command = mailer_imap_command_new ("UID SEARCH");
  g_autofree char *range = NULL;
  guint32 from = fs->search_next;

  if (from > fs->search_last || fs->search_last - from < SEARCH_WINDOW)
    {
      /* The last window runs to "*", for what arrived since the SELECT. */
      range = g_strdup_printf ("%u:*", from);
      fs->search_next = 0;
    }
  else
    {
      range = g_strdup_printf ("%u:%u", from, from + SEARCH_WINDOW - 1);
      fs->search_next = from + SEARCH_WINDOW;
    }
  mailer_imap_command_add_atom (command, "UID", NULL);
  mailer_imap_command_add_raw (command, range, NULL);
  run_command (self, command, select_untagged, task, search_done_cb);
}

static void
search_uids (GTask *task)
{
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;
  MailerImapCommand *command;
  g_autofree char *range = NULL;
  guint32 from;

  /* With QRESYNC, only UIDs above ours are of interest; otherwise all,
   * to find expunges. */
  fs->searched_above = mailer_imap_client_is_enabled (self->client, "QRESYNC") && !fs->reset &&
                       fs->old.max_uid > 0 && !fs->search_all;
  from = fs->searched_above ? fs->old.max_uid + 1 : 1;

  if (!mailer_imap_client_has_capability (self->client, "ESEARCH") && fs->exists > SEARCH_WINDOW)
    {
      fs->search_next = from;
      fs->search_last = fs->now.uidnext > 0 ? fs->now.uidnext - 1 : from;
      search_window (task);
      return;
    }

  range = g_strdup_printf ("%u:*", from);
  command = mailer_imap_command_new ("UID SEARCH");
  /* RFC 4731: the UIDs as a set ("1:20000"), where a plain SEARCH lists
   * each. */
  if (mailer_imap_client_has_capability (self->client, "ESEARCH"))
    mailer_imap_command_add_raw (command, "RETURN (ALL)", NULL);
  mailer_imap_command_add_atom (command, "UID", NULL);
  mailer_imap_command_add_raw (command, range, NULL);
  run_command (self, command, select_untagged, task, search_done_cb);
}

static void
flags_fetched_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(MailerImapResponse) response = NULL;
  GError *error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      run_fail (task, error);
      return;
    }
  search_uids (task);
}

static void
selected_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = data->fs;
  g_autoptr(MailerImapResponse) response = NULL;
  gboolean qresync = mailer_imap_client_is_enabled (self->client, "QRESYNC");
  gboolean condstore = qresync || mailer_imap_client_is_enabled (self->client, "CONDSTORE");
  GError *error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      /* A failed SELECT leaves no mailbox selected (RFC 3501 6.3.1). */
      g_clear_pointer (&self->selected, g_free);
      if (g_error_matches (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_NO) ||
          g_error_matches (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_TRY_LATER))
        {
          /* Listed, but not to be opened now (no rights, locked, or
           * deleted since the LIST): the other folders are synced still. */
          g_debug ("Folder %s was not synced: %s", fs->folder->path, error->message);
          g_clear_error (&error);
          g_clear_pointer (&data->fs, folder_sync_free);
          data->folder_index++;
          sync_next_folder (task);
          return;
        }
      run_fail (task, error);
      return;
    }
  g_free (self->selected);
  self->selected = g_strdup (fs->folder->path);

  if (fs->old.uidvalidity != 0 && fs->now.uidvalidity != fs->old.uidvalidity)
    {
      g_message ("Folder %s was recreated on the server (UIDVALIDITY %u, was %u): "
                 "its cache and pending changes are dropped",
                 fs->folder->path, fs->now.uidvalidity, fs->old.uidvalidity);
      data->result.n_reset++;
      fs->reset = TRUE;
      g_array_set_size (fs->vanished, 0);
    }

  /* QRESYNC told us everything in the SELECT.  Otherwise fetch flags:
   * since the last mod-sequence with CONDSTORE, or all of them. */
  if (fs->reset || fs->old.max_uid == 0 || (qresync && fs->old.highestmodseq > 0 && !fs->nomodseq))
    {
      search_uids (task);
      return;
    }

  {
    MailerImapCommand *command = mailer_imap_command_new ("UID FETCH");
    g_autofree char *range = g_strdup_printf ("1:%u", fs->old.max_uid);

    mailer_imap_command_add_raw (command, range, NULL);
    if (condstore && fs->old.highestmodseq > 0 && !fs->nomodseq)
      {
        g_autofree char *since = g_strdup_printf ("(UID FLAGS) (CHANGEDSINCE %" G_GUINT64_FORMAT ")",
                                                  fs->old.highestmodseq);

        mailer_imap_command_add_raw (command, since, NULL);
      }
    else
      mailer_imap_command_add_raw (command, "(UID FLAGS)", NULL);
    run_command (self, command, select_untagged, task, flags_fetched_cb);
  }
}

static void
sync_folder (GTask      *task,
             FolderInfo *folder)
{
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  FolderSync *fs = g_new0 (FolderSync, 1);
  MailerImapCommand *command;
  GError *error = NULL;

  fs->folder = folder;
  fs->updates = g_array_new (FALSE, FALSE, sizeof (MailerStoreFlagUpdate));
  fs->vanished = g_array_new (FALSE, FALSE, sizeof (guint32));
  fs->server_uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  fs->new_uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_clear_pointer (&data->fs, folder_sync_free);
  data->fs = fs;

  if (!mailer_store_get_folder_state (self->store, folder->id, &fs->old, &error))
    {
      run_fail (task, error);
      return;
    }

  command = mailer_imap_command_new ("SELECT");
  if (!mailer_imap_command_add_mailbox (command, folder->path,
                                        mailer_imap_client_get_utf8_accepted (self->client), &error))
    {
      mailer_imap_command_free (command);
      run_fail (task, error);
      return;
    }
  if (mailer_imap_client_is_enabled (self->client, "QRESYNC") && fs->old.uidvalidity > 0 &&
      fs->old.highestmodseq > 0)
    {
      g_autofree char *qresync = g_strdup_printf ("(QRESYNC (%u %" G_GUINT64_FORMAT "))",
                                                  fs->old.uidvalidity, fs->old.highestmodseq);

      mailer_imap_command_add_raw (command, qresync, NULL);
    }
  else if (mailer_imap_client_is_enabled (self->client, "CONDSTORE") ||
           mailer_imap_client_has_capability (self->client, "CONDSTORE"))
    mailer_imap_command_add_raw (command, "(CONDSTORE)", NULL);
  run_command (self, command, select_untagged, task, selected_cb);
}

static void
sync_next_folder (GTask *task)
{
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);

  while (data->folder_index < data->folders->len)
    {
      FolderInfo *folder = g_ptr_array_index (data->folders, data->folder_index);

      /* Before LIST (see run_connected_cb), or in a push run: the inbox,
       * and the folder open in the window. */
      gboolean early = !data->listed || data->inbox_only;

      if (folder->selectable && !g_hash_table_contains (data->synced, &folder->id) &&
          (!early || folder->role == MAILER_FOLDER_ROLE_INBOX ||
           (self->watched_id != 0 && folder->id == self->watched_id)))
        {
          g_hash_table_add (data->synced, g_memdup2 (&folder->id, sizeof (gint64)));
          g_autofree char *status = g_strdup_printf ("Checking %s", folder->path);

          mailer_account_set_status_message (self->account, status);
          sync_folder (task, folder);
          return;
        }
      data->folder_index++;
    }

  /* The inbox is done: now the folder list, and the other folders. */
  if (!data->listed && !data->inbox_only)
    {
      list_folders (task);
      return;
    }

  self->running = FALSE;
  mailer_account_set_connection_state (self->account, MAILER_CONNECTION_STATE_ONLINE);
  mailer_account_set_status_message (self->account, NULL);
  mailer_account_set_progress (self->account, -1);
  if (data->inbox_new > 0)
    g_signal_emit (self, signals[SIGNAL_NEW_MAIL], 0, data->inbox_new, data->inbox_newest);
  g_task_return_boolean (task, TRUE);
}

/* Replaying the journal */

static FolderInfo *
folder_by_id (RunData *data,
              gint64   id)
{
  return g_hash_table_lookup (data->by_id, &id);
}

static void
journal_removed_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!mailer_store_remove_journal_finish (MAILER_STORE (source), result, &error))
    {
      run_fail (task, error);
      return;
    }
  sync_next_folder (task);
}

static void
replay_finished (GTask *task)
{
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);

  /* Before the journal entries go, and before the folders are resynced
   * (one writer: in this order). */
  if (data->orphans->len > 0)
    mailer_store_delete_messages_async (self->store, data->orphans, FALSE, NULL, NULL, NULL);
  if (data->journal_done->len == 0)
    {
      sync_next_folder (task);
      return;
    }
  data->result.n_replayed += data->journal_done->len;
  mailer_store_remove_journal_async (self->store, data->journal_done, g_task_get_cancellable (task),
                                     journal_removed_cb, g_object_ref (task));
}

static gboolean
copyuid_untagged (MailerImapClient         *client,
                  const MailerImapResponse *response,
                  gpointer                  user_data)
{
  GTask *task = user_data;
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);

  /* MOVE sends COPYUID in an untagged OK (RFC 6851). */
  if (response->status == MAILER_IMAP_STATUS_OK && g_strcmp0 (response->code, "COPYUID") == 0 &&
      response->code_args->len == 3)
    {
      g_autoptr(GArray) from = g_array_new (FALSE, FALSE, sizeof (guint32));
      g_autoptr(GArray) to = g_array_new (FALSE, FALSE, sizeof (guint32));

      if (uid_set_from_value (response->code_args->pdata[1], from) &&
          uid_set_from_value (response->code_args->pdata[2], to) && from->len == to->len)
        for (guint i = 0; i < from->len; i++)
          for (guint j = 0; j < data->group_uids->len; j++)
            {
              MailerStoreJournalEntry *entry = g_ptr_array_index (data->journal, data->journal_index + j);
              MovedUid *moved;

              if (g_array_index (data->group_uids, guint32, j) != g_array_index (from, guint32, i) ||
                  entry->message_id <= 0)
                continue;
              /* Kept here too: the store writes it in the background, and
               * later entries for the message need it at once. */
              moved = g_new (MovedUid, 1);
              moved->folder_id = entry->dest_folder_id;
              moved->uid = g_array_index (to, guint32, i);
              g_hash_table_insert (data->moved, g_memdup2 (&entry->message_id, sizeof (gint64)), moved);
              mailer_store_set_message_uid_async (self->store, entry->message_id, moved->uid, NULL, NULL, NULL);
            }
      return TRUE;
    }
  return select_untagged (client, response, user_data);
}

static void
replay_step_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(MailerImapResponse) response = NULL;
  GError *error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      replay_refused_or_failed (g_steal_pointer (&task), error);
      return;
    }
  copyuid_untagged (MAILER_IMAP_CLIENT (source), response, task);

  /* The last command of a group confirms the whole group. */
  replay_next (task);
}

/* A change the server did not take: refused for good (the message or the
 * folder is gone, no permission), the group is dropped and the next one
 * goes; refused for now ([UNAVAILABLE] and the like) or the connection
 * lost, the entries stay for the next run. */
static void
replay_refused_or_failed (GTask  *task,
                          GError *error)
{
  g_autoptr(GTask) owned = task;

  if (!g_error_matches (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_NO))
    {
      run_fail (owned, error);
      return;
    }
  g_message ("A change made here was refused by the server and is undone: %s", error->message);
  g_clear_error (&error);
  replay_next (owned);
}

/* Selects the group's folder first when it is not selected. */
static gboolean
ensure_selected (GTask      *task,
                 FolderInfo *folder);

static void
replay_selected_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(MailerImapResponse) response = NULL;
  MailerStoreJournalEntry *entry = g_ptr_array_index (data->journal, data->journal_index);
  GError *error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      /* A failed SELECT leaves no mailbox selected (RFC 3501 6.3.1): the
       * next group must select its folder again. */
      g_clear_pointer (&self->selected, g_free);
      if (g_error_matches (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_TRY_LATER))
        {
          /* Locked or busy for now: its changes wait for a later run,
           * the other folders' go now. */
          g_hash_table_add (data->later_folders, GINT_TO_POINTER ((gint) entry->folder_id));
          g_clear_error (&error);
          data->journal_group = 0;
          replay_next (task);
          return;
        }
      if (g_error_matches (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_NO))
        {
          /* The folder is gone: so are the changes to it. */
          g_hash_table_add (data->gone_folders, GINT_TO_POINTER ((gint) entry->folder_id));
          g_clear_error (&error);
          data->journal_group = 0;
          replay_next (task);
          return;
        }
      run_fail (task, error);
      return;
    }
  g_free (self->selected);
  self->selected = g_strdup (folder_by_id (data, entry->folder_id)->path);
  data->journal_group = 0;
  replay_next (task);
}

static gboolean
ensure_selected (GTask      *task,
                 FolderInfo *folder)
{
  MailerImapSync *self = g_task_get_source_object (task);
  MailerImapCommand *command;

  if (g_strcmp0 (self->selected, folder->path) == 0)
    return TRUE;
  command = mailer_imap_command_new ("SELECT");
  mailer_imap_command_add_mailbox (command, folder->path, mailer_imap_client_get_utf8_accepted (self->client), NULL);
  run_command (self, command, select_untagged, task, replay_selected_cb);
  return FALSE;
}

static guint32
entry_uid (MailerImapSync          *self,
           RunData                 *data,
           MailerStoreJournalEntry *entry)
{
  MovedUid *moved;
  gint64 folder_id = 0, uid = 0;

  if (entry->uid > 0)
    return entry->uid;
  if (entry->message_id <= 0)
    return 0;
  /* Moved here before this change: the UID the server gave it since, in
   * this run or before, if it is still in the folder of the change (a UID
   * means nothing in another folder). */
  moved = g_hash_table_lookup (data->moved, &entry->message_id);
  if (moved != NULL)
    return moved->folder_id == entry->folder_id ? moved->uid : 0;
  if (!mailer_store_get_server_ids (self->store, entry->message_id, &folder_id, &uid, NULL, NULL) ||
      folder_id != entry->folder_id)
    return 0;
  return uid;
}

/* A move is done with (confirmed, refused or given up): the local copy
 * must have the UID the server gave it.  When the server did not say (no
 * COPYUID: the move was made by an earlier run whose answer was lost, or
 * the server lacks UIDPLUS), the copy is dropped here and the resync of
 * its folder brings the server's, instead of a second one. */
static void
note_orphan (MailerImapSync          *self,
             RunData                 *data,
             MailerStoreJournalEntry *entry)
{
  gint64 uid = 0;

  if (entry->op != MAILER_JOURNAL_OP_MOVE || entry->message_id <= 0 ||
      g_hash_table_contains (data->superseded, &entry->id) ||
      g_hash_table_contains (data->moved, &entry->message_id))
    return;
  if (mailer_store_get_server_ids (self->store, entry->message_id, NULL, &uid, NULL, NULL) && uid == 0)
    g_array_append_val (data->orphans, entry->message_id);
}

/* Marks the messages of @set \Deleted and expunges them (only them, with
 * UIDPLUS); the EXPUNGE's answer confirms the group.  Takes @task. */
static void
delete_and_expunge (MailerImapSync *self,
                    const char     *set,
                    GTask          *task)
{
  g_autoptr(GTask) owned = task;
  MailerImapCommand *store = mailer_imap_command_new ("UID STORE");
  MailerImapCommand *expunge;

  mailer_imap_command_add_raw (store, set, NULL);
  mailer_imap_command_add_raw (store, "+FLAGS.SILENT (\\Deleted)", NULL);
  mailer_imap_client_run_async (self->client, store, select_untagged, owned, NULL, NULL, NULL);
  if (mailer_imap_client_has_capability (self->client, "UIDPLUS"))
    {
      expunge = mailer_imap_command_new ("UID EXPUNGE");
      mailer_imap_command_add_raw (expunge, set, NULL);
    }
  else
    expunge = mailer_imap_command_new ("EXPUNGE");
  run_command (self, expunge, select_untagged, owned, replay_step_cb);
}

/* The copy of a move without MOVE is confirmed: now the originals go. */
static void
replay_copied_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(MailerImapResponse) response = NULL;
  g_autofree char *set = g_steal_pointer (&data->copied_set);
  GError *error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      /* Refused: the originals stay, and the entry is dropped like any
       * refused change; cut off: the entry stays. */
      replay_refused_or_failed (g_steal_pointer (&task), error);
      return;
    }
  copyuid_untagged (MAILER_IMAP_CLIENT (source), response, task);
  delete_and_expunge (self, set, g_steal_pointer (&task));
}

/* Uploading a message stored here first.  Whether an earlier run's APPEND
 * reached the server but its answer was lost cannot be known from here, so
 * the folder is first searched for the message's Message-ID: found, it is
 * that copy; otherwise it is appended.  The UID the server gives it
 * (APPENDUID, or the search) goes to the local copy; without one, the
 * local copy is dropped and the folder's resync brings the server's. */

typedef struct
{
  GTask *task;                  /* owned */
  MailerStoreJournalEntry *entry;
  FolderInfo *folder;
  GBytes *raw;
  GArray *found;                /* guint32: UIDs of the search */
} AppendData;

static void
append_data_free (AppendData *append)
{
  g_clear_object (&append->task);
  g_clear_pointer (&append->raw, g_bytes_unref);
  g_clear_pointer (&append->found, g_array_unref);
  g_free (append);
}

/* The entry is done: its local copy is now known by @uid, or by nothing
 * (0) and dropped. */
static void
append_done (AppendData *append,
             guint32     uid)
{
  g_autoptr(GTask) task = g_steal_pointer (&append->task);
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  MailerStoreJournalEntry *entry = append->entry;
  g_autoptr(GArray) one = g_array_new (FALSE, FALSE, sizeof (guint32));

  g_array_append_val (one, uid);
  if (uid > 0 && mailer_store_count_folder_uids (self->store, entry->folder_id, one, NULL) == 0)
    {
      MovedUid *moved = g_new (MovedUid, 1);

      /* Kept here too, for later entries of the message in this run. */
      moved->folder_id = entry->folder_id;
      moved->uid = uid;
      g_hash_table_insert (data->moved, g_memdup2 (&entry->message_id, sizeof (gint64)), moved);
      mailer_store_set_message_uid_async (self->store, entry->message_id, uid, NULL, NULL, NULL);
    }
  else
    g_array_append_val (data->orphans, entry->message_id);

  append_data_free (append);
  data->journal_group = 1;
  replay_next (task);
}

static void
appended_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  AppendData *append = user_data;
  g_autoptr(MailerImapResponse) response = NULL;
  g_autoptr(GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  GError *error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      GTask *task = g_steal_pointer (&append->task);
      RunData *data = g_task_get_task_data (task);

      append_data_free (append);
      /* Refused (over quota, too large): dropped like any refused change,
       * and the local copy stays, as it is, for the user to keep. */
      data->journal_group = 1;
      replay_refused_or_failed (task, error);
      return;
    }
  /* RFC 4315: OK [APPENDUID uidvalidity uid]. */
  if (g_strcmp0 (response->code, "APPENDUID") == 0 && response->code_args->len == 2 &&
      uid_set_from_value (response->code_args->pdata[1], uids) && uids->len == 1)
    {
      append_done (append, g_array_index (uids, guint32, 0));
      return;
    }
  append_done (append, 0);
}

static void
append_now (AppendData *append)
{
  MailerImapSync *self = g_task_get_source_object (append->task);
  MailerImapCommand *command = mailer_imap_command_new ("APPEND");
  g_autofree char *flags = flags_to_list (append->entry->add_flags & ~MAILER_MESSAGE_FLAG_DELETED);

  mailer_imap_command_add_mailbox (command, append->folder->path,
                                   mailer_imap_client_get_utf8_accepted (self->client), NULL);
  mailer_imap_command_add_raw (command, flags, NULL);
  mailer_imap_command_add_literal (command, append->raw);
  mailer_imap_client_run_async (self->client, command, NULL, NULL,
                                g_task_get_cancellable (append->task), appended_cb, append);
}

static gboolean
append_search_untagged (MailerImapClient         *client,
                        const MailerImapResponse *response,
                        gpointer                  user_data)
{
  AppendData *append = user_data;

  if (g_strcmp0 (response->name, "SEARCH") != 0)
    return select_untagged (client, response, append->task);
  for (guint i = 0; i < response->args->len; i++)
    {
      guint64 uid;

      if (mailer_imap_value_get_number (response->args->pdata[i], &uid) && uid > 0 && uid <= G_MAXUINT32)
        {
          guint32 u = uid;

          g_array_append_val (append->found, u);
        }
    }
  return TRUE;
}

static void
append_searched_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  AppendData *append = user_data;
  g_autoptr(MailerImapResponse) response = NULL;
  GError *error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL && g_error_matches (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_NO))
    {
      /* A server that cannot search headers: append without looking. */
      g_clear_error (&error);
      g_array_set_size (append->found, 0);
    }
  else if (response == NULL)
    {
      g_autoptr(GTask) task = g_steal_pointer (&append->task);

      append_data_free (append);
      run_fail (task, error);
      return;
    }
  if (append->found->len > 0)
    {
      /* Already there: the newest copy is this one. */
      guint32 newest = 0;

      for (guint i = 0; i < append->found->len; i++)
        newest = MAX (newest, g_array_index (append->found, guint32, i));
      append_done (append, newest);
      return;
    }
  append_now (append);
}

static void
append_selected_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  AppendData *append = user_data;
  MailerImapSync *self = g_task_get_source_object (append->task);
  g_autoptr(MailerImapResponse) response = NULL;
  g_autoptr(MailerMimeSummary) summary = NULL;
  MailerImapCommand *command;
  GError *error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      g_autoptr(GTask) task = g_steal_pointer (&append->task);
      RunData *data = g_task_get_task_data (task);
      gint folder_id = append->entry->folder_id;

      g_clear_pointer (&self->selected, g_free);
      append_data_free (append);
      if (g_error_matches (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_TRY_LATER))
        g_hash_table_add (data->later_folders, GINT_TO_POINTER (folder_id));
      else if (g_error_matches (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_NO))
        g_hash_table_add (data->gone_folders, GINT_TO_POINTER (folder_id));
      else
        {
          run_fail (task, error);
          return;
        }
      g_clear_error (&error);
      data->journal_group = 0;
      replay_next (task);
      return;
    }
  g_free (self->selected);
  self->selected = g_strdup (append->folder->path);

  summary = mailer_mime_parse_headers (append->raw, NULL);
  if (summary == NULL || summary->message_id == NULL)
    {
      append_now (append);
      return;
    }
  command = mailer_imap_command_new ("UID SEARCH");
  mailer_imap_command_add_atom (command, "HEADER", NULL);
  mailer_imap_command_add_atom (command, "Message-ID", NULL);
  if (!mailer_imap_command_add_string (command, summary->message_id, NULL))
    {
      /* Not something a search can carry: append without looking. */
      mailer_imap_command_free (command);
      append_now (append);
      return;
    }
  mailer_imap_client_run_async (self->client, command, append_search_untagged, append,
                                g_task_get_cancellable (append->task), append_searched_cb, append);
}

static void
replay_append (GTask                   *task,
               MailerStoreJournalEntry *entry,
               FolderInfo              *folder)
{
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  AppendData *append;
  MailerImapCommand *command;
  g_autoptr(GBytes) raw = NULL;
  gint64 uid = 0;

  /* Deleted here since, or already given a UID (by an earlier run whose
   * journal clean-up was cut off): nothing to upload. */
  raw = mailer_store_get_raw (self->store, entry->message_id, NULL);
  if (raw == NULL ||
      (mailer_store_get_server_ids (self->store, entry->message_id, NULL, &uid, NULL, NULL) && uid > 0))
    {
      data->journal_group = 1;
      replay_next (task);
      return;
    }

  append = g_new0 (AppendData, 1);
  append->task = g_object_ref (task);
  append->entry = entry;
  append->folder = folder;
  append->raw = g_steal_pointer (&raw);
  append->found = g_array_new (FALSE, FALSE, sizeof (guint32));

  /* The search needs the folder selected; SELECT rather than EXAMINE, as
   * the next entries most likely change the same folder. */
  command = mailer_imap_command_new ("SELECT");
  mailer_imap_command_add_mailbox (command, folder->path, mailer_imap_client_get_utf8_accepted (self->client), NULL);
  g_clear_pointer (&self->selected, g_free);
  mailer_imap_client_run_async (self->client, command, select_untagged, task,
                                g_task_get_cancellable (task), append_selected_cb, append);
}

/* Flags.  With CONDSTORE, each change carries the MODSEQ the message had
 * here when it was made, and goes with UNCHANGEDSINCE: when another client
 * changed the message since (its MODSEQ on the server is higher), that
 * change is the newer one and wins; the server leaves the message alone
 * and says so ([MODIFIED uids], RFC 7162 3.1.3), the entry is dropped and
 * the folder's resync brings the other client's flags here.  A group of
 * changes shares one UNCHANGEDSINCE, the lowest of the group: messages it
 * reports that were not changed since their own entry's MODSEQ are
 * changed again, unconditionally. */

static gboolean
replay_untagged (MailerImapClient         *client,
                 const MailerImapResponse *response,
                 gpointer                  user_data)
{
  GTask *task = user_data;
  RunData *data = g_task_get_task_data (task);

  if (g_strcmp0 (response->name, "FETCH") == 0)
    {
      g_autoptr(MailerImapFetch) fetch = mailer_imap_parse_fetch (response, NULL);

      if (fetch != NULL && fetch->uid > 0 && fetch->modseq > 0 && !data->resolving)
        {
          MailerStoreUidModseq pair = { fetch->uid, fetch->modseq };

          g_array_append_val (data->own_modseqs, pair);
        }
      else if (fetch != NULL && fetch->uid > 0 && fetch->modseq > 0 && fetch->has_flags)
        {
          MailerStoreFlagUpdate theirs = { fetch->uid, 0, NULL, fetch->modseq };

          theirs.flags = flags_from_strv (fetch->flags, &theirs.keywords);
          g_array_append_val (data->server_state, theirs);
        }
      return TRUE;
    }
  return select_untagged (client, response, user_data);
}

static guint64
group_modseq (RunData *data)
{
  guint64 lowest = G_MAXUINT64;

  for (guint i = 0; i < data->journal_group; i++)
    {
      MailerStoreJournalEntry *entry = g_ptr_array_index (data->journal, data->journal_index + i);

      if (entry->modseq <= 0)
        return 0;
      lowest = MIN (lowest, (guint64) entry->modseq);
    }
  return lowest == G_MAXUINT64 ? 0 : lowest;
}

static MailerImapCommand *
store_command (const char         *set,
               gboolean            add,
               MailerMessageFlags  flags,
               guint64             unchanged_since)
{
  MailerImapCommand *command = mailer_imap_command_new ("UID STORE");
  g_autofree char *list = flags_to_list (flags);
  g_autofree char *arg = g_strconcat (add ? "+FLAGS.SILENT " : "-FLAGS.SILENT ", list, NULL);

  mailer_imap_command_add_raw (command, set, NULL);
  if (unchanged_since > 0)
    {
      g_autofree char *modifier = g_strdup_printf ("(UNCHANGEDSINCE %" G_GUINT64_FORMAT ")", unchanged_since);

      mailer_imap_command_add_raw (command, modifier, NULL);
    }
  mailer_imap_command_add_raw (command, arg, NULL);
  return command;
}

/* Both commands of a change, unconditional; the last confirms the group. */
static void
store_flags (MailerImapSync          *self,
             GTask                   *task,
             MailerStoreJournalEntry *first,
             const char              *set)
{
  if (first->remove_flags != 0)
    {
      MailerImapCommand *command = store_command (set, FALSE, first->remove_flags, 0);

      if (first->add_flags == 0)
        {
          run_command (self, command, replay_untagged, task, replay_step_cb);
          return;
        }
      mailer_imap_client_run_async (self->client, command, replay_untagged, task, NULL, NULL, NULL);
    }
  run_command (self, store_command (set, TRUE, first->add_flags, 0), replay_untagged, task, replay_step_cb);
}

static gboolean
uid_in (GArray  *uids,
        guint32  uid)
{
  for (guint i = 0; i < uids->len; i++)
    if (g_array_index (uids, guint32, i) == uid)
      return TRUE;
  return FALSE;
}

static gboolean
same_keywords (const char *a,
               const char *b)
{
  g_auto(GStrv) left = g_strsplit (a != NULL ? a : "", " ", -1);
  g_auto(GStrv) right = g_strsplit (b != NULL ? b : "", " ", -1);
  guint n_left = 0, n_right = 0;

  for (guint i = 0; left[i] != NULL; i++)
    if (*left[i] != '\0')
      {
        n_left++;
        if (!g_strv_contains ((const char * const *) right, left[i]))
          return FALSE;
      }
  for (guint i = 0; right[i] != NULL; i++)
    if (*right[i] != '\0')
      n_right++;
  return n_left == n_right;
}

/* Whether what the other client changed is something else than the flags
 * of this change (it read a message flagged here, say): then both
 * changes stand.  Compared with this side's copy, whose other flags are
 * the server's as last seen. */
static gboolean
other_flags_changed (MailerImapSync              *self,
                     MailerStoreJournalEntry     *entry,
                     const MailerStoreFlagUpdate *theirs)
{
  g_autoptr(MailerMessage) ours = NULL;
  MailerMessageFlags touched = entry->add_flags | entry->remove_flags;

  if (entry->message_id <= 0)
    return FALSE;
  ours = mailer_store_load_message (self->store, entry->message_id, NULL);
  if (ours == NULL)
    return FALSE;
  return ((mailer_message_get_flags (ours) ^ theirs->flags) & ~touched) != 0 ||
         !same_keywords (mailer_message_get_keywords (ours), theirs->keywords);
}

static void
conflicts_read_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(MailerImapResponse) response = NULL;
  g_autoptr(GArray) again = g_array_new (FALSE, FALSE, sizeof (guint32));
  MailerStoreJournalEntry *first = g_ptr_array_index (data->journal, data->journal_index);
  g_autofree char *set = NULL;
  GError *error = NULL;

  data->resolving = FALSE;
  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      replay_refused_or_failed (g_steal_pointer (&task), error);
      return;
    }

  for (guint i = 0; i < data->server_state->len; i++)
    {
      MailerStoreFlagUpdate *theirs = &g_array_index (data->server_state, MailerStoreFlagUpdate, i);

      for (guint j = 0; j < data->journal_group; j++)
        {
          MailerStoreJournalEntry *entry = g_ptr_array_index (data->journal, data->journal_index + j);

          if (g_array_index (data->group_uids, guint32, j) != theirs->uid || uid_in (again, theirs->uid))
            continue;
          if ((guint64) entry->modseq >= theirs->modseq ||
              other_flags_changed (self, entry, theirs))
            g_array_append_val (again, theirs->uid);
          else if ((theirs->flags & entry->add_flags) != entry->add_flags ||
                   (theirs->flags & entry->remove_flags) != 0)
            g_message ("A flag change made here to message %u was not sent: another client changed "
                       "the same flags of that message since, and its change is the newer one", theirs->uid);
        }
    }
  g_array_set_size (data->server_state, 0);
  g_array_set_size (data->modified, 0);

  if (again->len == 0)
    {
      replay_next (task);
      return;
    }
  g_array_sort (again, compare_uid_asc);
  set = mailer_imap_format_sequence_set ((const guint32 *) again->data, again->len);
  store_flags (self, task, first, set);
}

static void resolve_conflicts (MailerImapSync *self, GTask *task);

static void
conditional_stored_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(MailerImapResponse) response = NULL;
  MailerStoreJournalEntry *first = g_ptr_array_index (data->journal, data->journal_index);
  GError *error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      replay_refused_or_failed (g_steal_pointer (&task), error);
      return;
    }
  if (g_strcmp0 (response->code, "MODIFIED") == 0 && response->code_args->len >= 1)
    uid_set_from_value (response->code_args->pdata[0], data->modified);

  /* A -FLAGS went first: the +FLAGS of the same change goes to the
   * messages it changed, without a condition (their MODSEQ is ours now). */
  if (first->remove_flags != 0 && first->add_flags != 0 && !data->second_store)
    {
      g_autoptr(GArray) rest = g_array_new (FALSE, FALSE, sizeof (guint32));

      data->second_store = TRUE;
      for (guint i = 0; i < data->group_uids->len; i++)
        {
          guint32 uid = g_array_index (data->group_uids, guint32, i);

          if (!uid_in (data->modified, uid) && !uid_in (rest, uid))
            g_array_append_val (rest, uid);
        }
      if (rest->len > 0)
        {
          g_autofree char *set = NULL;

          g_array_sort (rest, compare_uid_asc);
          set = mailer_imap_format_sequence_set ((const guint32 *) rest->data, rest->len);
          run_command (self, store_command (set, TRUE, first->add_flags, 0), replay_untagged, task,
                       conditional_stored_cb);
          return;
        }
    }

  if (data->modified->len > 0)
    {
      resolve_conflicts (self, task);
      return;
    }
  replay_next (task);
}

/* Which of the messages left alone were changed by another client after
 * the change made here: their MODSEQ on the server tells. */
static void
resolve_conflicts (MailerImapSync *self,
                   GTask          *task)
{
  RunData *data = g_task_get_task_data (task);
  MailerImapCommand *command = mailer_imap_command_new ("UID FETCH");
  g_autofree char *set = NULL;

  g_array_sort (data->modified, compare_uid_asc);
  set = mailer_imap_format_sequence_set ((const guint32 *) data->modified->data, data->modified->len);
  mailer_imap_command_add_raw (command, set, NULL);
  mailer_imap_command_add_raw (command, "(UID FLAGS MODSEQ)", NULL);
  g_array_set_size (data->server_state, 0);
  data->resolving = TRUE;
  run_command (self, command, replay_untagged, task, conflicts_read_cb);
}

static void
replay_flags (MailerImapSync          *self,
              GTask                   *task,
              MailerStoreJournalEntry *first,
              const char              *set)
{
  RunData *data = g_task_get_task_data (task);
  guint64 since = 0;

  if (condstore_on (self))
    since = group_modseq (data);
  if (since == 0)
    {
      store_flags (self, task, first, set);
      return;
    }

  g_array_set_size (data->modified, 0);
  data->second_store = FALSE;
  if (first->remove_flags != 0)
    run_command (self, store_command (set, FALSE, first->remove_flags, since), replay_untagged, task,
                 conditional_stored_cb);
  else
    run_command (self, store_command (set, TRUE, first->add_flags, since), replay_untagged, task,
                 conditional_stored_cb);
}

static void
replay_next (GTask *task)
{
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  MailerStoreJournalEntry *first;
  g_autoptr(GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autofree char *set = NULL;
  FolderInfo *folder;
  guint n = 0;

  /* What our changes made: later changes of the same messages know of
   * them. */
  if (data->own_modseqs->len > 0 && data->journal_group > 0)
    {
      MailerStoreJournalEntry *entry = g_ptr_array_index (data->journal, data->journal_index);

      /* In the store, and in the entries of this run still to come. */
      mailer_store_note_own_modseqs_async (self->store, entry->folder_id, data->own_modseqs, NULL, NULL, NULL);
      for (guint i = data->journal_index + data->journal_group; i < data->journal->len; i++)
        {
          MailerStoreJournalEntry *later = g_ptr_array_index (data->journal, i);

          if (later->folder_id != entry->folder_id || later->modseq <= 0)
            continue;
          for (guint j = 0; j < data->own_modseqs->len; j++)
            {
              MailerStoreUidModseq *own = &g_array_index (data->own_modseqs, MailerStoreUidModseq, j);

              if (entry_uid (self, data, later) == own->uid && (guint64) later->modseq < own->modseq)
                later->modseq = MIN (own->modseq, (guint64) G_MAXINT64);
            }
        }
      g_array_unref (data->own_modseqs);
      data->own_modseqs = g_array_new (FALSE, FALSE, sizeof (MailerStoreUidModseq));
    }

  /* The group just sent is confirmed (or refused, so dropped). */
  for (guint i = 0; i < data->journal_group; i++)
    {
      MailerStoreJournalEntry *entry = g_ptr_array_index (data->journal, data->journal_index + i);

      g_array_append_val (data->journal_done, entry->id);
      note_orphan (self, data, entry);
    }
  data->journal_index += data->journal_group;
  data->journal_group = 0;
  g_array_set_size (data->group_uids, 0);

  while (data->journal_index < data->journal->len)
    {
      first = g_ptr_array_index (data->journal, data->journal_index);
      folder = folder_by_id (data, first->folder_id);
      if (g_hash_table_contains (data->later_folders, GINT_TO_POINTER ((gint) first->folder_id)))
        {
          /* Kept for the next run. */
          data->journal_index++;
          continue;
        }
      if (folder != NULL && !g_hash_table_contains (data->gone_folders, GINT_TO_POINTER ((gint) first->folder_id)) &&
          !g_hash_table_contains (data->superseded, &first->id) &&
          (first->op == MAILER_JOURNAL_OP_APPEND ? first->message_id > 0 :
           entry_uid (self, data, first) > 0 &&
           (first->op != MAILER_JOURNAL_OP_MOVE || folder_by_id (data, first->dest_folder_id) != NULL)))
        break;
      /* No folder or UID to apply it to any more, or replayed through a
       * later entry. */
      g_array_append_val (data->journal_done, first->id);
      note_orphan (self, data, first);
      data->journal_index++;
    }
  if (data->journal_index >= data->journal->len)
    {
      replay_finished (task);
      return;
    }

  first = g_ptr_array_index (data->journal, data->journal_index);
  folder = folder_by_id (data, first->folder_id);
  if (first->op == MAILER_JOURNAL_OP_APPEND)
    {
      replay_append (task, first, folder);
      return;
    }
  if (!ensure_selected (task, folder))
    return;

  /* Coalesce a run of the same change in the same folder. */
  for (guint i = data->journal_index; i < data->journal->len && n < 500; i++, n++)
    {
      MailerStoreJournalEntry *entry = g_ptr_array_index (data->journal, i);
      guint32 uid = entry_uid (self, data, entry);

      if (entry->folder_id != first->folder_id || entry->op != first->op ||
          entry->add_flags != first->add_flags || entry->remove_flags != first->remove_flags ||
          entry->dest_folder_id != first->dest_folder_id || uid == 0 ||
          g_hash_table_contains (data->superseded, &entry->id))
        break;
      g_array_append_val (uids, uid);
      g_array_append_val (data->group_uids, uid);
    }
  data->journal_group = n;
  g_array_sort (uids, compare_uid_asc);
  {
    /* Drop duplicates. */
    guint32 *v = (guint32 *) uids->data;
    guint w = 0;

    for (guint i = 0; i < uids->len; i++)
      if (w == 0 || v[w - 1] != v[i])
        v[w++] = v[i];
    g_array_set_size (uids, w);
  }
  set = mailer_imap_format_sequence_set ((const guint32 *) uids->data, uids->len);

  switch (first->op)
    {
    case MAILER_JOURNAL_OP_FLAGS:
      replay_flags (self, task, first, set);
      return;

    case MAILER_JOURNAL_OP_DELETE:
      delete_and_expunge (self, set, g_object_ref (task));
      return;

    case MAILER_JOURNAL_OP_MOVE:
    default:
      {
        FolderInfo *dest = folder_by_id (data, first->dest_folder_id);
        gboolean utf8 = mailer_imap_client_get_utf8_accepted (self->client);

        if (mailer_imap_client_has_capability (self->client, "MOVE"))
          {
            MailerImapCommand *move = mailer_imap_command_new ("UID MOVE");

            mailer_imap_command_add_raw (move, set, NULL);
            mailer_imap_command_add_mailbox (move, dest->path, utf8, NULL);
            run_command (self, move, copyuid_untagged, task, replay_step_cb);
          }
        else
          {
            /* COPY, then mark and expunge the originals (RFC 6851 3.3),
             * once the copy is confirmed: a refused COPY (no such folder,
             * over quota) must leave the originals alone. */
            MailerImapCommand *copy = mailer_imap_command_new ("UID COPY");

            mailer_imap_command_add_raw (copy, set, NULL);
            mailer_imap_command_add_mailbox (copy, dest->path, utf8, NULL);
            g_free (data->copied_set);
            data->copied_set = g_steal_pointer (&set);
            run_command (self, copy, copyuid_untagged, task, replay_copied_cb);
          }
        return;
      }
    }
}

/* Changes made here to a message moved here, before the move reached the
 * server, were made to a copy the server has no UID for yet, and may
 * never give one: a MOVE whose answer was lost finds nothing to move when
 * it is replayed, so no COPYUID comes.  They are replayed where the
 * message still is on the server instead: its flag changes before the
 * move, and a later move or delete in place of the first move. */
static void
compact_journal (RunData *data)
{
  GPtrArray *journal = data->journal;
  GPtrArray *ordered = g_ptr_array_new_full (journal->len, NULL);
  g_autoptr(GHashTable) placed = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < journal->len; i++)
    {
      MailerStoreJournalEntry *head = g_ptr_array_index (journal, i);
      MailerStoreJournalEntry *last = head;
      g_autoptr(GPtrArray) chain = NULL;

      if (g_hash_table_contains (placed, head))
        continue;
      g_hash_table_add (placed, head);
      if (head->op != MAILER_JOURNAL_OP_MOVE || head->uid <= 0 || head->message_id <= 0)
        {
          g_ptr_array_add (ordered, head);
          continue;
        }

      /* What was done to the copy since: entries without a UID, each in
       * the folder the moves so far took it to. */
      chain = g_ptr_array_new ();
      for (guint j = i + 1; j < journal->len && last->op == MAILER_JOURNAL_OP_MOVE; j++)
        {
          MailerStoreJournalEntry *entry = g_ptr_array_index (journal, j);

          if (entry->message_id != head->message_id || entry->uid > 0)
            continue;
          if (entry->folder_id != last->dest_folder_id)
            break;
          g_ptr_array_add (chain, entry);
          g_hash_table_add (placed, entry);
          if (entry->op != MAILER_JOURNAL_OP_FLAGS)
            last = entry;
        }

      for (guint j = 0; j < chain->len; j++)
        {
          MailerStoreJournalEntry *entry = g_ptr_array_index (chain, j);

          if (entry->op != MAILER_JOURNAL_OP_FLAGS)
            continue;
          entry->folder_id = head->folder_id;
          entry->uid = head->uid;
          g_ptr_array_add (ordered, entry);
        }
      if (last != head)
        {
          g_hash_table_add (data->superseded, &head->id);
          g_ptr_array_add (ordered, head);
          for (guint j = 0; j < chain->len; j++)
            {
              MailerStoreJournalEntry *entry = g_ptr_array_index (chain, j);

              if (entry->op == MAILER_JOURNAL_OP_FLAGS || entry == last)
                continue;
              g_hash_table_add (data->superseded, &entry->id);
              g_ptr_array_add (ordered, entry);
            }
          last->folder_id = head->folder_id;
          last->uid = head->uid;
        }
      g_ptr_array_add (ordered, last);
    }

  g_assert (ordered->len == journal->len);
  g_ptr_array_set_free_func (journal, NULL);
  g_ptr_array_unref (journal);
  g_ptr_array_set_free_func (ordered, (GDestroyNotify) mailer_store_journal_entry_free);
  data->journal = ordered;
}

static void
replay_journal (GTask *task)
{
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  GError *error = NULL;

  data->journal = mailer_store_list_journal (self->store, mailer_account_get_id (self->account), &error);
  if (data->journal == NULL)
    {
      run_fail (task, error);
      return;
    }
  data->replayed = TRUE;
  data->journal_done = g_array_new (FALSE, FALSE, sizeof (gint64));
  data->group_uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  data->gone_folders = g_hash_table_new (NULL, NULL);
  data->later_folders = g_hash_table_new (NULL, NULL);
  data->moved = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  data->superseded = g_hash_table_new (g_int64_hash, g_int64_equal);
  data->orphans = g_array_new (FALSE, FALSE, sizeof (gint64));
  data->own_modseqs = g_array_new (FALSE, FALSE, sizeof (MailerStoreUidModseq));
  data->modified = g_array_new (FALSE, FALSE, sizeof (guint32));
  data->server_state = g_array_new (FALSE, FALSE, sizeof (MailerStoreFlagUpdate));
  g_array_set_clear_func (data->server_state, clear_flag_update);
  data->journal_index = 0;
  data->journal_group = 0;
  compact_journal (data);
  replay_next (task);
}

/* Folders */

static MailerFolderRole
role_from_list (MailerImapListEntry *entry)
{
  static const struct { const char *attribute; MailerFolderRole role; } special[] = {
    { "\\Sent", MAILER_FOLDER_ROLE_SENT },
    { "\\Drafts", MAILER_FOLDER_ROLE_DRAFTS },
    { "\\Trash", MAILER_FOLDER_ROLE_TRASH },
    { "\\Junk", MAILER_FOLDER_ROLE_JUNK },
    { "\\Archive", MAILER_FOLDER_ROLE_ARCHIVE },
  };
  static const struct { const char *name; MailerFolderRole role; } names[] = {
    { "Sent", MAILER_FOLDER_ROLE_SENT }, { "Sent Items", MAILER_FOLDER_ROLE_SENT },
    { "Sent Messages", MAILER_FOLDER_ROLE_SENT }, { "Sent Mail", MAILER_FOLDER_ROLE_SENT },
    { "Drafts", MAILER_FOLDER_ROLE_DRAFTS }, { "Draft", MAILER_FOLDER_ROLE_DRAFTS },
    { "Trash", MAILER_FOLDER_ROLE_TRASH }, { "Deleted Items", MAILER_FOLDER_ROLE_TRASH },
    { "Deleted Messages", MAILER_FOLDER_ROLE_TRASH }, { "Bin", MAILER_FOLDER_ROLE_TRASH },
    { "Junk", MAILER_FOLDER_ROLE_JUNK }, { "Spam", MAILER_FOLDER_ROLE_JUNK },
    { "Junk E-mail", MAILER_FOLDER_ROLE_JUNK }, { "Archive", MAILER_FOLDER_ROLE_ARCHIVE },
    { "Archives", MAILER_FOLDER_ROLE_ARCHIVE },
  };
  const char *leaf;

  if (g_str_equal (entry->name, "INBOX"))
    return MAILER_FOLDER_ROLE_INBOX;
  for (guint i = 0; entry->attributes[i] != NULL; i++)
    for (guint j = 0; j < G_N_ELEMENTS (special); j++)
      if (g_ascii_strcasecmp (entry->attributes[i], special[j].attribute) == 0)
        return special[j].role;

  /* No SPECIAL-USE: the names everyone uses, at the top or under INBOX. */
  leaf = entry->name;
  if (entry->delimiter != '\0' && g_str_has_prefix (leaf, "INBOX") && leaf[5] == entry->delimiter)
    leaf += 6;
  if (entry->delimiter != '\0' && strchr (leaf, entry->delimiter) != NULL)
    return MAILER_FOLDER_ROLE_NONE;
  for (guint j = 0; j < G_N_ELEMENTS (names); j++)
    if (g_ascii_strcasecmp (leaf, names[j].name) == 0)
      return names[j].role;
  return MAILER_FOLDER_ROLE_NONE;
}

static gboolean
list_untagged (MailerImapClient         *client,
               const MailerImapResponse *response,
               gpointer                  user_data)
{
  GPtrArray *entries = g_object_get_data (G_OBJECT (user_data), "list-entries");
  MailerImapListEntry *entry;

  if (g_strcmp0 (response->name, "LIST") != 0)
    return FALSE;
  entry = mailer_imap_parse_list (response, mailer_imap_client_get_utf8_accepted (client), NULL);
  if (entry != NULL)
    g_ptr_array_add (entries, entry);
  return TRUE;
}

static int
compare_depth (gconstpointer a,
               gconstpointer b)
{
  const MailerImapListEntry *ea = *(MailerImapListEntry **) a;
  const MailerImapListEntry *eb = *(MailerImapListEntry **) b;
  guint da = 0, db = 0;

  for (const char *p = ea->name; *p; p++)
    da += ea->delimiter && *p == ea->delimiter;
  for (const char *p = eb->name; *p; p++)
    db += eb->delimiter && *p == eb->delimiter;
  if (da != db)
    return da < db ? -1 : 1;
  /* The inbox first. */
  if (g_str_equal (ea->name, "INBOX") != g_str_equal (eb->name, "INBOX"))
    return g_str_equal (ea->name, "INBOX") ? -1 : 1;
  return strcmp (ea->name, eb->name);
}

static void save_next_folder (GTask *task);

static void
folders_saved (GTask *task)
{
  RunData *data = g_task_get_task_data (task);

  /* The inbox first, so it is usable soonest. */
  for (guint i = 0; i < data->folders->len; i++)
    {
      FolderInfo *info = g_ptr_array_index (data->folders, i);

      if (info->role == MAILER_FOLDER_ROLE_INBOX && i > 0)
        {
          g_ptr_array_steal_index (data->folders, i);
          g_ptr_array_insert (data->folders, 0, info);
          break;
        }
    }
  data->folder_index = 0;
  if (data->replayed)
    sync_next_folder (task);
  else
    replay_journal (task);
}

static void
folder_saved_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RunData *data = g_task_get_task_data (task);
  MailerFolder *folder = g_object_get_data (G_OBJECT (task), "saving-folder");
  FolderInfo *info = g_ptr_array_index (data->folders, data->folders->len - 1);
  GError *error = NULL;

  if (!mailer_store_save_folder_finish (MAILER_STORE (source), result, &error))
    {
      run_fail (task, error);
      return;
    }
  info->id = mailer_folder_get_id (folder);
  g_hash_table_insert (data->by_id, &info->id, info);
  save_next_folder (task);
}

static gint64
parent_id (RunData             *data,
           MailerImapListEntry *entry)
{
  const char *last;
  g_autofree char *parent = NULL;

  if (entry->delimiter == '\0' || (last = strrchr (entry->name, entry->delimiter)) == NULL)
    return 0;
  parent = g_strndup (entry->name, last - entry->name);
  for (guint i = 0; i < data->folders->len; i++)
    {
      FolderInfo *info = g_ptr_array_index (data->folders, i);

      if (g_str_equal (info->path, parent))
        return info->id;
    }
  return 0;
}

/* One at a time, parents first (the list is sorted by depth), so each
 * folder knows its parent's id. */
static void
save_next_folder (GTask *task)
{
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  GPtrArray *entries = g_object_get_data (G_OBJECT (task), "list-entries");
  MailerImapListEntry *entry;
  MailerFolder *folder;
  FolderInfo *info;

  if (data->folders->len >= entries->len)
    {
      folders_saved (task);
      return;
    }
  entry = g_ptr_array_index (entries, data->folders->len);

  info = g_new0 (FolderInfo, 1);
  info->path = g_strdup (entry->name);
  info->role = role_from_list (entry);
  info->selectable = TRUE;
  for (guint i = 0; entry->attributes[i] != NULL; i++)
    if (g_ascii_strcasecmp (entry->attributes[i], "\\Noselect") == 0 ||
        g_ascii_strcasecmp (entry->attributes[i], "\\NonExistent") == 0)
      info->selectable = FALSE;

  folder = mailer_folder_new (mailer_account_get_id (self->account), entry->name);
  mailer_folder_set_role (folder, info->role);
  if (entry->delimiter != '\0')
    mailer_folder_set_delimiter (folder, (char[]) { entry->delimiter, '\0' });
  mailer_folder_set_parent_id (folder, parent_id (data, entry));
  g_ptr_array_add (data->folders, info);
  g_object_set_data_full (G_OBJECT (task), "saving-folder", folder, g_object_unref);
  mailer_store_save_folder_async (self->store, folder, g_task_get_cancellable (task),
                                  folder_saved_cb, g_object_ref (task));
}

static void
listed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RunData *data = g_task_get_task_data (task);
  g_autoptr(MailerImapResponse) response = NULL;
  GPtrArray *entries = g_object_get_data (G_OBJECT (task), "list-entries");
  GError *error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      run_fail (task, error);
      return;
    }
  g_ptr_array_sort (entries, compare_depth);
  data->listed = TRUE;
  g_clear_pointer (&data->folders, g_ptr_array_unref);
  g_clear_pointer (&data->by_id, g_hash_table_unref);
  data->folders = g_ptr_array_new_with_free_func ((GDestroyNotify) folder_info_free);
  data->by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  save_next_folder (task);
}

static void
list_folders (GTask *task)
{
  MailerImapSync *self = g_task_get_source_object (task);
  GPtrArray *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_imap_list_entry_free);
  MailerImapCommand *command = mailer_imap_command_new ("LIST");

  g_object_set_data_full (G_OBJECT (task), "list-entries", entries, (GDestroyNotify) g_ptr_array_unref);
  mailer_imap_command_add_string (command, "", NULL);
  mailer_imap_command_add_string (command, "*", NULL);
  if (mailer_imap_client_has_capability (self->client, "SPECIAL-USE") &&
      mailer_imap_client_has_capability (self->client, "LIST-EXTENDED"))
    mailer_imap_command_add_raw (command, "RETURN (SPECIAL-USE)", NULL);
  run_command (self, command, list_untagged, task, listed_cb);
}

/* Connecting */

static void
logged_in_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GTask *next = g_object_get_data (G_OBJECT (task), "then");
  GError *error = NULL;

  if (!mailer_imap_client_login_finish (MAILER_IMAP_CLIENT (source), result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  (void) next;
  g_task_return_boolean (task, TRUE);
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapSync *self = g_task_get_source_object (task);
  const char *username = mailer_account_get_username (self->account);
  GError *error = NULL;

  if (!mailer_imap_client_connect_finish (MAILER_IMAP_CLIENT (source), result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (username == NULL || username[0] == '\0')
    username = mailer_account_get_address (self->account);
  mailer_imap_client_login_async (MAILER_IMAP_CLIENT (source), username ? username : "", self->password,
                                  g_task_get_cancellable (task), logged_in_cb, g_object_ref (task));
}

/* Makes sure self->client is connected and logged in. */
/* The reader's connection is made (or not): everyone waiting hears. */
static void
reader_line_ready_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  MailerImapSync *self = MAILER_IMAP_SYNC (source);
  g_autoptr(GPtrArray) waiters = g_steal_pointer (&self->reader_waiters);
  g_autoptr(GError) error = NULL;

  self->reader_connecting = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error) && self->reader != NULL)
    {
      mailer_imap_client_disconnect (self->reader);
      g_clear_object (&self->reader);
    }
  for (guint i = 0; waiters != NULL && i < waiters->len; i++)
    {
      GTask *waiter = g_ptr_array_index (waiters, i);

      if (error != NULL)
        g_task_return_error (waiter, g_error_copy (error));
      else
        g_task_return_boolean (waiter, TRUE);
    }
}

static void
connect_line_async (MailerImapSync      *self,
                    gboolean             reader,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(MailerConnection) connection = NULL;
  MailerImapClient **client = reader ? &self->reader : &self->client;

  if (*client != NULL && mailer_imap_client_is_connected (*client))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (reader)
    {
      /* One connection at a time: a body asked for while the line is
       * being connected waits for that. */
      if (self->reader_waiters == NULL)
        self->reader_waiters = g_ptr_array_new_with_free_func (g_object_unref);
      g_ptr_array_add (self->reader_waiters, g_steal_pointer (&task));
      if (self->reader_connecting)
        return;
      self->reader_connecting = TRUE;
      task = g_task_new (self, NULL, reader_line_ready_cb, NULL);
    }
  if (*client != NULL)
    mailer_imap_client_disconnect (*client);
  g_clear_object (client);
  g_clear_pointer (reader ? &self->reader_selected : &self->selected, g_free);

  connection = mailer_connection_new (mailer_account_get_host (self->account),
                                      mailer_account_get_port (self->account),
                                      mailer_account_get_security (self->account));
  mailer_connection_set_pinned_certificate (connection, mailer_account_get_pinned_certificate (self->account));
  *client = mailer_imap_client_new (connection);
  /* The reader's connection serves more than the one who asked first:
   * not cancelled with its request. */
  mailer_imap_client_connect_async (*client, reader ? NULL : cancellable, connected_cb, g_object_ref (task));
}

static void
ensure_connected_async (MailerImapSync      *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  connect_line_async (self, FALSE, cancellable, callback, user_data);
}

static gboolean
ensure_connected_finish (MailerImapSync  *self,
                         GAsyncResult    *result,
                         GError         **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* The folders the store knows for the account, as the last LIST left
 * them; FALSE when there is no inbox among them (a first run). */
static gboolean
known_folders (GTask *task)
{
  MailerImapSync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(GPtrArray) folders = mailer_store_list_folders (self->store, mailer_account_get_id (self->account), NULL);
  gboolean inbox = FALSE;

  if (folders == NULL)
    return FALSE;
  for (guint i = 0; i < folders->len; i++)
    if (mailer_folder_get_role (folders->pdata[i]) == MAILER_FOLDER_ROLE_INBOX)
      inbox = TRUE;
  if (!inbox)
    return FALSE;

  data->folders = g_ptr_array_new_with_free_func ((GDestroyNotify) folder_info_free);
  data->by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint i = 0; i < folders->len; i++)
    {
      MailerFolder *folder = folders->pdata[i];
      FolderInfo *info = g_new0 (FolderInfo, 1);

      info->id = mailer_folder_get_id (folder);
      info->path = g_strdup (mailer_folder_get_path (folder));
      info->role = mailer_folder_get_role (folder);
      info->selectable = TRUE;
      if (info->role == MAILER_FOLDER_ROLE_INBOX)
        g_ptr_array_insert (data->folders, 0, info);
      else
        g_ptr_array_add (data->folders, info);
      g_hash_table_insert (data->by_id, &info->id, info);
    }
  return TRUE;
}

static void
run_connected_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapSync *self = MAILER_IMAP_SYNC (source);
  GError *error = NULL;

  if (!ensure_connected_finish (self, result, &error))
    {
      run_fail (task, error);
      return;
    }
  mailer_account_set_connection_state (self->account, MAILER_CONNECTION_STATE_SYNCING);
  /* Folders known from before: the journal and the inbox first, with
   * what the store knows of the folders, then LIST for what changed (it
   * also costs the server: Dovecot opens a large inbox several times
   * slower after a LIST).  A push run does without LIST; the periodic
   * runs see new folders. */
  if (!known_folders (task))
    {
      list_folders (task);
      return;
    }
  replay_journal (task);
}

static void
start_run (MailerImapSync      *self,
           gboolean             inbox_only,
           GCancellable        *cancellable,
           GAsyncReadyCallback  callback,
           gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  RunData *data;

  g_task_set_source_tag (task, mailer_imap_sync_run_async);
  if (self->running)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_BUSY,
                               "Mail is already being checked for this account");
      return;
    }
  self->running = TRUE;
  data = g_new0 (RunData, 1);
  data->inbox_only = inbox_only;
  data->synced = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_task_set_task_data (task, data, (GDestroyNotify) run_data_free);

  if (self->client == NULL || !mailer_imap_client_is_connected (self->client))
    mailer_account_set_connection_state (self->account, MAILER_CONNECTION_STATE_CONNECTING);
  ensure_connected_async (self, cancellable, run_connected_cb, g_object_ref (task));
}

/**
 * mailer_imap_sync_run_async:
 *
 * One full run: folders, journal replay, resync of every folder.  The
 * connection stays open afterwards (for push and body fetches).
 */
void
mailer_imap_sync_run_async (MailerImapSync      *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (MAILER_IS_IMAP_SYNC (self));

  /* IDLE holds the connection: end it first; the push loop resumes
   * after the run. */
  if (self->idling && self->client != NULL)
    mailer_imap_client_idle_done (self->client);
  start_run (self, FALSE, cancellable, callback, user_data);
}

gboolean
mailer_imap_sync_run_finish (MailerImapSync        *self,
                             GAsyncResult          *result,
                             MailerImapSyncResult  *out_result,
                             GError               **error)
{
  RunData *data;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  data = g_task_get_task_data (G_TASK (result));
  if (out_result != NULL && data != NULL)
    *out_result = data->result;
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Bodies */

typedef struct
{
  gint64 message_id;
  gint64 folder_id;
  guint32 uid;
  char *path;
  GBytes *raw;
} BodyData;

static void
body_data_free (BodyData *data)
{
  g_free (data->path);
  g_clear_pointer (&data->raw, g_bytes_unref);
  g_free (data);
}

static void
body_stored_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!mailer_store_set_raw_finish (MAILER_STORE (source), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static gboolean
body_untagged (MailerImapClient         *client,
               const MailerImapResponse *response,
               gpointer                  user_data)
{
  GTask *task = user_data;
  BodyData *data = g_task_get_task_data (task);
  g_autoptr(MailerImapFetch) fetch = NULL;
  GBytes *body;

  if (g_strcmp0 (response->name, "FETCH") != 0)
    return FALSE;
  fetch = mailer_imap_parse_fetch (response, NULL);
  if (fetch == NULL || fetch->uid != data->uid || fetch->sections == NULL)
    return FALSE;
  body = g_hash_table_lookup (fetch->sections, "");
  if (body != NULL)
    {
      g_clear_pointer (&data->raw, g_bytes_unref);
      data->raw = g_bytes_ref (body);
    }
  return TRUE;
}

static void
body_fetched_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapSync *self = g_task_get_source_object (task);
  BodyData *data = g_task_get_task_data (task);
  g_autoptr(MailerImapResponse) response = NULL;
  GError *error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (data->raw == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                               "The message is no longer on the server");
      return;
    }
  mailer_store_set_raw_async (self->store, data->message_id, data->raw, g_task_get_cancellable (task),
                              body_stored_cb, g_object_ref (task));
}

static void
body_selected_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapSync *self = g_task_get_source_object (task);
  BodyData *data = g_task_get_task_data (task);
  g_autoptr(MailerImapResponse) response = NULL;
  MailerImapCommand *command;
  GError *error = NULL;

  if (source != NULL)
    {
      response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
      if (response == NULL)
        {
          g_clear_pointer (&self->reader_selected, g_free);
          g_task_return_error (task, error);
          return;
        }
      g_free (self->reader_selected);
      self->reader_selected = g_strdup (data->path);
    }

  command = mailer_imap_command_new ("UID FETCH");
  mailer_imap_command_add_number (command, data->uid);
  mailer_imap_command_add_raw (command, "(UID BODY.PEEK[])", NULL);
  mailer_imap_client_run_async (self->reader, command, body_untagged, task, g_task_get_cancellable (task),
                                body_fetched_cb, g_object_ref (task));
}

static void
body_connected_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapSync *self = MAILER_IMAP_SYNC (source);
  BodyData *data = g_task_get_task_data (task);
  MailerImapCommand *command;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (g_strcmp0 (self->reader_selected, data->path) == 0)
    {
      body_selected_cb (NULL, NULL, g_object_ref (task));
      return;
    }
  /* EXAMINE: reading never changes the folder (\Recent stays). */
  command = mailer_imap_command_new ("EXAMINE");
  mailer_imap_command_add_mailbox (command, data->path, mailer_imap_client_get_utf8_accepted (self->reader), NULL);
  mailer_imap_client_run_async (self->reader, command, NULL, NULL, g_task_get_cancellable (task),
                                body_selected_cb, g_object_ref (task));
}

static void reader_idle (MailerImapSync *self);

static void
body_completed_cb (GTask          *task,
                   GParamSpec     *pspec,
                   MailerImapSync *self)
{
  self->reader_busy--;
  reader_idle (self);
}

/**
 * mailer_imap_sync_fetch_body_async:
 *
 * Downloads the whole of a message whose summary alone is stored, for
 * reading (and from then on offline).  It comes on a connection of its
 * own: a sync under way neither delays it nor is disturbed by it.
 */
void
mailer_imap_sync_fetch_body_async (MailerImapSync      *self,
                                   gint64               message_id,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(MailerFolder) folder = NULL;
  BodyData *data;
  gint64 uid = 0;
  GError *error = NULL;

  g_return_if_fail (MAILER_IS_IMAP_SYNC (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_imap_sync_fetch_body_async);
  data = g_new0 (BodyData, 1);
  data->message_id = message_id;
  g_task_set_task_data (task, data, (GDestroyNotify) body_data_free);

  if (!mailer_store_get_server_ids (self->store, message_id, &data->folder_id, &uid, NULL, &error) ||
      (folder = mailer_store_get_folder (self->store, data->folder_id, &error)) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (uid <= 0)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               "The message is being moved; it can be opened once that is done");
      return;
    }
  data->uid = uid;
  data->path = g_strdup (mailer_folder_get_path (folder));

  self->reader_busy++;
  g_signal_connect_object (task, "notify::completed", G_CALLBACK (body_completed_cb), self, 0);
  if (self->reader_idling && self->reader != NULL)
    mailer_imap_client_idle_done (self->reader);
  connect_line_async (self, TRUE, cancellable, body_connected_cb, g_object_ref (task));
}

gboolean
mailer_imap_sync_fetch_body_finish (MailerImapSync  *self,
                                    GAsyncResult    *result,
                                    GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Push */

static void push_run_cb (GObject *source, GAsyncResult *result, gpointer user_data);

static gboolean
retry_cb (gpointer user_data)
{
  MailerImapSync *self = user_data;

  self->retry_id = 0;
  if (self->push && !self->running)
    start_run (self, TRUE, self->push_cancellable, push_run_cb, g_object_ref (self));
  return G_SOURCE_REMOVE;
}

static void
push_run_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(MailerImapSync) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!mailer_imap_sync_run_finish (self, result, NULL, &error))
    {
      if (!self->push || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BUSY))
        {
          self->wanted = TRUE;
          return;
        }
      /* A rejected password is not tried again and again (the server may
       * lock the account): the user is asked for another. */
      if (g_error_matches (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_AUTH_FAILED) ||
          mailer_setup_error_needs_trust (error))
        return;
      /* Offline, or the server went away: try again, less and less often. */
      g_debug ("Push for %s stopped: %s; retrying in %u s",
               mailer_account_get_host (self->account), error->message, self->retry_delay);
      if (self->retry_id == 0)
        self->retry_id = g_timeout_add_seconds (self->retry_delay, retry_cb, self);
      self->retry_delay = MIN (self->retry_delay * 2, 300);
      return;
    }
  self->retry_delay = 5;
  push_idle (self);
  reader_idle (self);
}

static void
idle_finished_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(MailerImapSync) self = user_data;
  g_autoptr(GError) error = NULL;

  self->idling = FALSE;
  g_clear_handle_id (&self->renew_id, g_source_remove);
  mailer_imap_client_idle_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (!self->push)
    return;
  /* Something changed (or it was time to renew): resync the inbox and
   * replay local changes, then IDLE again. */
  start_run (self, TRUE, self->push_cancellable, push_run_cb, g_object_ref (self));
}

static void
untagged_cb (MailerImapClient         *client,
             const MailerImapResponse *response,
             MailerImapSync           *self)
{
  if (!self->idling)
    return;
  if (g_strcmp0 (response->name, "EXISTS") == 0 || g_strcmp0 (response->name, "EXPUNGE") == 0 ||
      g_strcmp0 (response->name, "FETCH") == 0 || g_strcmp0 (response->name, "VANISHED") == 0 ||
      response->status == MAILER_IMAP_STATUS_BYE)
    mailer_imap_client_idle_done (client);
}

static gboolean
renew_cb (gpointer user_data)
{
  MailerImapSync *self = user_data;

  self->renew_id = 0;
  if (self->idling && self->client != NULL)
    mailer_imap_client_idle_done (self->client);
  return G_SOURCE_REMOVE;
}

static void
push_selected_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(MailerImapSync) self = user_data;
  g_autoptr(MailerImapResponse) response = NULL;
  g_autoptr(GError) error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      if (self->push && self->retry_id == 0)
        self->retry_id = g_timeout_add_seconds (self->retry_delay, retry_cb, self);
      return;
    }
  g_free (self->selected);
  self->selected = g_strdup ("INBOX");
  push_idle (self);
}

static void
push_idle (MailerImapSync *self)
{
  if (!self->push || self->idling || self->running || self->client == NULL)
    return;
  if (self->wanted)
    {
      self->wanted = FALSE;
      start_run (self, TRUE, self->push_cancellable, push_run_cb, g_object_ref (self));
      return;
    }
  if (!mailer_imap_client_has_capability (self->client, "IDLE"))
    {
      /* No push: check every few minutes instead. */
      if (self->retry_id == 0)
        self->retry_id = g_timeout_add_seconds (MAX (mailer_account_get_check_interval (self->account), 60),
                                                retry_cb, self);
      return;
    }
  if (g_strcmp0 (self->selected, "INBOX") != 0)
    {
      MailerImapCommand *command = mailer_imap_command_new ("SELECT");

      mailer_imap_command_add_mailbox (command, "INBOX", FALSE, NULL);
      mailer_imap_client_run_async (self->client, command, NULL, NULL, self->push_cancellable,
                                    push_selected_cb, g_object_ref (self));
      return;
    }

  g_signal_handlers_disconnect_by_func (self->client, untagged_cb, self);
  g_signal_connect_object (self->client, "untagged", G_CALLBACK (untagged_cb), self, 0);
  self->idling = TRUE;
  self->renew_id = g_timeout_add_seconds (IDLE_RENEW_SECONDS, renew_cb, self);
  mailer_imap_client_idle_async (self->client, self->push_cancellable, idle_finished_cb, g_object_ref (self));
}

/**
 * mailer_imap_sync_start_push:
 *
 * Keeps the inbox in step as things happen on the server (IDLE), and
 * replays local changes as soon as mailer_imap_sync_kick() says there are
 * some.  Reconnects with growing delays when the connection is lost.
 */
void
mailer_imap_sync_start_push (MailerImapSync *self)
{
  g_return_if_fail (MAILER_IS_IMAP_SYNC (self));

  if (self->push)
    return;
  self->push = TRUE;
  g_clear_object (&self->push_cancellable);
  self->push_cancellable = g_cancellable_new ();
  if (self->running)
    self->wanted = TRUE;
  else
    start_run (self, TRUE, self->push_cancellable, push_run_cb, g_object_ref (self));
}

void
mailer_imap_sync_stop_push (MailerImapSync *self)
{
  g_return_if_fail (MAILER_IS_IMAP_SYNC (self));

  self->push = FALSE;
  g_clear_handle_id (&self->renew_id, g_source_remove);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  g_clear_handle_id (&self->reader_renew_id, g_source_remove);
  if (self->idling && self->client != NULL)
    mailer_imap_client_idle_done (self->client);
  if (self->reader_idling && self->reader != NULL)
    mailer_imap_client_idle_done (self->reader);
  if (self->push_cancellable != NULL)
    g_cancellable_cancel (self->push_cancellable);
  g_clear_object (&self->push_cancellable);
}

/**
 * mailer_imap_sync_kick:
 *
 * Local changes are waiting in the journal: replay them now if the push
 * loop runs (otherwise the next run does).
 */
void
mailer_imap_sync_kick (MailerImapSync *self)
{
  g_return_if_fail (MAILER_IS_IMAP_SYNC (self));

  if (!self->push)
    return;
  if (self->idling && self->client != NULL)
    mailer_imap_client_idle_done (self->client);
  else if (self->running)
    self->wanted = TRUE;
  else if (self->retry_id != 0)
    {
      g_clear_handle_id (&self->retry_id, g_source_remove);
      retry_cb (self);
    }
}

/* Push on the open folder, on the reader's connection */

static void
reader_idle_finished_cb (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(MailerImapSync) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean changed = self->reader_saw_change;

  self->reader_idling = FALSE;
  self->reader_saw_change = FALSE;
  g_clear_handle_id (&self->reader_renew_id, g_source_remove);
  if (!mailer_imap_client_idle_finish (MAILER_IMAP_CLIENT (source), result, &error))
    {
      /* Lost: the inbox's push loop reconnects, and this one follows it
       * after its next successful run. */
      g_clear_pointer (&self->reader_selected, g_free);
      return;
    }
  /* Something changed there: a run resyncs the inbox and the open folder. */
  if (changed)
    mailer_imap_sync_kick (self);
  reader_idle (self);
}

static void
reader_untagged_cb (MailerImapClient         *client,
                    const MailerImapResponse *response,
                    MailerImapSync           *self)
{
  if (!self->reader_idling)
    return;
  if (g_strcmp0 (response->name, "EXISTS") == 0 || g_strcmp0 (response->name, "EXPUNGE") == 0 ||
      g_strcmp0 (response->name, "FETCH") == 0 || g_strcmp0 (response->name, "VANISHED") == 0)
    {
      self->reader_saw_change = TRUE;
      mailer_imap_client_idle_done (client);
    }
  else if (response->status == MAILER_IMAP_STATUS_BYE)
    mailer_imap_client_idle_done (client);
}

static gboolean
reader_renew_cb (gpointer user_data)
{
  MailerImapSync *self = user_data;

  self->reader_renew_id = 0;
  if (self->reader_idling && self->reader != NULL)
    mailer_imap_client_idle_done (self->reader);
  return G_SOURCE_REMOVE;
}

typedef struct
{
  MailerImapSync *self;
  char *path;
} ReaderSelect;

static void
reader_selected_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  ReaderSelect *select = user_data;
  g_autoptr(MailerImapSync) self = select->self;
  g_autofree char *path = select->path;
  g_autoptr(MailerImapResponse) response = NULL;
  g_autoptr(GError) error = NULL;

  g_free (select);
  self->reader_selecting = FALSE;
  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  g_clear_pointer (&self->reader_selected, g_free);
  if (response == NULL)
    {
      g_debug ("Watching %s stopped: %s", path, error->message);
      return;
    }
  self->reader_selected = g_steal_pointer (&path);
  reader_idle (self);
}

static void
reader_connected_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(MailerImapSync) self = user_data;
  g_autoptr(GError) error = NULL;

  self->reader_selecting = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_debug ("Watching the open folder stopped: %s", error->message);
      return;
    }
  reader_idle (self);
}

/* IDLE on the open folder when it is not the inbox (whose IDLE is on the
 * sync's connection), between body fetches. */
static void
reader_idle (MailerImapSync *self)
{
  if (!self->push || self->watched_path == NULL || self->reader_idling || self->reader_selecting ||
      self->reader_busy > 0)
    return;
  if (self->reader == NULL || !mailer_imap_client_is_connected (self->reader))
    {
      self->reader_selecting = TRUE;
      connect_line_async (self, TRUE, self->push_cancellable, reader_connected_cb, g_object_ref (self));
      return;
    }
  /* Without IDLE, the periodic runs check the open folder too. */
  if (!mailer_imap_client_has_capability (self->reader, "IDLE"))
    return;
  if (g_strcmp0 (self->reader_selected, self->watched_path) != 0)
    {
      MailerImapCommand *command = mailer_imap_command_new ("EXAMINE");
      ReaderSelect *select = g_new0 (ReaderSelect, 1);

      select->self = g_object_ref (self);
      select->path = g_strdup (self->watched_path);
      mailer_imap_command_add_mailbox (command, self->watched_path,
                                       mailer_imap_client_get_utf8_accepted (self->reader), NULL);
      self->reader_selecting = TRUE;
      mailer_imap_client_run_async (self->reader, command, NULL, NULL, self->push_cancellable,
                                    reader_selected_cb, select);
      return;
    }

  g_signal_handlers_disconnect_by_func (self->reader, reader_untagged_cb, self);
  g_signal_connect_object (self->reader, "untagged", G_CALLBACK (reader_untagged_cb), self, 0);
  self->reader_idling = TRUE;
  self->reader_renew_id = g_timeout_add_seconds (IDLE_RENEW_SECONDS, reader_renew_cb, self);
  mailer_imap_client_idle_async (self->reader, self->push_cancellable, reader_idle_finished_cb,
                                 g_object_ref (self));
}

/**
 * mailer_imap_sync_set_password:
 *
 * The password the next connections log in with (the user entered a new
 * one).
 */
void
mailer_imap_sync_set_password (MailerImapSync *self,
                               const char     *password)
{
  g_return_if_fail (MAILER_IS_IMAP_SYNC (self));

  if (self->password != NULL)
    memset (self->password, 0, strlen (self->password));
  g_free (self->password);
  self->password = g_strdup (password);
}

/**
 * mailer_imap_sync_watch_folder:
 * @folder_id: the folder the user has open, or 0
 *
 * With push on, changes on the server to the folder the user is looking
 * at show within seconds too, not only the inbox's: IDLE on it, on a
 * connection of its own, and each push run resyncs it with the inbox.
 */
void
mailer_imap_sync_watch_folder (MailerImapSync *self,
                               gint64          folder_id)
{
  g_autoptr(MailerFolder) folder = NULL;

  g_return_if_fail (MAILER_IS_IMAP_SYNC (self));

  if (folder_id != 0)
    folder = mailer_store_get_folder (self->store, folder_id, NULL);
  if (folder != NULL && (mailer_folder_get_account_id (folder) != mailer_account_get_id (self->account) ||
                         mailer_folder_get_role (folder) == MAILER_FOLDER_ROLE_INBOX))
    g_clear_object (&folder);
  if (folder == NULL && self->watched_id == 0)
    return;
  if (folder != NULL && folder_id == self->watched_id)
    return;

  self->watched_id = folder != NULL ? folder_id : 0;
  g_free (self->watched_path);
  self->watched_path = folder != NULL ? g_strdup (mailer_folder_get_path (folder)) : NULL;
  /* Out of IDLE on the old one; reader_idle () goes on with the new. */
  if (self->reader_idling && self->reader != NULL)
    mailer_imap_client_idle_done (self->reader);
  else
    reader_idle (self);
}
