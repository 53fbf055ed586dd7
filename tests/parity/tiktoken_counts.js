// tiktoken_counts.js - the reference side of the BPE parity test: counts
// every text of a corpus file with the real tiktoken (npm, WASM) for
// o200k_base and cl100k_base, as encode_ordinary(text).length.
//
//   node tiktoken_counts.js TIKTOKEN_DIR CORPUS
//
// TIKTOKEN_DIR is an installed tiktoken package (its package.json main is
// tiktoken.cjs). CORPUS is the file test_bpe_parity writes: "TRPC", a
// little-endian u32 count, then per text a u8 flag byte, a u8 name length,
// the name, a u32 byte length and the UTF-8 bytes. Prints one line per text,
// "<o200k> <cl100k>", in corpus order.
//
// JS strings are UTF-16, so each text is decoded strictly (invalid UTF-8 is
// an error, a leading U+FEFF is kept: ignoreBOM) and re-encoded; the test
// fails unless that gives back the very same bytes, so tiktoken sees exactly
// the text the C side counts.
'use strict';
const fs = require('fs');

function die(msg) {
	process.stderr.write(`tiktoken_counts: ${msg}\n`);
	process.exit(2);
}

if (process.argv.length !== 4)
	die('usage: node tiktoken_counts.js TIKTOKEN_DIR CORPUS');
const tiktoken = require(process.argv[2]);
const buf = fs.readFileSync(process.argv[3]);
if (buf.length < 8 || buf.toString('latin1', 0, 4) !== 'TRPC')
	die('corpus: bad magic');
const n = buf.readUInt32LE(4);
const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const texts = [];
let off = 8;
for (let i = 0; i < n; i++) {
	if (off + 2 > buf.length)
		die(`corpus: truncated at text ${i}`);
	off += 1;
	off += 1 + buf[off];
	if (off + 4 > buf.length)
		die(`corpus: truncated at text ${i}`);
	const len = buf.readUInt32LE(off);
	off += 4;
	if (off + len > buf.length)
		die(`corpus: truncated at text ${i}`);
	const bytes = buf.subarray(off, off + len);
	off += len;
	let s;
	try {
		s = dec.decode(bytes);
	} catch (e) {
		die(`text ${i} is not valid UTF-8`);
	}
	if (!Buffer.from(s, 'utf8').equals(bytes))
		die(`text ${i} does not round-trip through a JS string`);
	texts.push(s);
}
if (off !== buf.length)
	die('corpus: trailing bytes');

const encs = ['o200k_base', 'cl100k_base'].map((name) => tiktoken.get_encoding(name));
const out = texts.map((s) => encs.map((e) => e.encode_ordinary(s).length).join(' '));
encs.forEach((e) => e.free());
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
