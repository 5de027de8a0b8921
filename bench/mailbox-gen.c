/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A deterministic generator of realistic mail for the benchmarks: the same
 * seed and count give the same bytes on every machine (own PRNG, no locale,
 * no clock).
 *
 * What comes out: conversations (replies carry In-Reply-To and References
 * and quote their parent), text/plain and multipart/alternative bodies with
 * HTML, about one message in ten with a base64 attachment of 2-200 KiB
 * (log-uniform), subjects and display names in RFC 2047 encoded words, text
 * in English, German, French and Russian in us-ascii, utf-8, iso-8859-1,
 * iso-8859-15, windows-1252, koi8-r and windows-1251, in 7bit, 8bit,
 * quoted-printable and base64, with the headers a mailbox really has
 * (Received, DKIM-Signature, Authentication-Results, List-Id).  Messages
 * average about 16.5 KB, so 20,000 of them are about 330 MB.  Line ends
 * are LF, as in a Maildir.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "mailbox-gen.h"

#define SUBJECT_SALT 0x5375626a65637421ULL
#define SENDER_SALT 0x53656e6465722121ULL
#define ID_SALT 0x4d65737361676549ULL
#define REPLY_RATE 0.45
#define ATTACHMENT_RATE 0.10
#define ALTERNATIVE_RATE 0.45
/* Text body size: log-normal around this many bytes. */
#define TEXT_MEDIAN 2800.0
#define TEXT_SIGMA 0.85
#define N_PEOPLE 240

struct _MailerBenchMailbox
{
  guint n_messages;
  guint64 seed;
  guint next;
  guint32 *parent;   /* G_MAXUINT32: starts a conversation */
  guint32 *root;
  MailerBenchMailboxStats stats;
};

/* PRNG: splitmix64, the same everywhere. */

typedef struct
{
  guint64 state;
} Rng;

