/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * mailer-store-bench: how the store copes with a large mailbox.
 *
 * Times inserting generated message summaries twice, each into a fresh
 * store: header-only summaries as an IMAP header sync stores them (no body
 * text yet), then summaries with body text that is all indexed for search
 * (threads, senders from a pool, bodies of words from a vocabulary with
 * some non-ASCII words).  Then times what the message list does on the
 * second store: open a folder and show its first rows, fetch rows at
 * random positions, search, open the unified inbox.  Reports the peak
 * memory and the database size, then compares raw messages stored as blobs
 * in the database with raw messages stored as files.  Prints a Markdown
 * report on stdout; progress goes to stderr.  See bench/README.md.
 *
 *   mailer-store-bench [--messages N] [--dir DIR] [--output FILE] [--headers-only]
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "mailer-message-list.h"
#include "mailer-store.h"

#define BATCH_SIZE 500
/* Batches handed to the store before the first one committed: enough to
 * keep the writer busy while the next batch is generated. */
#define MAX_IN_FLIGHT 4
#define REPEATS 5
#define RANDOM_SAMPLES 1000
#define FIRST_ROWS 50
#define SEED 20240611

#define TARGET_INSERT_RATE 20000.0   /* summaries/s, at least */
#define TARGET_OPEN_MS 100.0         /* at most */
#define TARGET_RANDOM_MS 5.0
#define TARGET_SEARCH_MS 50.0
#define TARGET_RSS_MIB 150.0

#define MIB (1024.0 * 1024.0)

/* Deterministic pseudo-random numbers (splitmix64) */

typedef struct
{
  guint64 state;
} Rng;

