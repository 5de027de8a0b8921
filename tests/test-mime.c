/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MIME layer tests: the summary of every message in tests/data (see its
 * README for the expected values), the RFC 2047 workaround for GMime
 * 3.2.13, charsets, the attachment rule, previews, HTML reduced to text,
 * and inputs that must not break the parser.
 */
#include "config.h"

#include <string.h>

#include "mailer-mime.h"

static MailerMimeSummary *
parse_file (const char *name)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", name, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  MailerMimeSummary *summary;
  char *data;
  gsize len;

  g_file_get_contents (path, &data, &len, &error);
  g_assert_no_error (error);
  bytes = g_bytes_new_take (data, len);
  summary = mailer_mime_parse (bytes, &error);
  g_assert_no_error (error);
  g_assert_nonnull (summary);
  return summary;
}

static MailerMimeSummary *
parse_bytes (const char *data,
             gsize       len)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, len);
  g_autoptr(GError) error = NULL;
  MailerMimeSummary *summary = mailer_mime_parse (bytes, &error);

  g_assert_no_error (error);
  g_assert_nonnull (summary);
  return summary;
}

static MailerMimeSummary *
parse_string (const char *text)
{
  return parse_bytes (text, strlen (text));
}

static gint64
unix_time (const char *iso8601)
{
  g_autoptr(GDateTime) date = g_date_time_new_from_iso8601 (iso8601, NULL);

  g_assert_nonnull (date);
  return g_date_time_to_unix (date);
}

static MailerMimeAttachment *
get_attachment (MailerMimeSummary *summary,
                guint              index)
{
  g_assert_cmpuint (index, <, summary->attachments->len);
  return g_ptr_array_index (summary->attachments, index);
}

/* Every string of a summary is valid UTF-8, and the preview is short. */
static void
assert_sane (MailerMimeSummary *summary)
{
  g_assert_nonnull (summary->subject);
  g_assert_nonnull (summary->to);
  g_assert_nonnull (summary->cc);
  g_assert_nonnull (summary->preview);
  g_assert_nonnull (summary->body_text);
  g_assert_nonnull (summary->references);
  g_assert_nonnull (summary->attachments);
  g_assert_true (g_utf8_validate (summary->subject, -1, NULL));
  g_assert_true (g_utf8_validate (summary->to, -1, NULL));
  g_assert_true (g_utf8_validate (summary->cc, -1, NULL));
  g_assert_true (g_utf8_validate (summary->preview, -1, NULL));
  g_assert_true (g_utf8_validate (summary->body_text, -1, NULL));
  g_assert_true (summary->from_name == NULL || g_utf8_validate (summary->from_name, -1, NULL));
  g_assert_true (summary->from_address == NULL ||
                 g_utf8_validate (summary->from_address, -1, NULL));
  g_assert_true (summary->message_id == NULL || g_utf8_validate (summary->message_id, -1, NULL));
  g_assert_cmpint (g_utf8_strlen (summary->preview, -1), <=, MAILER_MIME_PREVIEW_CHARS);
  g_assert_cmpuint (strlen (summary->body_text), <=, MAILER_MIME_BODY_TEXT_MAX);
  g_assert_cmpint (summary->has_attachment, ==, summary->attachments->len > 0);
}

/* ------------------------------------------------------------------ */
/* The messages of tests/data                                          */
/* ------------------------------------------------------------------ */

static void
test_plain (void)
{
  g_autoptr(MailerMimeSummary) summary = parse_file ("plain.eml");

  assert_sane (summary);
  g_assert_cmpstr (summary->message_id, ==, "5e1c9a7f-3b2d-4c8e-9f1a-2d7b6e0c4a11@example.com");
  g_assert_null (summary->in_reply_to);
  g_assert_cmpuint (g_strv_length (summary->references), ==, 0);
  g_assert_cmpstr (summary->subject, ==, "Keys for the storage room");
  g_assert_cmpstr (summary->from_name, ==, "Dorota Kowalski");
  g_assert_cmpstr (summary->from_address, ==, "d.kowalski@example.com");
  g_assert_cmpstr (summary->to, ==, "Alex Morgan <alex@example.org>");
  g_assert_cmpstr (summary->cc, ==, "");
  g_assert_cmpint (summary->date, ==, unix_time ("2026-11-16T10:13:58+01:00"));
  g_assert_false (summary->has_attachment);
  g_assert_true (g_str_has_prefix (summary->preview,
                                   "Hi Alex, I've left the keys for the storage room with Sam "
                                   "at reception. The big one opens the outer door,"));
  g_assert_nonnull (strstr (summary->body_text, "Facilities, 2nd floor"));
}

static void
test_alternative (void)
{
  g_autoptr(MailerMimeSummary) summary = parse_file ("alternative.eml");

  assert_sane (summary);
  g_assert_cmpstr (summary->subject, ==, "Minutes from Tuesday's planning meeting");
  g_assert_cmpstr (summary->from_name, ==, "Sam Okonkwo");
  g_assert_cmpstr (summary->from_address, ==, "sam.okonkwo@example.com");
  g_assert_cmpint (summary->date, ==, unix_time ("2026-11-17T16:02:36+01:00"));
  g_assert_cmpuint (summary->attachments->len, ==, 0);

  /* The plain part, not the HTML one: only the plain part has the
   * asterisks, and the HTML part's text must not come twice. */
  g_assert_nonnull (strstr (summary->body_text, "* The 0.2 release moves to 15 January."));
  g_assert_nonnull (strstr (summary->body_text, "* Priya: check the budget"));
  g_assert_null (strstr (summary->body_text, "<div"));
  g_assert_true (strstr (summary->body_text, "Next meeting") ==
                 g_strrstr (summary->body_text, "Next meeting"));
  g_assert_true (g_str_has_prefix (summary->preview,
                                   "Hi Alex, Here are the minutes from today's planning meeting. "
                                   "Decisions * The 0.2 release"));
}

