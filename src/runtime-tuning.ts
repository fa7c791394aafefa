import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings of the server process, applied by main.ts before anything else
 * is loaded, so `node dist/main.js` needs no command-line flags. Both are read
 * by V8 at every collection, which is why setting them at run time works. The
 * bench's baseline applies the same two, so the comparison stays fair.
 *
 * Measured with `npm run bench` scenarios 1 and 3 and `--trace-gc`
 * (bench/README.md, "Memory"):
 *
 * - Allocation-site pretenuring off. V8 watches which allocation sites make
 *   objects that survive young-generation collections, and then allocates from
 *   them straight in the old generation. Under load, with 50 requests in
 *   flight, short-lived request objects can look long-lived: in two of three
 *   runs of the GET scenario V8 pretenured some, the old generation filled with
 *   garbage that only a full collection frees (45 → 165 MB of heap in 15 s,
 *   peak RSS 145 → 250 MB) and scavenges took three times longer. With it off,
 *   every run held at 145 MB, at the same req/s.
 *
 * - Old generation grown by 50 % over what the last full collection kept,
 *   instead of up to 4× when collections are cheap (V8's default). The writes
 *   promote about 1.4 MB of request garbage per scavenge; with the default, the
 *   heap reached 200 MB before its first full collection and RSS 250–280 MB.
 *   With 50 %, a full collection every 2 s or so (5–10 ms each) keeps the heap
 *   between 45 and 70 MB and RSS under 170 MB.
 */
setFlagsFromString('--no-allocation-site-pretenuring');
setFlagsFromString('--heap-growing-percent=50');
