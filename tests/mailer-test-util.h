/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Small helpers shared by the tests: waiting for an async result on the
 * default main context.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

static inline void
mailer_test_store_result_cb (GObject      *source,
                             GAsyncResult *result,
                             gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

/* Iterates the default context until *result is set, then returns it
 * (transfer full).  Fails the test after @timeout_seconds. */
static inline GAsyncResult *
mailer_test_wait_result (GAsyncResult **result,
                         guint          timeout_seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_seconds * G_USEC_PER_SEC;

  while (*result == NULL)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out after %u s waiting for an async result", timeout_seconds);
      g_main_context_iteration (NULL, FALSE);
      if (*result == NULL)
        g_usleep (1000);
    }
  return g_steal_pointer (result);
}

G_END_DECLS