static void
test_attachment (void)
{
  g_autoptr(MailerMimeSummary) summary = parse_file ("attachment.eml");
  MailerMimeAttachment *attachment;

  assert_sane (summary);
  g_assert_cmpstr (summary->subject, ==, "New toolbar icon");
  g_assert_cmpstr (summary->from_name, ==, "Priya Raman");
  g_assert_cmpstr (summary->from_address, ==, "priya.raman@example.net");
  g_assert_cmpstr (summary->message_id, ==, "20261118142207.3F9A1C0051@mail.example.net");
  g_assert_cmpint (summary->date, ==, unix_time ("2026-11-18T14:22:07Z"));

  g_assert_true (summary->has_attachment);
  g_assert_cmpuint (summary->attachments->len, ==, 1);
  attachment = get_attachment (summary, 0);
  g_assert_cmpstr (attachment->filename, ==, "mail-icon.png");
  g_assert_cmpstr (attachment->content_type, ==, "image/png");
  g_assert_cmpuint (attachment->size, ==, 1404);
  g_assert_null (attachment->content_id);
  g_assert_cmpstr (attachment->part_path, ==, "2");

  g_assert_nonnull (strstr (summary->preview, "Attached is the 64x64 version of the new icon"));
  g_assert_null (strstr (summary->body_text, "iVBORw0KGgo"));
}

static void
test_rfc2047_subject (void)
{
  g_autoptr(MailerMimeSummary) summary = parse_file ("rfc2047-subject.eml");

  assert_sane (summary);
  g_assert_cmpstr (summary->subject, ==, "Réunion de l'équipe — ordre du jour");
  g_assert_cmpstr (summary->from_name, ==, "Amélie Lefèvre");
  g_assert_cmpstr (summary->from_address, ==, "amelie.lefevre@example.net");
  g_assert_cmpstr (summary->to, ==, "Alex Morgan <alex@example.org>");
  g_assert_cmpstr (summary->cc, ==, "Benoît Girard <benoit.girard@example.net>");
  g_assert_cmpint (summary->date, ==, unix_time ("2026-11-19T08:41:19+01:00"));
  g_assert_true (g_str_has_prefix (summary->preview,
                                   "Bonjour à tous, Voici l'ordre du jour "
                                   "de la réunion de vendredi"));
  g_assert_nonnull (strstr (summary->body_text, "Le café sera prêt dès 9 h 45."));
}

static void
test_rfc2047_japanese (void)
{
  g_autoptr(MailerMimeSummary) summary = parse_file ("rfc2047-japanese.eml");

  assert_sane (summary);
  g_assert_cmpstr (summary->subject, ==, "来週の打ち合わせの日程について");
  g_assert_cmpstr (summary->from_name, ==, "山本 彩");
  g_assert_cmpstr (summary->from_address, ==, "aya.yamamoto@example.com");
  g_assert_cmpint (summary->date, ==, unix_time ("2026-11-19T10:30:12+09:00"));
  /* The body is ISO-2022-JP, 7bit. */
  g_assert_true (g_str_has_prefix (summary->preview, "アレックスさん"));
  g_assert_nonnull (strstr (summary->body_text, "会議室は三階の「さくら」を予約してあります。"));
}

/* GMime 3.2.13 alone gives "Café menu" and "Zoë" (gmime#133). */
static void
test_rfc2047_split_words (void)
{
  g_autoptr(MailerMimeSummary) summary = parse_file ("rfc2047-split-words.eml");

  assert_sane (summary);
  g_assert_cmpstr (summary->subject, ==, "Café menu for Friday — vegetarian options");
  g_assert_cmpstr (summary->from_name, ==, "Zoë Bakker");
  g_assert_cmpstr (summary->from_address, ==, "zoe.bakker@example.org");
  g_assert_cmpint (summary->date, ==, unix_time ("2026-11-20T11:35:02+01:00"));
  g_assert_nonnull (strstr (summary->preview, "Shall I put you down for the mushroom risotto?"));
}

/* The same GMime bug in the other shapes it takes: a character split
 * across two words, unpadded words, address lists, file names. */
static void
test_rfc2047_split_words_more (void)
{
  g_autoptr(MailerMimeSummary) summary = parse_string (
    "From: =?UTF-8?B?Wm/Dqw?= =?UTF-8?B?IEJha2tlcg?= <zoe@example.org>\n"
    "To: =?utf-8?b?TWHDqw==?= =?UTF-8?B?bGxl?= <maelle@example.org>,\n"
    " =?UTF-8?Q?Beno=C3=AEt?= <benoit@example.org>\n"
    "Subject: =?UTF-8?B?Q2Fmww==?= =?UTF-8?B?qQ==?= =?ISO-8859-1?B?IG1lbnU=?=\n"
    " =?UTF-8?B?IMOg?= la carte\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=b\n"
    "\n"
    "--b\n"
    "Content-Type: text/plain\n"
    "\n"
    "Menu attached.\n"
    "--b\n"
    "Content-Type: application/pdf\n"
    "Content-Disposition: attachment;\n"
    " filename=\"=?UTF-8?B?TWVudSDDoA==?= =?UTF-8?B?IGxhIGNhcnRlLnBkZg==?=\"\n"
    "\n"
    "%PDF\n"
    "--b--\n");
  MailerMimeAttachment *attachment;

  assert_sane (summary);
  /* 'é' is C3 A9: its two bytes sit in two words. */
  g_assert_cmpstr (summary->subject, ==, "Café menu à la carte");
  g_assert_cmpstr (summary->from_name, ==, "Zoë Bakker");
  g_assert_cmpstr (summary->to, ==, "Maëlle <maelle@example.org>, Benoît <benoit@example.org>");
  g_assert_cmpuint (summary->attachments->len, ==, 1);
  attachment = get_attachment (summary, 0);
  g_assert_cmpstr (attachment->filename, ==, "Menu à la carte.pdf");
  g_assert_cmpstr (attachment->content_type, ==, "application/pdf");
}

