/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MAILER_TYPE_TEST_MONITOR (mailer_test_monitor_get_type ())

G_DECLARE_FINAL_TYPE (MailerTestMonitor, mailer_test_monitor, MAILER, TEST_MONITOR, GObject)

MailerTestMonitor *mailer_test_monitor_new           (void);
void               mailer_test_monitor_set_available (MailerTestMonitor *self,
                                                      gboolean           available);

G_END_DECLS
