# weir - one non-recursive Makefile. `make help` lists the targets.
# Feature switches (WITH_X=0) arrive with the backends that need them.

PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
FUZZ_CC  ?= clang
PKGS     := libpcap libmicrohttpd libcurl zlib jansson sqlite3 libmariadb libpq
BUILD    := build

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lpcap)

WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wcast-qual -Wvla -Wno-unused-parameter -Werror
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Isrc
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -pthread $(WARN) $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -pthread -lm

SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Every .c under src/ belongs to the library but main.c; new modules need no Makefile edit.
LIB_SRC  := $(sort $(filter-out src/main.c,$(wildcard src/*/*.c)))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

REL_OBJ  := $(LIB_SRC:%.c=$(BUILD)/rel/%.o)
ASAN_OBJ := $(LIB_SRC:%.c=$(BUILD)/asan/%.o)
FUZZ_OBJ := $(LIB_SRC:%.c=$(BUILD)/fuzz/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/asan/tests/%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all run test unit asan fuzz fuzz-short bench install docs format format-check clean deps help

all: $(BUILD)/weir

help:
	@echo "make            build $(BUILD)/weir"
	@echo "make run        install missing packages, build, run the collector (embedded default)"
	@echo "make test       install missing packages, build with ASan+UBSan, run every test"
	@echo "make asan       build $(BUILD)/asan/weir with ASan+UBSan"
	@echo "make fuzz       run every libFuzzer target for FUZZ_SECONDS (default 60)"
	@echo "make bench      weir beside nfacctd/nfcapd: medians and ratios"
	@echo "make docs       regenerate docs/configuration.md from the key tables"
	@echo "make install    install to \$$(DESTDIR)\$$(PREFIX)"

# --- release build ---
$(BUILD)/rel/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libweir.a: $(REL_OBJ)
	ar rcs $@ $^

$(BUILD)/weir: $(BUILD)/rel/src/main.o $(BUILD)/libweir.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# --- sanitizer build (tests run against it) ---
$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -O1 $(SAN) -MMD -MP -c $< -o $@

$(BUILD)/asan/libweir.a: $(ASAN_OBJ)
	ar rcs $@ $^

$(BUILD)/asan/weir: $(BUILD)/asan/src/main.o $(BUILD)/asan/libweir.a
	$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LDLIBS)

asan: $(BUILD)/asan/weir

$(BUILD)/asan/tests/%: tests/unit/%.c $(BUILD)/asan/libweir.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) -O1 $(SAN) -Wno-missing-prototypes -o $@ $< \
		$(BUILD)/asan/libweir.a $(LDLIBS) -lcmocka

unit: $(UNIT_BIN)
	@scripts/run-unit.sh $(UNIT_BIN)

# --- fuzzing (clang libFuzzer) ---
$(BUILD)/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(CFLAGS) -O1 -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(BUILD)/fuzz/libweir.a: $(FUZZ_OBJ)
	ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/fuzz/libweir.a
	$(FUZZ_CC) $(CPPFLAGS) $(CFLAGS) -O1 -Wno-missing-prototypes \
		-fsanitize=fuzzer,address,undefined -o $@ $< $(BUILD)/fuzz/libweir.a $(LDLIBS)

FUZZ_SECONDS ?= 60
fuzz: $(FUZZ_BIN)
	@scripts/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

fuzz-short: $(FUZZ_BIN)
	@scripts/run-fuzz.sh 10 $(FUZZ_BIN)

# --- the two commands ---
deps:
	@scripts/deps.sh build

run:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory all
	./$(BUILD)/weir collect $(ARGS)

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all asan $(UNIT_BIN) $(FUZZ_BIN)
	@scripts/test.sh

# bench programs link the release library; bench/run.sh drives them (knobs: BENCH_RATES, ...)
BENCH_BIN := $(BUILD)/bench/decode_bench $(BUILD)/bench/udp_sink

$(BUILD)/bench/%: bench/%.c $(BUILD)/libweir.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libweir.a $(LDLIBS)

bench:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@BUILD=$(BUILD) bench/run.sh

docs: $(BUILD)/weir
	./$(BUILD)/weir config --reference > docs/configuration.md

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

install: $(BUILD)/weir
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/weir
	install -m 0755 $(BUILD)/weir $(DESTDIR)$(PREFIX)/bin/weir
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/weir/

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