static inline guint64
rng_next (Rng *rng)
{
  guint64 z = (rng->state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static inline guint
rng_below (Rng   *rng,
           guint  n)
{
  return (guint) (((rng_next (rng) >> 32) * (guint64) n) >> 32);
}

/* TRUE with probability @percent / 100. */
static inline gboolean
rng_percent (Rng   *rng,
             guint  percent)
{
  return rng_below (rng, 100) < percent;
}

/* Words */

/* Ranked by frequency; rank 1 is the most common word. */
static const char * const common_words[] = {
  "the", "to", "and", "of", "a", "in", "for", "is", "on", "that", "we", "project",
  "you", "with", "this", "it", "be", "are", "as", "will", "have", "at", "from",
  "can", "not", "our", "please", "by", "or", "your", "if", "an", "all", "would",
  "they", "thanks", "meeting", "was", "but", "team", "which", "next", "time",
  "about", "there", "has", "more", "week", "also", "one", "new", "us", "report",
  "should", "their", "been", "what", "when", "know", "let", "some", "could",
  "need", "them", "review", "update", "today", "into", "other", "budget",
  "before", "after", "only", "any", "just", "like", "do", "so", "than",
  "customer", "first", "release", "server", "last", "see", "attached", "document",
  "client", "office", "monday", "friday", "morning", "afternoon", "draft",
  "proposal", "schedule", "question", "issue", "change", "changes", "plan",
  "quarter", "numbers", "results", "version", "feedback", "comments", "soon",
  "tomorrow", "yesterday", "agenda", "call", "discuss", "confirm", "available",
  "contract", "invoice", "payment", "order", "delivery", "shipping", "account",
  "support", "ticket", "design", "prototype", "testing", "deadline", "launch",
  "marketing", "sales", "board", "conference", "travel", "hotel", "flight",
  "lunch", "dinner", "coffee", "weekend", "holiday", "vacation", "building",
  "security", "network", "backup", "database", "migration", "training", "hiring",
  "interview", "candidate", "offer", "policy", "legal", "approval", "signature",
};

/* Spread over the middle of the ranking. */
static const char * const non_ascii_words[] = {
  "Grüße", "café", "naïve", "Привет", "über", "Zürich", "résumé", "señor",
  "Straße", "spółka", "déjà", "Ελλάδα", "façade", "Köln", "smörgåsbord",
  "Москва", "coöperation", "jalapeño", "Malmö", "Ærø",
};

static const char * const syllables[] = {
  "ba", "be", "bi", "bo", "bu", "ca", "ce", "co", "da", "de", "di", "do", "fa",
  "fe", "fi", "ga", "go", "ha", "he", "ja", "ka", "ke", "ki", "ko", "la", "le",
  "li", "lo", "lu", "ma", "me", "mi", "mo", "mu", "na", "ne", "ni", "no", "pa",
  "pe", "pi", "po", "ra", "re", "ri", "ro", "ru", "sa", "se", "si", "so", "ta",
  "te", "ti", "to", "tu", "va", "ve", "vi", "vo", "za", "ze", "zo", "tra", "pre",
  "sto", "gri", "blu", "chan", "shor", "ment", "tion", "ver", "ster", "ling",
};

#define VOCABULARY_SIZE 20000
/* Where the non-ASCII words sit in the ranking: rank NON_ASCII_FIRST_RANK,
 * then every NON_ASCII_STEP ranks. */
#define NON_ASCII_FIRST_RANK 500
#define NON_ASCII_STEP 97
/* The rare search word: about one message in a thousand has it. */
#define RARE_WORD "zeppelin"
#define RARE_RANK 15000
#define COMMON_WORD "project"
#define NON_ASCII_QUERY "grusse"
/* Resolution of the table that maps random numbers to ranks. */
#define ZIPF_BITS 20

typedef struct
{
  GPtrArray *words;      /* of char *, by rank */
  guint16 *zipf;         /* 1 << ZIPF_BITS ranks, Zipf (s = 1) distributed */
} Vocabulary;

static gboolean
word_is_reserved (const char *word)
{
  return g_str_has_prefix (word, RARE_WORD) || g_str_has_prefix (word, COMMON_WORD) ||
         g_str_has_prefix (word, NON_ASCII_QUERY) || g_str_has_prefix (word, "gruss");
}

static Vocabulary *
vocabulary_new (void)
{
  Vocabulary *vocabulary = g_new0 (Vocabulary, 1);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  Rng rng = { SEED ^ 0x5eed };
  double harmonic = 0, cumulative = 0;
  guint slot = 0;

  vocabulary->words = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < G_N_ELEMENTS (common_words); i++)
    {
      g_ptr_array_add (vocabulary->words, g_strdup (common_words[i]));
      g_hash_table_add (seen, (gpointer) common_words[i]);
    }

  /* Made-up words for the long tail. */
  while (vocabulary->words->len < VOCABULARY_SIZE)
    {
      GString *word = g_string_new (NULL);
      guint n = 2 + rng_below (&rng, 3);

      for (guint i = 0; i < n; i++)
        g_string_append (word, syllables[rng_below (&rng, G_N_ELEMENTS (syllables))]);
      if (g_hash_table_contains (seen, word->str) || word_is_reserved (word->str))
        {
          g_string_free (word, TRUE);
          continue;
        }
      g_ptr_array_add (vocabulary->words, word->str);
      g_hash_table_add (seen, word->str);
      g_string_free (word, FALSE);
    }

  for (guint i = 0; i < G_N_ELEMENTS (non_ascii_words); i++)
    {
      guint rank = NON_ASCII_FIRST_RANK + i * NON_ASCII_STEP;

      g_free (vocabulary->words->pdata[rank - 1]);
      vocabulary->words->pdata[rank - 1] = g_strdup (non_ascii_words[i]);
    }
  g_free (vocabulary->words->pdata[RARE_RANK - 1]);
  vocabulary->words->pdata[RARE_RANK - 1] = g_strdup (RARE_WORD);

  /* The inverse of the cumulative distribution, sampled. */
  for (guint r = 1; r <= VOCABULARY_SIZE; r++)
    harmonic += 1.0 / r;
  vocabulary->zipf = g_new (guint16, 1 << ZIPF_BITS);
  for (guint r = 1; r <= VOCABULARY_SIZE; r++)
    {
      cumulative += 1.0 / (r * harmonic);
      while (slot < (1u << ZIPF_BITS) && (slot + 0.5) / (1 << ZIPF_BITS) < cumulative)
        vocabulary->zipf[slot++] = r - 1;
    }
  while (slot < (1u << ZIPF_BITS))
    vocabulary->zipf[slot++] = VOCABULARY_SIZE - 1;

  return vocabulary;
}

static void
vocabulary_free (Vocabulary *vocabulary)
{
  g_ptr_array_unref (vocabulary->words);
  g_free (vocabulary->zipf);
  g_free (vocabulary);
}

static inline const char *
vocabulary_pick (Vocabulary *vocabulary,
                 Rng        *rng)
{
  guint slot = (guint) (rng_next (rng) >> (64 - ZIPF_BITS));

  return vocabulary->words->pdata[vocabulary->zipf[slot]];
}

/* A word from the middle of the ranking: what a subject is about. */
static const char *
vocabulary_pick_topic (Vocabulary *vocabulary,
                       Rng        *rng)
{
  return vocabulary->words->pdata[40 + rng_below (rng, 3000)];
}

/* People */

typedef struct
{
  const char *display;
  const char *ascii;
} Name;

static const Name first_names[] = {
  { "Anna", "anna" }, { "Ben", "ben" }, { "Chloé", "chloe" }, { "David", "david" },
  { "Elena", "elena" }, { "François", "francois" }, { "Grace", "grace" },
  { "Hiroshi", "hiroshi" }, { "Ingrid", "ingrid" }, { "José", "jose" },
  { "Karin", "karin" }, { "Liam", "liam" }, { "Maria", "maria" }, { "Nikolai", "nikolai" },
  { "Olivia", "olivia" }, { "Paul", "paul" }, { "Quentin", "quentin" }, { "Rosa", "rosa" },
  { "Søren", "soren" }, { "Tomás", "tomas" }, { "Uwe", "uwe" }, { "Vera", "vera" },
  { "Wei", "wei" }, { "Xavier", "xavier" }, { "Yusuf", "yusuf" }, { "Zoë", "zoe" },
  { "Дмитрий", "dmitry" }, { "Jürgen", "juergen" }, { "Aisha", "aisha" },
};

static const Name last_names[] = {
  { "Müller", "mueller" }, { "García", "garcia" }, { "Smith", "smith" },
  { "Nguyen", "nguyen" }, { "Kowalski", "kowalski" }, { "Иванов", "ivanov" },
  { "O'Brien", "obrien" }, { "Rossi", "rossi" }, { "Schmidt", "schmidt" },
  { "Dubois", "dubois" }, { "Jensen", "jensen" }, { "Silva", "silva" },
  { "Tanaka", "tanaka" }, { "Novák", "novak" }, { "Brown", "brown" },
  { "Lefèvre", "lefevre" }, { "Andersson", "andersson" }, { "Costa", "costa" },
  { "Weber", "weber" }, { "Martin", "martin" }, { "Okafor", "okafor" },
};

static const char * const domains[] = {
  "example.org", "example.com", "mail.example.net", "corp.example",
  "uni.example.edu", "example.de", "lists.example.org",
};

#define N_PEOPLE 600

typedef enum
{
  GREETING_ENGLISH,
  GREETING_GERMAN,
  GREETING_RUSSIAN,
} Greeting;

typedef struct
{
  char *first;
  char *name;
  char *address;
  Greeting greeting;
} Person;

/* Subjects are a topic word between these. */
static const char * const subject_parts[][2] = {
  { "Quarterly report: ", "" },
  { "Meeting notes (", ")" },
  { "Question about ", "" },
  { "Draft proposal for the ", " project" },
  { "Travel plans: ", " in March" },
  { "Update on ", "" },
  { "[dev] Patch: fix ", " handling" },
  { "Lunch on Friday? ", "" },
  { "Invoice for ", " services" },
  { "Your ", " order has shipped" },
  { "Reminder: ", " deadline" },
  { "Feedback on the ", " design" },
  { "Planning the ", " launch" },
  { "Notes from the ", " workshop" },
  { "", " — status" },
};

/* Messages */

typedef struct
{
  char *subject;         /* of the first message */
  GPtrArray *msgids;     /* of char *, the chain so far, oldest first */
  guint people[2];
} Thread;

static void
thread_free (Thread *thread)
{
  g_free (thread->subject);
  g_ptr_array_unref (thread->msgids);
  g_free (thread);
}

#define OPEN_THREADS 64
#define MAX_THREAD_DEPTH 8
#define MAX_REFERENCES 10

typedef struct
{
  GPtrArray *threads;    /* of Thread, conversations still going on */
  gint64 folder_id;
  guint next_uid;
  guint count;
} Mailbox;

typedef struct
{
  Rng rng;
  Vocabulary *vocabulary;
  Person people[N_PEOPLE];
  gint64 first_date;
  gint64 span;           /* seconds the dates spread over */
  guint n_messages;
  guint next;            /* messages generated so far */
  gboolean headers_only; /* no body text or preview, as an IMAP header sync */
} Generator;

static void
generator_init (Generator *gen,
                guint      n_messages,
                gboolean   headers_only)
{
  memset (gen, 0, sizeof *gen);
  gen->rng.state = SEED;
  gen->headers_only = headers_only;
  gen->vocabulary = vocabulary_new ();
  gen->n_messages = n_messages;
  gen->span = 3 * 365 * 24 * 3600;
  gen->first_date = 1700000000 - gen->span;

  for (guint p = 0; p < N_PEOPLE; p++)
    {
      const Name *first = &first_names[p % G_N_ELEMENTS (first_names)];
      const Name *last = &last_names[(p / G_N_ELEMENTS (first_names) + p * 7) % G_N_ELEMENTS (last_names)];
      const char *domain = domains[p % G_N_ELEMENTS (domains)];
      Person *person = &gen->people[p];

      person->first = g_strdup (first->display);
      person->name = g_strdup_printf ("%s %s", first->display, last->display);
      person->address = g_strdup_printf ("%s.%s%s@%s", first->ascii, last->ascii,
                                         p < G_N_ELEMENTS (first_names) * G_N_ELEMENTS (last_names) ? "" : "2",
                                         domain);
      person->greeting = g_str_has_suffix (domain, ".de") || p % 9 == 0 ? GREETING_GERMAN
                       : p % 13 == 0 ? GREETING_RUSSIAN
                       : GREETING_ENGLISH;
    }
}

static void
generator_clear (Generator *gen)
{
  for (guint p = 0; p < N_PEOPLE; p++)
    {
      g_free (gen->people[p].first);
      g_free (gen->people[p].name);
      g_free (gen->people[p].address);
    }
  vocabulary_free (gen->vocabulary);
}

static void
append_people (GString   *out,
               Generator *gen,
               guint      first,
               guint      n)
{
  for (guint i = 0; i < n; i++)
    {
      const Person *person = &gen->people[(first + i * 37) % N_PEOPLE];

      if (i > 0)
        g_string_append (out, ", ");
      g_string_append_printf (out, "%s <%s>", person->name, person->address);
    }
}

/* About 1–2 KB of sentences, with a greeting and a sign-off. */
static char *
make_body (Generator    *gen,
           const Person *from,
           const Person *to)
{
  gsize length = 1024 + rng_below (&gen->rng, 1025);
  GString *body = g_string_sized_new (length + 128);
  guint sentence_words = 0, sentence_length = 0, sentences = 0;

  switch (from->greeting)
    {
    case GREETING_GERMAN:
      g_string_append_printf (body, "Hallo %s,\n\n", to->first);
      break;
    case GREETING_RUSSIAN:
      g_string_append_printf (body, "Привет, %s!\n\n", to->first);
      break;
    case GREETING_ENGLISH:
    default:
      g_string_append_printf (body, "Hi %s,\n\n", to->first);
    }

  while (body->len < length)
    {
      const char *word = vocabulary_pick (gen->vocabulary, &gen->rng);

      if (sentence_words == 0)
        {
          sentence_length = 6 + rng_below (&gen->rng, 12);
          g_string_append_c (body, g_ascii_toupper (word[0]));
          g_string_append (body, word + 1);
        }
      else
        {
          g_string_append_c (body, ' ');
          g_string_append (body, word);
        }

      if (++sentence_words == sentence_length)
        {
          g_string_append_c (body, rng_percent (&gen->rng, 10) ? '?' : '.');
          sentence_words = 0;
          if (++sentences % (3 + rng_below (&gen->rng, 3)) == 0)
            g_string_append (body, "\n\n");
          else
            g_string_append_c (body, ' ');
        }
    }
  if (sentence_words > 0)
    g_string_append_c (body, '.');

  switch (from->greeting)
    {
    case GREETING_GERMAN:
      g_string_append_printf (body, "\n\nViele Grüße\n%s\n", from->first);
      break;
    case GREETING_RUSSIAN:
      g_string_append_printf (body, "\n\nС уважением,\n%s\n", from->first);
      break;
    case GREETING_ENGLISH:
    default:
      g_string_append_printf (body, "\n\nBest regards,\n%s\n", from->first);
    }
  return g_string_free (body, FALSE);
}

/* The start of @body, white space collapsed, at most
 * MAILER_MIME_PREVIEW_CHARS characters. */
static char *
make_preview (const char *body)
{
  GString *preview = g_string_sized_new (MAILER_MIME_PREVIEW_CHARS * 2);
  guint chars = 0;
  gboolean space = FALSE;

  for (const char *p = body; *p != '\0' && chars < MAILER_MIME_PREVIEW_CHARS; p = g_utf8_next_char (p))
    {
      if (g_ascii_isspace (*p))
        {
          space = preview->len > 0;
          continue;
        }
      if (space)
        {
          g_string_append_c (preview, ' ');
          chars++;
          space = FALSE;
          if (chars == MAILER_MIME_PREVIEW_CHARS)
            break;
        }
      g_string_append_len (preview, p, g_utf8_next_char (p) - p);
      chars++;
    }
  return g_string_free (preview, FALSE);
}

static MailerStoreNewMessage *
generate_message (Generator *gen,
                  Mailbox   *mailbox)
{
  MailerStoreNewMessage *message = mailer_store_new_message_new ();
  MailerMimeSummary *summary = g_new0 (MailerMimeSummary, 1);
  guint index = gen->next++;
  Thread *thread = NULL;
  GString *to = g_string_new (NULL);
  GString *cc = g_string_new (NULL);
  const Person *from, *first_to;
  guint from_index, to_index;
  gsize body_length;

  summary->message_id = g_strdup_printf ("%u.%08x@bench.example", index,
                                         (guint) (rng_next (&gen->rng) & 0xffffffff));

  /* A reply to a conversation still going on, or a new one. */
  if (mailbox->threads->len > 0 && rng_percent (&gen->rng, 35))
    {
      guint t = rng_below (&gen->rng, mailbox->threads->len);
      guint first_ref;

      thread = g_ptr_array_index (mailbox->threads, t);
      first_ref = thread->msgids->len > MAX_REFERENCES ? thread->msgids->len - MAX_REFERENCES : 0;
      summary->in_reply_to = g_strdup (g_ptr_array_index (thread->msgids, thread->msgids->len - 1));
      summary->references = g_new0 (char *, thread->msgids->len - first_ref + 1);
      for (guint i = first_ref; i < thread->msgids->len; i++)
        summary->references[i - first_ref] = g_strdup (thread->msgids->pdata[i]);
      summary->subject = g_strconcat (rng_percent (&gen->rng, 5) ? "Fwd: " : "Re: ",
                                      thread->subject, NULL);
      /* The two people of the conversation take turns. */
      from_index = thread->people[thread->msgids->len % 2];
      to_index = thread->people[(thread->msgids->len + 1) % 2];
      g_ptr_array_add (thread->msgids, g_strdup (summary->message_id));
      if (thread->msgids->len >= MAX_THREAD_DEPTH)
        g_ptr_array_remove_index_fast (mailbox->threads, t);
    }
  else
    {
      guint part = rng_below (&gen->rng, G_N_ELEMENTS (subject_parts));

      summary->references = g_new0 (char *, 1);
      summary->subject = g_strconcat (subject_parts[part][0],
                                      vocabulary_pick_topic (gen->vocabulary, &gen->rng),
                                      subject_parts[part][1], NULL);
      from_index = rng_below (&gen->rng, N_PEOPLE);
      to_index = rng_below (&gen->rng, N_PEOPLE);

      thread = g_new0 (Thread, 1);
      thread->subject = g_strdup (summary->subject);
      thread->msgids = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (thread->msgids, g_strdup (summary->message_id));
      thread->people[0] = from_index;
      thread->people[1] = to_index;
      if (mailbox->threads->len < OPEN_THREADS)
        g_ptr_array_add (mailbox->threads, thread);
      else
        {
          guint t = rng_below (&gen->rng, OPEN_THREADS);

          thread_free (mailbox->threads->pdata[t]);
          mailbox->threads->pdata[t] = thread;
        }
    }

  from = &gen->people[from_index];
  first_to = &gen->people[to_index];
  summary->from_name = g_strdup (from->name);
  summary->from_address = g_strdup (from->address);
  append_people (to, gen, to_index, 1 + (rng_percent (&gen->rng, 30) ? rng_below (&gen->rng, 3) : 0));
  if (rng_percent (&gen->rng, 25))
    append_people (cc, gen, rng_below (&gen->rng, N_PEOPLE), 1 + rng_below (&gen->rng, 3));
  summary->to = g_string_free (to, FALSE);
  summary->cc = g_string_free (cc, FALSE);

  /* Spread evenly over the span, a few hours either way. */
  summary->date = gen->first_date + (gint64) ((double) index / gen->n_messages * gen->span) +
                  rng_below (&gen->rng, 6 * 3600);
  if (gen->headers_only)
    {
      /* What an IMAP header sync stores: the envelope, flags, size and
       * whether there are attachments; the body and its text come later. */
      summary->body_text = g_strdup ("");
      summary->preview = g_strdup ("");
      body_length = 1024 + rng_below (&gen->rng, 1025);
    }
  else
    {
      summary->body_text = make_body (gen, from, first_to);
      summary->preview = make_preview (summary->body_text);
      body_length = strlen (summary->body_text);
    }
  summary->has_attachment = rng_percent (&gen->rng, 12);
  summary->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_mime_attachment_free);

  message->summary = summary;
  message->uid = ++mailbox->next_uid;
  message->internal_date = summary->date;
  message->size = body_length + 1200 +
                  (summary->has_attachment ? 20000 + rng_below (&gen->rng, 500000) : 0);
  if (gen->headers_only)
    message->modseq = message->uid;   /* the sync stores CONDSTORE's MODSEQ */
  if (rng_percent (&gen->rng, 70))
    message->flags |= MAILER_MESSAGE_FLAG_SEEN;
  if (rng_percent (&gen->rng, 4))
    message->flags |= MAILER_MESSAGE_FLAG_FLAGGED;
  if (summary->in_reply_to == NULL && rng_percent (&gen->rng, 10))
    message->flags |= MAILER_MESSAGE_FLAG_ANSWERED;
  mailbox->count++;
  return message;
}

