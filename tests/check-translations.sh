#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Fails when a translation in po/LINGUAS misses or fuzzes a string that the
# sources (po/POTFILES.in) contain.  Prints TAP, one test per language.
set -eu
top=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The same keywords as meson's i18n "glib" preset.
xgettext --from-code=UTF-8 --add-comments --keyword=_ --keyword=N_ \
  --keyword=C_:1c,2 --keyword=NC_:1c,2 --keyword=g_dcgettext:2 \
  --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
  --flag=N_:1:pass-c-format --flag=C_:2:pass-c-format --flag=NC_:2:pass-c-format \
  --flag=g_dngettext:2:pass-c-format --flag=g_strdup_printf:1:c-format \
  --flag=g_string_printf:2:c-format --flag=g_string_append_printf:2:c-format \
  --flag=g_error_new:3:c-format --flag=g_set_error:4:c-format \
  --flag=g_markup_printf_escaped:1:c-format --flag=g_log:3:c-format \
  --flag=g_print:1:c-format --flag=g_printerr:1:c-format --flag=g_printf:1:c-format \
  --flag=g_fprintf:2:c-format --flag=g_sprintf:2:c-format --flag=g_snprintf:3:c-format \
  -D "$top" -f "$top/po/POTFILES.in" -o "$work/mailer.pot"

total=$(grep -c '^msgid ' "$work/mailer.pot")
langs=$(grep -v '^#' "$top/po/LINGUAS" | tr -s ' \n' '  ')
count=0
for lang in $langs; do count=$((count + 1)); done
echo "1..$count"
n=0
status=0
for lang in $langs; do
  n=$((n + 1))
  msgmerge --quiet --no-fuzzy-matching "$top/po/$lang.po" "$work/mailer.pot" -o "$work/$lang.po"
  stats=$(LC_ALL=C msgfmt --check --statistics -o /dev/null "$work/$lang.po" 2>&1)
  if echo "$stats" | grep -Eq 'fuzzy|untranslated'; then
    echo "not ok $n - $lang: $stats (of $((total - 1)) strings)"
    LC_ALL=C msgattrib --untranslated --only-fuzzy "$work/$lang.po" 2>/dev/null | sed 's/^/# /' || true
    LC_ALL=C msgattrib --untranslated "$work/$lang.po" | grep '^msgid' | sed 's/^/# /'
    status=1
  else
    echo "ok $n - $lang: $stats"
  fi
done
exit $status
