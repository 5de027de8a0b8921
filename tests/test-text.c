/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Unit: a plain-text body as the reader's label markup.
 */
#include "config.h"

#include <gtk/gtk.h>

#include "mailer-text.h"

/* Pango's markup, and <a> (which GtkLabel reads itself). */
static void
assert_valid_markup (const char *markup)
{
  g_autoptr(GRegex) links = g_regex_new ("</?a( href=\"[^\"]*\")?>", 0, 0, NULL);
  g_autofree char *without = g_regex_replace_literal (links, markup, -1, 0, "", 0, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (pango_parse_markup (without, -1, 0, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
test_escaped_and_links (void)
{
  g_autofree char *markup = mailer_text_to_markup ("a < b & c\nSee https://example.org/x?a=1&b=2.\n");

  assert_valid_markup (markup);
  g_assert_cmpstr (markup, ==,
                   "a &lt; b &amp; c\n"
                   "See <a href=\"https://example.org/x?a=1&amp;b=2\">https://example.org/x?a=1&amp;b=2</a>.\n");
}

static void
test_quotes_and_signature (void)
{
  g_autofree char *markup = mailer_text_to_markup ("Yes, Thursday.\r\n"
                                                   "\r\n"
                                                   "> Can we move it?\r\n"
                                                   " >> Earlier: <no>\r\n"
                                                   "Not quoted > here\r\n"
                                                   "-- \r\n"
                                                   "Sam");

  assert_valid_markup (markup);
  g_assert_cmpstr (markup, ==,
                   "Yes, Thursday.\n"
                   "\n"
                   "<span fgalpha=\"60%\">&gt; Can we move it?</span>\n"
                   "<span fgalpha=\"60%\"> &gt;&gt; Earlier: &lt;no&gt;</span>\n"
                   "Not quoted &gt; here\n"
                   "<span fgalpha=\"60%\">-- </span>\n"
                   "<span fgalpha=\"60%\">Sam</span>");
}

static void
test_empty (void)
{
  g_autofree char *markup = mailer_text_to_markup ("");

  g_assert_cmpstr (markup, ==, "");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/text/escaped-and-links", test_escaped_and_links);
  g_test_add_func ("/text/quotes-and-signature", test_quotes_and_signature);
  g_test_add_func ("/text/empty", test_empty);
  return g_test_run ();
}
