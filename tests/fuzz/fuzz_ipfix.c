/* fuzz_ipfix.c - libFuzzer target: arbitrary bytes as IPFIX datagrams, one persistent decode state.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_datagram(data, size, 10);
}
