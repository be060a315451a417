#!/usr/bin/env bash
# The store calls only down (issue 20): no object of src/store/ references a symbol that an
# object of the tracker layer (src/tracker*.c) defines. The store reaches its owner only through
# the callback it was given at attach (qk__store_ctx.deliver), which nm cannot see and need not.
#
#   check-layers.sh OBJECT...     every object of the library (CMake's $<TARGET_OBJECTS:...>)
set -euo pipefail
# ctest passes the generator expression's list as one argument, joined by ';'.
IFS=';' read -r -a objects <<<"$(IFS=';'; echo "$*")"
store=() tracker=()
for o in "${objects[@]}"; do
  case "$o" in
    */src/store/*) store+=("$o") ;;
    */src/tracker*) tracker+=("$o") ;;
  esac
done
if [ "${#store[@]}" -eq 0 ] || [ "${#tracker[@]}" -eq 0 ]; then
  echo "check-layers: no store or no tracker objects among the arguments" >&2
  exit 2
fi
defined=$(nm --defined-only "${tracker[@]}" | awk 'NF == 3 && $2 ~ /[TDBR]/ {print $3}' | sort -u)
bad=0
for o in "${store[@]}"; do
  up=$(comm -12 <(nm -u "$o" | awk '{print $2}' | sort -u) <(printf '%s\n' "$defined"))
  if [ -n "$up" ]; then
    echo "check-layers: $(basename "$o") calls up into the tracker: $(echo $up)" >&2
    bad=1
  fi
done
[ "$bad" -eq 0 ] && echo "check-layers: ${#store[@]} store objects, none calls a function of the ${#tracker[@]} tracker objects"
exit "$bad"
