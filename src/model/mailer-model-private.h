/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Helpers shared by the model's .c files.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Replaces *dest with a copy of @value; TRUE when it changed (so the caller
 * notifies only on change).  GLib 2.76 has g_set_str(); we target 2.74. */
static inline gboolean
_mailer_set_string (char       **dest,
                    const char  *value)
{
  if (g_strcmp0 (*dest, value) == 0)
    return FALSE;
  g_free (*dest);
  *dest = g_strdup (value);
  return TRUE;
}

G_END_DECLS
