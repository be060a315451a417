/* What a loaded configuration answers, and freeing it. */
#include <stdlib.h>

#include "config_impl.h"

const qk_options *qk_config_options(const qk_config *cfg)
{
    return cfg != NULL ? &cfg->options : NULL;
}

const char *qk_config_path(const qk_config *cfg)
{
    return cfg != NULL ? cfg->path : NULL;
}

unsigned qk_config_service_line(const qk_config *cfg, size_t i)
{
    return cfg != NULL && i < cfg->n_services ? cfg->services[i].line : 0;
}

void qk_config_free(qk_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->defs);
    free(cfg->services);
    free(cfg->state);
    free(cfg->store);
    free(cfg->path);
    free(cfg);
}
