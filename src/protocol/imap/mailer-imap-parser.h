/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * IMAP responses without I/O (RFC 3501, RFC 9051).
 *
 * MailerImapReader frames the byte stream into whole responses: a line,
 * plus any literals ({n}, {n+}, ~{n}) it announces and the lines after
 * them, with checked sizes and caps.  mailer_imap_parse_response() turns one
 * response into a tree of values: atoms, numbers, strings (binary-safe),
 * NIL and nested lists, plus the status, response code and text.  Decoders
 * for FETCH items, ENVELOPE, BODYSTRUCTURE, LIST and sequence sets build on
 * that tree.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MAILER_IMAP_ERROR (mailer_imap_error_quark ())

typedef enum
{
  MAILER_IMAP_ERROR_PARSE,          /* not IMAP */
  MAILER_IMAP_ERROR_TOO_BIG,        /* a line or literal over its cap */
  MAILER_IMAP_ERROR_NO,             /* the server said NO */
  MAILER_IMAP_ERROR_BAD,            /* the server said BAD */
  MAILER_IMAP_ERROR_BYE,            /* the server is closing the connection */
  MAILER_IMAP_ERROR_AUTH_FAILED,    /* the user name or password was rejected */
  MAILER_IMAP_ERROR_NO_STARTTLS,    /* STARTTLS asked for and not offered */
  MAILER_IMAP_ERROR_LOGIN_DISABLED, /* the server forbids logging in here */
  MAILER_IMAP_ERROR_UIDVALIDITY,    /* the mailbox was recreated */
  MAILER_IMAP_ERROR_INVALID,        /* a command argument cannot be sent */
  MAILER_IMAP_ERROR_TRY_LATER,      /* NO for now: [UNAVAILABLE], [INUSE], [LIMIT], [SERVERBUG] */
} MailerImapError;

GQuark mailer_imap_error_quark (void);

/* Values */

typedef enum
{
  MAILER_IMAP_VALUE_ATOM,
  MAILER_IMAP_VALUE_NUMBER,
  MAILER_IMAP_VALUE_STRING,
  MAILER_IMAP_VALUE_NIL,
  MAILER_IMAP_VALUE_LIST,
} MailerImapValueType;

typedef struct _MailerImapValue MailerImapValue;

struct _MailerImapValue
{
  MailerImapValueType type;
  char *atom;           /* ATOM, NUMBER: as sent, NUL-terminated */
  guint64 number;       /* NUMBER */
  GBytes *string;       /* STRING: quoted or literal, binary-safe */
  GPtrArray *list;      /* LIST: of MailerImapValue */
};

void              mailer_imap_value_free        (MailerImapValue *value);
/* Convenience accessors; NULL/0/FALSE when the value is not of that type. */
const char       *mailer_imap_value_get_atom    (const MailerImapValue *value);
gboolean          mailer_imap_value_get_number  (const MailerImapValue *value,
                                                 guint64               *number);
/* A string, or an atom, or NIL (NULL); strings are returned NUL-terminated
 * (and may hold NULs). */
const char       *mailer_imap_value_get_string  (const MailerImapValue *value,
                                                 gsize                 *len);
GPtrArray        *mailer_imap_value_get_list    (const MailerImapValue *value);
gboolean          mailer_imap_value_is_nil      (const MailerImapValue *value);
gboolean          mailer_imap_atom_equal        (const MailerImapValue *value,
                                                 const char            *atom);

/* Responses */

typedef enum
{
  MAILER_IMAP_RESPONSE_UNTAGGED,
  MAILER_IMAP_RESPONSE_TAGGED,
  MAILER_IMAP_RESPONSE_CONTINUATION,
} MailerImapResponseKind;

typedef enum
{
  MAILER_IMAP_STATUS_NONE,      /* a data response: "* 3 EXISTS", "* LIST ..." */
  MAILER_IMAP_STATUS_OK,
  MAILER_IMAP_STATUS_NO,
  MAILER_IMAP_STATUS_BAD,
  MAILER_IMAP_STATUS_PREAUTH,
  MAILER_IMAP_STATUS_BYE,
} MailerImapStatus;

