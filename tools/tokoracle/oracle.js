#!/usr/bin/env node
// Oracle for coldint's tokenizer tests and bench: the HF tokenizers Rust
// library through its official Node binding (npm "tokenizers").
//
// Reads one JSON request on stdin and writes one JSON answer on stdout.
// Request: {"tokenizer": "/path/tokenizer.json",
//           "texts": ["..."], "addSpecial": false,       -> "ids": [[...]], "decoded": ["..."]
//           "textsSpecial": ["..."],                      -> "idsSpecial": [[...]] (with special tokens)
//           "decode": [[ids]], "skipSpecial": false,     -> "decodedIds": ["..."]
//           "decodeSkip": [[ids]],                       -> "decodedSkip": ["..."] (special tokens skipped)
//           "tokens": ["<s>"],                           -> "tokenIds": [1 or null], "vocabSize": n
//           "bench": {"texts": ["..."], "rounds": 3}}    -> "bench": {...}
// "decoded" is the decode (special tokens kept) of the oracle's own ids.
// A text the library fails to encode gets null ids (and a null "decoded").
'use strict';
const path = require('path');
const modules = process.env.TOKORACLE_NODE_MODULES || path.join(__dirname, 'node_modules');
const { Tokenizer } = require(path.join(modules, 'tokenizers'));

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

// encodeAll encodes texts in one batch; when the library fails the batch (a
// Unigram model without unk_id meets an unknown character), it encodes them
// one by one and gives null for each text that fails.
async function encodeAll(tok, texts, opts) {
  try {
    const encs = await tok.encodeBatch(texts, opts);
    return encs.map((e) => Array.from(e.getIds()));
  } catch (e) {
    const out = [];
    for (const t of texts) {
      try {
        const enc = await tok.encode(t, null, opts);
        out.push(Array.from(enc.getIds()));
      } catch (e2) {
        out.push(null);
      }
    }
    return out;
  }
}

async function main() {
  const req = JSON.parse(await readStdin());
  const t0 = process.hrtime.bigint();
  const tok = Tokenizer.fromFile(req.tokenizer);
  const loadSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const out = { loadSeconds };
  const opts = { addSpecialTokens: !!req.addSpecial };
  if (req.texts) {
    out.ids = await encodeAll(tok, req.texts, opts);
    const ok = out.ids.map((ids) => ids || []);
    out.decoded = (await tok.decodeBatch(ok, false)).map((d, i) => (out.ids[i] ? d : null));
  }
  if (req.textsSpecial) {
    out.idsSpecial = await encodeAll(tok, req.textsSpecial, { addSpecialTokens: true });
  }
  if (req.decode) {
    out.decodedIds = await tok.decodeBatch(req.decode, !!req.skipSpecial);
  }
  if (req.decodeSkip) {
    out.decodedSkip = await tok.decodeBatch(req.decodeSkip, true);
  }
  if (req.tokens) {
    out.tokenIds = req.tokens.map((t) => tok.tokenToId(t));
    out.vocabSize = tok.getVocabSize(true);
  }
  if (req.bench) {
    const texts = req.bench.texts;
    const rounds = req.bench.rounds || 1;
    let tokens = 0;
    // Single calls, one after the other (the library runs each on one thread).
    let best = Infinity;
    for (let r = 0; r < rounds; r++) {
      const s = process.hrtime.bigint();
      let n = 0;
      for (const t of texts) {
        const e = await tok.encode(t, null, { addSpecialTokens: false });
        n += e.getIds().length;
      }
      tokens = n;
      best = Math.min(best, Number(process.hrtime.bigint() - s) / 1e9);
    }
    // One batch call (parallel across cores through rayon).
    let bestBatch = Infinity;
    for (let r = 0; r < rounds; r++) {
      const s = process.hrtime.bigint();
      await tok.encodeBatch(texts, { addSpecialTokens: false });
      bestBatch = Math.min(bestBatch, Number(process.hrtime.bigint() - s) / 1e9);
    }
    out.bench = { tokens, singleSeconds: best, batchSeconds: bestBatch };
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
