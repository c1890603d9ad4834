# chatledger - top-level, non-recursive Makefile.
#
#   make              build build/chatledger
#   make check        build and run every test, then again under ASan+UBSan
#   make test         run the test suite once against $(O)
#   make demo         create ./demo-archive from the bundled sample, verify it
#   make bench        run the benchmarks in bench/
#   make fuzz         build the libFuzzer targets with clang (build-fuzz/)
#   make analyze      cppcheck + clang-tidy
#   make install      PREFIX=/usr/local DESTDIR=

O ?= build
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
PKGS = libsodium libzstd jansson sqlite3 libcrypto inih libarchive libmicrohttpd zlib libcurl \
       libwebsockets libprotobuf-c libqrencode libpng libsignal-protocol-c

WARN = -Wall -Wextra -Werror -Wpedantic -Wformat=2 -Wshadow -Wconversion \
       -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition -Wvla \
       -Wimplicit-fallthrough -Wnull-dereference -Wcast-qual -Wwrite-strings \
       -Wundef -fno-common
GCCWARN = $(shell $(CC) --version 2>/dev/null | grep -q gcc && \
	echo -Wduplicated-cond -Wduplicated-branches -Wlogical-op)

ifeq ($(SANITIZE),1)
OPT = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
      -fno-sanitize-recover=all -U_FORTIFY_SOURCE
LDSAN = -fsanitize=address,undefined
else
OPT = -O2 -g -D_FORTIFY_SOURCE=3 -fstack-protector-strong \
      -fstack-clash-protection -fcf-protection
LDSAN =
endif

CFLAGS_ALL = -std=c17 -D_GNU_SOURCE $(OPT) $(WARN) $(GCCWARN) -fPIE -pthread \
	-I. -I$(O)/gen $(shell pkg-config --cflags $(PKGS)) $(CFLAGS)
# protoc-c's generated code is built without our warning set.
CFLAGS_GEN = -std=c17 -D_GNU_SOURCE $(OPT) -fPIE -I$(O)/gen \
	$(shell pkg-config --cflags libprotobuf-c) $(CFLAGS)
LDFLAGS_ALL = -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack -pthread $(LDSAN) $(LDFLAGS)
LIBS = $(shell pkg-config --libs $(PKGS)) -lm

LIB_SRC = $(wildcard common/*.c archiver/*/*.c policy/*.c export/*.c)
CLI_SRC = $(wildcard cli/*.c)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
WA_TEST_SRC = $(wildcard tests/wa/test_*.c)
WA_FUZZ_SRC = $(wildcard tests/wa/fuzz_*.c)

PROTO = archiver/wa/proto/wa.proto
GEN_HDR = $(O)/gen/wa.pb-c.h
GEN_OBJ = $(O)/gen/wa.pb-c.o
LIB_OBJ = $(LIB_SRC:%.c=$(O)/obj/%.o) $(GEN_OBJ)
CLI_OBJ = $(CLI_SRC:%.c=$(O)/obj/%.o)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%) $(WA_TEST_SRC:tests/wa/%.c=$(O)/tests/%)
FUZZ_BIN = $(FUZZ_SRC:tests/fuzz/%.c=$(O)/fuzz/%) $(WA_FUZZ_SRC:tests/wa/%.c=$(O)/fuzz/%)

.PHONY: all check test bench demo fuzz analyze install clean tests-build

all: $(O)/chatledger

$(O)/obj/%.o: %.c $(wildcard common/*.h archiver/*/*.h policy/*.h export/*.h cli/*.h) $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(O)/gen/wa.pb-c.c $(GEN_HDR): $(PROTO)
	@mkdir -p $(O)/gen
	protoc-c --proto_path=archiver/wa/proto --c_out=$(O)/gen $(PROTO)

$(GEN_OBJ): $(O)/gen/wa.pb-c.c $(GEN_HDR)
	$(CC) $(CFLAGS_GEN) -c $< -o $@

$(O)/libchatledger.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(O)/chatledger: $(CLI_OBJ) $(O)/libchatledger.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(O)/libchatledger.a $(LIBS)

$(O)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(O)/libchatledger.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(O)/libchatledger.a $(LIBS)

$(O)/tests/test_wa_%: tests/wa/test_wa_%.c tests/unit/tap.h $(wildcard tests/wa/*.h) $(O)/libchatledger.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(O)/libchatledger.a $(LIBS)

$(O)/fuzz/fuzz_wa_%: tests/wa/fuzz_wa_%.c tests/fuzz/replay_main.c $(O)/libchatledger.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< tests/fuzz/replay_main.c \
		$(O)/libchatledger.a $(LIBS)

$(O)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay_main.c $(wildcard tests/unit/*.h) $(O)/libchatledger.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< tests/fuzz/replay_main.c \
		$(O)/libchatledger.a $(LIBS)

tests-build: $(O)/chatledger $(UNIT_BIN) $(FUZZ_BIN)

test: tests-build
	tests/run.sh $(O)

check:
	$(MAKE) O=build tests-build
	$(MAKE) O=build-asan SANITIZE=1 tests-build
	tests/check.sh build build-asan

demo: all
	tests/demo.sh

$(O)/bench/wa_stanza: bench/wa_stanza.c $(O)/libchatledger.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(O)/libchatledger.a $(LIBS)

bench: all $(O)/bench/wa_stanza
	$(O)/bench/wa_stanza
	bench/run.sh $(O)
	bench/retain.sh $(O)
	bench/import.sh $(O)
	sh bench/webhook.sh $(O)

fuzz:
	$(MAKE) O=build-fuzz-lib CC=clang CFLAGS="-fsanitize=fuzzer-no-link" SANITIZE=1 build-fuzz-lib/libchatledger.a
	@mkdir -p build-fuzz
	for f in $(FUZZ_SRC) $(WA_FUZZ_SRC); do n=$$(basename $$f .c); \
	  clang -std=c17 -D_GNU_SOURCE -g -O1 -I. -Ibuild-fuzz-lib/gen -fsanitize=fuzzer,address,undefined \
	    $$(pkg-config --cflags $(PKGS)) -o build-fuzz/$$n $$f \
	    build-fuzz-lib/libchatledger.a $(LIBS) || exit 1; done

analyze: $(GEN_HDR)
	cppcheck --std=c11 --enable=warning,style,performance,portability \
	  --inline-suppr --error-exitcode=1 --quiet -I. \
	  --suppress=missingIncludeSystem --suppress=unknownMacro common archiver policy export cli
	clang-tidy --quiet $(LIB_SRC) $(CLI_SRC) -- -std=c17 -D_GNU_SOURCE -I. -I$(O)/gen \
	  $(shell pkg-config --cflags $(PKGS))

install: $(O)/chatledger
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(O)/chatledger $(DESTDIR)$(PREFIX)/bin/chatledger
	install -m 0644 docs/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/

clean:
	rm -rf build build-asan build-fuzz build-fuzz-lib demo-archive demo-archive.passphrase