/* Waiting for async results */

static void
result_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

/* Blocks in the default context until *result is set; returns it (transfer
 * full).  Blocking rather than polling: no sleep adds to a timing. */
static GAsyncResult *
wait_result (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return g_steal_pointer (result);
}

static void G_GNUC_NORETURN
die (const char   *what,
     const GError *error)
{
  g_printerr ("mailer-store-bench: %s: %s\n", what, error != NULL ? error->message : "failed");
  exit (1);
}

static void
save_account (MailerStore   *store,
              MailerAccount *account)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  g_autoptr(GError) error = NULL;

  mailer_store_save_account_async (store, account, NULL, result_cb, &pending);
  result = wait_result (&pending);
  if (!mailer_store_save_account_finish (store, result, &error))
    die ("saving an account", error);
}

static gint64
save_folder (MailerStore      *store,
             gint64            account_id,
             const char       *path,
             MailerFolderRole  role)
{
  g_autoptr(MailerFolder) folder = mailer_folder_new (account_id, path);
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  g_autoptr(GError) error = NULL;

  mailer_folder_set_role (folder, role);
  mailer_store_save_folder_async (store, folder, NULL, result_cb, &pending);
  result = wait_result (&pending);
  if (!mailer_store_save_folder_finish (store, result, &error))
    die ("saving a folder", error);
  return mailer_folder_get_id (folder);
}

