/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Runs a fuzz target's LLVMFuzzerTestOneInput() over every file in the
 * directories given, without libFuzzer: one TAP result per file, so the
 * seed corpus is exercised by every ordinary build.  A file that makes the
 * target crash or abort takes the test down with it.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>

#include <glib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GDir) dir = g_dir_open (argv[i], 0, &error);
      const char *name;

      if (dir == NULL)
        {
          printf ("Bail out! %s\n", error->message);
          return 1;
        }
      while ((name = g_dir_read_name (dir)) != NULL)
        if (name[0] != '.')
          g_ptr_array_add (paths, g_build_filename (argv[i], name, NULL));
    }
  if (paths->len == 0)
    {
      printf ("Bail out! No seed files\n");
      return 1;
    }
  g_ptr_array_sort (paths, compare_paths);

  printf ("1..%u\n", paths->len);
  for (guint i = 0; i < paths->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *data = NULL;
      g_autofree char *base = g_path_get_basename (paths->pdata[i]);
      gsize len = 0;

      if (!g_file_get_contents (paths->pdata[i], &data, &len, &error))
        {
          printf ("not ok %u %s # %s\n", i + 1, base, error->message);
          continue;
        }
      fflush (stdout);
      LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
      printf ("ok %u %s (%" G_GSIZE_FORMAT " bytes)\n", i + 1, base, len);
    }
  return 0;
}
