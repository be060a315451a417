/* sharded-shared: quotakeeper with its state in a file that every process on the host maps. The
 * adapter is sharded's, compiled again with a state file. */
#define SHARDED_STATE_FILE
#include "strategy_sharded.c"