static guint64
rng_next (Rng *rng)
{
  guint64 z = (rng->state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static void
rng_init (Rng     *rng,
          guint64  seed,
          guint64  a,
          guint64  b)
{
  rng->state = seed ^ (a * G_GUINT64_CONSTANT (0xd6e8feb86659fd93)) ^ (b * G_GUINT64_CONSTANT (0xa0761d6478bd642f));
  rng_next (rng);
  rng_next (rng);
}

static guint
rng_range (Rng   *rng,
           guint  n)
{
  return n > 0 ? (guint) (rng_next (rng) % n) : 0;
}

static double
rng_double (Rng *rng)
{
  return (rng_next (rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* Zipf-like: low indexes much more often. */
static guint
rng_skewed (Rng   *rng,
            guint  n)
{
  double u = rng_double (rng);

  return MIN ((guint) (n * u * u), n - 1);
}

static double
rng_normal (Rng *rng)
{
  double u1 = MAX (rng_double (rng), 1e-12), u2 = rng_double (rng);

  return sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
}

#define PICK(rng, array) ((array)[rng_range ((rng), G_N_ELEMENTS (array))])

/* Languages, words and people */

typedef enum
{
  LANG_EN,
  LANG_DE,
  LANG_FR,
  LANG_RU,
} Lang;

static const char * const words_en[] = {
  "the", "to", "and", "of", "a", "in", "we", "is", "for", "that", "it", "on", "this", "be", "with",
  "you", "as", "have", "are", "will", "not", "can", "from", "at", "by", "next", "week", "meeting",
  "report", "project", "please", "review", "draft", "budget", "update", "release", "schedule",
  "thanks", "attached", "version", "server", "customer", "question", "team", "agenda", "deadline",
  "invoice", "proposal", "contract", "feedback", "changes", "minutes", "quarter", "numbers",
  "tomorrow", "afternoon", "morning", "office", "travel", "conference", "slides", "document",
  "approval", "migration", "backup", "database", "network", "planning", "estimate", "deliverable",
  "milestone", "workshop", "onboarding", "roadmap", "dependency", "regression", "benchmark",
};
static const char * const words_de[] = {
  "und", "die", "der", "das", "ist", "nicht", "wir", "ich", "für", "mit", "auf", "eine", "über",
  "Grüße", "Besprechung", "nächste", "Woche", "Änderungen", "Bericht", "Entwurf", "Prüfung",
  "Rückmeldung", "Termin", "Größe", "Straße", "Lösung", "schön", "möglich", "Übersicht",
  "Angebot", "Rechnung", "Verträge", "Schlüssel", "Zuständigkeit", "Mitarbeiter", "fertig",
  "morgen", "heute", "Projekt", "Kunde", "Frühjahr", "Ausschuss", "Gebühren", "Maßnahmen",
};
static const char * const words_fr[] = {
  "le", "la", "les", "de", "et", "pour", "avec", "nous", "vous", "une", "est", "pas", "sur",
  "réunion", "été", "préparé", "café", "problème", "déjà", "très", "équipe", "à", "où",
  "reçu", "rapport", "semaine", "prochaine", "modèle", "élève", "février", "décembre", "façon",
  "garçon", "naïve", "hôtel", "fenêtre", "clé", "dernière", "première", "connaître", "budget",
};
static const char * const words_ru[] = {
  "и", "в", "не", "на", "что", "мы", "вы", "это", "с", "по", "для", "как", "отчёт", "встреча",
  "неделе", "проект", "письмо", "Привет", "спасибо", "документ", "сервер", "вопрос", "команда",
  "бюджет", "договор", "завтра", "сегодня", "изменения", "версия", "клиент", "срок", "план",
  "работа", "данные", "решение", "задача", "обновление", "совещание", "подготовить", "прошу",
};

static const char * const first_en[] = { "Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Isabel", "Jack", "Karen", "Liam", "Zoë", "Renée" };
static const char * const last_en[] = { "Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Thomas", "Roberts", "Walker", "O'Neill", "Nguyen", "García" };
static const char * const first_de[] = { "Jürgen", "Jörg", "Anna", "Lukas", "Sören", "Käthe", "Matthias", "Bärbel", "Uwe", "Sabine" };
static const char * const last_de[] = { "Müller", "Schäfer", "Groß", "Weiß", "Köhler", "Schmidt", "Becker", "Hoffmann", "Krüger" };
static const char * const first_fr[] = { "François", "Hélène", "Jérôme", "Céline", "Loïc", "Amélie", "Benoît", "Chloé", "Pierre" };
static const char * const last_fr[] = { "Lefèvre", "Dupont", "Bérard", "Girard", "Moreau", "Février", "Lambert", "Gauthier" };
static const char * const first_ru[] = { "Дмитрий", "Анна", "Сергей", "Елена", "Иван", "Ольга", "Михаил", "Наталья" };
static const char * const last_ru[] = { "Иванов", "Петрова", "Смирнов", "Кузнецова", "Попов", "Соколова", "Лебедев" };
static const char * const ascii_first_ru[] = { "dmitry", "anna", "sergey", "elena", "ivan", "olga", "mikhail", "natalia" };
static const char * const ascii_last_ru[] = { "ivanov", "petrova", "smirnov", "kuznetsova", "popov", "sokolova", "lebedev" };

static const char * const domains[] = {
  "example.com", "example.net", "example.org", "mail.example.de", "corp.example.fr",
  "lists.example.org", "example.co.uk", "research.example.edu", "example.ru",
};
static const char * const mailers[] = {
  "Mozilla Thunderbird 115.6.0", "Microsoft Outlook 16.0", "Apple Mail (2.3774.300.61.1.2)",
  "Evolution 3.46.4", "Roundcube Webmail/1.6.5", "Mutt/2.2.9 (2022-11-12)",
};

typedef struct
{
  Lang lang;
  char *name;       /* UTF-8 */
  char *address;
} Person;

static const char *
lang_word (Rng  *rng,
           Lang  lang)
{
  switch (lang)
    {
    case LANG_DE:
      return words_de[rng_skewed (rng, G_N_ELEMENTS (words_de))];
    case LANG_FR:
      return words_fr[rng_skewed (rng, G_N_ELEMENTS (words_fr))];
    case LANG_RU:
      return words_ru[rng_skewed (rng, G_N_ELEMENTS (words_ru))];
    case LANG_EN:
    default:
      return words_en[rng_skewed (rng, G_N_ELEMENTS (words_en))];
    }
}

static Lang
pick_lang (Rng *rng)
{
  double u = rng_double (rng);

  return u < 0.60 ? LANG_EN : u < 0.75 ? LANG_DE : u < 0.87 ? LANG_FR : LANG_RU;
}

/* ASCII local part from a UTF-8 name: letters kept, accents dropped. */
static void
append_ascii_lower (GString    *out,
                    const char *utf8)
{
  g_autofree char *ascii = g_str_to_ascii (utf8, "C");

  for (const char *p = ascii; *p != '\0'; p++)
    if (g_ascii_isalnum (*p))
      g_string_append_c (out, g_ascii_tolower (*p));
}

static void
person_for (MailerBenchMailbox *self,
            guint               index,
            Person             *person)
{
  Rng rng;
  GString *address = g_string_new (NULL);
  const char *first, *last;

  rng_init (&rng, self->seed, index, SENDER_SALT);
  person->lang = pick_lang (&rng);
  switch (person->lang)
    {
    case LANG_DE:
      first = PICK (&rng, first_de), last = PICK (&rng, last_de);
      break;
    case LANG_FR:
      first = PICK (&rng, first_fr), last = PICK (&rng, last_fr);
      break;
    case LANG_RU:
      {
        guint f = rng_range (&rng, G_N_ELEMENTS (first_ru)), l = rng_range (&rng, G_N_ELEMENTS (last_ru));

        person->name = g_strdup_printf ("%s %s", first_ru[f], last_ru[l]);
        g_string_append_printf (address, "%s.%s", ascii_first_ru[f], ascii_last_ru[l]);
        goto domain;
      }
    case LANG_EN:
    default:
      first = PICK (&rng, first_en), last = PICK (&rng, last_en);
      break;
    }
  person->name = g_strdup_printf ("%s %s", first, last);
  append_ascii_lower (address, first);
  g_string_append_c (address, '.');
  append_ascii_lower (address, last);

domain:
  if (index % 7 == 3)
    g_string_append_printf (address, "%u", index % 100);
  g_string_append_printf (address, "@%s", PICK (&rng, domains));
  person->address = g_string_free (address, FALSE);
}

static void
person_clear (Person *person)
{
  g_free (person->name);
  g_free (person->address);
}

/* Encodings */

static gboolean
is_ascii (const char *text)
{
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    if (*p >= 0x80)
      return FALSE;
  return TRUE;
}

/* Quoted-printable (RFC 2045 6.7) of text with LF line ends. */
static void
append_qp (GString      *out,
           const guchar *data,
           gsize         len)
{
  static const char hex[] = "0123456789ABCDEF";
  guint column = 0;

  for (gsize i = 0; i < len; i++)
    {
      guchar c = data[i];
      gboolean line_end = i + 1 == len || data[i + 1] == '\n';
      char buf[4];
      guint n;

      if (c == '\n')
        {
          g_string_append_c (out, '\n');
          column = 0;
          continue;
        }
      if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end))
        buf[0] = c, n = 1;
      else
        buf[0] = '=', buf[1] = hex[c >> 4], buf[2] = hex[c & 15], n = 3;
      if (column + n > 75)
        {
          g_string_append (out, "=\n");
          column = 0;
        }
      g_string_append_len (out, buf, n);
      column += n;
    }
  if (column > 0)
    g_string_append_c (out, '\n');
}

/* base64 in lines of 76, LF. */
static void
append_base64 (GString      *out,
               const guchar *data,
               gsize         len)
{
  for (gsize i = 0; i < len; i += 57)
    {
      g_autofree char *line = g_base64_encode (data + i, MIN (57, len - i));

      g_string_append (out, line);
      g_string_append_c (out, '\n');
    }
}

/* RFC 2047 encoded words for a header whose name and ": " take @used
 * columns; folded between words.  B with UTF-8, or Q with @charset. */
static void
append_encoded_words (GString    *out,
                      const char *utf8,
                      const char *charset,
                      gboolean    q,
                      guint       used)
{
  g_autofree char *bytes = NULL;
  gsize len;
  const char *p;

  if (!q)
    charset = "UTF-8";
  bytes = g_convert_with_fallback (utf8, -1, charset, "UTF-8", "?", NULL, &len, NULL);
  if (bytes == NULL)
    {
      bytes = g_strdup (utf8);
      len = strlen (bytes);
      charset = "UTF-8";
    }

  p = bytes;
  while (len > 0)
    {
      GString *word = g_string_new (NULL);
      gsize take = 0;

      g_string_append_printf (word, "=?%s?%c?", charset, q ? 'Q' : 'B');
      if (q)
        {
          /* Up to 60 columns of encoded text per word. */
          for (guint columns = 0; take < len && columns < 40; take++)
            {
              guchar c = p[take];

              if (c == ' ')
                g_string_append_c (word, '_'), columns++;
              else if (g_ascii_isalnum (c))
                g_string_append_c (word, c), columns++;
              else
                g_string_append_printf (word, "=%02X", c), columns += 3;
            }
        }
      else
        {
          g_autofree char *b64 = NULL;

          /* 36 bytes of UTF-8, not splitting a character. */
          take = MIN (len, 36);
          while (take < len && ((guchar) p[take] & 0xc0) == 0x80)
            take--;
          b64 = g_base64_encode ((const guchar *) p, take);
          g_string_append (word, b64);
        }
      g_string_append (word, "?=");

      if (used > 0 && used + 1 + word->len > 76)
        {
          g_string_append (out, "\n");
          used = 0;
        }
      if (used > 0 || out->len == 0 || out->str[out->len - 1] == '\n')
        {
          g_string_append_c (out, ' ');
          used++;
        }
      g_string_append_len (out, word->str, word->len);
      used += word->len;
      g_string_free (word, TRUE);
      p += take;
      len -= take;
    }
}

/* "Name" <address>, the name in encoded words if it is not ASCII. */
static void
append_mailbox (GString      *out,
                const Person *person,
                Rng          *rng,
                guint         used)
{
  if (is_ascii (person->name))
    g_string_append_printf (out, " \"%s\" <%s>", person->name, person->address);
  else
    {
      gboolean q = person->lang != LANG_RU && rng_range (rng, 2) == 0;

      append_encoded_words (out, person->name, "ISO-8859-1", q, used);
      g_string_append_printf (out, " <%s>", person->address);
    }
}

/* Text */

/* Paragraphs of sentences, about @target bytes of UTF-8, in lines of at
 * most 72 characters, LF.  Paragraph breaks are empty lines. */
static void
append_text (GString *out,
             Rng     *rng,
             Lang     lang,
             gsize    target,
             gboolean ascii_only)
{
  gsize start = out->len;

  if (ascii_only)
    lang = LANG_EN;
  while (out->len - start < target)
    {
      guint n_sentences = 2 + rng_range (rng, 5);
      guint column = 0;

      for (guint s = 0; s < n_sentences; s++)
        {
          guint n_words = 5 + rng_range (rng, 11);

          for (guint w = 0; w < n_words; w++)
            {
              const char *word = lang_word (rng, lang);
              guint chars = g_utf8_strlen (word, -1);
              gboolean first = w == 0;

              if (column > 0 && column + 1 + chars + 1 > 72)
                {
                  g_string_append_c (out, '\n');
                  column = 0;
                }
              else if (column > 0)
                {
                  g_string_append_c (out, ' ');
                  column++;
                }
              if (first)
                {
                  gunichar c = g_utf8_get_char (word);
                  char buf[6];
                  gint n = g_unichar_to_utf8 (g_unichar_toupper (c), buf);

                  g_string_append_len (out, buf, n);
                  g_string_append (out, g_utf8_next_char (word));
                }
              else
                g_string_append (out, word);
              column += chars;
              if (w + 1 == n_words)
                {
                  g_string_append_c (out, rng_range (rng, 8) == 0 ? '?' : '.');
                  column++;
                }
              else if (rng_range (rng, 12) == 0)
                {
                  g_string_append_c (out, ',');
                  column++;
                }
            }
        }
      g_string_append (out, "\n\n");
    }
}

static void
append_html_escaped (GString    *out,
                     const char *text,
                     gsize       len)
{
  for (gsize i = 0; i < len; i++)
    {
      switch (text[i])
        {
        case '<': g_string_append (out, "&lt;"); break;
        case '>': g_string_append (out, "&gt;"); break;
        case '&': g_string_append (out, "&amp;"); break;
        case '"': g_string_append (out, "&quot;"); break;
        case '\n': g_string_append_c (out, ' '); break;
        default: g_string_append_c (out, text[i]); break;
        }
    }
}

/* The HTML version of @text: one <p> a paragraph (one long line each, as
 * HTML mail usually has), styled, with some links and bold words. */
static char *
text_to_html (const char *text,
              Rng        *rng)
{
  GString *html = g_string_new (NULL);
  const char *p = text;

  g_string_append (html,
                   "<!DOCTYPE html>\n<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n"
                   "<style type=\"text/css\">body { font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 11pt; color: #1f1f1f; }\n"
                   "p { margin: 0 0 12px 0; } a { color: #0563c1; text-decoration: underline; }\n"
                   ".signature { color: #7f7f7f; font-size: 9pt; border-top: 1px solid #d0d0d0; }</style>\n"
                   "</head>\n<body lang=\"en\" style=\"word-wrap: break-word;\">\n<div dir=\"ltr\">\n");
  while (*p != '\0')
    {
      const char *end = strstr (p, "\n\n");
      gsize len = end ? (gsize) (end - p) : strlen (p);

      if (len > 0)
        {
          g_string_append (html, "<p class=\"MsoNormal\"><span style=\"font-size:11.0pt\">");
          if (rng_range (rng, 3) == 0)
            {
              g_string_append_printf (html, "<a href=\"https://intranet.example.org/docs/%u?ref=mail&amp;id=%08x\" target=\"_blank\">",
                                      rng_range (rng, 100000), (guint) rng_next (rng));
              append_html_escaped (html, p, MIN (len, 24));
              g_string_append (html, "</a> ");
              if (len > 24)
                append_html_escaped (html, p + 24, len - 24);
            }
          else
            {
              g_string_append (html, "<b>");
              append_html_escaped (html, p, MIN (len, 12));
              g_string_append (html, "</b>");
              if (len > 12)
                append_html_escaped (html, p + 12, len - 12);
            }
          g_string_append (html, "</span></p>\n");
        }
      p += len;
      while (*p == '\n')
        p++;
    }
  g_string_append (html, "<div class=\"signature\"><p>Sent from the office</p></div>\n</div>\n</body>\n</html>\n");
  return g_string_free (html, FALSE);
}

/* Charsets and encodings */

typedef enum
{
  CTE_7BIT,
  CTE_8BIT,
  CTE_QP,
  CTE_BASE64,
} Cte;

static const char * const cte_names[] = { "7bit", "8bit", "quoted-printable", "base64" };

typedef struct
{
  const char *charset;
  Cte cte;
} Encoding;

static const Encoding encodings_en[] = {
  { "us-ascii", CTE_7BIT }, { "us-ascii", CTE_7BIT }, { "utf-8", CTE_7BIT },
  { "utf-8", CTE_QP }, { "iso-8859-1", CTE_7BIT }, { "windows-1252", CTE_QP },
};
static const Encoding encodings_latin[] = {
  { "iso-8859-1", CTE_QP }, { "iso-8859-15", CTE_QP }, { "windows-1252", CTE_8BIT },
  { "utf-8", CTE_QP }, { "utf-8", CTE_8BIT }, { "utf-8", CTE_BASE64 },
};
static const Encoding encodings_ru[] = {
  { "koi8-r", CTE_8BIT }, { "windows-1251", CTE_8BIT }, { "utf-8", CTE_BASE64 },
  { "utf-8", CTE_8BIT }, { "utf-8", CTE_QP },
};

static Encoding
pick_encoding (Rng  *rng,
               Lang  lang)
{
  switch (lang)
    {
    case LANG_DE:
    case LANG_FR:
      return PICK (rng, encodings_latin);
    case LANG_RU:
      return PICK (rng, encodings_ru);
    case LANG_EN:
    default:
      return PICK (rng, encodings_en);
    }
}

/* A text part's headers and body: @utf8 in @encoding. */
static void
append_text_part (GString    *out,
                  const char *subtype,
                  const char *utf8,
                  Encoding    encoding)
{
  g_autofree char *bytes = NULL;
  gsize len;

  bytes = g_convert_with_fallback (utf8, -1, encoding.charset, "UTF-8", "?", NULL, &len, NULL);
  if (bytes == NULL)
    {
      bytes = g_strdup (utf8);
      len = strlen (utf8);
      encoding.charset = "utf-8";
    }
  g_string_append_printf (out, "Content-Type: text/%s; charset=\"%s\"\n", subtype, encoding.charset);
  g_string_append_printf (out, "Content-Transfer-Encoding: %s\n\n", cte_names[encoding.cte]);
  switch (encoding.cte)
    {
    case CTE_QP:
      append_qp (out, (const guchar *) bytes, len);
      break;
    case CTE_BASE64:
      append_base64 (out, (const guchar *) bytes, len);
      break;
    case CTE_7BIT:
    case CTE_8BIT:
    default:
      g_string_append_len (out, bytes, len);
      break;
    }
}

/* Attachments */

typedef struct
{
  const char *type;
  const char *name;     /* number and extension follow */
  const char *extension;
  const char *magic;
  gsize magic_len;
} AttachmentKind;

static const AttachmentKind attachment_kinds[] = {
  { "application/pdf", "report-", "pdf", "%PDF-1.5\n%\xe2\xe3\xcf\xd3\n", 15 },
  { "image/jpeg", "IMG_", "jpg", "\xff\xd8\xff\xe0\x00\x10JFIF\x00", 11 },
  { "image/png", "screenshot-", "png", "\x89PNG\r\n\x1a\n", 8 },
  { "application/zip", "logs-", "zip", "PK\x03\x04\x14\x00", 6 },
  { "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "numbers-", "xlsx", "PK\x03\x04\x14\x00\x06\x00", 8 },
};
/* Number and ".pdf" follow. */
static const char * const attachment_utf8_names[] = {
  "Präsentation Q", "Übersicht ", "Résumé ", "отчёт-",
};

static void
append_attachment (GString *out,
                   Rng     *rng,
                   guint    index)
{
  const AttachmentKind *kind = &attachment_kinds[rng_range (rng, G_N_ELEMENTS (attachment_kinds))];
  /* 2 to 200 KiB, log-uniform. */
  gsize size = (gsize) (2048.0 * exp (rng_double (rng) * log (100.0)));
  g_autofree guchar *data = g_malloc (size + 8);
  g_autofree char *name = NULL;

  memcpy (data, kind->magic, MIN (kind->magic_len, size));
  for (gsize i = kind->magic_len; i < size; i += 8)
    {
      guint64 r = rng_next (rng);

      memcpy (data + i, &r, 8);
    }

  if (rng_range (rng, 6) == 0)
    {
      /* RFC 2231 for a non-ASCII file name. */
      g_autofree char *utf8 = g_strdup_printf ("%s%u.pdf", PICK (rng, attachment_utf8_names), index % 1000);
      g_autofree char *escaped = g_uri_escape_string (utf8, ".-_", FALSE);

      g_string_append_printf (out, "Content-Type: application/pdf; name*=UTF-8''%s\n", escaped);
      g_string_append_printf (out, "Content-Disposition: attachment; filename*=UTF-8''%s\n", escaped);
    }
  else
    {
      name = g_strdup_printf ("%s%04u.%s", kind->name, index % 10000, kind->extension);
      g_string_append_printf (out, "Content-Type: %s; name=\"%s\"\n", kind->type, name);
      g_string_append_printf (out, "Content-Disposition: attachment; filename=\"%s\"; size=%" G_GSIZE_FORMAT "\n",
                              name, size);
    }
  g_string_append (out, "Content-Transfer-Encoding: base64\n\n");
  append_base64 (out, data, size);
}

/* Headers */

static const char * const day_names[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char * const month_names[] = {
  "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static char *
format_date (gint64 unix_time,
             gint   offset_minutes)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (unix_time + offset_minutes * 60);

  return g_strdup_printf ("%s, %d %s %d %02d:%02d:%02d %c%02d%02d",
                          day_names[g_date_time_get_day_of_week (utc) - 1],
                          g_date_time_get_day_of_month (utc),
                          month_names[g_date_time_get_month (utc) - 1],
                          g_date_time_get_year (utc),
                          g_date_time_get_hour (utc), g_date_time_get_minute (utc),
                          g_date_time_get_second (utc),
                          offset_minutes < 0 ? '-' : '+', ABS (offset_minutes) / 60, ABS (offset_minutes) % 60);
}

static char *
message_id (MailerBenchMailbox *self,
            guint               index)
{
  Rng rng;
  Person sender;
  char *id;

  rng_init (&rng, self->seed, index, ID_SALT);
  person_for (self, index % N_PEOPLE, &sender);
  id = g_strdup_printf ("<%08x.%04x.%u@%s>", (guint) rng_next (&rng), (guint) (rng_next (&rng) & 0xffff),
                        index, strchr (sender.address, '@') + 1);
  person_clear (&sender);
  return id;
}

/* A conversation's subject and language, from its first message. */
static char *
subject_for (MailerBenchMailbox *self,
             guint               root,
             Lang               *lang)
{
  Rng rng;
  GString *subject = g_string_new (NULL);
  guint n_words;

  rng_init (&rng, self->seed, root, SUBJECT_SALT);
  *lang = pick_lang (&rng);
  if (rng_range (&rng, 5) == 0)
    g_string_append_printf (subject, "[%s] ", PICK (&rng, ((const char *[]) { "ops", "dev-list", "Team", "TICKET-4711", "board" })));
  n_words = 3 + rng_range (&rng, 7);
  for (guint i = 0; i < n_words; i++)
    {
      const char *word = lang_word (&rng, *lang);

      if (i > 0)
        g_string_append_c (subject, ' ');
      if (i == 0)
        {
          gunichar c = g_utf8_get_char (word);
          char buf[6];
          gint n = g_unichar_to_utf8 (g_unichar_toupper (c), buf);

          g_string_append_len (subject, buf, n);
          g_string_append (subject, g_utf8_next_char (word));
        }
      else
        g_string_append (subject, word);
    }
  if (*lang == LANG_EN && rng_range (&rng, 10) == 0)
    g_string_append (subject, " \xe2\x80\x93 2\xc2\xbd days \xe2\x9c\x94");   /* "– 2½ days ✔" */
  return g_string_free (subject, FALSE);
}

static void
append_folded_base64 (GString *out,
                      Rng     *rng,
                      gsize    n_bytes)
{
  g_autofree guchar *data = g_malloc (n_bytes + 8);
  g_autofree char *b64 = NULL;
  gsize len;

  for (gsize i = 0; i < n_bytes; i += 8)
    {
      guint64 r = rng_next (rng);

      memcpy (data + i, &r, 8);
    }
  b64 = g_base64_encode (data, n_bytes);
  len = strlen (b64);
  for (gsize i = 0; i < len; i += 70)
    {
      g_string_append (out, "\n\t ");
      g_string_append_len (out, b64 + i, MIN (70, len - i));
    }
}

/* The generator */

/**
 * mailer_bench_mailbox_new:
 * @n_messages: how many messages mailer_bench_mailbox_next() gives
 * @seed: the same seed gives the same mailbox
 */
MailerBenchMailbox *
mailer_bench_mailbox_new (guint   n_messages,
                          guint64 seed)
{
  MailerBenchMailbox *self = g_new0 (MailerBenchMailbox, 1);

  self->n_messages = n_messages;
  self->seed = seed;
  self->parent = g_new (guint32, MAX (n_messages, 1));
  self->root = g_new (guint32, MAX (n_messages, 1));
  return self;
}

void
mailer_bench_mailbox_free (MailerBenchMailbox *self)
{
  if (self == NULL)
    return;
  g_free (self->parent);
  g_free (self->root);
  g_free (self);
}

const MailerBenchMailboxStats *
mailer_bench_mailbox_get_stats (MailerBenchMailbox *self)
{
  return &self->stats;
}

/**
 * mailer_bench_mailbox_next:
 *
 * Returns: (transfer full) (nullable): the next message, or %NULL after
 *   the last one
 */
GBytes *
mailer_bench_mailbox_next (MailerBenchMailbox *self)
{
  static const gint offsets[] = { 0, 60, 120, -300, -240, 180, 330, 60, 0, 540 };
  guint index = self->next;
  GString *out;
  Rng rng;
  Person from = { 0, }, cc = { 0, }, parent_from = { 0, };
  g_autofree char *subject = NULL;
  g_autofree char *date = NULL;
  g_autofree char *id = NULL;
  g_autofree char *text = NULL;
  g_autofree char *boundary_mixed = NULL;
  g_autofree char *boundary_alt = NULL;
  Lang lang;
  Encoding encoding;
  gint64 when;
  gint offset;
  gboolean reply, attachment, alternative;
  gsize text_size;

  if (index >= self->n_messages)
    return NULL;
  self->next++;

  rng_init (&rng, self->seed, index, 0);
  out = g_string_sized_new (32 * 1024);

  /* Place in a conversation. */
  reply = index > 0 && rng_double (&rng) < REPLY_RATE;
  if (reply)
    {
      self->parent[index] = index - 1 - rng_range (&rng, MIN (index, 400));
      self->root[index] = self->root[self->parent[index]];
    }
  else
    {
      self->parent[index] = G_MAXUINT32;
      self->root[index] = index;
    }
  subject = subject_for (self, self->root[index], &lang);
  person_for (self, index % N_PEOPLE == 0 ? 1 : (guint) rng_skewed (&rng, N_PEOPLE), &from);
  if (reply)
    person_for (self, self->parent[index] % N_PEOPLE, &parent_from);

  /* Three years, in order, a little jitter. */
  when = G_GINT64_CONSTANT (1640995200) + (gint64) index * (3 * 365 * 86400 / MAX (self->n_messages, 1)) +
         rng_range (&rng, 3600);
  offset = offsets[rng_range (&rng, G_N_ELEMENTS (offsets))];
  date = format_date (when, offset);
  id = message_id (self, index);

  /* Trace and authentication headers. */
  g_string_append_printf (out, "Return-Path: <%s>\n", from.address);
  g_string_append (out, "Delivered-To: bench@example.org\n");
  g_string_append_printf (out,
                          "Received: from mx.example.org (localhost [127.0.0.1])\n"
                          "\tby mail.example.org (Dovecot) with LMTP id %08x%08x\n"
                          "\tfor <bench@example.org>; %s\n",
                          (guint) rng_next (&rng), (guint) rng_next (&rng), date);
  g_string_append_printf (out,
                          "Received: from mail-%u.%s (mail-%u.%s [198.51.100.%u])\n"
                          "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\n"
                          "\tby mx.example.org (Postfix) with ESMTPS id 4T%010X\n"
                          "\tfor <bench@example.org>; %s\n",
                          rng_range (&rng, 50), strchr (from.address, '@') + 1,
                          rng_range (&rng, 50), strchr (from.address, '@') + 1,
                          1 + rng_range (&rng, 254), (guint) rng_next (&rng), date);
  if (rng_range (&rng, 10) < 6)
    {
      g_string_append_printf (out,
                              "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s;\n"
                              "\ts=selector%u; t=%" G_GINT64_FORMAT "; h=from:to:subject:date:message-id:mime-version;\n"
                              "\tbh=",
                              strchr (from.address, '@') + 1, rng_range (&rng, 3), when);
      {
        g_autofree guchar *hash = g_malloc (32);
        g_autofree char *b64 = NULL;

        for (guint i = 0; i < 32; i += 8)
          {
            guint64 r = rng_next (&rng);

            memcpy (hash + i, &r, 8);
          }
        b64 = g_base64_encode (hash, 32);
        g_string_append (out, b64);
      }
      g_string_append (out, ";\n\tb=");
      append_folded_base64 (out, &rng, 256);
      g_string_append_c (out, '\n');
      g_string_append_printf (out,
                              "Authentication-Results: mx.example.org;\n"
                              "\tdkim=pass (2048-bit key) header.d=%s header.i=@%s;\n"
                              "\tspf=pass (mx.example.org: domain of %s designates 198.51.100.7 as permitted sender)\n",
                              strchr (from.address, '@') + 1, strchr (from.address, '@') + 1, from.address);
    }
  if (rng_range (&rng, 5) == 0)
    g_string_append (out,
                     "List-Id: Development discussion <dev.lists.example.org>\n"
                     "List-Unsubscribe: <mailto:dev-leave@lists.example.org>, <https://lists.example.org/unsubscribe/dev>\n"
                     "Precedence: list\n");

  /* Origin and addressing. */
  g_string_append_printf (out, "Date: %s\n", date);
  g_string_append (out, "From:");
  append_mailbox (out, &from, &rng, 5);
  g_string_append (out, "\nTo: Bench User <bench@example.org>\n");
  if (rng_range (&rng, 10) < 3)
    {
      person_for (self, rng_range (&rng, N_PEOPLE), &cc);
      g_string_append (out, "Cc:");
      append_mailbox (out, &cc, &rng, 3);
      g_string_append_c (out, '\n');
      person_clear (&cc);
    }

  /* Subject: in encoded words when not ASCII. */
  {
    g_autofree char *full = g_strconcat (reply ? "Re: " : "", subject, NULL);

    if (is_ascii (full))
      g_string_append_printf (out, "Subject: %s\n", full);
    else
      {
        gboolean q = lang != LANG_RU ? rng_range (&rng, 2) == 0 : rng_range (&rng, 3) == 0;

        g_string_append (out, "Subject:");
        append_encoded_words (out, full, lang == LANG_RU ? "KOI8-R" : "ISO-8859-1", q, 8);
        g_string_append_c (out, '\n');
        self->stats.n_encoded_subjects++;
      }
  }

  g_string_append_printf (out, "Message-ID: %s\n", id);
  if (reply)
    {
      g_autoptr(GPtrArray) chain = g_ptr_array_new ();
      guint32 p;
      guint n;

      /* Root first, then the last ancestors up to the parent: what mail
       * programs keep of a long References header. */
      for (p = self->parent[index]; p != G_MAXUINT32; p = self->parent[p])
        g_ptr_array_insert (chain, 0, GUINT_TO_POINTER (p));
      n = chain->len;
      {
        g_autofree char *parent_id = message_id (self, self->parent[index]);

        g_string_append_printf (out, "In-Reply-To: %s\nReferences:", parent_id);
      }
      for (guint i = 0; i < n; i++)
        {
          if (n > 10 && i > 0 && i < n - 9)
            continue;
          {
            g_autofree char *ref = message_id (self, GPOINTER_TO_UINT (chain->pdata[i]));

            g_string_append_printf (out, i == 0 ? " %s" : "\n %s", ref);
          }
        }
      g_string_append_c (out, '\n');
      self->stats.n_replies++;
    }
  if (rng_range (&rng, 3) != 0)
    g_string_append_printf (out, "X-Mailer: %s\n", PICK (&rng, mailers));
  g_string_append (out, "MIME-Version: 1.0\n");

  /* The text: new words, a signature, and for a reply the quoted parent. */
  encoding = pick_encoding (&rng, lang);
  text_size = (gsize) CLAMP (TEXT_MEDIAN * exp (TEXT_SIGMA * rng_normal (&rng)), 120.0, 80000.0);
  {
    GString *body = g_string_new (NULL);
    gboolean ascii_only = g_str_equal (encoding.charset, "us-ascii") || encoding.cte == CTE_7BIT;

    append_text (body, &rng, lang, text_size, ascii_only);
    g_string_append_printf (body, "-- \n%s\n", ascii_only && !is_ascii (from.name) ? "Bench Sender" : from.name);
    if (reply)
      {
        GString *quoted = g_string_new (NULL);
        const char *line;

        append_text (quoted, &rng, lang, 200 + rng_range (&rng, 1500), ascii_only);
        g_string_append_printf (body, "\nOn %s, %s wrote:\n",
                                date, ascii_only && !is_ascii (parent_from.name) ? "Bench Sender" : parent_from.name);
        for (line = quoted->str; *line != '\0';)
          {
            const char *nl = strchr (line, '\n');

            g_string_append (body, "> ");
            g_string_append_len (body, line, nl ? nl - line : (gssize) strlen (line));
            g_string_append_c (body, '\n');
            line = nl ? nl + 1 : line + strlen (line);
          }
        g_string_free (quoted, TRUE);
      }
    text = g_string_free (body, FALSE);
  }

  attachment = rng_double (&rng) < ATTACHMENT_RATE;
  alternative = rng_double (&rng) < ALTERNATIVE_RATE;
  boundary_mixed = g_strdup_printf ("----=_Part_%u_%08x.%u", index, (guint) rng_next (&rng), 1700000000 + index);
  boundary_alt = g_strdup_printf ("b2_%08x%08x", (guint) rng_next (&rng), (guint) rng_next (&rng));

  if (attachment)
    {
      g_string_append_printf (out, "Content-Type: multipart/mixed;\n\tboundary=\"%s\"\n\n", boundary_mixed);
      g_string_append_printf (out, "This is a multi-part message in MIME format.\n\n--%s\n", boundary_mixed);
      self->stats.n_attachments++;
    }
  if (alternative)
    {
      g_autofree char *html = text_to_html (text, &rng);
      Encoding html_encoding = { "utf-8", CTE_QP };

      g_string_append_printf (out, "Content-Type: multipart/alternative;\n\tboundary=\"%s\"\n\n", boundary_alt);
      if (!attachment)
        g_string_append (out, "This is a multi-part message in MIME format.\n");
      g_string_append_printf (out, "\n--%s\n", boundary_alt);
      append_text_part (out, "plain", text, encoding);
      g_string_append_printf (out, "\n--%s\n", boundary_alt);
      append_text_part (out, "html", html, html_encoding);
      g_string_append_printf (out, "\n--%s--\n", boundary_alt);
      self->stats.n_alternative++;
    }
  else
    append_text_part (out, "plain", text, encoding);

  if (attachment)
    {
      g_string_append_printf (out, "\n--%s\n", boundary_mixed);
      append_attachment (out, &rng, index);
      g_string_append_printf (out, "\n--%s--\n", boundary_mixed);
    }

  person_clear (&from);
  person_clear (&parent_from);
  self->stats.n_messages++;
  self->stats.bytes += out->len;
  return g_string_free_to_bytes (out);
}