static gint64
make_account (MailerStore *store,
              const char  *name,
              const char  *address)
{
  g_autoptr(MailerAccount) account = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);

  g_object_set (account,
                "display-name", name,
                "address", address,
                "host", "imap.example.org",
                "port", 993,
                "username", address,
                NULL);
  save_account (store, account);
  return mailer_account_get_id (account);
}

/* Drops the last reference to *@store, which closes it (and checkpoints
 * the WAL).  The writer thread lets go of a finished task, which holds the
 * store, just after queueing its result: wait for that, so that the last
 * reference goes here, on this thread. */
static void
close_store (MailerStore **store)
{
  gpointer weak = *store;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_object_add_weak_pointer (G_OBJECT (*store), &weak);
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
  while (g_atomic_int_get (&G_OBJECT (*store)->ref_count) > 1)
    {
      if (g_get_monotonic_time () > deadline)
        die ("closing the store", NULL);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (100);
    }
  g_clear_object (store);
  if (weak != NULL)
    die ("closing the store (still referenced)", NULL);
}

static MailerStore *
open_store (const char *dir)
{
  g_autoptr(GError) error = NULL;
  MailerStore *store = mailer_store_open (dir, &error);

  if (store == NULL)
    die ("opening the store", error);
  return store;
}

/* Drops @path's pages from the OS page cache (it must not be dirty). */
static void
evict_file (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return;
  fdatasync (fd);
  posix_fadvise (fd, 0, 0, POSIX_FADV_DONTNEED);
  close (fd);
}

static void
evict_database (const char *dir)
{
  const char * const names[] = { "mailer.db", "mailer.db-wal", "mailer.db-shm" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (dir, names[i], NULL);

      evict_file (path);
    }
}

static gint64
file_size (const char *dir,
           const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  GStatBuf st;

  return g_stat (path, &st) == 0 ? (gint64) st.st_size : 0;
}

static double
peak_rss_mib (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;   /* KiB on Linux */
}

/* Statistics */

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double da = *(const double *) a, db = *(const double *) b;

  return da < db ? -1 : da > db;
}

/* The value at percentile @p (0–100) by the nearest-rank method. */
static double
percentile (GArray *samples,
            double  p)
{
  g_autoptr(GArray) sorted = g_array_copy (samples);
  double exact = p / 100.0 * samples->len;
  guint rank = (guint) exact;

  if (rank < exact)
    rank++;
  g_array_sort (sorted, compare_doubles);
  return g_array_index (sorted, double, CLAMP (rank, 1, sorted->len) - 1);
}

static double
median (GArray *samples)
{
  g_autoptr(GArray) sorted = g_array_copy (samples);
  guint n = sorted->len;

  g_array_sort (sorted, compare_doubles);
  if (n % 2 == 1)
    return g_array_index (sorted, double, n / 2);
  return (g_array_index (sorted, double, n / 2 - 1) + g_array_index (sorted, double, n / 2)) / 2;
}

static double
minimum (GArray *samples)
{
  return percentile (samples, 0);
}

static double
maximum (GArray *samples)
{
  return percentile (samples, 100);
}

static inline double
ms_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000.0;
}

/* The report */

typedef struct
{
  char *number;
  char *what;
  char *figure;
  char *target;          /* NULL: no target */
  double ratio;
  gboolean ok;
} Row;

static void
row_free (Row *row)
{
  g_free (row->number);
  g_free (row->what);
  g_free (row->figure);
  g_free (row->target);
  g_free (row);
}

typedef struct
{
  char *dir;
  gboolean keep_dir;
  guint n_messages;
  GString *header;       /* machine and setup, Markdown */
  GPtrArray *rows;       /* of Row */
  GString *raw_table;
  guint sink;            /* keeps reads from being optimised away */
} Bench;

static char *format_count (double value);

/* A row with a target; @value and @target in @unit.  The target is a
 * minimum when @at_least, else a maximum. */
static void
add_row (Bench      *bench,
         const char *number,
         const char *what,
         char       *figure,
         double      value,
         double      target,
         const char *unit,
         gboolean    at_least)
{
  Row *row = g_new0 (Row, 1);
  g_autofree char *target_text = format_count (target);

  row->number = g_strdup (number);
  row->what = g_strdup (what);
  row->figure = figure;
  row->ratio = value / target;
  row->ok = at_least ? value >= target : value <= target;
  row->target = g_strdup_printf ("%s %s %s", at_least ? "≥" : "≤", target_text, unit);
  g_ptr_array_add (bench->rows, row);
}

static void
add_info_row (Bench      *bench,
              const char *number,
              const char *what,
              char       *figure)
{
  Row *row = g_new0 (Row, 1);

  row->number = g_strdup (number);
  row->what = g_strdup (what);
  row->figure = figure;
  g_ptr_array_add (bench->rows, row);
}

static char *
format_count (double value)
{
  g_autofree char *digits = g_strdup_printf ("%.0f", value);
  GString *out = g_string_new (NULL);
  gsize len = strlen (digits);

  for (gsize i = 0; i < len; i++)
    {
      if (i > 0 && (len - i) % 3 == 0)
        g_string_append_c (out, ',');
      g_string_append_c (out, digits[i]);
    }
  return g_string_free (out, FALSE);
}

static char *
format_timing (GArray *ms)
{
  return g_strdup_printf ("%.2f ms (min %.2f, max %.2f)", median (ms), minimum (ms), maximum (ms));
}

static char *
render_report (Bench *bench)
{
  GString *out = g_string_new (NULL);

  g_string_append (out, bench->header->str);
  g_string_append (out,
                   "\n| # | measurement | figure | target | figure/target | met |\n"
                   "|---|---|---|---|---|---|\n");
  for (guint i = 0; i < bench->rows->len; i++)
    {
      const Row *row = g_ptr_array_index (bench->rows, i);

      if (row->target != NULL)
        g_string_append_printf (out, "| %s | %s | %s | %s | %.3f | %s |\n",
                                row->number, row->what, row->figure, row->target,
                                row->ratio, row->ok ? "yes" : "**no**");
      else
        g_string_append_printf (out, "| %s | %s | %s | — | — | — |\n",
                                row->number, row->what, row->figure);
    }
  if (bench->raw_table != NULL)
    g_string_append (out, bench->raw_table->str);
  return g_string_free (out, FALSE);
}

