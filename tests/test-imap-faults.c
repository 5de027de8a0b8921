/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Integration: IMAP sync under faults, against the private Dovecot fixture.
 * The invariants: a local change stays in the journal until the server has
 * applied it, so none is ever lost; a clean run afterwards applies every
 * change on the server exactly once and leaves the journal empty; and the
 * store then holds exactly what the server holds (folders, UIDs, flags,
 * keywords), each message once.
 *
 *  - /imap-faults/offline-kill: after a first sync the server goes away;
 *    a helper process (imap-sync-child) makes ten local changes (flags,
 *    moves, a move of a moved message, a flag on a moved one, deletes) and
 *    tries to sync, and is killed with SIGKILL at random moments while it
 *    makes them or replays them (fixed seed, printed;
 *    MAILER_IMAP_KILL_SEED overrides it).  The journal must then hold the
 *    ten changes, once each.  With the server back, more runs are killed
 *    during the replay; a clean run must then apply the ten changes exactly
 *    once.
 *  - /imap-faults/qresync: a 5,000-message inbox; after a full first sync
 *    another client changes three flags, clears one and expunges two
 *    messages; the resync must move far fewer bytes (counted by the fault
 *    proxy: under 2 % of the first sync's and under 20 kB) and leave the
 *    store equal to the server.  Then a first sync of another store is cut
 *    a third of the way (the summaries come newest first): the next run
 *    must fetch all that is missing, below the highest UID stored too.
 *  - /imap-faults/cut-sweep: a run with the ten pending local changes, new
 *    mail and another client's changes is cut at 54 offsets across the
 *    whole session (login, listing and replay, folders), in both
 *    directions, through the fault proxy, a fresh mailbox and store each
 *    time; the cut run must end in time (with a GError if it fails); right
 *    after it, every change is on the server or still in the journal; a
 *    clean run then brings store and server to the expected state.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>

#include "mailer-connection.h"
#include "mailer-imap-sync.h"
#include "mailer-test-dovecot.h"
#include "mailer-test-proxy.h"
#include "mailer-test-util.h"

#define PASSWORD "imap fault pass"
#define RUN_TIMEOUT_S 30
#define SYSTEM_FLAGS (MAILER_MESSAGE_FLAG_SEEN | MAILER_MESSAGE_FLAG_ANSWERED | MAILER_MESSAGE_FLAG_FLAGGED | \
                      MAILER_MESSAGE_FLAG_DELETED | MAILER_MESSAGE_FLAG_DRAFT)

/* The kill test. */
#define DEFAULT_KILL_SEED 20261203u
#define N_OFFLINE_KILLS 8
#define N_ONLINE_KILLS 8

/* The QRESYNC test. */
#define N_BIG 5000

/* The cut sweep. */
#define N_CUT_OFFSETS_TO_CLIENT 34
#define N_CUT_OFFSETS_TO_SERVER 20
#define N_CUT_USERS (N_CUT_OFFSETS_TO_CLIENT + N_CUT_OFFSETS_TO_SERVER + 8)

/* Messages */

static GBytes *
make_message (const char *tag,
              guint       n)
{
  g_autoptr(GString) text = g_string_new (NULL);

  g_string_append_printf (text,
                          "From: Sender %u <sender%u@example.org>\r\n"
                          "To: Pat <pat@example.org>\r\n"
                          "Subject: %s message %u\r\n"
                          "Date: Thu, 03 Dec 2026 %02u:%02u:00 +0000\r\n"
                          "Message-ID: <%s-%u@example.org>\r\n"
                          "MIME-Version: 1.0\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "\r\n"
                          "Hello Pat, this is %s message %u.\r\n",
                          n, n, tag, n, (n / 60) % 24, n % 60, tag, n, tag, n);
  return g_string_free_to_bytes (g_steal_pointer (&text));
}

/* What every test mailbox starts with: in each folder, messages TAG-1 to
 * TAG-N in UID order; every third one of the inbox is \Seen. */
typedef struct
{
  const char *mailbox;
  const char *tag;
  guint n;
} Seed;

static const Seed seeds[] = {
  { "INBOX", "m", 24 },
  { "Archive", "arch", 3 },
  { "Work", "work", 3 },
};

static const char *
seed_flags (const char *tag,
            guint       n)
{
  return g_str_equal (tag, "m") && n % 3 == 0 ? "\\Seen" : NULL;
}

static void
seed_user (MailerTestDovecot *dovecot,
           const char        *user)
{
  g_autoptr(GError) error = NULL;

  mailer_test_dovecot_add_user (dovecot, user, PASSWORD);
  for (guint s = 0; s < G_N_ELEMENTS (seeds); s++)
    for (guint i = 1; i <= seeds[s].n; i++)
      {
        g_autoptr(GBytes) message = make_message (seeds[s].tag, i);

        g_assert_true (mailer_test_dovecot_seed_bytes (dovecot, user, seeds[s].mailbox, message,
                                                       seed_flags (seeds[s].tag, i), &error));
        g_assert_no_error (error);
      }
}

/* The ten local changes, in order.  Message-IDs without <>. */
typedef enum
{
  CHANGE_FLAG,
  CHANGE_MOVE,
  CHANGE_DELETE,
} ChangeKind;

typedef struct
{
  ChangeKind kind;
  const char *message_id;
  MailerMessageFlags add;
  MailerMessageFlags remove;
  const char *dest;
} Change;

static const Change changes[] = {
  { CHANGE_FLAG, "m-1@example.org", MAILER_MESSAGE_FLAG_SEEN | MAILER_MESSAGE_FLAG_FLAGGED, 0, NULL },
  { CHANGE_FLAG, "m-3@example.org", 0, MAILER_MESSAGE_FLAG_SEEN, NULL },
  { CHANGE_DELETE, "m-4@example.org", 0, 0, NULL },
  { CHANGE_MOVE, "m-5@example.org", 0, 0, "Archive" },
  /* A flag on the moved message, which has no UID here until the server
   * says which it got. */
  { CHANGE_FLAG, "m-5@example.org", MAILER_MESSAGE_FLAG_FLAGGED, 0, NULL },
  { CHANGE_MOVE, "m-6@example.org", 0, 0, "Work" },
  /* Moved on before the first move was replayed. */
  { CHANGE_MOVE, "m-6@example.org", 0, 0, "Archive" },
  { CHANGE_DELETE, "arch-1@example.org", 0, 0, NULL },
  { CHANGE_FLAG, "m-7@example.org", MAILER_MESSAGE_FLAG_ANSWERED, 0, NULL },
  { CHANGE_MOVE, "work-1@example.org", 0, 0, "INBOX" },
};

#define N_CHANGES G_N_ELEMENTS (changes)

static char *
change_to_arg (const Change *change)
{
  switch (change->kind)
    {
    case CHANGE_FLAG:
      return g_strdup_printf ("flag:%s:%u:%u", change->message_id, change->add, change->remove);
    case CHANGE_MOVE:
      return g_strdup_printf ("move:%s:%s", change->message_id, change->dest);
    case CHANGE_DELETE:
    default:
      return g_strdup_printf ("delete:%s", change->message_id);
    }
}

/* The expected state: Message-ID -> where it is and its flags */

typedef struct
{
  char *mailbox;
  MailerMessageFlags flags;
  char *keywords;      /* sorted, space-separated */
} Expected;

static void
expected_free (Expected *expected)
{
  g_free (expected->mailbox);
  g_free (expected->keywords);
  g_free (expected);
}

static GHashTable *
model_new (void)
{
  GHashTable *model = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) expected_free);

  for (guint s = 0; s < G_N_ELEMENTS (seeds); s++)
    for (guint i = 1; i <= seeds[s].n; i++)
      {
        Expected *expected = g_new0 (Expected, 1);

        expected->mailbox = g_strdup (seeds[s].mailbox);
        expected->flags = seed_flags (seeds[s].tag, i) ? MAILER_MESSAGE_FLAG_SEEN : 0;
        expected->keywords = g_strdup ("");
        g_hash_table_insert (model, g_strdup_printf ("%s-%u@example.org", seeds[s].tag, i), expected);
      }
  return model;
}