static void
test_latin1_body (void)
{
  g_autoptr(MailerMimeSummary) summary = parse_file ("latin1-body.eml");

  assert_sane (summary);
  g_assert_cmpstr (summary->subject, ==, "Grüße aus München");
  g_assert_cmpstr (summary->from_name, ==, "Jürgen Müller");
  g_assert_cmpstr (summary->from_address, ==, "juergen.mueller@example.com");
  g_assert_cmpstr (summary->to, ==, "alex@example.org");
  g_assert_cmpstr (summary->message_id, ==, "000d01db3a2f$8e4c1f20$aae45d60$@example.com");
  g_assert_cmpint (summary->date, ==, unix_time ("2026-11-20T17:05:44+01:00"));
  g_assert_true (g_str_has_prefix (summary->preview, "Hallo Alex, viele Grüße aus München!"));
  g_assert_nonnull (strstr (summary->body_text, "Übersetzungsteam"));
  g_assert_nonnull (strstr (summary->body_text, "»Entwürfe«"));
  g_assert_nonnull (strstr (summary->body_text, "À propos: Amélie"));
  g_assert_nonnull (strstr (summary->body_text, "Genève"));
  g_assert_nonnull (strstr (summary->body_text, "Schöne Grüße"));
  /* Byte 0xA4 is the currency sign in ISO-8859-1; the euro sign only in
   * ISO-8859-15. */
  g_assert_nonnull (strstr (summary->body_text, "»¤«"));
  g_assert_null (strstr (summary->body_text, "€"));
}

typedef struct
{
  const char *file;
  const char *message_id;
  const char *in_reply_to;
  const char *references[4];
  const char *subject;
  const char *from;
  const char *date;
  const char *preview_start;
} ThreadMessage;

#define ID_A "8f3e1a2b-0c44-4d2e-9b61-5a7c0e9d1f01@example.org"
#define ID_B "CAMn0wak7s2Hc1Lq9ZpRt4XvB8yE3fG6jK0@mail.example.com"
#define ID_C "20261109111502.GA4127@example.org"
#define ID_D "op.2k9x7rtq0kwame@kwame-laptop.example.net"
#define ID_E "c1d5e7a9-44b0-4f3c-8e26-b7d90a1f3e55@example.org"
#define ID_F "CAMn0wak9PqW2eR5tY8uI1oA4sD7fG0hJ3k@mail.example.com"
#define THREAD_SUBJECT "Moving the build server to the new rack"

static const ThreadMessage thread[] = {
  { "thread-01.eml", ID_A, NULL, { NULL }, THREAD_SUBJECT, "rahul.verma@example.org",
    "2026-11-09T09:02:15+05:30", "Hi all, The new rack in room B is finally wired up" },
  { "thread-02.eml", ID_B, ID_A, { ID_A, NULL }, "Re: " THREAD_SUBJECT, "marta.nowak@example.com",
    "2026-11-09T07:40:51+01:00", "Wednesday evening works better for me." },
  { "thread-03.eml", ID_C, ID_B, { ID_A, ID_B, NULL }, "Re: " THREAD_SUBJECT, "alex@example.org",
    "2026-11-09T11:15:02Z", "Same here, Wednesday is fine. +1. I can point the CI runners" },
  { "thread-04.eml", ID_D, ID_C, { ID_A, ID_B, ID_C, NULL }, "Re: Re: " THREAD_SUBJECT,
    "kwame.mensah@example.net", "2026-11-10T08:20:37Z", "Wednesday works for me too." },
  { "thread-05.eml", ID_E, ID_D, { NULL }, "Re: " THREAD_SUBJECT, "rahul.verma@example.org",
    "2026-11-10T15:05:48+05:30", "Great, Wednesday 18:00 CET it is." },
  { "thread-06.eml", ID_F, ID_E, { ID_D, ID_E, NULL }, "Re: " THREAD_SUBJECT,
    "marta.nowak@example.com", "2026-11-12T09:30:05+01:00", "The builder came back at 19:40" },
};

static void
test_thread (void)
{
  gint64 previous_date = 0;

  for (guint i = 0; i < G_N_ELEMENTS (thread); i++)
    {
      const ThreadMessage *expected = &thread[i];
      g_autoptr(MailerMimeSummary) summary = parse_file (expected->file);

      assert_sane (summary);
      g_assert_cmpstr (summary->message_id, ==, expected->message_id);
      g_assert_cmpstr (summary->in_reply_to, ==, expected->in_reply_to);
      g_assert_cmpuint (g_strv_length (summary->references), ==,
                        g_strv_length ((GStrv) expected->references));
      for (guint j = 0; expected->references[j] != NULL; j++)
        g_assert_cmpstr (summary->references[j], ==, expected->references[j]);
      g_assert_cmpstr (summary->subject, ==, expected->subject);
      g_assert_cmpstr (summary->from_address, ==, expected->from);
      g_assert_cmpint (summary->date, ==, unix_time (expected->date));
      g_assert_true (g_str_has_prefix (summary->preview, expected->preview_start));

      /* Replies quote: the preview is what the sender wrote. */
      g_assert_null (strstr (summary->preview, "wrote"));
      g_assert_null (strstr (summary->preview, "> "));

      /* Sorted by date the order is 01 → 06, whatever the time zones. */
      g_assert_cmpint (summary->date, >, previous_date);
      previous_date = summary->date;
    }
}