/* Machine */

static char *
cpu_model (void)
{
  g_autofree char *cpuinfo = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/cpuinfo", &cpuinfo, NULL, NULL))
    return g_strdup ("unknown");
  lines = g_strsplit (cpuinfo, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "model name"))
      {
        const char *colon = strchr (lines[i], ':');

        if (colon != NULL)
          return g_strstrip (g_strdup (colon + 1));
      }
  return g_strdup ("unknown");
}

static guint64
total_memory_mib (void)
{
  g_autofree char *meminfo = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/meminfo", &meminfo, NULL, NULL))
    return 0;
  line = strstr (meminfo, "MemTotal:");
  return line != NULL ? g_ascii_strtoull (line + strlen ("MemTotal:"), NULL, 10) / 1024 : 0;
}

static const char *
filesystem_type (const char *dir)
{
  struct statfs st;

  if (statfs (dir, &st) != 0)
    return "unknown";
  switch ((unsigned long) st.f_type)
    {
    case 0xEF53: return "ext2/3/4";
    case 0x01021994: return "tmpfs";
    case 0x9123683E: return "btrfs";
    case 0x58465342: return "xfs";
    case 0x794c7630: return "overlayfs";
    case 0x2fc12fc1: return "zfs";
    case 0x65735546: return "fuse";
    default: return "other";
    }
}

static void
describe_machine (Bench *bench)
{
  g_autofree char *cpu = cpu_model ();
  struct utsname uts;
  const char *fs = filesystem_type (bench->dir);

  uname (&uts);
  g_string_append_printf (bench->header,
                          "# Mailer store benchmark\n\n"
                          "- CPU: %s, %u cores available; %" G_GUINT64_FORMAT " MiB memory\n"
                          "- Kernel: %s %s %s\n"
                          "- SQLite %s, GLib %u.%u.%u\n"
                          "- Database directory: %s (%s)\n",
                          cpu, g_get_num_processors (), total_memory_mib (),
                          uts.sysname, uts.release, uts.machine,
                          sqlite3_libversion (), glib_major_version, glib_minor_version, glib_micro_version,
                          bench->dir, fs);
  if (g_str_equal (fs, "tmpfs"))
    g_string_append (bench->header,
                     "- **Warning**: tmpfs ignores fsync; write figures say nothing about a disk. "
                     "Use --dir on a disk.\n");
}

/* 1. Inserting summaries */

typedef struct
{
  guint in_flight;
  guint committed;
  gint64 last_commit;
} Insert;

static void
insert_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Insert *insert = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) ids = mailer_store_add_messages_finish (MAILER_STORE (source), result, &error);

  if (ids == NULL)
    die ("adding messages", error);
  insert->in_flight--;
  insert->committed += ids->len;
  insert->last_commit = g_get_monotonic_time ();
}

/* Inserts bench->n_messages generated summaries into @mailboxes (one or
 * two of them) and adds the rows of measurement @number, @what naming
 * the summaries. */
static void
bench_insert (Bench       *bench,
              const char  *number,
              const char  *what,
              MailerStore *store,
              Mailbox     *mailboxes,
              guint        n_mailboxes,
              gboolean     headers_only)
{
  Insert insert = { 0 };
  Generator gen;
  gint64 start, generating = 0;
  guint batch = 0;
  double seconds, rate;
  g_autofree char *label = NULL;
  g_autofree char *count = format_count (bench->n_messages);
  g_autofree char *rate_text = NULL;

  generator_init (&gen, bench->n_messages, headers_only);
  fprintf (stderr, "Inserting %u %s summaries…\n", bench->n_messages,
           headers_only ? "header-only" : "full");

  start = g_get_monotonic_time ();
  while (gen.next < bench->n_messages || insert.in_flight > 0)
    {
      if (gen.next < bench->n_messages && insert.in_flight < MAX_IN_FLIGHT)
        {
          /* With two inboxes, three batches of four to the first. */
          Mailbox *mailbox = &mailboxes[n_mailboxes > 1 && batch++ % 4 == 3 ? 1 : 0];
          GPtrArray *messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
          gint64 t = g_get_monotonic_time ();

          while (messages->len < BATCH_SIZE && gen.next < bench->n_messages)
            g_ptr_array_add (messages, generate_message (&gen, mailbox));
          generating += g_get_monotonic_time () - t;

          mailer_store_add_messages_async (store, mailbox->folder_id, messages, NULL,
                                           insert_done_cb, &insert);
          g_ptr_array_unref (messages);
          insert.in_flight++;
          continue;
        }
      g_main_context_iteration (NULL, TRUE);
    }

  if (insert.committed != bench->n_messages)
    die ("adding messages (some were not stored)", NULL);

  seconds = (insert.last_commit - start) / (double) G_USEC_PER_SEC;
  rate = bench->n_messages / seconds;
  rate_text = format_count (rate);
  label = g_strdup_printf ("insert %s %s, %u per transaction, into a fresh store "
                           "(wall time to the last commit)%s",
                           count, what, BATCH_SIZE,
                           headers_only ? "; the insert target is judged on this row"
                                        : "; for comparison");
  add_row (bench, number, label,
           g_strdup_printf ("%s summaries/s (%.2f s)", rate_text, seconds),
           rate, TARGET_INSERT_RATE, "summaries/s", TRUE);
  add_info_row (bench, number, "generating the summaries (main thread, while the writer thread works)",
                g_strdup_printf ("%.2f s", generating / (double) G_USEC_PER_SEC));

  for (guint m = 0; m < n_mailboxes; m++)
    g_ptr_array_unref (mailboxes[m].threads);
  generator_clear (&gen);
}

/* 1a: header-only summaries, in a store of their own (so that the later
 * measurements see only the summaries with body text). */
