/* quotakeeper 0.1.0's generated version header, kept with its other headers so that
 * old_consumer.c is compiled exactly as a program built against 0.1.0 was. */
#ifndef QUOTAKEEPER_VERSION_H
#define QUOTAKEEPER_VERSION_H

#define QK_VERSION_MAJOR  0
#define QK_VERSION_MINOR  1
#define QK_VERSION_PATCH  0
#define QK_VERSION_STRING "0.1.0"

#endif
