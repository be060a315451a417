#include <string.h>

#include "zone_table.h"

int qk__zones_find(const qk_zone_table *zt, const char *name)
{
    const uint32_t n = qk__zones_published(zt);
    for (uint32_t i = 0; i < n; i++)
        if (strncmp(zt->zone[i].name, name, QK__TZ_NAME_MAX) == 0)
            return (int)i;
    return -1;
}