static void
bench_insert_headers (Bench *bench)
{
  g_autofree char *dir = g_build_filename (bench->dir, "headers-only", NULL);
  g_autoptr(MailerStore) store = NULL;
  Mailbox mailbox = { 0 };
  gint64 account, start;

  store = open_store (dir);
  account = make_account (store, "Headers", "ana@example.com");
  mailbox.folder_id = save_folder (store, account, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  mailbox.threads = g_ptr_array_new_with_free_func ((GDestroyNotify) thread_free);

  bench_insert (bench, "1a",
                "header-only summaries as an IMAP header sync stores them (envelope, flags, "
                "size, References; empty body text and preview)",
                store, &mailbox, 1, TRUE);

  start = g_get_monotonic_time ();
  close_store (&store);
  add_info_row (bench, "1a", "closing that store after the inserts (final WAL checkpoint)",
                g_strdup_printf ("%.2f s", ms_since (start) / 1000));
}

/* Reads a property of a row, as a list row would. */
static void
touch_message (Bench         *bench,
               MailerMessage *message)
{
  const char *subject = mailer_message_get_subject (message);

  bench->sink += subject != NULL ? strlen (subject) : 0;
}

/* Materialises the first @n rows of @list; returns how many there were. */
static guint
read_rows (Bench      *bench,
           GListModel *list,
           guint       n)
{
  guint count = MIN (n, g_list_model_get_n_items (list));

  for (guint i = 0; i < count; i++)
    {
      g_autoptr(MailerMessage) message = g_list_model_get_item (list, i);

      touch_message (bench, message);
    }
  return count;
}

/* 2. Opening a folder */

static void
bench_open_folder (Bench        *bench,
                   MailerStore **store,
                   gint64        folder_id,
                   guint         folder_size,
                   gboolean      evict)
{
  g_autoptr(GArray) open_ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) list_ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *label = NULL;
  g_autofree char *count = format_count (folder_size);

  for (guint r = 0; r < REPEATS; r++)
    {
      g_autoptr(MailerMessageList) list = NULL;
      g_autoptr(GError) error = NULL;
      gint64 start;
      double ms;

      close_store (store);
      if (evict)
        evict_database (bench->dir);

      start = g_get_monotonic_time ();
      *store = open_store (bench->dir);
      ms = ms_since (start);
      g_array_append_val (open_ms, ms);

      start = g_get_monotonic_time ();
      list = mailer_message_list_new_for_folder (*store, folder_id, &error);
      if (list == NULL)
        die ("opening a folder", error);
      if (read_rows (bench, G_LIST_MODEL (list), FIRST_ROWS) != MIN (FIRST_ROWS, folder_size) ||
          g_list_model_get_n_items (G_LIST_MODEL (list)) != folder_size)
        die ("opening a folder (wrong number of rows)", NULL);
      ms = ms_since (start);
      g_array_append_val (list_ms, ms);
    }

  label = g_strdup_printf ("open a folder of %s messages + first %u rows, store just re-opened%s; "
                           "median of %u",
                           count, FIRST_ROWS,
                           evict ? ", database evicted from the OS page cache" : " (OS page cache warm)",
                           REPEATS);
  add_row (bench, "2", label, format_timing (list_ms), median (list_ms), TARGET_OPEN_MS, "ms", FALSE);
  g_clear_pointer (&label, g_free);
  label = g_strdup_printf ("mailer_store_open() before it%s; median of %u",
                           evict ? " (evicted)" : "", REPEATS);
  add_info_row (bench, "2", label, format_timing (open_ms));
}

/* 3. Rows at random positions */

static void
bench_random_rows (Bench       *bench,
                   MailerStore *store,
                   gint64       folder_id)
{
  g_autoptr(MailerMessageList) list = NULL;
  g_autoptr(GArray) ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GError) error = NULL;
  g_autofree char *label = NULL;
  Rng rng = { SEED ^ 0x3 };
  g_autofree char *count = NULL;
  guint n;

  list = mailer_message_list_new_for_folder (store, folder_id, &error);
  if (list == NULL)
    die ("opening a folder", error);
  n = g_list_model_get_n_items (G_LIST_MODEL (list));
  read_rows (bench, G_LIST_MODEL (list), FIRST_ROWS);

  for (guint s = 0; s < RANDOM_SAMPLES; s++)
    {
      guint position = rng_below (&rng, n);
      gint64 start = g_get_monotonic_time ();
      g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (list), position);
      double t;

      touch_message (bench, message);
      t = ms_since (start);
      g_array_append_val (ms, t);
    }

  count = format_count (n);
  label = g_strdup_printf ("row at a random position of %s (%u samples, fixed seed): median",
                           count, RANDOM_SAMPLES);
  add_row (bench, "3", label, g_strdup_printf ("%.3f ms", median (ms)),
           median (ms), TARGET_RANDOM_MS, "ms", FALSE);
  add_row (bench, "3", "row at a random position: p99",
           g_strdup_printf ("%.3f ms (max %.3f)", percentile (ms, 99), maximum (ms)),
           percentile (ms, 99), TARGET_RANDOM_MS, "ms", FALSE);
  add_info_row (bench, "3", "rows the list keeps loaded after the samples",
                g_strdup_printf ("%u", mailer_message_list_get_n_loaded (list)));
}

/* 4. Search */

static void
bench_search (Bench       *bench,
              MailerStore *store,
              const char  *text,
              const char  *kind)
{
  g_autoptr(GArray) ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *label = NULL;
  g_autofree char *count = NULL;
  guint hits = 0;

  for (guint r = 0; r < REPEATS; r++)
    {
      g_autoptr(MailerMessageList) list = NULL;
      g_autoptr(GError) error = NULL;
      gint64 start = g_get_monotonic_time ();
      double t;

      list = mailer_message_list_new_search (store, text, 0, &error);
      if (list == NULL)
        die ("searching", error);
      read_rows (bench, G_LIST_MODEL (list), FIRST_ROWS);
      t = ms_since (start);
      g_array_append_val (ms, t);
      hits = g_list_model_get_n_items (G_LIST_MODEL (list));
    }

  count = format_count (hits);
  label = g_strdup_printf ("search \"%s\" (%s; %s hits) + first %u rows; median of %u",
                           text, kind, count, FIRST_ROWS, REPEATS);
  add_row (bench, "4", label, format_timing (ms), median (ms), TARGET_SEARCH_MS, "ms", FALSE);
}

/* 5. Unified inbox */

static void
bench_unified_inbox (Bench       *bench,
                     MailerStore *store)
{
  g_autoptr(GArray) ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *label = NULL;
  g_autofree char *count = NULL;
  guint n = 0;

  for (guint r = 0; r < REPEATS; r++)
    {
      g_autoptr(MailerMessageList) list = NULL;
      g_autoptr(GError) error = NULL;
      gint64 start = g_get_monotonic_time ();
      double t;

      list = mailer_message_list_new_unified_inbox (store, &error);
      if (list == NULL)
        die ("opening the unified inbox", error);
      read_rows (bench, G_LIST_MODEL (list), FIRST_ROWS);
      t = ms_since (start);
      g_array_append_val (ms, t);
      n = g_list_model_get_n_items (G_LIST_MODEL (list));
    }
  if (n != bench->n_messages)
    die ("opening the unified inbox (wrong number of rows)", NULL);

  count = format_count (n);
  label = g_strdup_printf ("unified inbox of 2 accounts (%s messages) + first %u rows; "
                           "median of %u (target: the folder's)",
                           count, FIRST_ROWS, REPEATS);
  add_row (bench, "5", label, format_timing (ms), median (ms), TARGET_OPEN_MS, "ms", FALSE);
}

/* 6. Memory and size */

static void
bench_footprint (Bench *bench)
{
  gint64 db = file_size (bench->dir, "mailer.db");
  gint64 wal = file_size (bench->dir, "mailer.db-wal");
  double rss = peak_rss_mib ();

  add_row (bench, "6", "peak RSS of the process after 1–5 (getrusage ru_maxrss)",
           g_strdup_printf ("%.1f MiB", rss), rss, TARGET_RSS_MIB, "MiB", FALSE);
  add_info_row (bench, "6", "database size: mailer.db + mailer.db-wal",
                g_strdup_printf ("%.1f MiB + %.1f MiB = %.1f MiB (%.0f bytes a message)",
                                 db / MIB, wal / MIB, (db + wal) / MIB,
                                 (double) (db + wal) / bench->n_messages));
}

/* 7. Raw messages: blobs against files */

typedef struct
{
  gsize size;
  guint count;
} RawClass;

static const RawClass raw_classes[] = {
  { 10 * 1024, 200 },
  { 100 * 1024, 100 },
  { 1024 * 1024, 20 },
  { 10 * 1024 * 1024, 5 },
};

/* Base64-like lines, as a large attachment looks in a raw message. */
static char *
make_raw_content (Rng   *rng,
                  gsize  size)
{
  static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *data = g_malloc (size);

  for (gsize i = 0; i < size; i++)
    data[i] = i % 78 == 76 ? '\r' : i % 78 == 77 ? '\n' : alphabet[rng_next (rng) & 63];
  return data;
}

