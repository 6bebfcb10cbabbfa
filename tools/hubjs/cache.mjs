// The Hugging Face cache as the official JS client (@huggingface/hub) sees
// and fills it, for coldint's cache interop tests.
//
// Environment: HUBJS_MODULES (node_modules folder holding @huggingface/hub),
// CACHE (the cache folder), MODE:
//   scan      prints {scan, walk}: scanCacheDir(CACHE) (dates left out) and,
//             because scanCacheDir skips sub-folders of a snapshot, every
//             snapshot entry found recursively with its link and real path.
//   download  fills CACHE with downloadFileToCacheDir for each of PATHS
//             (comma separated) of REPO at REVISION from HUB_URL (HF_TOKEN
//             optional) and prints {pointers}.
import { readdir, readlink, realpath, lstat } from "node:fs/promises";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";

const env = (k) => {
	const v = process.env[k];
	if (!v) throw new Error(`missing environment variable ${k}`);
	return v;
};
// The client logs progress with console.debug/info; stdout is for the answer.
console.debug = console.info = console.log = (...a) => console.error(...a);
const hub = await import(pathToFileURL(join(env("HUBJS_MODULES"), "@huggingface/hub/dist/index.mjs")).href);
const cacheDir = env("CACHE");

async function walk(dir) {
	const out = [];
	for (const e of await readdir(dir, { withFileTypes: true })) {
		const p = join(dir, e.name);
		if (e.isDirectory()) {
			out.push(...(await walk(p)));
			continue;
		}
		const st = await lstat(p);
		const entry = { path: relative(cacheDir, p), symlink: st.isSymbolicLink() };
		if (entry.symlink) entry.link = await readlink(p);
		entry.real = relative(cacheDir, await realpath(p));
		out.push(entry);
	}
	return out;
}

switch (env("MODE")) {
	case "scan": {
		const info = await hub.scanCacheDir(cacheDir);
		const scan = {
			size: info.size,
			warnings: info.warnings.map((w) => String(w.message ?? w)),
			repos: info.repos.map((r) => ({
				id: r.id,
				path: r.path,
				size: r.size,
				filesCount: r.filesCount,
				revisions: r.revisions.map((v) => ({
					commitOid: v.commitOid,
					path: v.path,
					size: v.size,
					refs: v.refs,
					files: v.files.map((f) => ({ path: f.path, blob: { path: f.blob.path, size: f.blob.size } })),
				})),
			})),
		};
		const snapshots = [];
		for (const r of info.repos) for (const v of r.revisions) snapshots.push(...(await walk(v.path)));
		process.stdout.write(JSON.stringify({ scan, walk: snapshots }) + "\n");
		break;
	}
	case "download": {
		const pointers = [];
		for (const path of env("PATHS").split(",")) {
			pointers.push(
				await hub.downloadFileToCacheDir({
					repo: { type: "model", name: env("REPO") },
					path,
					revision: process.env.REVISION || "main",
					hubUrl: env("HUB_URL"),
					accessToken: process.env.HF_TOKEN || undefined,
					cacheDir,
				}),
			);
		}
		process.stdout.write(JSON.stringify({ pointers }) + "\n");
		break;
	}
	default:
		throw new Error(`unknown MODE ${process.env.MODE}`);
}