/* Each file of tests/data has its test above; a new one needs one too. */
static void
test_all_covered (void)
{
  static const char * const covered[] = {
    "alternative.eml", "attachment.eml", "latin1-body.eml", "plain.eml",
    "rfc2047-japanese.eml", "rfc2047-split-words.eml", "rfc2047-subject.eml",
    "thread-01.eml", "thread-02.eml", "thread-03.eml", "thread-04.eml", "thread-05.eml",
    "thread-06.eml", NULL
  };
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open (path, 0, &error);
  const char *name;
  guint n_files = 0;

  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      if (!g_str_has_suffix (name, ".eml"))
        continue;
      if (!g_strv_contains (covered, name))
        g_test_fail_printf ("tests/data/%s has no test", name);
      n_files++;
    }
  g_assert_cmpuint (n_files, ==, g_strv_length ((GStrv) covered));
}

/* ------------------------------------------------------------------ */
/* Charsets                                                            */
/* ------------------------------------------------------------------ */

static char *
body_of (const char *content_type,
         const char *body)
{
  g_autofree char *type_header = content_type != NULL ? g_strdup_printf ("Content-Type: %s\n",
                                                                          content_type)
                                                       : g_strdup ("");
  g_autofree char *message = g_strdup_printf ("From: a@example.org\n"
                                              "Subject: charset\n"
                                              "MIME-Version: 1.0\n"
                                              "%s"
                                              "\n"
                                              "%s",
                                              type_header, body);
  g_autoptr(MailerMimeSummary) summary = parse_string (message);

  assert_sane (summary);
  return g_strdup (summary->body_text);
}

static void
test_charsets (void)
{
  g_autofree char *undeclared_latin1 = body_of (NULL, "caf\xE9 cr\xE8me\n");
  g_autofree char *undeclared_utf8 = body_of (NULL, "caf\xC3\xA9 cr\xC3\xA8me\n");
  g_autofree char *windows = body_of ("text/plain; charset=windows-1252",
                                      "\x93quoted\x94 \x80 5\n");
  g_autofree char *latin1_c1 = body_of ("text/plain; charset=iso-8859-1", "\x93quoted\x94\n");
  g_autofree char *koi8 = body_of ("text/plain; charset=koi8-r", "\xF0\xD2\xC9\xD7\xC5\xD4\n");
  g_autofree char *unknown = body_of ("text/plain; charset=x-no-such-charset",
                                      "caf\xC3\xA9\n");
  g_autofree char *mislabelled = body_of ("text/plain; charset=iso-8859-1", "caf\xC3\xA9\n");
  g_autofree char *damaged = body_of ("text/plain; charset=utf-8",
                                      "caf\xC3\xA9 na\xC3\xAFve \xFF end\n");
  g_autofree char *utf16 = body_of ("text/plain; charset=utf-16\n"
                                    "Content-Transfer-Encoding: base64",
                                    "//5IAGkAIADpAA==\n");
  g_autofree char *qp = body_of ("text/plain; charset=utf-8\n"
                                 "Content-Transfer-Encoding: quoted-printable",
                                 "caf=C3=A9 au =\nlait\n");

  /* Undeclared 8-bit text: UTF-8 when it is, else windows-1252. */
  g_assert_cmpstr (undeclared_latin1, ==, "café crème\n");
  g_assert_cmpstr (undeclared_utf8, ==, "café crème\n");
  g_assert_cmpstr (windows, ==, "“quoted” € 5\n");
  /* ISO-8859-1 that uses 0x80-0x9F is windows-1252 in practice. */
  g_assert_cmpstr (latin1_c1, ==, "“quoted”\n");
  g_assert_cmpstr (koi8, ==, "Привет\n");
  g_assert_cmpstr (unknown, ==, "café\n");
  g_assert_cmpstr (mislabelled, ==, "café\n");
  g_assert_cmpstr (damaged, ==, "café naïve \xEF\xBF\xBD end\n");
  g_assert_cmpstr (utf16, ==, "Hi é");
  g_assert_cmpstr (qp, ==, "café au lait\n");
}

/* ------------------------------------------------------------------ */
/* Attachments                                                         */
/* ------------------------------------------------------------------ */

