/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerMessageList: a lazy GListModel of MailerMessage, newest first, for
 * one folder, for the unified inbox, or for a search.  A list of
 * conversations has one row per conversation: its newest message there.
 *
 * Only the sort keys (date, id) of the rows are held: 16 bytes a message,
 * read with one covering-index scan.  Rows become MailerMessage objects when
 * asked for, a page at a time; recently used pages are kept, older ones are
 * dropped, and an object still in use elsewhere (a list row) is found again
 * rather than duplicated (the store keeps one object per message, and
 * keeps it up to date).
 *
 * MailerStore::changed says which rows appeared, changed or left; the list
 * finds their positions by binary search on the sort key and emits
 * items-changed for exactly those positions.
 */
#include "config.h"

#include "mailer-message-list.h"
#include "mailer-store-private.h"

/* Pages of objects kept alive; ~1,600 rows, a few screens either way. */
#define MAX_PAGES 32
/* More separate runs than this in one change become one items-changed
 * over the range they span. */
#define MAX_RUNS 256
/* A list of conversations reads its rows again after a change, once the
 * changes stop coming for this long (a sync commits many in a row). */
#define CONVERSATIONS_RELOAD_MS 100

typedef enum
{
  LIST_FOLDER,
  LIST_UNIFIED_INBOX,
  LIST_SEARCH,
} ListKind;

typedef struct
{
  gint64 date;
  gint64 id;
} Key;

struct _MailerMessageList
{
  GObject parent_instance;

  MailerStore *store;
  ListKind kind;
  gint64 folder_id;          /* LIST_FOLDER; or the scope of LIST_SEARCH (0 = all) */
  char *fts_query;           /* LIST_SEARCH */

  GArray *keys;              /* of Key, newest first */
  GQueue pages;              /* of GPtrArray of MailerMessage (strong), newest first */
  guint n_loaded;            /* rows held by pages */
  GHashTable *inbox_folders; /* folder id -> GINT_TO_POINTER (is inbox + 1) */
  gulong changed_id;

  gboolean conversations;    /* one row per conversation (LIST_FOLDER, LIST_UNIFIED_INBOX) */
  GHashTable *thread_rows;   /* conversations: thread id -> its row's message id */
  GArray *updated_threads;   /* conversations: gint64, to tell about at the reload */
  guint reload_id;
};

static void mailer_message_list_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MailerMessageList, mailer_message_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, mailer_message_list_iface_init))

/* Newest first: negative when @a sorts before @b. */
static inline int
compare_keys (const Key *a,
              const Key *b)
{
  if (a->date != b->date)
    return a->date > b->date ? -1 : 1;
  if (a->id != b->id)
    return a->id > b->id ? -1 : 1;
  return 0;
}

