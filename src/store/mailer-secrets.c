/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Account passwords, kept only in the system keyring (Secret Service via
 * libsecret).  They are never written to the database, settings or logs;
 * callers wipe them with mailer_secrets_free_password() after use.
 */
#include "config.h"

#include <libsecret/secret.h>

#include "mailer-model-enums.h"
#include "mailer-secrets.h"

static const SecretSchema *
get_schema (void)
{
  /* "account" (the account's UUID) identifies the secret; the other
   * attributes tell the user in a keyring manager what it is for. */
  static const SecretSchema schema = {
    "org.example.Mailer.Account", SECRET_SCHEMA_NONE,
    {
      { "account", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "protocol", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "server", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "user", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    }
  };

  return &schema;
}

static void
store_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!secret_password_store_finish (result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
mailer_secrets_store_password_async (MailerAccount       *account,
                                     const char          *password,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *label = NULL;
  const char *who;

  g_return_if_fail (MAILER_IS_ACCOUNT (account));
  g_return_if_fail (password != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_secrets_store_password_async);

  who = mailer_account_get_address (account);
  if (who == NULL || *who == '\0')
    who = mailer_account_get_username (account);
  /* Translators would see this in a keyring manager; kept untranslated so
   * it is stable across locale changes. */
  label = g_strdup_printf ("Mailer password for %s on %s", who ? who : "",
                           mailer_account_get_host (account));

  secret_password_store (get_schema (), SECRET_COLLECTION_DEFAULT, label, password,
                         cancellable, store_cb, g_steal_pointer (&task),
                         "account", mailer_account_get_uuid (account),
                         "protocol", mailer_account_kind_to_string (mailer_account_get_kind (account)),
                         "server", mailer_account_get_host (account) ? mailer_account_get_host (account) : "",
                         "user", mailer_account_get_username (account) ? mailer_account_get_username (account) : "",
                         NULL);
}

gboolean
mailer_secrets_store_password_finish (GAsyncResult  *result,
                                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
lookup_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  char *password;

  password = secret_password_lookup_finish (result, &error);
  if (error != NULL)
    g_task_return_error (task, error);
  else if (password == NULL)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                             "No password is saved for this account");
  else
    g_task_return_pointer (task, password, (GDestroyNotify) secret_password_free);
}

void
mailer_secrets_lookup_password_async (MailerAccount       *account,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MAILER_IS_ACCOUNT (account));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_secrets_lookup_password_async);

  secret_password_lookup (get_schema (), cancellable, lookup_cb, g_steal_pointer (&task),
                          "account", mailer_account_get_uuid (account),
                          NULL);
}

/**
 * mailer_secrets_lookup_password_finish:
 *
 * Returns: (transfer full): the password, to be released with
 *   mailer_secrets_free_password(); %G_IO_ERROR_NOT_FOUND when none is saved.
 */
char *
mailer_secrets_lookup_password_finish (GAsyncResult  *result,
                                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
clear_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  /* FALSE without an error means there was nothing to remove: fine. */
  secret_password_clear_finish (result, &error);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
mailer_secrets_clear_password_async (MailerAccount       *account,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MAILER_IS_ACCOUNT (account));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_secrets_clear_password_async);

  secret_password_clear (get_schema (), cancellable, clear_cb, g_steal_pointer (&task),
                         "account", mailer_account_get_uuid (account),
                         NULL);
}

gboolean
mailer_secrets_clear_password_finish (GAsyncResult  *result,
                                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
mailer_secrets_free_password (char *password)
{
  secret_password_free (password);
}