typedef struct
{
  MailerImapResponseKind kind;
  char *tag;                  /* TAGGED */
  MailerImapStatus status;
  char *code;                 /* response code, upper case ("UIDVALIDITY"), or NULL */
  GPtrArray *code_args;       /* its arguments (MailerImapValue), never NULL */
  char *text;                 /* human-readable text, valid UTF-8, or "" */
  gboolean has_number;        /* "* 12 EXISTS": number 12, name "EXISTS" */
  guint64 number;
  char *name;                 /* data responses: upper case name; NULL for status responses */
  GPtrArray *args;            /* the rest of a data response (MailerImapValue), never NULL */
} MailerImapResponse;

void                mailer_imap_response_free  (MailerImapResponse  *response);
MailerImapResponse *mailer_imap_parse_response (const char          *data,
                                                gsize                len,
                                                GError             **error);

/* Framing */

typedef struct _MailerImapReader MailerImapReader;

#define MAILER_IMAP_DEFAULT_MAX_LINE    (64 * 1024)
#define MAILER_IMAP_DEFAULT_MAX_LITERAL (64 * 1024 * 1024)

MailerImapReader *mailer_imap_reader_new       (gsize               max_line,
                                                gsize               max_literal);
void              mailer_imap_reader_free      (MailerImapReader   *reader);
void              mailer_imap_reader_feed      (MailerImapReader   *reader,
                                                const void         *data,
                                                gsize               len);
/* A whole response (transfer full), or NULL: more input needed (no
 * @error), or the stream is broken (@error set, for good). */
GBytes           *mailer_imap_reader_next      (MailerImapReader   *reader,
                                                GError            **error);
/* Bytes of the response being read so far, literals included; for progress. */
gsize             mailer_imap_reader_get_pending (MailerImapReader *reader);

/* Decoders */

typedef struct
{
  guint32 seq;
  guint32 uid;
  gboolean has_flags;
  GStrv flags;                /* as sent: "\\Seen", "$Junk" */
  gint64 internal_date;       /* unix time, or 0 */
  gint64 size;                /* RFC822.SIZE, or -1 */
  guint64 modseq;             /* or 0 */
  MailerImapValue *envelope;  /* borrowed from the response, or NULL */
  MailerImapValue *bodystructure;
  GHashTable *sections;       /* "HEADER.FIELDS (REFERENCES)", "" ... -> GBytes */
} MailerImapFetch;

void              mailer_imap_fetch_free      (MailerImapFetch          *fetch);
MailerImapFetch  *mailer_imap_parse_fetch     (const MailerImapResponse *response,
                                               GError                  **error);

typedef struct
{
  GStrv attributes;           /* "\\HasNoChildren", "\\Sent" ... */
  char delimiter;             /* 0 when flat */
  char *name;                 /* decoded to UTF-8 */
} MailerImapListEntry;

void                 mailer_imap_list_entry_free (MailerImapListEntry      *entry);
MailerImapListEntry *mailer_imap_parse_list      (const MailerImapResponse *response,
                                                  gboolean                  utf8_names,
                                                  GError                  **error);

/* Sequence sets ("1:3,7,9:*"): ranges of (first, last) pairs; "*" is
 * @star. */
GArray           *mailer_imap_parse_sequence_set (const char *text,
                                                  guint32     star,
                                                  GError    **error);
char             *mailer_imap_format_sequence_set (const guint32 *sorted,
                                                   guint          n);

gint64            mailer_imap_parse_date_time (const char *text);

/* Modified UTF-7 mailbox names (RFC 3501 section 5.1.3). */
char             *mailer_imap_utf7_decode     (const char *name);
char             *mailer_imap_utf7_encode     (const char *utf8);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailerImapReader, mailer_imap_reader_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailerImapResponse, mailer_imap_response_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailerImapFetch, mailer_imap_fetch_free)

G_END_DECLS