/* The first position whose key does not sort before @key. */
static guint
lower_bound (GArray    *keys,
             const Key *key)
{
  guint lo = 0, hi = keys->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (compare_keys (&g_array_index (keys, Key, mid), key) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

static guint
find_key (MailerMessageList *self,
          gint64             id,
          gint64             date)
{
  Key key = { date, id };
  guint pos = lower_bound (self->keys, &key);

  if (pos < self->keys->len && g_array_index (self->keys, Key, pos).id == id)
    return pos;

  /* The date changed under us: look the slow way. */
  for (guint i = 0; i < self->keys->len; i++)
    if (g_array_index (self->keys, Key, i).id == id)
      return i;
  return G_MAXUINT;
}

/* Objects */

static MailerMessage *
load_object (MailerMessageList *self,
             gint64             id)
{
  g_autoptr(GError) error = NULL;
  MailerMessage *message = mailer_store_get_message (self->store, id, &error);

  if (message == NULL)
    {
      /* Deleted by a write whose change has not reached us yet: a blank
       * row for a moment, until it does. */
      if (!g_error_matches (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND))
        g_warning ("Cannot read message %" G_GINT64_FORMAT ": %s", id, error->message);
      message = mailer_message_new (id, 0);
    }
  return message;
}

static void
load_page (MailerMessageList *self,
           guint              position)
{
  guint start = position - position % MAILER_MESSAGE_LIST_PAGE_SIZE;
  guint end = MIN (start + MAILER_MESSAGE_LIST_PAGE_SIZE, self->keys->len);
  GPtrArray *page = g_ptr_array_new_full (end - start, g_object_unref);

  for (guint i = start; i < end; i++)
    g_ptr_array_add (page, load_object (self, g_array_index (self->keys, Key, i).id));

  g_queue_push_head (&self->pages, page);
  self->n_loaded += page->len;
  while (self->pages.length > MAX_PAGES)
    {
      GPtrArray *old = g_queue_pop_tail (&self->pages);

      self->n_loaded -= old->len;
      g_ptr_array_unref (old);
    }
}

static GType
mailer_message_list_get_item_type (GListModel *model)
{
  return MAILER_TYPE_MESSAGE;
}

static guint
mailer_message_list_get_n_items (GListModel *model)
{
  return MAILER_MESSAGE_LIST (model)->keys->len;
}

static gpointer
mailer_message_list_get_item (GListModel *model,
                              guint       position)
{
  MailerMessageList *self = MAILER_MESSAGE_LIST (model);
  gint64 id;
  MailerMessage *message;

  if (position >= self->keys->len)
    return NULL;

  id = g_array_index (self->keys, Key, position).id;
  message = g_hash_table_lookup (_mailer_store_get_live (self->store), &id);
  if (message == NULL)
    {
      GPtrArray *page;

      load_page (self, position);
      page = g_queue_peek_head (&self->pages);
      message = g_ptr_array_index (page, position % MAILER_MESSAGE_LIST_PAGE_SIZE);
    }
  return g_object_ref (message);
}

static void
mailer_message_list_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = mailer_message_list_get_item_type;
  iface->get_n_items = mailer_message_list_get_n_items;
  iface->get_item = mailer_message_list_get_item;
}

/* Membership */

static gboolean
folder_is_inbox (MailerMessageList *self,
                 gint64             folder_id)
{
  gpointer cached = g_hash_table_lookup (self->inbox_folders, &folder_id);
  g_autoptr(MailerFolder) folder = NULL;
  gboolean is_inbox;

  if (cached != NULL)
    return GPOINTER_TO_INT (cached) - 1;

  folder = mailer_store_get_folder (self->store, folder_id, NULL);
  is_inbox = folder != NULL && mailer_folder_get_role (folder) == MAILER_FOLDER_ROLE_INBOX;
  g_hash_table_insert (self->inbox_folders, g_memdup2 (&folder_id, sizeof folder_id),
                       GINT_TO_POINTER (is_inbox + 1));
  return is_inbox;
}

static gboolean
search_matches (MailerMessageList *self,
                gint64             id)
{
  sqlite3_stmt *stmt;
  gboolean matches;

  stmt = _mailer_store_read_stmt (self->store,
                                  "SELECT 1 FROM messages_fts WHERE messages_fts MATCH ?1 AND rowid = ?2",
                                  NULL);
  if (stmt == NULL)
    return FALSE;
  _mailer_store_bind_text (stmt, 1, self->fts_query);
  sqlite3_bind_int64 (stmt, 2, id);
  matches = sqlite3_step (stmt) == SQLITE_ROW;
  sqlite3_reset (stmt);
  return matches;
}

static gboolean
row_belongs (MailerMessageList    *self,
             const MailerStoreRow *row)
{
  switch (self->kind)
    {
    case LIST_FOLDER:
      return row->folder_id == self->folder_id;
    case LIST_UNIFIED_INBOX:
      return folder_is_inbox (self, row->folder_id);
    case LIST_SEARCH:
      return (self->folder_id == 0 || row->folder_id == self->folder_id) &&
             search_matches (self, row->id);
    default:
      g_assert_not_reached ();
    }
}

/* Changes */

static int
compare_guint (gconstpointer a,
               gconstpointer b)
{
  guint ua = *(const guint *) a, ub = *(const guint *) b;

  return ua < ub ? -1 : ua > ub;
}

static int
compare_keys_func (gconstpointer a,
                   gconstpointer b)
{
  return compare_keys (a, b);
}

/* Removes the rows at @positions (sorted ascending, distinct). */
static void
remove_positions (MailerMessageList *self,
                  GArray            *positions)
{
  g_autoptr(GArray) runs = g_array_new (FALSE, FALSE, sizeof (guint) * 2);
  guint i;

  if (positions->len == 0)
    return;

  for (i = 0; i < positions->len;)
    {
      guint run[2] = { g_array_index (positions, guint, i), 1 };

      while (i + run[1] < positions->len &&
             g_array_index (positions, guint, i + run[1]) == run[0] + run[1])
        run[1]++;
      g_array_append_vals (runs, run, 1);
      i += run[1];
    }

  if (runs->len > MAX_RUNS)
    {
      guint first = g_array_index (positions, guint, 0);
      guint last = g_array_index (positions, guint, positions->len - 1);
      g_autoptr(GArray) kept = g_array_sized_new (FALSE, FALSE, sizeof (Key), last - first + 1);
      guint j = 0;

      for (i = first; i <= last; i++)
        {
          if (j < positions->len && g_array_index (positions, guint, j) == i)
            j++;
          else
            g_array_append_val (kept, g_array_index (self->keys, Key, i));
        }
      g_array_remove_range (self->keys, first, last - first + 1);
      g_array_insert_vals (self->keys, first, kept->data, kept->len);
      g_list_model_items_changed (G_LIST_MODEL (self), first, last - first + 1, kept->len);
      return;
    }

  /* Last run first, so earlier positions stay right. */
  for (i = runs->len; i-- > 0;)
    {
      const guint *run = &g_array_index (runs, guint, i * 2);

      g_array_remove_range (self->keys, run[0], run[1]);
      g_list_model_items_changed (G_LIST_MODEL (self), run[0], run[1], 0);
    }
}

/* Inserts @new_keys (sorted, none present yet). */
static void
insert_keys (MailerMessageList *self,
             GArray            *new_keys)
{
  guint i = 0;
  guint n_runs = 0;

  if (new_keys->len == 0)
    return;

  /* Count the runs first: many scattered ones become one span. */
  {
    guint last = G_MAXUINT;

    for (guint k = 0; k < new_keys->len; k++)
      {
        guint pos = lower_bound (self->keys, &g_array_index (new_keys, Key, k));

        if (pos != last)
          n_runs++;
        last = pos;
      }
  }

  if (n_runs > MAX_RUNS)
    {
      guint first = lower_bound (self->keys, &g_array_index (new_keys, Key, 0));
      guint end = lower_bound (self->keys, &g_array_index (new_keys, Key, new_keys->len - 1));

      g_array_append_vals (self->keys, new_keys->data, new_keys->len);
      g_array_sort (self->keys, compare_keys_func);
      g_list_model_items_changed (G_LIST_MODEL (self), first, end - first,
                                  end - first + new_keys->len);
      return;
    }

  /* Front to back: each run goes in at its final position. */
  while (i < new_keys->len)
    {
      const Key *key = &g_array_index (new_keys, Key, i);
      guint pos = lower_bound (self->keys, key);
      guint n = 1;

      /* Keys that land at the same place form one run. */
      while (i + n < new_keys->len &&
             (pos == self->keys->len ||
              compare_keys (&g_array_index (new_keys, Key, i + n),
                            &g_array_index (self->keys, Key, pos)) < 0))
        n++;

      g_array_insert_vals (self->keys, pos, key, n);
      g_list_model_items_changed (G_LIST_MODEL (self), pos, 0, n);
      i += n;
    }
}

static void
emit_updated (MailerMessageList *self,
              GArray            *positions)
{
  guint i = 0;

  g_array_sort (positions, compare_guint);

  /* Many scattered rows (say, every other one marked read): one change
   * over the span they cover, rather than thousands. */
  {
    guint n_runs = 0;

    for (guint k = 0; k < positions->len; k++)
      if (k == 0 || g_array_index (positions, guint, k) != g_array_index (positions, guint, k - 1) + 1)
        n_runs++;
    if (n_runs > MAX_RUNS)
      {
        guint first = g_array_index (positions, guint, 0);
        guint span = g_array_index (positions, guint, positions->len - 1) - first + 1;

        g_list_model_items_changed (G_LIST_MODEL (self), first, span, span);
        return;
      }
  }

  while (i < positions->len)
    {
      guint start = g_array_index (positions, guint, i);
      guint n = 1;

      while (i + n < positions->len && g_array_index (positions, guint, i + n) == start + n)
        n++;
      g_list_model_items_changed (G_LIST_MODEL (self), start, n, n);
      i += n;
    }
}

/* Conversations */

static gboolean load_keys (MailerMessageList  *self,
                           GError            **error);

static gboolean
keys_equal (const Key *a,
            const Key *b)
{
  return a->date == b->date && a->id == b->id;
}

/* Reads the rows again, and tells what changed: the span between what
 * stayed the same at both ends, and the rows of conversations that
 * changed inside (a message read, say). */
static gboolean
reload_conversations (gpointer user_data)
{
  MailerMessageList *self = user_data;
  g_autoptr(GArray) old = g_steal_pointer (&self->keys);
  g_autoptr(GArray) threads = g_steal_pointer (&self->updated_threads);
  g_autoptr(GArray) positions = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GError) error = NULL;
  guint pre = 0, post = 0, n_old, n_new;

  self->reload_id = 0;
  self->updated_threads = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->keys = g_array_new (FALSE, FALSE, sizeof (Key));
  g_hash_table_remove_all (self->thread_rows);
  if (!load_keys (self, &error))
    {
      g_warning ("Cannot read the conversations: %s", error->message);
      g_array_unref (self->keys);
      self->keys = g_steal_pointer (&old);
      return G_SOURCE_REMOVE;
    }

  n_old = old->len;
  n_new = self->keys->len;
  while (pre < n_old && pre < n_new &&
         keys_equal (&g_array_index (old, Key, pre), &g_array_index (self->keys, Key, pre)))
    pre++;
  while (post < n_old - pre && post < n_new - pre &&
         keys_equal (&g_array_index (old, Key, n_old - 1 - post),
                     &g_array_index (self->keys, Key, n_new - 1 - post)))
    post++;
  if (pre + post < MAX (n_old, n_new))
    g_list_model_items_changed (G_LIST_MODEL (self), pre, n_old - pre - post, n_new - pre - post);

  for (guint i = 0; i < threads->len; i++)
    {
      const Key *key = g_hash_table_lookup (self->thread_rows, &g_array_index (threads, gint64, i));
      guint pos = key != NULL ? find_key (self, key->id, key->date) : G_MAXUINT;

      if (pos != G_MAXUINT && (pos < pre || pos >= n_new - post))
        g_array_append_val (positions, pos);
    }
  if (positions->len > 0)
    emit_updated (self, positions);
  return G_SOURCE_REMOVE;
}