static const char rule_message[] =
  "From: a@example.org\n"
  "Subject: Which parts are attachments\n"
  "MIME-Version: 1.0\n"
  "Content-Type: multipart/mixed; boundary=\"outer\"\n"
  "\n"
  "--outer\n"
  "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\n"
  " micalg=sha-256; boundary=\"signed\"\n"
  "\n"
  "--signed\n"
  "Content-Type: multipart/related; boundary=\"related\"\n"
  "\n"
  "--related\n"
  "Content-Type: text/html; charset=utf-8\n"
  "\n"
  "<p>See the <b>logo</b>: <img src=\"CID:Logo@example.org\"></p>\n"
  "--related\n"
  "Content-Type: image/png; name=\"logo.png\"\n"
  "Content-Disposition: attachment; filename=\"logo.png\"\n"
  "Content-ID: <Logo@example.org>\n"
  "Content-Transfer-Encoding: base64\n"
  "\n"
  "iVBORw0KGgo=\n"
  "--related\n"
  "Content-Type: image/png; name=\"unused.png\"\n"
  "Content-ID: <unused@example.org>\n"
  "Content-Transfer-Encoding: base64\n"
  "\n"
  "iVBORw0KGgo=\n"
  "--related--\n"
  "--signed\n"
  "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\n"
  "Content-Disposition: attachment; filename=\"smime.p7s\"\n"
  "Content-Transfer-Encoding: base64\n"
  "\n"
  "AAAA\n"
  "--signed--\n"
  "--outer\n"
  "Content-Type: text/calendar; method=REQUEST; charset=utf-8\n"
  "\n"
  "BEGIN:VCALENDAR\n"
  "END:VCALENDAR\n"
  "--outer\n"
  "Content-Type: application/ms-tnef; name=\"winmail.dat\"\n"
  "Content-Disposition: attachment; filename=\"winmail.dat\"\n"
  "Content-Transfer-Encoding: base64\n"
  "\n"
  "eJ8+IgAA\n"
  "--outer\n"
  "Content-Type: text/plain; charset=utf-8; name=\"notes.txt\"\n"
  "Content-Disposition: inline; filename=\"notes.txt\"\n"
  "\n"
  "Notes shown inline.\n"
  "--outer\n"
  "Content-Type: text/plain; charset=utf-8\n"
  "Content-Disposition: attachment; filename=\"log.txt\"\n"
  "\n"
  "Attached log, not body text.\n"
  "--outer\n"
  "Content-Type: message/rfc822\n"
  "\n"
  "From: b@example.org\n"
  "Subject: Forwarded\n"
  "Content-Type: multipart/mixed; boundary=\"inner\"\n"
  "\n"
  "--inner\n"
  "Content-Type: text/plain\n"
  "\n"
  "Text of the forwarded message.\n"
  "--inner\n"
  "Content-Type: application/pdf; name=\"inner.pdf\"\n"
  "\n"
  "%PDF\n"
  "--inner--\n"
  "--outer--\n";

static void
test_attachment_rule (void)
{
  g_autoptr(MailerMimeSummary) summary = parse_string (rule_message);
  static const struct
  {
    const char *path;
    const char *content_type;
    const char *filename;
    gsize       size;
  } expected[] = {
    /* 1.1.1 is the HTML, 1.1.2 the logo it shows, 1.2 the signature. */
    { "1.1.3", "image/png", "unused.png", 8 },
    /* 2 is calendar data with no name. */
    { "3", "application/ms-tnef", "winmail.dat", 6 },
    { "4", "text/plain", "notes.txt", 19 },
    { "5", "text/plain", "log.txt", 28 },
    /* Its own attachment, inner.pdf, belongs to the attached message. */
    { "6", "message/rfc822", NULL, 0 },
  };

  assert_sane (summary);
  g_assert_cmpuint (summary->attachments->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      MailerMimeAttachment *attachment = get_attachment (summary, i);

      g_assert_cmpstr (attachment->part_path, ==, expected[i].path);
      g_assert_cmpstr (attachment->content_type, ==, expected[i].content_type);
      g_assert_cmpstr (attachment->filename, ==, expected[i].filename);
      if (expected[i].size > 0)
        g_assert_cmpuint (attachment->size, ==, expected[i].size);
    }
  g_assert_cmpuint (get_attachment (summary, 4)->size, >, 100);

  g_assert_cmpstr (summary->preview, ==, "See the logo:");
  g_assert_nonnull (strstr (summary->body_text, "Notes shown inline."));
  g_assert_nonnull (strstr (summary->body_text, "Text of the forwarded message."));
  g_assert_null (strstr (summary->body_text, "Attached log"));
  g_assert_null (strstr (summary->body_text, "VCALENDAR"));
}

/* Signed and encrypted mail: the signature and the ciphertext are how the
 * body travels, not attachments. */
static void
test_crypto_envelopes (void)
{
  g_autoptr(MailerMimeSummary) opaque = parse_string (
    "From: a@example.org\n"
    "Subject: S/MIME opaque\n"
    "MIME-Version: 1.0\n"
    "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"\n"
    "Content-Disposition: attachment; filename=\"smime.p7m\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwGggCSABA==\n");
  g_autoptr(MailerMimeSummary) encrypted = parse_string (
    "From: a@example.org\n"
    "Subject: PGP/MIME\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=e\n"
    "\n"
    "--e\n"
    "Content-Type: application/pgp-encrypted\n"
    "\n"
    "Version: 1\n"
    "--e\n"
    "Content-Type: application/octet-stream; name=\"encrypted.asc\"\n"
    "\n"
    "-----BEGIN PGP MESSAGE-----\n"
    "--e--\n");
  /* The same, relabelled multipart/mixed on its way through Exchange. */
  g_autoptr(MailerMimeSummary) mangled = parse_string (
    "From: a@example.org\n"
    "Subject: PGP/MIME through Exchange\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=e\n"
    "\n"
    "--e\n"
    "Content-Type: text/plain\n"
    "\n"
    "\n"
    "--e\n"
    "Content-Type: application/pgp-encrypted\n"
    "Content-Disposition: attachment; filename=\"PGPMIME version identification\"\n"
    "\n"
    "Version: 1\n"
    "--e\n"
    "Content-Type: application/octet-stream; name=\"encrypted.asc\"\n"
    "Content-Disposition: attachment; filename=\"encrypted.asc\"\n"
    "\n"
    "-----BEGIN PGP MESSAGE-----\n"
    "--e--\n");
  /* A detached signature that lost its multipart/signed. */
  g_autoptr(MailerMimeSummary) stray_signature = parse_string (
    "From: a@example.org\n"
    "Subject: signed\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=s\n"
    "\n"
    "--s\n"
    "Content-Type: text/plain\n"
    "\n"
    "Signed text.\n"
    "--s\n"
    "Content-Type: application/pgp-signature; name=\"signature.asc\"\n"
    "Content-Disposition: attachment; filename=\"signature.asc\"\n"
    "\n"
    "-----BEGIN PGP SIGNATURE-----\n"
    "--s--\n");

  assert_sane (opaque);
  g_assert_cmpuint (opaque->attachments->len, ==, 0);
  assert_sane (encrypted);
  g_assert_cmpuint (encrypted->attachments->len, ==, 0);
  g_assert_cmpstr (encrypted->body_text, ==, "");
  assert_sane (mangled);
  g_assert_cmpuint (mangled->attachments->len, ==, 0);
  assert_sane (stray_signature);
  g_assert_cmpuint (stray_signature->attachments->len, ==, 0);
  g_assert_cmpstr (stray_signature->preview, ==, "Signed text.");
}

