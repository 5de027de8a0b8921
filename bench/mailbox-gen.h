/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mailbox-gen.h: a deterministic generator of realistic mail for benchmarks */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * MailerBenchMailboxStats:
 * @n_messages: messages generated so far
 * @bytes: their total size, in bytes (LF line ends)
 * @n_replies: messages with In-Reply-To and References
 * @n_alternative: multipart/alternative (plain and HTML) bodies
 * @n_attachments: messages with a base64 attachment
 * @n_encoded_subjects: subjects with RFC 2047 encoded words
 */
typedef struct
{
  guint n_messages;
  guint64 bytes;
  guint n_replies;
  guint n_alternative;
  guint n_attachments;
  guint n_encoded_subjects;
} MailerBenchMailboxStats;

typedef struct _MailerBenchMailbox MailerBenchMailbox;

#define MAILER_BENCH_MAILBOX_DEFAULT_SEED 20240601

MailerBenchMailbox *mailer_bench_mailbox_new        (guint                     n_messages,
                                                     guint64                   seed);
void                mailer_bench_mailbox_free       (MailerBenchMailbox       *self);
GBytes             *mailer_bench_mailbox_next       (MailerBenchMailbox       *self);
const MailerBenchMailboxStats *
                    mailer_bench_mailbox_get_stats  (MailerBenchMailbox       *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailerBenchMailbox, mailer_bench_mailbox_free)

G_END_DECLS
