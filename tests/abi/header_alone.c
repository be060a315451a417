/* The public header must compile alone, in strict ISO C11, with every warning an error. */
#include <quotakeeper.h>

int qk_header_alone_compiles(void);
int qk_header_alone_compiles(void)
{
    qk_options opts = QK_OPTIONS_INIT;
    return (int)opts.version;
}
