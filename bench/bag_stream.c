/*
 * bench/bag_stream.c - stream one large payload file (default 2 GiB) through
 * the bundle's bag writer (archiver/export/bag.h) into a tar on /dev/null
 * and print the peak RSS; the baseline is the same process before the
 * member is written.  Usage: bag_stream [MiB]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "archiver/export/bag.h"
#include "common/status.h"

static unsigned char chunk[1 << 20];

static int fill(void *ctx, cl_bag_write_fn write, void *wctx)
{
	unsigned long long n = *(unsigned long long *)ctx, i;

	for (i = 0; i < n; i++) {
		chunk[0] = (unsigned char)i;
		if (write(wctx, chunk, sizeof(chunk)) != CL_OK)
			return CL_EIO;
	}
	return CL_OK;
}

static long peak_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

int main(int argc, char **argv)
{
	unsigned long long mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 2048;
	struct cl_bag *b = NULL;
	char *err = NULL;
	long before;
	int fd = open("/dev/null", O_WRONLY);

	memset(chunk, 0x5a, sizeof(chunk));
	if (fd < 0 || cl_bag_open(fd, CL_BAG_TAR, "EXPORT-bench", 0, "/tmp", &b, &err) != CL_OK)
		return 2;
	before = peak_kb();
	if (cl_bag_add_stream(b, "data/natives/big.bin", mib << 20, fill, &mib, NULL, &err) != CL_OK ||
	    cl_bag_write_manifest(b, &err) != CL_OK || cl_bag_close(b, &err) != CL_OK) {
		fprintf(stderr, "bag_stream: %s\n", err ? err : "failed");
		return 2;
	}
	printf("bag writer, one %llu MiB native: peak RSS %ld KiB (baseline before the member %ld KiB; growth %ld KiB)\n",
	       mib, peak_kb(), before, peak_kb() - before);
	return 0;
}