static gboolean
row_in_scope (MailerMessageList    *self,
              const MailerStoreRow *row)
{
  return self->kind == LIST_FOLDER ? row->folder_id == self->folder_id : folder_is_inbox (self, row->folder_id);
}

static void
conversations_changed (MailerMessageList  *self,
                       MailerStoreChanges *changes)
{
  gboolean touched = FALSE;

  for (guint i = 0; i < changes->removed->len; i++)
    touched |= row_in_scope (self, &g_array_index (changes->removed, MailerStoreRow, i));
  for (guint i = 0; i < changes->inserted->len; i++)
    touched |= row_in_scope (self, &g_array_index (changes->inserted, MailerStoreRow, i));
  for (guint i = 0; i < changes->updated->len; i++)
    {
      const MailerStoreRow *row = &g_array_index (changes->updated, MailerStoreRow, i);
      MailerMessage *message;

      if (!row_in_scope (self, row))
        continue;
      touched = TRUE;
      /* Its conversation's row may show another message: tell about that
       * row at the reload. */
      message = g_hash_table_lookup (_mailer_store_get_live (self->store), &row->id);
      if (message != NULL)
        {
          gint64 thread = mailer_message_get_thread_id (message);

          g_array_append_val (self->updated_threads, thread);
        }
      else
        {
          g_autoptr(MailerMessage) loaded = mailer_store_get_message (self->store, row->id, NULL);
          gint64 thread = loaded != NULL ? mailer_message_get_thread_id (loaded) : 0;

          if (thread != 0)
            g_array_append_val (self->updated_threads, thread);
        }
    }
  if (touched && self->reload_id == 0)
    self->reload_id = g_timeout_add (CONVERSATIONS_RELOAD_MS, reload_conversations, self);
}

