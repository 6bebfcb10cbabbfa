// check.mjs: independent checks of chain/timelock, run by its Go test
// (TestReferenceImplementation). Usage: node check.mjs <node_modules dir>
// with a JSON request on stdin; it prints one JSON report on stdout.
//
// The request carries a beacon (public key, scheme), a round, that round's
// signature, the signature of another round, a ciphertext made by the Go
// code with its plaintext, and a message to encrypt. The report says what
// the reference tle implementation (ideal-lab5 timelock, compiled to wasm)
// made of them, whether drand-client accepts the signatures as beacons of
// the scheme, and tlock-js's quicknet chain info.
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'

const modules = process.argv[2]
if (!modules) {
  console.error('usage: node check.mjs <node_modules dir> < request.json')
  process.exit(2)
}
const require = createRequire(modules.replace(/\/?$/, '/'))
const wasmPath = require.resolve('@ideallabs/timelock_wasm_wrapper/timelock_wasm_wrapper.js')
const tle = await import(pathToFileURL(wasmPath).href)
tle.initSync({ module: readFileSync(require.resolve('@ideallabs/timelock_wasm_wrapper/timelock_wasm_wrapper_bg.wasm')) })
const tlock = require('tlock-js')
const { verifyBeacon } = require('drand-client/beacon-verification.js')

const req = JSON.parse(readFileSync(0, 'utf8'))
const hex = (s) => Array.from(Buffer.from(s, 'hex'))
const curve = 'bls12_381'

// tryDecrypt returns the plaintext (hex) or the error the reference gives.
function tryDecrypt(ct, sig) {
  try {
    return { plaintext: Buffer.from(tle.tld(ct, sig, curve)).toString('hex') }
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) }
  }
}

// beaconValid asks drand-client whether sig is the beacon of round.
async function beaconValid(round, sigHex) {
  const info = { public_key: req.public_key, schemeID: req.scheme }
  const randomness = createHash('sha256').update(Buffer.from(sigHex, 'hex')).digest('hex')
  try {
    return await verifyBeacon(info, { round, signature: sigHex, randomness }, round)
  } catch (e) {
    return false
  }
}

const ct = hex(req.ciphertext)
const flipped = ct.slice()
flipped[req.flip_index] ^= 0x01

const roundBytes = Buffer.alloc(8)
roundBytes.writeBigUInt64BE(BigInt(req.round))
const identity = Array.from(createHash('sha256').update(roundBytes).digest())
const reference = tle.tle(identity, hex(req.encrypt_message), Array.from(randomBytes(32)), hex(req.public_key), curve)

const q = tlock.defaultChainInfo
const report = {
  decrypted: tryDecrypt(ct, hex(req.signature)),
  flipped: tryDecrypt(flipped, hex(req.signature)),
  wrong_signature: tryDecrypt(ct, hex(req.wrong_signature)),
  beacon_valid: await beaconValid(req.round, req.signature),
  wrong_round_beacon_valid: await beaconValid(req.round, req.wrong_signature),
  reference_ciphertext: Buffer.from(reference).toString('hex'),
  quicknet: { public_key: q.public_key, genesis_time: q.genesis_time, period: q.period, scheme: q.schemeID, hash: q.hash },
}
process.stdout.write(JSON.stringify(report) + '\n')
