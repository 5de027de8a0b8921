/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A plain-text body as label markup: escaped, its web addresses made links
 * (the label opens them in the browser), quoted lines ("> ...") and the
 * signature (after a "-- " line) in a fainter colour, so the new text of
 * a reply stands out.
 */
#include "config.h"

#include <string.h>

#include "mailer-text.h"

/* Lines quoted from the message replied to, and the signature: faint. */
#define FAINT "<span fgalpha=\"60%\">"

static void
append_with_links (GString    *markup,
                   const char *line)
{
  static gsize url_once = 0;
  static GRegex *url = NULL;
  g_autoptr(GMatchInfo) match = NULL;
  gsize done = 0;

  if (g_once_init_enter (&url_once))
    {
      url = g_regex_new ("\\bhttps?://[^\\s<>\"]+", G_REGEX_OPTIMIZE, 0, NULL);
      g_once_init_leave (&url_once, 1);
    }

  g_regex_match (url, line, 0, &match);
  while (g_match_info_matches (match))
    {
      int start, end;
      g_autofree char *before = NULL;
      g_autofree char *address = NULL;
      g_autofree char *escaped = NULL;

      g_match_info_fetch_pos (match, 0, &start, &end);
      /* Punctuation that ends a sentence is not part of the address. */
      while (end > start && strchr (".,;:!?)]'", line[end - 1]) != NULL)
        end--;
      before = g_markup_escape_text (line + done, start - done);
      address = g_strndup (line + start, end - start);
      escaped = g_markup_escape_text (address, -1);
      g_string_append (markup, before);
      g_string_append_printf (markup, "<a href=\"%s\">%s</a>", escaped, escaped);
      done = end;
      g_match_info_next (match, NULL);
    }
  {
    g_autofree char *rest = g_markup_escape_text (line + done, -1);

    g_string_append (markup, rest);
  }
}

static gboolean
is_quoted (const char *line)
{
  while (*line == ' ')
    line++;
  return *line == '>';
}

char *
mailer_text_to_markup (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text != NULL ? text : "", "\n", -1);
  GString *markup = g_string_new (NULL);
  gboolean signature = FALSE;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];
      gsize len = strlen (line);
      gboolean faint;

      if (len > 0 && line[len - 1] == '\r')
        lines[i][--len] = '\0';
      /* RFC 3676 4.3: "-- " alone on a line starts the signature. */
      if (g_str_equal (line, "-- "))
        signature = TRUE;
      faint = signature || is_quoted (line);

      if (i > 0)
        g_string_append_c (markup, '\n');
      if (faint)
        g_string_append (markup, FAINT);
      append_with_links (markup, line);
      if (faint)
        g_string_append (markup, "</span>");
    }
  return g_string_free (markup, FALSE);
}