/* A message that is nothing but a forward still has a preview. */
static void
test_forward_only (void)
{
  g_autoptr(MailerMimeSummary) summary = parse_string (
    "From: a@example.org\n"
    "Subject: Fwd: minutes\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: b@example.org\n"
    "Subject: minutes\n"
    "\n"
    "The minutes are below.\n");

  assert_sane (summary);
  g_assert_cmpuint (summary->attachments->len, ==, 1);
  g_assert_cmpstr (get_attachment (summary, 0)->part_path, ==, "1");
  g_assert_cmpstr (summary->preview, ==, "The minutes are below.");
}

/* ------------------------------------------------------------------ */
/* Preview and HTML                                                    */
/* ------------------------------------------------------------------ */

static void
test_preview (void)
{
  g_autoptr(GString) long_body = g_string_new ("From: a@example.org\nSubject: long\n"
                                               "Content-Type: text/plain; charset=utf-8\n\n");
  g_autoptr(MailerMimeSummary) quoted = parse_string (
    "From: a@example.org\n"
    "Subject: Re: x\n"
    "\n"
    "Le lundi 9 novembre, Sam a écrit :\n"
    "> first quoted line\n"
    ">> second level\n"
    "\n"
    "My   answer\tis yes.\n"
    "\n"
    "  > indented quote\n");
  g_autoptr(MailerMimeSummary) all_quoted = parse_string (
    "From: a@example.org\n"
    "Subject: Fwd: x\n"
    "\n"
    "> only a quotation\n");
  g_autoptr(MailerMimeSummary) long_summary = NULL;
  g_autoptr(MailerMimeSummary) padded = parse_string (
    "From: a@example.org\n"
    "Subject: newsletter\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<div style=\"display:none\">&zwnj;&nbsp;&zwnj;&nbsp;&#8203;</div><p>Real start</p>\n");

  g_assert_cmpstr (quoted->preview, ==, "My answer is yes.");
  g_assert_cmpstr (all_quoted->preview, ==, "> only a quotation");
  g_assert_cmpstr (padded->preview, ==, "Real start");

  /* Cut after 200 characters, not bytes. */
  for (guint i = 0; i < 150; i++)
    g_string_append (long_body, "é ");
  long_summary = parse_string (long_body->str);
  assert_sane (long_summary);
  g_assert_cmpint (g_utf8_strlen (long_summary->preview, -1), ==, MAILER_MIME_PREVIEW_CHARS - 1);
  g_assert_true (g_str_has_suffix (long_summary->preview, "é é"));
}

static void
test_html_only (void)
{
  g_autoptr(MailerMimeSummary) summary = parse_string (
    "From: News <news@example.org>\n"
    "Subject: Newsletter\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/html; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "<html><head><title>Newsletter title</title>\n"
    "<style>p { color: red; }</style></head>\n"
    "<body><script>alert('x')</script>\n"
    "<h1>Caf=E9 &amp; cr&egrave;me</h1><p>First&nbsp;paragraph,\n"
    "   on two lines.</p><p>Second<br>line</p>\n"
    "<ul><li>one</li><li>two</li></ul></body></html>\n");

  assert_sane (summary);
  g_assert_cmpstr (summary->body_text, ==,
                   "Café & crème\n"
                   "\n"
                   "First paragraph, on two lines.\n"
                   "\n"
                   "Second\n"
                   "line\n"
                   "\n"
                   "one\n"
                   "two");
  g_assert_cmpstr (summary->preview, ==,
                   "Café & crème First paragraph, on two lines. Second line one two");
}

static void
assert_html (const char *html,
             const char *expected)
{
  g_autofree char *text = mailer_mime_html_to_text (html, -1);

  g_assert_cmpstr (text, ==, expected);
}

