// Package hfcache owns the Hugging Face cache layout, the folder that
// huggingface_hub, transformers and the JS client @huggingface/hub share
// (by default ~/.cache/huggingface/hub). Every coldint download goes
// through it, so a cache filled by coldint is read by those tools and a
// cache filled by them is reused by coldint, byte for byte, never copied.
//
// Layout under the cache folder, one folder per repo:
//
//	models--{ns}--{name}/               (datasets--…, spaces--… for other repo types)
//	  blobs/<etag>                      file contents, named by the Hub's ETag:
//	                                    the LFS sha256, or the git blob sha1
//	  blobs/<etag>.incomplete           a download in progress (resumed with Range)
//	  snapshots/<commit>/<path>         relative symlink ../../blobs/<etag>
//	                                    (one more ../ per sub-folder of path)
//	  refs/<revision>                   the commit a branch or tag resolved to,
//	                                    40 hex digits, no newline
//	  .no_exist/<commit>/<path>         empty: the repo has no such file at commit
//	.locks/models--{ns}--{name}/<etag>.lock   one writer per blob across processes
//
// Files are created with mode 0666 and folders with 0777, both reduced by the
// process umask (0644 and 0755 under the usual umask 022), as Python's
// huggingface_hub does. Blobs are written as <etag>.incomplete, checked
// against their size and hash, fsynced and renamed; a symlink is made under
// a temporary name and renamed over the entry, so readers never see a half
// written file or a missing entry.
//
// Where the file system refuses symlinks (some network and FAT file
// systems), the snapshot entry becomes a full copy of the blob, written
// atomically, and the blob stays in blobs/ so that other revisions can copy
// it again; huggingface_hub copies too in that case.
//
// Entries left by older coldint versions as plain files in snapshots/ are
// checked against their hash and then moved into blobs/ (by a hard link, or
// a copy across devices) and replaced by a symlink, so that the cache ends up
// in one layout.
package hfcache
