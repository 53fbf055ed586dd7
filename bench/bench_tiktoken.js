// bench_tiktoken.js - the tiktoken side of bench_bpe: counts every text of
// a corpus file with the real tiktoken (npm, WASM) and reports the time per
// encoding and category, excluding node's start-up, the package load and
// the tables' initialisation (get_encoding), and decoding the corpus.
//
//   node bench_tiktoken.js TIKTOKEN_DIR CORPUS PASSES
//
// CORPUS is in the parity test's "TRPC" format (tests/parity/tiktoken_counts.js).
// Each encoding first counts a warm-up slice, then PASSES timed passes over
// the corpus; per category the best pass is kept. Prints one line per
// encoding and category: "<encoding> <category> <bytes> <tokens> <seconds>".
'use strict';
const fs = require('fs');

function die(msg) {
	process.stderr.write(`bench_tiktoken: ${msg}\n`);
	process.exit(2);
}

if (process.argv.length !== 5)
	die('usage: node bench_tiktoken.js TIKTOKEN_DIR CORPUS PASSES');
const tiktoken = require(process.argv[2]);
const passes = Math.max(1, parseInt(process.argv[4], 10) || 1);
const buf = fs.readFileSync(process.argv[3]);
if (buf.length < 8 || buf.toString('latin1', 0, 4) !== 'TRPC')
	die('corpus: bad magic');
const n = buf.readUInt32LE(4);
const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const cats = new Map(); // name -> { texts: [], bytes }
let off = 8;
for (let i = 0; i < n; i++) {
	off += 1;
	const nl = buf[off];
	const name = buf.toString('latin1', off + 1, off + 1 + nl);
	off += 1 + nl;
	const len = buf.readUInt32LE(off);
	off += 4;
	if (off + len > buf.length)
		die(`corpus: truncated at text ${i}`);
	if (!cats.has(name))
		cats.set(name, { texts: [], bytes: 0 });
	const c = cats.get(name);
	c.texts.push(dec.decode(buf.subarray(off, off + len)));
	c.bytes += len;
	off += len;
}

for (const encName of ['o200k_base', 'cl100k_base']) {
	const enc = tiktoken.get_encoding(encName);
	// warm-up: the first texts of every category
	for (const c of cats.values())
		for (const s of c.texts.slice(0, 50))
			enc.encode_ordinary(s);
	for (const [name, c] of cats) {
		let best = Infinity, tokens = 0;
		for (let p = 0; p < passes; p++) {
			let t = 0;
			const t0 = process.hrtime.bigint();
			for (const s of c.texts)
				t += enc.encode_ordinary(s).length;
			const dt = Number(process.hrtime.bigint() - t0) / 1e9;
			if (dt < best)
				best = dt;
			tokens = t;
		}
		process.stdout.write(`${encName} ${name} ${c.bytes} ${tokens} ${best.toFixed(6)}\n`);
	}
	enc.free();
}