static void
test_html_to_text (void)
{
  g_autofree char *with_nul = NULL;

  /* Entities: named, decimal, hexadecimal, windows-1252 numbers, unknown. */
  assert_html ("a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&apos;", "a & b <c> \"d\" 'e'");
  assert_html ("&eacute;&#233;&#xE9;&#XE9; &Eacute; &euro; &copy; &mdash; &hellip;",
               "éééé É € © — …");
  assert_html ("&#146;&#150;&#0;&#xD800;&#1114112;", "’–\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  assert_html ("&bogus; & &; &#; AT&T &amp", "&bogus; & &; &#; AT&T &");
  assert_html ("&lt;b&gt;not a tag&lt;/b&gt;", "<b>not a tag</b>");

  /* What is never shown. */
  assert_html ("<script>var a = '<p>';</script>Hello<script type=x>b()</SCRIPT>", "Hello");
  assert_html ("<style>p { x: '</p>' }</style>Hi", "Hi");
  assert_html ("<head><title>T</title><meta charset=utf-8><style>a{}</style></head>"
               "<body>Body</body>", "Body");
  assert_html ("<!-- hidden -->shown<!--[if mso]><p>mso</p><![endif]-->", "shown");
  assert_html ("before<script>never closed", "before");

  /* Line breaks. */
  assert_html ("one<br>two<BR/>three<br />four", "one\ntwo\nthree\nfour");
  assert_html ("<p>para1</p><p>para2</p>", "para1\n\npara2");
  assert_html ("<div>a</div><div>b</div><div><br></div><div>c</div>", "a\nb\n\nc");
  assert_html ("<ul><li>a</li><li>b</li></ul>after", "a\nb\n\nafter");
  assert_html ("<table><tr><td>1</td><td>2</td></tr><tr><th>3</th></tr></table>", "1 2\n3");
  assert_html ("<pre>a\n  b</pre>c  d", "a\n  b\n\nc d");

  /* White space. */
  assert_html ("  lots \n\t of   space  ", "lots of space");
  assert_html ("a&nbsp;&nbsp;b", "a b");

  /* Broken markup. */
  assert_html ("a < b and c<d", "a < b and c");
  assert_html ("<a title=\"x>y\" href='z'>link</a>", "link");
  assert_html ("<a title=\"unclosed>text<b>bold</b>", "textbold");
  assert_html ("text<", "text<");
  assert_html ("", "");

  /* Invalid UTF-8 and NUL bytes never reach the output. */
  assert_html ("caf\xE9 ok", "caf\xEF\xBF\xBD ok");
  with_nul = mailer_mime_html_to_text ("a\0b", 3);
  g_assert_cmpstr (with_nul, ==, "a b");
}

/* ------------------------------------------------------------------ */
/* Robustness                                                          */
/* ------------------------------------------------------------------ */

static void
test_not_a_message (void)
{
  const char *inputs[] = { "", "\n\n  \r\n", "From nobody Mon Jan  1 00:00:00 2024\n" };

  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(GBytes) bytes = g_bytes_new_static (inputs[i], strlen (inputs[i]));
      g_autoptr(GError) error = NULL;
      g_autoptr(MailerMimeSummary) summary = mailer_mime_parse (bytes, &error);

      g_assert_null (summary);
      g_assert_nonnull (error);
    }
}

static void
test_no_header_section (void)
{
  g_autoptr(MailerMimeSummary) summary = parse_string ("Just a note, no headers at all.\n"
                                                       "Second line.\n");

  assert_sane (summary);
  g_assert_cmpstr (summary->subject, ==, "");
  g_assert_cmpstr (summary->preview, ==, "Just a note, no headers at all. Second line.");
}

static void
test_missing_headers (void)
{
  g_autoptr(MailerMimeSummary) summary = parse_string ("X-Nothing: here\n\nJust a body.\n");

  assert_sane (summary);
  g_assert_null (summary->message_id);
  g_assert_null (summary->in_reply_to);
  g_assert_cmpuint (g_strv_length (summary->references), ==, 0);
  g_assert_cmpstr (summary->subject, ==, "");
  g_assert_null (summary->from_name);
  g_assert_null (summary->from_address);
  g_assert_cmpstr (summary->to, ==, "");
  g_assert_cmpint (summary->date, ==, 0);
  g_assert_cmpstr (summary->preview, ==, "Just a body.");
}

static void
test_odd_headers (void)
{
  g_autoptr(GString) huge = g_string_new ("From nobody Mon Jan  1 00:00:00 2024\n"
                                          "From: Mail Delivery System\n"
                                          "Date: the day after tomorrow\n"
                                          "Subject: \xFF\xFE invalid \xC3 bytes ");
  g_autoptr(MailerMimeSummary) summary = NULL;

  for (guint i = 0; i < 20000; i++)
    g_string_append (huge, "word ");
  g_string_append (huge, "\nTo: undisclosed-recipients:;\n\nbody\n");
  summary = parse_string (huge->str);

  assert_sane (summary);
  g_assert_true (g_str_has_prefix (summary->subject, "ÿþ invalid"));
  g_assert_cmpint (g_utf8_strlen (summary->subject, -1), <=, MAILER_MIME_SUBJECT_MAX_CHARS);
  g_assert_cmpstr (summary->from_name, ==, "Mail Delivery System");
  g_assert_null (summary->from_address);
  g_assert_cmpint (summary->date, ==, 0);
  g_assert_cmpstr (summary->preview, ==, "body");
}

static void
test_nul_bytes (void)
{
  static const char message[] = "From: a@example.org\nSubject: n\0ul\n\nbefore\0after\n\0\0\n";
  g_autoptr(MailerMimeSummary) summary = parse_bytes (message, sizeof message - 1);

  assert_sane (summary);
  g_assert_cmpstr (summary->preview, ==, "before after");
}