static void
store_changed_cb (MailerStore        *store,
                  MailerStoreChanges *changes,
                  MailerMessageList  *self)
{
  g_autoptr(GArray) positions = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) new_keys = g_array_new (FALSE, FALSE, sizeof (Key));
  g_autoptr(GHashTable) removed_ids = g_hash_table_new (g_int64_hash, g_int64_equal);

  /* A folder's role may have changed. */
  for (guint i = 0; i < changes->folders->len; i++)
    g_hash_table_remove (self->inbox_folders, &g_array_index (changes->folders, gint64, i));

  if (self->conversations)
    {
      conversations_changed (self, changes);
      return;
    }

  /* Rows that left. */
  for (guint i = 0; i < changes->removed->len; i++)
    {
      const MailerStoreRow *row = &g_array_index (changes->removed, MailerStoreRow, i);
      guint pos;

      if (self->kind == LIST_FOLDER && row->folder_id != self->folder_id)
        continue;
      pos = find_key (self, row->id, row->date);
      if (pos != G_MAXUINT && !g_hash_table_contains (removed_ids, &row->id))
        {
          g_hash_table_add (removed_ids, (gpointer) &row->id);
          g_array_append_val (positions, pos);
        }
    }
  g_array_sort (positions, compare_guint);
  remove_positions (self, positions);
  g_array_set_size (positions, 0);

  /* Rows changed in place: refresh the objects in use, and tell. */
  for (guint i = 0; i < changes->updated->len; i++)
    {
      const MailerStoreRow *row = &g_array_index (changes->updated, MailerStoreRow, i);
      guint pos;

      if (self->kind == LIST_FOLDER && row->folder_id != self->folder_id)
        continue;
      pos = find_key (self, row->id, row->date);
      if (pos == G_MAXUINT)
        {
          /* A message whose body just arrived may now match a search. */
          if (self->kind == LIST_SEARCH && row_belongs (self, row))
            {
              Key key = { row->date, row->id };

              g_array_append_val (new_keys, key);
            }
          continue;
        }
      g_array_append_val (positions, pos);
    }
  emit_updated (self, positions);

  /* Rows that arrived. */
  for (guint i = 0; i < changes->inserted->len; i++)
    {
      const MailerStoreRow *row = &g_array_index (changes->inserted, MailerStoreRow, i);
      Key key = { row->date, row->id };

      if (row_belongs (self, row))
        g_array_append_val (new_keys, key);
    }
  g_array_sort (new_keys, compare_keys_func);
  insert_keys (self, new_keys);
}

