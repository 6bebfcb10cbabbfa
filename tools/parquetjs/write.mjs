// write.mjs writes parquet files with the Rust arrow/parquet implementation
// (npm parquet-wasm) for coldint's parity tests. It reads a JSON list of files
// from stdin:
//   [{"path": "/abs/out.parquet", "compression": "snappy"|"zstd"|"none",
//     "rowGroupSize": 3, "pageSize": 0, "v2": false, "dictionary": false,
//     "docs": ["...", null, ...]}]
// pageSize (bytes, 0 = default) cuts a row group into several data pages;
// v2 writes data pages of format version 2.
// Each file gets three columns: "id" (int32 row number), "text" (utf8, the
// docs; null stays null) and "url" (utf8, "doc-<id>"). The node_modules folder
// comes from the environment variable PARQUETJS_MODULES.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const modules = process.env.PARQUETJS_MODULES;
if (!modules) {
  console.error("write.mjs: set PARQUETJS_MODULES to the node_modules folder");
  process.exit(2);
}
const require = createRequire(path.join(modules, "x.js"));
const arrow = await import(require.resolve("apache-arrow"));
const pq = await import(path.join(modules, "parquet-wasm", "node", "parquet_wasm.js"));

const codecs = {
  none: pq.Compression.UNCOMPRESSED,
  snappy: pq.Compression.SNAPPY,
  zstd: pq.Compression.ZSTD,
};
const specs = JSON.parse(readFileSync(0, "utf8"));
for (const s of specs) {
  if (!(s.compression in codecs)) {
    throw new Error(`write.mjs: unknown compression ${JSON.stringify(s.compression)}`);
  }
  const ids = Int32Array.from(s.docs.map((_, i) => i));
  const table = arrow.tableFromArrays({
    id: ids,
    text: arrow.vectorFromArray(s.docs, new arrow.Utf8()),
    url: arrow.vectorFromArray(s.docs.map((_, i) => `doc-${i}`), new arrow.Utf8()),
  });
  const wasmTable = pq.Table.fromIPCStream(arrow.tableToIPC(table, "stream"));
  let b = new pq.WriterPropertiesBuilder()
    .setCompression(codecs[s.compression])
    .setMaxRowGroupSize(s.rowGroupSize || 1024 * 1024)
    .setDictionaryEnabled(!!s.dictionary)
    .setWriterVersion(s.v2 ? pq.WriterVersion.V2 : pq.WriterVersion.V1);
  if (s.pageSize) {
    b = b.setDataPageSizeLimit(s.pageSize);
  }
  writeFileSync(s.path, pq.writeParquet(wasmTable, b.build()));
}