static void
test_broken_multipart (void)
{
  g_autoptr(MailerMimeSummary) no_end = parse_string (
    "From: a@example.org\n"
    "Content-Type: multipart/mixed; boundary=b\n"
    "\n"
    "--b\n"
    "Content-Type: text/plain\n"
    "\n"
    "The end boundary never comes.\n"
    "--b\n"
    "Content-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "!!!not base64***\n");
  g_autoptr(MailerMimeSummary) no_boundary = parse_string (
    "From: a@example.org\n"
    "Content-Type: multipart/alternative\n"
    "\n"
    "Text of a multipart without a boundary.\n");

  assert_sane (no_end);
  g_assert_cmpstr (no_end->preview, ==, "The end boundary never comes.");
  g_assert_cmpuint (no_end->attachments->len, ==, 1);
  assert_sane (no_boundary);
}

static char *
nested_message (guint depth)
{
  GString *message = g_string_new ("From: a@example.org\nSubject: deep\n");

  for (guint i = 0; i < depth; i++)
    g_string_append_printf (message, "Content-Type: multipart/mixed; boundary=\"b%u\"\n\n--b%u\n",
                            i, i);
  g_string_append (message, "Content-Type: text/plain\n\nDeep text.\n");
  for (guint i = depth; i > 0; i--)
    g_string_append_printf (message, "--b%u--\n", i - 1);
  return g_string_free (message, FALSE);
}

static void
test_deep_nesting (void)
{
  g_autofree char *shallow = nested_message (20);
  g_autofree char *deep = nested_message (40);
  g_autofree char *hostile = nested_message (2000);
  g_autoptr(MailerMimeSummary) shallow_summary = parse_string (shallow);
  g_autoptr(MailerMimeSummary) deep_summary = parse_string (deep);
  g_autoptr(MailerMimeSummary) hostile_summary = parse_string (hostile);

  assert_sane (shallow_summary);
  g_assert_cmpstr (shallow_summary->preview, ==, "Deep text.");
  /* Parts more than 32 levels down are parsed, but not looked into. */
  assert_sane (deep_summary);
  g_assert_cmpstr (deep_summary->subject, ==, "deep");
  g_assert_cmpstr (deep_summary->preview, ==, "");
  assert_sane (hostile_summary);
  g_assert_cmpstr (hostile_summary->subject, ==, "deep");
}

static void
test_binary_garbage (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (2047);

  for (guint round = 0; round < 200; round++)
    {
      gsize len = g_rand_int_range (rand, 1, 4096);
      g_autofree guchar *data = g_malloc (len);
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(MailerMimeSummary) summary = NULL;

      for (gsize i = 0; i < len; i++)
        data[i] = g_rand_int_range (rand, 0, 256);
      /* Half the rounds start like a header section, half are all body. */
      if (round % 2 == 0 && len > 40)
        memcpy (data, "Subject: =?UTF-8?B?w6k=?=\nContent-Type: ", 40);

      bytes = g_bytes_new (data, len);
      summary = mailer_mime_parse (bytes, NULL);
      g_assert_nonnull (summary);
      assert_sane (summary);
    }
}

/* What Save and Open write: the part's decoded bytes, by its number. */
static void
test_attachment_content (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "attachment.eml", NULL);
  g_autoptr(GBytes) raw = NULL;
  g_autoptr(GBytes) png = NULL;
  g_autoptr(GBytes) text = NULL;
  g_autoptr(GError) error = NULL;
  char *data;
  gsize len;

  g_file_get_contents (path, &data, &len, &error);
  g_assert_no_error (error);
  raw = g_bytes_new_take (data, len);

  png = mailer_mime_get_part_by_path (raw, "2");
  g_assert_nonnull (png);
  g_assert_cmpuint (g_bytes_get_size (png), ==, 1404);
  g_assert_cmpmem (g_bytes_get_data (png, NULL), 8, "\x89PNG\r\n\x1a\n", 8);
  text = mailer_mime_get_part_by_path (raw, "1");
  g_assert_nonnull (text);
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (text, NULL), g_bytes_get_size (text), "64x64 version"));
  g_assert_null (mailer_mime_get_part_by_path (raw, "3"));
  g_assert_null (mailer_mime_get_part_by_path (raw, "2.1.7"));
  g_assert_null (mailer_mime_get_part_by_path (raw, "x"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/mime/data/plain", test_plain);
  g_test_add_func ("/mime/data/alternative", test_alternative);
  g_test_add_func ("/mime/data/attachment", test_attachment);
  g_test_add_func ("/mime/data/attachment-content", test_attachment_content);
  g_test_add_func ("/mime/data/rfc2047-subject", test_rfc2047_subject);
  g_test_add_func ("/mime/data/rfc2047-japanese", test_rfc2047_japanese);
  g_test_add_func ("/mime/data/rfc2047-split-words", test_rfc2047_split_words);
  g_test_add_func ("/mime/data/latin1-body", test_latin1_body);
  g_test_add_func ("/mime/data/thread", test_thread);
  g_test_add_func ("/mime/data/all-covered", test_all_covered);
  g_test_add_func ("/mime/rfc2047-split-words", test_rfc2047_split_words_more);
  g_test_add_func ("/mime/charsets", test_charsets);
  g_test_add_func ("/mime/attachment-rule", test_attachment_rule);
  g_test_add_func ("/mime/crypto-envelopes", test_crypto_envelopes);
  g_test_add_func ("/mime/forward-only", test_forward_only);
  g_test_add_func ("/mime/preview", test_preview);
  g_test_add_func ("/mime/html-only", test_html_only);
  g_test_add_func ("/mime/html-to-text", test_html_to_text);
  g_test_add_func ("/mime/robust/not-a-message", test_not_a_message);
  g_test_add_func ("/mime/robust/no-header-section", test_no_header_section);
  g_test_add_func ("/mime/robust/missing-headers", test_missing_headers);
  g_test_add_func ("/mime/robust/odd-headers", test_odd_headers);
  g_test_add_func ("/mime/robust/nul-bytes", test_nul_bytes);
  g_test_add_func ("/mime/robust/broken-multipart", test_broken_multipart);
  g_test_add_func ("/mime/robust/deep-nesting", test_deep_nesting);
  g_test_add_func ("/mime/robust/binary-garbage", test_binary_garbage);

  return g_test_run ();
}
