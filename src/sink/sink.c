/* sink.c - the table of sinks: one line per backend, looked up by the plugin type name. */
#include <string.h>

#include "weir/sink.h"

/* Each backend lives in its own file under src/sink/. */
extern const struct sink_ops sink_print;
extern const struct sink_ops sink_sqlite3;
extern const struct sink_ops sink_mysql;
extern const struct sink_ops sink_pgsql;
extern const struct sink_ops sink_prometheus;
extern const struct sink_ops sink_influxdb;

/* One line per backend. */
/* clang-format off */
const struct sink_ops *const sink_table[] = {
    &sink_print,
    &sink_sqlite3,
    &sink_mysql,
    &sink_pgsql,
    &sink_prometheus,
    &sink_influxdb,
    NULL,
};
/* clang-format on */

const struct sink_ops *sink_find(const char *name)
{
	for (size_t i = 0; sink_table[i]; i++)
		if (!strcmp(sink_table[i]->name, name))
			return sink_table[i];
	return NULL;
}