/* Construction */

static void
mailer_message_list_finalize (GObject *object)
{
  MailerMessageList *self = (MailerMessageList *)object;

  g_clear_signal_handler (&self->changed_id, self->store);
  g_clear_handle_id (&self->reload_id, g_source_remove);
  g_clear_pointer (&self->thread_rows, g_hash_table_unref);
  g_clear_pointer (&self->updated_threads, g_array_unref);
  g_queue_clear_full (&self->pages, (GDestroyNotify) g_ptr_array_unref);
  g_clear_pointer (&self->inbox_folders, g_hash_table_unref);
  g_clear_pointer (&self->keys, g_array_unref);
  g_clear_pointer (&self->fts_query, g_free);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (mailer_message_list_parent_class)->finalize (object);
}

static void
mailer_message_list_class_init (MailerMessageListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mailer_message_list_finalize;
}

static void
mailer_message_list_init (MailerMessageList *self)
{
  self->keys = g_array_new (FALSE, FALSE, sizeof (Key));
  self->inbox_folders = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_queue_init (&self->pages);
}

static gboolean
load_keys (MailerMessageList  *self,
           GError            **error)
{
  sqlite3_stmt *stmt;
  int rc;

  switch (self->kind)
    {
    case LIST_FOLDER:
      /* With the conversations: the index holds them too. */
      stmt = _mailer_store_read_stmt (self->store,
                                      "SELECT date, id, thread_id FROM messages WHERE folder_id = ?1"
                                      " ORDER BY date DESC, id DESC",
                                      error);
      if (stmt != NULL)
        sqlite3_bind_int64 (stmt, 1, self->folder_id);
      break;
    case LIST_UNIFIED_INBOX:
      stmt = _mailer_store_read_stmt (self->store,
                                      "SELECT m.date, m.id, m.thread_id FROM messages m"
                                      " WHERE m.folder_id IN (SELECT id FROM folders WHERE role = 'inbox')"
                                      " ORDER BY m.date DESC, m.id DESC",
                                      error);
      break;
    case LIST_SEARCH:
      stmt = _mailer_store_read_stmt (self->store,
                                      "SELECT m.date, m.id FROM messages_fts f"
                                      " JOIN messages m ON m.id = f.rowid"
                                      " WHERE messages_fts MATCH ?1 AND (?2 = 0 OR m.folder_id = ?2)"
                                      " ORDER BY m.date DESC, m.id DESC",
                                      error);
      if (stmt != NULL)
        {
          _mailer_store_bind_text (stmt, 1, self->fts_query);
          sqlite3_bind_int64 (stmt, 2, self->folder_id);
        }
      break;
    default:
      g_assert_not_reached ();
    }
  if (stmt == NULL)
    return FALSE;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      Key key = { sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1) };

      /* Newest first: a conversation's row is the first of it met. */
      if (self->conversations)
        {
          gint64 thread = sqlite3_column_int64 (stmt, 2);

          if (g_hash_table_contains (self->thread_rows, &thread))
            continue;
          g_hash_table_insert (self->thread_rows, g_memdup2 (&thread, sizeof thread), g_memdup2 (&key, sizeof key));
        }
      g_array_append_val (self->keys, key);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      _mailer_store_set_error (error, _mailer_store_get_read_db (self->store), rc,
                               "Reading the message list");
      return FALSE;
    }
  return TRUE;
}

