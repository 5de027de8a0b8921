/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Building IMAP commands: each argument is written by its type (atom,
 * number, string as quoted or literal, mailbox name in modified UTF-7,
 * sequence set, trusted syntax), and nothing a caller passes can end the
 * command early: CR, LF and NUL are refused where they cannot go.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MailerImapCommand MailerImapCommand;

MailerImapCommand *mailer_imap_command_new          (const char          *name);
void               mailer_imap_command_free         (MailerImapCommand   *command);
const char        *mailer_imap_command_get_name     (MailerImapCommand   *command);
gboolean           mailer_imap_command_add_atom     (MailerImapCommand   *command,
                                                     const char          *atom,
                                                     GError             **error);
void               mailer_imap_command_add_number   (MailerImapCommand   *command,
                                                     guint64              number);
gboolean           mailer_imap_command_add_string   (MailerImapCommand   *command,
                                                     const char          *string,
                                                     GError             **error);
gboolean           mailer_imap_command_add_mailbox  (MailerImapCommand   *command,
                                                     const char          *utf8_name,
                                                     gboolean             utf8_accepted,
                                                     GError             **error);
/* Message data for APPEND: always a literal, may hold CR LF. */
void               mailer_imap_command_add_literal  (MailerImapCommand   *command,
                                                     GBytes              *data);
/* Syntax the caller writes itself ("(UID FLAGS)", "1:*"); checked for
 * line breaks and NUL. */
gboolean           mailer_imap_command_add_raw      (MailerImapCommand   *command,
                                                     const char          *text,
                                                     GError             **error);
/* Marks the command as one whose text must never be logged. */
void               mailer_imap_command_set_secret   (MailerImapCommand   *command);
gboolean           mailer_imap_command_is_secret    (MailerImapCommand   *command);

/* The bytes to send, split where the server must say "+" before the rest
 * (synchronizing literals); with @literal_plus there is one part. */
GPtrArray         *mailer_imap_command_serialize    (MailerImapCommand   *command,
                                                     const char          *tag,
                                                     gboolean             literal_plus);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailerImapCommand, mailer_imap_command_free)

G_END_DECLS
