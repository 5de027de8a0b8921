/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The store's MIME layer: turns the raw bytes of one RFC 5322 message into
 * the summary the store keeps for the message list, threading and search.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Longest preview, in characters. */
#define MAILER_MIME_PREVIEW_CHARS 200

/* Longest body_text, in bytes; longer text is cut on a character boundary. */
#define MAILER_MIME_BODY_TEXT_MAX (256 * 1024)

/* Longest subject, in characters: enough for any real subject, and keeps a
 * hostile 100 KB header out of the message list. */
#define MAILER_MIME_SUBJECT_MAX_CHARS 1000

typedef struct
{
  char  *filename;      /* UTF-8, RFC 2231/2047 decoded; NULL when the part has none */
  char  *content_type;  /* "type/subtype", lower case */
  gsize  size;          /* decoded bytes */
  char  *content_id;    /* without <>; NULL when none */
  char  *part_path;     /* IMAP section number of the part, e.g. "2" or "1.3" */
} MailerMimeAttachment;

typedef struct
{
  char      *message_id;     /* without <>; NULL when none */
  char      *in_reply_to;    /* without <>; NULL when none */
  GStrv      references;     /* message-ids without <>, oldest first; never NULL */
  char      *subject;        /* decoded, whitespace collapsed; "" when none */
  char      *from_name;      /* display name, or NULL */
  char      *from_address;   /* addr-spec, or NULL */
  char      *to;             /* display form of all To addresses, comma-separated; "" when none */
  char      *cc;             /* same for Cc */
  gint64     date;           /* unix time; 0 when missing or unparsable */
  gboolean   has_attachment;
  GPtrArray *attachments;    /* of MailerMimeAttachment, in message order */
  char      *preview;        /* start of the body text, whitespace collapsed; "" when none */
  char      *body_text;      /* text for full-text search; "" when none */
} MailerMimeSummary;

/* Fails only when @raw holds nothing but white space; text without a
 * header section is all body.  Every string of the summary is valid UTF-8.
 * Safe to call from any thread. */
void               mailer_mime_init            (void);
MailerMimeSummary *mailer_mime_parse           (GBytes               *raw,
                                                GError              **error);
MailerMimeSummary *mailer_mime_parse_headers   (GBytes               *raw,
                                                GError              **error);
void               mailer_mime_summary_free    (MailerMimeSummary    *summary);
void               mailer_mime_attachment_free (MailerMimeAttachment *attachment);

char              *mailer_mime_get_html        (GBytes               *raw);
GBytes            *mailer_mime_get_part_by_path (GBytes              *raw,
                                                 const char          *path);
GBytes            *mailer_mime_get_part_by_cid (GBytes               *raw,
                                                const char           *cid,
                                                char                **content_type);

/* Plain text of an HTML document (@len -1 when NUL-terminated), as a
 * browser would show it, for search and previews. */
char              *mailer_mime_html_to_text    (const char           *html,
                                                gssize                len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailerMimeSummary, mailer_mime_summary_free)

G_END_DECLS
