/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerFolder: one mailbox of an account (IMAP mailbox, or the local
 * folders of a POP3 account) with the counts the sidebar shows.
 */
#include "config.h"

#include "mailer-folder.h"
#include "mailer-model-enum-types.h"
#include "mailer-model-private.h"

#include <string.h>

struct _MailerFolder
{
  GObject parent_instance;

  gint64 id;
  gint64 account_id;
  char *path;
  char *display_name;
  char *delimiter;
  gint64 parent_id;
  MailerFolderRole role;
  guint unread_count;
  guint total_count;
  GListStore *children;   /* of MailerFolder; created on demand */
};

G_DEFINE_FINAL_TYPE (MailerFolder, mailer_folder, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_ACCOUNT_ID,
  PROP_PATH,
  PROP_DISPLAY_NAME,
  PROP_ROLE,
  PROP_UNREAD_COUNT,
  PROP_TOTAL_COUNT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
mailer_folder_finalize (GObject *object)
{
  MailerFolder *self = (MailerFolder *)object;

  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->display_name, g_free);
  g_clear_pointer (&self->delimiter, g_free);
  g_clear_object (&self->children);

  G_OBJECT_CLASS (mailer_folder_parent_class)->finalize (object);
}

static void
mailer_folder_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  MailerFolder *self = MAILER_FOLDER (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_int64 (value, self->id);
      break;
    case PROP_ACCOUNT_ID:
      g_value_set_int64 (value, self->account_id);
      break;
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_DISPLAY_NAME:
      g_value_set_string (value, mailer_folder_get_display_name (self));
      break;
    case PROP_ROLE:
      g_value_set_enum (value, self->role);
      break;
    case PROP_UNREAD_COUNT:
      g_value_set_uint (value, self->unread_count);
      break;
    case PROP_TOTAL_COUNT:
      g_value_set_uint (value, self->total_count);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mailer_folder_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  MailerFolder *self = MAILER_FOLDER (object);

  switch (prop_id)
    {
    case PROP_ID:
      mailer_folder_set_id (self, g_value_get_int64 (value));
      break;
    case PROP_ACCOUNT_ID:
      self->account_id = g_value_get_int64 (value);
      break;
    case PROP_PATH:
      self->path = g_value_dup_string (value);
      break;
    case PROP_DISPLAY_NAME:
      mailer_folder_set_display_name (self, g_value_get_string (value));
      break;
    case PROP_ROLE:
      mailer_folder_set_role (self, g_value_get_enum (value));
      break;
    case PROP_UNREAD_COUNT:
      mailer_folder_set_unread_count (self, g_value_get_uint (value));
      break;
    case PROP_TOTAL_COUNT:
      mailer_folder_set_total_count (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mailer_folder_class_init (MailerFolderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mailer_folder_finalize;
  object_class->get_property = mailer_folder_get_property;
  object_class->set_property = mailer_folder_set_property;

  properties[PROP_ID] =
    g_param_spec_int64 ("id", NULL, NULL,
                        0, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_ACCOUNT_ID] =
    g_param_spec_int64 ("account-id", NULL, NULL,
                        0, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /* The server's name for the mailbox, in UTF-8. */
  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /* What the user sees; the last component of the path unless set. */
  properties[PROP_DISPLAY_NAME] =
    g_param_spec_string ("display-name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_ROLE] =
    g_param_spec_enum ("role", NULL, NULL,
                       MAILER_TYPE_FOLDER_ROLE, MAILER_FOLDER_ROLE_NONE,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_UNREAD_COUNT] =
    g_param_spec_uint ("unread-count", NULL, NULL,
                       0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_TOTAL_COUNT] =
    g_param_spec_uint ("total-count", NULL, NULL,
                       0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mailer_folder_init (MailerFolder *self)
{
}

MailerFolder *
mailer_folder_new (gint64      account_id,
                   const char *path)
{
  g_return_val_if_fail (path != NULL, NULL);

  return g_object_new (MAILER_TYPE_FOLDER,
                       "account-id", account_id,
                       "path", path,
                       NULL);
}

gint64
mailer_folder_get_id (MailerFolder *self)
{
  g_return_val_if_fail (MAILER_IS_FOLDER (self), 0);
  return self->id;
}

void
mailer_folder_set_id (MailerFolder *self,
                      gint64        id)
{
  g_return_if_fail (MAILER_IS_FOLDER (self));

  if (self->id != id)
    {
      self->id = id;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ID]);
    }
}

gint64
mailer_folder_get_account_id (MailerFolder *self)
{
  g_return_val_if_fail (MAILER_IS_FOLDER (self), 0);
  return self->account_id;
}

const char *
mailer_folder_get_path (MailerFolder *self)
{
  g_return_val_if_fail (MAILER_IS_FOLDER (self), NULL);
  return self->path;
}

const char *
mailer_folder_get_display_name (MailerFolder *self)
{
  g_return_val_if_fail (MAILER_IS_FOLDER (self), NULL);

  if (self->display_name != NULL)
    return self->display_name;

  /* The last component of the path, as the server's hierarchy sees it. */
  if (self->delimiter != NULL && self->delimiter[0] != '\0')
    {
      const char *last = g_strrstr (self->path, self->delimiter);

      if (last != NULL && last[strlen (self->delimiter)] != '\0')
        return last + strlen (self->delimiter);
    }
  return self->path;
}

void
mailer_folder_set_display_name (MailerFolder *self,
                                const char   *display_name)
{
  g_return_if_fail (MAILER_IS_FOLDER (self));

  if (_mailer_set_string (&self->display_name, display_name))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DISPLAY_NAME]);
}

MailerFolderRole
mailer_folder_get_role (MailerFolder *self)
{
  g_return_val_if_fail (MAILER_IS_FOLDER (self), MAILER_FOLDER_ROLE_NONE);
  return self->role;
}

void
mailer_folder_set_role (MailerFolder     *self,
                        MailerFolderRole  role)
{
  g_return_if_fail (MAILER_IS_FOLDER (self));

  if (self->role != role)
    {
      self->role = role;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ROLE]);
    }
}

guint
mailer_folder_get_unread_count (MailerFolder *self)
{
  g_return_val_if_fail (MAILER_IS_FOLDER (self), 0);
  return self->unread_count;
}

void
mailer_folder_set_unread_count (MailerFolder *self,
                                guint         count)
{
  g_return_if_fail (MAILER_IS_FOLDER (self));

  if (self->unread_count != count)
    {
      self->unread_count = count;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD_COUNT]);
    }
}

