/* sink.c - the table of sinks: one line per backend, looked up by the plugin type name. */
#include <string.h>

#include "weir/sink.h"

/* Each backend lives in its own file under src/sink/. */
extern const struct sink_ops sink_print;

const struct sink_ops *const sink_table[] = {
    &sink_print,
    NULL,
};

const struct sink_ops *sink_find(const char *name)
{
	for (size_t i = 0; sink_table[i]; i++)
		if (!strcmp(sink_table[i]->name, name))
			return sink_table[i];
	return NULL;
}