static void
model_apply (GHashTable   *model,
             const Change *change)
{
  Expected *expected = g_hash_table_lookup (model, change->message_id);

  g_assert_nonnull (expected);
  switch (change->kind)
    {
    case CHANGE_FLAG:
      expected->flags = (expected->flags | change->add) & ~change->remove;
      break;
    case CHANGE_MOVE:
      g_free (expected->mailbox);
      expected->mailbox = g_strdup (change->dest);
      break;
    case CHANGE_DELETE:
    default:
      g_hash_table_remove (model, change->message_id);
      break;
    }
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Flags as the server reports them: the system flags as a mask, keywords
 * sorted; \Recent is left out. */
static MailerMessageFlags
parse_flags (const char  *text,
             char       **keywords)
{
  static const struct { const char *name; MailerMessageFlags flag; } system[] = {
    { "\\Seen", MAILER_MESSAGE_FLAG_SEEN },
    { "\\Answered", MAILER_MESSAGE_FLAG_ANSWERED },
    { "\\Flagged", MAILER_MESSAGE_FLAG_FLAGGED },
    { "\\Deleted", MAILER_MESSAGE_FLAG_DELETED },
    { "\\Draft", MAILER_MESSAGE_FLAG_DRAFT },
  };
  g_auto(GStrv) words = g_strsplit (text, " ", -1);
  g_autoptr(GPtrArray) kept = g_ptr_array_new ();
  MailerMessageFlags flags = 0;

  for (guint i = 0; words[i] != NULL; i++)
    {
      gboolean known = FALSE;

      if (words[i][0] == '\0' || g_ascii_strcasecmp (words[i], "\\Recent") == 0)
        continue;
      for (guint j = 0; j < G_N_ELEMENTS (system); j++)
        if (g_ascii_strcasecmp (words[i], system[j].name) == 0)
          {
            flags |= system[j].flag;
            known = TRUE;
          }
      if (!known)
        {
          g_assert_true (words[i][0] != '\\');
          g_ptr_array_add (kept, words[i]);
        }
    }
  g_ptr_array_sort (kept, compare_strings);
  g_ptr_array_add (kept, NULL);
  *keywords = g_strjoinv (" ", (char **) kept->pdata);
  return flags;
}

/* One message in a folder, on the server or in the store. */
typedef struct
{
  guint32 uid;
  char *message_id;
  MailerMessageFlags flags;
  char *keywords;
} Item;

static void
item_free (Item *item)
{
  g_free (item->message_id);
  g_free (item->keywords);
  g_free (item);
}

static int
compare_items (gconstpointer a,
               gconstpointer b)
{
  const Item *x = *(const Item **) a, *y = *(const Item **) b;

  return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* The server's side, through doveadm */

static GPtrArray *
server_mailboxes (MailerTestDovecot *dovecot,
                  const char        *user)
{
  g_autofree char *output = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  g_assert_true (mailer_test_dovecot_doveadm (dovecot, &output, &error, "mailbox", "list", "-u", user, NULL));
  g_assert_no_error (error);
  lines = g_strsplit (output, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0')
      g_ptr_array_add (names, g_strdup (lines[i]));
  g_ptr_array_sort (names, compare_strings);
  return names;
}

static GPtrArray *
server_items (MailerTestDovecot *dovecot,
              const char        *user,
              const char        *mailbox)
{
  g_autofree char *output = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  GPtrArray *items = g_ptr_array_new_with_free_func ((GDestroyNotify) item_free);

  g_assert_true (mailer_test_dovecot_doveadm (dovecot, &output, &error, "-f", "tab", "fetch", "-u", user,
                                              "uid flags hdr.message-id", "mailbox", mailbox, "all", NULL));
  g_assert_no_error (error);
  lines = g_strsplit (output, "\n", -1);
  g_assert_cmpstr (lines[0], ==, "uid\tflags\thdr.message-id");
  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = NULL;
      Item *item;
      gsize len;
      guint64 uid;

      if (lines[i][0] == '\0')
        continue;
      fields = g_strsplit (lines[i], "\t", 3);
      g_assert_cmpuint (g_strv_length (fields), ==, 3);
      g_assert_true (g_ascii_string_to_unsigned (fields[0], 10, 1, G_MAXUINT32, &uid, NULL));
      g_strstrip (fields[2]);
      len = strlen (fields[2]);
      g_assert_true (len > 2 && fields[2][0] == '<' && fields[2][len - 1] == '>');
      item = g_new0 (Item, 1);
      item->uid = uid;
      item->message_id = g_strndup (fields[2] + 1, len - 2);
      item->flags = parse_flags (fields[1], &item->keywords);
      g_ptr_array_add (items, item);
    }
  g_ptr_array_sort (items, compare_items);
  return items;
}

/* Message-ID -> the mailbox it is in, for the whole account; each
 * Message-ID must be on the server once. */
typedef struct
{
  char *mailbox;
  Item *item;    /* borrowed from the lists */
} Where;

typedef struct
{
  GPtrArray *mailboxes;
  GHashTable *lists;     /* mailbox -> GPtrArray of Item */
  GHashTable *where;     /* Message-ID -> Where */
} ServerState;

static void
where_free (Where *where)
{
  g_free (where->mailbox);
  g_free (where);
}

static void
server_state_free (ServerState *state)
{
  g_ptr_array_unref (state->mailboxes);
  g_hash_table_unref (state->where);
  g_hash_table_unref (state->lists);
  g_free (state);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ServerState, server_state_free)

static ServerState *
server_state (MailerTestDovecot *dovecot,
              const char        *user)
{
  ServerState *state = g_new0 (ServerState, 1);

  state->mailboxes = server_mailboxes (dovecot, user);
  state->lists = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  state->where = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) where_free);
  for (guint m = 0; m < state->mailboxes->len; m++)
    {
      const char *mailbox = state->mailboxes->pdata[m];
      GPtrArray *items = server_items (dovecot, user, mailbox);

      g_hash_table_insert (state->lists, g_strdup (mailbox), items);
      for (guint i = 0; i < items->len; i++)
        {
          Item *item = items->pdata[i];
          Where *where = g_hash_table_lookup (state->where, item->message_id);

          if (where != NULL)
            g_error ("Message %s is on the server twice: in %s and in %s",
                     item->message_id, where->mailbox, mailbox);
          where = g_new0 (Where, 1);
          where->mailbox = g_strdup (mailbox);
          where->item = item;
          g_hash_table_insert (state->where, g_strdup (item->message_id), where);
        }
    }
  return state;
}

/* The server holds exactly what @model says. */
static void
assert_server_is (ServerState *state,
                  GHashTable  *model)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, model);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Expected *expected = value;
      Where *where = g_hash_table_lookup (state->where, key);

      if (where == NULL)
        g_error ("Message %s is not on the server; it should be in %s", (char *) key, expected->mailbox);
      if (!g_str_equal (where->mailbox, expected->mailbox))
        g_error ("Message %s is in %s on the server, not in %s", (char *) key, where->mailbox, expected->mailbox);
      if (where->item->flags != expected->flags || !g_str_equal (where->item->keywords, expected->keywords))
        g_error ("Message %s has flags %#x “%s” on the server, not %#x “%s”", (char *) key,
                 where->item->flags, where->item->keywords, expected->flags, expected->keywords);
    }
  g_hash_table_iter_init (&iter, state->where);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (model, key))
      g_error ("Message %s is on the server (in %s); it should not be", (char *) key,
               ((Where *) value)->mailbox);
}

/* The store's side, read from its database */

static sqlite3 *
open_database (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "mailer.db", NULL);
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  return db;
}

static gint64
query_int (sqlite3    *db,
           const char *sql,
           gint64      parameter)
{
  sqlite3_stmt *stmt = NULL;
  gint64 value;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (stmt, 1, parameter);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return value;
}

static gint64
find_account (const char *dir,
              const char *user)
{
  sqlite3 *db = open_database (dir);
  sqlite3_stmt *stmt = NULL;
  gint64 id = 0;
  int rc;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT id FROM accounts WHERE username = ?1", -1, &stmt, NULL),
                   ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, user, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_assert_cmpint (id, ==, 0);
      id = sqlite3_column_int64 (stmt, 0);
    }
  g_assert_cmpint (rc, ==, SQLITE_DONE);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return id;
}