guint
mailer_folder_get_total_count (MailerFolder *self)
{
  g_return_val_if_fail (MAILER_IS_FOLDER (self), 0);
  return self->total_count;
}

void
mailer_folder_set_total_count (MailerFolder *self,
                               guint         count)
{
  g_return_if_fail (MAILER_IS_FOLDER (self));

  if (self->total_count != count)
    {
      self->total_count = count;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOTAL_COUNT]);
    }
}

const char *
mailer_folder_get_delimiter (MailerFolder *self)
{
  g_return_val_if_fail (MAILER_IS_FOLDER (self), NULL);
  return self->delimiter;
}

void
mailer_folder_set_delimiter (MailerFolder *self,
                             const char   *delimiter)
{
  g_return_if_fail (MAILER_IS_FOLDER (self));

  if (_mailer_set_string (&self->delimiter, delimiter) && self->display_name == NULL)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DISPLAY_NAME]);
}

gint64
mailer_folder_get_parent_id (MailerFolder *self)
{
  g_return_val_if_fail (MAILER_IS_FOLDER (self), 0);
  return self->parent_id;
}

void
mailer_folder_set_parent_id (MailerFolder *self,
                             gint64        parent_id)
{
  g_return_if_fail (MAILER_IS_FOLDER (self));
  self->parent_id = parent_id;
}

/**
 * mailer_folder_get_children:
 *
 * Returns: (transfer none): the subfolders, as a #GListModel of
 *   #MailerFolder; what a #GtkTreeListModel's create function returns for
 *   this folder.
 */
GListModel *
mailer_folder_get_children (MailerFolder *self)
{
  g_return_val_if_fail (MAILER_IS_FOLDER (self), NULL);

  if (self->children == NULL)
    self->children = g_list_store_new (MAILER_TYPE_FOLDER);
  return G_LIST_MODEL (self->children);
}

static int compare_folders (gconstpointer a,
                            gconstpointer b,
                            gpointer      user_data);