static MailerMessageList *
list_new (MailerStore  *store,
          ListKind      kind,
          gint64        folder_id,
          const char   *fts_query,
          gboolean      conversations,
          GError      **error)
{
  g_autoptr(MailerMessageList) self = g_object_new (MAILER_TYPE_MESSAGE_LIST, NULL);

  self->store = g_object_ref (store);
  self->kind = kind;
  self->folder_id = folder_id;
  self->fts_query = g_strdup (fts_query);
  self->conversations = conversations;
  if (conversations)
    {
      self->thread_rows = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
      self->updated_threads = g_array_new (FALSE, FALSE, sizeof (gint64));
    }

  if (!load_keys (self, error))
    return NULL;

  self->changed_id = g_signal_connect (store, "changed", G_CALLBACK (store_changed_cb), self);
  return g_steal_pointer (&self);
}

/**
 * mailer_message_list_new_for_folder:
 *
 * Returns: (transfer full): the messages of one folder, newest first
 */
MailerMessageList *
mailer_message_list_new_for_folder (MailerStore  *store,
                                    gint64        folder_id,
                                    GError      **error)
{
  g_return_val_if_fail (MAILER_IS_STORE (store), NULL);
  return list_new (store, LIST_FOLDER, folder_id, NULL, FALSE, error);
}

