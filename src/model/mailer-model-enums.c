/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Stable string forms of the model enumerations, as stored in the database
 * and accepted on the command line.
 */
#include "mailer-model-enums.h"

static const char * const kind_names[] = { "imap", "pop3" };
static const char * const security_names[] = { "tls", "starttls", "none" };

const char *
mailer_account_kind_to_string (MailerAccountKind kind)
{
  g_return_val_if_fail (kind < G_N_ELEMENTS (kind_names), NULL);
  return kind_names[kind];
}

gboolean
mailer_account_kind_from_string (const char        *str,
                                 MailerAccountKind *kind)
{
  g_return_val_if_fail (kind != NULL, FALSE);

  for (guint i = 0; str != NULL && i < G_N_ELEMENTS (kind_names); i++)
    {
      if (g_ascii_strcasecmp (str, kind_names[i]) == 0)
        {
          *kind = i;
          return TRUE;
        }
    }
  return FALSE;
}

const char *
mailer_security_to_string (MailerSecurity security)
{
  g_return_val_if_fail (security < G_N_ELEMENTS (security_names), NULL);
  return security_names[security];
}

gboolean
mailer_security_from_string (const char     *str,
                             MailerSecurity *security)
{
  g_return_val_if_fail (security != NULL, FALSE);

  for (guint i = 0; str != NULL && i < G_N_ELEMENTS (security_names); i++)
    {
      if (g_ascii_strcasecmp (str, security_names[i]) == 0)
        {
          *security = i;
          return TRUE;
        }
    }
  return FALSE;
}

/* The names the store's CHECK constraint allows. */
static const char * const role_names[] = {
  "none", "inbox", "sent", "drafts", "trash", "junk", "archive", "outbox",
};

const char *
mailer_folder_role_to_string (MailerFolderRole role)
{
  g_return_val_if_fail (role < G_N_ELEMENTS (role_names), NULL);
  return role_names[role];
}

gboolean
mailer_folder_role_from_string (const char       *str,
                                MailerFolderRole *role)
{
  g_return_val_if_fail (role != NULL, FALSE);

  for (guint i = 0; str != NULL && i < G_N_ELEMENTS (role_names); i++)
    {
      if (g_ascii_strcasecmp (str, role_names[i]) == 0)
        {
          *role = i;
          return TRUE;
        }
    }
  return FALSE;
}
