/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * mailer-mailbox-gen: writes the benchmarks' generated mailbox as .eml
 * files, to look at what the benchmarks download or to feed other tools.
 *
 *   mailer-mailbox-gen [--messages N] [--seed S] DIR
 */
#include "config.h"

#include <stdlib.h>

#include "mailbox-gen.h"

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("DIR");
  g_autoptr(MailerBenchMailbox) mailbox = NULL;
  g_autoptr(GError) error = NULL;
  const MailerBenchMailboxStats *stats;
  gint n_messages = 200;
  gint64 seed = MAILER_BENCH_MAILBOX_DEFAULT_SEED;
  GOptionEntry entries[] = {
    { "messages", 0, 0, G_OPTION_ARG_INT, &n_messages, "How many messages (default 200)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "The generator's seed", "S" },
    { NULL }
  };
  GBytes *message;
  guint i = 0;

  g_option_context_set_summary (context, "Writes the benchmarks' generated mailbox as DIR/NNNNNN.eml.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 2 || n_messages < 0)
    {
      g_printerr ("%s\n", error ? error->message : "Give one directory and a count of 0 or more");
      return 2;
    }
  if (g_mkdir_with_parents (argv[1], 0755) != 0)
    {
      g_printerr ("Cannot create %s\n", argv[1]);
      return 1;
    }

  mailbox = mailer_bench_mailbox_new (n_messages, seed);
  while ((message = mailer_bench_mailbox_next (mailbox)) != NULL)
    {
      g_autofree char *name = g_strdup_printf ("%06u.eml", ++i);
      g_autofree char *path = g_build_filename (argv[1], name, NULL);
      gsize size;
      const char *data = g_bytes_get_data (message, &size);

      if (!g_file_set_contents (path, data, size, &error))
        {
          g_printerr ("%s\n", error->message);
          g_bytes_unref (message);
          return 1;
        }
      g_bytes_unref (message);
    }

  stats = mailer_bench_mailbox_get_stats (mailbox);
  g_print ("%u messages, %" G_GUINT64_FORMAT " bytes (%.1f KB each), %u replies, %u HTML, "
           "%u with attachments, %u encoded subjects\n",
           stats->n_messages, stats->bytes, stats->n_messages ? stats->bytes / 1000.0 / stats->n_messages : 0.0,
           stats->n_replies, stats->n_alternative, stats->n_attachments, stats->n_encoded_subjects);
  return 0;
}