/**
 * mailer_message_list_new_conversations:
 * @folder_id: a folder, or 0 for every account's inbox
 *
 * Returns: (transfer full): one row per conversation in the folder (or
 *   the inboxes): its newest message there, newest first
 */
MailerMessageList *
mailer_message_list_new_conversations (MailerStore  *store,
                                       gint64        folder_id,
                                       GError      **error)
{
  g_return_val_if_fail (MAILER_IS_STORE (store), NULL);
  return list_new (store, folder_id != 0 ? LIST_FOLDER : LIST_UNIFIED_INBOX, folder_id, NULL, TRUE, error);
}

gboolean
mailer_message_list_get_conversations (MailerMessageList *self)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE_LIST (self), FALSE);
  return self->conversations;
}

static sqlite3_stmt *
conversation_stmt (MailerMessageList *self,
                   const char        *folder_sql,
                   const char        *inbox_sql,
                   gint64             thread_id)
{
  sqlite3_stmt *stmt = _mailer_store_read_stmt (self->store, self->kind == LIST_FOLDER ? folder_sql : inbox_sql,
                                                NULL);

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, thread_id);
  if (self->kind == LIST_FOLDER)
    sqlite3_bind_int64 (stmt, 2, self->folder_id);
  return stmt;
}

/**
 * mailer_message_list_count_conversation:
 * @n_messages: (out): messages of @message's conversation in the list's
 *   folder (or the inboxes)
 * @n_unread: (out): how many of them are unread
 */
void
mailer_message_list_count_conversation (MailerMessageList *self,
                                        MailerMessage     *message,
                                        guint             *n_messages,
                                        guint             *n_unread)
{
  sqlite3_stmt *stmt;

  g_return_if_fail (MAILER_IS_MESSAGE_LIST (self));

  *n_messages = 1;
  *n_unread = mailer_message_get_unread (message);
  stmt = conversation_stmt (self,
                            "SELECT count (*), total ((flags & 9) = 0) FROM messages"
                            " WHERE thread_id = ?1 AND folder_id = ?2",
                            "SELECT count (*), total ((flags & 9) = 0) FROM messages"
                            " WHERE thread_id = ?1 AND folder_id IN (SELECT id FROM folders WHERE role = 'inbox')",
                            mailer_message_get_thread_id (message));
  if (stmt == NULL)
    return;
  if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_int64 (stmt, 0) > 0)
    {
      *n_messages = sqlite3_column_int64 (stmt, 0);
      *n_unread = sqlite3_column_int64 (stmt, 1);
    }
  sqlite3_reset (stmt);
}

/**
 * mailer_message_list_list_conversation:
 *
 * Returns: (transfer full) (element-type gint64): the ids of the messages
 *   of @message's conversation in the list's folder (or the inboxes),
 *   oldest first
 */