/* Makes message @index of a class differ from the others. */
static void
stamp_raw (char  *data,
           gsize  size,
           guint  index)
{
  char stamp[32];
  int len = g_snprintf (stamp, sizeof stamp, "X-Bench: %08u\r\n", index);

  memcpy (data, stamp, MIN ((gsize) len, size));
}

static double
mib_per_s (gsize   bytes,
           gint64  usec)
{
  return usec > 0 ? bytes / MIB / (usec / (double) G_USEC_PER_SEC) : 0;
}

#define READ_ROUNDS 3

/* Adds one message to the store, in a transaction of its own: with @raw as
 * its raw message, or only its summary when @raw is NULL.  Returns the time
 * to the commit, in µs; sets *@id. */
static gint64
add_raw_message (MailerStore *store,
                 gint64       folder_id,
                 guint        index,
                 GBytes      *raw,
                 gint64      *id)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  MailerStoreNewMessage *message = mailer_store_new_message_new ();
  MailerMimeSummary *summary = g_new0 (MailerMimeSummary, 1);
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) added = NULL;
  gint64 start;

  summary->message_id = g_strdup_printf ("raw.%u@bench.example", index);
  summary->references = g_new0 (char *, 1);
  summary->subject = g_strdup_printf ("Raw message %u", index);
  summary->from_address = g_strdup ("raw@bench.example");
  summary->to = g_strdup ("");
  summary->cc = g_strdup ("");
  summary->date = 1700000000 + index;
  summary->preview = g_strdup ("");
  summary->body_text = g_strdup ("");
  summary->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_mime_attachment_free);
  message->summary = summary;
  message->uid = index + 1;
  message->raw = raw != NULL ? g_bytes_ref (raw) : NULL;
  g_ptr_array_add (messages, message);

  start = g_get_monotonic_time ();
  mailer_store_add_messages_async (store, folder_id, messages, NULL, result_cb, &pending);
  result = wait_result (&pending);
  start = g_get_monotonic_time () - start;

  added = mailer_store_add_messages_finish (store, result, &error);
  if (added == NULL)
    die ("storing a raw message", error);
  *id = g_array_index (added, gint64, 0);
  return start;
}