static int
compare_folders_indirect (gconstpointer a,
                          gconstpointer b,
                          gpointer      user_data)
{
  return compare_folders (*(gconstpointer *) a, *(gconstpointer *) b, user_data);
}

static int
compare_folders (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  MailerFolder *fa = (MailerFolder *) a;
  MailerFolder *fb = (MailerFolder *) b;
  /* Inbox first, then the other special folders in role order, then the
   * rest by name. */
  guint ra = fa->role == MAILER_FOLDER_ROLE_NONE ? G_MAXUINT : fa->role;
  guint rb = fb->role == MAILER_FOLDER_ROLE_NONE ? G_MAXUINT : fb->role;
  g_autofree char *ka = NULL;
  g_autofree char *kb = NULL;

  if (ra != rb)
    return ra < rb ? -1 : 1;
  ka = g_utf8_collate_key_for_filename (mailer_folder_get_display_name (fa), -1);
  kb = g_utf8_collate_key_for_filename (mailer_folder_get_display_name (fb), -1);
  return strcmp (ka, kb);
}

/* Makes @store hold @items, in order, touching it only where it
 * differs: whatever shows the list keeps its rows (and selection). */
static void
update_store (GListStore *store,
              GPtrArray  *items)
{
  GListModel *model = G_LIST_MODEL (store);
  guint n = g_list_model_get_n_items (model);
  guint first = 0, end_old = n, end_new = items->len;

  while (first < n && first < items->len)
    {
      g_autoptr(GObject) item = g_list_model_get_item (model, first);

      if (item != items->pdata[first])
        break;
      first++;
    }
  while (end_old > first && end_new > first)
    {
      g_autoptr(GObject) item = g_list_model_get_item (model, end_old - 1);

      if (item != items->pdata[end_new - 1])
        break;
      end_old--;
      end_new--;
    }
  if (first == end_old && first == end_new)
    return;
  g_list_store_splice (store, first, end_old - first, items->pdata + first, end_new - first);
}

static GPtrArray *
sorted_children (GPtrArray    *folders,
                 MailerFolder *parent,
                 GHashTable   *by_id)
{
  GPtrArray *children = g_ptr_array_new ();

  for (guint i = 0; i < folders->len; i++)
    {
      MailerFolder *folder = g_ptr_array_index (folders, i);
      MailerFolder *folder_parent = folder->parent_id ? g_hash_table_lookup (by_id, &folder->parent_id) : NULL;

      if (folder_parent == parent)
        g_ptr_array_add (children, folder);
    }
  g_ptr_array_sort_with_data (children, (GCompareDataFunc) compare_folders_indirect, NULL);
  return children;
}

/**
 * mailer_folder_update_tree:
 * @roots: the top-level store to update
 * @folders: (element-type MailerFolder): the folders of one account
 *
 * Makes @roots hold the top-level folders and each folder's children its
 * subfolders (by parent id), special folders first, changing only what
 * differs, so lists showing the tree keep their state.
 */
void
mailer_folder_update_tree (GListStore *roots,
                           GPtrArray  *folders)
{
  g_autoptr(GHashTable) by_id = g_hash_table_new (g_int64_hash, g_int64_equal);

  for (guint i = 0; i < folders->len; i++)
    {
      MailerFolder *folder = g_ptr_array_index (folders, i);

      g_hash_table_insert (by_id, &folder->id, folder);
    }

  for (guint i = 0; i < folders->len; i++)
    {
      MailerFolder *folder = g_ptr_array_index (folders, i);
      g_autoptr(GPtrArray) children = sorted_children (folders, folder, by_id);

      update_store (G_LIST_STORE (mailer_folder_get_children (folder)), children);
    }
  {
    g_autoptr(GPtrArray) top = sorted_children (folders, NULL, by_id);

    update_store (roots, top);
  }
}

/**
 * mailer_folder_build_tree:
 * @folders: (element-type MailerFolder): the folders of one account
 *
 * Like mailer_folder_update_tree() into a new store.
 *
 * Returns: (transfer full): a #GListModel of the top-level folders
 */
GListModel *
mailer_folder_build_tree (GPtrArray *folders)
{
  GListStore *roots = g_list_store_new (MAILER_TYPE_FOLDER);

  mailer_folder_update_tree (roots, folders);
  return G_LIST_MODEL (roots);
}