GArray *
mailer_message_list_list_conversation (MailerMessageList *self,
                                       MailerMessage     *message)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  sqlite3_stmt *stmt;

  g_return_val_if_fail (MAILER_IS_MESSAGE_LIST (self), ids);

  stmt = conversation_stmt (self,
                            "SELECT id FROM messages WHERE thread_id = ?1 AND folder_id = ?2 ORDER BY date, id",
                            "SELECT id FROM messages WHERE thread_id = ?1"
                            " AND folder_id IN (SELECT id FROM folders WHERE role = 'inbox') ORDER BY date, id",
                            mailer_message_get_thread_id (message));
  while (stmt != NULL && sqlite3_step (stmt) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);

      g_array_append_val (ids, id);
    }
  if (stmt != NULL)
    sqlite3_reset (stmt);
  if (ids->len == 0)
    {
      gint64 id = mailer_message_get_id (message);

      g_array_append_val (ids, id);
    }
  return ids;
}

/**
 * mailer_message_list_new_unified_inbox:
 *
 * Returns: (transfer full): the messages of every account's inbox, newest
 *   first
 */
MailerMessageList *
mailer_message_list_new_unified_inbox (MailerStore  *store,
                                       GError      **error)
{
  g_return_val_if_fail (MAILER_IS_STORE (store), NULL);
  return list_new (store, LIST_UNIFIED_INBOX, 0, NULL, FALSE, error);
}

/**
 * mailer_message_list_new_search:
 * @text: what the user typed; every word must match, as a prefix, in the
 *   subject, the addresses or the text
 * @folder_id: the folder to search, or 0 for all of them
 *
 * Returns: (transfer full): the matching messages, newest first (empty
 *   when @text has no words)
 */
MailerMessageList *
mailer_message_list_new_search (MailerStore  *store,
                                const char   *text,
                                gint64        folder_id,
                                GError      **error)
{
  g_autofree char *query = mailer_store_make_search_query (text);

  g_return_val_if_fail (MAILER_IS_STORE (store), NULL);

  if (query == NULL)
    {
      /* Nothing to look for: an empty list that stays empty. */
      MailerMessageList *self = g_object_new (MAILER_TYPE_MESSAGE_LIST, NULL);

      self->store = g_object_ref (store);
      self->kind = LIST_SEARCH;
      return self;
    }
  return list_new (store, LIST_SEARCH, folder_id, query, FALSE, error);
}

/**
 * mailer_message_list_find:
 *
 * Returns: the position of @message_id, or %G_MAXUINT
 */
guint
mailer_message_list_find (MailerMessageList *self,
                          gint64             message_id)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE_LIST (self), G_MAXUINT);

  for (guint i = 0; i < self->keys->len; i++)
    if (g_array_index (self->keys, Key, i).id == message_id)
      return i;
  /* An older message of a conversation: its conversation's row. */
  if (self->conversations)
    {
      g_autoptr(MailerMessage) message = mailer_store_get_message (self->store, message_id, NULL);
      MailerStoreRow row = { 0, };
      const Key *key = NULL;

      if (message != NULL)
        {
          row.id = message_id;
          row.folder_id = mailer_message_get_folder_id (message);
          if (row_in_scope (self, &row))
            key = g_hash_table_lookup (self->thread_rows, &(gint64) { mailer_message_get_thread_id (message) });
        }

      if (key != NULL)
        return find_key (self, key->id, key->date);
    }
  return G_MAXUINT;
}

/**
 * mailer_message_list_get_id:
 *
 * Returns: the message id at @position without loading its row, or 0
 */
gint64
mailer_message_list_get_id (MailerMessageList *self,
                            guint              position)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE_LIST (self), 0);

  if (position >= self->keys->len)
    return 0;
  return g_array_index (self->keys, Key, position).id;
}

/**
 * mailer_message_list_get_n_loaded:
 *
 * Returns: how many rows the list keeps loaded right now (for tests and
 *   benchmarks: it stays far below the number of items)
 */
guint
mailer_message_list_get_n_loaded (MailerMessageList *self)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE_LIST (self), 0);
  return self->n_loaded;
}