static guint
journal_length (const char *dir,
                gint64      account_id)
{
  sqlite3 *db = open_database (dir);
  guint n = query_int (db, "SELECT count(*) FROM journal WHERE account_id = ?1", account_id);

  sqlite3_close (db);
  return n;
}

/* The store's row for a Message-ID in the account (0 if none; never two),
 * with its folder's path. */
static gint64
store_row (const char  *dir,
           gint64       account_id,
           const char  *message_id,
           char       **out_path)
{
  sqlite3 *db = open_database (dir);
  sqlite3_stmt *stmt = NULL;
  gint64 id = 0;
  int rc;

  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "SELECT m.id, f.path FROM messages m JOIN folders f ON f.id = m.folder_id"
                                       " WHERE f.account_id = ?1 AND m.message_id = ?2",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (stmt, 1, account_id);
  sqlite3_bind_text (stmt, 2, message_id, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      if (id != 0)
        g_error ("The store holds message %s twice", message_id);
      id = sqlite3_column_int64 (stmt, 0);
      if (out_path != NULL)
        *out_path = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
    }
  g_assert_cmpint (rc, ==, SQLITE_DONE);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return id;
}

/* The store holds exactly what the server holds: the same folders, and in
 * each the same UIDs with the same messages, flags and keywords. */
static void
assert_store_equals_server (const char  *dir,
                            gint64       account_id,
                            ServerState *state)
{
  sqlite3 *db = open_database (dir);
  sqlite3_stmt *folders = NULL;
  sqlite3_stmt *messages = NULL;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  int rc;

  g_assert_cmpint (query_int (db, "SELECT count(*) FROM messages m JOIN folders f ON f.id = m.folder_id"
                                  " WHERE f.account_id = ?1 AND m.uid IS NULL", account_id), ==, 0);

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT id, path FROM folders WHERE account_id = ?1 ORDER BY path",
                                       -1, &folders, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT uid, message_id, flags, keywords FROM messages"
                                           " WHERE folder_id = ?1 ORDER BY uid",
                                       -1, &messages, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (folders, 1, account_id);
  while ((rc = sqlite3_step (folders)) == SQLITE_ROW)
    {
      const char *path = (const char *) sqlite3_column_text (folders, 1);
      GPtrArray *on_server = g_hash_table_lookup (state->lists, path);
      guint n = 0;

      if (on_server == NULL)
        g_error ("The store has folder %s, which the server does not", path);
      g_ptr_array_add (paths, g_strdup (path));
      sqlite3_bind_int64 (messages, 1, sqlite3_column_int64 (folders, 0));
      while ((rc = sqlite3_step (messages)) == SQLITE_ROW)
        {
          guint32 uid = sqlite3_column_int64 (messages, 0);
          const char *message_id = (const char *) sqlite3_column_text (messages, 1);
          MailerMessageFlags flags = sqlite3_column_int (messages, 2) & SYSTEM_FLAGS;
          g_autofree char *keywords = NULL;
          Item *item;

          parse_flags ((const char *) sqlite3_column_text (messages, 3), &keywords);
          if (n >= on_server->len)
            g_error ("%s: the store has UID %u (%s), which the server does not", path, uid, message_id);
          item = on_server->pdata[n++];
          if (item->uid != uid)
            g_error ("%s: the store has UID %u (%s) where the server has UID %u (%s)",
                     path, uid, message_id, item->uid, item->message_id);
          if (g_strcmp0 (item->message_id, message_id) != 0)
            g_error ("%s: UID %u is %s in the store, %s on the server", path, uid, message_id, item->message_id);
          if (item->flags != flags || !g_str_equal (item->keywords, keywords))
            g_error ("%s: UID %u (%s) has flags %#x “%s” in the store, %#x “%s” on the server",
                     path, uid, message_id, flags, keywords, item->flags, item->keywords);
        }
      g_assert_cmpint (rc, ==, SQLITE_DONE);
      sqlite3_reset (messages);
      if (n != on_server->len)
        g_error ("%s: the store lacks UID %u (%s) and %u more", path,
                 ((Item *) on_server->pdata[n])->uid, ((Item *) on_server->pdata[n])->message_id,
                 on_server->len - n - 1);
    }
  g_assert_cmpint (rc, ==, SQLITE_DONE);
  sqlite3_finalize (folders);
  sqlite3_finalize (messages);
  sqlite3_close (db);

  g_ptr_array_sort (paths, compare_strings);
  g_assert_cmpuint (paths->len, ==, state->mailboxes->len);
  for (guint i = 0; i < paths->len; i++)
    g_assert_cmpstr (paths->pdata[i], ==, state->mailboxes->pdata[i]);
}

/* Whether change @i is on the server: a flag change shows on the message,
 * a move took it out of the folder it was in (@source), a delete removed
 * it. */
static gboolean
change_applied (ServerState  *state,
                const Change *change,
                const char   *source)
{
  Where *where = g_hash_table_lookup (state->where, change->message_id);

  switch (change->kind)
    {
    case CHANGE_FLAG:
      return where != NULL && (where->item->flags & change->add) == change->add &&
             (where->item->flags & change->remove) == 0;
    case CHANGE_MOVE:
      return where != NULL && !g_str_equal (where->mailbox, source);
    case CHANGE_DELETE:
    default:
      return where == NULL;
    }
}

/* The folder each change takes its message out of (for moves). */
static const char *
change_source (guint i)
{
  const char *mailbox = NULL;

  for (guint s = 0; s < G_N_ELEMENTS (seeds); s++)
    if (g_str_has_prefix (changes[i].message_id, seeds[s].tag) &&
        changes[i].message_id[strlen (seeds[s].tag)] == '-')
      mailbox = seeds[s].mailbox;
  for (guint j = 0; j < i; j++)
    if (changes[j].kind == CHANGE_MOVE && g_str_equal (changes[j].message_id, changes[i].message_id))
      mailbox = changes[j].dest;
  g_assert_nonnull (mailbox);
  return mailbox;
}

/* Whether the journal holds change @i: its kind, for the message's row,
 * with its flags or destination. */
static gboolean
journal_has (sqlite3      *db,
             gint64        account_id,
             const Change *change,
             gint64        row)
{
  static const char * const ops[] = { "flags", "move", "delete" };
  sqlite3_stmt *stmt = NULL;
  gboolean found;

  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "SELECT count(*) FROM journal j LEFT JOIN folders d ON d.id = j.dest_folder_id"
                                       " WHERE j.account_id = ?1 AND j.message_id = ?2 AND j.op = ?3"
                                       "   AND j.add_flags = ?4 AND j.remove_flags = ?5"
                                       "   AND coalesce (d.path, '') = ?6",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (stmt, 1, account_id);
  sqlite3_bind_int64 (stmt, 2, row);
  sqlite3_bind_text (stmt, 3, ops[change->kind], -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 4, change->add);
  sqlite3_bind_int (stmt, 5, change->remove);
  sqlite3_bind_text (stmt, 6, change->dest ? change->dest : "", -1, SQLITE_STATIC);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  found = sqlite3_column_int (stmt, 0) > 0;
  g_assert_cmpint (sqlite3_column_int (stmt, 0), <=, 1);
  sqlite3_finalize (stmt);
  return found;
}

/* No change lost: each is on the server, or still in the journal. */
static void
assert_no_change_lost (MailerTestDovecot *dovecot,
                       const char        *user,
                       const char        *dir,
                       gint64             account_id,
                       const gint64      *rows,
                       const char        *when)
{
  g_autoptr(ServerState) state = server_state (dovecot, user);
  sqlite3 *db = open_database (dir);

  for (guint i = 0; i < N_CHANGES; i++)
    if (!change_applied (state, &changes[i], change_source (i)) &&
        !journal_has (db, account_id, &changes[i], rows[i]))
      {
        g_autofree char *arg = change_to_arg (&changes[i]);

        g_error ("%s: change %u (%s) is neither on the server nor in the journal", when, i, arg);
      }
  sqlite3_close (db);
}

