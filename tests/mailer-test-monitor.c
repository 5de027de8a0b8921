/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A GNetworkMonitor that tests turn on and off: offline, it reaches
 * nothing.
 */
#include "config.h"

#include "mailer-test-monitor.h"

struct _MailerTestMonitor
{
  GObject parent_instance;
  gboolean available;
};

enum {
  MONITOR_PROP_0,
  MONITOR_PROP_AVAILABLE,
  MONITOR_PROP_METERED,
  MONITOR_PROP_CONNECTIVITY,
};

static void mailer_test_monitor_iface_init (GNetworkMonitorInterface *iface);
static void mailer_test_monitor_initable_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MailerTestMonitor, mailer_test_monitor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mailer_test_monitor_initable_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_NETWORK_MONITOR, mailer_test_monitor_iface_init))

static gboolean
mailer_test_monitor_initable_init_func (GInitable     *initable,
                                        GCancellable  *cancellable,
                                        GError       **error)
{
  return TRUE;
}

static void
mailer_test_monitor_initable_init (GInitableIface *iface)
{
  iface->init = mailer_test_monitor_initable_init_func;
}

static void
mailer_test_monitor_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  MailerTestMonitor *self = MAILER_TEST_MONITOR (object);

  switch (prop_id)
    {
    case MONITOR_PROP_AVAILABLE:
      g_value_set_boolean (value, self->available);
      break;
    case MONITOR_PROP_METERED:
      g_value_set_boolean (value, FALSE);
      break;
    case MONITOR_PROP_CONNECTIVITY:
      g_value_set_enum (value, self->available ? G_NETWORK_CONNECTIVITY_FULL : G_NETWORK_CONNECTIVITY_LOCAL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mailer_test_monitor_class_init (MailerTestMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = mailer_test_monitor_get_property;
  g_object_class_override_property (object_class, MONITOR_PROP_AVAILABLE, "network-available");
  g_object_class_override_property (object_class, MONITOR_PROP_METERED, "network-metered");
  g_object_class_override_property (object_class, MONITOR_PROP_CONNECTIVITY, "connectivity");
}

static void
mailer_test_monitor_init (MailerTestMonitor *self)
{
  self->available = TRUE;
}

static void
mailer_test_monitor_can_reach_async (GNetworkMonitor     *monitor,
                                     GSocketConnectable  *connectable,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (monitor, cancellable, callback, user_data);

  if (MAILER_TEST_MONITOR (monitor)->available)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE, "Network unreachable");
}

static gboolean
mailer_test_monitor_can_reach_finish (GNetworkMonitor  *monitor,
                                      GAsyncResult     *result,
                                      GError          **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
mailer_test_monitor_iface_init (GNetworkMonitorInterface *iface)
{
  iface->can_reach_async = mailer_test_monitor_can_reach_async;
  iface->can_reach_finish = mailer_test_monitor_can_reach_finish;
}

void
mailer_test_monitor_set_available (MailerTestMonitor *self,
                                   gboolean     available)
{
  self->available = available;
  g_object_notify (G_OBJECT (self), "network-available");
  g_signal_emit_by_name (self, "network-changed", available);
}


MailerTestMonitor *
mailer_test_monitor_new (void)
{
  return g_object_new (MAILER_TYPE_TEST_MONITOR, NULL);
}