static void
bench_raw (Bench        *bench,
           MailerStore **store,
           gint64        folder_id)
{
  g_autofree char *files_dir = g_build_filename (bench->dir, "raw-files", NULL);
  Rng rng = { SEED ^ 0x7 };
  guint total = 0;
  int dir_fd;

  if (g_mkdir_with_parents (files_dir, 0700) != 0)
    die ("creating the raw file directory", NULL);
  dir_fd = open (files_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    die ("opening the raw file directory", NULL);

  bench->raw_table = g_string_new (NULL);
  g_string_append_printf (bench->raw_table,
                          "\n## 7. Raw messages: SQLite blobs or files next to the database?\n\n"
                          "- **blob**: `mailer_store_add_messages_async()` with `raw` and a pre-filled "
                          "summary, one message per transaction (WAL, synchronous=FULL: the WAL is "
                          "fsynced at each commit, checkpoints copy the pages into mailer.db), read "
                          "back with `mailer_store_get_raw()`.\n"
                          "- **file**: `g_file_set_contents_full()` with CONSISTENT | DURABLE (write a "
                          "temporary file, fsync, close, rename), read back with "
                          "`g_file_get_contents()`.\n"
                          "- **file+**: what a durable file store does in all: the file as above, an "
                          "fsync of its directory (so that the new name survives a power cut too), "
                          "and the message's summary committed to the store without `raw`.\n"
                          "- Warm: just written, in the OS page cache.  Cold: store closed, "
                          "mailer.db and the files evicted with posix_fadvise(DONTNEED), store "
                          "re-opened.  Reads: median of %u rounds.\n"
                          "- MiB/s; ratio = blob/file (> 1: blob faster).\n\n"
                          "| size | count | write blob | write file | ratio | write file+ | ratio "
                          "| read warm blob | read warm file | ratio | read cold blob | read cold file | ratio |\n"
                          "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
                          READ_ROUNDS);

  for (guint c = 0; c < G_N_ELEMENTS (raw_classes); c++)
    {
      const RawClass *class = &raw_classes[c];
      g_autofree char *data = make_raw_content (&rng, class->size);
      g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
      GArray *reads[4];   /* MiB/s: blob warm, file warm, blob cold, file cold */
      gint64 blob_write = 0, file_write = 0, file_plus = 0;
      gsize bytes = class->size * class->count;
      double bw, fw, fpw;

      fprintf (stderr, "Raw messages: %u of %" G_GSIZE_FORMAT " KiB…\n", class->count, class->size / 1024);

      /* Blobs */
      for (guint i = 0; i < class->count; i++)
        {
          g_autoptr(GBytes) raw = NULL;
          gint64 id;

          stamp_raw (data, class->size, total + i);
          raw = g_bytes_new (data, class->size);
          blob_write += add_raw_message (*store, folder_id, total + i, raw, &id);
          g_array_append_val (ids, id);
        }

      /* Files; then their summaries in the store, as a file store has to. */
      for (guint i = 0; i < class->count; i++)
        {
          g_autoptr(GError) error = NULL;
          char *path = g_strdup_printf ("%s/%u.eml", files_dir, total + i);
          guint index = total + class->count + i;
          gint64 start, t, id;

          stamp_raw (data, class->size, index);
          g_ptr_array_add (paths, path);
          start = g_get_monotonic_time ();
          if (!g_file_set_contents_full (path, data, class->size,
                                         G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                         0600, &error))
            die ("writing a raw file", error);
          t = g_get_monotonic_time () - start;
          file_write += t;
          if (fsync (dir_fd) != 0)
            die ("syncing the raw file directory", NULL);
          file_plus += g_get_monotonic_time () - start;
          file_plus += add_raw_message (*store, folder_id, index, NULL, &id);
        }

      /* Reading back: warm, then cold. */
      for (guint r = 0; r < G_N_ELEMENTS (reads); r++)
        reads[r] = g_array_new (FALSE, FALSE, sizeof (double));
      for (guint round = 0; round < READ_ROUNDS * 2; round++)
        {
          gboolean cold = round >= READ_ROUNDS;
          gint64 start;
          double rate;

          if (cold)
            {
              /* Re-opened, so SQLite's own page cache is empty too. */
              close_store (store);
              evict_database (bench->dir);
              for (guint i = 0; i < paths->len; i++)
                evict_file (paths->pdata[i]);
              *store = open_store (bench->dir);
            }

          start = g_get_monotonic_time ();
          for (guint i = 0; i < ids->len; i++)
            {
              g_autoptr(GError) error = NULL;
              g_autoptr(GBytes) raw = mailer_store_get_raw (*store, g_array_index (ids, gint64, i), &error);

              if (raw == NULL || g_bytes_get_size (raw) != class->size)
                die ("reading a raw message", error);
              bench->sink += ((const guchar *) g_bytes_get_data (raw, NULL))[class->size - 3];
            }
          rate = mib_per_s (bytes, g_get_monotonic_time () - start);
          g_array_append_val (reads[cold ? 2 : 0], rate);

          start = g_get_monotonic_time ();
          for (guint i = 0; i < paths->len; i++)
            {
              g_autoptr(GError) error = NULL;
              g_autofree char *contents = NULL;
              gsize length = 0;

              if (!g_file_get_contents (paths->pdata[i], &contents, &length, &error) ||
                  length != class->size)
                die ("reading a raw file", error);
              bench->sink += (guchar) contents[class->size - 3];
            }
          rate = mib_per_s (bytes, g_get_monotonic_time () - start);
          g_array_append_val (reads[cold ? 3 : 1], rate);
        }

      bw = mib_per_s (bytes, blob_write);
      fw = mib_per_s (bytes, file_write);
      fpw = mib_per_s (bytes, file_plus);
      g_string_append_printf (bench->raw_table,
                              "| %" G_GSIZE_FORMAT " KiB | %u | %.1f | %.1f | %.2f | %.1f | %.2f "
                              "| %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |\n",
                              class->size / 1024, class->count, bw, fw, bw / fw, fpw, bw / fpw,
                              median (reads[0]), median (reads[1]), median (reads[0]) / median (reads[1]),
                              median (reads[2]), median (reads[3]), median (reads[2]) / median (reads[3]));
      for (guint r = 0; r < G_N_ELEMENTS (reads); r++)
        g_array_unref (reads[r]);
      total += 2 * class->count;
    }
  close (dir_fd);
}

/* Setup */

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);

  if (dir != NULL)
    {
      const char *name;

      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            remove_tree (child);
          else
            g_unlink (child);
        }
      g_dir_close (dir);
    }
  g_rmdir (path);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MailerStore) store = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *output = NULL;
  g_autofree char *report = NULL;
  g_autofree char *db_path = NULL;
  g_autofree char *target_rate_text = format_count (TARGET_INSERT_RATE);
  gint n_messages = 100000;
  gboolean headers_only = FALSE;
  Mailbox mailboxes[2] = { { 0 } };
  gint64 account_a, account_b, raw_folder;
  Bench bench = { 0 };
  gint64 start;
  GOptionEntry entries[] = {
    { "messages", 'n', 0, G_OPTION_ARG_INT, &n_messages, "Number of summaries to insert, for 1a and again for 1b (default 100000)", "N" },
    { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &dir, "Directory for the store, kept afterwards (default: a temporary directory, removed)", "DIR" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Also write the report to FILE", "FILE" },
    { "headers-only", 0, 0, G_OPTION_ARG_NONE, &headers_only, "Only insert the header-only summaries (1a), e.g. to profile them", NULL },
    { NULL }
  };

  context = g_option_context_new ("— time the mail store on a large generated mailbox");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (n_messages < 100)
    {
      g_printerr ("--messages must be at least 100\n");
      return 2;
    }

  if (dir != NULL)
    {
      bench.keep_dir = TRUE;
      if (g_mkdir_with_parents (dir, 0700) != 0)
        {
          g_printerr ("Cannot create %s: %s\n", dir, g_strerror (errno));
          return 1;
        }
      db_path = g_build_filename (dir, "mailer.db", NULL);
      if (g_file_test (db_path, G_FILE_TEST_EXISTS))
        {
          g_printerr ("%s already holds a store; the benchmark needs an empty directory\n", dir);
          return 1;
        }
      bench.dir = g_canonicalize_filename (dir, NULL);
    }
  else
    {
      bench.dir = g_dir_make_tmp ("mailer-store-bench-XXXXXX", &error);
      if (bench.dir == NULL)
        die ("creating a temporary directory", error);
    }

  bench.n_messages = n_messages;
  bench.header = g_string_new (NULL);
  bench.rows = g_ptr_array_new_with_free_func ((GDestroyNotify) row_free);
  describe_machine (&bench);
  g_string_append_printf (bench.header,
                          "- Insert target (≥ %s summaries/s): judged on 1a, header-only summaries, "
                          "because that is what a summary is when a folder is synced (an IMAP header "
                          "sync stores the envelope now and the body and its text later); 1b, with "
                          "the body text indexed as for POP3 or a downloaded body, is shown against "
                          "the same figure for comparison\n",
                          target_rate_text);

  /* 1a */
  bench_insert_headers (&bench);
  {
    g_autofree char *n = format_count (bench.n_messages);

    g_string_append_printf (bench.header,
                            "- 1a: %s header-only summaries in a store of their own, one account and "
                            "its inbox: subjects, senders and recipients, References chains, size, "
                            "flags, MODSEQ, has-attachment; empty preview and body text (only subject "
                            "and addresses indexed)\n",
                            n);
  }
  if (headers_only)
    goto report;

  store = open_store (bench.dir);
  account_a = make_account (store, "Work", "ana@example.org");
  account_b = make_account (store, "Home", "ana@example.net");
  mailboxes[0].folder_id = save_folder (store, account_a, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  mailboxes[1].folder_id = save_folder (store, account_b, "INBOX", MAILER_FOLDER_ROLE_INBOX);
  raw_folder = save_folder (store, account_a, "Raw", MAILER_FOLDER_ROLE_NONE);
  for (guint m = 0; m < 2; m++)
    mailboxes[m].threads = g_ptr_array_new_with_free_func ((GDestroyNotify) thread_free);

  /* 1b */
  bench_insert (&bench, "1b",
                "summaries with ~1–2 KB of body text each, all of it indexed for search "
                "(as POP3 stores them), 2 accounts",
                store, mailboxes, G_N_ELEMENTS (mailboxes), FALSE);
  {
    g_autofree char *n = format_count (bench.n_messages);
    g_autofree char *a = format_count (mailboxes[0].count);
    g_autofree char *b = format_count (mailboxes[1].count);

    g_string_append_printf (bench.header,
                            "- 1b and 2–7: %s generated summaries, account A's inbox %s, account B's "
                            "inbox %s; ~1–2 KB of body text each (all of it indexed for search), "
                            "200-character preview\n"
                            "- Both: 35%% replies in threads of up to %u, dates over 3 years, "
                            "70%% seen\n",
                            n, a, b, MAX_THREAD_DEPTH);
  }

  start = g_get_monotonic_time ();
  close_store (&store);
  add_info_row (&bench, "1b", "closing the store after the inserts (final WAL checkpoint)",
                g_strdup_printf ("%.2f s", ms_since (start) / 1000));
  store = open_store (bench.dir);

  /* 2 */
  fprintf (stderr, "Opening the folder…\n");
  bench_open_folder (&bench, &store, mailboxes[0].folder_id, mailboxes[0].count, FALSE);
  bench_open_folder (&bench, &store, mailboxes[0].folder_id, mailboxes[0].count, TRUE);

  /* 3 */
  fprintf (stderr, "Random rows…\n");
  bench_random_rows (&bench, store, mailboxes[0].folder_id);

  /* 4 */
  fprintf (stderr, "Searching…\n");
  bench_search (&bench, store, COMMON_WORD, "common word");
  bench_search (&bench, store, RARE_WORD, "rare word");
  bench_search (&bench, store, NON_ASCII_QUERY, "matches \"Grüße\"");
  bench_search (&bench, store, "привет", "Cyrillic");

  /* 5 */
  fprintf (stderr, "Unified inbox…\n");
  bench_unified_inbox (&bench, store);

  /* 6 */
  bench_footprint (&bench);

  /* 7 */
  bench_raw (&bench, &store, raw_folder);
  add_info_row (&bench, "7", "peak RSS at the end, after the raw messages (up to 10 MiB each)",
                g_strdup_printf ("%.1f MiB", peak_rss_mib ()));

  close_store (&store);

report:
  report = render_report (&bench);
  /* As UTF-8 whatever the locale: g_print() would convert it. */
  fputs (report, stdout);
  fflush (stdout);
  if (output != NULL && !g_file_set_contents (output, report, -1, &error))
    die ("writing the report", error);

  if (!bench.keep_dir)
    remove_tree (bench.dir);

  g_string_free (bench.header, TRUE);
  g_ptr_array_unref (bench.rows);
  if (bench.raw_table != NULL)
    g_string_free (bench.raw_table, TRUE);
  g_free (bench.dir);
  return 0;
}
