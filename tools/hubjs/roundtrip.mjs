// Round trip through a Hub server with the official JS client
// (@huggingface/hub): create a repo, upload every file of a folder as one
// commit, read the model info, and download each file at that commit.
//
// Environment: HUBJS_MODULES (node_modules folder holding @huggingface/hub),
// HUB_URL, HF_TOKEN, REPO ("ns/name"), REPO_TYPE ("model", the default, or
// "dataset"), SRC (folder to upload), OUT (folder the downloads are written to). Prints one JSON object on stdout:
// {commit, info: {name, private, sha, siblings}, files: [{path, size}]}.
import { readdir, readFile, mkdir, writeFile } from "node:fs/promises";
import { join, dirname } from "node:path";
import { pathToFileURL } from "node:url";

const env = (k) => {
	const v = process.env[k];
	if (!v) throw new Error(`missing environment variable ${k}`);
	return v;
};
const hub = await import(pathToFileURL(join(env("HUBJS_MODULES"), "@huggingface/hub/dist/index.mjs")).href);
const hubUrl = env("HUB_URL");
const accessToken = env("HF_TOKEN");
const name = env("REPO");
const src = env("SRC");
const out = env("OUT");
const type = process.env.REPO_TYPE || "model";
if (type !== "model" && type !== "dataset") throw new Error(`REPO_TYPE ${type}: must be model or dataset`);
const repo = { type, name };

async function walk(dir, prefix = "") {
	const files = [];
	for (const e of await readdir(dir, { withFileTypes: true })) {
		const rel = prefix ? `${prefix}/${e.name}` : e.name;
		if (e.isDirectory()) files.push(...(await walk(join(dir, e.name), rel)));
		else files.push(rel);
	}
	return files.sort();
}

await hub.createRepo({ repo, accessToken, hubUrl, private: true });
const paths = await walk(src);
const files = [];
for (const p of paths) {
	files.push({ path: p, content: new Blob([await readFile(join(src, p))]) });
}
const res = await hub.uploadFiles({ repo, accessToken, hubUrl, files, commitTitle: "upload from @huggingface/hub" });
const commit = res.commit.oid;

const readInfo = type === "dataset" ? hub.datasetInfo : hub.modelInfo;
const info = await readInfo({ name, accessToken, hubUrl, revision: commit, additionalFields: ["sha", "siblings"] });

const got = [];
for (const p of paths) {
	const blob = await hub.downloadFile({ repo, path: p, revision: commit, accessToken, hubUrl });
	if (!blob) throw new Error(`downloadFile returned null for ${p}`);
	const buf = Buffer.from(await blob.arrayBuffer());
	await mkdir(dirname(join(out, p)), { recursive: true });
	await writeFile(join(out, p), buf);
	got.push({ path: p, size: buf.length });
}
const exists = await hub.fileExists({ repo, path: "no-such-file.bin", revision: commit, accessToken, hubUrl });
process.stdout.write(
	JSON.stringify({ commit, missingFileExists: exists, info: { name: info.name, private: info.private, sha: info.sha, siblings: info.siblings }, files: got }) + "\n",
);