/* Running a sync in this process */

static gboolean
run_sync (MailerStore           *store,
          MailerAccount         *account,
          MailerImapSyncResult  *out,
          GError               **error)
{
  g_autoptr(MailerImapSync) sync = mailer_imap_sync_new (store, account, PASSWORD);
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  gboolean ok;

  mailer_imap_sync_run_async (sync, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, RUN_TIMEOUT_S);
  ok = mailer_imap_sync_run_finish (sync, result, out, error);
  g_assert_true (ok == (error == NULL || *error == NULL));
  return ok;
}

static MailerAccount *
add_account (MailerStore    *store,
             const char     *user,
             guint16         port,
             MailerSecurity  security,
             const char     *pin)
{
  g_autoptr(MailerAccount) account = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  mailer_account_set_host (account, "127.0.0.1");
  mailer_account_set_prefetch_days (account, 0);
  mailer_account_set_port (account, port);
  mailer_account_set_security (account, security);
  mailer_account_set_username (account, user);
  mailer_account_set_pinned_certificate (account, pin);
  mailer_store_save_account_async (store, account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_store_save_account_finish (store, result, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&account);
}

static gint64
folder_by_path (const char *dir,
                gint64      account_id,
                const char *path)
{
  sqlite3 *db = open_database (dir);
  sqlite3_stmt *stmt = NULL;
  gint64 id = 0;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT id FROM folders WHERE account_id = ?1 AND path = ?2",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (stmt, 1, account_id);
  sqlite3_bind_text (stmt, 2, path, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    id = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  g_assert_cmpint (id, >, 0);
  return id;
}

/* Makes the ten changes here, as the user would; returns each change's
 * message row. */
static void
make_changes (MailerStore *store,
              const char  *dir,
              gint64       account_id,
              gint64      *rows)
{
  for (guint i = 0; i < N_CHANGES; i++)
    {
      g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GError) error = NULL;
      GAsyncResult *pending = NULL;

      rows[i] = store_row (dir, account_id, changes[i].message_id, NULL);
      g_assert_cmpint (rows[i], >, 0);
      g_array_append_val (ids, rows[i]);
      switch (changes[i].kind)
        {
        case CHANGE_FLAG:
          mailer_store_set_flags_async (store, ids, changes[i].add, changes[i].remove, TRUE, NULL,
                                        mailer_test_store_result_cb, &pending);
          break;
        case CHANGE_MOVE:
          mailer_store_move_messages_async (store, ids, folder_by_path (dir, account_id, changes[i].dest), TRUE,
                                            NULL, mailer_test_store_result_cb, &pending);
          break;
        case CHANGE_DELETE:
        default:
          mailer_store_delete_messages_async (store, ids, TRUE, NULL, mailer_test_store_result_cb, &pending);
          break;
        }
      result = mailer_test_wait_result (&pending, 10);
      g_assert_true (g_task_propagate_boolean (G_TASK (result), &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (journal_length (dir, account_id), ==, N_CHANGES);
}

/* Counts of the proxy, once they hold still: it counts a chunk once its
 * write has finished, which may be just after the peer read it. */
static void
proxy_bytes (MailerTestProxy *proxy,
             goffset          bytes[2])
{
  goffset before[2] = { -1, -1 };

  for (guint i = 0; i < 100; i++)
    {
      g_usleep (5 * 1000);
      bytes[MAILER_TEST_PROXY_TO_SERVER] = mailer_test_proxy_get_bytes (proxy, MAILER_TEST_PROXY_TO_SERVER);
      bytes[MAILER_TEST_PROXY_TO_CLIENT] = mailer_test_proxy_get_bytes (proxy, MAILER_TEST_PROXY_TO_CLIENT);
      if (i > 0 && bytes[0] == before[0] && bytes[1] == before[1])
        return;
      before[0] = bytes[0];
      before[1] = bytes[1];
    }
}

static void
wait_closed (MailerTestProxy *proxy)
{
  if (!mailer_test_proxy_wait_closed (proxy, 5000))
    g_error ("A connection through the proxy is still open 5 s after the run");
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

/* The kill test */

typedef struct
{
  MailerTestDovecot *dovecot;
  char *pin;
  char *dir;
} Kill;

static void
kill_set_up (Kill          *kill,
             gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  kill->dovecot = mailer_test_dovecot_new ();
  seed_user (kill->dovecot, "kate");
  g_assert_true (mailer_test_dovecot_start (kill->dovecot, &error));
  g_assert_no_error (error);
  kill->pin = mailer_certificate_get_sha256 (mailer_test_dovecot_get_certificate (kill->dovecot));
  kill->dir = g_build_filename (g_get_user_data_dir (), "kill-store", NULL);
}

static void
kill_tear_down (Kill          *kill,
                gconstpointer  user_data)
{
  mailer_test_dovecot_stop (kill->dovecot);
  g_clear_object (&kill->dovecot);
  g_free (kill->pin);
  g_free (kill->dir);
}

/* When to kill the helper: @ms after it printed a line starting with
 * @after_line, or after it started when that is NULL; never for ms 0 and
 * no line. */
typedef struct
{
  guint ms;
  const char *after_line;
} KillPlan;

typedef struct
{
  GSubprocess *child;
  GDataInputStream *output;
  KillPlan plan;
  GSource *timeout;
  GPtrArray *lines;
  gboolean eof;
  gint64 online_at;     /* when it said "online" and "replayed" */
  gint64 replayed_at;
} ChildRun;

static gboolean
kill_cb (gpointer user_data)
{
  ChildRun *run = user_data;

  g_subprocess_send_signal (run->child, SIGKILL);
  return G_SOURCE_REMOVE;
}

static void
schedule_kill (ChildRun *run)
{
  run->timeout = g_timeout_source_new (run->plan.ms);
  g_source_set_callback (run->timeout, kill_cb, run, NULL);
  g_source_attach (run->timeout, NULL);
}

static void
line_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  ChildRun *run = user_data;
  g_autoptr(GError) error = NULL;
  char *line;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  g_assert_no_error (error);
  if (line == NULL)
    {
      run->eof = TRUE;
      return;
    }
  g_ptr_array_add (run->lines, line);
  if (g_str_equal (line, "online"))
    run->online_at = g_get_monotonic_time ();
  else if (g_str_equal (line, "replayed"))
    run->replayed_at = g_get_monotonic_time ();
  if (run->plan.after_line != NULL && run->timeout == NULL && g_str_has_prefix (line, run->plan.after_line))
    {
      if (run->plan.ms == 0)
        g_subprocess_send_signal (run->child, SIGKILL);
      else
        schedule_kill (run);
    }
  g_data_input_stream_read_line_async (run->output, G_PRIORITY_DEFAULT, NULL, line_cb, run);
}

typedef enum
{
  CHILD_KILLED,
  CHILD_SYNCED,      /* exit 0 */
  CHILD_FAILED,      /* exit 1: the sync failed */
} ChildOutcome;

/* What the helper said. */
typedef struct
{
  guint n_done;        /* changes committed, of those it was given */
  gboolean syncing;    /* it started the sync */
  gboolean online;     /* it logged in */
  gboolean replayed;   /* it replayed the journal */
  guint replay_ms;     /* from login to the end of the replay */
} ChildReport;

/* Runs imap-sync-child in @mode with the changes from @first on; returns
 * how it ended, and what it said in @report. */
static ChildOutcome
run_child (Kill        *kill,
           const char  *mode,
           guint        first,
           KillPlan     plan,
           ChildReport *report)
{
  g_autofree char *path = g_test_build_filename (G_TEST_BUILT, "imap-sync-child", NULL);
  g_autofree char *port = g_strdup_printf ("%u", mailer_test_dovecot_get_port (kill->dovecot,
                                                                                MAILER_TEST_DOVECOT_IMAPS));
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;
  ChildRun run = { NULL, NULL, plan, NULL, g_ptr_array_new_with_free_func (g_free), FALSE, 0, 0 };
  ChildOutcome outcome;

  g_ptr_array_add (argv, g_strdup (path));
  g_ptr_array_add (argv, g_strdup (kill->dir));
  g_ptr_array_add (argv, g_strdup ("127.0.0.1"));
  g_ptr_array_add (argv, g_strdup (port));
  g_ptr_array_add (argv, g_strdup ("tls"));
  g_ptr_array_add (argv, g_strdup (kill->pin));
  g_ptr_array_add (argv, g_strdup ("kate"));
  g_ptr_array_add (argv, g_strdup (mode));
  if (g_str_equal (mode, "change"))
    for (guint i = first; i < N_CHANGES; i++)
      g_ptr_array_add (argv, change_to_arg (&changes[i]));
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_setenv (launcher, "MAILER_TEST_IMAP_PASSWORD", PASSWORD, TRUE);
  run.child = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  run.output = g_data_input_stream_new (g_subprocess_get_stdout_pipe (run.child));
  g_data_input_stream_read_line_async (run.output, G_PRIORITY_DEFAULT, NULL, line_cb, &run);
  if (plan.after_line == NULL && plan.ms > 0)
    schedule_kill (&run);

  g_subprocess_wait_async (run.child, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 120);
  g_assert_true (g_subprocess_wait_finish (run.child, result, &error));
  g_assert_no_error (error);
  while (!run.eof)
    g_main_context_iteration (NULL, TRUE);
  if (run.timeout != NULL)
    {
      g_source_destroy (run.timeout);
      g_source_unref (run.timeout);
    }

  *report = (ChildReport) { 0, FALSE, FALSE, FALSE, 0 };
  if (run.online_at > 0 && run.replayed_at > 0)
    report->replay_ms = (run.replayed_at - run.online_at) / 1000;
  for (guint i = 0; i < run.lines->len; i++)
    {
      const char *line = run.lines->pdata[i];
      guint64 n;

      if (g_str_has_prefix (line, "change ") &&
          g_ascii_string_to_unsigned (line + 7, 10, 0, N_CHANGES - 1, &n, NULL))
        {
          /* In order, one by one. */
          g_assert_cmpuint (n, ==, report->n_done);
          report->n_done = n + 1;
        }
      else if (g_str_equal (line, "syncing"))
        report->syncing = TRUE;
      else if (g_str_equal (line, "online"))
        report->online = TRUE;
      else if (g_str_equal (line, "replayed"))
        report->replayed = TRUE;
    }

  if (g_subprocess_get_if_signaled (run.child))
    {
      g_assert_cmpint (g_subprocess_get_term_sig (run.child), ==, SIGKILL);
      outcome = CHILD_KILLED;
    }
  else
    {
      int status = g_subprocess_get_exit_status (run.child);

      /* The helper says why on stderr, which the test shows. */
      g_assert_cmpint (status, >=, 0);
      g_assert_cmpint (status, <=, 1);
      outcome = status == 0 ? CHILD_SYNCED : CHILD_FAILED;
      g_assert_true (report->syncing);
    }
  g_clear_object (&run.output);
  g_clear_object (&run.child);
  g_ptr_array_unref (run.lines);
  return outcome;
}

static void
test_offline_kill (Kill          *kill,
                   gconstpointer  user_data)
{
  const char *seed_env = g_getenv ("MAILER_IMAP_KILL_SEED");
  guint32 seed = seed_env ? (guint32) g_ascii_strtoull (seed_env, NULL, 10) : DEFAULT_KILL_SEED;
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autoptr(GHashTable) model = model_new ();
  g_autoptr(ServerState) state = NULL;
  gint64 rows[N_CHANGES];
  guint done = 0, n_killed = 0, n_replay_kills = 0;
  ChildReport report;
  gint64 account_id, start;
  guint list_ms;
  ChildOutcome outcome;

  g_test_message ("Kill times from seed %u (set MAILER_IMAP_KILL_SEED to change it)", seed);

  /* The first sync, whole. */
  g_assert_cmpint (run_child (kill, "sync", 0, (KillPlan) { 0, NULL }, &report), ==, CHILD_SYNCED);
  list_ms = MAX (report.replay_ms, 4);
  g_test_message ("The first sync lists the folders %u ms after logging in", list_ms);
  account_id = find_account (kill->dir, "kate");
  state = server_state (kill->dovecot, "kate");
  assert_server_is (state, model);
  assert_store_equals_server (kill->dir, account_id, state);
  for (guint i = 0; i < N_CHANGES; i++)
    {
      rows[i] = store_row (kill->dir, account_id, changes[i].message_id, NULL);
      g_assert_cmpint (rows[i], >, 0);
    }

  /* Offline: the changes are made and kept, whatever moment the process
   * dies at. */
  mailer_test_dovecot_stop (kill->dovecot);
  start = g_get_monotonic_time ();
  for (guint k = 0; k <= N_OFFLINE_KILLS; k++)
    {
      KillPlan plan = { 0, NULL };
      g_autofree char *after = NULL;

      if (k == N_OFFLINE_KILLS)
        ;   /* no kill: the changes are finished, the sync fails */
      else if (k % 4 == 3 || done == N_CHANGES)
        plan = (KillPlan) { g_rand_int_range (rand, 0, 2), "syncing" };
      else if (k % 4 == 1)
        plan = (KillPlan) { g_rand_int_range (rand, 0, 4), "account" };
      else
        {
          after = g_strdup_printf ("change %d", g_rand_int_range (rand, 0, N_CHANGES - done));
          plan = (KillPlan) { g_rand_int_range (rand, 0, 3), after };
        }

      outcome = run_child (kill, "change", done, plan, &report);
      g_test_message ("Offline run %u from change %u, kill %s %u ms after “%s”: %s after %u changes%s",
                      k + 1, done, plan.after_line ? "planned" : "not planned", plan.ms,
                      plan.after_line ? plan.after_line : "",
                      outcome == CHILD_KILLED ? "killed" : outcome == CHILD_FAILED ? "sync failed" : "synced",
                      report.n_done, report.syncing ? ", while syncing" : "");
      /* The server is down: no run can succeed. */
      g_assert_cmpint (outcome, !=, CHILD_SYNCED);
      n_killed += outcome == CHILD_KILLED;
      done += report.n_done;

      /* Every change it reported is in the journal, and no other. */
      {
        sqlite3 *db = open_database (kill->dir);

        for (guint i = 0; i < N_CHANGES; i++)
          if (i < done)
            g_assert_true (journal_has (db, account_id, &changes[i], rows[i]));
        sqlite3_close (db);
        g_assert_cmpuint (journal_length (kill->dir, account_id), >=, done);
        g_assert_cmpuint (journal_length (kill->dir, account_id), <=, MIN (done + 1, N_CHANGES));
      }
      if (outcome == CHILD_FAILED)
        g_assert_cmpuint (done, ==, N_CHANGES);
      if (k == N_OFFLINE_KILLS)
        g_assert_cmpint (outcome, ==, CHILD_FAILED);
    }
  /* A kill may come too late for a process that has failed already. */
  g_assert_cmpuint (n_killed, >=, N_OFFLINE_KILLS / 2 - 1);
  g_assert_cmpuint (journal_length (kill->dir, account_id), ==, N_CHANGES);
  g_test_message ("%u offline runs killed, %.2f s", n_killed, (g_get_monotonic_time () - start) / 1e6);

  /* The local state is the changed one already. */
  {
    g_autofree char *path = NULL;

    g_assert_cmpint (store_row (kill->dir, account_id, "m-4@example.org", NULL), ==, 0);
    g_assert_cmpint (store_row (kill->dir, account_id, "m-6@example.org", &path), ==, rows[5]);
    g_assert_cmpstr (path, ==, "Archive");
  }

  /* Online again: runs killed while they replay. */
  {
    g_autoptr(GError) error = NULL;

    g_assert_true (mailer_test_dovecot_start (kill->dovecot, &error));
    g_assert_no_error (error);
  }
  for (guint k = 0; k < N_ONLINE_KILLS; k++)
    {
      /* Later and later, through the listing and the replay, until a
       * kill comes after the replay. */
      KillPlan plan = { list_ms / 3 + g_rand_int_range (rand, k * 5, k * 5 + 5), "online" };

      outcome = run_child (kill, "sync", 0, plan, &report);
      g_test_message ("Online run %u, kill planned %u ms after it logged in: %s %s; "
                      "%u changes still in the journal",
                      k + 1, plan.ms,
                      outcome == CHILD_KILLED ? "killed" : outcome == CHILD_FAILED ? "sync failed" : "synced",
                      report.replayed ? "after the replay" : report.online ? "during the listing or the replay"
                                                                          : "before login",
                      journal_length (kill->dir, account_id));
      n_replay_kills += outcome == CHILD_KILLED && report.online && !report.replayed;
      g_assert_cmpint (outcome, !=, CHILD_FAILED);
      assert_no_change_lost (kill->dovecot, "kate", kill->dir, account_id, rows, "After a kill");
      if (outcome == CHILD_SYNCED || journal_length (kill->dir, account_id) == 0)
        break;
    }

  g_test_message ("%u runs killed during the replay", n_replay_kills);

  /* A clean run: every change on the server, once. */
  g_assert_cmpint (run_child (kill, "sync", 0, (KillPlan) { 0, NULL }, &report), ==, CHILD_SYNCED);
  g_test_message ("The clean sync replays %u ms after logging in", report.replay_ms);
  g_assert_cmpuint (journal_length (kill->dir, account_id), ==, 0);
  for (guint i = 0; i < N_CHANGES; i++)
    model_apply (model, &changes[i]);
  g_clear_pointer (&state, server_state_free);
  state = server_state (kill->dovecot, "kate");
  assert_server_is (state, model);
  g_assert_cmpint (mailer_test_dovecot_count (kill->dovecot, "kate", "INBOX", NULL), ==, 24 - 3 + 1);
  g_assert_cmpint (mailer_test_dovecot_count (kill->dovecot, "kate", "Archive", NULL), ==, 3 - 1 + 2);
  g_assert_cmpint (mailer_test_dovecot_count (kill->dovecot, "kate", "Work", NULL), ==, 3 - 1);
  assert_store_equals_server (kill->dir, account_id, state);

  /* And another run changes nothing. */
  g_assert_cmpint (run_child (kill, "sync", 0, (KillPlan) { 0, NULL }, &report), ==, CHILD_SYNCED);
  g_clear_pointer (&state, server_state_free);
  state = server_state (kill->dovecot, "kate");
  assert_server_is (state, model);
  assert_store_equals_server (kill->dir, account_id, state);
}

/* The QRESYNC test */

typedef struct
{
  MailerTestDovecot *dovecot;
  MailerTestProxy *proxy;
  char *pin;
} Big;

static void
big_set_up (Big           *big,
            gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  big->dovecot = mailer_test_dovecot_new ();
  mailer_test_dovecot_add_user (big->dovecot, "bo", PASSWORD);
  for (guint i = 1; i <= N_BIG; i++)
    {
      g_autoptr(GBytes) message = make_message ("big", i);

      g_assert_true (mailer_test_dovecot_seed_bytes (big->dovecot, "bo", "INBOX", message,
                                                     i % 4 == 0 ? "\\Seen" : NULL, &error));
      g_assert_no_error (error);
    }
  g_assert_true (mailer_test_dovecot_start (big->dovecot, &error));
  g_assert_no_error (error);
  big->pin = mailer_certificate_get_sha256 (mailer_test_dovecot_get_certificate (big->dovecot));
  big->proxy = mailer_test_proxy_new ("127.0.0.1", mailer_test_dovecot_get_port (big->dovecot,
                                                                                 MAILER_TEST_DOVECOT_IMAPS));
  g_assert_true (mailer_test_proxy_start (big->proxy, &error));
  g_assert_no_error (error);
  g_test_message ("%u messages seeded and Dovecot started in %.2f s", N_BIG,
                  (g_get_monotonic_time () - start) / 1e6);
}

static void
big_tear_down (Big           *big,
               gconstpointer  user_data)
{
  g_clear_object (&big->proxy);
  mailer_test_dovecot_stop (big->dovecot);
  g_clear_object (&big->dovecot);
  g_free (big->pin);
}

/* One run through the proxy, with a sync of its own (so a connection,
 * login and all); returns the bytes the server sent. */
static goffset
measured_run (Big                  *big,
              MailerStore          *store,
              MailerAccount        *account,
              MailerImapSyncResult *out,
              double               *seconds)
{
  g_autoptr(GError) error = NULL;
  goffset before[2], after[2];
  gint64 start;

  proxy_bytes (big->proxy, before);
  start = g_get_monotonic_time ();
  g_assert_true (run_sync (store, account, out, &error));
  g_assert_no_error (error);
  *seconds = (g_get_monotonic_time () - start) / 1e6;
  wait_closed (big->proxy);
  proxy_bytes (big->proxy, after);
  return after[MAILER_TEST_PROXY_TO_CLIENT] - before[MAILER_TEST_PROXY_TO_CLIENT];
}

static void
test_qresync (Big           *big,
              gconstpointer  user_data)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "big-store", NULL);
  g_autoptr(MailerStore) store = NULL;
  g_autoptr(MailerAccount) account = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ServerState) state = NULL;
  g_autoptr(GArray) uids = NULL;
  MailerImapSyncResult out = { 0, };
  goffset first, again, quiet;
  double seconds;
  /* Positions in the mailbox of the messages another client changes. */
  static const guint flagged[] = { 9, 2500, N_BIG - 3 };
  static const guint expunged[] = { 100, 4000 };

  store = mailer_store_open (dir, &error);
  g_assert_no_error (error);
  account = add_account (store, "bo", mailer_test_proxy_get_port (big->proxy), MAILER_SECURITY_TLS, big->pin);

  first = measured_run (big, store, account, &out, &seconds);
  g_test_message ("First sync: %u new messages, %" G_GOFFSET_FORMAT " bytes from the server, %.2f s",
                  out.n_new, first, seconds);
  g_assert_cmpuint (out.n_new, ==, N_BIG);
  state = server_state (big->dovecot, "bo");
  assert_store_equals_server (dir, mailer_account_get_id (account), state);

  /* Another client: three flag changes, two expunges. */
  uids = mailer_test_dovecot_get_uids (big->dovecot, "bo", "INBOX", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (uids->len, ==, N_BIG);
  for (guint i = 0; i < G_N_ELEMENTS (flagged); i++)
    g_assert_true (mailer_test_dovecot_add_flags (big->dovecot, "bo", "INBOX", g_array_index (uids, guint32, flagged[i]),
                                                  i == 1 ? "\\Flagged $Later" : "\\Flagged", &error));
  g_assert_true (mailer_test_dovecot_remove_flags (big->dovecot, "bo", "INBOX",
                                                   g_array_index (uids, guint32, 3), "\\Seen", &error));
  for (guint i = 0; i < G_N_ELEMENTS (expunged); i++)
    g_assert_true (mailer_test_dovecot_expunge (big->dovecot, "bo", "INBOX", g_array_index (uids, guint32, expunged[i]),
                                                &error));
  g_assert_no_error (error);

  again = measured_run (big, store, account, &out, &seconds);
  g_test_message ("Resync: %u flag changes, %u vanished, %" G_GOFFSET_FORMAT " bytes from the server "
                  "(%.2f%% of the first), %.2f s",
                  out.n_flag_changes, out.n_vanished, again, 100.0 * again / first, seconds);
  g_assert_cmpuint (out.n_new, ==, 0);
  g_assert_cmpuint (out.n_vanished, ==, G_N_ELEMENTS (expunged));
  /* Three flagged, one unread again: each reported once. */
  g_assert_cmpuint (out.n_flag_changes, ==, G_N_ELEMENTS (flagged) + 1);
  g_assert_cmpint (again, <, first / 50);
  g_assert_cmpint (again, <, 20 * 1024);

  g_clear_pointer (&state, server_state_free);
  state = server_state (big->dovecot, "bo");
  g_assert_cmpuint (((GPtrArray *) g_hash_table_lookup (state->lists, "INBOX"))->len, ==, N_BIG - 2);
  assert_store_equals_server (dir, mailer_account_get_id (account), state);

  /* Nothing changed: less still. */
  quiet = measured_run (big, store, account, &out, &seconds);
  g_test_message ("Resync without changes: %" G_GOFFSET_FORMAT " bytes from the server", quiet);
  g_assert_cmpuint (out.n_flag_changes + out.n_vanished + out.n_new, ==, 0);
  g_assert_cmpint (quiet, <=, again);

  g_clear_object (&store);
  remove_tree (dir);

  /* A first sync of another store cut a third of the way: the summaries
   * come newest first, so the older ones are missing, below the highest
   * UID stored; the next run must still fetch them all. */
  {
    g_autofree char *cut_dir = g_build_filename (g_get_user_data_dir (), "big-cut-store", NULL);
    g_autoptr(MailerStore) cut_store = mailer_store_open (cut_dir, &error);
    g_autoptr(MailerAccount) cut_account = NULL;
    gint64 account_id;
    guint n_stored;

    g_assert_no_error (error);
    cut_account = add_account (cut_store, "bo", mailer_test_proxy_get_port (big->proxy), MAILER_SECURITY_TLS,
                               big->pin);
    account_id = mailer_account_get_id (cut_account);
    mailer_test_proxy_set_cut (big->proxy, MAILER_TEST_PROXY_TO_CLIENT, first / 3);
    g_assert_false (run_sync (cut_store, cut_account, &out, &error));
    g_test_message ("First sync cut after %" G_GOFFSET_FORMAT " bytes: %s", first / 3, error->message);
    g_clear_error (&error);
    wait_closed (big->proxy);
    mailer_test_proxy_clear (big->proxy);
    {
      sqlite3 *db = open_database (cut_dir);

      n_stored = query_int (db, "SELECT count(*) FROM messages m JOIN folders f ON f.id = m.folder_id"
                                " WHERE f.account_id = ?1", account_id);
      sqlite3_close (db);
    }
    g_test_message ("%u summaries stored before the cut", n_stored);
    g_assert_cmpuint (n_stored, >, 0);
    g_assert_cmpuint (n_stored, <, N_BIG - 2);

    g_assert_true (run_sync (cut_store, cut_account, &out, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (out.n_new, ==, N_BIG - 2 - n_stored);
    wait_closed (big->proxy);
    assert_store_equals_server (cut_dir, account_id, state);
    g_clear_object (&cut_store);
    remove_tree (cut_dir);
  }
}

/* The cut sweep */

typedef struct
{
  MailerTestDovecot *dovecot;
  MailerTestProxy *proxy;
  guint next_user;
} Sweep;

static void
sweep_set_up (Sweep         *sweep,
              gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  sweep->dovecot = mailer_test_dovecot_new ();
  for (guint u = 0; u < N_CUT_USERS; u++)
    {
      g_autofree char *user = g_strdup_printf ("cut%03u", u);

      seed_user (sweep->dovecot, user);
    }
  g_assert_true (mailer_test_dovecot_start (sweep->dovecot, &error));
  g_assert_no_error (error);
  sweep->proxy = mailer_test_proxy_new ("127.0.0.1", mailer_test_dovecot_get_port (sweep->dovecot,
                                                                                   MAILER_TEST_DOVECOT_IMAP));
  g_assert_true (mailer_test_proxy_start (sweep->proxy, &error));
  g_assert_no_error (error);
  g_test_message ("%u mailboxes seeded and Dovecot started in %.2f s", N_CUT_USERS,
                  (g_get_monotonic_time () - start) / 1e6);
}

static void
sweep_tear_down (Sweep         *sweep,
                 gconstpointer  user_data)
{
  g_clear_object (&sweep->proxy);
  mailer_test_dovecot_stop (sweep->dovecot);
  g_clear_object (&sweep->dovecot);
}

typedef struct
{
  char *user;
  char *dir;
  MailerStore *store;
  MailerAccount *account;
  gint64 rows[N_CHANGES];
  GHashTable *model;
} Run;

static void
run_free (Run *run)
{
  g_clear_object (&run->account);
  g_clear_object (&run->store);
  if (run->dir != NULL)
    remove_tree (run->dir);
  g_free (run->dir);
  g_free (run->user);
  g_clear_pointer (&run->model, g_hash_table_unref);
  g_free (run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Run, run_free)

/* New mail and another client's changes, after the first sync. */
static void
other_client (Sweep *sweep,
              Run   *run)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 1; i <= 3; i++)
    {
      g_autoptr(GBytes) message = make_message ("new", i);
      const char *args[] = { "save", "-u", run->user, "-m", "INBOX", NULL };
      Expected *expected = g_new0 (Expected, 1);

      g_assert_true (mailer_test_dovecot_doveadmv (sweep->dovecot, args, message, NULL, &error));
      g_assert_no_error (error);
      expected->mailbox = g_strdup ("INBOX");
      expected->keywords = g_strdup ("");
      g_hash_table_insert (run->model, g_strdup_printf ("new-%u@example.org", i), expected);
    }
  /* m-20 is expunged; m-21 read and tagged (seeded messages have UID N). */
  g_assert_true (mailer_test_dovecot_expunge (sweep->dovecot, run->user, "INBOX", 20, &error));
  g_assert_true (mailer_test_dovecot_add_flags (sweep->dovecot, run->user, "INBOX", 21, "\\Seen $Work", &error));
  g_assert_no_error (error);
  g_hash_table_remove (run->model, "m-20@example.org");
  {
    Expected *expected = g_hash_table_lookup (run->model, "m-21@example.org");

    expected->flags |= MAILER_MESSAGE_FLAG_SEEN;
    g_free (expected->keywords);
    expected->keywords = g_strdup ("$Work");
  }
}

/* A fresh mailbox and store, synced once; then the local changes, new
 * mail and another client's changes, for the run to test. */
static Run *
run_new (Sweep *sweep)
{
  Run *run = g_new0 (Run, 1);
  g_autoptr(GError) error = NULL;
  MailerImapSyncResult out = { 0, };

  g_assert_cmpuint (sweep->next_user, <, N_CUT_USERS);
  run->user = g_strdup_printf ("cut%03u", sweep->next_user++);
  run->dir = g_build_filename (g_get_user_data_dir (), run->user, NULL);
  run->store = mailer_store_open (run->dir, &error);
  g_assert_no_error (error);
  run->account = add_account (run->store, run->user, mailer_test_proxy_get_port (sweep->proxy),
                              MAILER_SECURITY_NONE, NULL);
  run->model = model_new ();

  mailer_test_proxy_clear (sweep->proxy);
  g_assert_true (run_sync (run->store, run->account, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out.n_new, ==, g_hash_table_size (run->model));
  wait_closed (sweep->proxy);

  make_changes (run->store, run->dir, mailer_account_get_id (run->account), run->rows);
  for (guint i = 0; i < N_CHANGES; i++)
    model_apply (run->model, &changes[i]);
  other_client (sweep, run);
  return run;
}

/* A clean run, and the final state: the expected one, everywhere. */
static void
finish_run (Sweep      *sweep,
            Run        *run,
            const char *what)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ServerState) state = NULL;
  MailerImapSyncResult out = { 0, };
  gint64 account_id = mailer_account_get_id (run->account);

  mailer_test_proxy_clear (sweep->proxy);
  if (!run_sync (run->store, run->account, &out, &error))
    g_error ("The run after %s failed: %s", what, error->message);
  wait_closed (sweep->proxy);
  g_assert_cmpuint (journal_length (run->dir, account_id), ==, 0);
  state = server_state (sweep->dovecot, run->user);
  assert_server_is (state, run->model);
  assert_store_equals_server (run->dir, account_id, state);
}

typedef struct
{
  guint tested;
  guint failed;
  guint succeeded;
} Tally;

static const char * const direction_names[2] = { "client to server", "server to client" };

static void
cut_at (Sweep                    *sweep,
        MailerTestProxyDirection  direction,
        goffset                   offset,
        Tally                    *tally)
{
  g_autoptr(Run) run = run_new (sweep);
  g_autoptr(GError) error = NULL;
  g_autofree char *what = NULL;
  MailerImapSyncResult out = { 0, };
  gint64 account_id = mailer_account_get_id (run->account);
  guint n_pending;
  gboolean ok;

  mailer_test_proxy_clear (sweep->proxy);
  mailer_test_proxy_set_cut (sweep->proxy, direction, offset);
  ok = run_sync (run->store, run->account, &out, &error);
  if (ok)
    tally->succeeded++;
  else
    {
      g_assert_nonnull (error);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_assert_cmpint (mailer_account_get_connection_state (run->account), ==, MAILER_CONNECTION_STATE_ERROR);
      tally->failed++;
    }
  tally->tested++;
  wait_closed (sweep->proxy);
  what = g_strdup_printf ("a cut %s after %" G_GOFFSET_FORMAT " bytes", direction_names[direction], offset);
  n_pending = journal_length (run->dir, account_id);
  g_test_message ("%s: %s; %u changes still in the journal", what, ok ? "run succeeded" : error->message,
                  n_pending);

  /* Right after the cut: every change is on the server or in the journal
   * (trivially so while the journal is whole). */
  g_assert_cmpuint (n_pending, <=, N_CHANGES);
  if (n_pending < N_CHANGES)
    assert_no_change_lost (sweep->dovecot, run->user, run->dir, account_id, run->rows, what);
  if (ok)
    g_assert_cmpuint (n_pending, ==, 0);

  finish_run (sweep, run, what);
}

static void
add_offset (GArray  *offsets,
            goffset  offset,
            goffset  total)
{
  if (offset >= 0 && offset <= total)
    g_array_append_val (offsets, offset);
}

static int
compare_offsets (gconstpointer a,
                 gconstpointer b)
{
  goffset x = *(const goffset *) a, y = *(const goffset *) b;

  return x < y ? -1 : x > y;
}

/* Where the phases of a session end, in bytes each way: the login (the
 * account goes from connecting to syncing), then the listing and the
 * replay (it starts on the folders: "Checking ..."), then the rest. */
typedef struct
{
  MailerTestProxy *proxy;
  goffset login[2];
  goffset replay[2];
  gboolean logged_in;
  gboolean replayed;
} Phases;

static void
phase_cb (MailerAccount *account,
          GParamSpec    *pspec,
          Phases        *phases)
{
  const char *status = mailer_account_get_status_message (account);
  goffset *at = NULL;

  if (!phases->logged_in && mailer_account_get_connection_state (account) == MAILER_CONNECTION_STATE_SYNCING)
    {
      phases->logged_in = TRUE;
      at = phases->login;
    }
  else if (phases->logged_in && !phases->replayed && status != NULL && g_str_has_prefix (status, "Checking "))
    {
      phases->replayed = TRUE;
      at = phases->replay;
    }
  if (at != NULL)
    {
      at[0] = mailer_test_proxy_get_bytes (phases->proxy, MAILER_TEST_PROXY_TO_SERVER);
      at[1] = mailer_test_proxy_get_bytes (phases->proxy, MAILER_TEST_PROXY_TO_CLIENT);
    }
}

static void
test_cut_sweep (Sweep         *sweep,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  Tally tallies[2] = { { 0, }, };
  goffset total[2], login[2], replay[2];
  gint64 start = g_get_monotonic_time ();
  guint n_tested = 0, n_failed = 0;

  /* A clean session with the same pending changes: how many bytes it
   * moves each way, and where its replay ends. */
  {
    g_autoptr(Run) run = run_new (sweep);
    goffset before[2], after[2];
    MailerImapSyncResult out = { 0, };
    Phases phases = { sweep->proxy, { 0, }, { 0, }, FALSE, FALSE };
    gulong handlers[2];

    proxy_bytes (sweep->proxy, before);
    handlers[0] = g_signal_connect (run->account, "notify::status-message", G_CALLBACK (phase_cb), &phases);
    handlers[1] = g_signal_connect (run->account, "notify::connection-state", G_CALLBACK (phase_cb), &phases);
    g_assert_true (run_sync (run->store, run->account, &out, &error));
    g_assert_no_error (error);
    g_signal_handler_disconnect (run->account, handlers[0]);
    g_signal_handler_disconnect (run->account, handlers[1]);
    wait_closed (sweep->proxy);
    proxy_bytes (sweep->proxy, after);
    g_assert_true (phases.replayed);
    g_assert_cmpuint (out.n_replayed, ==, N_CHANGES);
    g_assert_cmpuint (out.n_new, ==, 3);
    /* m-20, and what the replay took out of the folders. */
    g_assert_cmpuint (out.n_vanished, >=, 1);
    for (guint d = 0; d < 2; d++)
      {
        total[d] = after[d] - before[d];
        login[d] = phases.login[d] - before[d];
        replay[d] = phases.replay[d] - before[d];
        g_test_message ("%s: %" G_GOFFSET_FORMAT " bytes in a whole session; logged in after %" G_GOFFSET_FORMAT
                        ", the listing and the replay done after %" G_GOFFSET_FORMAT,
                        direction_names[d], total[d], login[d], replay[d]);
        g_assert_cmpint (0, <, login[d]);
        g_assert_cmpint (login[d], <, replay[d]);
        g_assert_cmpint (replay[d], <, total[d]);
      }
    finish_run (sweep, run, "a clean session");
  }

  for (guint d = 0; d < 2; d++)
    {
      g_autoptr(GArray) offsets = g_array_new (FALSE, FALSE, sizeof (goffset));
      guint n = d == MAILER_TEST_PROXY_TO_CLIENT ? N_CUT_OFFSETS_TO_CLIENT : N_CUT_OFFSETS_TO_SERVER;
      guint n_login = n / 6, n_replay = n / 2, n_rest = n - 3 - n_login - n_replay;
      guint w = 0;

      /* The edges; a sixth of the offsets over the login, half over the
       * listing and the replay, the rest over the folders after it. */
      add_offset (offsets, 0, total[d]);
      add_offset (offsets, 1, total[d]);
      add_offset (offsets, total[d] - 1, total[d]);
      for (guint i = 1; i <= n_login; i++)
        add_offset (offsets, login[d] * i / (n_login + 1), total[d]);
      for (guint i = 0; i < n_replay; i++)
        add_offset (offsets, login[d] + (replay[d] - login[d]) * i / n_replay, total[d]);
      for (guint i = 0; i < n_rest; i++)
        add_offset (offsets, replay[d] + (total[d] - replay[d]) * i / n_rest, total[d]);
      g_array_sort (offsets, compare_offsets);
      for (guint i = 0; i < offsets->len; i++)
        if (w == 0 || g_array_index (offsets, goffset, i) != g_array_index (offsets, goffset, w - 1))
          g_array_index (offsets, goffset, w++) = g_array_index (offsets, goffset, i);
      g_array_set_size (offsets, w);

      for (guint i = 0; i < offsets->len; i++)
        cut_at (sweep, d, g_array_index (offsets, goffset, i), &tallies[d]);
    }

  for (guint d = 0; d < 2; d++)
    {
      g_test_message ("%s: %u offsets, %u cut runs failed, %u succeeded", direction_names[d],
                      tallies[d].tested, tallies[d].failed, tallies[d].succeeded);
      n_tested += tallies[d].tested;
      n_failed += tallies[d].failed;
    }
  g_test_message ("%u cut offsets tested in %.1f s", n_tested, (g_get_monotonic_time () - start) / 1e6);
  g_assert_cmpuint (n_tested, >=, 50);
  /* Only a cut at the very end may leave a run whole. */
  g_assert_cmpuint (n_failed, >=, n_tested - 4);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add ("/imap-faults/offline-kill", Kill, NULL, kill_set_up, test_offline_kill, kill_tear_down);
  g_test_add ("/imap-faults/qresync", Big, NULL, big_set_up, test_qresync, big_tear_down);
  g_test_add ("/imap-faults/cut-sweep", Sweep, NULL, sweep_set_up, test_cut_sweep, sweep_tear_down);

  return g_test_run ();
}
